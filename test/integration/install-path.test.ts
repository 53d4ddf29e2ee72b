/**
 * The README's install path as a test: a fresh `git clone` of this repository, built the way
 * deploy/install.sh builds it (`npm run build`), its unit verified by systemd-analyze, and the
 * compiled hub run the way the service runs it: `node bin/tec-hub.js start <config>` in a state
 * folder of its own (the unit's WorkingDirectory, where the config's relative data/ path lands),
 * with JSON logs. While it runs, `tec-hub backup`; then a SIGTERM (a clean stop, exit 0),
 * `tec-hub restore`, and a second start that must come up on the restored store.
 *
 * The clone is of HEAD: changes that are not committed are not in it. TEC_INSTALL_TREE=<dir>
 * uses a prepared tree instead (a copy of the working tree, say), to iterate before a commit.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";

const ROOT = path.resolve(import.meta.dirname, "../..");
const run = promisify(execFile);
const tmp = mkdtempSync(path.join(os.tmpdir(), "tec-install-path-"));
const tree = process.env.TEC_INSTALL_TREE !== undefined && process.env.TEC_INSTALL_TREE !== "" ? path.resolve(process.env.TEC_INSTALL_TREE) : path.join(tmp, "clone");
const state = path.join(tmp, "var-lib-tec-hub");
const configFile = path.join(tmp, "etc-tec-hub", "config.yaml");
const backupFile = path.join(tmp, "backup", "tec-hub-backup.db");
const cli = path.join(tree, "bin/tec-hub.js");

interface Hub {
  proc: ChildProcess;
  httpPort: number;
  output: () => string;
  exited: Promise<number | null>;
}
const started: Hub[] = [];

afterAll(async () => {
  for (const h of started) {
    if (h.proc.exitCode === null && h.proc.signalCode === null) {
      // A hub left running by a failed test: SIGTERM first, so it also ends the demo's socat
      // processes (a SIGKILL would leave them behind), then SIGKILL if it does not stop.
      h.proc.kill("SIGTERM");
      const timer = setTimeout(() => h.proc.kill("SIGKILL"), 15_000);
      await h.exited;
      clearTimeout(timer);
    }
  }
  rmSync(tmp, { recursive: true, force: true });
}, 60_000);

/** The compiled hub as the unit starts it: node bin/tec-hub.js start <config>, in the state folder. */
async function startHub(): Promise<Hub> {
  const proc = spawn(process.execPath, [cli, "start", configFile], {
    cwd: state,
    // What the unit sets, plus free ports (the config's 8080 and 1883 may be taken).
    env: { ...process.env, NODE_ENV: "production", TEC_LOG_FORMAT: "json", TEC_LOG_LEVEL: "info", TEC_HTTP_PORT: "0", TEC_MQTT_PORT: "0", TEC_MQTTS_PORT: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const hub: Hub = { proc, httpPort: 0, output: () => out, exited };
  started.push(hub);
  // The port it got: from the banner, or from a JSON log line that names it.
  hub.httpPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the hub named no HTTP port within 120 s:\n${out}`)), 120_000);
    const check = () => {
      const m = /Dashboard\s+https?:\/\/[^\s:]+:(\d+)/.exec(out) ?? /"httpPort":\s*(\d+)/.exec(out);
      if (m?.[1] !== undefined && Number(m[1]) > 0) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stdout?.on("data", check);
    proc.stderr?.on("data", check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the hub exited with ${code} before it listened:\n${out}`));
    });
  });
  return hub;
}

/** The first REST answer: /api/hub/health with ok: true. */
async function healthy(hub: Hub): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${hub.httpPort}/api/hub/health`);
      const body = (await res.json()) as { ok: boolean };
      if (res.status === 200 && body.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`no healthy answer from /api/hub/health within 60 s:\n${hub.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The hub's own audit records (hub.*), newest first, as the demo's technician sees them. */
async function hubAudit(hub: Hub): Promise<string[]> {
  const base = `http://127.0.0.1:${hub.httpPort}`;
  const login = (await (await fetch(`${base}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "technicus", secret: "technician" }) })).json()) as { ok: boolean; result?: { token: string }; message?: string };
  if (!login.ok || login.result === undefined) throw new Error(`login: ${login.message}`);
  const res = await fetch(`${base}/api/audit?action=hub.*&limit=50`, { headers: { authorization: `Bearer ${login.result.token}` } });
  const body = (await res.json()) as { ok: boolean; result: { records: Array<{ action: string }> }; message?: string };
  if (!body.ok) throw new Error(`audit: ${body.message}`);
  return body.result.records.map((r) => r.action);
}

/**
 * A planned stop, as systemctl stop does it: SIGTERM, then the exit code. Only once the start is
 * complete (the JSON record "TEC Hub ready", or on a terminal the banner's "Press Ctrl-C to stop."):
 * the CLI installs its SIGTERM handler after the simulators are up, and a SIGTERM before that ends
 * node at once (no planned stop).
 */
async function stop(hub: Hub): Promise<number | null> {
  const deadline = Date.now() + 120_000;
  while (!/"msg":"TEC Hub ready"|Press Ctrl-C to stop/.test(hub.output())) {
    if (Date.now() > deadline) throw new Error(`the hub did not finish starting within 120 s:\n${hub.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  hub.proc.kill("SIGTERM");
  return hub.exited;
}

/** `tec-hub <args>` as the installed command runs it: in the state folder. */
async function tecHub(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(process.execPath, [cli, ...args], { cwd: state, encoding: "utf8", timeout: 120_000 });
    return { code: 0, out: `${r.stdout}${r.stderr}` };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === "number" ? e.code : -1, out: `${e.stdout ?? ""}${e.stderr ?? ""}${e.message}` };
  }
}

describe("the install path from a fresh clone", () => {
  beforeAll(() => {
    if (tree === path.join(tmp, "clone")) {
      const clone = spawnSync("git", ["clone", "--quiet", ROOT, tree], { encoding: "utf8" });
      if (clone.status !== 0) throw new Error(`git clone failed: ${clone.stderr}`);
    }
    // `npm ci` downloads and builds for minutes: the checkout's node_modules, made by `npm ci`
    // from the same package-lock.json, stands in for it (a symlink, never written to).
    if (!existsSync(path.join(tree, "node_modules"))) symlinkSync(path.join(ROOT, "node_modules"), path.join(tree, "node_modules"), "dir");
    mkdirSync(state, { recursive: true });
    mkdirSync(path.dirname(configFile), { recursive: true });
    mkdirSync(path.dirname(backupFile), { recursive: true });
  }, 120_000);

  it("npm run build compiles the hub and the dashboard", () => {
    // Without vitest's NODE_ENV=test: the build runs as it does on the Pi.
    const { NODE_ENV: _testEnv, ...env } = process.env;
    const build = spawnSync("npm", ["run", "build"], { cwd: tree, encoding: "utf8", timeout: 900_000, env });
    expect(build.status, `${build.stdout}\n${build.stderr}`).toBe(0);
    expect(existsSync(path.join(tree, "dist/hub/src/cli.js"))).toBe(true);
    expect(existsSync(path.join(tree, "dashboard/dist/index.html"))).toBe(true);
  }, 900_000);

  it("ships a unit that systemd-analyze verify accepts, pointed at this node and this clone", () => {
    const unit = readFileSync(path.join(tree, "deploy/tec-hub.service"), "utf8");
    const here = unit.replace(/^ExecStart=\/usr\/bin\/node \/opt\/tec-hub\/bin\/tec-hub\.js /m, `ExecStart=${process.execPath} ${cli} `);
    expect(here).not.toBe(unit);
    const folder = mkdtempSync(path.join(tmp, "unit-"));
    writeFileSync(path.join(folder, "tec-hub.service"), here);
    const r = spawnSync("systemd-analyze", ["verify", path.join(folder, "tec-hub.service")], { encoding: "utf8" });
    expect(r.error, "systemd-analyze (apt-get install systemd)").toBeUndefined();
    expect(`${r.stdout}${r.stderr}`).toBe("");
    expect(r.status).toBe(0);
  });

  it("runs as the service does, backs up while running, stops cleanly, restores, and starts on the restored store", async () => {
    // The demo config as /etc/tec-hub/config.yaml would hold it, on loopback and without the OPC
    // UA server (its certificate takes long to make); storage.path stays relative (data/tec-hub.db).
    const demo = parse(readFileSync(path.join(tree, "config/demo.yaml"), "utf8")) as Record<string, Record<string, unknown>>;
    expect(demo.storage?.path).toBe("data/tec-hub.db");
    writeFileSync(configFile, stringify({ ...demo, http: { ...demo.http, host: "127.0.0.1" }, broker: { ...demo.broker, host: "127.0.0.1" }, opcua: { ...demo.opcua, enabled: false } }));
    const check = await tecHub(["check-config", configFile]);
    expect(check.code, check.out).toBe(0);

    const first = await startHub();
    await healthy(first);
    // The database lands in the working directory, as the unit's WorkingDirectory=StateDirectory wants.
    expect(existsSync(path.join(state, "data/tec-hub.db"))).toBe(true);
    expect(await hubAudit(first)).toContain("hub.started");

    const backup = await tecHub(["backup", backupFile, "--config", configFile]);
    expect(backup.code, backup.out).toBe(0);
    expect(existsSync(backupFile)).toBe(true);

    expect(await stop(first), first.output()).toBe(0);
    expect(first.output()).toMatch(/stopped cleanly/);

    const restore = await tecHub(["restore", backupFile, "--config", configFile]);
    expect(restore.code, restore.out).toBe(0);

    const second = await startHub();
    await healthy(second);
    const actions = await hubAudit(second);
    // This start and the first one (in the backup); the first run's planned stop came after the
    // backup, so a hub on the restored store has no record of it, and one on the old store would.
    expect(actions.filter((a) => a === "hub.started").length, actions.join(", ")).toBeGreaterThanOrEqual(2);
    expect(actions).not.toContain("hub.stopped");
    expect(await stop(second), second.output()).toBe(0);
    expect(second.output()).toMatch(/stopped cleanly/);
  }, 600_000);
});
