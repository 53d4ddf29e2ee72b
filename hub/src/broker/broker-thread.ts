/**
 * The hub's side of its embedded broker: starts the broker's worker thread (broker-worker.ts), and is
 * the hub's MQTT link to it. With an external broker (`init.external`) the same thread runs the
 * hub's client of that broker instead (external-client.ts), and the link is up while it is connected. The main thread only receives what the hub subscribed to, batched per
 * turn of the broker's loop, and only sends its own publishes; fan-out to subscribers, parsing,
 * logins and floods cost the broker's thread, never the interlocks'. If the thread dies it is
 * started again on the same port, and the hub's subscriptions with it.
 */
import { Worker } from "node:worker_threads";
import type { HubConfig } from "../config/schema.ts";
import type { Clock, Timer } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { MessageHandler, MqttLink, PublishOptions } from "../transports/mqtt-link.ts";
import { workerEntry } from "../worker-entry.ts";
import { type BrokerInit, type BrokerStats, type BrokerTlsInit, type Denial, EXTERNAL_BROKER_STATS, type FromBroker, type ToBroker } from "./protocol.ts";
import { ensureSelfSignedCerts, readTlsFiles } from "./tls-certs.ts";

export interface BrokerThreadHooks {
  /** Refusals and rule breaches, aggregated by device and kind. */
  denied(denial: Denial): void;
  /** The broker's thread stopped unexpectedly and is being started again. */
  restarting(reason: string): void;
}

/**
 * Where the TLS listener's certificate comes from: files named in the config (`broker.tls.files`),
 * or, without them, the hub's own CA in `folder` (made on first start; see tls-certs.ts).
 */
export interface BrokerTlsSource {
  port: number;
  files?: { cert: string; key: string; ca?: string | undefined } | undefined;
  folder: string;
  hostnames: readonly string[];
}

/** What the broker is started with: its init, with the TLS listener's certificate still to be read. */
export type BrokerThreadInit = Omit<BrokerInit, "tls"> & { tls: BrokerTlsSource | null };

/** The thread's init in external mode: the hub's client of `broker.url` on its own account; no listeners, devices or observer. */
export function externalClientThreadInit(config: Pick<HubConfig, "site" | "broker">): BrokerThreadInit {
  const b = config.broker;
  return {
    site: config.site,
    external: {
      url: b.url ?? "",
      ...(b.hub !== undefined ? { username: b.hub.username, password: b.hub.password } : {}),
      clientId: `tec-hub-${config.site}-${process.pid}`,
      will: { topic: `tec/${config.site}/_hub/status`, payload: "offline" },
    },
    host: "",
    port: 0,
    plain: false,
    tls: null,
    devices: [],
    observer: null,
    limits: b.limits,
  };
}

const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;
const STOP_TIMEOUT_MS = 5000;
/** Messages handled per turn of the main thread's event loop (a millisecond or two of work). */
const SLICE = 64;
/** Messages taken before the broker's thread is told (it is also told whenever the queue runs empty). */
const TAKEN_REPORT = 1024;

export class BrokerThread implements MqttLink {
  private worker: Worker | null = null;
  private boundPort: number | null = null;
  private boundTlsPort: number | null = null;
  /** The TLS listener's port and certificate, read once at the first start and kept for restarts. */
  private tls: BrokerTlsInit | null = null;
  private up = false;
  /** Embedded: always; external: while the thread's client is connected to the broker. */
  private linkUp: boolean;
  private stopping = false;
  private restartMs = RESTART_MIN_MS;
  private restartTimer: Timer | null = null;
  private restarts = 0;
  private latest: BrokerStats = EXTERNAL_BROKER_STATS;
  private readonly handlers: Array<{ filter: string; handler: MessageHandler }> = [];
  private takenUnreported = 0;
  /** Batches from the broker's thread not yet handled, oldest first. */
  private readonly queue: Array<{ topics: string[]; subs: Uint16Array; ends: Uint32Array; buffer: Buffer; next: number; start: number }> = [];
  private readonly listeners: Array<(up: boolean) => void> = [];

  constructor(
    private readonly init: BrokerThreadInit,
    private readonly ctx: { clock: Clock; logger: Logger; hooks: BrokerThreadHooks },
  ) {
    this.linkUp = (init.external ?? null) === null;
  }

  get description(): string {
    if (this.init.external) return `external broker ${this.init.external.url}, own thread`;
    const ports = [this.boundPort !== null ? `port ${this.boundPort}` : "no plain port", ...(this.boundTlsPort !== null ? [`TLS port ${this.boundTlsPort}`] : [])];
    return `embedded, ${ports.join(", ")}, own thread`;
  }

  get connected(): boolean {
    return this.up && this.worker !== null && this.linkUp;
  }

  /** The plain listener's port, or null when it is off (`broker.plain: false`). */
  get port(): number | null {
    return this.boundPort;
  }

  /** The TLS listener's port, or null without TLS. */
  get tlsPort(): number | null {
    return this.boundTlsPort;
  }

  /** Reads (or makes) the TLS certificate, starts the broker's thread and waits until it listens. */
  async listen(): Promise<void> {
    this.tls = await this.certificate();
    const bound = await this.spawn(this.init.port, this.tls);
    this.boundPort = bound.port;
    this.boundTlsPort = bound.tlsPort;
  }

  private async certificate(): Promise<BrokerTlsInit | null> {
    const source = this.init.tls;
    if (source === null) return null;
    if (source.files !== undefined) {
      const pem = readTlsFiles(source.files, "broker.tls.files");
      return { port: source.port, cert: pem.cert, key: pem.key };
    }
    // Real time, not the hub's clock: clients check the certificate's dates against their own
    // clocks (a test's ManualClock set in another year would make certificates nobody accepts).
    const made = await ensureSelfSignedCerts(source.folder, source.hostnames);
    if (made.made.ca) this.ctx.logger.warn({ caFile: made.caFile }, "made a new CA for MQTT over TLS: clients must trust this file");
    if (made.made.server !== null) this.ctx.logger.info({ certFile: made.certFile, reason: made.made.server, names: made.names }, "made the broker's TLS server certificate");
    return { port: source.port, cert: made.cert, key: made.key };
  }

  /** The link is up (the thread is already listening). */
  start(): Promise<void> {
    this.up = true;
    if (this.linkUp) for (const l of this.listeners) l(true);
    return Promise.resolve();
  }

  subscribe(filter: string, handler: MessageHandler): Promise<void> {
    this.handlers.push({ filter, handler });
    this.send({ t: "subscribe", filter, sub: this.handlers.length - 1 });
    return Promise.resolve();
  }

  publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): void {
    const bytes = typeof payload === "string" ? Buffer.from(payload) : payload;
    this.send({ t: "publish", topic, payload: bytes, qos: options.qos ?? 0, retain: options.retain ?? false });
  }

  onConnection(fn: (up: boolean) => void): void {
    this.listeners.push(fn);
  }

  stats(): BrokerStats & { threadRestarts: number } {
    return { ...this.latest, threadRestarts: this.restarts };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.up = false;
    this.restartTimer?.cancel();
    // The hub hears nothing more: devices' last wills as the broker closes their sessions are the
    // hub's own doing, not news about the devices (their last state is what the registry keeps).
    this.handlers.length = 0;
    this.queue.length = 0;
    const worker = this.worker;
    if (worker === null) return;
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    const force = setTimeout(() => void worker.terminate(), STOP_TIMEOUT_MS);
    worker.postMessage({ t: "stop" } satisfies ToBroker);
    await exited;
    clearTimeout(force);
    this.worker = null;
  }

  private send(msg: ToBroker): void {
    this.worker?.postMessage(msg);
  }

  private spawn(port: number, tls: BrokerTlsInit | null): Promise<{ port: number | null; tlsPort: number | null }> {
    const { entry, eval: isEval } = workerEntry("broker-worker", import.meta.url);
    const worker = new Worker(entry, { workerData: { ...this.init, port, tls } satisfies BrokerInit, eval: isEval, name: "mqtt-broker" });
    this.worker = worker;
    return new Promise((resolve, reject) => {
      let ready = false;
      let failure: string | null = null;
      worker.on("message", (msg: FromBroker) => {
        switch (msg.t) {
          case "ready":
            ready = true;
            this.restartMs = RESTART_MIN_MS;
            resolve({ port: msg.port, tlsPort: msg.tlsPort });
            return;
          case "failed":
            failure = msg.message;
            return;
          case "messages":
            this.deliver(msg.topics, msg.subs, msg.ends, msg.bytes);
            return;
          case "denials":
            for (const d of msg.items) this.ctx.hooks.denied(d);
            return;
          case "link":
            if (this.linkUp === msg.up) return;
            this.linkUp = msg.up;
            if (this.up) for (const l of this.listeners) l(msg.up);
            return;
          case "stats":
            this.latest = msg.stats;
            return;
          case "stopped":
            return;
        }
      });
      worker.on("error", (error) => {
        failure ??= error.message;
        this.ctx.logger.error({ err: error }, "mqtt broker thread failed");
      });
      worker.on("exit", (code) => {
        if (this.worker === worker) this.worker = null;
        if (!ready) {
          reject(new Error(`${this.init.external ? "the hub's MQTT client thread" : "the embedded MQTT broker"} did not start: ${failure ?? `its thread exited with code ${code}`}`));
          return;
        }
        if (this.stopping) return;
        this.onCrash(`the broker's thread exited (code ${code})${failure !== null ? `: ${failure}` : ""}`);
      });
    });
  }

  /**
   * Hands each message to the hub's handlers, at most SLICE messages per turn of the event loop: a
   * backlog (after a stall, or a burst) must not hold the interlocks' timers for its whole length.
   * Batches are taken in the order they came, and reported taken once handled.
   */
  private deliver(topics: string[], subs: Uint16Array, ends: Uint32Array, bytes: Uint8Array): void {
    this.queue.push({ topics, subs, ends, buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), next: 0, start: 0 });
    if (this.queue.length === 1) this.drain();
  }

  private drain(): void {
    let budget = SLICE;
    while (budget > 0) {
      const batch = this.queue[0];
      if (batch === undefined) return;
      const end = Math.min(batch.topics.length, batch.next + budget);
      for (let i = batch.next; i < end; i++) {
        const topic = batch.topics[i] ?? "";
        const stop = batch.ends[i] ?? batch.start;
        const payload = batch.buffer.subarray(batch.start, stop);
        batch.start = stop;
        // The broker's thread says which subscription matched: no topic matching here.
        const handler = this.handlers[batch.subs[i] ?? -1]?.handler;
        try {
          handler?.(topic, payload);
        } catch (error) {
          this.ctx.logger.error({ err: error, topic }, "mqtt handler failed");
        }
      }
      budget -= end - batch.next;
      this.takenUnreported += end - batch.next;
      batch.next = end;
      if (batch.next >= batch.topics.length) this.queue.shift();
      // The broker's thread needs to know what was taken, not every time: a message per
      // TAKEN_REPORT messages, and when the queue runs empty.
      if (this.takenUnreported >= TAKEN_REPORT || this.queue.length === 0) {
        this.send({ t: "taken", n: this.takenUnreported });
        this.takenUnreported = 0;
      }
    }
    // setImmediate: after the I/O of this turn; scheduled from a slice that itself ran as an
    // immediate, it waits for the next turn, so timers run between slices of a long backlog.
    if (this.queue.length > 0) setImmediate(() => this.drain());
  }

  private onCrash(reason: string): void {
    this.restarts += 1;
    // External: the new thread's client says when it is connected again.
    if (this.init.external) this.linkUp = false;
    for (const l of this.listeners) l(false);
    this.ctx.logger.error({ reason, retryInMs: this.restartMs }, "mqtt broker thread stopped; restarting");
    this.ctx.hooks.restarting(reason);
    const wait = this.restartMs;
    this.restartMs = Math.min(RESTART_MAX_MS, this.restartMs * 2);
    this.restartTimer = this.ctx.clock.setTimeout(() => {
      this.restartTimer = null;
      if (this.stopping) return;
      // The same ports as before (a port 0 was given its number at the first start).
      const tls = this.tls !== null && this.boundTlsPort !== null ? { ...this.tls, port: this.boundTlsPort } : this.tls;
      this.spawn(this.boundPort ?? this.init.port, tls).then(
        () => {
          this.handlers.forEach((h, sub) => this.send({ t: "subscribe", filter: h.filter, sub }));
          // External: the new thread's client says so itself once it is connected ("link").
          if (this.up && !this.init.external) for (const l of this.listeners) l(true);
        },
        (error: unknown) => this.onCrash(error instanceof Error ? error.message : String(error)),
      );
    }, wait);
  }
}
