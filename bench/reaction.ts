/**
 * Interlock reaction benchmark (issue 3): from the tripping reading (a leak) being written to the
 * broker to the safe command (`cmd/pumpEnable` = 0) arriving at a subscriber, while other devices
 * send 5,000 readings/s. Both ends are in this process on loopback, so the figure includes two
 * broker hops on top of the hub's own reaction: an upper bound for "reading arrives at the broker"
 * to "safe command leaves it".
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import mqtt from "mqtt";
import type { HubProcess } from "../test/support/spawn-hub.ts";
import { MqttLoad } from "./lib/mqtt-load.ts";
import { percentile, procStats } from "./lib/stats.ts";
import { benchConfig, benchOpcua, command, login, startBenchHub } from "./lib/hub.ts";

const SITE = "bench";
const LOAD_DEVICES = 10;

export interface ReactionResult {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  backgroundReadingsPerS: number;
  hubCpuPct: number;
}

export async function runReaction(opts: { trips: number; log: (line: string) => void }): Promise<ReactionResult> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tec-bench-reaction-"));
  let hub: HubProcess | null = null;
  const load = { current: null as MqttLoad | null };
  const clients: mqtt.MqttClient[] = [];
  try {
    const loadIds = Array.from({ length: LOAD_DEVICES }, (_, i) => `load-${i}`);
    const config = benchConfig(dir, {
      site: SITE,
      broker: { mode: "embedded", host: "127.0.0.1", port: 0, observer: { username: "observer", password: "observer" } },
      opcua: await benchOpcua(dir),
      devices: [
        { kind: "mqtt", id: "water", name: "Water", password: "pw-water" },
        ...loadIds.map((id) => ({ kind: "mqtt" as const, id, name: id, password: `pw-${id}` })),
      ],
      interlocks: [
        {
          id: "water-leak",
          name: { nl: "Lekkage", en: "Water leak" },
          reason: { nl: "Pomp uit: lekkage", en: "Pump off: leak" },
          when: { type: "equals", input: "water.leak", value: 1 },
          actions: [{ type: "safe", actuator: "water.pumpEnable" }],
          forbids: ["water.pumpEnable"],
          reset: { roles: ["technician"], clearForS: 0 },
        },
      ],
      users: [{ name: "tech", role: "technician", password: "technician" }],
    });
    hub = await startBenchHub(dir, config, process.env.TEC_BENCH_PROFILE !== undefined ? ["--cpu-prof", `--cpu-prof-dir=${process.env.TEC_BENCH_PROFILE}`] : []);
    const url = `mqtt://127.0.0.1:${hub.mqttPort}`;
    const http = `http://127.0.0.1:${hub.httpPort}`;

    // The water board: describes itself, acknowledges every command, reports its leak sensor on demand.
    const water = mqtt.connect(url, { username: "water", password: "pw-water", clientId: "water-bench", protocolVersion: 4 });
    clients.push(water);
    await new Promise<void>((resolve) => water.once("connect", () => resolve()));
    (water.stream as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
    let seq = 0;
    const tele = (leak: number) => water.publish(`tec/${SITE}/water/tele`, JSON.stringify({ ts: Date.now(), seq: ++seq, readings: { leak } }));
    await water.publishAsync(`tec/${SITE}/water/status`, "online", { retain: true, qos: 1 });
    await water.publishAsync(
      `tec/${SITE}/water/meta`,
      JSON.stringify({ model: "BENCH-WATER", firmware: "1", boot: 1, channels: { leak: { unit: "", min: 0, max: 1, periodMs: 60_000 } }, actuators: { pumpEnable: { safe: 0, leaseMs: 10_000 } } }),
      { retain: true, qos: 1 },
    );
    let safeSeen: ((t: number) => void) | null = null;
    water.on("message", (topic, payload) => {
      const t = performance.now();
      const cmd = JSON.parse(payload.toString()) as { id: string; value: number };
      water.publish(`tec/${SITE}/water/ack`, JSON.stringify({ id: cmd.id, ok: true }));
      if (topic.endsWith("/cmd/pumpEnable") && cmd.value === 0) safeSeen?.(t);
    });
    await water.subscribeAsync(`tec/${SITE}/water/cmd/+`);
    tele(0);

    const token = await login(http, "tech", "technician");
    const reset = async () => (await command(http, token, "interlock.reset", { id: "water-leak" })).ok;
    const status = async () => ((await (await fetch(`${http}/api/interlocks/water-leak`)).json()) as { result: { status: string } }).result.status;
    for (let i = 0; i < 100 && (await status()) !== "normal"; i++) await new Promise((r) => setTimeout(r, 50));

    // 5,000 readings/s from other devices: 1,250 messages/s of 4 readings.
    const gen = new MqttLoad({ host: "127.0.0.1", port: hub.mqttPort, site: SITE, devices: loadIds.map((id) => ({ id, username: id, password: `pw-${id}` })) });
    load.current = gen;
    await gen.connect();
    await gen.describe({ model: "LOAD", firmware: "1", boot: 1, channels: Object.fromEntries(["aW", "bW", "cW", "dW"].map((c) => [c, { unit: "W", min: 0, max: 1e6, periodMs: 60_000 }])), actuators: {} });
    let stopLoad = false;
    const background = (async () => {
      while (!stopLoad) await gen.run(1250, 1000, (s, ts) => `{"ts":${ts},"seq":${s},"readings":{"aW":${s % 1000},"bW":1,"cW":2,"dW":3}}`);
    })();

    const latencies: number[] = [];
    const cpu0 = procStats(hub.proc.pid ?? 0);
    for (let i = 0; i < opts.trips; i++) {
      const seen = new Promise<number>((resolve) => (safeSeen = resolve));
      const t0 = performance.now();
      tele(1);
      const t1 = await Promise.race([seen, new Promise<number>((r) => setTimeout(() => r(Number.NaN), 2000))]);
      safeSeen = null;
      if (!Number.isNaN(t1)) latencies.push(t1 - t0);
      tele(0);
      for (let k = 0; k < 100 && !(await reset()); k++) await new Promise((r) => setTimeout(r, 20));
      // A pause between trips, so the hub's CPU reflects the background load, not this loop's pace.
      await new Promise((r) => setTimeout(r, 100));
    }
    const cpu1 = procStats(hub.proc.pid ?? 0);
    stopLoad = true;
    await background;
    const sorted = Float64Array.from(latencies).sort();
    const result: ReactionResult = {
      samples: latencies.length,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      maxMs: sorted[sorted.length - 1] ?? Number.NaN,
      backgroundReadingsPerS: 5000,
      hubCpuPct: ((cpu1.cpuMs - cpu0.cpuMs) / (cpu1.at - cpu0.at)) * 100,
    };
    opts.log(`interlock reaction (leak reading written -> safe command received), ${result.samples}/${opts.trips} trips, 5,000 other readings/s:`);
    opts.log(`  p50 ${result.p50Ms.toFixed(2)} ms   p99 ${result.p99Ms.toFixed(2)} ms   max ${result.maxMs.toFixed(2)} ms   hub CPU ${result.hubCpuPct.toFixed(0)} %`);
    return result;
  } finally {
    load.current?.close();
    for (const c of clients) c.end(true);
    if (hub !== null) await hub.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}
