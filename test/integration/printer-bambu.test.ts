/**
 * The Bambu Lab LAN driver against the Bambu Lab simulator over real sockets: MQTT over TLS (aedes
 * behind node:tls, the printer's self-signed certificate pinned by its SHA-256) and implicit FTPS
 * for the upload. Connect and identify, refused access code and a wrong certificate, a catalogue
 * file uploaded and printed, pause/resume, cancel, the e-stop (`stop` + heaters off: the printer
 * reports FAILED, no halt), a dropped connection, a silent printer, the X1's door bit, a heater
 * fault (a fatal HMS entry: a halt), a P1 that pushes only changes, a sliced `.gcode.3mf` project,
 * Developer Mode off, and the config checks.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DriverState, PrinterJob } from "../../hub/src/adapters/printer/backend.ts";
import { BambuDriver, bambuStatus, createBambuDriver, hmsEntries } from "../../hub/src/adapters/printer/network/bambu.ts";
import type { NetworkDriverOptions } from "../../hub/src/adapters/printer/network/driver.ts";
import { createNetworkDriver } from "../../hub/src/adapters/printer/network/index.ts";
import type { PrinterDeviceConfig } from "../../hub/src/adapters/printer/rules.ts";
import { systemClock } from "../../hub/src/core/clock.ts";
import { HubError } from "../../hub/src/core/errors.ts";
import { type Logger, silentLogger } from "../../hub/src/core/logger.ts";
import { writeZip } from "../../simulators/printer-net/bambu-3mf.ts";
import { type BambuSimHandle, type BambuSimOptions, startBambuSim } from "../../simulators/printer-net/bambu.ts";

const CATALOGUE = path.resolve("printers/catalogue");
const SMALL: Partial<NetworkDriverOptions> = { staleAfterMs: 1500, reconnectMinMs: 200, reconnectMaxMs: 1000, startTimeoutMs: 30_000 };
const ACCESS_CODE = "31415926";

/** Heat, home, `layers` layers of a square: long enough to pause, cancel and stop in the middle. */
function model(layers: number): string {
  const lines = ["M140 S50", "M104 S200", "M190 S50", "M109 S200", "G28", "G92 E0"];
  for (let l = 1; l <= layers; l++) {
    lines.push(`;LAYER:${l}`, `G1 Z${(l * 0.2).toFixed(1)} F600`);
    for (const [x, y] of [
      [100, 100],
      [140, 100],
      [140, 140],
      [100, 140],
    ] as const) {
      lines.push(`G1 X${x} Y${y} E${(l * 0.5).toFixed(2)} F3000`);
    }
  }
  lines.push("M104 S0", "M140 S0", "M84");
  return `${lines.join("\n")}\n`;
}

async function until<T>(fn: () => T | undefined | false | null, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false && v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function config(sim: BambuSimHandle, auth: PrinterDeviceConfig["auth"] = sim.auth, url = sim.url): PrinterDeviceConfig {
  return {
    kind: "printer",
    id: "bambu-1",
    name: "Bambu 1",
    url,
    protocol: "bambu-lan",
    auth,
    lostAfterS: 15,
    simulated: true,
    catalogue: CATALOGUE,
    idleHeaterTimeoutS: 600,
    resetRoles: ["technician"],
  };
}

/** A logger that keeps what it is told (to check for the unpinned-certificate warning, and for secrets). */
function recordingLogger(lines: string[]): Logger {
  const rec =
    (level: string) =>
    (obj: object, msg?: string): void => {
      lines.push(`${level} ${msg ?? ""} ${JSON.stringify(obj)}`);
    };
  const logger: Logger = { debug: rec("debug"), info: rec("info"), warn: rec("warn"), error: rec("error"), child: () => logger };
  return logger;
}

describe("Bambu Lab LAN driver and simulator", { timeout: 120_000 }, () => {
  let sim: BambuSimHandle | undefined;
  let driver: BambuDriver | undefined;
  let dir: string | undefined;
  const states: Array<{ state: DriverState; reason: string }> = [];
  const halts: Array<{ kind: string; message: string }> = [];
  const doors: boolean[] = [];
  const temps: number[] = [];
  const messages: string[] = [];
  const logLines: string[] = [];

  async function boot(
    options: Partial<NetworkDriverOptions> = {},
    simOptions: BambuSimOptions = {},
    auth?: (sim: BambuSimHandle) => PrinterDeviceConfig["auth"],
  ): Promise<{ sim: BambuSimHandle; driver: BambuDriver }> {
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-bambu-"));
    writeFileSync(path.join(dir, "long.gcode"), model(400));
    sim = await startBambuSim({
      machineOptions: { speedFactor: 50, heatFactor: 20 },
      reportIntervalMs: 250,
      ...simOptions,
      credentials: { accessCode: ACCESS_CODE, ...simOptions.credentials },
    });
    const d = createBambuDriver(config(sim, auth?.(sim) ?? sim.auth), { clock: systemClock, logger: recordingLogger(logLines) }, { ...SMALL, ...options });
    expect(d).toBeInstanceOf(BambuDriver);
    driver = d as BambuDriver;
    driver.on("state", (state, reason) => states.push({ state, reason }));
    driver.on("halt", (kind, message) => halts.push({ kind, message }));
    driver.on("door", (open) => doors.push(open));
    driver.on("message", (text) => messages.push(text));
    driver.on("temperature", (t) => {
      if (t.hotend !== null) temps.push(t.hotend.actual);
    });
    driver.start();
    return { sim, driver };
  }

  async function operational(d: BambuDriver): Promise<void> {
    await until(() => d.state === "operational", "the driver operational");
  }

  /** A job as the station runs it: a lost printer ends it (the station's own rule). */
  function startJob(d: BambuDriver, program: string, file: string): { job: PrinterJob; done: Promise<unknown> } {
    const job = d.createJob(program, file, systemClock);
    d.on("state", (state, reason) => {
      if (state === "disconnected") job.abort(`the printer went away (${reason}): the job is stopped`);
    });
    return { job, done: job.run() };
  }

  afterEach(async () => {
    await driver?.stop();
    await sim?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    sim = undefined;
    driver = undefined;
    dir = undefined;
    states.length = 0;
    halts.length = 0;
    doors.length = 0;
    temps.length = 0;
    messages.length = 0;
    logLines.length = 0;
  });

  it("connects over MQTT/TLS with the pinned certificate: operational, firmware and model identified, temperatures, the door bit", async () => {
    const { sim: s, driver: d } = await boot();
    await operational(d);
    expect(d.firmware.FIRMWARE_NAME).toBe("Bambu Lab 01.08.02.00");
    expect(d.firmware.MACHINE_TYPE).toBe("Bambu Lab X1 Carbon");
    expect(d.capability("THERMAL_PROTECTION")).toBe(true);
    await until(() => temps.length > 0, "a temperature report");
    const st = d.status();
    expect(st?.raw).toBe("IDLE");
    expect(st?.job).toBe("idle");
    expect(st?.hotend?.actual).toBeGreaterThan(10);
    expect(st?.doorOpen).toBe(false); // the X1's home_flag bit 23
    // The client asked for everything once and for the firmware version, on the request topic.
    expect(s.commands.map((c) => `${c.type}.${c.command}`)).toEqual(expect.arrayContaining(["pushing.pushall", "info.get_version"]));
    // Pinned: no warning about an unchecked certificate.
    expect(logLines.filter((l) => l.startsWith("warn"))).toEqual([]);
    // A heater target set on the printer's screen shows in the pushed temperatures.
    s.machine.setTargets(60, null);
    await until(() => (d.status()?.hotend?.target === 60 ? true : undefined), "the new nozzle target");
  });

  it("without auth.fingerprint: accepts the certificate and warns once, naming the fingerprint but not the access code", async () => {
    const { sim: s, driver: d } = await boot({}, {}, (sim) => ({ serial: sim.auth.serial, accessCode: ACCESS_CODE }));
    await operational(d);
    s.dropConnections();
    await until(() => states.some((x) => x.state === "disconnected"), "the drop");
    await operational(d);
    const warns = logLines.filter((l) => l.startsWith("warn"));
    expect(warns).toHaveLength(1);
    expect(warns[0]).toContain(s.auth.fingerprint);
    expect(warns[0]).toContain("auth.fingerprint");
    expect(logLines.join("\n")).not.toContain(ACCESS_CODE);
  });

  it("refuses a wrong access code with a clear error that does not contain the code", async () => {
    const wrong = "99887766";
    const { driver: d } = await boot({}, {}, (sim) => ({ ...sim.auth, accessCode: wrong }));
    await until(() => d.lastError, "a connect failure");
    expect(d.lastError).toMatch(/refused the access code/);
    expect(d.lastError).toMatch(/CONNACK 5/);
    expect(d.lastError).not.toContain(wrong);
    expect(messages.join("\n")).not.toContain(wrong);
    expect(logLines.join("\n")).not.toContain(wrong);
    expect(d.state).not.toBe("operational");
    expect(d.stats.connectFailures).toBeGreaterThan(0);
  });

  it("refuses credentials while the printer does (its access code changed), and connects once it accepts again", async () => {
    const { sim: s, driver: d } = await boot();
    s.refuseCredentials(true);
    await until(() => d.lastError, "a connect failure");
    expect(d.lastError).toMatch(/refused the access code/);
    s.refuseCredentials(false);
    await operational(d);
    expect(d.lastError).toBeNull();
  });

  it("a wrong serial: the printer refuses its report topic, and the error says to check auth.serial", async () => {
    const { driver: d } = await boot({}, {}, (sim) => ({ ...sim.auth, serial: "00M09A350199999" }));
    await until(() => d.lastError, "a connect failure");
    expect(d.lastError).toMatch(/refused the report topic of serial 00M09A350199999: check auth\.serial/);
    expect(d.state).not.toBe("operational");
  });

  it("refuses a printer whose certificate is not the pinned one, before the access code is sent", async () => {
    const other = "AA:".repeat(31) + "AA";
    const { sim: s, driver: d } = await boot({}, {}, (sim) => ({ ...sim.auth, fingerprint: other }));
    await until(() => d.lastError, "a connect failure");
    expect(d.lastError).toMatch(/TLS certificate .* is not the one in auth\.fingerprint/);
    expect(d.lastError).toContain(s.auth.fingerprint);
    // Nothing reached the broker: no login was tried, no command received.
    expect(s.logins).toEqual({ mqtt: 0, ftp: 0 });
    expect(s.commands).toEqual([]);
    expect(d.state).not.toBe("operational");
  });

  it("uploads a catalogue file over implicit FTPS, starts it with gcode_file; the printer reports printing and progress rises; cancel", async () => {
    const { sim: s, driver: d } = await boot();
    await operational(d);
    const { job, done } = startJob(d, "calibration-cube", path.join(CATALOGUE, "calibration-cube.gcode"));
    await until(() => s.files.get("/calibration-cube.gcode"), "the upload");
    const start = await until(() => s.commands.find((c) => c.command === "gcode_file"), "the start command");
    expect(start?.param).toBe("/sdcard/calibration-cube.gcode");
    await until(() => (d.status()?.raw === "RUNNING" ? true : undefined), "RUNNING");
    expect(d.status()?.file).toBe("calibration-cube");
    expect(job.state).toBe("running");
    const first = await until(() => (d.status()?.progressPct ?? 0) > 0 && d.status()?.progressPct, "progress");
    await until(() => (d.status()?.progressPct ?? 0) > first, "progress rising");
    expect(d.status()?.layers).toBeGreaterThan(0);
    expect(d.status()?.timeLeftS).not.toBeNull();
    expect((d.status()?.timeLeftS ?? 1) % 60).toBe(0); // minutes on the wire, seconds in the hub
    await job.cancel("test cancel");
    await done;
    expect(job.state).toBe("cancelled");
    expect(s.machine.status().job).toBe("cancelled");
    await until(() => (d.status()?.raw === "FAILED" ? true : undefined), "FAILED after the stop");
    expect(d.status()?.job).toBe("cancelled");
    expect(d.status()?.fault).toBeNull(); // print_error 0300400C = cancelled by the user, not a fault
    expect(halts).toEqual([]);
  });

  it("an upload the printer's FTPS server refuses fails the job with a clear reason, without the access code", async () => {
    const { sim: s, driver: d } = await boot();
    await operational(d);
    s.refuseCredentials(true); // the MQTT session stays; the new FTPS login is refused
    const { job, done } = startJob(d, "long", path.join(dir!, "long.gcode"));
    await done;
    expect(job.state).toBe("failed");
    expect(job.progress().reason).toMatch(/upload: the printer's FTPS server refused the access code \(530\)/);
    expect(job.progress().reason).not.toContain(ACCESS_CODE);
    expect(s.logins.ftp).toBe(1);
    expect(s.commands.some((c) => c.command === "gcode_file")).toBe(false);
    expect(d.state).toBe("operational");
  });

  it("pause and resume", async () => {
    const { sim: s, driver: d } = await boot();
    await operational(d);
    const { job } = startJob(d, "long", path.join(dir!, "long.gcode"));
    await until(() => (d.status()?.raw === "RUNNING" ? true : undefined), "RUNNING");
    await job.pause();
    expect(job.state).toBe("paused");
    await until(() => (d.status()?.raw === "PAUSE" ? true : undefined), "PAUSE");
    expect(s.machine.status().job).toBe("paused");
    await job.resume();
    expect(job.state).toBe("running");
    await until(() => (d.status()?.raw === "RUNNING" ? true : undefined), "RUNNING again");
    expect(s.machine.status().job).toBe("printing");
    await job.cancel("done with the test");
  });

  it("e-stop: stop ends the job (FAILED, cancelled by user) and both heaters go to 0; no halt (the LAN API has no e-stop)", async () => {
    const { sim: s, driver: d } = await boot();
    await operational(d);
    const { job, done } = startJob(d, "long", path.join(dir!, "long.gcode"));
    await until(() => (d.status()?.raw === "RUNNING" && (d.status()?.hotend?.target ?? 0) > 0 ? true : undefined), "RUNNING and heating");
    await d.emergencyStop("test e-stop");
    await done;
    expect(job.state).toBe("failed");
    expect(job.progress().reason).toMatch(/emergency stop/);
    await until(() => (d.status()?.raw === "FAILED" ? true : undefined), "FAILED");
    expect(s.commands.map((c) => c.command)).toEqual(expect.arrayContaining(["stop", "gcode_line"]));
    await until(() => (s.machine.status().hotend.target === 0 && s.machine.status().bed.target === 0 ? true : undefined), "heaters off");
    await until(() => (d.status()?.hotend?.target === 0 && d.status()?.bed?.target === 0 ? true : undefined), "heaters off reported");
    expect(halts).toEqual([]); // the printer reports no fault of its own: a stop, not a kill
    expect(s.machine.status().machine).not.toBe("halted");
    // The hub holds the printer as halted until the e-stop is reset, as after a Marlin M112.
    expect(d.state).toBe("halted");
    await d.reconnect();
    expect(d.state).toBe("operational");
    const next = startJob(d, "long", path.join(dir!, "long.gcode"));
    await until(() => (d.status()?.raw === "RUNNING" ? true : undefined), "RUNNING again after the reset");
    await next.job.cancel("done");
    expect(d.estopEffect).toMatch(/no emergency stop/);
  });

  it("a dropped connection: disconnected, the job failed; then it reconnects and reads the printer again", async () => {
    const { sim: s, driver: d } = await boot();
    await operational(d);
    const { job, done } = startJob(d, "long", path.join(dir!, "long.gcode"));
    await until(() => (d.status()?.raw === "RUNNING" ? true : undefined), "RUNNING");
    const connects = d.stats.connects;
    s.dropConnections();
    await until(() => states.find((x) => x.state === "disconnected"), "disconnected");
    await done;
    expect(job.state).toBe("failed");
    expect(job.progress().reason).toMatch(/went away/);
    await operational(d);
    expect(d.stats.connects).toBe(connects + 1);
    // The printer printed on by itself (a real one does): the new connection reads it whole again.
    await until(() => (d.status()?.raw === "RUNNING" ? true : undefined), "RUNNING after the reconnect");
  });

  it("a silent printer is lost after staleAfterMs and comes back when it talks again", async () => {
    const { sim: s, driver: d } = await boot();
    await operational(d);
    s.setSilent(true);
    const lost = await until(() => states.find((x) => x.state === "disconnected"), "lost", 20_000);
    expect(lost.reason).toMatch(/no status from the printer/);
    expect(d.stats.staleLosses).toBe(1);
    s.setSilent(false);
    await operational(d);
  });

  it("the X1's door: home_flag bit 23 is a door event; opening it mid-print pauses the job", async () => {
    const { sim: s, driver: d } = await boot();
    await operational(d);
    const { job } = startJob(d, "long", path.join(dir!, "long.gcode"));
    await until(() => (d.status()?.raw === "RUNNING" ? true : undefined), "RUNNING");
    s.machine.setDoor(true);
    await until(() => doors.includes(true), "door open event");
    expect(d.status()?.doorOpen).toBe(true);
    await until(() => (job.state === "paused" ? true : undefined), "the job follows the printer's pause");
    s.machine.setDoor(false);
    await until(() => doors.at(-1) === false, "door closed event");
    await job.resume();
    expect(job.state).toBe("running");
    await job.cancel("done");
    // With the door open the printer itself refuses a start (the station refuses it first, by its door rule).
    s.machine.setDoor(true);
    await until(() => doors.at(-1) === true, "door open again");
    const second = startJob(d, "long", path.join(dir!, "long.gcode"));
    await second.done;
    expect(second.job.state).toBe("failed");
    expect(second.job.progress().reason).toMatch(/start long: the printer refused it \(the door is open\)/);
  });

  it("a heater fault is a fatal HMS entry: a halt naming the heater", async () => {
    const { sim: s, driver: d } = await boot({ restartGraceMs: 500 });
    await operational(d);
    const { job, done } = startJob(d, "long", path.join(dir!, "long.gcode"));
    await until(() => (d.status()?.raw === "RUNNING" ? true : undefined), "RUNNING");
    s.machine.inject({ kind: "sensorOpen", heater: "hotend" });
    const halt = await until(() => halts[0], "a halt event");
    expect(halt.kind).toBe("mintemp");
    expect(halt.message).toMatch(/HMS_0300_0200_0001_0007 \(fatal\): nozzle temperature sensor/);
    expect(d.state).toBe("halted");
    await until(() => (job.state !== "running" ? true : undefined), "the job ended");
    await done;
    expect(job.state).toBe("failed");
    // A reset at the hub while the printer still reports the fatal entry: after the grace, a halt again.
    await d.reconnect();
    expect(d.state).toBe("operational");
    await until(() => halts[1], "the fault halts again after the grace");
    expect(d.state).toBe("halted");
    // Fixed at the printer (its firmware restarted): the HMS list is empty, and the reset holds.
    s.machine.reset();
    await until(() => (d.status()?.fault === null ? true : undefined), "no fault reported");
    await d.reconnect();
    expect(d.state).toBe("operational");
  });

  it("a P1S pushes only changes: the driver merges them into the full state; no door signal", async () => {
    const { sim: s, driver: d } = await boot({}, { credentials: { serial: "01P00A451100321" } });
    expect(s.model).toBe("P1S");
    await operational(d);
    expect(d.firmware.MACHINE_TYPE).toBe("Bambu Lab P1S");
    const { job } = startJob(d, "long", path.join(dir!, "long.gcode"));
    await until(() => (d.status()?.raw === "RUNNING" ? true : undefined), "RUNNING");
    await until(() => (d.status()?.progressPct ?? 0) > 0, "progress");
    // Most pushes now hold a field or two; every one is a full status for the hub, and the printer
    // stays live over several stale periods although `gcode_state` came only once.
    const reports = d.stats.reports;
    const seen = new Set<string>();
    await until(() => {
      const st = d.status();
      seen.add(`${st?.raw}|${st?.file}|${st?.layers}|${st?.hotend !== null}`);
      return (d.stats.reports ?? 0) >= (reports ?? 0) + 12;
    }, "12 more reports");
    expect([...seen]).toEqual(["RUNNING|long|400|true"]);
    expect(states.filter((x) => x.state === "disconnected")).toEqual([]);
    // Temperatures stay known although most pushes leave them out.
    expect(d.status()?.bed?.actual).toBeGreaterThan(10);
    expect(d.status()?.file).toBe("long");
    expect(d.status()?.doorOpen).toBeNull();
    s.machine.setDoor(true); // the P1 has no door contact on the wire
    expect(doors).toEqual([]);
    await job.cancel("done");
  });

  it("a quiet printer (no periodic pushes) is asked for its version past half the stale time and stays live", async () => {
    const { sim: s, driver: d } = await boot({}, { credentials: { serial: "03919A3A2200009" }, reportIntervalMs: 600_000 });
    expect(s.model).toBe("A1");
    await operational(d);
    // Three probes answered span more than one stale period (1.5 s) of silence otherwise.
    await until(() => s.commands.filter((c) => c.command === "get_version").length >= 4, "three liveness probes", 30_000);
    expect(states.filter((x) => x.state === "disconnected")).toEqual([]);
    expect(d.state).toBe("operational");
    expect(s.commands.filter((c) => c.command === "pushall")).toHaveLength(1); // never more pushall than needed
  });

  it("a sliced .gcode.3mf project is uploaded and started with project_file", async () => {
    const { sim: s, driver: d } = await boot();
    await operational(d);
    const file = path.join(dir!, "cube.gcode.3mf");
    writeFileSync(
      file,
      writeZip([
        { name: "[Content_Types].xml", data: '<?xml version="1.0"?><Types/>' },
        { name: "Metadata/plate_1.gcode", data: model(200) },
      ]),
    );
    expect(d.catalogueExtensions[0]).toBe(".gcode.3mf");
    const { job } = startJob(d, "cube", file);
    await until(() => (d.status()?.raw === "RUNNING" ? true : undefined), "RUNNING");
    const start = s.commands.find((c) => c.command === "project_file");
    expect(start?.url).toBe("file:///sdcard/cube.gcode.3mf");
    expect(start?.param).toBe("Metadata/plate_1.gcode");
    expect(s.files.has("/cube.gcode.3mf")).toBe(true);
    expect(s.machine.files.get("cube.gcode.3mf")).toContain(";LAYER:200");
    await job.cancel("done");
  });

  it("Developer Mode off: the printer refuses control commands and the error says what to switch on", async () => {
    const { sim: s, driver: d } = await boot();
    await operational(d);
    const { job } = startJob(d, "long", path.join(dir!, "long.gcode"));
    await until(() => (d.status()?.raw === "RUNNING" ? true : undefined), "RUNNING");
    s.setDeveloperMode(false);
    const error = await job.pause().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).code).toBe("DEVICE_REFUSED");
    expect((error as HubError).message).toMatch(/84033543.*Developer Mode/);
    expect(job.state).toBe("running");
    s.setDeveloperMode(true);
    await job.cancel("done");
  });

  it("config checks name what is wrong; the factory makes this driver", async () => {
    const sim0 = { url: "mqtts://127.0.0.1:8883", auth: { serial: "00M09A350100123", accessCode: ACCESS_CODE } } as unknown as BambuSimHandle;
    const ctx = { clock: systemClock, logger: silentLogger };
    const bad = (cfg: PrinterDeviceConfig): string => {
      try {
        createBambuDriver(cfg, ctx);
      } catch (error) {
        expect(error).toBeInstanceOf(HubError);
        expect((error as HubError).code).toBe("CONFIG_INVALID");
        return (error as Error).message;
      }
      throw new Error("no error");
    };
    expect(bad(config(sim0, { accessCode: ACCESS_CODE }))).toMatch(/printer "bambu-1": a Bambu Lab printer needs auth\.serial/);
    expect(bad(config(sim0, { serial: "00M09A350100123" }))).toMatch(/needs auth\.accessCode/);
    expect(bad(config(sim0, sim0.auth, "http://127.0.0.1"))).toMatch(/url must start with mqtts:\/\//);
    expect(bad(config(sim0, sim0.auth, "mqtts://127.0.0.1:8883?ftps=0"))).toMatch(/\?ftps= must be a port/);
    expect(bad(config(sim0, sim0.auth, `mqtts://bblp:${ACCESS_CODE}@127.0.0.1`))).not.toContain(ACCESS_CODE);
    const made = await createNetworkDriver(config(sim0), ctx);
    expect(made).toBeInstanceOf(BambuDriver);
    expect(made.protocol).toBe("bambu-lan");
  });

  it("reads HMS codes and the newer firmware's packed temperatures", () => {
    expect(hmsEntries([{ attr: 0x03000100, code: 0x00010002 }])[0]?.text).toBe("HMS_0300_0100_0001_0002 (fatal): heatbed temperature abnormal: the heater may be open-circuit (heating failed)");
    expect(hmsEntries([{ attr: 0x07002000, code: 0x00020001 }])[0]?.severity).toBe(2);
    const s = bambuStatus({ gcode_state: "RUNNING", device: { extruder: { info: [{ temp: (220 << 16) | 215 }] }, bed: { info: { temp: (60 << 16) | 59 } } }, stat: "00800000" }, "094XXXXXXXXXXXX");
    expect(s.hotend).toEqual({ actual: 215, target: 220 });
    expect(s.bed).toEqual({ actual: 59, target: 60 });
    expect(s.doorOpen).toBe(true);
    // A serious HMS entry (filament ran out) is no halt; a FAILED job with an unknown print_error is.
    expect(bambuStatus({ gcode_state: "PAUSE", hms: [{ attr: 0x07002000, code: 0x00020001 }] }, "01P").fault).toBeNull();
    expect(bambuStatus({ gcode_state: "FAILED", print_error: 0x0500400e }, "01P")).toMatchObject({ job: "error", fault: "print_error 0500_400E" });
    expect(bambuStatus({ gcode_state: "FAILED", print_error: 50348044 }, "01P")).toMatchObject({ job: "cancelled", fault: null });
  });
});
