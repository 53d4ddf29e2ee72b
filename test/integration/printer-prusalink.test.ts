/**
 * The PrusaLink driver against the PrusaLink simulator over real HTTP sockets (127.0.0.1, any port):
 * digest auth (qop-less challenge, stale nonces), the ha1 form of the password and the api key,
 * refused credentials, a catalogue file uploaded and printed, pause/resume, cancel, the e-stop
 * (= stop the job: the printer reports STOPPED, its stop routine cools), a connection dropped
 * mid-request, a silent printer (lost after staleAfterMs), the door (v1 reports none) and a heater
 * fault (ERROR -> halt). No sleeps: every step waits for what the driver or the printer reports.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type DriverState } from "../../hub/src/adapters/printer/backend.ts";
import type { NetworkDriverOptions, NetworkPrinterDriver } from "../../hub/src/adapters/printer/network/driver.ts";
import { createPrusaLinkDriver } from "../../hub/src/adapters/printer/network/prusalink.ts";
import type { PrinterDeviceConfig } from "../../hub/src/adapters/printer/rules.ts";
import { ManualClock, systemClock } from "../../hub/src/core/clock.ts";
import { HubError } from "../../hub/src/core/errors.ts";
import { silentLogger } from "../../hub/src/core/logger.ts";
import type { PrinterFault } from "../../simulators/printer/faults.ts";
import { type PrusaLinkSimHandle, startPrusaLinkSim } from "../../simulators/printer-net/prusalink.ts";

const CATALOGUE = path.resolve("printers/catalogue");
const OPTIONS: Partial<NetworkDriverOptions> = { staleAfterMs: 1500, reconnectMinMs: 200, reconnectMaxMs: 1000, startTimeoutMs: 30_000 };
const SECRET = "s3cret-PrusaLink-pw";

async function until<T>(fn: () => T | undefined | null | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A short model: heat, a few layers, done (seconds at the simulator's speed). */
function tinyModel(layers: number): string {
  const lines = ["M140 S50", "M104 S200", "M190 S50", "M109 S200", "G28", "G92 E0"];
  for (let l = 1; l <= layers; l++) lines.push(`;LAYER:${l}`, `G1 Z${(l * 0.2).toFixed(1)} F600`, `G1 X120 Y100 E${l} F3000`, `G1 X100 Y100 E${l + 0.5} F3000`);
  lines.push("M104 S0", "M140 S0", "M84");
  return `${lines.join("\n")}\n`;
}

function config(sim: PrusaLinkSimHandle, auth: PrinterDeviceConfig["auth"] = sim.auth): PrinterDeviceConfig {
  return {
    kind: "printer",
    id: "core-one",
    name: "Core One",
    url: sim.url,
    protocol: "prusalink",
    auth,
    simulated: true,
    catalogue: CATALOGUE,
    idleHeaterTimeoutS: 600,
    resetRoles: ["technician"],
  } as PrinterDeviceConfig;
}

interface Watched {
  driver: NetworkPrinterDriver;
  states: Array<{ state: DriverState; reason: string; at: number }>;
  messages: string[];
  halts: Array<{ kind: string; message: string }>;
  doors: boolean[];
  temps: number;
}

describe("PrusaLink driver + simulator over HTTP", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function sim(opts: Parameters<typeof startPrusaLinkSim>[0] = {}): Promise<PrusaLinkSimHandle> {
    const s = await startPrusaLinkSim({ credentials: { password: SECRET }, machineOptions: { speedFactor: 50, heatFactor: 20 }, ...opts });
    cleanups.push(() => s.stop());
    return s;
  }

  function watch(cfg: PrinterDeviceConfig, options: Partial<NetworkDriverOptions> = OPTIONS): Watched {
    const driver = createPrusaLinkDriver(cfg, { clock: systemClock, logger: silentLogger }, options);
    const w: Watched = { driver, states: [], messages: [], halts: [], doors: [], temps: 0 };
    driver.on("state", (state, reason) => w.states.push({ state, reason, at: Date.now() }));
    driver.on("message", (text) => w.messages.push(text));
    driver.on("halt", (kind, message) => w.halts.push({ kind, message }));
    driver.on("door", (open) => w.doors.push(open));
    driver.on("temperature", () => w.temps++);
    cleanups.push(() => driver.stop());
    return w;
  }

  async function connected(w: Watched): Promise<void> {
    w.driver.start();
    await until(() => w.driver.state === "operational", 30_000, "operational");
  }

  function startJob(w: Watched, file: string) {
    const job = w.driver.createJob(path.basename(file).replace(/\.gcode$/, ""), file, systemClock);
    const ended = job.run();
    return { job, ended };
  }

  it("connects with digest (qop-less challenge), identifies the printer and reads temperatures", { timeout: 60_000 }, async () => {
    const s = await sim();
    const w = watch(config(s));
    await connected(w);
    expect(w.driver.firmware.FIRMWARE_NAME).toMatch(/^PrusaLink/);
    expect(w.driver.firmware.MACHINE_TYPE).toBe("Core One (sim)");
    expect(w.driver.firmware.AUTH).toBe("digest");
    expect(w.driver.capability("THERMAL_PROTECTION")).toBe(true);
    await until(() => w.temps >= 2, 10_000, "temperature reports");
    const st = w.driver.status();
    expect(st?.hotend?.actual).toBeGreaterThan(10);
    expect(st?.bed?.target).toBe(0);
    expect(st?.job).toBe("idle");
    expect(st?.doorOpen).toBeNull();
    // The first request of the exchange was challenged, the rest went through on the nonce.
    expect(s.requests[0]).toMatchObject({ path: "/api/version", status: 401 });
    expect(s.requests.filter((r) => r.path === "/api/v1/status" && r.status === 200).length).toBeGreaterThan(0);
  });

  it("takes the password as its digest hash (ha1:) and an api key", { timeout: 60_000 }, async () => {
    const s = await sim({ credentials: { password: SECRET, apiKey: "key-1234567890" } });
    const ha1 = createHash("md5").update(`maker:Printer API:${SECRET}`).digest("hex");
    const a = watch(config(s, { password: `ha1:${ha1}` }));
    const b = watch(config(s, { apiKey: "key-1234567890" }));
    await Promise.all([connected(a), connected(b)]);
    expect(b.driver.firmware.AUTH).toBe("X-Api-Key");
    // A digest nonce lives 5 s: the driver rides through stale=true challenges without a loss.
    await until(() => s.requests.some((r) => r.status === 401 && r.path === "/api/v1/status"), 20_000, "a stale nonce");
    await until(() => s.requests.filter((r) => r.path === "/api/v1/status" && r.status === 200).length > 30, 20_000, "polls after the stale nonce");
    expect(a.states.filter((x) => x.state === "disconnected")).toEqual([]);
    const badKey = watch(config(s, { apiKey: "key-WRONG-000" }));
    badKey.driver.start();
    await until(() => badKey.driver.lastError, 20_000, "api key refused");
    expect(badKey.driver.lastError).toMatch(/PrusaLink refused the api key: HTTP 401/);
    expect(badKey.driver.lastError).not.toContain("key-WRONG-000");
  });

  it("refuses bad credentials with a clear error that does not carry the secret", { timeout: 60_000 }, async () => {
    const s = await sim();
    const wrong = "wrong-password-XYZ";
    const w = watch(config(s, { user: "maker", password: wrong }));
    w.driver.start();
    await until(() => w.driver.lastError, 20_000, "a connect failure");
    expect(w.driver.lastError).toMatch(/PrusaLink refused the password: HTTP 401/);
    expect(w.driver.lastError).not.toContain(wrong);
    expect(w.messages.join("\n")).not.toContain(wrong);
    expect(w.driver.state).not.toBe("operational");

    const badHash = watch(config(s, { password: `ha1:${"0".repeat(32)}` }));
    badHash.driver.start();
    await until(() => badHash.driver.lastError, 20_000, "hash refused");
    expect(badHash.driver.lastError).toContain('refused the digest hash (ha1) of the password: HTTP 401 on GET /api/version (the hash must be md5 of "maker:Printer API:<password>")');

    // The printer changes its mind about a connected driver: lost, then refused on reconnect.
    const ok = watch(config(s));
    await connected(ok);
    s.refuseCredentials(true);
    await until(() => ok.driver.lastError?.includes("401"), 20_000, "refusal after reconnect");
    expect(ok.states.some((x) => x.state === "disconnected" && /refused the password/.test(x.reason))).toBe(true);
    expect(JSON.stringify(ok.states) + ok.messages.join("\n")).not.toContain(SECRET);
    s.refuseCredentials(false);
    await until(() => ok.driver.state === "operational", 20_000, "back after the printer accepts again");

    // Config: a missing credential names the path; a malformed hash too.
    expect(() => createPrusaLinkDriver(config(s, {}), { clock: systemClock, logger: silentLogger })).toThrow(/auth\.password .* or auth\.apiKey/);
    expect(() => createPrusaLinkDriver({ ...config(s), url: "mqtt://x" }, { clock: systemClock, logger: silentLogger })).toThrow(HubError);
    expect(() => createPrusaLinkDriver(config(s, { password: "ha1:xyz" }), { clock: systemClock, logger: silentLogger })).toThrow(/32 hex/);
  });

  it("uploads a catalogue file, prints it (progress rises), pauses, resumes and cancels", { timeout: 120_000 }, async () => {
    const s = await sim();
    const w = watch(config(s));
    await connected(w);
    const t0 = Date.now();
    const { job, ended } = startJob(w, path.join(CATALOGUE, "spiral-vase.gcode"));
    await until(() => w.driver.status()?.job === "printing", 20_000, "printing");
    const startMs = Date.now() - t0;
    expect(s.requests).toContainEqual({ method: "PUT", path: "/api/v1/files/usb/spiral-vase.gcode", status: 201 });
    expect(s.machine.files.has("spiral-vase.gcode")).toBe(true);
    expect(w.driver.status()?.file).toBe("spiral-vase.gcode");
    const p1 = await until(() => (w.driver.status()?.progressPct ?? 0) > 0.5 && w.driver.status()?.progressPct, 60_000, "progress");
    await until(() => (w.driver.status()?.progressPct ?? 0) > p1, 30_000, "progress rising");
    expect(job.progress().progressPct).toBeGreaterThan(0);

    await job.pause();
    await until(() => w.driver.status()?.job === "paused", 10_000, "paused at the printer");
    expect(s.machine.status().job).toBe("paused");
    expect(job.state).toBe("paused");
    await job.resume();
    await until(() => w.driver.status()?.job === "printing", 10_000, "printing again");
    expect(job.state).toBe("running");

    await job.cancel("instructor cancelled");
    const end = await ended;
    expect(end.state).toBe("cancelled");
    await until(() => w.driver.status()?.raw === "STOPPED", 10_000, "STOPPED at the printer");
    expect(s.machine.status().job).toBe("cancelled");
    // A file that cannot be read fails its job (it never reaches the printer).
    await expect(w.driver.createJob("x", path.join(CATALOGUE, "x.gcode"), systemClock).run()).resolves.toMatchObject({ state: "failed" });
    console.log(`prusalink: start request -> printer reports PRINTING in ${startMs} ms`);
  });

  it("a print started at the printer is followed; a hub start while it runs is refused (409) in plain words", { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "tec-prusalink-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, "tiny.gcode"), tinyModel(3));
    const s = await sim();
    const w = watch(config(s));
    await connected(w);
    s.machine.store("from-usb-stick.gcode", tinyModel(400));
    s.machine.startJob("from-usb-stick.gcode");
    await until(() => w.driver.status()?.job === "printing", 20_000, "printing");
    expect(w.driver.status()?.file).toBe("from-usb-stick.gcode");
    const { ended } = startJob(w, path.join(dir, "tiny.gcode"));
    const end = await ended;
    expect(end.state).toBe("failed");
    expect(end.reason).toMatch(/PrusaLink refused upload of tiny\.gcode: the printer is busy .*\(Printer is busy\)/);
    expect(s.machine.status().file).toBe("from-usb-stick.gcode");
  });

  it("runs a small file to the end", { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "tec-prusalink-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(path.join(dir, "tiny.gcode"), tinyModel(3));
    const s = await sim();
    const w = watch(config(s));
    await connected(w);
    const { ended } = startJob(w, path.join(dir, "tiny.gcode"));
    const end = await ended;
    expect(end.state).toBe("done");
    expect(end.progressPct).toBe(100);
    expect(w.driver.status()?.raw).toBe("FINISHED");
  });

  it("e-stop = the job is stopped (STOPPED) and the heaters cool; the missing heater endpoint is said", { timeout: 120_000 }, async () => {
    const s = await sim();
    const w = watch(config(s));
    await connected(w);
    const { job, ended } = startJob(w, path.join(CATALOGUE, "calibration-cube.gcode"));
    await until(() => w.driver.status()?.job === "printing" && (w.driver.status()?.hotend?.target ?? 0) > 0, 20_000, "printing and heating");
    const t0 = Date.now();
    await w.driver.emergencyStop("e-stop button");
    await until(() => w.driver.status()?.raw === "STOPPED", 10_000, "STOPPED");
    const stopMs = Date.now() - t0;
    expect((await ended).state).toBe("failed");
    expect(job.progress().reason).toMatch(/emergency stop/);
    expect(s.requests.some((r) => r.method === "DELETE" && /^\/api\/v1\/job\/\d+$/.test(r.path) && r.status === 204)).toBe(true);
    // The printer's stop routine switched the heaters off.
    await until(() => w.driver.status()?.hotend?.target === 0 && w.driver.status()?.bed?.target === 0, 10_000, "targets 0");
    expect(w.messages.join("\n")).toMatch(/no heater control/);
    await expect(w.driver.heatersOff()).rejects.toThrow(/no heater control/);
    console.log(`prusalink: e-stop -> printer reports STOPPED in ${stopMs} ms`);
  });

  it("e-stop right after a job began, before the next status poll: the job is still stopped (the printer is asked, not the last poll)", { timeout: 60_000 }, async () => {
    const s = await sim();
    // A clock that never moves: no poll runs after the one at connect, so the driver's last status says idle.
    const driver = createPrusaLinkDriver(config(s), { clock: new ManualClock(), logger: silentLogger }, OPTIONS);
    cleanups.push(() => driver.stop());
    driver.start();
    await until(() => driver.state === "operational", 30_000, "operational");
    s.machine.store("from-usb-stick.gcode", tinyModel(400));
    s.machine.startJob("from-usb-stick.gcode");
    await until(() => s.machine.status().job === "printing", 20_000, "printing at the printer");
    expect(driver.status()?.job).toBe("idle");
    await driver.emergencyStop("e-stop button");
    expect(s.requests.some((r) => r.method === "DELETE" && /^\/api\/v1\/job\/\d+$/.test(r.path) && r.status === 204)).toBe(true);
    await until(() => s.machine.status().job !== "printing", 10_000, "the job stopped");
  });

  it("a connection dropped mid-request: disconnected at once, the job failed (as the station does), reconnect", { timeout: 120_000 }, async () => {
    const s = await sim();
    // A long stale window: the loss below is the drop, not the silence.
    const w = watch(config(s), { ...OPTIONS, staleAfterMs: 60_000 });
    await connected(w);
    const { job, ended } = startJob(w, path.join(CATALOGUE, "spiral-vase.gcode"));
    // What the station does on `disconnected` (station.ts onDriverState): the job is stopped.
    w.driver.on("state", (state, reason) => state === "disconnected" && job.abort(`the printer went away (${reason})`));
    await until(() => w.driver.status()?.job === "printing", 20_000, "printing");
    s.setSilent(true);
    await until(() => s.pendingRequests() > 0, 20_000, "a request in flight");
    const t0 = Date.now();
    s.dropConnections();
    await until(() => w.driver.state === "disconnected", 10_000, "disconnected");
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(w.states.find((x) => x.state === "disconnected")?.reason).toMatch(/did not answer/);
    expect((await ended).state).toBe("failed");
    s.setSilent(false);
    await until(() => w.driver.state === "operational", 30_000, "reconnected");
    // The printer itself printed on: the driver sees it again.
    expect(w.driver.status()?.job).toBe("printing");
    expect(w.driver.stats.connects).toBe(2);
  });

  it("a silent printer is lost after staleAfterMs and found again", { timeout: 120_000 }, async () => {
    const s = await sim();
    const w = watch(config(s));
    await connected(w);
    s.setSilent(true);
    const t0 = Date.now();
    await until(() => w.driver.state === "disconnected", 20_000, "lost");
    const lostMs = Date.now() - t0;
    expect(lostMs).toBeGreaterThan(1000);
    expect(w.states.find((x) => x.state === "disconnected")?.reason).toMatch(/no status from the printer|did not answer/);
    s.setSilent(false);
    await until(() => w.driver.state === "operational", 30_000, "found again");
  });

  it("door: opening it pauses the print at the printer; v1 reports no door, so no door event", { timeout: 120_000 }, async () => {
    const s = await sim();
    const w = watch(config(s));
    await connected(w);
    const { job } = startJob(w, path.join(CATALOGUE, "spiral-vase.gcode"));
    await until(() => w.driver.status()?.job === "printing", 20_000, "printing");
    s.machine.setDoor(true);
    await until(() => w.driver.status()?.job === "paused", 10_000, "paused by the door");
    expect(job.state).toBe("paused");
    expect(w.doors).toEqual([]);
    expect(w.driver.status()?.doorOpen).toBeNull();
    s.machine.setDoor(false);
    await job.resume();
    await until(() => w.driver.status()?.job === "printing", 10_000, "printing again");
  });

  it("a printer that answers 200 with something that is not a status is never operational and goes stale", { timeout: 60_000 }, async () => {
    const server = http.createServer((req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(req.url === "/api/version" ? JSON.stringify({ api: "2.0.0", server: "2.1.2", text: "PrusaLink" }) : JSON.stringify({ printer: { state: 42 }, job: "x" }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const w = watch(config({ url: `http://127.0.0.1:${port}`, auth: { apiKey: "k" } } as PrusaLinkSimHandle));
    w.driver.start();
    await until(() => w.states.some((x) => x.state === "disconnected" && /no status/.test(x.reason)), 20_000, "stale");
    expect(w.states.map((x) => x.state)).not.toContain("operational");
    expect(w.driver.stats.requestErrors).toBeGreaterThan(0);
  });

  it.each<[string, (s: PrusaLinkSimHandle) => void, RegExp]>([
    ["a heater fault (MINTEMP) halts the printer: ERROR", (s) => s.machine.inject({ kind: "sensorOpen" } satisfies PrinterFault), /mintemp/],
    ["ATTENTION with a thermal message", (s) => s.setOverride("ATTENTION", "Thermal runaway: hotend"), /thermal-runaway/],
  ])("%s -> halt event", { timeout: 120_000 }, async (_name, fault, kind) => {
    const s = await sim();
    const w = watch(config(s));
    await connected(w);
    const { ended } = startJob(w, path.join(CATALOGUE, "calibration-cube.gcode"));
    await until(() => w.driver.status()?.job === "printing" && (w.driver.status()?.hotend?.target ?? 0) > 0, 20_000, "printing");
    fault(s);
    await until(() => w.halts.length > 0, 20_000, "halt");
    expect(w.halts[0]?.kind).toMatch(kind);
    expect(w.driver.state).toBe("halted");
    if (kind.source === "mintemp") expect((await ended).state).toBe("failed");
  });

  it("ATTENTION without a heater message is a print waiting for a person, not a halt", { timeout: 60_000 }, async () => {
    const s = await sim();
    const w = watch(config(s));
    await connected(w);
    const { job } = startJob(w, path.join(CATALOGUE, "calibration-cube.gcode"));
    await until(() => w.driver.status()?.job === "printing", 20_000, "printing");
    s.setOverride("ATTENTION", "Filament runout");
    await until(() => w.driver.status()?.job === "paused", 10_000, "waiting");
    expect(job.state).toBe("paused");
    expect(w.halts).toEqual([]);
  });
});
