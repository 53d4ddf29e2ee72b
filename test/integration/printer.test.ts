/**
 * Printer stations against the Marlin simulator over real pseudo-terminals: a whole print, the
 * enclosure door, the firmware's and the hub's own thermal protection, line noise, garbage, an
 * unplug mid-print, a firmware kill, and firmware without thermal protection.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { StationView } from "../../hub/src/core/stations/stations.ts";
import { openPtyPair, type PtyPair } from "../../simulators/common/pty-pair.ts";
import type { PrinterFault } from "../../simulators/printer/faults.ts";
import { type PrinterSimHandle, startPrinterSim } from "../../simulators/printer/index.ts";
import { bootHarness, type Harness, until } from "./harness.ts";
import { interlock, staff } from "./safety-world.ts";

/** A short demo model: heat, home, a few layers of moves, done — seconds at the simulator's speed. */
function tinyModel(layers: number, hotendC = 200, bedC = 50): string {
  const lines = [`M140 S${bedC}`, `M104 S${hotendC}`, `M190 S${bedC}`, `M109 S${hotendC}`, "G28", "G92 E0"];
  for (let l = 1; l <= layers; l++) {
    lines.push(`;LAYER:${l}`, `G1 Z${(l * 0.2).toFixed(1)} F600`);
    for (const [x, y] of [
      [100, 100],
      [120, 100],
      [120, 120],
      [100, 120],
    ] as const) {
      lines.push(`G1 X${x} Y${y} E${(l * 0.5).toFixed(2)} F3000`);
    }
  }
  lines.push("M104 S0", "M140 S0", "G28 X0", "M84");
  return `${lines.join("\n")}\n`;
}

describe("printer station (Marlin over a pty)", () => {
  let h: Harness | undefined;
  let pty: PtyPair | undefined;
  let sim: PrinterSimHandle | undefined;
  let dir: string;

  /** `faults` are injected before the hub connects (what M115 says depends on them). */
  async function boot(faults: PrinterFault[] = [], idleHeaterTimeoutS = 600): Promise<Harness> {
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-printer-"));
    const catalogue = path.join(dir, "catalogue");
    mkdirSync(catalogue);
    writeFileSync(path.join(catalogue, "tiny.gcode"), tinyModel(3));
    writeFileSync(path.join(catalogue, "long.gcode"), tinyModel(200));
    pty = await openPtyPair();
    sim = await startPrinterSim({ pty, speedFactor: 50, heatFactor: 20, name: "TEC Sim Printer" });
    for (const f of faults) sim.firmware.inject(f);
    h = await bootHarness({
      devices: [
        { kind: "printer", id: "printer-1", name: "Printer 1", url: sim.url, simulated: true, door: "enclosure.doorOpen", catalogue, idleHeaterTimeoutS },
        { kind: "mqtt", id: "enclosure", name: "Printerkast", password: "pw-enclosure" },
      ],
      users: [
        { name: "juf", role: "instructor", pin: "1234" },
        { name: "tech", role: "technician", password: "technician" },
      ],
    });
    return h;
  }

  afterEach(async () => {
    await h?.close();
    await sim?.stop();
    await pty?.close();
    rmSync(dir, { recursive: true, force: true });
    h = undefined;
    sim = undefined;
    pty = undefined;
  });

  const station = async (hh: Harness) => (await hh.get<{ result: StationView }>("/api/stations/printer-1")).body.result;

  /** Connected, and every permissive heard from (the door contact fresh): a start can pass. */
  const ready = (hh: Harness) => until(async () => (await station(hh)).state === "idle" && (await station(hh)).startable.ok, 15_000, "printer connected and startable");

  /** The enclosure's door contact as an MQTT device, closed unless told otherwise. */
  async function door(hh: Harness) {
    const dev = await hh.device("enclosure", { password: "pw-enclosure" });
    await dev.describe({ model: "DOOR", firmware: "1", boot: 1, channels: { doorOpen: { unit: "", min: 0, max: 1, periodMs: 300 } }, actuators: {} });
    let open = 0;
    const timer = setInterval(() => void dev.tele({ doorOpen: open }).catch(() => {}), 100);
    return {
      set: (v: number) => {
        open = v;
      },
      stop: () => clearInterval(timer),
    };
  }

  it("prints a catalogue model from start to finish, with temperatures, progress and time left, and records it", async () => {
    const hh = await boot();
    const d = await door(hh);
    try {
      await ready(hh);
      expect((await station(hh)).catalogue).toEqual(["long", "tiny"]);
      const juf = await staff(hh, "juf");
      const r = await juf("station.start", { station: "printer-1", program: "tiny" });
      expect(r.body, JSON.stringify(r.body)).toMatchObject({ ok: true });
      const seen = await until(async () => {
        const v = await station(hh);
        return v.state === "running" && (v.progress?.pct ?? 0) > 0 ? v : undefined;
      }, 15_000, "progress");
      expect(seen.program).toBe("tiny");
      expect(seen.progress?.timeLeftS).not.toBeNull();
      await until(async () => (await station(hh)).state === "idle", 30_000, "print done");
      const device = (await hh.get<{ result: { kind: string; state: string; firmware: string; channels: Record<string, { value: number | null }> } }>("/api/devices/printer-1")).body.result;
      expect(device.kind).toBe("printer");
      expect(device.firmware).toMatch(/Marlin/);
      expect(device.channels.bedTempC?.value).toBeGreaterThan(30);
      const jobs = (await hh.get<{ result: Array<{ program: string; state: string; actor: string; progressPct: number }> }>("/api/jobs?station=printer-1")).body.result;
      expect(jobs[0]).toMatchObject({ program: "tiny", state: "done", actor: "juf", progressPct: 100 });
    } finally {
      d.stop();
    }
  });

  it("an open enclosure door forbids a start and pauses a running print, with a readable reason", async () => {
    const hh = await boot();
    const d = await door(hh);
    try {
      await until(async () => (await station(hh)).state === "idle", 15_000, "printer connected");
      const juf = await staff(hh, "juf");
      d.set(1);
      await until(async () => (await interlock(hh, "printer-1-door")).status === "tripped", 5000, "door rule");
      const refused = await juf("station.start", { station: "printer-1", program: "tiny" });
      expect(refused.body).toMatchObject({ ok: false, code: "INTERLOCK_TRIPPED" });
      expect(!refused.body.ok && refused.body.reason?.nl).toMatch(/De deur van Printer 1 staat open\./);
      d.set(0);
      await until(async () => (await interlock(hh, "printer-1-door")).status === "normal", 5000, "door closed");
      expect((await juf("station.start", { station: "printer-1", program: "long" })).body.ok).toBe(true);
      await until(async () => (await station(hh)).state === "running", 15_000, "printing");
      d.set(1);
      const paused = await until(async () => {
        const v = await station(hh);
        return v.state === "paused" ? v : undefined;
      }, 10_000, "paused by the door");
      expect(paused.stateReason.en).toMatch(/paused/);
      d.set(0);
      await until(async () => (await interlock(hh, "printer-1-door")).status === "normal", 5000, "door closed again");
      // The door closing does not resume by itself: a reset or a closed door restarts nothing.
      expect((await station(hh)).state).toBe("paused");
      expect((await juf("station.resume", { station: "printer-1" })).body.ok).toBe(true);
      await until(async () => (await station(hh)).state === "running", 5000, "resumed");
      expect((await juf("station.stop", { station: "printer-1" })).body.ok).toBe(true);
      const jobs = (await hh.get<{ result: Array<{ state: string; reason: string }> }>("/api/jobs?station=printer-1")).body.result;
      expect(jobs[0]).toMatchObject({ state: "cancelled" });
    } finally {
      d.stop();
    }
  });

  it.each([
    ["thermal runaway reported by the firmware", { kind: "heaterFailure" }, "printer-1-firmware", /thermal runaway|heating failed/i],
    ["a silent heater failure the firmware misses (the hub's watchdog catches it)", { kind: "heaterFailure", silent: true }, "printer-1-thermal", /not heating|did not gain/],
    ["an open temperature sensor (MINTEMP)", { kind: "sensorOpen" }, "printer-1-firmware", /MINTEMP/],
  ] as Array<[string, PrinterFault, string, RegExp]>)("%s: the printer stops and a latched trip explains why", async (_name, fault, rule, reason) => {
    const hh = await boot();
    const d = await door(hh);
    try {
      await ready(hh);
      const juf = await staff(hh, "juf");
      sim?.firmware.inject(fault);
      await juf("station.start", { station: "printer-1", program: "tiny" });
      const trip = await until(async () => {
        const v = await interlock(hh, rule);
        return v.status !== "normal" && v.status !== "waiting" ? v : undefined;
      }, 30_000, `${rule} tripped`);
      expect(trip.latched).toBe(true);
      expect(`${trip.cause?.detail.en ?? ""}`).toMatch(reason);
      expect((await station(hh)).state).toBe("faulted");
      // The hub cannot see a halted firmware's cause go: the interlock says what its reset does.
      expect(trip.resetEffect?.en).toMatch(/restarts its firmware/);
      expect((await station(hh)).startable).toMatchObject({ ok: false });
    } finally {
      d.stop();
    }
  });

  it("the emergency stop sends M112 at once, the job stops and says why; after the reset the printer is ready, printing nothing", async () => {
    const hh = await boot();
    const d = await door(hh);
    try {
      await ready(hh);
      const juf = await staff(hh, "juf");
      await juf("station.start", { station: "printer-1", program: "long" });
      await until(async () => (await station(hh)).state === "running", 15_000, "printing");
      expect((await juf("estop.trigger")).body.ok).toBe(true);
      // M112 jumps the queue: the firmware is killed, not merely paused.
      await until(() => sim?.firmware.snapshot().state === "killed", 5000, "firmware killed by M112");
      await until(async () => (await station(hh)).state === "faulted", 5000, "faulted");
      const jobs = (await hh.get<{ result: Array<{ state: string; reason: string }> }>("/api/jobs?station=printer-1")).body.result;
      expect(jobs[0]).toMatchObject({ state: "failed" });
      expect(jobs[0]?.reason).toMatch(/emergency stop/);
      expect((await juf("interlock.reset", { id: "estop" })).body.ok).toBe(true);
      await until(async () => (await station(hh)).state === "idle", 15_000, "ready again after the reset");
      expect((await station(hh)).program).toBeNull();
    } finally {
      d.stop();
    }
  });

  it("refuses to heat a printer whose M115 reports no thermal protection", async () => {
    const hh = await boot([{ kind: "noThermalProtection" }]);
    const d = await door(hh);
    try {
      await until(async () => (await station(hh)).details.thermalProtection === false, 15_000, "capabilities read");
      const juf = await staff(hh, "juf");
      const r = await juf("station.start", { station: "printer-1", program: "tiny" });
      expect(r.body).toMatchObject({ ok: false, code: "INTERLOCK_TRIPPED" });
      expect(!r.body.ok && r.body.reason?.en).toMatch(/no thermal protection/);
    } finally {
      d.stop();
    }
  });

  it("survives line noise (resends) and garbage, and finishes the print", async () => {
    const hh = await boot([
      // Noisy enough that a short print meets it for certain: which lines the seeded noise hits
      // depends on how many the handshake and temperature reports took first.
      { kind: "lineNoise", probability: 0.25 },
      { kind: "garbageOutput", probability: 0.2 },
    ]);
    const d = await door(hh);
    try {
      await ready(hh);
      const juf = await staff(hh, "juf");
      const r = await juf("station.start", { station: "printer-1", program: "tiny" });
      expect(r.body).toMatchObject({ ok: true });
      await until(async () => (await station(hh)).state === "running", 15_000, "printing");
      await until(async () => (await station(hh)).state === "idle", 60_000, "print done despite noise");
      const v = await station(hh);
      const link = v.details.link as { resends: number; garbageLines: number };
      expect(link.resends).toBeGreaterThan(0);
      expect(link.garbageLines).toBeGreaterThan(0);
      expect((await hh.get<{ result: Array<{ state: string }> }>("/api/jobs?station=printer-1")).body.result[0]?.state).toBe("done");
    } finally {
      d.stop();
    }
  });

  it("unplugged mid-print: the job stops and says why; plugged back in, the fault holds until a reset, which starts nothing", async () => {
    const hh = await boot();
    const d = await door(hh);
    try {
      await ready(hh);
      const juf = await staff(hh, "juf");
      await juf("station.start", { station: "printer-1", program: "long" });
      await until(async () => (await station(hh)).state === "running", 15_000, "printing");
      await sim?.unplug();
      await until(async () => (await station(hh)).state === "offline", 10_000, "offline");
      const jobs = (await hh.get<{ result: Array<{ state: string; reason: string }> }>("/api/jobs?station=printer-1")).body.result;
      expect(jobs[0]?.state).toBe("failed");
      expect(jobs[0]?.reason).toMatch(/went away/);
      // Refused while the printer is still away: its cause is present.
      const tech = await staff(hh, "tech");
      const early = await tech("interlock.reset", { id: "printer-1-fault" });
      expect(early.body).toMatchObject({ ok: false, code: "INTERLOCK_TRIPPED" });
      await sim?.replug();
      // Back, but the lost print latched a fault: no start until someone resets it.
      await until(async () => (await station(hh)).details.firmware !== null && (await interlock(hh, "printer-1-fault")).resetBlocked === null, 20_000, "printer back, fault resettable");
      const s = await station(hh);
      expect(s.state).toBe("faulted");
      expect(s.startable).toMatchObject({ ok: false });
      expect((await juf("station.start", { station: "printer-1", program: "tiny" })).body).toMatchObject({ ok: false, code: "INTERLOCK_TRIPPED" });
      expect((await tech("interlock.reset", { id: "printer-1-fault" })).body).toMatchObject({ ok: true });
      await until(async () => (await station(hh)).state === "idle", 20_000, "ready again after the reset");
      expect((await station(hh)).program).toBeNull();
      expect((await station(hh)).startable).toMatchObject({ ok: true });
    } finally {
      d.stop();
    }
  });
});
