/**
 * An Ultimaker S-series printer over its local HTTP API v1, over real sockets: the protocol
 * simulator (simulators/printer-net/ultimaker.ts: node:http, digest auth on every write) and the
 * hub's driver (hub/src/adapters/printer/network/ultimaker.ts). Connect, a refused digest pair,
 * pairing, a catalogue job (upload as .gcode and as .ufp, printing, progress), pause/resume, abort,
 * the plate-clearing step, the e-stop (= abort: the firmware's end routine, no halt), a heater fault
 * (status error -> halt), no door signal, the printer dropping off the network (through the real
 * printer station: the job fails, the station trips as lost), a dropped connection mid-request, a
 * silent printer, and reconnecting after each.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { PrinterJob } from "../../hub/src/adapters/printer/backend.ts";
import type { NetworkPrinterDriver } from "../../hub/src/adapters/printer/network/driver.ts";
import { createNetworkDriver } from "../../hub/src/adapters/printer/network/index.ts";
import { type UltimakerDriverOptions, createUltimakerDriver, jobOf } from "../../hub/src/adapters/printer/network/ultimaker.ts";
import { pairUltimaker } from "../../hub/src/adapters/printer/network/ultimaker-pair.ts";
import type { PrinterDeviceConfig } from "../../hub/src/adapters/printer/rules.ts";
import { PrinterStation } from "../../hub/src/adapters/printer/station.ts";
import { systemClock } from "../../hub/src/core/clock.ts";
import { HubError } from "../../hub/src/core/errors.ts";
import { silentLogger } from "../../hub/src/core/logger.ts";
import type { TelemetryPipeline } from "../../hub/src/core/telemetry/pipeline.ts";
import { type UltimakerSimHandle, type UltimakerSimOptions, startUltimakerSim } from "../../simulators/printer-net/ultimaker.ts";
import { writeUfp } from "../../simulators/printer-net/ultimaker-ufp.ts";
import { type Harness, bootHarness, until as untilAsync } from "./harness.ts";
import { staff } from "./safety-world.ts";

const REPO = path.resolve(import.meta.dirname, "../..");
const QUICK: Partial<UltimakerDriverOptions> = { staleAfterMs: 1500, reconnectMinMs: 200, reconnectMaxMs: 1000, startTimeoutMs: 30_000 };

/** A small model at low temperatures: `layers` layers of a square, with Cura's layer marks. */
function model(layers: number): string {
  const lines = [";FLAVOR:Griffin", `;LAYER_COUNT:${layers}`, "M140 S45", "M104 S80", "M190 S45", "M109 S80", "G28", "G92 E0"];
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

describe("Ultimaker printer (local HTTP API v1, digest auth)", () => {
  let sim: UltimakerSimHandle | undefined;
  let driver: NetworkPrinterDriver | undefined;
  let station: PrinterStation | undefined;
  let dir: string | undefined;
  let hub: Harness | undefined;

  afterEach(async () => {
    await hub?.close();
    hub = undefined;
    await station?.stop();
    await driver?.stop();
    await sim?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    station = driver = sim = dir = undefined;
  });

  function printerConfig(s: UltimakerSimHandle, auth: PrinterDeviceConfig["auth"]): PrinterDeviceConfig {
    return {
      kind: "printer",
      id: "um-1",
      name: "Ultimaker 1",
      url: s.url,
      protocol: "ultimaker",
      auth,
      simulated: true,
      catalogue: dir ?? "printers/catalogue",
      idleHeaterTimeoutS: 600,
      resetRoles: ["technician"],
    } as PrinterDeviceConfig;
  }

  async function boot(simOpts: UltimakerSimOptions = {}, auth?: PrinterDeviceConfig["auth"]): Promise<{ s: UltimakerSimHandle; d: NetworkPrinterDriver; ev: Recorded; catalogue: string }> {
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-ultimaker-"));
    writeFileSync(path.join(dir, "tiny.gcode"), model(4));
    writeFileSync(path.join(dir, "tiny-pack.ufp"), writeUfp(model(4)));
    writeFileSync(path.join(dir, "long.gcode"), model(400));
    copyFileSync(path.join(REPO, "printers/catalogue/calibration-cube.gcode"), path.join(dir, "calibration-cube.gcode"));
    sim = await startUltimakerSim({ machineOptions: { speedFactor: 50, heatFactor: 20 }, postPrintMs: 300, ...simOpts });
    driver = createUltimakerDriver(printerConfig(sim, auth ?? sim.auth), { clock: systemClock, logger: silentLogger }, QUICK);
    const ev = record(driver);
    return { s: sim, d: driver, ev, catalogue: dir };
  }

  async function connected(d: NetworkPrinterDriver): Promise<void> {
    d.start();
    await until(() => d.state === "operational" && d.status()?.hotend != null, "the driver operational with temperatures");
  }

  function job(d: NetworkPrinterDriver, catalogue: string, file: string): { job: PrinterJob; ended: Promise<unknown> } {
    const j = d.createJob(file.replace(/\.(gcode|ufp)$/, ""), path.join(catalogue, file), systemClock);
    return { job: j, ended: j.run() };
  }

  it("connects: operational, the Ultimaker identified, temperatures read; no door signal", { timeout: 60_000 }, async () => {
    const { s, d, ev } = await boot();
    await connected(d);
    expect(d.protocol).toBe("ultimaker");
    expect(d.firmware.FIRMWARE_NAME).toMatch(/^Ultimaker firmware \d+\.\d+/);
    expect(d.firmware.MACHINE_TYPE).toBe("Ultimaker S5");
    expect(d.firmware.UUID).toBe(s.guid);
    expect(d.capability("THERMAL_PROTECTION")).toBe(true);
    expect(d.catalogueExtensions).toEqual([".ufp", ".gcode"]);
    expect(d.estopEffect).toMatch(/abort/);
    const st = d.status();
    expect(st?.hotend?.actual).toBeGreaterThan(10);
    expect(st?.bed?.actual).toBeGreaterThan(10);
    expect(st?.job).toBe("idle");
    expect(st?.raw).toBe("idle");
    expect(ev.temperatures).toBeGreaterThan(0);
    expect(d.stats.connects).toBe(1);
    // API v1 has no door or enclosure signal: the simulated machine has no door, nothing is reported.
    s.machine.setDoor(true);
    const reports = d.stats.reports ?? 0;
    await until(() => (d.stats.reports ?? 0) >= reports + 2, "two more reports");
    expect(d.status()?.doorOpen).toBeNull();
    expect(ev.doors).toEqual([]);
  });

  it("refuses a wrong digest pair with a clear error that does not carry the key; and a printer that forgot the pair", { timeout: 60_000 }, async () => {
    const secret = "0badc0ffee0badc0ffee0badc0ffee00";
    const { s, d, ev } = await boot({}, { user: "tec-hub-sim-pair", password: secret });
    d.start();
    await until(() => d.lastError, "a connect failure");
    expect(d.lastError).toMatch(/the Ultimaker API refused the digest pair \(auth.user\/auth.password\): HTTP 401/);
    expect(d.lastError).toMatch(/pair the hub again/);
    expect(d.state).not.toBe("operational");
    for (const text of [d.lastError ?? "", ...ev.messages, ...ev.states.map((x) => x.reason)]) expect(text).not.toContain(secret);
    await d.stop();

    // The right pair, but the printer refuses it (reset, forgot its pairs): refused; accepted once it knows it again.
    const good = createUltimakerDriver(printerConfig(s, s.auth), { clock: systemClock, logger: silentLogger }, QUICK);
    driver = good;
    s.refuseCredentials(true);
    good.start();
    await until(() => good.lastError, "refused credentials");
    expect(good.lastError).toMatch(/refused the digest pair/);
    expect(good.lastError).not.toContain(s.auth.password ?? "?");
    s.refuseCredentials(false);
    await until(() => good.state === "operational", "operational once the pair is accepted");
  });

  it("rejects a config that is not an Ultimaker's", () => {
    const base = { kind: "printer", id: "um", name: "U", protocol: "ultimaker", simulated: false, catalogue: "x", idleHeaterTimeoutS: 600, resetRoles: ["technician"] } as const;
    const make = (extra: object) => () => createUltimakerDriver({ ...base, ...extra } as unknown as PrinterDeviceConfig, { clock: systemClock, logger: silentLogger });
    const pair = { user: "id", password: "key" };
    expect(make({ url: "serial:///dev/ttyACM0", auth: pair })).toThrow(/printer "um": url must be http:\/\/<printer address>/);
    expect(make({ url: "not a url", auth: pair })).toThrow(/printer "um": url must be http:\/\//);
    expect(make({ url: "http://10.0.0.7" })).toThrow(/printer "um": protocol ultimaker needs auth.user and auth.password/);
    expect(make({ url: "http://10.0.0.7", auth: { user: "id" } })).toThrow(/needs auth.password \(the digest pair/);
    expect(make({ url: "http://id:key@10.0.0.7", auth: pair })).toThrow(/must not hold credentials/);
    try {
      make({ url: "ftp://x", auth: pair })();
    } catch (error) {
      expect(error).toBeInstanceOf(HubError);
      expect((error as HubError).code).toBe("CONFIG_INVALID");
    }
    expect(make({ url: "http://10.0.0.7", auth: pair })).not.toThrow();
    expect(make({ url: "http://10.0.0.7/api/v1/", auth: pair })).not.toThrow();
  });

  it("something that is not an Ultimaker (garbage answers) is not taken for one: a clear error, no crash, no key sent", { timeout: 60_000 }, async () => {
    const seen: Array<string | undefined> = [];
    const fake = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { "content-type": "text/html" }).end("<html>not an Ultimaker</html>");
    });
    await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", () => resolve()));
    try {
      const port = (fake.address() as AddressInfo).port;
      const secret = "5ec7e75ec7e75ec7e75ec7e75ec7e700";
      const d = createUltimakerDriver(
        { kind: "printer", id: "um", name: "U", protocol: "ultimaker", url: `http://127.0.0.1:${port}`, auth: { user: "id", password: secret } } as unknown as PrinterDeviceConfig,
        { clock: systemClock, logger: silentLogger },
        QUICK,
      );
      driver = d;
      d.start();
      await until(() => d.lastError, "a connect failure");
      expect(d.lastError).toMatch(/GET \/api\/v1\/printer: no status in the answer/);
      expect(d.state).not.toBe("operational");
      // Digest sends credentials only in answer to a challenge: this server never asked.
      expect(seen.every((a) => a === undefined)).toBe(true);
    } finally {
      await new Promise<void>((resolve) => fake.close(() => resolve()));
    }
  });

  it("is what the network factory makes for protocol ultimaker", async () => {
    const d = await createNetworkDriver(
      { kind: "printer", id: "um", name: "U", protocol: "ultimaker", url: "http://10.0.0.7", auth: { user: "id", password: "key" } } as unknown as PrinterDeviceConfig,
      { clock: systemClock, logger: silentLogger },
    );
    expect(d.protocol).toBe("ultimaker");
    expect(d.state).toBe("disconnected");
  });

  it("maps the printer's job states and results to the station's", () => {
    expect(jobOf(null, "", false)).toBe("idle");
    for (const s of ["pre_print", "printing", "resuming"]) expect(jobOf(s, "", false)).toBe("printing");
    for (const s of ["pausing", "paused", "wait_user_action"]) expect(jobOf(s, "", false)).toBe("paused");
    expect(jobOf("post_print", "Finished", false)).toBe("finished");
    expect(jobOf("wait_cleanup", "Aborted", false)).toBe("cancelled");
    expect(jobOf("wait_cleanup", "Failed", false)).toBe("error");
    expect(jobOf("printing", "", true)).toBe("error");
  });

  it("pairs: the printer hands out an id and key, the person allows it on the screen, the pair works", { timeout: 60_000 }, async () => {
    const { s } = await boot();
    let pending = 0;
    const paired = pairUltimaker(s.url, { application: "TEC Hub", user: "technician", pollMs: 50, timeoutMs: 10_000, onPending: () => pending++ });
    await until(() => pending > 0, "the pairing waiting for the screen");
    s.answerPairing(true);
    const pair = await paired;
    expect(pair.id).toMatch(/^[0-9a-f]{32}$/);
    expect(pair.key).toMatch(/^[0-9a-f]{64}$/);
    expect(pair.guid).toBe(s.guid);
    const d = createUltimakerDriver(printerConfig(s, { user: pair.id, password: pair.key }), { clock: systemClock, logger: silentLogger }, QUICK);
    driver = d;
    await connected(d);

    // Denied on the screen: a clear error.
    let asking = 0;
    const denied = pairUltimaker(s.url, { application: "TEC Hub", user: "someone", pollMs: 50, timeoutMs: 10_000, onPending: () => asking++ });
    const rejected = expect(denied).rejects.toThrow(/denied on the printer's screen/);
    await until(() => asking > 0, "the second prompt on the screen");
    s.answerPairing(false);
    await rejected;
  });

  it("runs a catalogue file: sent, printing, progress rises, pause, resume, abort; the plate must be cleared before the next", { timeout: 120_000 }, async () => {
    const { s, d, catalogue } = await boot();
    await connected(d);
    const asked = Date.now();
    const { job: j, ended } = job(d, catalogue, "calibration-cube.gcode");
    await until(() => d.status()?.job === "printing", "the printer reporting printing");
    const startToPrintingMs = Date.now() - asked;
    expect(s.machine.files.has("calibration-cube")).toBe(true);
    expect(d.status()?.file).toBe("calibration-cube");
    expect(d.status()?.raw).toMatch(/^printing, job (pre_print|printing)$/);
    const first = await until(() => (j.progress().progressPct > 0 ? j.progress().progressPct : false), "progress above 0", 60_000);
    await until(() => j.progress().progressPct > first + 1, "progress rising", 60_000);
    expect(d.status()?.raw).toBe("printing, job printing");
    expect(d.status()?.timeLeftS).toBeGreaterThan(0);

    await j.pause();
    expect(j.state).toBe("paused");
    await until(() => d.status()?.raw === "printing, job paused", "the printer reporting paused (after pausing)");
    expect(s.machine.status().job).toBe("paused");
    await j.resume();
    await until(() => d.status()?.raw === "printing, job printing" && s.machine.status().job === "printing", "printing again");
    expect(j.state).toBe("running");

    await j.cancel("test: cancel");
    await ended;
    expect(j.state).toBe("cancelled");
    await until(() => d.status()?.job === "cancelled", "the printer reporting the job aborted");
    expect(s.machine.status().job).toBe("cancelled");
    await until(() => d.status()?.raw === "printing, job wait_cleanup", "waiting for the plate to be cleared");

    // The next job is refused until a person clears the plate and confirms on the screen.
    const refused = job(d, catalogue, "tiny.gcode");
    await refused.ended;
    expect(refused.job.state).toBe("failed");
    expect(refused.job.progress().reason).toMatch(/build plate to be cleared: confirm on the printer's screen/);
    s.clearPlate();
    await until(() => d.status()?.job === "idle", "no job once the plate is clear");

    // A .ufp from the catalogue: unpacked by the printer, printed to the end.
    const pack = job(d, catalogue, "tiny-pack.ufp");
    await pack.ended;
    expect(pack.job.progress().reason).toBeNull();
    expect(pack.job.state).toBe("done");
    expect(pack.job.progress().progressPct).toBe(100);
    expect(s.machine.files.get("tiny-pack")).toBe(model(4));
    await until(() => d.status()?.job === "finished", "the printer reporting the job finished");
    console.info(`ultimaker: start request -> printing in ${startToPrintingMs} ms`);
  });

  it("e-stop: abort (the firmware's end routine: heaters off, park), the job ends, the printer reports no fault; heater targets refused (405)", { timeout: 120_000 }, async () => {
    const { s, d, ev, catalogue } = await boot();
    await connected(d);
    const { job: j, ended } = job(d, catalogue, "long.gcode");
    await until(() => d.status()?.job === "printing" && s.machine.status().hotend.target > 0, "printing with the heaters on");
    const asked = Date.now();
    await d.emergencyStop("test: e-stop");
    await ended;
    expect(j.state).toBe("failed");
    expect(j.progress().reason).toBe("emergency stop: test: e-stop");
    await until(() => d.status()?.job === "cancelled", "the printer reporting the job aborted");
    const estopToStoppedMs = Date.now() - asked;
    await until(() => s.machine.status().hotend.target === 0 && s.machine.status().bed.target === 0, "heaters off by the end routine");
    // The hub counts the printer halted until the stop is reset (as for every printer); the printer
    // itself reports no fault: an abort is no halt on an Ultimaker.
    expect(d.state).toBe("halted");
    expect(ev.halts).toEqual([]);
    expect(d.status()?.fault).toBeNull();
    expect(ev.messages.some((m) => /refuses heater settings over its API \(HTTP 405\)/.test(m))).toBe(true);
    await d.reconnect();
    expect(d.state).toBe("operational");
    console.info(`ultimaker: e-stop -> printer reports the job aborted in ${estopToStoppedMs} ms`);
  });

  it("heaters off: refused (405) by default as on real firmware; set to 0 where the firmware accepts it", { timeout: 60_000 }, async () => {
    const { s, d } = await boot({ acceptTemperatureWrites: true });
    await connected(d);
    s.machine.setTargets(60, 40);
    await until(() => d.status()?.hotend?.target === 60 && d.status()?.bed?.target === 40, "targets reported");
    await d.heatersOff();
    await until(() => d.status()?.hotend?.target === 0 && d.status()?.bed?.target === 0, "targets 0");
    await d.stop();
    await s.stop();

    const strict = await boot();
    await connected(strict.d);
    await expect(strict.d.heatersOff()).rejects.toThrow(/HTTP 405/);
  });

  it("a heater fault: the printer's status turns error -> halt event; the job fails", { timeout: 120_000 }, async () => {
    const { s, d, ev, catalogue } = await boot();
    await connected(d);
    const { job: j, ended } = job(d, catalogue, "long.gcode");
    await until(() => d.status()?.job === "printing", "printing");
    s.machine.inject({ kind: "heaterFailure" });
    await until(() => ev.halts.length > 0, "a halt event", 60_000);
    expect(ev.halts[0]?.message).toMatch(/status "error"/);
    expect(d.state).toBe("halted");
    await ended;
    expect(j.state).toBe("failed");
    // Someone restarts the printer; after the trip's reset the driver is operational again.
    s.machine.reset();
    s.clearPlate();
    await until(() => d.status()?.fault === null, "the error gone");
    await d.reconnect();
    expect(d.state).toBe("operational");
  });

  it("the printer drops off the network mid-print: the station's job fails and it trips as lost; the driver reconnects", { timeout: 120_000 }, async () => {
    const { s, d, ev, catalogue } = await boot();
    const faults: string[] = [];
    const ended: string[] = [];
    const pipeline = { ingest: () => {}, ingestRaw: () => {}, describe: () => {} } as unknown as TelemetryPipeline;
    station = new PrinterStation({ id: "um-1", name: "Ultimaker 1", simulated: true, catalogueDir: catalogue, idleHeaterTimeoutS: 600 }, d, {
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
    expect(station.view().details.protocol).toBe("ultimaker");
    await station.start("long", { name: "juf", role: "instructor" } as never);
    await until(() => station?.view().state === "running" && d.status()?.job === "printing", "the station running");
    await s.setOffline(true);
    await until(() => ev.states.some((x) => x.state === "disconnected"), "the driver disconnected");
    expect(ev.states.find((x) => x.state === "disconnected")?.reason).toMatch(/no connection to the printer.*ECONNREFUSED|ECONNRESET|closed/);
    await until(() => ended.length > 0, "the job ended");
    expect(ended).toEqual(["failed"]);
    expect(faults).toEqual(["lost"]);
    await s.setOffline(false);
    await until(() => d.state === "operational", "reconnected");
    expect(d.stats.connects).toBe(2);
  });

  it("a connection dropped under a request: lost at once (not after staleAfterMs), then reconnected", { timeout: 60_000 }, async () => {
    const { s, d, ev } = await boot();
    await connected(d);
    s.setSilent(true); // the next poll's requests hang on open connections …
    const before = d.stats.requestErrors ?? 0;
    await until(() => d.stats.lastReportAt !== null && Date.now() - (d.stats.lastReportAt ?? 0) > 600, "a poll under way");
    s.dropConnections(); // … and are cut
    s.setSilent(false);
    await until(() => ev.states.some((x) => x.state === "disconnected"), "the driver disconnected");
    expect(d.stats.staleLosses).toBe(0);
    expect(d.stats.requestErrors).toBeGreaterThan(before);
    await until(() => d.state === "operational", "reconnected");
    expect(d.stats.connects).toBe(2);
  });

  it("through the hub: the station starts a catalogue model on the Ultimaker, shows progress, the job is recorded; the key is nowhere in the API", { timeout: 180_000 }, async () => {
    const { s, catalogue } = await boot();
    await s.stop(); // boot()'s driver is not used here: the hub makes its own
    sim = await startUltimakerSim({ machineOptions: { speedFactor: 50, heatFactor: 20 }, postPrintMs: 300, autoClearPlateMs: 300 });
    const simUrl = sim.url;
    hub = await bootHarness({
      devices: [{ kind: "printer", id: "um-1", name: "Ultimaker 1", protocol: "ultimaker", url: simUrl, auth: sim.auth, simulated: false, catalogue, lostAfterS: 5 }],
      users: [
        { name: "juf", role: "instructor", pin: "1234" },
        { name: "tech", role: "technician", password: "technician" },
      ],
    });
    const h = hub;
    type View = { state: string; catalogue: string[]; program?: string; progress?: { pct: number } | null; details: Record<string, unknown> };
    const view = async () => (await h.get<{ result: View }>("/api/stations/um-1")).body.result;
    const idle = await untilAsync(async () => {
      const v = await view();
      return v.state === "idle" ? v : undefined;
    }, 30_000, "the station idle (the printer connected)");
    expect(idle.details.protocol).toBe("ultimaker");
    expect(idle.catalogue).toEqual(["calibration-cube", "long", "tiny", "tiny-pack"]);
    const juf = await staff(h, "juf");
    const r = await juf("station.start", { station: "um-1", program: "long" });
    expect(r.body, JSON.stringify(r.body)).toMatchObject({ ok: true });
    await untilAsync(async () => {
      const v = await view();
      return v.state === "running" && (v.progress?.pct ?? 0) > 0;
    }, 60_000, "the station running with progress");
    expect(sim.machine.status().job).toBe("printing");
    expect((await juf("station.stop", { station: "um-1" })).body.ok).toBe(true);
    await untilAsync(async () => (await view()).state === "idle", 30_000, "the station idle after the stop");
    const jobs = (await h.get<{ result: Array<{ program: string; state: string }> }>("/api/jobs?station=um-1")).body.result;
    expect(jobs[0]).toMatchObject({ program: "long", state: "cancelled" });
    expect(sim.machine.status().job).toBe("cancelled");
    for (const url of ["/api/devices", "/api/devices/um-1", "/api/stations/um-1", "/api/stations"]) {
      const text = JSON.stringify((await h.get(url)).body);
      expect(text).not.toContain(sim.auth.password ?? "?");
    }
  });

  it("a silent printer (connections open, no answers) is lost after staleAfterMs, and found again", { timeout: 120_000 }, async () => {
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
