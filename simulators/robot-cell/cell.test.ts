import { describe, expect, it } from "vitest";
import { ManualClock } from "../../hub/src/core/clock.ts";
import { OperationalMode, RobotCell, type CellSnapshot } from "./cell.ts";
import { DEFAULT_PROGRAMS, HOME_DEG, programDurationMs, validatePrograms, type RobotProgram } from "./programs.ts";

/** Home, then A1 +20° (dwell 1 s), then A2 +20° and A5 -40° together: A5 leads. 10 °/s. */
const TEST_MOVE: RobotProgram = {
  name: "test-move",
  description: "",
  speedDegS: 10,
  approved: true,
  waypoints: [
    { axesDeg: [20, -30, 60, 0, 60, 0], dwellMs: 1000 },
    { axesDeg: [20, -10, 60, 0, 20, 0] },
  ],
};

function setup(opts: { tickMs?: number; programs?: RobotProgram[] } = {}): { clock: ManualClock; cell: RobotCell } {
  const clock = new ManualClock();
  const cell = new RobotCell({ clock, programs: opts.programs ?? [...DEFAULT_PROGRAMS, TEST_MOVE], ...(opts.tickMs ? { tickMs: opts.tickMs } : {}) });
  return { clock, cell };
}

function running(program = "test-move"): { clock: ManualClock; cell: RobotCell } {
  const s = setup();
  expect(s.cell.loadProgram(program)).toEqual({ ok: true });
  expect(s.cell.startProgram()).toEqual({ ok: true });
  return s;
}

const axes = (cell: RobotCell): readonly number[] => cell.snapshot().axesDeg;

describe("RobotCell motion", () => {
  it("interpolates all axes synchronously at the program speed, with dwell", () => {
    const { clock, cell } = running();
    clock.advance(1000);
    expect(axes(cell)[0]).toBeCloseTo(10, 6);
    expect(cell.snapshot().speedsDegS[0]).toBeCloseTo(10, 6);
    clock.advance(1000);
    expect(axes(cell)).toEqual([20, -30, 60, 0, 60, 0]);
    clock.advance(900); // dwelling
    expect(axes(cell)[0]).toBe(20);
    expect(cell.snapshot().speedsDegS).toEqual([0, 0, 0, 0, 0, 0]);
    expect(cell.snapshot().waypointIndex).toBe(0);
    clock.advance(100 + 2000); // dwell over, then 2 s of a 4 s move
    const mid = axes(cell);
    expect(mid[4]).toBeCloseTo(40, 6); // leading axis: 20 of 40°
    expect(mid[1]).toBeCloseTo(-20, 6); // follower: half way too
    expect(cell.snapshot().waypointIndex).toBe(1);
  });

  it("scales speed with the override; 0 % holds the program in place", () => {
    const { clock, cell } = running();
    expect(cell.setSpeedOverride(50)).toEqual({ ok: true });
    clock.advance(2000);
    expect(axes(cell)[0]).toBeCloseTo(10, 6);
    expect(cell.setSpeedOverride(0)).toEqual({ ok: true });
    clock.advance(5000);
    expect(axes(cell)[0]).toBeCloseTo(10, 6);
    expect(cell.snapshot().programState).toBe("running");
    expect(cell.setSpeedOverride(101)).toMatchObject({ ok: false, code: "INVALID_ARGUMENT" });
    expect(cell.setSpeedOverride(Number.NaN)).toMatchObject({ ok: false, code: "INVALID_ARGUMENT" });
  });

  it.each([9, 50, 300])("ends in the same pose whatever the tick length (%i ms)", (tickMs) => {
    const { clock, cell } = setup({ tickMs });
    cell.loadProgram("test-move");
    cell.startProgram();
    clock.advance(4500);
    const pose = axes(cell);
    expect(pose[4]).toBeCloseTo(45, 6); // 2 s move + 1 s dwell + 1.5 s of the second move
    expect(pose[1]).toBeCloseTo(-22.5, 6);
  });

  it("runs a program to done and stops its timer", () => {
    const { clock, cell } = running();
    const seen: CellSnapshot[] = [];
    cell.onChange((s) => seen.push(s));
    clock.advance(6900);
    expect(cell.snapshot().programState).toBe("running");
    clock.advance(200);
    expect(cell.snapshot().programState).toBe("done");
    expect(axes(cell)).toEqual([20, -10, 60, 0, 20, 0]);
    const count = seen.length;
    clock.advance(10_000);
    expect(seen.length).toBe(count); // no ticks once done
    expect(cell.startProgram()).toEqual({ ok: true }); // done -> may run again
  });

  it.each(DEFAULT_PROGRAMS.filter((p) => p.approved).map((p) => [p.name, p] as const))("%s takes 10-30 s from home and returns home", (_name, program) => {
    const ms = programDurationMs(program, HOME_DEG);
    expect(ms).toBeGreaterThanOrEqual(10_000);
    expect(ms).toBeLessThanOrEqual(30_000);
    const { clock, cell } = running(program.name);
    clock.advance(ms - 50);
    expect(cell.snapshot().programState).toBe("running");
    clock.advance(100);
    expect(cell.snapshot().programState).toBe("done");
    expect(axes(cell)).toEqual(HOME_DEG);
  });
});

describe("RobotCell start permissives", () => {
  const cases: [string, (c: RobotCell) => void, RegExp][] = [
    ["no program", () => {}, /no program loaded/],
    ["unapproved program", (c) => c.loadProgram("fast-sweep"), /"fast-sweep" is not approved/],
    ["mode OTHER", (c) => (c.loadProgram("wave"), c.setMode(OperationalMode.OTHER)), /mode is OTHER: start needs AUTOMATIC/],
    ["mode T1", (c) => (c.loadProgram("wave"), c.setMode(OperationalMode.MANUAL_REDUCED_SPEED)), /mode is MANUAL_REDUCED_SPEED/],
    ["mode T2", (c) => (c.loadProgram("wave"), c.setMode(OperationalMode.MANUAL_HIGH_SPEED)), /mode is MANUAL_HIGH_SPEED/],
    ["door open", (c) => (c.loadProgram("wave"), c.openDoor()), /^door open/],
    ["e-stop", (c) => (c.loadProgram("wave"), c.pressEmergencyStop()), /emergency stop active/],
    ["e-stop released, not reset", (c) => (c.loadProgram("wave"), c.pressEmergencyStop(), c.releaseEmergencyStop()), /emergency stop active/],
    ["protective stop", (c) => (c.loadProgram("wave"), c.protectiveStop()), /protective stop active/],
    ["program error", (c) => (c.loadProgram("wave"), c.programError("gripper lost the part")), /program error \(gripper lost the part\)/],
    ["already running", (c) => (c.loadProgram("wave"), c.startProgram()), /already running/],
  ];
  it.each(cases)("refuses: %s", (_name, arrange, reason) => {
    const { cell } = setup();
    arrange(cell);
    const r = cell.startProgram();
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe("INVALID_STATE");
      expect(r.reason).toMatch(reason);
    }
  });

  it.each([OperationalMode.AUTOMATIC, OperationalMode.AUTOMATIC_EXTERNAL])("starts in mode %i", (mode) => {
    const { cell } = setup();
    cell.setMode(mode);
    cell.loadProgram("wave");
    expect(cell.startProgram()).toEqual({ ok: true });
    expect(cell.snapshot().programState).toBe("running");
  });

  it("refuses to load an unknown program, or while running", () => {
    const { cell } = setup();
    expect(cell.loadProgram("dance")).toEqual({ ok: false, code: "INVALID_ARGUMENT", reason: 'unknown program "dance"' });
    expect(cell.snapshot().programState).toBe("idle");
    cell.loadProgram("wave");
    cell.startProgram();
    expect(cell.loadProgram("draw-square")).toMatchObject({ ok: false, code: "INVALID_STATE" });
    expect(cell.snapshot().loadedProgram).toBe("wave");
  });

  it("refuses an unknown operational mode", () => {
    const { cell } = setup();
    expect(cell.setMode(7 as OperationalMode)).toMatchObject({ ok: false, code: "INVALID_ARGUMENT" });
    expect(cell.snapshot().mode).toBe(OperationalMode.AUTOMATIC_EXTERNAL);
  });
});

describe("RobotCell safety", () => {
  it("door opened while running in automatic: protective stop, motion halts at once", () => {
    const { clock, cell } = running();
    clock.advance(1234);
    cell.openDoor();
    const s = cell.snapshot();
    expect(s).toMatchObject({ protectiveStop: true, programState: "stopped", doorClosed: false });
    expect(s.axesDeg[0]).toBeCloseTo(12.34, 6);
    expect(s.lastError).toMatch(/door opened while running in automatic/);
    clock.advance(5000);
    expect(axes(cell)).toEqual(s.axesDeg);
  });

  it("door opened while idle: no protective stop, start refused", () => {
    const { cell } = setup();
    cell.loadProgram("wave");
    cell.openDoor();
    expect(cell.snapshot().protectiveStop).toBe(false);
    expect(cell.startProgram()).toMatchObject({ ok: false, reason: expect.stringMatching(/^door open/) as unknown });
    cell.closeDoor();
    expect(cell.startProgram()).toEqual({ ok: true });
  });

  it("e-stop during motion halts it; latched until reset after release; reset does not restart", () => {
    const { clock, cell } = running();
    clock.advance(500);
    cell.pressEmergencyStop();
    const halted = axes(cell);
    expect(halted[0]).toBeCloseTo(5, 6);
    expect(cell.snapshot()).toMatchObject({ emergencyStop: true, programState: "stopped", lastError: "emergency stop pressed" });
    clock.advance(3000);
    expect(axes(cell)).toEqual(halted);

    expect(cell.resetFault()).toMatchObject({ ok: false, reason: expect.stringMatching(/still pressed/) as unknown });
    cell.releaseEmergencyStop();
    expect(cell.snapshot().emergencyStop).toBe(true); // released is not reset
    expect(cell.resetFault()).toEqual({ ok: true });
    expect(cell.snapshot()).toMatchObject({ emergencyStop: false, programState: "stopped" });
    clock.advance(3000);
    expect(axes(cell)).toEqual(halted);
    expect(cell.startProgram()).toEqual({ ok: true });
  });

  it("protective stop from the door resets only once the door is closed", () => {
    const { cell } = running();
    cell.openDoor();
    expect(cell.resetFault()).toEqual({ ok: false, code: "INVALID_STATE", reason: "door open: close it first" });
    expect(cell.snapshot().protectiveStop).toBe(true);
    cell.closeDoor();
    expect(cell.snapshot().protectiveStop).toBe(true); // closing is not resetting
    expect(cell.resetFault()).toEqual({ ok: true });
    expect(cell.snapshot().protectiveStop).toBe(false);
  });

  it("an injected protective stop halts and resets without a lasting cause", () => {
    const { clock, cell } = running();
    clock.advance(300);
    cell.protectiveStop("light curtain interrupted");
    expect(cell.snapshot()).toMatchObject({ protectiveStop: true, programState: "stopped", lastError: "light curtain interrupted" });
    expect(cell.resetFault()).toEqual({ ok: true });
  });

  it("a program error halts, blocks load and start, and reset returns to loaded", () => {
    const { clock, cell } = running();
    clock.advance(700);
    cell.programError("collision detected");
    const halted = axes(cell);
    clock.advance(1000);
    expect(axes(cell)).toEqual(halted);
    expect(cell.snapshot()).toMatchObject({ programState: "error", lastError: "collision detected" });
    expect(cell.loadProgram("wave").ok).toBe(false);
    expect(cell.resetFault()).toEqual({ ok: true });
    expect(cell.snapshot().programState).toBe("loaded");
    expect(cell.startProgram()).toEqual({ ok: true });
    expect(cell.snapshot().lastError).toBe("");
  });

  it("a mode change stops a running program", () => {
    const { clock, cell } = running();
    clock.advance(400);
    cell.setMode(OperationalMode.MANUAL_REDUCED_SPEED);
    expect(cell.snapshot()).toMatchObject({ programState: "stopped", mode: OperationalMode.MANUAL_REDUCED_SPEED });
    expect(cell.snapshot().lastError).toMatch(/mode changed to MANUAL_REDUCED_SPEED/);
    expect(cell.snapshot().protectiveStop).toBe(false);
  });

  it("stop is always accepted", () => {
    const { clock, cell } = running();
    clock.advance(100);
    expect(cell.stopProgram()).toEqual({ ok: true });
    expect(cell.snapshot().programState).toBe("stopped");
    expect(cell.stopProgram()).toEqual({ ok: true });
    expect(setup().cell.stopProgram()).toEqual({ ok: true });
  });

  it("dispose cancels motion", () => {
    const { clock, cell } = running();
    clock.advance(100);
    cell.dispose();
    const pose = axes(cell);
    clock.advance(1000);
    expect(axes(cell)).toEqual(pose);
  });
});

describe("programs", () => {
  it("accepts the defaults and rejects bad programs with every problem named", () => {
    expect(() => validatePrograms(DEFAULT_PROGRAMS)).not.toThrow();
    const bad: RobotProgram[] = [
      { name: "Bad Name", description: "", speedDegS: 0, approved: true, waypoints: [{ axesDeg: [0, 0, 0] }] },
      { name: "reach", description: "", speedDegS: 10, approved: true, waypoints: [{ axesDeg: [0, 200, 0, 0, 0, 0] }] },
    ];
    expect(() => validatePrograms(bad)).toThrow(/not kebab-case.*speedDegS.*3 axes.*axis 2 = 200 outside/);
    expect(() => new RobotCell({ programs: bad })).toThrow();
  });
});
