/**
 * The robot demo state machine, the same for every robot kind (OPC 40010 defines the robot's state,
 * not a demo's): idle, ready, running, stopping, stopped, faulted. Pure: the robot's status and the
 * hub's own permissives in, a state and the reasons out.
 *
 * Permissives before a start: door closed, e-stop released, no protective stop, automatic mode, an
 * instructor present, no latched trip (the last two come from the hub: visits and interlocks).
 */
import { sentences, text } from "../texts/texts.ts";
import type { Text } from "../types.ts";
import { OPERATIONAL_MODE, type RobotStatus } from "./driver.ts";

export type RobotDemoState = "idle" | "ready" | "running" | "stopping" | "stopped" | "faulted";

export interface HubPermissives {
  /** An instructor is present (a class visit with this station open). */
  instructorPresent: boolean;
  /** Null when no latched trip or other interlock forbids a start; otherwise why. */
  interlock: Text | null;
}

/** A robot moves only with an instructor at the station: a visit open to it. */
export const NO_INSTRUCTOR: Text = text("robot.noInstructor");

/**
 * Every reason a start would be refused now, one sentence each in both languages (no raw values:
 * the mode's number and the robot's own error text are in the station's details); empty if it may
 * start. `robot`: the robot's name ("de Robotcel"); "de robot" without one.
 */
export function startRefusals(s: RobotStatus, hub: HubPermissives, robot: Text = text("robot.default")): Text[] {
  const r = robotRefusals(s, robot);
  if (!hub.instructorPresent) r.push(NO_INSTRUCTOR);
  if (hub.interlock !== null) r.push(hub.interlock);
  return r;
}

/** The robot's own part of `startRefusals`: what it reports, whatever the hub permits. */
export function robotRefusals(s: RobotStatus, robot: Text = text("robot.default")): Text[] {
  const r: Text[] = [];
  if (!s.connected) r.push(text("robot.noConnection", { robot }));
  if (!s.doorClosed) r.push(text("robot.doorOpen", { robot }));
  if (s.emergencyStop) r.push(text("robot.estopPressed", { robot }));
  if (s.protectiveStop) r.push(capitalised(text("robot.protectiveStop", { robot })));
  if (s.mode !== OPERATIONAL_MODE.AUTOMATIC && s.mode !== OPERATIONAL_MODE.AUTOMATIC_EXTERNAL) r.push(capitalised(text("robot.notAutomatic", { robot })));
  if (s.programState === "running") r.push(text("robot.alreadyRunning"));
  if (s.programState === "error") r.push(capitalised(text("robot.reportsError", { robot })));
  return r;
}

/** A sentence that starts with a name ("de robot staat ..."): a capital first. */
function capitalised(t: Text): Text {
  const up = (x: string) => x.charAt(0).toUpperCase() + x.slice(1);
  return { nl: up(t.nl), en: up(t.en) };
}

export interface DemoView {
  state: RobotDemoState;
  reason: Text;
}

/**
 * The demo state from the robot's status and what the hub asked for last. `stopRequested` is set
 * by a stop from the hub until the robot confirms it.
 */
export function demoState(s: RobotStatus, hub: HubPermissives, stopRequested: boolean, lastEnd: "stopped" | "done" | null, robot: Text = text("robot.default")): DemoView {
  if (!s.connected) return { state: "faulted", reason: text("robot.state.connectionLost", { robot }) };
  if (s.emergencyStop) return { state: "faulted", reason: text("robot.estopPressed", { robot }) };
  if (s.programState === "error") return { state: "faulted", reason: text("robot.state.programError") };
  if (s.protectiveStop) return { state: "faulted", reason: text("robot.state.protectiveStop") };
  if (s.programState === "running") {
    if (stopRequested) return { state: "stopping", reason: text("robot.state.stopping") };
    return { state: "running", reason: s.program === null ? text("robot.state.runningUnknown") : text("robot.state.running", { program: s.program }) };
  }
  if (lastEnd === "stopped") return { state: "stopped", reason: text("robot.state.stopped") };
  const refusals = startRefusals(s, hub, robot);
  if (refusals.length === 0) return { state: "ready", reason: text("robot.state.ready") };
  return { state: "idle", reason: sentences(refusals) };
}
