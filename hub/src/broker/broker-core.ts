/**
 * The embedded MQTT broker (aedes) with the hub's rules: per-device accounts, client ids bound to
 * accounts, the topic ACL, connection and subscription caps, per-address backoff on failed logins
 * and budgets for what each subscriber is sent. Runs inside the broker's worker thread
 * (broker-worker.ts); the hub's main thread sees only what `sink` is given.
 *
 * Two aedes instances share one listener. Devices and the hub meet on the first; the observer's
 * sessions (technicians' tools, read-only) live on the second, which is fed from the first through
 * one budgeted bridge. So what a message costs the devices' broker does not grow with the number of
 * observers: past the observers' budget a message costs one token check, not one delivery attempt
 * per observer. Each connection is routed by the user name in its CONNECT, read before aedes sees it.
 *
 * Slow subscribers: aedes holds a delivery until a slow socket drains, and with enough of them in
 * flight every subscriber waits; aedes issue #193 ends such a backlog in "Maximum call stack size
 * exceeded". So a subscriber whose socket already needs draining gets no further messages until it
 * drains: they are dropped for that subscriber and counted.
 */
import net from "node:net";
import tls from "node:tls";
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client } from "aedes";
import mqttPacket from "mqtt-packet";
import { canPublish, canSubscribe, type Identity } from "./acl.ts";
import { type Account, BrokerAccounts, DEFAULT_BACKOFF, HubBacklog, LoginBackoff, TokenBucket, clientIdRefusal, effectiveKeepaliveS } from "./policy.ts";
import { type BrokerCounters, type BrokerInit, type BrokerStats, type Denial, type Refusal, ZERO_COUNTERS } from "./protocol.ts";

export interface BrokerSink {
  /** A message on the hub's subscription number `sub` (the order the hub subscribed in). */
  toHub(sub: number, topic: string, payload: Buffer): void;
  denied(denial: Omit<Denial, "count">): void;
}

const RECENT_REFUSALS = 20;
/** Messages the bridge lets the observers' broker hold at once; the rest are not sent to observers (counted). */
const MAX_BRIDGE_IN_FLIGHT = 256;
/** Bytes a connection may send before its CONNECT is complete. */
const MAX_CONNECT_BYTES = 65_536;

// MQTT 3.1.1 CONNACK return codes ([MQTT-3.2.2-3]).
const IDENTIFIER_REJECTED = 2;
const SERVER_UNAVAILABLE = 3;
const BAD_USERNAME_OR_PASSWORD = 4;

function refuse(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode });
}

const accountKey = (a: Account): string => (a.role === "device" ? `device:${a.deviceId}` : "observer");
const accountName = (a: Account): string => (a.role === "device" ? a.deviceId : a.username);

export class BrokerCore {
  private devices: Aedes | null = null;
  private observers: Aedes | null = null;
  private readonly servers: net.Server[] = [];
  /** Connections not yet handed to aedes (TLS handshake, CONNECT not complete): ended on stop. */
  private readonly pending = new Set<net.Socket>();
  private readonly deviceIds: ReadonlySet<string>;
  /** Device and observer passwords, plain or scrypt hashes (policy.ts). */
  private readonly accounts: BrokerAccounts;
  private readonly identities = new WeakMap<Client, Identity>();
  private readonly sessions = new Map<string, Set<Client>>();
  private readonly subscriptions = new WeakMap<Client, Set<string>>();
  private readonly budgets = new WeakMap<Client, TokenBucket>();
  /** Messages the bridge passes from the devices' broker to the observers' per second. */
  private readonly bridgeBudget: TokenBucket;
  private readonly backoff = new LoginBackoff(DEFAULT_BACKOFF);
  private readonly refusals: Refusal[] = [];
  private readonly backlog: HubBacklog;
  private readonly counters: BrokerCounters = { ...ZERO_COUNTERS };

  private sessionCount = 0;
  /** Messages the bridge handed the observers' broker that it has not finished delivering. */
  private bridgeInFlight = 0;
  private plainPort: number | null = null;
  private tlsBoundPort: number | null = null;

  constructor(
    private readonly init: BrokerInit,
    private readonly sink: BrokerSink,
    private readonly now: () => number = Date.now,
  ) {
    this.accounts = new BrokerAccounts(init, this.backoff, now);
    this.deviceIds = this.accounts.deviceIds;
    this.backlog = new HubBacklog(init.limits.maxHubBacklog, init.limits.maxHubBacklogPerDevice);
    this.bridgeBudget = new TokenBucket(init.limits.observerMessagesPerS, init.limits.observerMessagesPerS * 2, now());
  }

  /** The plain listener's port, or null when it is off. */
  get port(): number | null {
    return this.plainPort;
  }

  /** The TLS listener's port, or null when it is off. */
  get tlsPort(): number | null {
    return this.tlsBoundPort;
  }

  async start(): Promise<void> {
    const { init } = this;
    const devices = await this.createInstance("devices");
    this.devices = devices;
    if (init.observer !== null) {
      const observers = await this.createInstance("observers");
      this.observers = observers;
      // The bridge: every message on the devices' broker, as far as the observers' budget goes.
      // Retained messages (births, metas, the hub's status) always pass: they are the state a
      // tool shows when it connects, and there are few of them.
      await new Promise<void>((resolve) =>
        devices.subscribe(
          "#",
          (packet, cb) => {
            if (packet.topic.startsWith("$SYS")) return cb();
            if (!packet.retain && (this.observerSessions() === 0 || this.bridgeInFlight >= MAX_BRIDGE_IN_FLIGHT || !this.bridgeBudget.take(this.now()))) {
              if (this.observerSessions() > 0) this.counters.budgetDropped += 1;
              return cb();
            }
            // Bounded: a backlog queued inside aedes is what ends, when a stalled subscriber finally
            // goes, in "Maximum call stack size exceeded" (aedes issue #193).
            this.bridgeInFlight += 1;
            observers.publish({ cmd: "publish", topic: packet.topic, payload: packet.payload, qos: packet.qos, retain: packet.retain, dup: false }, () => (this.bridgeInFlight -= 1));
            cb();
          },
          resolve,
        ),
      );
    }
    // The high-water mark is the backlog a subscriber may build before it misses messages; Nagle's
    // algorithm alone puts p99 near 40 ms at modest rates, so it is off.
    try {
      if (init.plain) {
        this.plainPort = await this.listenOn(init.port, (socket) => this.route(socket));
      }
      if (init.tls !== null) {
        const context = tls.createSecureContext({ cert: init.tls.cert, key: init.tls.key, minVersion: "TLSv1.2" });
        this.tlsBoundPort = await this.listenOn(init.tls.port, (raw) => this.secure(raw, context));
      }
    } catch (error) {
      // One listener up and the other refused (its port taken): give the first one's port back too.
      await this.stop();
      throw error;
    }
  }

  private async listenOn(port: number, onSocket: (socket: net.Socket) => void): Promise<number> {
    const { init } = this;
    const server = net.createServer({ noDelay: true, highWaterMark: init.limits.maxSubscriberBacklogB }, (socket) => {
      socket.setNoDelay(true);
      onSocket(socket);
    });
    this.servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, init.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const addr = server.address();
    return typeof addr === "object" && addr !== null ? addr.port : port;
  }

  /**
   * A connection to the TLS port: the TLS layer on the accepted socket (made here rather than by
   * tls.Server, so it gets the same high-water mark as a plain connection), then the same routing,
   * rules and limits as the plain port. The connect timeout covers the handshake and the CONNECT
   * together. A connection that ends before its handshake completes (a client that does not trust
   * the hub's CA, plain MQTT or anything else on this port) is counted, and is nobody else's concern.
   */
  private secure(raw: net.Socket, secureContext: tls.SecureContext): void {
    // `highWaterMark` is not in TLSSocketOptions' type, but TLSSocket passes it to net.Socket (Node
    // 20); tls.Server would leave every TLS session at the 16 KiB default.
    const socket = new tls.TLSSocket(raw, { isServer: true, secureContext, highWaterMark: this.init.limits.maxSubscriberBacklogB } as tls.TLSSocketOptions);
    let established = false;
    socket.once("secure", () => (established = true));
    // Errors before the handshake completes are route()'s to handle (it ends the connection).
    socket.once("close", () => {
      if (!established) this.counters.tlsHandshakeFailures += 1;
    });
    this.route(socket);
  }

  /**
   * Reads a new connection's CONNECT, puts the bytes back, and hands the socket to the observers'
   * broker if it logs in as the observer, else to the devices' broker (which refuses strangers).
   */
  private route(socket: net.Socket): void {
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => socket.destroy(), this.init.limits.connectTimeoutMs);
    this.pending.add(socket);
    const done = (target: Aedes | null) => {
      clearTimeout(timer);
      this.pending.delete(socket);
      socket.off("data", onData);
      socket.off("error", onError);
      if (target === null) {
        socket.destroy();
        return;
      }
      socket.pause();
      socket.unshift(Buffer.concat(chunks, size));
      target.handle(socket);
    };
    const onError = () => done(null);
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      // A CONNECT is a few hundred bytes; one that is not complete by now is no MQTT client.
      if (size > MAX_CONNECT_BYTES) return done(null);
      parser.parse(chunk);
    };
    parser.once("packet", (packet: mqttPacket.Packet) => {
      const observer = this.init.observer;
      const toObservers = packet.cmd === "connect" && observer !== null && packet.username === observer.username && this.observers !== null;
      // Anything else (a broken first packet included) is for the devices' broker to answer or refuse.
      done(toObservers ? this.observers : this.devices);
    });
    parser.once("error", () => done(this.devices));
    socket.on("data", onData);
    socket.on("error", onError);
  }

  private async createInstance(kind: "devices" | "observers"): Promise<Aedes> {
    const { init } = this;
    const limits = init.limits;
    const aedes = await Aedes.createBroker({
      // Keep-alives are clamped in preConnect instead: MQTT 3.1.1 has no code to refuse one.
      keepaliveLimit: 0,
      connectTimeout: limits.connectTimeoutMs,
      // A subscriber that has not drained for this long is disconnected.
      drainTimeout: 10_000,
      // No $SYS heartbeats: nobody may read them.
      heartbeatInterval: 3_600_000,
      preConnect: (client, packet, done) => {
        const keepalive = effectiveKeepaliveS(packet.keepalive ?? 0, limits.maxKeepaliveS);
        if (keepalive !== packet.keepalive) {
          this.counters.keepalivesClamped += 1;
          packet.keepalive = keepalive;
        }
        done(null, true);
      },
      authenticate: (client, username, password, done) => {
        void this.admit(client, username, password).then((result) => {
          if (result === null && kind === "devices" && this.identities.get(client)?.role === "observer") {
            // Only reachable if routing failed; the observer lives on its own broker.
            done(refuse("observer sessions are served by the observers' broker", SERVER_UNAVAILABLE), false);
            return;
          }
          if (result !== null) {
            done(result, false);
            return;
          }
          done(null, true);
        });
      },
      authorizePublish: (client, packet, done) => {
        if (client === null) {
          done(null);
          return;
        }
        const who = this.identities.get(client);
        const decision = who === undefined ? { ok: false as const, reason: "unauthenticated client" } : canPublish(init.site, who, packet.topic);
        if (!decision.ok) {
          this.aclDenied(who, decision.reason);
          // aedes closes the connection of a client whose publish is refused.
          done(new Error(decision.reason));
          return;
        }
        if (decision.retain === false) packet.retain = false;
        done(null);
      },
      authorizeSubscribe: (client, sub, done) => {
        const who = this.identities.get(client);
        const decision = who === undefined ? { ok: false as const, reason: "unauthenticated client" } : canSubscribe(init.site, who, sub.topic);
        if (!decision.ok) {
          this.aclDenied(who, decision.reason);
          // A null subscription is refused in the SUBACK (0x80) without closing the connection.
          done(null, null);
          return;
        }
        const subs = this.subscriptions.get(client) ?? new Set<string>();
        if (!subs.has(sub.topic) && subs.size >= limits.maxSubscriptionsPerClient) {
          this.counters.subscriptionsRefused += 1;
          done(null, null);
          return;
        }
        subs.add(sub.topic);
        this.subscriptions.set(client, subs);
        done(null, sub);
      },
      authorizeForward: (client, packet): AedesPublishPacket | null => {
        // Never let a write cross the socket's high-water mark: a write that does makes aedes hold
        // that delivery (and with it the message, for every subscriber) until the socket drains.
        const conn = client.conn as net.Socket;
        const size = packet.payload.length + packet.topic.length + 8;
        if (conn.writableNeedDrain || conn.writableLength + size >= conn.writableHighWaterMark) {
          this.counters.forwardDropped += 1;
          return null;
        }
        const own = this.budgets.get(client);
        if (own !== undefined && !packet.retain && !own.take(this.now())) {
          this.counters.budgetDropped += 1;
          return null;
        }
        return packet;
      },
    });
    aedes.on("unsubscribe", (unsubscriptions, client) => {
      const subs = this.subscriptions.get(client);
      for (const topic of unsubscriptions) subs?.delete(topic);
    });
    return aedes;
  }

  private observerSessions(): number {
    return this.sessions.get("observer")?.size ?? 0;
  }

  /** The bridge's rate: each observer session its own rate, all of them together the total. */
  private rebalance(): void {
    const { limits } = this.init;
    const perMessage = Math.max(1, this.observerSessions());
    const rate = Math.max(1, Math.min(limits.observerMessagesPerS, limits.observerTotalMessagesPerS / perMessage));
    this.bridgeBudget.setRate(this.now(), rate, rate * 2);
  }

  /** Delivers `payload` to every subscriber of `topic` (the hub's own publishes). */
  publish(topic: string, payload: Buffer, qos: 0 | 1, retain: boolean): void {
    this.devices?.publish({ cmd: "publish", topic, payload, qos, retain, dup: false }, () => {});
  }

  /** The hub's subscription: in-process, no socket; readings beyond the hub's backlog are dropped and counted. */
  subscribe(filter: string, sub: number): Promise<void> {
    const aedes = this.devices;
    if (aedes === null) return Promise.reject(new Error("broker not started"));
    const prefix = `tec/${this.init.site}/`;
    return new Promise((resolve) =>
      aedes.subscribe(
        filter,
        (packet, cb) => {
          const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload) : packet.payload;
          const device = packet.topic.startsWith(prefix) ? packet.topic.slice(prefix.length, packet.topic.indexOf("/", prefix.length)) : "";
          // Only readings are dropped: status, meta, health, acks and events are rare and carry state.
          if (packet.topic.endsWith("/tele") && !this.backlog.admits(device)) {
            this.counters.hubDropped += 1;
            this.sink.denied({ deviceId: device, code: "shed", message: `reading dropped by the broker: ${this.backlog.of(device)} of this device's messages (${this.backlog.size} in all) are still waiting for the hub` });
          } else {
            this.backlog.added(device);
            this.sink.toHub(sub, packet.topic, payload);
          }
          cb();
        },
        resolve,
      ),
    );
  }

  /** The hub has handled the next `n` messages handed to it. */
  taken(n: number): void {
    this.backlog.taken(n);
  }

  stats(loopDelayP99Ms: number): BrokerStats {
    const now = this.now();
    return {
      clients: (this.devices?.connectedClients ?? 0) + (this.observers?.connectedClients ?? 0),
      deviceSessions: this.sessionCount - (this.sessions.get("observer")?.size ?? 0),
      observerSessions: this.sessions.get("observer")?.size ?? 0,
      addressesBackedOff: this.backoff.blocked(now),
      loopDelayP99Ms,
      recentRefusals: this.refusals.map((r) => ({ ...r })),
      ...this.counters,
    };
  }

  async stop(): Promise<void> {
    const servers = this.servers.splice(0);
    const instances = [this.observers, this.devices].filter((a): a is Aedes => a !== null);
    this.devices = null;
    this.observers = null;
    // server.close() waits for every accepted socket to end; aedes.close() ends those it was given,
    // and connections still in their handshake or CONNECT are ended here. Start all, then wait for
    // all: a hub stopping with devices still connected must not hang.
    const listenersClosed = Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    for (const socket of this.pending) socket.destroy();
    this.pending.clear();
    for (const aedes of instances) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await listenersClosed;
  }

  /** Null if `client` may connect; otherwise the CONNACK refusal, already counted and reported. */
  private async admit(client: Client, username: string | undefined, password: Buffer | undefined): Promise<AuthenticateError | null> {
    const { limits } = this.init;
    const address = (client.conn as Partial<net.Socket>).remoteAddress ?? "in-process";
    // An empty client id (a clean session may send one) gets one from aedes: show it as none.
    const clientId = client.id.startsWith("aedes_") ? "" : client.id;
    const named = username !== undefined && this.deviceIds.has(username) ? username : null;

    // The backoff first (an address that keeps guessing is refused unchecked), then the password:
    // plain at once, a hash from the cache or by scrypt off this thread's event loop.
    const checked = await this.accounts.check(username, password, address);
    const now = this.now();
    if (!checked.ok) {
      if (checked.kind === "throttled") this.counters.authThrottled += 1;
      else if (checked.kind === "wrong") this.counters.authFailures += 1;
      const reason = checked.kind === "wrong" ? `${checked.reason} (from ${address}${checked.waitMs > 0 ? `; it now waits ${Math.ceil(checked.waitMs / 1000)} s` : ""})` : `${checked.reason} (from ${address})`;
      this.refused(now, "auth-failed", named, username ?? null, clientId, address, reason);
      return refuse(reason, checked.kind === "wrong" ? BAD_USERNAME_OR_PASSWORD : SERVER_UNAVAILABLE);
    }
    const account = checked.account;
    // The client may have gone while its password was checked: then there is no session to count.
    if ((client.conn as Partial<net.Socket>).destroyed === true) return refuse("connection closed during the login", SERVER_UNAVAILABLE);

    const idProblem = clientIdRefusal(account, clientId, this.deviceIds);
    if (idProblem !== null) {
      this.counters.clientIdRefused += 1;
      const reason = `${idProblem.reason} (from ${address})`;
      this.refused(now, "client-id-refused", idProblem.owner ?? (account.role === "device" ? account.deviceId : null), accountName(account), clientId, address, reason);
      return refuse(reason, IDENTIFIER_REJECTED);
    }

    const key = accountKey(account);
    const sessions = this.sessions.get(key) ?? new Set<Client>();
    // A session with the same client id is replaced by this one ([MQTT-3.1.4-2]): it does not count.
    const others = [...sessions].filter((c) => c.id !== clientId).length;
    const cap = account.role === "device" ? limits.maxConnectionsPerDevice : limits.maxObserverConnections;
    const total = this.sessionCount;
    if (others >= cap || total >= limits.maxConnections) {
      this.counters.connectionsRefused += 1;
      const reason = others >= cap ? `account "${accountName(account)}" already has ${others} session(s), at most ${cap}` : `the broker already has ${total} sessions, at most ${limits.maxConnections}`;
      this.refused(now, "connection-refused", account.role === "device" ? account.deviceId : null, accountName(account), clientId, address, reason);
      return refuse(reason, SERVER_UNAVAILABLE);
    }

    this.identities.set(client, account);
    sessions.add(client);
    this.sessionCount += 1;
    this.sessions.set(key, sessions);
    if (account.role === "observer") {
      this.budgets.set(client, new TokenBucket(limits.observerMessagesPerS, limits.observerMessagesPerS * 2, now));
      this.rebalance();
    }
    (client.conn as Partial<net.Socket>).once?.("close", () => {
      if (sessions.delete(client)) this.sessionCount -= 1;
      if (sessions.size === 0 && this.sessions.get(key) === sessions) this.sessions.delete(key);
      if (account.role === "observer") this.rebalance();
    });
    return null;
  }

  private refused(now: number, code: Denial["code"], deviceId: string | null, account: string | null, clientId: string, address: string, reason: string): void {
    this.sink.denied({ deviceId, code, message: reason });
    const same = this.refusals.findIndex((r) => r.code === code && r.account === account && r.address === address);
    const existing = same >= 0 ? this.refusals.splice(same, 1)[0] : undefined;
    this.refusals.unshift(
      existing !== undefined
        ? { ...existing, lastAt: now, count: existing.count + 1, clientId, reason }
        : { firstAt: now, lastAt: now, count: 1, code, account, clientId, address, reason },
    );
    if (this.refusals.length > RECENT_REFUSALS) this.refusals.length = RECENT_REFUSALS;
  }

  private aclDenied(who: Identity | undefined, reason: string): void {
    this.counters.aclDenials += 1;
    this.sink.denied({ deviceId: who?.role === "device" ? who.deviceId : null, code: "acl-denied", message: reason });
  }
}
