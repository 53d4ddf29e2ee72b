import { describe, expect, it } from "vitest";
import { type HubPermissives, type RobotDemoState, demoState, robotRefusals, startRefusals } from "./demo-machine.ts";
import { OPERATIONAL_MODE, type RobotStatus } from "./driver.ts";

const ready: RobotStatus = { connected: true, mode: OPERATIONAL_MODE.AUTOMATIC, emergencyStop: false, protectiveStop: false, doorClosed: true, program: null, programState: "idle", error: null, axesDeg: [0, 0], at: 0 };
const allowed: HubPermissives = { instructorPresent: true, interlock: null };
const latched: HubPermissives = { instructorPresent: true, interlock: { nl: "Noodstop is nog niet gereset", en: "Emergency stop has not been reset yet" } };
const alone: HubPermissives = { instructorPresent: false, interlock: null };

const NO_INSTRUCTOR = "no instructor is present at this station (start a visit)";

type Row = [name: string, status: Partial<RobotStatus>, hub: HubPermissives, stopRequested: boolean, lastEnd: "stopped" | "done" | null, state: RobotDemoState, reason: string];

// The robot's status x the hub's permissives x what the hub asked last -> the demo state and why.
const rows: Row[] = [
  ["everything permits", {}, allowed, false, null, "ready", "ready to start"],
  ["automatic external", { mode: OPERATIONAL_MODE.AUTOMATIC_EXTERNAL }, allowed, false, null, "ready", "ready to start"],
  ["a program done", { programState: "done" }, allowed, false, "done", "ready", "ready to start"],
  ["no instructor", {}, alone, false, null, "idle", NO_INSTRUCTOR],
  ["a latched trip", {}, latched, false, null, "idle", "Emergency stop has not been reset yet"],
  ["door open", { doorClosed: false }, allowed, false, null, "idle", "the robot cell's door is open"],
  ["manual mode", { mode: OPERATIONAL_MODE.MANUAL_REDUCED_SPEED }, allowed, false, null, "idle", "the robot is not in automatic mode"],
  ["mode other", { mode: OPERATIONAL_MODE.OTHER }, allowed, false, null, "idle", "the robot is not in automatic mode"],
  ["every permissive missing, in order", { doorClosed: false, mode: OPERATIONAL_MODE.MANUAL_HIGH_SPEED }, { instructorPresent: false, interlock: latched.interlock }, false, null, "idle", `the robot cell's door is open; the robot is not in automatic mode; ${NO_INSTRUCTOR}; Emergency stop has not been reset yet`],
  ["running", { programState: "running", program: "wave" }, alone, false, null, "running", "running wave"],
  ["running, no program name", { programState: "running" }, allowed, false, null, "running", "running a program"],
  ["running, stop asked", { programState: "running", program: "wave" }, allowed, true, null, "stopping", "stopping"],
  ["stopped before the end", { programState: "stopped" }, allowed, false, "stopped", "stopped", "stopped before the program finished"],
  ["disconnected", { connected: false }, allowed, false, null, "faulted", "connection to the robot lost"],
  ["disconnected while its e-stop is pressed", { connected: false, emergencyStop: true }, allowed, false, null, "faulted", "connection to the robot lost"],
  ["e-stop pressed", { emergencyStop: true }, allowed, false, null, "faulted", "the robot's emergency stop is pressed"],
  ["e-stop pressed and a program error", { emergencyStop: true, programState: "error", error: "door" }, allowed, false, null, "faulted", "the robot's emergency stop is pressed"],
  ["program error", { programState: "error", error: "door opened during the program" }, allowed, false, null, "faulted", "program error: door opened during the program"],
  ["program error without text", { programState: "error" }, allowed, false, null, "faulted", "program error: ?"],
  ["protective stop", { protectiveStop: true }, allowed, false, null, "faulted", "protective stop (door or light curtain)"],
  ["protective stop while running", { protectiveStop: true, programState: "running" }, allowed, false, null, "faulted", "protective stop (door or light curtain)"],
];

describe("robot demo state machine", () => {
  it.each(rows)("%s", (_name, status, hub, stopRequested, lastEnd, state, reason) => {
    const view = demoState({ ...ready, ...status }, hub, stopRequested, lastEnd);
    expect(view.state).toBe(state);
    expect(view.reason.en).toBe(reason);
    expect(view.reason.nl.length).toBeGreaterThan(0);
  });

  it("ready exactly when nothing refuses a start", () => {
    for (const [, status, hub, stopRequested, lastEnd] of rows) {
      const s = { ...ready, ...status };
      expect(demoState(s, hub, stopRequested, lastEnd).state === "ready").toBe(startRefusals(s, hub).length === 0 && lastEnd !== "stopped");
    }
  });

  it("the robot's own refusals leave out the hub's (presence and interlocks)", () => {
    const s = { ...ready, doorClosed: false, programState: "running" as const };
    expect(robotRefusals(s).map((r) => r.en)).toEqual(["the robot cell's door is open", "a program is already running"]);
    expect(startRefusals(s, { instructorPresent: false, interlock: latched.interlock }).map((r) => r.en)).toEqual([
      "the robot cell's door is open",
      "a program is already running",
      NO_INSTRUCTOR,
      "Emergency stop has not been reset yet",
    ]);
    expect(robotRefusals({ ...ready, connected: false, programState: "error", error: "x" }).map((r) => r.en)).toEqual(["no connection to the robot", "the robot reports an error: x"]);
  });
});
