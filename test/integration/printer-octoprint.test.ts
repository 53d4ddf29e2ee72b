/**
 * The OctoPrint driver against the OctoPrint simulator over real sockets (REST on node:http, the
 * push socket on `ws`): connect and identify, a refused API key, a catalogue file sent and printed,
 * pause/resume, cancel, the e-stop (M112 through OctoPrint: the port closes, the firmware halts),
 * a dropped connection, a silent printer, a heater fault, no door signal, REST polling without the
 * socket, and the config checks.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DriverState, PrinterJob } from "../../hub/src/adapters/printer/backend.ts";
import type { NetworkDriverOptions } from "../../hub/src/adapters/printer/network/driver.ts";
import { createNetworkDriver } from "../../hub/src/adapters/printer/network/index.ts";
import { OctoPrintDriver, type OctoPrintExtraOptions, createOctoPrintDriver } from "../../hub/src/adapters/printer/network/octoprint.ts";
import type { PrinterDeviceConfig } from "../../hub/src/adapters/printer/rules.ts";
import { systemClock } from "../../hub/src/core/clock.ts";
import { HubError } from "../../hub/src/core/errors.ts";
import { type Logger, silentLogger } from "../../hub/src/core/logger.ts";
import type { NetPrinterSimHandle } from "../../simulators/printer-net/machine.ts";
import { type OctoPrintSimHandle, startOctoPrintSim } from "../../simulators/printer-net/octoprint.ts";

const CATALOGUE = path.resolve("printers/catalogue");
const SMALL: Partial<NetworkDriverOptions> = { staleAfterMs: 1500, reconnectMinMs: 200, reconnectMaxMs: 1000, startTimeoutMs: 30_000 };

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

/** `auth` null = none in the config. */
function config(sim: NetPrinterSimHandle, auth: PrinterDeviceConfig["auth"] | null = sim.auth, url = sim.url): PrinterDeviceConfig {
  return { kind: "printer", id: "octo-1", name: "OctoPrint 1", url, protocol: "octoprint", ...(auth === null ? {} : { auth }), lostAfterS: 15, simulated: true, catalogue: CATALOGUE, idleHeaterTimeoutS: 600, resetRoles: ["technician"] };
}

describe("OctoPrint driver and simulator", { timeout: 120_000 }, () => {
  let sim: NetPrinterSimHandle | undefined;
  let driver: OctoPrintDriver | undefined;
  let dir: string | undefined;
  const states: Array<{ state: DriverState; reason: string }> = [];
  const halts: Array<{ kind: string; message: string }> = [];
  const doors: boolean[] = [];
  const temps: number[] = [];

  async function boot(options: Partial<NetworkDriverOptions & OctoPrintExtraOptions> = {}): Promise<{ sim: OctoPrintSimHandle; driver: OctoPrintDriver }> {
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-octoprint-"));
    writeFileSync(path.join(dir, "long.gcode"), model(400));
    const started = await startOctoPrintSim({ machineOptions: { speedFactor: 50, heatFactor: 20 }, reportIntervalMs: 250 });
    sim = started;
    const d = createOctoPrintDriver(config(started), { clock: systemClock, logger: silentLogger }, { ...SMALL, ...options });
    expect(d).toBeInstanceOf(OctoPrintDriver);
    driver = d as OctoPrintDriver;
    driver.on("state", (state, reason) => states.push({ state, reason }));
    driver.on("halt", (kind, message) => halts.push({ kind, message }));
    driver.on("door", (open) => doors.push(open));
    driver.on("temperature", (t) => {
      if (t.hotend !== null) temps.push(t.hotend.actual);
    });
    driver.start();
    await until(() => driver?.state === "operational", "the driver operational");
    return { sim: started, driver: driver };
  }

  /** What the station does with a job when its printer goes away (station.ts onDriverState). */
  function followLikeAStation(d: OctoPrintDriver, job: PrinterJob): void {
    d.on("state", (state, reason) => {
      if (state === "disconnected") job.abort(`the printer went away (${reason}): the job is stopped`);
    });
  }

  afterEach(async () => {
    await driver?.stop();
    await sim?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    driver = undefined;
    sim = undefined;
    dir = undefined;
    states.length = 0;
    halts.length = 0;
    doors.length = 0;
    temps.length = 0;
  });

  it("connects over the push socket: operational, firmware identified, temperatures, no door", async () => {
    const { driver: d } = await boot();
    expect(d.firmware.FIRMWARE_NAME).toBe("OctoPrint 1.11.8");
    expect(d.firmware.MACHINE_TYPE).toBe("TEC Sim OctoPrint Printer");
    expect(d.capability("THERMAL_PROTECTION")).toBe(true);
    expect(d.protocol).toBe("octoprint");
    expect(d.catalogueExtensions).toEqual([".gcode"]);
    await until(() => d.mode === "push", "push mode");
    const s = await until(() => d.status(), "a status");
    expect(s.raw).toBe("Operational");
    expect(s.job).toBe("idle");
    expect(s.hotend?.actual).toBeGreaterThan(10);
    expect(s.bed?.target).toBe(0);
    expect(s.doorOpen).toBeNull(); // OctoPrint has no door signal
    await until(() => temps.length >= 3, "temperature reports");
    // A heater target set at the printer shows in the pushed temperatures.
    sim!.machine.setTargets(60, null);
    await until(() => (d.status()?.hotend?.target === 60 ? true : undefined), "the new target pushed");
    sim!.machine.setDoor(true); // the machine behind OctoPrint has no door contact
    expect(doors).toEqual([]);
    expect(d.status()?.doorOpen).toBeNull();
    expect(d.lastError).toBeNull();
  });

  it("says a refused API key plainly (HTTP 403) without the key, and retries", async () => {
    sim = await startOctoPrintSim({});
    const wrong = "not-the-right-key-S3CRET-42";
    const logged: string[] = [];
    const recorder: Logger = {
      debug: (o, m) => logged.push(JSON.stringify(o) + (m ?? "")),
      info: (o, m) => logged.push(JSON.stringify(o) + (m ?? "")),
      warn: (o, m) => logged.push(JSON.stringify(o) + (m ?? "")),
      error: (o, m) => logged.push(JSON.stringify(o) + (m ?? "")),
      child: () => recorder,
    };
    const d = createOctoPrintDriver(config(sim, { apiKey: wrong }), { clock: systemClock, logger: recorder }, SMALL) as OctoPrintDriver;
    driver = d;
    const messages: string[] = [];
    d.on("message", (text) => messages.push(text));
    d.start();
    const error = await until(() => d.lastError, "the connect error");
    expect(error).toContain("OctoPrint refused the API key");
    expect(error).toContain("HTTP 403");
    expect(error).toContain("auth.apiKey");
    expect(error).not.toContain(wrong);
    expect(messages.join("\n")).not.toContain(wrong);
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.join("\n")).not.toContain(wrong);
    expect(d.state).not.toBe("operational");
    await until(() => (d.stats.connectFailures ?? 0) >= 2, "a retry with backoff");
    // The right key on a printer that refuses everything (refuseCredentials) is refused the same way.
    await d.stop();
    sim.refuseCredentials(true);
    const d2 = createOctoPrintDriver(config(sim), { clock: systemClock, logger: silentLogger }, SMALL) as OctoPrintDriver;
    driver = d2;
    d2.start();
    expect(await until(() => d2.lastError, "the connect error")).toContain("refused the API key");
    sim.refuseCredentials(false);
    await until(() => d2.state === "operational", "operational once the key is accepted");
  });

  it("sends a catalogue file, which prints with rising progress; pause, resume and cancel", async () => {
    const { sim: s, driver: d } = await boot();
    const file = path.join(CATALOGUE, "name-tag.gcode");
    const job = d.createJob("name-tag", file, systemClock);
    const done = job.run();
    const printing = await until(() => (d.status()?.job === "printing" ? d.status() : undefined), "the printer reports printing");
    expect(printing.file).toBe("name-tag.gcode");
    expect(s.machine.files.get("name-tag.gcode")?.length).toBeGreaterThan(1000); // the file went up as it is
    const first = await until(() => ((d.status()?.progressPct ?? 0) > 0 ? d.status()?.progressPct : undefined), "progress above 0");
    await until(() => ((d.status()?.progressPct ?? 0) > first ? true : undefined), "progress rising");
    expect(d.status()?.elapsedS).toBeGreaterThanOrEqual(0);
    expect(job.state).toBe("running");

    await job.pause();
    expect(job.state).toBe("paused");
    expect(s.machine.status().job).toBe("paused");
    await until(() => d.status()?.job === "paused", "the printer reports paused");
    expect(d.status()?.raw).toBe("Paused");

    await job.resume();
    expect(job.state).toBe("running");
    expect(s.machine.status().job).toBe("printing");
    await until(() => d.status()?.job === "printing", "printing again");

    await job.cancel("the instructor stopped it");
    expect(job.state).toBe("cancelled");
    expect(s.machine.status().job).toBe("cancelled");
    const p = await done;
    expect(p.state).toBe("cancelled");
    // OctoPrint's afterPrintCancelled script: heaters off.
    await until(() => (s.machine.status().hotend.target === 0 && s.machine.status().bed.target === 0 ? true : undefined), "heaters off after the cancel");
    await until(() => d.status()?.raw === "Operational", "operational after the cancel");
    expect(d.status()?.job).toBe("cancelled"); // from the PrintCancelled event
  });

  it("e-stop: M112 through OctoPrint closes the port and halts the firmware; the reset reconnects it", async () => {
    const { sim: s, driver: d } = await boot();
    const job = d.createJob("long", path.join(dir!, "long.gcode"), systemClock);
    const done = job.run();
    await until(() => d.status()?.job === "printing", "printing");
    await d.emergencyStop("e-stop button");
    expect((await done).state).toBe("failed");
    expect(s.machine.status().machine).toBe("halted");
    expect(s.machine.status().hotend.target).toBe(0);
    // The hub's own stop: halted from the request on (no second halt for what the printer then says).
    expect(d.state).toBe("halted");
    const after = await until(() => (d.status()?.raw === "Offline after error" ? d.status() : undefined), "OctoPrint reports the port closed");
    expect(after.fault).toMatch(/M112/);
    expect(after.job).toBe("error");
    expect(after.hotend).toBeNull(); // no readings with the port closed
    expect(halts).toEqual([]);
    expect(d.state).toBe("halted");
    // The station's reset: OctoPrint opens the port again, the board resets.
    await d.reconnect();
    await until(() => s.machine.status().machine === "ready", "the printer reset");
    await until(() => d.state === "operational" && d.status()?.raw === "Operational", "operational after the reset");
  });

  it("a dropped connection: disconnected, the job fails, and the driver reconnects with a fresh login", async () => {
    const { sim: s, driver: d } = await boot();
    await until(() => d.mode === "push", "push mode");
    const job = d.createJob("long", path.join(dir!, "long.gcode"), systemClock);
    followLikeAStation(d, job);
    const done = job.run();
    await until(() => d.status()?.job === "printing", "printing");
    const connects = d.stats.connects;
    s.dropConnections();
    await until(() => d.state === "disconnected", "disconnected");
    expect(states.find((x) => x.state === "disconnected")?.reason).toMatch(/socket closed/);
    const p = await done;
    expect(p.state).toBe("failed");
    expect(p.reason).toMatch(/went away/);
    await until(() => d.state === "operational" && d.stats.connects > connects, "reconnected");
    await until(() => d.mode === "push", "push again (the old session was dropped: a new login)");
  });

  it("a silent printer is lost after staleAfterMs and found again", async () => {
    const { sim: s, driver: d } = await boot();
    await until(() => d.mode === "push", "push mode");
    const silentAt = Date.now();
    s.setSilent(true);
    await until(() => d.state === "disconnected", "lost", 10_000);
    const tookMs = Date.now() - silentAt;
    expect(tookMs).toBeGreaterThanOrEqual(1000);
    expect(states.find((x) => x.state === "disconnected")?.reason).toMatch(/no status from the printer/);
    expect(d.stats.staleLosses).toBe(1);
    s.setSilent(false);
    await until(() => d.state === "operational", "operational again");
  });

  it("a heater fault mid-print is state Error with the firmware's words: a halt, the job fails", async () => {
    const { sim: s, driver: d } = await boot();
    const job = d.createJob("long", path.join(dir!, "long.gcode"), systemClock);
    const done = job.run();
    await until(() => d.status()?.job === "printing", "printing");
    s.machine.inject({ kind: "heaterFailure", heater: "hotend" });
    const halt = await until(() => halts[0], "a halt event", 60_000);
    expect(halt.kind).toBe("heating-failed");
    expect(halt.message).toMatch(/Heating failed/);
    expect(d.state).toBe("halted");
    expect(d.status()?.raw).toBe("Error");
    const p = await done;
    expect(p.state).toBe("failed");
    expect(p.reason).toMatch(/Heating failed/);
    // The reset: OctoPrint disconnects and connects the port again, which resets the board.
    await d.reconnect();
    await until(() => s.machine.status().machine === "ready", "the printer reset");
    await until(() => d.state === "operational" && d.status()?.raw === "Operational", "operational after the reset");
  });

  it("a sensor fault while idle (MINTEMP once heated) is a halt too", async () => {
    const { sim: s, driver: d } = await boot();
    s.machine.inject({ kind: "sensorOpen", heater: "hotend" });
    s.machine.setTargets(200, null);
    const halt = await until(() => halts[0], "a halt event");
    expect(halt.kind).toBe("mintemp");
    expect(d.state).toBe("halted");
  });

  it("an expired session (reauthRequired, or plain silence on the socket): a fresh login, the printer is never lost", async () => {
    const { sim: s, driver: d } = await boot();
    await until(() => d.socketLogins === 1, "the first socket login");
    s.expireSessions("reauth");
    await until(() => d.socketLogins === 2, "a new login after reauthRequired");
    s.expireSessions("silent");
    await until(() => d.socketLogins === 3, "a new login after a quiet socket", 10_000);
    expect(d.socketRestarts).toBe(2);
    expect(states.filter((x) => x.state === "disconnected")).toEqual([]);
    expect(d.state).toBe("operational");
    expect(d.stats.staleLosses).toBe(0);
  });

  it("OctoPrint without its printer (disconnected in OctoPrint): lost, said plainly, found when connected again", async () => {
    const { sim: s, driver: d } = await boot();
    const post = (command: string) =>
      fetch(`${s.url}/api/connection`, { method: "POST", headers: { "X-Api-Key": s.auth.apiKey!, "Content-Type": "application/json" }, body: JSON.stringify({ command }) });
    expect((await post("disconnect")).status).toBe(204);
    await until(() => d.state === "disconnected", "lost");
    expect(states.find((x) => x.state === "disconnected")?.reason).toMatch(/no printer connected/);
    const why = await until(() => (d.lastError?.includes("Connection panel") ? d.lastError : undefined), "the reconnect says why");
    expect(why).toMatch(/has no printer connected \(state Offline\)/);
    expect((await post("connect")).status).toBe(204);
    await until(() => d.state === "operational", "operational once OctoPrint has its printer again");
  });

  it("polls REST when the socket is not used", async () => {
    const { sim: s, driver: d } = await boot({ push: false, pollMs: 300 });
    expect(d.mode).toBe("poll");
    const job = d.createJob("long", path.join(dir!, "long.gcode"), systemClock);
    const done = job.run();
    await until(() => d.status()?.job === "printing", "printing (polled)");
    await until(() => ((d.status()?.progressPct ?? 0) > 0 ? true : undefined), "progress (polled)");
    await job.cancel("test");
    expect((await done).state).toBe("cancelled");
    expect(s.machine.status().job).toBe("cancelled");
  });

  it("checks the config: url scheme and auth.apiKey named", async () => {
    sim = await startOctoPrintSim({});
    const ctx = { clock: systemClock, logger: silentLogger };
    const bad = (c: PrinterDeviceConfig) => {
      try {
        createOctoPrintDriver(c, ctx);
      } catch (error) {
        expect(error).toBeInstanceOf(HubError);
        expect((error as HubError).code).toBe("CONFIG_INVALID");
        return (error as Error).message;
      }
      throw new Error("accepted a bad config");
    };
    expect(bad(config(sim, null))).toMatch(/devices: printer "octo-1": auth.apiKey is required/);
    expect(bad(config(sim, sim.auth, "ws://127.0.0.1:5000"))).toMatch(/url must start with http/);
    expect(bad(config(sim, sim.auth, "http://key@127.0.0.1:5000"))).toMatch(/no user/);
    const d = await createNetworkDriver(config(sim), ctx);
    expect(d.protocol).toBe("octoprint");
  });
});
