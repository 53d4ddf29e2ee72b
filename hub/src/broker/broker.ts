/**
 * The embedded MQTT broker (aedes): per-device credentials, the topic ACL, and protection against
 * slow subscribers. aedes holds a delivery until a slow socket drains, and with enough of them
 * in flight every subscriber (the hub included) waits; aedes issue #193 ends such a backlog in
 * "Maximum call stack size exceeded". So a subscriber whose socket already needs draining gets no
 * further messages until it drains: they are dropped for that subscriber and counted.
 */
import { timingSafeEqual } from "node:crypto";
import net from "node:net";
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client } from "aedes";
import type { Logger } from "../core/logger.ts";
import { canPublish, canSubscribe, type Identity } from "./acl.ts";

export interface BrokerOptions {
  site: string;
  host: string;
  port: number;
  /** device id -> password */
  devices: ReadonlyMap<string, string>;
  observer: { username: string; password: string } | null;
  maxSubscriberBacklogB: number;
  keepaliveS: number;
}

export interface BrokerHooks {
  /** A device broke the rules (bad password, ACL): counted on its health by the caller. */
  onDenied(deviceId: string | null, code: "auth-failed" | "acl-denied", message: string): void;
}

export interface BrokerStats {
  clients: number;
  authFailures: number;
  aclDenials: number;
  forwardDropped: number;
}

function safeEqual(a: string, b: Buffer): boolean {
  const ab = Buffer.from(a, "utf8");
  return ab.length === b.length && timingSafeEqual(ab, b);
}

function authError(message: string): AuthenticateError {
  // MQTT 3.1.1 CONNACK 4: bad user name or password
  return Object.assign(new Error(message), { returnCode: 4 });
}

export class EmbeddedBroker {
  private aedes: Aedes | null = null;
  private server: net.Server | null = null;
  private readonly identities = new WeakMap<Client, Identity>();
  private readonly counters = { authFailures: 0, aclDenials: 0, forwardDropped: 0 };
  private boundPort = 0;

  constructor(
    private readonly options: BrokerOptions,
    private readonly ctx: { logger: Logger; hooks: BrokerHooks },
  ) {}

  get instance(): Aedes {
    if (this.aedes === null) throw new Error("broker not started");
    return this.aedes;
  }

  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    const { options, ctx } = this;
    const aedes = await Aedes.createBroker({
      keepaliveLimit: Math.max(options.keepaliveS * 12, 60),
      authenticate: (client, username, password, done) => {
        const who = this.authenticate(username, password);
        if (typeof who === "string") {
          this.counters.authFailures += 1;
          const deviceId = username !== undefined && options.devices.has(username) ? username : null;
          ctx.hooks.onDenied(deviceId, "auth-failed", who);
          ctx.logger.warn({ username, clientId: client.id }, who);
          done(authError(who), false);
          return;
        }
        this.identities.set(client, who);
        done(null, true);
      },
      authorizePublish: (client, packet, done) => {
        if (client === null) {
          done(null);
          return;
        }
        const who = this.identities.get(client);
        const decision = who === undefined ? { ok: false as const, reason: "unauthenticated client" } : canPublish(options.site, who, packet.topic);
        if (!decision.ok) {
          this.denied(who, decision.reason);
          // aedes closes the connection of a client whose publish is refused.
          done(new Error(decision.reason));
          return;
        }
        if (decision.retain === false) packet.retain = false;
        done(null);
      },
      authorizeSubscribe: (client, sub, done) => {
        const who = this.identities.get(client);
        const decision = who === undefined ? { ok: false as const, reason: "unauthenticated client" } : canSubscribe(options.site, who, sub.topic);
        if (!decision.ok) {
          this.denied(who, decision.reason);
          // A null subscription is refused in the SUBACK (0x80) without closing the connection.
          done(null, null);
          return;
        }
        done(null, sub);
      },
      authorizeForward: (client, packet): AedesPublishPacket | null => {
        const conn = client.conn as net.Socket;
        if (conn.writableNeedDrain) {
          this.counters.forwardDropped += 1;
          return null;
        }
        return packet;
      },
    });
    this.aedes = aedes;
    aedes.on("clientError", (client, error) => ctx.logger.debug({ clientId: client.id, err: error.message }, "mqtt client error"));
    aedes.on("connectionError", (client, error) => ctx.logger.debug({ clientId: client.id, err: error.message }, "mqtt connection error"));
    // Nagle's algorithm alone puts p99 near 40 ms at modest rates: switch it off. The high-water
    // mark is the backlog a subscriber may build before it misses messages.
    this.server = net.createServer({ noDelay: true, highWaterMark: options.maxSubscriberBacklogB }, (socket) => {
      socket.setNoDelay(true);
      aedes.handle(socket);
    });
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const addr = server.address();
    this.boundPort = typeof addr === "object" && addr !== null ? addr.port : options.port;
    server.on("error", (error) => ctx.logger.error({ err: error }, "mqtt listener error"));
  }

  stats(): BrokerStats {
    return { clients: this.aedes?.connectedClients ?? 0, ...this.counters };
  }

  async stop(): Promise<void> {
    const server = this.server;
    const aedes = this.aedes;
    this.server = null;
    this.aedes = null;
    // server.close() waits for every accepted socket to end; aedes.close() ends them. Start both,
    // then wait for both: a hub stopping with devices still connected must not hang.
    const listenerClosed = server === null ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    if (aedes !== null) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await listenerClosed;
  }

  private authenticate(username: string | undefined, password: Buffer | undefined): Identity | string {
    if (username === undefined || password === undefined) return "username and password are required";
    const observer = this.options.observer;
    if (observer !== null && username === observer.username) {
      return safeEqual(observer.password, password) ? { role: "observer", username } : `wrong password for observer "${username}"`;
    }
    const expected = this.options.devices.get(username);
    if (expected === undefined) return `unknown user "${username}"`;
    return safeEqual(expected, password) ? { role: "device", deviceId: username } : `wrong password for device "${username}"`;
  }

  private denied(who: Identity | undefined, reason: string): void {
    this.counters.aclDenials += 1;
    this.ctx.hooks.onDenied(who?.role === "device" ? who.deviceId : null, "acl-denied", reason);
    this.ctx.logger.warn({ who }, reason);
  }
}
