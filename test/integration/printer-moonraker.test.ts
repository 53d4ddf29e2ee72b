/**
 * A Klipper printer behind Moonraker, over real sockets: the protocol simulator
 * (simulators/printer-net/moonraker.ts: JSON-RPC on a WebSocket, HTTP upload on the same port) and
 * the hub's driver (hub/src/adapters/printer/network/moonraker.ts). Connect, a refused key, a
 * catalogue job (upload, printing, progress), pause/resume, cancel, the emergency stop (klippy
 * shutdown) and the firmware restart, a heater fault, the door switch, a dropped connection
 * (through the real printer station: the job fails and the station trips), a silent host, and
 * reconnecting after each.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { PrinterJob } from "../../hub/src/adapters/printer/backend.ts";
import type { NetworkDriverOptions, NetworkPrinterDriver } from "../../hub/src/adapters/printer/network/driver.ts";
import { createNetworkDriver } from "../../hub/src/adapters/printer/network/index.ts";
import { createMoonrakerDriver } from "../../hub/src/adapters/printer/network/moonraker.ts";
import type { PrinterDeviceConfig } from "../../hub/src/adapters/printer/rules.ts";
import { PrinterStation } from "../../hub/src/adapters/printer/station.ts";
import { systemClock } from "../../hub/src/core/clock.ts";
import { HubError } from "../../hub/src/core/errors.ts";
import { silentLogger } from "../../hub/src/core/logger.ts";
import type { TelemetryPipeline } from "../../hub/src/core/telemetry/pipeline.ts";
import type { NetPrinterSimHandle, NetPrinterSimOptions } from "../../simulators/printer-net/machine.ts";
import { startMoonrakerSim } from "../../simulators/printer-net/moonraker.ts";
import type { StationView } from "../../hub/src/core/stations/stations.ts";
import { bootHarness, type Harness, until as eventually } from "./harness.ts";
import { interlock, staff } from "./safety-world.ts";

const REPO = path.resolve(import.meta.dirname, "../..");
const QUICK: Partial<NetworkDriverOptions> = { staleAfterMs: 1500, reconnectMinMs: 200, reconnectMaxMs: 1000, startTimeoutMs: 30_000 };

/** A small model at low temperatures: `layers` layers of a square, with Cura's layer marks. */
function model(layers: number): string {
  const lines = [";FLAVOR:Marlin", `;LAYER_COUNT:${layers}`, "M140 S45", "M104 S80", "M190 S45", "M109 S80", "G28", "G92 E0"];
  for (let l = 0; l < layers; l++) {
    lines.push(`;LAYER:${l}`, `G1 Z${((l + 1) * 0.2).toFixed(1)} F600`);
    for (const [x, y] of [
      [100, 100],
      [120, 100],
      [120, 120],
      [100, 120],
    ] as const) {
      lines.push(`G1 X${x} Y${y} E${(l * 0.5).toFixed(2)} F3000`);
    }
  }
  lines.push("M104 S0", "M140 S0", "M84");
  return `${lines.join("\n")}\n`;
}

/** Polls a condition (the sockets deliver in their own time); never a fixed sleep. */
async function until<T>(fn: () => T | undefined | null | false, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Recorded {
  states: Array<{ state: string; reason: string }>;
  halts: Array<{ kind: string; message: string }>;
  doors: boolean[];
  messages: string[];
  temperatures: number;
}

function record(driver: NetworkPrinterDriver): Recorded {
  const r: Recorded = { states: [], halts: [], doors: [], messages: [], temperatures: 0 };
  driver.on("state", (state, reason) => r.states.push({ state, reason }));
  driver.on("halt", (kind, message) => r.halts.push({ kind, message }));
  driver.on("door", (open) => r.doors.push(open));
  driver.on("message", (text) => r.messages.push(text));
  driver.on("temperature", () => r.temperatures++);
  return r;
}

describe("Moonraker printer (Klipper: JSON-RPC over a WebSocket)", () => {
  let sim: NetPrinterSimHandle | undefined;
  let driver: NetworkPrinterDriver | undefined;
  let station: PrinterStation | undefined;
  let dir: string | undefined;

  afterEach(async () => {
    await station?.stop();
    await driver?.stop();
    await sim?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    station = driver = sim = dir = undefined;
  });

  function printerConfig(s: NetPrinterSimHandle, auth: PrinterDeviceConfig["auth"]): PrinterDeviceConfig {
    return {
      kind: "printer",
      id: "klipper-1",
      name: "Klipper 1",
      url: s.url,
      protocol: "moonraker",
      auth,
      lostAfterS: 15,
      simulated: true,
      catalogue: dir ?? "printers/catalogue",
      idleHeaterTimeoutS: 600,
      resetRoles: ["technician"],
    };
  }

  async function boot(simOpts: NetPrinterSimOptions = {}, auth?: PrinterDeviceConfig["auth"]): Promise<{ s: NetPrinterSimHandle; d: NetworkPrinterDriver; ev: Recorded; catalogue: string }> {
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-moonraker-"));
    writeFileSync(path.join(dir, "tiny.gcode"), model(4));
    writeFileSync(path.join(dir, "long.gcode"), model(400));
    copyFileSync(path.join(REPO, "printers/catalogue/calibration-cube.gcode"), path.join(dir, "calibration-cube.gcode"));
    sim = await startMoonrakerSim({ machineOptions: { speedFactor: 50, heatFactor: 20 }, ...simOpts });
    // Through the factory the hub uses (hub/src/adapters/printer/network/index.ts).
    driver = await createNetworkDriver(printerConfig(sim, auth ?? sim.auth), { clock: systemClock, logger: silentLogger }, QUICK);
    const ev = record(driver);
    return { s: sim, d: driver, ev, catalogue: dir };
  }

  async function connected(d: NetworkPrinterDriver): Promise<void> {
    d.start();
    await until(() => d.state === "operational" && d.status()?.hotend != null, "the driver operational with temperatures");
  }

  function job(d: NetworkPrinterDriver, catalogue: string, name: string): { job: PrinterJob; ended: Promise<unknown> } {
    const j = d.createJob(name, path.join(catalogue, `${name}.gcode`), systemClock);
    return { job: j, ended: j.run() };
  }

  it("connects: operational, Klipper identified, temperatures and the door switch reported", { timeout: 60_000 }, async () => {
    const { d, ev } = await boot();
    await connected(d);
    expect(d.protocol).toBe("moonraker");
    expect(d.firmware.FIRMWARE_NAME).toMatch(/^Klipper v/);
    expect(d.firmware.MOONRAKER_VERSION).toBeDefined();
    expect(d.capability("THERMAL_PROTECTION")).toBe(true);
    expect(d.catalogueExtensions).toEqual([".gcode"]);
    expect(d.estopEffect).toMatch(/emergency_stop/);
    const st = d.status();
    expect(st?.hotend?.actual).toBeGreaterThan(10);
    expect(st?.bed?.actual).toBeGreaterThan(10);
    expect(st?.job).toBe("idle");
    expect(st?.doorOpen).toBe(false);
    expect(ev.temperatures).toBeGreaterThan(0);
    expect(ev.doors).toEqual([false]);
    expect(d.stats.connects).toBe(1);
  });

  it("refuses a wrong api key with a clear error that does not carry the key; also no key, and a printer that stops accepting", { timeout: 60_000 }, async () => {
    const secret = "0badc0ffee0badc0ffee0badc0ffee00";
    const { s, d, ev } = await boot({}, { apiKey: secret });
    d.start();
    await until(() => d.lastError, "a connect failure");
    expect(d.lastError).toMatch(/Moonraker refused the api key/);
    expect(d.lastError).toMatch(/Unauthorized/);
    expect(d.state).not.toBe("operational");
    for (const text of [d.lastError ?? "", ...ev.messages, ...ev.states.map((x) => x.reason)]) expect(text).not.toContain(secret);
    await d.stop();

    // No key at all: the hint names trusted_clients.
    const noKey = createMoonrakerDriver(printerConfig(s, undefined), { clock: systemClock, logger: silentLogger }, QUICK);
    driver = noKey;
    noKey.start();
    await until(() => noKey.lastError, "a connect failure without a key");
    expect(noKey.lastError).toMatch(/refused the hub without an api key.*trusted_clients/);
    await noKey.stop();

    // The right key, but the printer refuses credentials: refused; accepted again once it stops refusing.
    const good = createMoonrakerDriver(printerConfig(s, s.auth), { clock: systemClock, logger: silentLogger }, QUICK);
    driver = good;
    s.refuseCredentials(true);
    good.start();
    await until(() => good.lastError, "refused credentials");
    expect(good.lastError).toMatch(/DEVICE_AUTH|refused the api key/);
    expect(good.lastError).not.toContain(s.auth.apiKey ?? "?");
    s.refuseCredentials(false);
    await until(() => good.state === "operational", "operational once the key is accepted");
  });

  it("rejects a config that is not Moonraker's", () => {
    const base = { kind: "printer", id: "k", name: "K", protocol: "moonraker", simulated: false, catalogue: "x", idleHeaterTimeoutS: 600, resetRoles: ["technician"] } as const;
    const make = (extra: object) => () => createMoonrakerDriver({ ...base, ...extra } as unknown as PrinterDeviceConfig, { clock: systemClock, logger: silentLogger });
    expect(make({ url: "serial:///dev/ttyACM0" })).toThrow(/printer "k": url must start with ws:\/\//);
    expect(make({ url: "not a url" })).toThrow(/printer "k": url "not a url" is not an address/);
    expect(make({ url: "ws://10.0.0.5:7125/websocket", auth: { accessCode: "12345678" } })).toThrow(/auth.accessCode is not used by Moonraker/);
    let thrown: unknown = null;
    try {
      make({ url: "ftp://x" })();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(HubError);
    expect((thrown as HubError).code).toBe("CONFIG_INVALID");
    expect(make({ url: "http://10.0.0.5:7125" })).not.toThrow();
  });

  it("runs a catalogue file: uploaded, printing, progress and layers rise, pause, resume, cancel", { timeout: 120_000 }, async () => {
    const { s, d, catalogue } = await boot();
    await connected(d);
    const asked = Date.now();
    const { job: j, ended } = job(d, catalogue, "calibration-cube");
    await until(() => d.status()?.job === "printing", "the printer reporting printing");
    const startToPrintingMs = Date.now() - asked;
    expect(s.machine.files.has("calibration-cube.gcode")).toBe(true);
    expect(d.status()?.file).toBe("calibration-cube.gcode");
    expect(d.status()?.layers).toBeGreaterThan(50);
    const first = await until(() => (j.progress().progressPct > 0 ? j.progress().progressPct : false), "progress above 0");
    await until(() => j.progress().progressPct > first + 1, "progress rising");
    expect(j.progress().elapsedS).toBeGreaterThanOrEqual(0);

    await j.pause();
    expect(j.state).toBe("paused");
    await until(() => d.status()?.job === "paused", "the printer reporting paused");
    expect(s.machine.status().job).toBe("paused");
    await j.resume();
    await until(() => d.status()?.job === "printing" && s.machine.status().job === "printing", "printing again");
    expect(j.state).toBe("running");

    await j.cancel("test: cancel");
    await ended;
    expect(j.state).toBe("cancelled");
    await until(() => d.status()?.job === "cancelled", "the printer reporting cancelled");
    expect(s.machine.status().job).toBe("cancelled");
    console.info(`moonraker: start request -> printing in ${startToPrintingMs} ms`);
  });

  it("a job the printer finishes ends done", { timeout: 120_000 }, async () => {
    const { d, catalogue } = await boot();
    await connected(d);
    const { job: j, ended } = job(d, catalogue, "tiny");
    await ended;
    expect(j.state).toBe("done");
    expect(j.progress().progressPct).toBe(100);
    expect(d.status()?.job).toBe("finished");
  });

  it("e-stop: printer.emergency_stop shuts klippy down (heaters off, halted); a firmware restart brings it back", { timeout: 120_000 }, async () => {
    const { s, d, ev, catalogue } = await boot();
    await connected(d);
    const { job: j, ended } = job(d, catalogue, "long");
    await until(() => d.status()?.job === "printing" && (s.machine.status().hotend.target ?? 0) > 0, "printing with the heaters on");
    const asked = Date.now();
    await d.emergencyStop("test: e-stop");
    // Halted from the request on (as a Marlin printer after M112); Klipper's own report of the stop follows.
    expect(d.state).toBe("halted");
    await until(() => d.status()?.fault === "Shutdown due to webhooks request", "klippy reporting its shutdown");
    const estopToHaltedMs = Date.now() - asked;
    expect(d.status()?.raw).toMatch(/klippy shutdown/);
    await ended;
    expect(j.state).toBe("failed");
    expect(j.progress().reason).toMatch(/emergency stop: test: e-stop/);
    // The printer's report of the stop the hub asked for is not a second halt.
    expect(ev.halts).toEqual([]);
    expect(ev.states.at(-1)).toEqual({ state: "halted", reason: "emergency stop: test: e-stop" });
    expect(s.machine.halted()).toBe(true);
    expect(s.machine.status().hotend.target).toBe(0);
    expect(s.machine.status().bed.target).toBe(0);
    // Shut down, Klipper pushes nothing; the driver's server.info keeps the printer known (halted, not lost).
    const reports = Number(d.stats.reports);
    await until(() => Number(d.stats.reports) >= reports + 4, "reports while halted");
    expect(d.state).toBe("halted");
    expect(d.stats.staleLosses).toBe(0);

    // A start while shut down is refused by Klipper, with its words.
    const refused = job(d, catalogue, "tiny");
    await refused.ended;
    expect(refused.job.state).toBe("failed");
    expect(refused.job.progress().reason).toMatch(/not ready|shutdown/i);

    // After the trip is reset: FIRMWARE_RESTART, klippy ready, subscribed again, a job runs.
    await d.reconnect();
    expect(s.machine.halted()).toBe(false);
    await until(() => d.state === "operational" && d.status()?.fault === null, "operational after the firmware restart");
    const again = job(d, catalogue, "tiny");
    await again.ended;
    expect(again.job.state).toBe("done");
    console.info(`moonraker: e-stop -> klippy reports shutdown in ${estopToHaltedMs} ms`);
  });

  it("a heater fault is a klippy shutdown: halt event with verify_heater's words", { timeout: 120_000 }, async () => {
    const { s, d, ev, catalogue } = await boot();
    await connected(d);
    const { job: j, ended } = job(d, catalogue, "long");
    await until(() => d.status()?.job === "printing", "printing");
    s.machine.inject({ kind: "heaterFailure" });
    await until(() => ev.halts.length > 0, "a halt event", 60_000);
    expect(ev.halts[0]).toEqual({ kind: "heating-failed", message: "Heater extruder not heating at expected rate" });
    expect(d.state).toBe("halted");
    await ended;
    expect(j.state).toBe("failed");
  });

  it("the door switch: open is reported (door event), pauses the print, and a start is refused", { timeout: 120_000 }, async () => {
    const { s, d, ev, catalogue } = await boot();
    await connected(d);
    s.machine.setDoor(true);
    await until(() => ev.doors.at(-1) === true, "door event open");
    expect(d.status()?.doorOpen).toBe(true);
    const refused = job(d, catalogue, "tiny");
    await refused.ended;
    expect(refused.job.state).toBe("failed");
    expect(refused.job.progress().reason).toMatch(/door is open/);
    s.machine.setDoor(false);
    await until(() => ev.doors.at(-1) === false, "door event closed");

    // Opening it mid-print pauses the job (the printer's own gcode_button macro); the job follows.
    const { job: j } = job(d, catalogue, "long");
    await until(() => d.status()?.job === "printing", "printing");
    s.machine.setDoor(true);
    await until(() => j.state === "paused", "the job paused by the door");
    expect(ev.doors.at(-1)).toBe(true);
    await j.cancel("test: done");
  });

  it("a dropped connection mid-print: the station's job fails and it trips as lost; the driver reconnects", { timeout: 120_000 }, async () => {
    const { s, d, ev, catalogue } = await boot();
    const faults: string[] = [];
    const ended: string[] = [];
    const pipeline = { ingest: () => {}, ingestRaw: () => {}, describe: () => {} } as unknown as TelemetryPipeline;
    station = new PrinterStation({ id: "klipper-1", name: "Klipper 1", simulated: true, catalogueDir: catalogue, idleHeaterTimeoutS: 600 }, d, {
      clock: systemClock,
      logger: silentLogger,
      pipeline,
      changed: () => {},
      fault: (kind) => faults.push(kind),
      faultRules: [],
      note: () => {},
      jobEnded: (p) => ended.push(p.state),
    });
    station.connect();
    await until(() => station?.view().state === "idle", "the station idle");
    expect(station.view().details.protocol).toBe("moonraker");
    await station.start("long", { name: "juf", role: "instructor" } as never);
    await until(() => station?.view().state === "running" && d.status()?.job === "printing", "the station running");
    s.dropConnections();
    await until(() => ev.states.some((x) => x.state === "disconnected"), "the driver disconnected");
    await until(() => ended.length > 0, "the job ended");
    expect(ended).toEqual(["failed"]);
    expect(faults).toEqual(["lost"]);
    await until(() => d.state === "operational", "reconnected");
    expect(d.stats.connects).toBe(2);
  });

  it("connects while klippy is restarting: the host answers at once, the subscription follows when klippy is ready", { timeout: 60_000 }, async () => {
    const { s, d } = await boot();
    const r = await fetch(`${s.url.replace(/^ws/, "http").replace(/\/websocket$/, "")}/printer/firmware_restart`, { method: "POST", headers: { "X-Api-Key": s.auth.apiKey ?? "" } });
    expect(r.status).toBe(200);
    d.start();
    await until(() => d.state === "operational", "operational");
    await until(() => d.status()?.raw.startsWith("klippy ready") && d.status()?.hotend != null, "klippy ready, subscribed, with temperatures");
    expect(d.stats.connects).toBe(1);
  });

  it("an idle printer that pushes nothing stays known: the driver's server.info keeps it fresh", { timeout: 60_000 }, async () => {
    // Updates only on a job change: at rest Klipper sends no notify_status_update at all.
    const { d } = await boot({ reportIntervalMs: 600_000 });
    await connected(d);
    const reports = Number(d.stats.reports);
    // Eight answered pings take well over three times staleAfterMs (1.5 s).
    await until(() => Number(d.stats.reports) >= reports + 8, "eight answered pings");
    expect(d.state).toBe("operational");
    expect(d.stats.staleLosses).toBe(0);
    expect(d.stats.connects).toBe(1);
  });

  it("a silent printer (socket open, no answers) is lost after staleAfterMs, and found again", { timeout: 120_000 }, async () => {
    const { s, d, ev } = await boot();
    await connected(d);
    s.setSilent(true);
    const t0 = Date.now();
    await until(() => d.state === "disconnected", "the driver disconnected");
    const lostAfterMs = Date.now() - t0;
    expect(lostAfterMs).toBeGreaterThanOrEqual(1000);
    expect(ev.states.find((x) => x.state === "disconnected")?.reason).toMatch(/no status from the printer/);
    expect(d.stats.staleLosses).toBe(1);
    s.setSilent(false);
    await until(() => d.state === "operational", "operational again");
  });
});

describe("Moonraker printer behind the hub (config -> station -> interlocks -> API)", () => {
  let h: Harness | undefined;
  let sim: NetPrinterSimHandle | undefined;
  let dir: string | undefined;

  afterEach(async () => {
    await h?.close();
    await sim?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    h = sim = dir = undefined;
  });

  it("the printer's own door switch forbids a start; the e-stop shuts klippy down; the reset restarts its firmware", { timeout: 180_000 }, async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-moonraker-hub-"));
    writeFileSync(path.join(dir, "long.gcode"), model(400));
    sim = await startMoonrakerSim({ machineOptions: { speedFactor: 50, heatFactor: 20 } });
    const s = sim;
    h = await bootHarness({
      devices: [{ kind: "printer", id: "klipper-1", name: "Klipper 1", url: s.url, protocol: "moonraker", auth: s.auth, door: "klipper-1.doorOpen", catalogue: dir, lostAfterS: 5 }],
      users: [
        { name: "juf", role: "instructor", pin: "1234" },
        { name: "tech", role: "technician", password: "technician" },
      ],
    });
    const hh = h;
    const station = async () => (await hh.get<{ result: StationView }>("/api/stations/klipper-1")).body.result;
    await eventually(async () => (await station()).state === "idle" && (await station()).startable.ok, 30_000, "the station idle and startable");
    const view = await station();
    expect(view.details.protocol).toBe("moonraker");
    expect(view.details.firmware).toMatch(/^Klipper/);
    expect(view.details.doorOpen).toBe(false);
    expect(JSON.stringify(view)).not.toContain(s.auth.apiKey ?? "?");
    const device = (await hh.get<{ result: Record<string, unknown> }>("/api/devices/klipper-1")).body.result;
    expect(device.kind).toBe("printer");
    expect(device.protocol).toBe("moonraker");
    expect(JSON.stringify(device)).not.toContain(s.auth.apiKey ?? "?");
    const juf = await staff(hh, "juf");

    // The door switch (gcode_button door) opens: the door rule trips and a start is refused.
    s.machine.setDoor(true);
    await eventually(async () => (await interlock(hh, "klipper-1-door")).status === "tripped", 15_000, "the door rule tripped");
    const refused = await juf("station.start", { station: "klipper-1", program: "long" });
    expect(refused.body).toMatchObject({ ok: false, code: "INTERLOCK_TRIPPED" });
    s.machine.setDoor(false);
    await eventually(async () => (await interlock(hh, "klipper-1-door")).status === "normal", 15_000, "the door rule normal");

    const started = await juf("station.start", { station: "klipper-1", program: "long" });
    expect(started.body, JSON.stringify(started.body)).toMatchObject({ ok: true });
    await eventually(async () => (await station()).state === "running" && s.machine.status().job === "printing", 30_000, "printing");
    expect((await juf("estop.trigger")).body.ok).toBe(true);
    await eventually(() => s.machine.halted(), 10_000, "klippy shut down by printer.emergency_stop");
    await eventually(async () => (await station()).state === "faulted", 10_000, "the station faulted");
    const jobs = (await hh.get<{ result: Array<{ state: string; reason: string }> }>("/api/jobs?station=klipper-1")).body.result;
    expect(jobs[0]).toMatchObject({ state: "failed" });
    expect(jobs[0]?.reason).toMatch(/emergency stop/);

    const tech = await staff(hh, "tech");
    expect((await juf("interlock.reset", { id: "estop" })).body.ok).toBe(true);
    for (const rule of ["klipper-1-firmware"]) {
      const v = await interlock(hh, rule);
      if (v.status !== "normal") expect((await tech("interlock.reset", { id: rule })).body, rule).toMatchObject({ ok: true });
    }
    await eventually(async () => (await station()).state === "idle", 30_000, "ready again after the reset");
    expect(s.machine.halted()).toBe(false);
    expect((await station()).program).toBeNull();
  });
});
