/**
 * Ingest benchmark (issue 2): 50 simulated devices publish telemetry (~150 bytes, a few readings
 * each) at rising rates into a running hub, in its own process, with validation, registry, history
 * and fan-out all on. Latency is measured per message, from the moment the generator wrote it to
 * the moment a socket.io client received the first live frame that carries it (or a newer value
 * of the same device: frames coalesce). "Nothing lost" means every message sent was accepted by
 * the hub (none shed, none rejected, no sequence gaps).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { io as ioClient } from "socket.io-client";
import type { LiveFrame } from "../hub/src/api/live-protocol.ts";
import { startMosquitto, type Mosquitto } from "../test/support/mosquitto.ts";
import type { HubProcess } from "../test/support/spawn-hub.ts";
import { MqttLoad, type TemplateFill, writePadded } from "./lib/mqtt-load.ts";
import { percentile, procStats, type ProcSample } from "./lib/stats.ts";
import { benchConfig, benchOpcua, startBenchHub } from "./lib/hub.ts";

const SITE = "bench";
const DEVICES = 50;
const META = {
  model: "BENCH",
  firmware: "1.0.0",
  boot: 1,
  channels: {
    powerW: { unit: "W", min: 0, max: 10000, periodMs: 60000 },
    tempC: { unit: "C", min: -50, max: 150, periodMs: 60000 },
    voltV: { unit: "V", min: 0, max: 400, periodMs: 60000 },
    currentA: { unit: "A", min: 0, max: 100, periodMs: 60000 },
    n: { unit: "", min: 0, max: 1e12, periodMs: 60000 },
  },
  actuators: {},
};

export interface IngestStep {
  rate: number;
  sent: number;
  accepted: number;
  lost: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  hubCpuPct: number;
  hubRssMB: number;
  /** CPU of the load generator and receiving dashboard (this process), and of Mosquitto if used. */
  loadCpuPct: number;
  brokerCpuPct: number | null;
  pass: boolean;
}

export interface IngestOptions {
  mode: "embedded" | "external";
  rates: number[];
  stepMs: number;
  p99LimitMs: number;
  log: (line: string) => void;
}

interface Health {
  ingest: { totals: { accepted: number; shed: number; rejected: number } };
}

export async function runIngest(opts: IngestOptions): Promise<{ steps: IngestStep[]; best: IngestStep | null }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tec-bench-"));
  let mosquitto: Mosquitto | null = null;
  let hub: HubProcess | null = null;
  const load: { current: MqttLoad | null } = { current: null };
  try {
    if (opts.mode === "external") mosquitto = await startMosquitto();
    const devices = Array.from({ length: DEVICES }, (_, i) => `bench-${String(i).padStart(2, "0")}`);
    // Everything on, the hub's OPC UA server too.
    const config = benchConfig(dir, {
      site: SITE,
      broker:
        opts.mode === "embedded"
          ? { mode: "embedded", host: "127.0.0.1", port: 0, observer: null }
          : { mode: "external", url: mosquitto?.url ?? "", observer: null },
      intake: { maxMessagesPerS: 1_000_000, maxDeviceMessagesPerS: 100_000 },
      opcua: await benchOpcua(dir),
      devices: devices.map((id) => ({ kind: "mqtt" as const, id, name: id, password: `pw-${id}` })),
    });
    hub = await startBenchHub(dir, config);
    const hubPid = hub.proc.pid ?? 0;
    const httpUrl = `http://127.0.0.1:${hub.httpPort}`;
    const brokerPort = opts.mode === "embedded" ? hub.mqttPort : (mosquitto?.port ?? 0);

    const gen = new MqttLoad({
      host: "127.0.0.1",
      port: brokerPort,
      site: SITE,
      devices: devices.map((id) => ({ id, username: id, password: `pw-${id}` })),
    });
    load.current = gen;
    await gen.connect();
    await gen.describe(META);
    const index = new Map(devices.map((id, i) => [id, i]));

    // The receiving dashboard: every message counts as delivered at the first frame carrying it or a newer value.
    const delivered = new Array<number>(DEVICES).fill(0);
    let latencies: number[] = [];
    let measuring = false;
    const socket = ioClient(httpUrl, { transports: ["websocket"], forceNew: true });
    await new Promise<void>((resolve) => socket.once("snapshot", () => resolve()));
    socket.on("frame", (frame: LiveFrame) => {
      const now = performance.now();
      for (const v of frame.values) {
        if (v.c !== "n" || v.v === null) continue;
        const i = index.get(v.d);
        if (i === undefined) continue;
        const log = gen.logs[i];
        if (log === undefined) continue;
        const upTo = v.v;
        for (let s = (delivered[i] ?? 0) + 1; s <= upTo; s++) {
          if (measuring) latencies.push(now - log.get(s));
        }
        if (upTo > (delivered[i] ?? 0)) delivered[i] = upTo;
      }
    });
    const health = async (): Promise<Health> => {
      const res = await fetch(`${httpUrl}/api/hub/health`);
      return ((await res.json()) as { result: Health }).result;
    };

    const steps: IngestStep[] = [];
    let failures = 0;
    const payload = (seq: number, ts: number) =>
      `{"ts":${ts},"seq":${seq},"readings":{"powerW":${(seq % 9000) + 0.5},"tempC":${20 + (seq % 50) / 10},"voltV":230.4,"currentA":${(seq % 400) / 10},"n":${seq}}}`;
    const fill = telemetryTemplate();
    opts.log(`ingest (${opts.mode === "embedded" ? "embedded aedes" : "external Mosquitto"}): ${DEVICES} devices, message ~${payload(123456, Date.now()).length} bytes`);
    opts.log("  rate/s    sent  accepted  lost   p50 ms   p99 ms   max ms  hub CPU %  hub RSS MB  load CPU %  Mosquitto CPU %");
    for (const rate of opts.rates) {
      const before = await health();
      const warmMs = Math.min(1000, opts.stepMs / 5);
      // Warm up at the new rate, then measure.
      await gen.run(rate, warmMs, payload, fill);
      latencies = [];
      measuring = true;
      const cpu0: ProcSample = procStats(hubPid);
      const self0 = procStats(process.pid);
      const broker0 = mosquitto !== null ? procStats(mosquitto.pid) : null;
      const result = await gen.run(rate, opts.stepMs - warmMs, payload, fill);
      const cpu1: ProcSample = procStats(hubPid);
      const self1 = procStats(process.pid);
      const broker1 = mosquitto !== null ? procStats(mosquitto.pid) : null;
      const pct = (a: ProcSample, b: ProcSample) => ((b.cpuMs - a.cpuMs) / (b.at - a.at)) * 100;
      // Let the last frames arrive before counting.
      await new Promise((r) => setTimeout(r, 500));
      measuring = false;
      const after = await health();
      const sent = result.sent + Math.floor((warmMs / 1000) * rate);
      const accepted = after.ingest.totals.accepted - before.ingest.totals.accepted;
      const lost = Math.max(0, sent - accepted) + (after.ingest.totals.shed - before.ingest.totals.shed) + (after.ingest.totals.rejected - before.ingest.totals.rejected);
      const sorted = Float64Array.from(latencies).sort();
      const undelivered = devices.reduce((n, _id, i) => n + Math.max(0, gen.seqOf(i) - (delivered[i] ?? 0)), 0);
      const step: IngestStep = {
        rate,
        sent,
        accepted,
        lost,
        p50Ms: percentile(sorted, 0.5),
        p99Ms: percentile(sorted, 0.99),
        maxMs: sorted.length > 0 ? (sorted[sorted.length - 1] ?? 0) : Number.NaN,
        hubCpuPct: pct(cpu0, cpu1),
        hubRssMB: cpu1.rssMB,
        loadCpuPct: pct(self0, self1),
        brokerCpuPct: broker0 !== null && broker1 !== null ? pct(broker0, broker1) : null,
        pass: false,
      };
      step.pass = step.lost === 0 && undelivered === 0 && step.p99Ms < opts.p99LimitMs;
      steps.push(step);
      opts.log(
        `  ${String(rate).padStart(6)} ${String(sent).padStart(7)} ${String(accepted).padStart(9)} ${String(lost).padStart(5)} ${step.p50Ms.toFixed(1).padStart(8)} ${step.p99Ms.toFixed(1).padStart(8)} ${step.maxMs.toFixed(1).padStart(8)} ${step.hubCpuPct.toFixed(0).padStart(10)} ${step.hubRssMB.toFixed(0).padStart(11)} ${step.loadCpuPct.toFixed(0).padStart(11)} ${step.brokerCpuPct === null ? "".padStart(16) : step.brokerCpuPct.toFixed(0).padStart(16)}  ${step.pass ? "ok" : `FAIL${undelivered > 0 ? ` (${undelivered} never shown)` : ""}`}`,
      );
      if (!step.pass) {
        failures += 1;
        if (failures >= 2) break;
        // Let a backlog drain before the next step.
        await new Promise((r) => setTimeout(r, 2000));
        for (let i = 0; i < DEVICES; i++) delivered[i] = gen.seqOf(i);
      } else {
        failures = 0;
      }
    }
    socket.close();
    const passing = steps.filter((s) => s.pass);
    const best = passing.length > 0 ? passing.reduce((a, b) => (b.rate > a.rate ? b : a)) : null;
    return { steps, best };
  } finally {
    load.current?.close();
    if (hub !== null) await hub.kill("SIGTERM");
    await mosquitto?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same message as `payload`, as a fixed-size template the generator patches in place. */
function telemetryTemplate(): TemplateFill {
  const fields = [
    ["ts", 13],
    ["seq", 10],
    ["powerW", 7],
    ["tempC", 5],
    ["currentA", 5],
    ["n", 10],
  ] as const;
  const blank = (w: number) => "0".padStart(w, " ");
  const template = `{"ts":${blank(13)},"seq":${blank(10)},"readings":{"powerW":${blank(7)},"tempC":${blank(5)},"voltV":230.4,"currentA":${blank(5)},"n":${blank(10)}}}`;
  const offsets = new Map<string, number>();
  for (const [name] of fields) {
    const key = `"${name}":`;
    offsets.set(name, template.indexOf(key) + key.length);
  }
  const at = (name: string) => offsets.get(name) ?? 0;
  return {
    template,
    patch(packet, base, seq, ts) {
      writePadded(packet, base + at("ts"), 13, String(ts));
      writePadded(packet, base + at("seq"), 10, String(seq));
      writePadded(packet, base + at("powerW"), 7, String((seq % 9000) + 0.5));
      writePadded(packet, base + at("tempC"), 5, String(20 + (seq % 50) / 10));
      writePadded(packet, base + at("currentA"), 5, String((seq % 400) / 10));
      writePadded(packet, base + at("n"), 10, String(seq));
    },
  };
}

export function readOsInfo(): string {
  const cpu = readFileSync("/proc/cpuinfo", "utf8").match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
  return `${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 1073741824)} GiB, Node ${process.version}`;
}
