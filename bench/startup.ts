/**
 * `npm run bench -- --only startup`: the compiled hub (`npm run build` first) started as the
 * service starts it (`node bin/tec-hub.js start <config>`), timed from the spawn to its first REST
 * answer (`GET /api/hub/health` 200), and its resident memory (the hub's process, VmRSS) 5 s later.
 *
 * Two configs: the full demo (the hub plus every simulator in the same process: the Tiny House,
 * two Marlin printers, the OPC UA robot cell, the Firmata arm, the serial board) and the hub alone
 * on the demo's devices (no simulators: the MQTT devices stay offline, no printer, robot or serial
 * machinery loaded), each started `runs` times on fresh data folders and free ports.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";

const ROOT = path.resolve(import.meta.dirname, "..");

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => resolve(typeof a === "object" && a !== null ? a.port : 0));
    });
  });
}

function rssMB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m?.[1] !== undefined ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

interface StartFigure {
  firstAnswerMs: number;
  rssMB: number | null;
}

async function startOnce(configFile: string, settleMs: number): Promise<StartFigure> {
  const dir = mkdtempSync(path.join(tmpdir(), "tec-bench-start-"));
  const [http, mqtt, mqtts, opcua] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const t0 = performance.now();
  const proc = spawn(process.execPath, [path.join(ROOT, "bin/tec-hub.js"), "start", configFile], {
    cwd: ROOT,
    env: { ...process.env, TEC_LOG_FORMAT: "json", TEC_LOG_LEVEL: "warn", TEC_HTTP_PORT: String(http), TEC_MQTT_PORT: String(mqtt), TEC_MQTTS_PORT: String(mqtts), TEC_OPCUA_PORT: String(opcua), TEC_DB_PATH: path.join(dir, "hub.db") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", resolve));
  try {
    let firstAnswerMs = -1;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`the hub exited with ${proc.exitCode}:\n${out}`);
      if (performance.now() - t0 > 120_000) throw new Error(`no REST answer within 120 s:\n${out}`);
      const ok = await fetch(`http://127.0.0.1:${http}/api/hub/health`).then((r) => r.ok, () => false);
      if (ok) {
        firstAnswerMs = performance.now() - t0;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, settleMs));
    return { firstAnswerMs, rssMB: proc.pid !== undefined ? rssMB(proc.pid) : null };
  } finally {
    proc.kill("SIGTERM");
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

export async function runStartup(opts: { runs: number; settleMs?: number; log: (line: string) => void }): Promise<{ demo: StartFigure; hubOnly: StartFigure }> {
  const { log } = opts;
  if (!existsSync(path.join(ROOT, "dist/hub/src/cli.js"))) throw new Error("the compiled hub is missing: run `npm run build` first");
  const demoFile = path.join(ROOT, "config/demo.yaml");
  const raw = parse(readFileSync(demoFile, "utf8")) as Record<string, unknown> & { devices: Array<{ kind: string }> };
  const hubOnly = { ...raw, simulators: { tinyHouse: { enabled: false } }, devices: raw.devices.filter((d) => d.kind === "mqtt") };
  const dir = mkdtempSync(path.join(tmpdir(), "tec-bench-cfg-"));
  const hubOnlyFile = path.join(dir, "hub-only.yaml");
  writeFileSync(hubOnlyFile, stringify(hubOnly));
  const result: Record<string, StartFigure> = {};
  try {
    for (const [name, file] of [["full demo", demoFile], ["hub alone (demo's MQTT devices, no simulators)", hubOnlyFile]] as const) {
      const runs: StartFigure[] = [];
      for (let i = 0; i < opts.runs; i++) {
        const f = await startOnce(file, opts.settleMs ?? 5000);
        runs.push(f);
        log(`  ${name}, run ${i + 1}: first REST answer ${f.firstAnswerMs.toFixed(0)} ms, RSS ${f.rssMB?.toFixed(0) ?? "?"} MB`);
      }
      const fig = { firstAnswerMs: median(runs.map((r) => r.firstAnswerMs)), rssMB: median(runs.map((r) => r.rssMB ?? NaN)) };
      log(`  ${name}: median first REST answer ${fig.firstAnswerMs.toFixed(0)} ms, RSS ${fig.rssMB.toFixed(0)} MB`);
      result[name] = fig;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { demo: result["full demo"] as StartFigure, hubOnly: result["hub alone (demo's MQTT devices, no simulators)"] as StartFigure };
}
