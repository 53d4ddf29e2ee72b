/**
 * The arm driver against the StandardFirmata simulator over real ptys (socat): johnny-five,
 * firmata-io and serialport exactly as with an Arduino on /dev/ttyACM0 (connection.test.ts covers
 * finding the board, the handshake deadline and TCP). Real time, because the
 * transport and firmata.js's own timers need it; programs are short. Assertions are on what the
 * board received (step sizes, limits, final poses), never on how fast the machine was.
 */
import { SerialPort } from "serialport";
import { afterEach, describe, expect, it, vi } from "vitest";
import { systemClock } from "../../core/clock.ts";
import { HubError } from "../../core/errors.ts";
import { silentLogger } from "../../core/logger.ts";
import { OPERATIONAL_MODE, type RobotStatus } from "../../core/robots/driver.ts";
import { type PtyPair, openPtyPair } from "../../../../simulators/common/pty-pair.ts";
import { encodeAnalogWrite, encodeServoConfig } from "../../../../simulators/firmata-board/codec.ts";
import { type FirmataBoardHandle, type ServoWrite, startFirmataBoard } from "../../../../simulators/firmata-board/index.ts";
import { BOARD_DISCONNECTED, DOOR_OPENED, FirmataArmDriver } from "./driver.ts";
import { SERVO_PWM_RANGE_US, servoPulseUs } from "./five.ts";
import type { ArmServoConfig, FirmataArmOptions } from "./options.ts";

const SERVOS: ArmServoConfig[] = [
  { pin: 3, minDeg: 20, maxDeg: 160, homeDeg: 90 },
  { pin: 5, minDeg: 10, maxDeg: 170, homeDeg: 90 },
  { pin: 6, minDeg: 30, maxDeg: 150, homeDeg: 90 },
  { pin: 9, minDeg: 0, maxDeg: 180, homeDeg: 45 },
  { pin: 10, minDeg: 45, maxDeg: 135, homeDeg: 90 },
];
const PINS = SERVOS.map((s) => s.pin);
const MAX_SPEED_DEG_S = 180;
const STEP_MS = 50;
/** johnny-five sends whole microseconds (10 us per degree): a commanded angle lands within 0.1 deg. */
const PULSE_DEG = 0.1;

const PROGRAMS: FirmataArmOptions["programs"] = {
  pick: [
    { anglesDeg: [120, 60, 90, 45, 90], durationMs: 100 },
    { anglesDeg: [200, 60, 10, 60, 90], durationMs: 0 }, // joints 0 and 2 beyond their limits
  ],
  slow: [{ anglesDeg: [160, 120, 90, 45, 90], durationMs: 3000 }],
};

interface Rig {
  pty: PtyPair;
  sim: FirmataBoardHandle;
  arm: FirmataArmDriver;
  writes: ServoWrite[];
  /** Per pin, the angle of the first pulse after each attach. */
  firstPulses: Map<number, number[]>;
}
/** Everything to take down after each test, registered as soon as it exists. */
const cleanups: Array<() => Promise<void>> = [];

async function rig(opts: { door?: boolean; killSocatOnUnplug?: boolean; arm?: Partial<FirmataArmOptions> } = {}): Promise<Rig> {
  const pty = await openPtyPair();
  cleanups.push(() => pty.close());
  const pins: Record<number, 0 | 1> = opts.door === false ? {} : { 2: 1 };
  const sim = await startFirmataBoard(opts.killSocatOnUnplug === false ? { path: pty.devicePath, pins } : { pty, pins });
  cleanups.push(() => sim.stop());
  const writes: ServoWrite[] = [];
  sim.events.on("servo", (w) => writes.push(w));
  const firstPulses = new Map<number, number[]>();
  sim.events.on("firstPulse", (p) => firstPulses.set(p.pin, [...(firstPulses.get(p.pin) ?? []), p.targetDeg]));
  const arm = new FirmataArmDriver(
    {
      url: `serial://${pty.hubPath}?baud=57600`,
      servos: SERVOS,
      ...(opts.door === false ? {} : { doorPin: 2 }),
      programs: PROGRAMS,
      maxSpeedDegS: MAX_SPEED_DEG_S,
      stepMs: STEP_MS,
      homingSettleMs: 50,
      reconnectMinMs: 100,
      reconnectMaxMs: 400,
      ...opts.arm,
    },
    { clock: systemClock, logger: silentLogger },
  );
  cleanups.push(() => arm.close());
  return { pty, sim, arm, writes, firstPulses };
}

afterEach(async () => {
  vi.restoreAllMocks();
  // Last in, first out: the driver, then the board, then socat, each even if another failed.
  const failures: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((e: unknown) => failures.push(e));
  expect(failures).toEqual([]);
});

/** Resolves with the first status (the current one included) that satisfies `ok`; rejects after `ms`. */
function until(arm: FirmataArmDriver, ok: (s: RobotStatus) => boolean, what: string, ms = 5000): Promise<RobotStatus> {
  if (ok(arm.status)) return Promise.resolve(arm.status);
  return new Promise<RobotStatus>((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      reject(new Error(`${what}: not within ${ms} ms; status ${JSON.stringify(arm.status)}; stats ${JSON.stringify(arm.stats)}`));
    }, ms);
    arm.onStatus((s) => {
      if (done || !ok(s)) return;
      done = true;
      clearTimeout(timer);
      resolve(s);
    });
  });
}
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** A commanded angle against what the board got: johnny-five truncates to whole microseconds. */
const near = (actual: number | undefined, expected: number | undefined): void => {
  expect(Math.abs((actual ?? NaN) - (expected ?? NaN))).toBeLessThanOrEqual(PULSE_DEG + 1e-9);
};
const writesTo = (writes: readonly ServoWrite[], pin: number) => writes.filter((w) => w.pin === pin && w.kind === "write").map((w) => w.targetDeg);

describe("FirmataArmDriver over a pty with the StandardFirmata simulator", () => {
  it.each([
    ["firmata.js alone (banner, else reportVersionTimeout 1000 ms)", false],
    ["with the eager version query (the default)", true],
  ])("becomes ready: %s", async (how, eagerHandshake) => {
    const { arm, writes } = await rig({ arm: { eagerHandshake } });
    expect(arm.status.connected).toBe(false);
    expect(arm.firmware()).toBeNull();
    arm.connect();
    const s = await until(arm, (x) => x.connected && x.doorClosed, "ready");
    // A figure, not an assertion: without the eager query it is about 1010 ms when the flush on
    // open swallowed the simulator's boot banner, and a few ms when the banner came after it.
    console.log(`firmata handshake, ${how}: ${arm.stats.lastHandshakeMs} ms`);
    expect(arm.stats.firmware).toBe("StandardFirmata.ino 2.5");
    expect(arm.firmware()).toBe("StandardFirmata.ino 2.5"); // the device's firmware, as the board names itself
    expect(arm.stats).toMatchObject({ connects: 1, failedAttempts: 0 });
    expect(s).toMatchObject({ mode: OPERATIONAL_MODE.AUTOMATIC, emergencyStop: false, protectiveStop: false, programState: "idle", axesDeg: [] });
    expect(arm.programs()).toEqual(["pick", "slow"]);
    expect(writes).toHaveLength(0); // connecting moves nothing
  });

  it("runs a program: the servos follow the waypoints, clamped to the limits, never faster than the limit", async () => {
    const { arm, sim, writes, firstPulses } = await rig();
    arm.connect();
    await until(arm, (s) => s.connected && s.doorClosed, "ready");
    await arm.run("pick");
    expect(arm.status.programState).toBe("running");
    const done = await until(arm, (s) => s.programState === "done", "program done");
    // "done" is ours; the last step may still be on its way through the pty.
    await vi.waitFor(() => near(sim.servoAngles()[6], 30), { timeout: 2000 });

    // Homing: attach (the library's 1500 us = 90 deg) with the write to home in the same burst, so
    // the first pulse the servo gets is home (no lurch to 90 first), then the program.
    for (const [i, s] of SERVOS.entries()) {
      const own = writes.filter((w) => w.pin === s.pin);
      expect(own[0]?.kind).toBe("attach");
      near(own[1]?.targetDeg, s.homeDeg);
      expect(firstPulses.get(s.pin)).toHaveLength(1);
      near(firstPulses.get(s.pin)?.[0], s.homeDeg);
      const targets = writesTo(writes, s.pin);
      const final = [160, 60, 30, 60, 90][i] ?? NaN; // waypoint 2 clamped
      near(targets.at(-1), final);
      near(sim.servoAngles()[s.pin], final);
      // Every step after the homing jump: within limits and at most 180 deg/s * 50 ms = 9 deg.
      for (let k = 1; k < targets.length; k++) {
        const deg = targets[k] ?? NaN;
        expect(Math.abs(deg - (targets[k - 1] ?? NaN))).toBeLessThanOrEqual((MAX_SPEED_DEG_S * STEP_MS) / 1000 + PULSE_DEG);
        expect(deg).toBeGreaterThanOrEqual(s.minDeg - PULSE_DEG);
        expect(deg).toBeLessThanOrEqual(s.maxDeg + PULSE_DEG);
      }
    }
    // Waypoint 1 was passed through exactly.
    expect(writesTo(writes, 3).some((d) => Math.abs(d - 120) < PULSE_DEG)).toBe(true);
    expect(done.axesDeg).toEqual([160, 60, 30, 60, 90]);
    expect(done.program).toBe("pick");

    // A second run starts where the first ended: no new attach, no jump.
    const before = writes.length;
    await arm.run("pick");
    await until(arm, (s) => s.programState === "done", "second run done");
    expect(writes.slice(before).every((w) => w.kind === "write")).toBe(true);
    const joint0 = writesTo(writes.slice(before), 3);
    expect(Math.abs((joint0[0] ?? NaN) - 160)).toBeLessThanOrEqual(9 + PULSE_DEG);
  });

  it("attaches every servo at its home angle: the attach and the home write leave in one write, so the first pulse is home", async () => {
    const { pty, arm, firstPulses } = await rig();
    const portWrites = vi.spyOn(SerialPort.prototype, "write");
    arm.connect();
    await until(arm, (s) => s.connected && s.doorClosed, "ready");
    await arm.run("pick");
    // What the hub put on the wire, write by write (the simulator's own port writes too: filtered out).
    const hubWrites = portWrites.mock.calls.flatMap(([data], i) => ((portWrites.mock.contexts[i] as SerialPort).path === pty.hubPath && Buffer.isBuffer(data) ? [data] : []));
    for (const s of SERVOS) {
      const attachAtHome = Buffer.concat([encodeServoConfig(s.pin, ...SERVO_PWM_RANGE_US), encodeAnalogWrite(s.pin, servoPulseUs(s.homeDeg))]);
      expect(hubWrites.filter((w) => w.includes(attachAtHome))).toHaveLength(1);
    }
    // All of them in one burst: StandardFirmata handles it before the Servo ISR's first frame.
    expect(hubWrites.filter((w) => w.includes(Buffer.from([0xf0, 0x70])))).toHaveLength(1);
    await vi.waitFor(() => expect(firstPulses.size).toBe(SERVOS.length), { timeout: 2000 });
    for (const s of SERVOS) near(firstPulses.get(s.pin)?.[0], s.homeDeg);
  });

  it("stop mid-program holds the pose: no more writes, the status shows where it stopped", async () => {
    const { arm, sim, writes } = await rig();
    arm.connect();
    await until(arm, (s) => s.connected && s.doorClosed, "ready");
    await arm.run("slow");
    await until(arm, (s) => (s.axesDeg[0] ?? 0) > 100, "moving");
    await arm.stop();
    expect(arm.status.programState).toBe("stopped");
    const held = arm.status.axesDeg;
    await sleep(6 * STEP_MS); // let anything still in the pty arrive
    const count = writes.length;
    await sleep(6 * STEP_MS);
    expect(writes.length).toBe(count);
    PINS.forEach((pin, i) => near(sim.servoAngles()[pin], held[i]));
    expect(held[0]).toBeLessThan(160);
    await arm.stop(); // twice is fine
    expect(arm.status.programState).toBe("stopped");
  });

  it("an unplug mid-program is an error 'board disconnected'; after the replug it reconnects and re-homes", async () => {
    const { arm, sim, writes, firstPulses } = await rig();
    arm.connect();
    await until(arm, (s) => s.connected && s.doorClosed, "ready");
    await arm.run("slow");
    await until(arm, (s) => (s.axesDeg[0] ?? 0) > 95, "moving");
    await sim.unplug();
    const lost = await until(arm, (s) => !s.connected, "disconnected");
    expect(lost).toMatchObject({ programState: "error", error: BOARD_DISCONNECTED, doorClosed: false, axesDeg: [] });
    expect(arm.stats.disconnects).toBe(1);
    expect(arm.stats.lastError).not.toBeNull();
    await expect(arm.run("slow")).rejects.toMatchObject({ code: "DEVICE_OFFLINE" });
    const afterUnplug = writes.length;

    await sim.replug();
    await until(arm, (s) => s.connected && s.doorClosed, "reconnected");
    expect(arm.stats.connects).toBe(2);
    expect(arm.status.programState).toBe("error"); // until someone resets it
    await expect(arm.run("pick")).rejects.toMatchObject({ code: "DEVICE_REFUSED" });
    await arm.resetFault();
    expect(arm.status).toMatchObject({ programState: "idle", error: null });
    await arm.run("pick");
    await until(arm, (s) => s.programState === "done", "done after replug");
    await vi.waitFor(() => near(sim.servoAngles()[6], 30), { timeout: 2000 });
    // The board rebooted: the servos were attached again and homed before the program.
    const again = writes.slice(afterUnplug);
    expect(again.filter((w) => w.kind === "attach").map((w) => w.pin)).toEqual(PINS);
    // ... and after the reboot too, each servo's first pulse was home.
    for (const s of SERVOS) {
      expect(firstPulses.get(s.pin)).toHaveLength(2);
      near(firstPulses.get(s.pin)?.[1], s.homeDeg);
    }
    near(sim.servoAngles()[3], 160);
  });

  it("notices a board that stops answering even when the port stays open", async () => {
    // Only the simulator's end closes; socat stays, so the hub's port stays open and hears nothing.
    const { arm, sim } = await rig({ killSocatOnUnplug: false, arm: { livenessIntervalMs: 100 } });
    arm.connect();
    await until(arm, (s) => s.connected && s.doorClosed, "ready");
    await arm.run("slow");
    await sim.unplug();
    const lost = await until(arm, (s) => !s.connected, "silence noticed");
    expect(lost).toMatchObject({ programState: "error", error: BOARD_DISCONNECTED });
    expect(arm.stats.lastError).toMatch(/no answer to REPORT_VERSION/);
  });

  it("reports the door pin, refuses a start with the door open, and stops a program when it opens", async () => {
    const { arm, sim, writes } = await rig();
    arm.connect();
    await until(arm, (s) => s.connected && s.doorClosed, "door closed");
    sim.setDigitalInput(2, 0);
    await until(arm, (s) => !s.doorClosed, "door open");
    const refused = await arm.run("pick").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(HubError);
    expect((refused as HubError).code).toBe("DEVICE_REFUSED");
    expect(writes).toHaveLength(0);

    sim.setDigitalInput(2, 1);
    await until(arm, (s) => s.doorClosed, "door closed again");
    await arm.run("slow");
    await until(arm, (s) => (s.axesDeg[0] ?? 0) > 95, "moving");
    sim.setDigitalInput(2, 0);
    const stopped = await until(arm, (s) => s.programState === "error", "stopped by the door");
    expect(stopped).toMatchObject({ doorClosed: false, error: DOOR_OPENED, connected: true });
    await sleep(4 * STEP_MS);
    const count = writes.length;
    await sleep(4 * STEP_MS);
    expect(writes.length).toBe(count);
  });

  it("without a door pin the door counts as closed; unknown programs and offline starts are refused", async () => {
    const { arm } = await rig({ door: false });
    expect(arm.status.doorClosed).toBe(true);
    await expect(arm.run("pick")).rejects.toMatchObject({ code: "DEVICE_OFFLINE" });
    arm.connect();
    await until(arm, (s) => s.connected, "ready");
    expect(arm.status.doorClosed).toBe(true);
    await expect(arm.run("dance")).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(arm.run("__proto__")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
