/**
 * The embedded broker's worker thread: aedes and its listener, so MQTT traffic runs on its own event
 * loop and heap. Messages for the hub's subscriptions are gathered for one turn of this loop and
 * handed over in one message, payloads back to back in one transferred buffer (a Buffer from aedes
 * is a view into a larger chunk, and cloning a view copies all of it). Started by BrokerThread
 * (broker-thread.ts); the messages are in protocol.ts.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import { loopDelayMs } from "../api/monitor.ts";
import type { BrokerInit, BrokerStats, Denial, FromBroker, ToBroker } from "./protocol.ts";

const port =
  parentPort ??
  (() => {
    throw new Error("broker-worker.ts runs only as a worker thread (see BrokerThread)");
  })();
const init = workerData as BrokerInit;
const post = (message: FromBroker, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

/** Counters go to the main thread this often; the loop delay is measured over four such periods. */
// The broker's thread keeps the same scheduling priority as the main thread: device messages (the
// e-stop button's among them) pass through it, so a lower priority would delay the safety inputs.
const STATS_EVERY_MS = 250;
const LOOP_WINDOW_PERIODS = 4;
/** Denials of one kind for one device are reported at most this often, with their count. */
const DENIALS_EVERY_MS = 250;

let topics: string[] = [];
let subs: number[] = [];
let payloads: Buffer[] = [];
let bytes = 0;
let flushScheduled = false;

function flush(): void {
  flushScheduled = false;
  if (topics.length === 0) return;
  const out = new Uint8Array(new ArrayBuffer(bytes));
  const ends = new Uint32Array(payloads.length);
  let at = 0;
  payloads.forEach((p, i) => {
    out.set(p, at);
    at += p.byteLength;
    ends[i] = at;
  });
  const subIndex = Uint16Array.from(subs);
  post({ t: "messages", topics, subs: subIndex, ends, bytes: out }, [out.buffer, ends.buffer, subIndex.buffer]);
  topics = [];
  subs = [];
  payloads = [];
  bytes = 0;
}

const denials = new Map<string, Denial>();
let denialTimer: NodeJS.Timeout | null = null;
function flushDenials(): void {
  denialTimer = null;
  if (denials.size === 0) return;
  post({ t: "denials", items: [...denials.values()] });
  denials.clear();
}

const sink = {
  toHub(sub: number, topic: string, payload: Buffer) {
    subs.push(sub);
    topics.push(topic);
    payloads.push(payload);
    bytes += payload.byteLength;
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  },
  denied(d: Omit<Denial, "count">) {
    const key = `${d.deviceId ?? ""}\u0000${d.code}`;
    const existing = denials.get(key);
    if (existing !== undefined) {
      existing.count += 1;
      existing.message = d.message;
    } else {
      denials.set(key, { ...d, count: 1 });
    }
    denialTimer ??= setTimeout(flushDenials, DENIALS_EVERY_MS);
  },
  link(up: boolean) {
    post({ t: "link", up });
  },
};

/** What this thread runs: the embedded broker (aedes), or the hub's client of an external broker. */
interface Core {
  readonly port: number | null;
  readonly tlsPort: number | null;
  start(): Promise<void>;
  subscribe(filter: string, sub: number): Promise<void>;
  publish(topic: string, payload: Buffer, qos: 0 | 1, retain: boolean): void;
  taken(n: number): void;
  stop(): Promise<void>;
  stats(loopDelayP99Ms: number): BrokerStats;
}
const external = init.external ?? null;
const core: Core =
  external !== null
    ? new (await import("./external-client.ts")).ExternalClient({ ...init, external }, sink)
    : new (await import("./broker-core.ts")).BrokerCore(init, sink);

const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();
let statsTimer: NodeJS.Timeout | null = null;

port.on("message", (msg: ToBroker) => {
  switch (msg.t) {
    case "subscribe":
      void core.subscribe(msg.filter, msg.sub);
      return;
    case "publish":
      core.publish(msg.topic, Buffer.from(msg.payload.buffer, msg.payload.byteOffset, msg.payload.byteLength), msg.qos, msg.retain);
      return;
    case "taken":
      core.taken(msg.n);
      return;
    case "stop":
      if (statsTimer !== null) clearInterval(statsTimer);
      if (denialTimer !== null) clearTimeout(denialTimer);
      flushDenials();
      core.stop().then(
        () => {
          post({ t: "stopped" });
          port.close();
        },
        (error: unknown) => {
          post({ t: "failed", message: error instanceof Error ? error.message : String(error) });
          port.close();
        },
      );
      return;
  }
});

core.start().then(
  () => {
    post({ t: "ready", port: core.port, tlsPort: core.tlsPort });
    let period = 0;
    let loopP99Ms = 0;
    statsTimer = setInterval(() => {
      period += 1;
      if (period % LOOP_WINDOW_PERIODS === 0) {
        loopP99Ms = loopDelayMs(loop.percentile(99));
        loop.reset();
      }
      post({ t: "stats", stats: core.stats(loopP99Ms) });
    }, STATS_EVERY_MS);
  },
  (error: unknown) => {
    post({ t: "failed", message: error instanceof Error ? error.message : String(error) });
    port.close();
  },
);
