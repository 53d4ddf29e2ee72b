import { describe, expect, it } from "vitest";
import { type HubPermissives, type RobotDemoState, demoState, robotRefusals, startRefusals } from "./demo-machine.ts";
import { OPERATIONAL_MODE, type RobotStatus } from "./driver.ts";

const ready: RobotStatus = { connected: true, mode: OPERATIONAL_MODE.AUTOMATIC, emergencyStop: false, protectiveStop: false, doorClosed: true, program: null, programState: "idle", error: null, axesDeg: [0, 0], at: 0 };
const allowed: HubPermissives = { instructorPresent: true, interlock: null };
const latched: HubPermissives = { instructorPresent: true, interlock: { nl: "De noodstop is nog niet vrijgegeven.", en: "The emergency stop has not been released yet." } };
const alone: HubPermissives = { instructorPresent: false, interlock: null };

const NO_INSTRUCTOR = "No instructor is signed in (open a visit).";

type Row = [name: string, status: Partial<RobotStatus>, hub: HubPermissives, stopRequested: boolean, lastEnd: "stopped" | "done" | null, state: RobotDemoState, reason: string];

// The robot's status x the hub's permissives x what the hub asked last -> the demo state and why,
// in sentences without raw values (the mode's number and the robot's error text are in the details).
const rows: Row[] = [
  ["everything permits", {}, allowed, false, null, "ready", "Ready to start."],
  ["automatic external", { mode: OPERATIONAL_MODE.AUTOMATIC_EXTERNAL }, allowed, false, null, "ready", "Ready to start."],
  ["a program done", { programState: "done" }, allowed, false, "done", "ready", "Ready to start."],
  ["no instructor", {}, alone, false, null, "idle", NO_INSTRUCTOR],
  ["a latched trip", {}, latched, false, null, "idle", "The emergency stop has not been released yet."],
  ["door open", { doorClosed: false }, allowed, false, null, "idle", "The door of the robot is open."],
  ["manual mode", { mode: OPERATIONAL_MODE.MANUAL_REDUCED_SPEED }, allowed, false, null, "idle", "The robot is not in automatic mode."],
  ["mode other", { mode: OPERATIONAL_MODE.OTHER }, allowed, false, null, "idle", "The robot is not in automatic mode."],
  ["every permissive missing, in order", { doorClosed: false, mode: OPERATIONAL_MODE.MANUAL_HIGH_SPEED }, { instructorPresent: false, interlock: latched.interlock }, false, null, "idle", `The door of the robot is open. The robot is not in automatic mode. ${NO_INSTRUCTOR} The emergency stop has not been released yet.`],
  ["running", { programState: "running", program: "wave" }, alone, false, null, "running", "Running wave."],
  ["running, no program name", { programState: "running" }, allowed, false, null, "running", "A program is running."],
  ["running, stop asked", { programState: "running", program: "wave" }, allowed, true, null, "stopping", "Stopping."],
  ["stopped before the end", { programState: "stopped" }, allowed, false, "stopped", "stopped", "Stopped before the program finished."],
  ["disconnected", { connected: false }, allowed, false, null, "faulted", "The connection to the robot is lost."],
  ["disconnected while its e-stop is pressed", { connected: false, emergencyStop: true }, allowed, false, null, "faulted", "The connection to the robot is lost."],
  ["e-stop pressed", { emergencyStop: true }, allowed, false, null, "faulted", "The emergency stop of the robot is pressed."],
  ["e-stop pressed and a program error", { emergencyStop: true, programState: "error", error: "door" }, allowed, false, null, "faulted", "The emergency stop of the robot is pressed."],
  ["program error", { programState: "error", error: "door opened during the program" }, allowed, false, null, "faulted", "Error in the program."],
  ["program error without text", { programState: "error" }, allowed, false, null, "faulted", "Error in the program."],
  ["protective stop", { protectiveStop: true }, allowed, false, null, "faulted", "Protective stop (door or light curtain)."],
  ["protective stop while running", { protectiveStop: true, programState: "running" }, allowed, false, null, "faulted", "Protective stop (door or light curtain)."],
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
    expect(robotRefusals(s).map((r) => r.en)).toEqual(["The door of the robot is open.", "A program is already running."]);
    expect(startRefusals(s, { instructorPresent: false, interlock: latched.interlock }).map((r) => r.en)).toEqual([
      "The door of the robot is open.",
      "A program is already running.",
      NO_INSTRUCTOR,
      "The emergency stop has not been released yet.",
    ]);
    // The robot's own error text ("x") is for the technician's details, not the instructor's sentence.
    expect(robotRefusals({ ...ready, connected: false, programState: "error", error: "x" }).map((r) => r.en)).toEqual(["There is no connection to the robot.", "The robot reports an error."]);
  });

  it("names the robot when it has a name, in each language", () => {
    const cell = { nl: "de Robotcel", en: "the robot cell" };
    expect(robotRefusals({ ...ready, doorClosed: false, mode: OPERATIONAL_MODE.OTHER }, cell)).toEqual([
      { nl: "De deur van de Robotcel staat open.", en: "The door of the robot cell is open." },
      { nl: "De Robotcel staat niet op automatisch.", en: "The robot cell is not in automatic mode." },
    ]);
  });
});
