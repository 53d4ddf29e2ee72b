/**
 * Broker fan-out benchmark (issue 10, finding 2): the demo's Tiny House (six boards and the MQTT
 * e-stop button, with their interlocks), 300 observer sessions subscribed to `#` (a third of them
 * never read their socket), and one device sending 4,000 messages of 1 KB per second (within its
 * intake limit). Reported: the hub's main-thread event-loop delay (where the interlocks, leases and
 * freshness sweep run), devices that went stale, interlocks that tripped, the hub's RSS growth,
 * REST latency, and what the broker's thread did (budget and backlog drops, its own loop delay).
 *
 * The observer cap is raised to 300 for this run (the default is 32) so the exact load of the
 * finding reaches the broker; the per-session and total observer budgets stay at their defaults.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import mqttPacket from "mqtt-packet";
import { parse } from "yaml";
import type { HubConfigInput } from "../hub/src/config/schema.ts";
import type { HubProcess } from "../test/support/spawn-hub.ts";
import { MqttLoad, writePadded } from "./lib/mqtt-load.ts";
import { percentile, procStats } from "./lib/stats.ts";
import { startBenchHub } from "./lib/hub.ts";

const MESSAGE_BYTES = 1024;

export interface FanoutResult {
  loopP99Ms: number;
  loopMaxMs: number;
  staleDevices: string[];
  trippedInterlocks: string[];
  rssGrowthMB: number;
  restP99Ms: number;
  floodSent: number;
  floodAcceptedAtHub: number;
}

interface Health {
  eventLoop: { p50Ms: number; p99Ms: number; maxMs: number };
  memory: { rssMB: number };
  mqtt: { clients: number; observerSessions: number; budgetDropped: number; forwardDropped: number; hubDropped: number; loopDelayP99Ms: number; connectionsRefused: number };
}
type Ok<T> = { ok: true; result: T };

async function getJson<T>(url: string): Promise<{ body: T; ms: number }> {
  const t0 = performance.now();
  const r = await fetch(url);
  const body = (await r.json()) as T;
  return { body, ms: performance.now() - t0 };
}

/** The demo's config with only the Tiny House's MQTT boards (no printers, robots or serial board), on free ports. */
function demoMqttConfig(dir: string, observers: number): HubConfigInput {
  const demo = parse(readFileSync(path.resolve(import.meta.dirname, "../config/demo.yaml"), "utf8")) as HubConfigInput;
  // The printer enclosures' board is simulated with the printers, which are left out.
  const devices = (demo.devices ?? []).filter((d) => d.kind === "mqtt" && d.id !== "enclosures");
  const kept = new Set(devices.map((d) => d.id));
  const interlocks = (demo.interlocks ?? []).filter((r) => !JSON.stringify(r).match(/"(printer|robot)[a-z0-9-]*\./) && [...JSON.stringify(r).matchAll(/"([a-z0-9-]+)\.[a-zA-Z]/g)].every((m) => kept.has(m[1] ?? "")));
  return {
    ...demo,
    http: { host: "127.0.0.1", port: 0 },
    broker: { mode: "embedded", host: "127.0.0.1", port: 0, observer: { username: "observer", password: "observer" }, limits: { maxObserverConnections: Math.max(1, observers) } },
    storage: { path: path.join(dir, "fanout.db") },
    opcua: { enabled: false },
    devices: [...devices, { kind: "mqtt", id: "flood", name: "Flood", password: "pw-flood" }],
    interlocks,
  };
}

/** An observer session on a raw socket: subscribes to `#` and reads (or never reads) what it is sent. */
function observer(port: number, i: number, reads: boolean): Promise<{ socket: net.Socket; bytes: () => number }> {
  return new Promise((resolve, reject) => {
    let bytes = 0;
    const socket = net.connect({ host: "127.0.0.1", port });
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    socket.on("error", () => {});
    socket.once("error", reject);
    parser.on("packet", (p) => {
      if (p.cmd === "connack") {
        if (p.returnCode !== 0) return reject(new Error(`observer ${i}: CONNACK ${p.returnCode ?? "?"}`));
        socket.write(mqttPacket.generate({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic: "#", qos: 0 }] }));
      } else if (p.cmd === "suback") {
        // A stalled tool: from now on it never reads its socket.
        if (!reads) socket.pause();
        resolve({ socket, bytes: () => bytes });
      }
    });
    socket.on("data", (d) => {
      bytes += d.length;
      parser.parse(d);
    });
    socket.on("connect", () =>
      socket.write(mqttPacket.generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, clientId: `fanout-tool-${i}`, keepalive: 60, username: "observer", password: Buffer.from("observer") })),
    );
  });
}

export async function runFanout(opts: { observers: number; ratePerS: number; seconds: number; log: (line: string) => void }): Promise<FanoutResult> {
  const { log } = opts;
  const dir = mkdtempSync(path.join(os.tmpdir(), "tec-bench-fanout-"));
  let hub: HubProcess | null = null;
  const sockets: net.Socket[] = [];
  let flood: MqttLoad | null = null;
  try {
    hub = await startBenchHub(dir, demoMqttConfig(dir, opts.observers), process.env.TEC_BENCH_PROFILE !== undefined ? ["--cpu-prof", `--cpu-prof-dir=${process.env.TEC_BENCH_PROFILE}`] : []);
    const http = `http://127.0.0.1:${hub.httpPort}`;
    const pid = hub.proc.pid ?? 0;

    // The Tiny House comes up: every board ready, every interlock normal.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const devices = (await getJson<Ok<Array<{ id: string; state: string }>>>(`${http}/api/devices`)).body.result.filter((d) => d.id !== "flood");
      const interlocks = (await getJson<Ok<Array<{ id: string; status: string }>>>(`${http}/api/interlocks`)).body.result;
      if (devices.every((d) => d.state === "ready") && interlocks.every((r) => r.status === "normal")) break;
      if (Date.now() > deadline) throw new Error(`the demo did not settle: ${JSON.stringify({ devices: devices.filter((d) => d.state !== "ready").map((d) => d.id), interlocks: interlocks.filter((r) => r.status !== "normal").map((r) => r.id) })}`);
      await new Promise((r) => setTimeout(r, 500));
    }

    const tools = [];
    for (let i = 0; i < opts.observers; i++) tools.push(await observer(hub.mqttPort, i, i % 3 !== 2));
    sockets.push(...tools.map((t) => t.socket));
    flood = new MqttLoad({ host: "127.0.0.1", port: hub.mqttPort, site: "tec-deventer", devices: [{ id: "flood", username: "flood", password: "pw-flood" }] });
    await flood.connect();
    await flood.describe({ model: "FLOOD", firmware: "1", boot: 1, channels: { powerW: { unit: "W", min: 0, max: 1e9, periodMs: 1000 } }, actuators: {} });
    const baseline = procStats(pid);
    const before = (await getJson<Ok<Health>>(`${http}/api/hub/health`)).body.result;
    log(`fanout: ${opts.observers} observers on # (${tools.length - Math.floor(opts.observers / 3)} reading, ${Math.floor(opts.observers / 3)} stalled), flood ${opts.ratePerS} msg/s of ${MESSAGE_BYTES} B for ${opts.seconds} s; hub RSS ${baseline.rssMB.toFixed(0)} MB`);

    // A fixed-size 1 KB tele: the padding is JSON whitespace, the numbers are patched in place.
    const head = '{"ts":';
    const template = `${head}${" ".repeat(16)},"seq":${" ".repeat(12)},"readings":{"powerW":1}${" ".repeat(MESSAGE_BYTES - head.length - 16 - 7 - 12 - 24)}}`;
    const fill = {
      template,
      patch(packet: Buffer, offset: number, seq: number, ts: number) {
        writePadded(packet, offset + head.length, 16, String(ts));
        writePadded(packet, offset + head.length + 16 + 7, 12, String(seq));
      },
    };

    // While the flood runs: the hub's health every 2 s, devices and interlocks every 500 ms.
    const loopP99s: number[] = [];
    let loopMax = 0;
    const rest: number[] = [];
    const stale = new Set<string>();
    const tripped = new Set<string>();
    let rssMax = baseline.rssMB;
    let watching = true;
    const watch = (async () => {
      let n = 0;
      while (watching) {
        const devices = await getJson<Ok<Array<{ id: string; state: string; stateReason: string }>>>(`${http}/api/devices`);
        rest.push(devices.ms);
        for (const d of devices.body.result) if (d.state !== "ready" && d.id !== "flood") stale.add(`${d.id} (${d.state}: ${d.stateReason})`);
        const interlocks = await getJson<Ok<Array<{ id: string; status: string }>>>(`${http}/api/interlocks`);
        rest.push(interlocks.ms);
        for (const r of interlocks.body.result) if (r.status !== "normal") tripped.add(`${r.id} (${r.status})`);
        rssMax = Math.max(rssMax, procStats(pid).rssMB);
        if (++n % 4 === 0) {
          const h = (await getJson<Ok<Health>>(`${http}/api/hub/health`)).body.result;
          loopP99s.push(h.eventLoop.p99Ms);
          loopMax = Math.max(loopMax, h.eventLoop.maxMs);
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    const run = await flood.run(opts.ratePerS, opts.seconds * 1000, () => "", fill);
    // One more health window after the flood, so its last seconds are in the figures.
    await new Promise((r) => setTimeout(r, 2500));
    watching = false;
    await watch;
    const after = (await getJson<Ok<Health>>(`${http}/api/hub/health`)).body.result;
    const floodView = (await getJson<Ok<{ counters: { readings: number; shed: number } }>>(`${http}/api/devices/flood`)).body.result;
    const end = procStats(pid);
    rest.sort((a, b) => a - b);
    const result: FanoutResult = {
      loopP99Ms: Math.max(...loopP99s),
      loopMaxMs: loopMax,
      staleDevices: [...stale],
      trippedInterlocks: [...tripped],
      rssGrowthMB: rssMax - baseline.rssMB,
      restP99Ms: percentile(rest, 0.99),
      floodSent: run.sent,
      floodAcceptedAtHub: floodView.counters.readings,
    };
    log(`  sent ${run.sent} in ${(run.elapsedMs / 1000).toFixed(1)} s (${((run.sent * 1000) / run.elapsedMs).toFixed(0)} msg/s); hub accepted ${floodView.counters.readings}, shed ${floodView.counters.shed}`);
    log(`  hub main thread (interlocks, leases, sweep): event-loop p99 per 2 s window max ${result.loopP99Ms.toFixed(1)} ms, worst single delay ${loopMax.toFixed(1)} ms (target p99 < 20 ms)`);
    log(`  stale or offline devices: ${result.staleDevices.length === 0 ? "none" : result.staleDevices.join(", ")}; tripped interlocks: ${result.trippedInterlocks.length === 0 ? "none" : result.trippedInterlocks.join(", ")}`);
    log(`  hub RSS ${baseline.rssMB.toFixed(0)} -> max ${rssMax.toFixed(0)} MB (growth ${result.rssGrowthMB.toFixed(0)} MB, target < 100), ${end.rssMB.toFixed(0)} MB at the end; REST p99 ${result.restP99Ms.toFixed(1)} ms`);
    log(
      `  broker thread: ${after.mqtt.observerSessions} observer sessions, budget drops ${after.mqtt.budgetDropped - before.mqtt.budgetDropped}, backlog drops ${after.mqtt.forwardDropped - before.mqtt.forwardDropped}, hub drops ${after.mqtt.hubDropped}, its own loop p99 ${after.mqtt.loopDelayP99Ms.toFixed(1)} ms`,
    );
    const tooled = tools.filter((_, i) => i % 3 !== 2).map((t) => t.bytes());
    log(`  a reading observer received ${(percentile(tooled.sort((a, b) => a - b), 0.5) / 1024).toFixed(0)} KB (median); a stalled one nothing past its socket buffers`);
    log(`  sharing the 2 cores: the hub (main thread + broker thread + history thread), this generator (flood + ${opts.observers} observers) and the Tiny House simulators in the hub's process`);
    return result;
  } finally {
    flood?.close();
    for (const s of sockets) s.destroy();
    await hub?.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}
