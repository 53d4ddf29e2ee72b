/**
 * The Firmata robot arm station over a real pseudo-terminal: the StandardFirmata board simulator
 * speaks real Firmata bytes, johnny-five drives it, the same demo state machine guards it. And the
 * same arm as StandardFirmataWiFi over a real TCP socket, as the demo runs it where socat is missing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../hub/src/config/load.ts";
import type { HubConfigInput } from "../../hub/src/config/schema.ts";
import type { StationView } from "../../hub/src/core/stations/stations.ts";
import { openPtyPair, type PtyPair } from "../../simulators/common/pty-pair.ts";
import { type DemoHardware, startDemoHardware } from "../../simulators/demo.ts";
import { type FirmataBoardHandle, startFirmataBoard } from "../../simulators/firmata-board/index.ts";
import { baseConfig, bootHarness, type Harness, until } from "./harness.ts";
import { staff } from "./safety-world.ts";

type Devices = NonNullable<HubConfigInput["devices"]>;

function armDevice(url: string): Devices[number] {
  return {
    kind: "robot-firmata",
    id: "robot-arm",
    name: "Robotarm",
    url,
    simulated: true,
    doorPin: 2,
    maxSpeedDegS: 120,
    servos: [
      { pin: 3, minDeg: 10, maxDeg: 170, homeDeg: 90 },
      { pin: 5, minDeg: 30, maxDeg: 150, homeDeg: 90 },
      { pin: 6, minDeg: 30, maxDeg: 150, homeDeg: 90 },
      { pin: 9, minDeg: 0, maxDeg: 90, homeDeg: 45 },
    ],
    programs: {
      zwaaien: [
        { anglesDeg: [60, 90, 90, 45], durationMs: 300 },
        { anglesDeg: [120, 90, 90, 45], durationMs: 500 },
        { anglesDeg: [90, 90, 90, 45], durationMs: 300 },
      ],
      langzaam: [
        { anglesDeg: [170, 150, 150, 90], durationMs: 5000 },
        { anglesDeg: [10, 30, 30, 0], durationMs: 5000 },
      ],
    },
  };
}

describe("robot arm station (StandardFirmata)", () => {
  let h: Harness;
  let pty: PtyPair;
  let board: FirmataBoardHandle;
  let juf: Awaited<ReturnType<typeof staff>>;

  beforeAll(async () => {
    pty = await openPtyPair();
    board = await startFirmataBoard({ pty, pins: { 2: 1 } });
    h = await bootHarness({ devices: [armDevice(board.url)], users: [{ name: "juf", role: "instructor", pin: "1234" }] });
    juf = await staff(h, "juf");
    await until(async () => (await station()).state !== "offline", 15_000, "arm connected");
    expect((await juf("visit.start", { label: "Groep 8", stations: ["robot-arm"], minutes: 30 })).body.ok).toBe(true);
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await board?.stop();
    await pty?.close();
  });

  const station = async () => (await h.get<{ result: StationView }>("/api/stations/robot-arm")).body.result;

  it("runs an approved program; the simulated servos follow, within the joint limits", async () => {
    const angles: number[] = [];
    board.events.on("servo", (w) => {
      if (w.pin === 3 && w.kind === "write") angles.push(w.targetDeg);
    });
    expect((await juf("station.start", { station: "robot-arm", program: "zwaaien" })).body).toMatchObject({ ok: true });
    await until(async () => (await station()).details.programState === "done", 15_000, "program done");
    expect(Math.min(...angles)).toBeGreaterThanOrEqual(55);
    expect(Math.max(...angles)).toBeLessThanOrEqual(125);
    expect(angles.some((a) => a > 110)).toBe(true);
  });

  it("refuses a start with the guard open, naming why", async () => {
    board.setDigitalInput(2, 0);
    await until(async () => (await station()).details.doorClosed === false, 5000, "door open seen");
    const r = await juf("station.start", { station: "robot-arm", program: "zwaaien" });
    expect(r.body.ok).toBe(false);
    expect((r.body as { reason?: { en: string } }).reason?.en).toMatch(/The door of Robotarm is open\./);
    board.setDigitalInput(2, 1);
    await until(async () => (await station()).details.doorClosed === true, 5000, "door closed seen");
  });

  it("a board unplugged mid-program stops the station and says why; plugged back in, it is ready again", async () => {
    expect((await juf("station.start", { station: "robot-arm", program: "langzaam" })).body.ok).toBe(true);
    await until(async () => (await station()).state === "running", 5000, "running");
    await board.unplug();
    const lost = await until(async () => {
      const v = await station();
      return v.state === "offline" ? v : undefined;
    }, 10_000, "offline");
    expect(lost.stateReason.en).toMatch(/connection to .* is lost/);
    await board.replug();
    await until(async () => (await station()).state !== "offline", 15_000, "back");
  });
});

describe("robot arm station over TCP (StandardFirmataWiFi), as the demo runs it without socat", () => {
  let dir: string;
  let hardware: DemoHardware;
  let h: Harness;
  let juf: Awaited<ReturnType<typeof staff>>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-arm-tcp-"));
    const { config } = parseConfig(baseConfig(dir, { devices: [armDevice("sim://robot-arm")] }));
    // A socat that is not there: the demo's simulated hardware falls back to TCP.
    hardware = await startDemoHardware(config, dir, { socat: path.join(dir, "no-socat-here"), cellPort: 0 });
    h = await bootHarness({ devices: hardware.config.devices, users: [{ name: "juf", role: "instructor", pin: "1234" }] });
    juf = await staff(h, "juf");
    await until(async () => (await station()).state !== "offline", 15_000, "arm connected");
    expect((await juf("visit.start", { label: "Groep 7", stations: ["robot-arm"], minutes: 30 })).body.ok).toBe(true);
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await hardware?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  const station = async () => (await h.get<{ result: StationView }>("/api/stations/robot-arm")).body.result;

  it("is served over a real TCP socket instead of being left out", () => {
    const device = hardware.config.devices.find((d) => d.id === "robot-arm");
    expect(device?.kind === "robot-firmata" ? device.url : null).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(hardware.arms.get("robot-arm")?.url).toBe(device?.kind === "robot-firmata" ? device.url : null);
    expect(hardware.notes.join("\n")).toMatch(/socat is not installed: .*Firmata arms talk over TCP/);
    expect(hardware.notes.join("\n")).not.toMatch(/left out/);
  });

  it("the device shows the firmware as the board names itself", async () => {
    const device = await h.get<{ result: { firmware: string } }>("/api/devices/robot-arm");
    expect(device.body.result.firmware).toBe("StandardFirmata.ino 2.5");
  });

  it("runs an approved program, homing each servo with its first pulse", async () => {
    const board = hardware.arms.get("robot-arm");
    if (board === undefined) throw new Error("no simulated arm");
    const first = new Map<number, number>();
    board.events.on("firstPulse", (p) => first.set(p.pin, p.targetDeg));
    expect((await juf("station.start", { station: "robot-arm", program: "zwaaien" })).body).toMatchObject({ ok: true });
    await until(async () => (await station()).details.programState === "done", 15_000, "program done");
    expect([...first.entries()].map(([pin, deg]) => [pin, Math.round(deg)])).toEqual([
      [3, 90],
      [5, 90],
      [6, 90],
      [9, 45],
    ]);
  });

  it("a dropped connection mid-program stops the station; when the board is back, it is ready again", async () => {
    const board = hardware.arms.get("robot-arm");
    if (board === undefined) throw new Error("no simulated arm");
    expect((await juf("station.start", { station: "robot-arm", program: "langzaam" })).body.ok).toBe(true);
    await until(async () => (await station()).state === "running", 5000, "running");
    await board.unplug();
    await until(async () => (await station()).state === "offline", 10_000, "offline");
    await board.replug();
    await until(async () => (await station()).state !== "offline", 15_000, "back");
  });
});
