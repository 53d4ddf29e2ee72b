/**
 * A planned stop and a crash, as `npm start` runs the demo (the CLI in its own process with the
 * Tiny House, the e-stop button, the printers, the OPC UA robot cell and the Firmata arm): a
 * SIGTERM puts everything safe, records itself and latches nothing of its own making, so the next
 * start has no trip to reset; a kill -9 keeps every latched trip. Nothing starts by itself after
 * either.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadConfig } from "../../hub/src/config/load.ts";
import type { InterlockView } from "../../hub/src/core/interlock/service.ts";
import type { StationView } from "../../hub/src/core/stations/stations.ts";
import { spawnHub, type HubProcess } from "../support/spawn-hub.ts";
import { until } from "./harness.ts";

type Reply<T> = { ok: true; result: T } | { ok: false; code: string; message: string };
interface AuditRow {
  action: string;
  reason: string | null;
  details: Record<string, unknown> | null;
}

const ROOT = path.resolve(import.meta.dirname, "../..");

describe("planned stop and crash of the demo", () => {
  let dir: string | undefined;
  let hub: HubProcess | undefined;
  afterEach(async () => {
    if (hub !== undefined && hub.proc.exitCode === null) await hub.kill("SIGKILL");
    hub = undefined;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** The demo config on free ports, its database and certificates in `dir`. */
  function demoConfig(d: string): string {
    const { config } = loadConfig(path.join(ROOT, "config/demo.yaml"), { TEC_HTTP_PORT: "0", TEC_MQTT_PORT: "0", TEC_MQTTS_PORT: "0", TEC_DB_PATH: path.join(d, "demo.db") });
    const file = path.join(d, "demo.yaml");
    writeFileSync(file, stringify({ ...config, http: { ...config.http, host: "127.0.0.1" }, broker: { ...config.broker, host: "127.0.0.1" }, opcua: { ...config.opcua, enabled: false, pkiFolder: path.join(d, "opcua") } }));
    return file;
  }

  const get = async <T>(h: HubProcess, p: string, token?: string): Promise<T> => {
    const res = await fetch(`http://127.0.0.1:${h.httpPort}${p}`, { headers: token !== undefined ? { authorization: `Bearer ${token}` } : {} });
    const body = (await res.json()) as Reply<T>;
    if (!body.ok) throw new Error(`${p}: ${body.message}`);
    return body.result;
  };
  const post = async (h: HubProcess, p: string, body: unknown, token?: string): Promise<Reply<unknown>> => {
    const res = await fetch(`http://127.0.0.1:${h.httpPort}${p}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return (await res.json()) as Reply<unknown>;
  };
  const login = async (h: HubProcess): Promise<string> => {
    const r = await post(h, "/api/login", { name: "technicus", secret: "technician" });
    if (!r.ok) throw new Error(`login: ${r.message}`);
    return (r.result as { token: string }).token;
  };
  const latched = async (h: HubProcess) => (await get<InterlockView[]>(h, "/api/interlocks")).filter((v) => v.latched).map((v) => v.id);
  /** Every station connected and every interlock out of "waiting": the demo is up. */
  const settled = async (h: HubProcess) => {
    await until(async () => (await get<StationView[]>(h, "/api/stations")).every((s) => s.state !== "offline" && s.state !== "connecting"), 60_000, "stations connected");
    await until(async () => (await get<InterlockView[]>(h, "/api/interlocks")).every((v) => v.status !== "waiting"), 60_000, "interlocks past waiting");
  };
  const hubAudit = async (h: HubProcess, token: string) => (await get<{ records: AuditRow[] }>(h, "/api/audit?action=hub.*&limit=10", token)).records;

  it("SIGTERM: everything stopped and recorded; the next start has no latched trip and nothing running", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-planned-"));
    const config = demoConfig(dir);
    hub = await spawnHub(config, {}, [], 60_000);
    await settled(hub);
    expect(await latched(hub)).toEqual([]);

    await hub.kill("SIGTERM");
    expect(hub.proc.exitCode).toBe(0);
    expect(hub.output()).toMatch(/stopped cleanly/);

    hub = await spawnHub(config, {}, [], 60_000);
    await settled(hub);
    // Before issue 11 every clean stop latched robot-arm-door, robot-arm-estop and robot-cell-estop.
    expect(await latched(hub)).toEqual([]);
    const stations = await get<StationView[]>(hub, "/api/stations");
    expect(stations.filter((s) => s.state === "running" || s.state === "faulted").map((s) => s.id)).toEqual([]);
    const token = await login(hub);
    const records = await hubAudit(hub, token);
    // Newest first: this start, the stop before it, and what that stop did first.
    expect(records.slice(0, 3).map((r) => r.action)).toEqual(["hub.started", "hub.stopped", "hub.stopping"]);
    expect(records[0]?.details).toMatchObject({ previous: "planned stop", latchedTrips: [] });
    expect(records[1]?.reason).toMatch(/SIGTERM/);
  }, 240_000);

  it("Ctrl-C in a terminal (SIGINT to the foreground process group): a clean stop, no trip latched by the simulators' cables pulled first", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-ctrlc-"));
    const config = demoConfig(dir);
    hub = await spawnHub(config, {}, [], 60_000, { ownGroup: true });
    await settled(hub);
    expect(await latched(hub)).toEqual([]);
    const pid = hub.proc.pid ?? 0;
    // What the terminal does: SIGINT to the foreground process group, the hub and what it started in it.
    const exited = new Promise<void>((resolve) => hub?.proc.once("exit", () => resolve()));
    process.kill(-pid, "SIGINT");
    await exited;
    expect(hub.proc.exitCode).toBe(0);
    expect(hub.output()).toMatch(/stopped cleanly/);
    expect(hub.output()).not.toMatch(/interlock tripped/);
  }, 240_000);

  it("a stop asked for while the hub is still starting waits for the start, then is the same clean stop", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-early-"));
    const config = demoConfig(dir);
    const proc = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "hub/src/cli.ts"), "start", config], {
      cwd: ROOT,
      env: { ...process.env, TEC_LOG_LEVEL: "info", TEC_LOG_FORMAT: "pretty" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const exited = new Promise<number | null>((resolve) => proc.once("exit", resolve));
    // The first log line comes from inside the start (the broker making its certificates, or a board connecting).
    await new Promise<void>((resolve) => {
      const seen = (d: Buffer) => {
        out += d.toString();
        if (/\d\d:\d\d:\d\d (INFO|WARN)/.test(out)) resolve();
      };
      proc.stdout.on("data", seen);
      proc.stderr.on("data", (d: Buffer) => (out += d.toString()));
    });
    expect(out).not.toMatch(/Press Ctrl-C/);
    proc.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(out).toMatch(/SIGTERM: stopping as soon as the start has finished/);
    expect(out).toMatch(/stopped cleanly/);
  }, 240_000);

  it("kill -9: a latched trip is still latched after the restart, the start says it followed a crash, and nothing restarts", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-crash-"));
    const config = demoConfig(dir);
    hub = await spawnHub(config, {}, [], 60_000);
    await settled(hub);
    const token = await login(hub);
    expect(await post(hub, "/api/commands/estop.trigger", {}, token)).toMatchObject({ ok: true });
    await until(async () => (await latched(hub!)).includes("estop"), 10_000, "e-stop latched");

    await hub.kill("SIGKILL");
    hub = await spawnHub(config, {}, [], 60_000);
    await until(async () => (await get<StationView[]>(hub!, "/api/stations")).every((s) => s.state !== "offline" && s.state !== "connecting"), 60_000, "stations connected");
    expect(await latched(hub)).toContain("estop");
    const stations = await get<StationView[]>(hub, "/api/stations");
    expect(stations.filter((s) => s.state === "running").map((s) => s.id)).toEqual([]);
    expect(stations.every((s) => !s.startable.ok)).toBe(true);
    const records = await hubAudit(hub, await login(hub));
    expect(records[0]).toMatchObject({ action: "hub.started", details: { previous: "crash or power loss (no planned stop recorded)" } });
    expect((records[0]?.details as { latchedTrips: string[] }).latchedTrips).toContain("estop");
  }, 240_000);
});
