/**
 * Fleet benchmark (issue 10, "scale by device count"): many MQTT devices, each on its own socket
 * with its own account, against a hub in its own process with the shipped defaults (intake limits,
 * keep-alive, OPC UA server on).
 *   (a) steady: 2,000 devices at 10 messages/s each for a fixed time; end-to-end latency from the
 *       generator's write to a live dashboard's frame (as the ingest suite measures it), messages
 *       lost (the hub's counters against what was sent), hub CPU.
 *   (b) connect storm: the devices leave, the hub stops cleanly and starts again on the same
 *       database (which must bring back every device's counters), and all 2,000 reconnect at once;
 *       the time until every one is `ready`.
 *   (c) idle: 10,000 devices at one message a minute, from several generator processes; hub RSS
 *       once all are connected and ready, and over a hold period; with the OPC UA server and without.
 * Readiness is followed on the live stream (a snapshot, then each state change in a frame), so no
 * endpoint that builds every device's view is polled while the hub is busy.
 */
import { type ChildProcess, fork, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { generateMosquittoFiles } from "../hub/src/broker/mosquitto-files.ts";
import { parseConfig } from "../hub/src/config/load.ts";
import type { HubConfigInput } from "../hub/src/config/schema.ts";
import type { DeviceView } from "../hub/src/core/types.ts";
import { freePort } from "../test/support/mosquitto.ts";
import type { HubProcess } from "../test/support/spawn-hub.ts";
import type { ClientReport, ClientTask } from "./fleet-client.ts";
import { benchConfig, benchOpcua, startBenchHubWithin } from "./lib/hub.ts";
import { LiveWatch } from "./lib/live-watch.ts";
import { MqttLoad } from "./lib/mqtt-load.ts";
import { percentile, procStats, type ProcSample } from "./lib/stats.ts";
import { telemetryFill } from "./lib/telemetry.ts";

const SITE = "bench";
const P99_TARGET_MS = 50;
const STORM_TARGET_S = 15;
const RSS_TARGET_MB = 500;
/**
 * Idle devices connect this many at a time per generator process: 10,000 connects at once overflow
 * the listen backlog, and SYNs retried after 1, 3, 7, 15 s can outlast aedes' 30 s connect timeout
 * (the generator then sees ECONNRESET). The storm is (b)'s business; (c) measures memory.
 */
const IDLE_CONNECT_BATCH = 250;
/** A hub declaring 10,000 devices with its OPC UA server takes up to 20 s to start on a busy 2-core machine. */
const START_TIMEOUT_MS = 90_000;

const channel = (periodMs: number, min: number, max: number, unit: string) => ({ unit, min, max, periodMs });
/** A sensor board at 10 messages/s: a channel counts as stale after 3 periods without a reading. */
const BUSY_META = { model: "FLEET", firmware: "1.0.0", boot: 1, channels: { tempC: channel(1000, -50, 150, "C"), powerW: channel(1000, 0, 10000, "W"), n: channel(1000, 0, 1e12, "") }, actuators: {} };
const IDLE_META = { model: "FLEET-IDLE", firmware: "1.0.0", boot: 1, channels: { tempC: channel(60_000, -50, 150, "C"), n: channel(60_000, 0, 1e12, "") }, actuators: {} };
const busyFill = telemetryFill([
  { channel: "tempC", width: 5, value: (seq) => 20 + (seq % 50) / 10 },
  { channel: "powerW", width: 7, value: (seq) => (seq % 9000) + 0.5 },
  { channel: "n", width: 10, value: (seq) => seq },
]);
const busyPayload = () => busyFill.template;

export interface FleetOptions {
  devices: number;
  ratePerDevice: number;
  steadyS: number;
  idleDevices: number;
  idleHoldS: number;
  /** Write a CPU profile of the restarted hub (connect storm) into this folder. */
  profileDir?: string;
  log: (line: string) => void;
}

export interface FleetResult {
  p99Ms: number;
  lost: number;
  stormReadyS: number | null;
  /** Hub RSS with the idle fleet, with the OPC UA server (the default) and without. */
  idleRssMB: { opcua: number | null; noOpcua: number | null };
}

interface Health {
  ingest: { totals: { accepted: number; shed: number; rejected: number }; rejectsByCode: Record<string, number> };
  live: { frames: number; skippedForSlowClients: number };
  eventLoop: { p99Ms: number; maxMs: number };
  devices: Record<string, number>;
}

const verdict = (met: boolean) => (met ? "MET" : "NOT MET");
const cpuPct = (a: ProcSample, b: ProcSample) => ((b.cpuMs - a.cpuMs) / (b.at - a.at)) * 100;
const fmt = (n: number) => n.toLocaleString("en-US");
const secondsSince = (t: number) => (performance.now() - t) / 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const p = (xs: Float64Array, q: number) => percentile(xs, q).toFixed(1);
const states = (h: Health) => Object.entries(h.devices).map(([s, c]) => `${fmt(c)} ${s}`).join(", ");
/** What the hub refused between two health readings, by code. */
const refused = (a: Health, b: Health) =>
  Object.entries(b.ingest.rejectsByCode)
    .map(([code, c]) => [code, c - (a.ingest.rejectsByCode[code] ?? 0)] as const)
    .filter(([, c]) => c > 0)
    .map(([code, c]) => `${fmt(c)} ${code}`)
    .join(", ") || "none";

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  return ((await res.json()) as { result: T }).result;
}

/** The hub's health once it has worked off what it was sent: its totals stop moving for a second (30 s at most). */
async function settled(http: string): Promise<Health> {
  let last = await getJson<Health>(`${http}/api/hub/health`);
  for (let i = 0; i < 30; i++) {
    await sleep(1000);
    const now = await getJson<Health>(`${http}/api/hub/health`);
    const moved = (h: Health) => h.ingest.totals.accepted + h.ingest.totals.rejected + h.ingest.totals.shed;
    if (moved(now) === moved(last)) return now;
    last = now;
  }
  return last;
}

/** SIGTERM, and SIGKILL if the hub has not exited 30 s later (a hub stuck in a long task cannot run its own 10 s guard). */
async function stopHub(hub: HubProcess): Promise<void> {
  const timer = setTimeout(() => hub.proc.kill("SIGKILL"), 30_000);
  await hub.kill("SIGTERM");
  clearTimeout(timer);
}

/** Resolves like `promise`, or rejects after `ms` with `what` in the message. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`${what} took more than ${ms / 1000} s`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The soft limit on open files of a process, from /proc. */
function fdLimit(pid: number): number {
  const line = /Max open files\s+(\d+)/.exec(readFileSync(`/proc/${pid}/limits`, "utf8"));
  return Number(line?.[1] ?? 1024);
}

function fleetConfig(dir: string, ids: string[], opcua: HubConfigInput["opcua"], broker: HubConfigInput["broker"] = { mode: "embedded", host: "127.0.0.1", port: 0, observer: null }): HubConfigInput {
  return benchConfig(dir, {
    site: SITE,
    broker,
    opcua,
    devices: ids.map((id) => ({ kind: "mqtt" as const, id, name: id, password: `pw-${id}` })),
  });
}

export async function runFleet(opts: FleetOptions): Promise<FleetResult> {
  const { log } = opts;
  log(`fleet: MQTT devices each on its own socket and account, against the hub in its own process with the default settings (OPC UA server on unless said)`);
  log(`  ${os.cpus().length} cores shared by the hub (main thread and its worker threads) and the load: in (a) and (b) this bench process (${fmt(opts.devices)} MQTT sessions, the generator, one live dashboard), in (c) the generator processes and this one (one live dashboard)`);
  const result: FleetResult = { p99Ms: Number.NaN, lost: Number.NaN, stormReadyS: null, idleRssMB: { opcua: null, noOpcua: null } };
  await runBusy(opts, result);
  for (const opcua of [true, false]) {
    try {
      result.idleRssMB[opcua ? "opcua" : "noOpcua"] = await runIdle(opts, opcua);
    } catch (error) {
      log(`  (c) idle${opcua ? "" : ", OPC UA server off"}: NOT MEASURED: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
    }
  }
  return result;
}

/**
 * Connects every device of `gen` at once; each describes itself (retained status and meta, then
 * the generator's 0.2 s pause) and sends at its normal rate until the hub calls all of them ready.
 * Seconds from the first connect until all were connected and until all were ready (null: 120 s).
 */
async function connectAll(gen: MqttLoad, watch: LiveWatch, n: number, rate: number): Promise<{ connectedS: number; readyS: number | null }> {
  const t0 = performance.now();
  let readyAt: number | null | undefined;
  await gen.connect();
  const connectedS = secondsSince(t0);
  void watch.until("ready", n, 120_000).then((at) => (readyAt = at));
  await gen.describe(BUSY_META);
  gen.once(busyPayload, busyFill);
  while (readyAt === undefined) await gen.run(rate, 250, busyPayload, busyFill);
  return { connectedS, readyS: readyAt === null ? null : (readyAt - t0) / 1000 };
}

/** (a) and (b): one database, two hub processes one after the other. */
async function runBusy(opts: FleetOptions, result: FleetResult, broker: "embedded" | "mosquitto" = "embedded"): Promise<void> {
  const { log } = opts;
  const n = opts.devices;
  const rate = n * opts.ratePerDevice;
  const dir = mkdtempSync(path.join(os.tmpdir(), "tec-bench-fleet-"));
  let hub: HubProcess | null = null;
  let mosquitto: GeneratedMosquitto | null = null;
  const closing: Array<{ close(): void }> = [];
  try {
    const ids = Array.from({ length: n }, (_, i) => `fleet-${String(i).padStart(5, "0")}`);
    const devices = ids.map((id) => ({ id, username: id, password: `pw-${id}` }));
    let config = fleetConfig(dir, ids, await benchOpcua(dir));
    if (broker === "mosquitto") {
      const port = await freePort();
      config = fleetConfig(dir, ids, config.opcua, { mode: "external", url: `mqtt://127.0.0.1:${port}`, host: "127.0.0.1", port, observer: null, hub: MOSQUITTO_HUB_ACCOUNT });
      mosquitto = await startGeneratedMosquitto(dir, config, port, log);
    }
    hub = await startBenchHubWithin(START_TIMEOUT_MS, dir, config);
    const mqttPort = mosquitto?.port ?? hub.mqttPort;
    let http = `http://127.0.0.1:${hub.httpPort}`;
    let watch = await LiveWatch.open(http);
    closing.push(watch);

    // First start, fresh database: every device connects, describes itself and sends.
    const gen = new MqttLoad({ host: "127.0.0.1", port: mqttPort, site: SITE, devices, logCapacity: 1024 });
    closing.push(gen);
    const first = await connectAll(gen, watch, n, rate);
    log(`  first start (fresh database): ${fmt(n)} devices connected in ${first.connectedS.toFixed(1)} s, all ready in ${first.readyS === null ? `more than 120 s (${fmt(watch.count("ready"))} ready)` : `${first.readyS.toFixed(1)} s`}`);

    // (a) Steady load. Each frame's value of channel n is the newest sequence number shown: every
    // message up to it counts as delivered then. The hub's own clock splits the newest one's time.
    const logs = gen.logs;
    const index = new Map(ids.map((id, i) => [id, i]));
    const delivered = ids.map((_id, i) => gen.seqOf(i));
    let latencies: number[] = [];
    let toHub: number[] = [];
    let toScreen: number[] = [];
    watch.values((d, c, v, at, wall, hubAt, ts) => {
      if (c !== "n" || v === null) return;
      const i = index.get(d);
      const log = i === undefined ? undefined : logs[i];
      if (i === undefined || log === undefined) return;
      for (let s = (delivered[i] ?? 0) + 1; s <= v; s++) latencies.push(at - log.get(s));
      if (v > (delivered[i] ?? 0)) delivered[i] = v;
      if (hubAt !== null && ts !== null) {
        toHub.push(hubAt - ts);
        toScreen.push(wall - hubAt);
      }
    });
    const before = await settled(http);
    const warm = await gen.run(rate, 2000, busyPayload, busyFill);
    [latencies, toHub, toScreen] = [[], [], []];
    const frames0 = watch.frames;
    const hub0 = procStats(hub.proc.pid ?? 0);
    const self0 = procStats(process.pid);
    const mosq0 = mosquitto !== null ? procStats(mosquitto.pid) : null;
    const measured = await gen.run(rate, opts.steadyS * 1000, busyPayload, busyFill);
    const hub1 = procStats(hub.proc.pid ?? 0);
    const self1 = procStats(process.pid);
    const mosq1 = mosquitto !== null ? procStats(mosquitto.pid) : null;
    const frames = watch.frames - frames0;
    const after = await settled(http);
    await sleep(500); // the frames after the last intake
    watch.values(null);
    const sent = warm.sent + measured.sent;
    const totals = (k: keyof Health["ingest"]["totals"]) => after.ingest.totals[k] - before.ingest.totals[k];
    // What was sent and not accepted: shed or refused by the hub, or never arrived.
    const lost = Math.max(sent - totals("accepted"), totals("shed") + totals("rejected"));
    const unshown = ids.reduce((sum, _id, i) => sum + Math.max(0, gen.seqOf(i) - (delivered[i] ?? 0)), 0);
    const sorted = Float64Array.from(latencies).sort();
    result.p99Ms = percentile(sorted, 0.99);
    result.lost = lost + unshown;
    log(`  (a) steady: ${fmt(n)} devices x ${opts.ratePerDevice} msg/s = ${fmt(rate)} msg/s for ${opts.steadyS} s (after 2 s of warm-up), 3 readings a message`);
    log(`      sent ${fmt(sent)}, accepted ${fmt(totals("accepted"))}, shed ${fmt(totals("shed"))}, rejected ${fmt(totals("rejected"))} (${refused(before, after)}), never shown ${fmt(unshown)}; latency p50 ${p(sorted, 0.5)} ms, p99 ${p(sorted, 0.99)} ms, max ${p(sorted, 1)} ms`);
    log(`      the newest message of each frame value (ms clocks): p99 ${p(Float64Array.from(toHub).sort(), 0.99)} ms from the generator to the hub's intake, p99 ${p(Float64Array.from(toScreen).sort(), 0.99)} ms from there to the dashboard; ${fmt(frames)} frames (${(frames / opts.steadyS).toFixed(0)}/s), set aside as slow ${after.live.skippedForSlowClients - before.live.skippedForSlowClients} times`);
    log(`      hub CPU ${cpuPct(hub0, hub1).toFixed(0)} % (100 % = one core; all its threads), RSS ${hub1.rssMB.toFixed(0)} MB, event loop p99 ${after.eventLoop.p99Ms} ms (last 2 s); load CPU ${cpuPct(self0, self1).toFixed(0)} %; devices: ${states(after)}`);
    if (mosq0 !== null && mosq1 !== null) log(`      Mosquitto CPU ${cpuPct(mosq0, mosq1).toFixed(0)} % (one thread), RSS ${mosq1.rssMB.toFixed(0)} MB`);
    log(`      => p99 ${p(sorted, 0.99)} ms (target < ${P99_TARGET_MS} ms) with ${fmt(result.lost)} lost: ${verdict(result.p99Ms < P99_TARGET_MS && result.lost === 0)}`);

    // (b) The devices leave (their wills fire), the hub stops cleanly and starts on the same database.
    const totalSent = ids.reduce((sum, _id, i) => sum + gen.seqOf(i), 0);
    let t0 = performance.now();
    gen.close();
    const offline = await watch.until("offline", n, 60_000);
    const offlineS = offline === null ? null : (offline - t0) / 1000;
    watch.close();
    const known = await getJson<DeviceView[]>(`${http}/api/devices`);
    t0 = performance.now();
    await stopHub(hub);
    const stopS = secondsSince(t0);
    hub = null;
    t0 = performance.now();
    hub = await startBenchHubWithin(START_TIMEOUT_MS, dir, config, opts.profileDir !== undefined ? ["--cpu-prof", "--cpu-prof-dir", opts.profileDir] : []);
    const startS = secondsSince(t0);
    http = `http://127.0.0.1:${hub.httpPort}`;
    const restored = new Map((await getJson<DeviceView[]>(`${http}/api/devices`)).map((d) => [d.id, d]));
    // The state the hub restored, or the one the broker has told it since (Mosquitto hands a restarted
    // hub the devices' retained wills, "offline", at once; the registry then knows, not remembers).
    const stateOf = (r: DeviceView) => r.lastKnownState ?? r.state;
    const kept = known.filter((d) => {
      const r = restored.get(d.id);
      return r !== undefined && stateOf(r) === d.state && r.lastSeen === d.lastSeen && JSON.stringify(r.counters) === JSON.stringify(d.counters);
    }).length;
    const messages = known.reduce((sum, d) => sum + d.counters.messages, 0);
    log(`  (b) all ${fmt(n)} devices disconnected: offline at the hub after ${offlineS === null ? "more than 60 s" : `${offlineS.toFixed(1)} s`}; clean stop ${stopS.toFixed(1)} s; restart ${startS.toFixed(1)} s`);
    log(`      restored: ${fmt(kept)} of ${fmt(n)} devices with the same counters, last-seen time and (last known) state (${fmt(messages)} messages counted, ${fmt(totalSent)} sent)`);
    if (kept < n) {
      // What differs, so a difference the broker explains (retained messages sent again to the restarted hub) is told from one the store causes.
      const differ = (f: (d: DeviceView, r: DeviceView) => boolean) => known.filter((d) => { const r = restored.get(d.id); return r === undefined || f(d, r); }).length;
      const extra = known.reduce((sum, d) => sum + ((restored.get(d.id)?.counters.messages ?? d.counters.messages) - d.counters.messages), 0);
      log(`      of those that differ: state ${fmt(differ((d, r) => stateOf(r) !== d.state))}, last-seen time ${fmt(differ((d, r) => r.lastSeen !== d.lastSeen))}, counters ${fmt(differ((d, r) => JSON.stringify(r.counters) !== JSON.stringify(d.counters)))} (${fmt(extra)} messages more than before the stop; now: ${states(await getJson<Health>(`${http}/api/hub/health`))})`);
    }
    watch = await LiveWatch.open(http);
    closing.push(watch);
    const storm = new MqttLoad({ host: "127.0.0.1", port: mosquitto?.port ?? hub.mqttPort, site: SITE, devices, logCapacity: 1024 });
    closing.push(storm);
    const hubS0 = procStats(hub.proc.pid ?? 0);
    const mosqS0 = mosquitto !== null ? procStats(mosquitto.pid) : null;
    const again = await connectAll(storm, watch, n, rate);
    const hubS1 = procStats(hub.proc.pid ?? 0);
    const mosqS1 = mosquitto !== null ? procStats(mosquitto.pid) : null;
    result.stormReadyS = again.readyS;
    log(`      connect storm: ${fmt(n)} devices reconnect at once (then send at ${opts.ratePerDevice} msg/s each): all connected in ${again.connectedS.toFixed(1)} s, all ready in ${again.readyS === null ? `more than 120 s (${fmt(watch.count("ready"))} ready)` : `${again.readyS.toFixed(1)} s`}; hub CPU ${cpuPct(hubS0, hubS1).toFixed(0)} % meanwhile${mosqS0 !== null && mosqS1 !== null ? `, Mosquitto CPU ${cpuPct(mosqS0, mosqS1).toFixed(0)} %` : ""}`);
    log(`      => all ready in ${again.readyS?.toFixed(1) ?? "> 120"} s (target < ${STORM_TARGET_S} s; includes the generator's 0.2 s between meta and the first reading): ${verdict(again.readyS !== null && again.readyS < STORM_TARGET_S)}`);
    storm.close();
    watch.close();
    await stopHub(hub);
    hub = null;
    if (opts.profileDir !== undefined) log(`      CPU profile of the restarted hub written to ${opts.profileDir}`);
  } finally {
    for (const c of closing) c.close();
    if (hub !== null) await stopHub(hub);
    if (mosquitto !== null) await mosquitto.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The hub's own account on the generated Mosquitto (`broker.hub`). */
const MOSQUITTO_HUB_ACCOUNT = { username: "hub", password: "pw-hub-bench" };

interface GeneratedMosquitto {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Mosquitto 2.0 on the files `tec-hub broker-config` writes for `config` (the generator itself,
 * broker/mosquitto-files.ts: one account, password line and ACL block per device, and the hub's
 * own), in `dir/mosquitto`, listening on `port` (Mosquitto cannot take port 0: freePort first).
 */
async function startGeneratedMosquitto(dir: string, config: HubConfigInput, port: number, log: (line: string) => void): Promise<GeneratedMosquitto> {
  const mosqDir = path.join(dir, "mosquitto");
  const t0 = performance.now();
  const generated = generateMosquittoFiles(parseConfig(config, "bench").config, { dir: mosqDir, previousPasswordFile: null });
  const genS = secondsSince(t0);
  // Mosquitto started as root drops to the mosquitto user: it must reach the folder, read the files and write its persistence folder.
  chmodSync(dir, 0o755);
  mkdirSync(path.join(mosqDir, "data"), { recursive: true });
  chmodSync(mosqDir, 0o755);
  chmodSync(path.join(mosqDir, "data"), 0o777);
  for (const [name, text] of Object.entries(generated.files) as Array<[string, string]>) writeFileSync(path.join(mosqDir, name), text, { mode: 0o644 });
  const conf = path.join(mosqDir, "mosquitto.conf");
  const t1 = performance.now();
  const proc: ChildProcess = spawn("mosquitto", ["-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  const open = () =>
    new Promise<boolean>((resolve) => {
      const c = net.connect(port, "127.0.0.1");
      c.once("connect", () => {
        c.destroy();
        resolve(true);
      });
      c.once("error", () => resolve(false));
    });
  const deadline = performance.now() + 30_000;
  while (!gone && !(await open())) {
    if (performance.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`mosquitto -c ${conf} did not listen on ${port} within 30 s:\n${out}`);
    }
    await sleep(50);
  }
  if (gone) throw new Error(`mosquitto -c ${conf} exited at start:\n${out}`);
  const accounts = generated.passwords.length;
  log(`  Mosquitto 2.0 on generated files: ${fmt(accounts)} accounts (${fmt(accounts - 1)} devices and the hub's), ${fmt(generated.files.acl_file.split("\n").filter((l) => l.startsWith("topic ")).length)} ACL lines; generating them (PBKDF2-SHA512, ${fmt(accounts)} password lines) took ${genS.toFixed(1)} s, mosquitto listening ${secondsSince(t1).toFixed(1)} s later`);
  return {
    port,
    pid: proc.pid ?? 0,
    async stop() {
      // Mosquitto says (in its log, once each time it starts) when it drops QoS 0 messages for a client whose queue is full (max_queued_messages).
      const dropped = out.split("\n").filter((l) => /being dropped/.test(l));
      if (dropped.length > 0) log(`      Mosquitto's log: ${dropped.length} time(s) "${dropped[0]?.replace(/^\d+: /, "").trim()}"`);
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      proc.kill("SIGTERM");
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Part (a) and (b) of the fleet suite through a real Mosquitto 2.0 started on the files
 * `tec-hub broker-config` generates (issue 15): every device with its own account in the
 * password file and its own ACL block, the hub in `broker.mode: external` on its own account.
 * Part (c) (10,000 idle devices) is the hub's memory and stays with the embedded broker.
 */
export async function runFleetMosquitto(opts: FleetOptions): Promise<Pick<FleetResult, "p99Ms" | "lost" | "stormReadyS">> {
  const { log } = opts;
  log(`fleet through Mosquitto: MQTT devices each on its own socket and account in a generated Mosquitto, the hub in its own process in external mode on its own account (OPC UA server on)`);
  log(`  ${os.cpus().length} cores shared by the hub (main thread and its worker threads), Mosquitto (one thread) and this bench process (${fmt(opts.devices)} MQTT sessions, the generator, one live dashboard)`);
  const result: FleetResult = { p99Ms: Number.NaN, lost: Number.NaN, stormReadyS: null, idleRssMB: { opcua: null, noOpcua: null } };
  await runBusy(opts, result, "mosquitto");
  return result;
}

/** Starts a generator process for `task`; resolves `described` once its devices said hello. */
function startGenerator(task: ClientTask): { described: Promise<void>; done: Promise<number>; first(): void; stop(): void; kill(): void } {
  const child = fork(path.join(import.meta.dirname, "fleet-client.ts"), [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const reports: ClientReport[] = [];
  const waiting: Array<() => void> = [];
  child.on("message", (m: ClientReport) => {
    reports.push(m);
    for (const w of waiting.splice(0)) w();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  // The first report of `type`, or of a failure; an exit without one is a failure too.
  const report = (type: ClientReport["type"]): Promise<ClientReport> =>
    new Promise((resolve) => {
      const check = () => {
        const r = reports.find((x) => x.type === type || x.type === "failed");
        if (r === undefined) waiting.push(check);
        else resolve(r);
      };
      check();
      void exited.then((code) => resolve({ type: "failed", message: `generator exited with ${code}` }));
    });
  child.send(task);
  return {
    described: report("described").then((r) => (r.type === "failed" ? Promise.reject(new Error(r.message)) : undefined)),
    done: report("done").then((r) => (r.type === "done" ? r.sent : 0)),
    first: () => child.connected && child.send("first"),
    stop: () => child.connected && child.send("stop"),
    kill: () => child.exitCode === null && child.kill("SIGTERM"),
  };
}

/** (c) Many idle devices from several generator processes; returns the hub's highest RSS once all are ready. */
async function runIdle(opts: FleetOptions, opcua: boolean): Promise<number | null> {
  const { log } = opts;
  const n = opts.idleDevices;
  const dir = mkdtempSync(path.join(os.tmpdir(), "tec-bench-idle-"));
  let hub: HubProcess | null = null;
  let watch: LiveWatch | null = null;
  const generators: Array<ReturnType<typeof startGenerator>> = [];
  try {
    const ids = Array.from({ length: n }, (_, i) => `idle-${String(i).padStart(5, "0")}`);
    let t0 = performance.now();
    hub = await startBenchHubWithin(START_TIMEOUT_MS, dir, fleetConfig(dir, ids, opcua ? await benchOpcua(dir) : { enabled: false, pkiFolder: path.join(dir, "pki") }));
    const startS = secondsSince(t0);
    const pid = hub.proc.pid ?? 0;
    const http = `http://127.0.0.1:${hub.httpPort}`;
    const base = procStats(pid);
    const hubFds = fdLimit(pid);
    // Each generator process holds one socket per device, and needs some descriptors of its own.
    const perProcess = Math.max(500, Math.min(5000, fdLimit(process.pid) - 256));
    const slices = Array.from({ length: Math.ceil(n / perProcess) }, (_, k) => ids.slice(k * perProcess, (k + 1) * perProcess));
    log(`  (c) idle${opcua ? "" : ", OPC UA server off"}: ${fmt(n)} devices at one message a minute from ${slices.length} generator processes of up to ${fmt(perProcess)} devices, ${IDLE_CONNECT_BATCH} connecting at a time in each; hub started in ${startS.toFixed(1)} s with RSS ${base.rssMB.toFixed(0)} MB before any device connected, may open ${fmt(hubFds)} files`);
    if (hubFds < n + 512) log(`      WARNING: the hub may open ${fmt(hubFds)} files, fewer than ${fmt(n)} sockets need: raise \`ulimit -n\``);
    watch = await LiveWatch.open(http);
    t0 = performance.now();
    for (const slice of slices) {
      generators.push(startGenerator({ host: "127.0.0.1", port: hub.mqttPort, site: SITE, ids: slice, meta: IDLE_META, ratePerS: slice.length / 60, connectBatch: IDLE_CONNECT_BATCH }));
    }
    await within(300_000, "connecting every device", Promise.all(generators.map((g) => g.described)));
    const connectedS = secondsSince(t0);
    // One reading from every device, again while some are not ready (a reading that overtook its
    // device's meta is refused as no-meta); an idle device would otherwise wait a minute.
    let readyAt: number | null = null;
    let rounds = 0;
    while (readyAt === null && rounds < 10) {
      rounds += 1;
      for (const g of generators) g.first();
      readyAt = await watch.until("ready", n, 15_000);
    }
    const readyS = readyAt === null ? null : (readyAt - t0) / 1000;
    const atReady = procStats(pid);
    log(`      all connected and described in ${connectedS.toFixed(1)} s, all ready at the hub (after ${rounds} round${rounds > 1 ? "s" : ""} of one reading each) in ${readyS === null ? `more than ${rounds * 15} s (${fmt(watch.count("ready"))} ready)` : `${readyS.toFixed(1)} s`}; hub RSS then ${atReady.rssMB.toFixed(0)} MB`);
    let maxRss = atReady.rssMB;
    const holdEnd = performance.now() + opts.idleHoldS * 1000;
    while (performance.now() < holdEnd) {
      await sleep(1000);
      maxRss = Math.max(maxRss, procStats(pid).rssMB);
    }
    const held = procStats(pid);
    const health = await getJson<Health>(`${http}/api/hub/health`);
    if (health.ingest.totals.rejected + health.ingest.totals.shed > 0) log(`      refused by the hub since it started: ${refused({ ...health, ingest: { ...health.ingest, rejectsByCode: {} } }, health)}; shed ${fmt(health.ingest.totals.shed)}`);
    for (const g of generators) g.stop();
    const sent = (await Promise.all(generators.map((g) => g.done))).reduce((a, b) => a + b, 0);
    log(`      over ${opts.idleHoldS} s more at one message a minute: hub RSS up to ${maxRss.toFixed(0)} MB, hub CPU ${cpuPct(atReady, held).toFixed(1)} %, event loop p99 ${health.eventLoop.p99Ms} ms; devices at the end: ${states(health)}; ${fmt(sent)} messages sent`);
    log(`      => hub RSS ${maxRss.toFixed(0)} MB with ${fmt(n)} devices connected and ready${opcua ? "" : ", OPC UA server off"} (target < ${RSS_TARGET_MB} MB): ${verdict(readyAt !== null && maxRss < RSS_TARGET_MB)}`);
    return readyAt === null ? null : maxRss;
  } finally {
    for (const g of generators) g.kill();
    watch?.close();
    if (hub !== null) await stopHub(hub);
    rmSync(dir, { recursive: true, force: true });
  }
}
