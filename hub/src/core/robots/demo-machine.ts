/**
 * The robot demo state machine, the same for every robot kind (OPC 40010 defines the robot's state,
 * not a demo's): idle, ready, running, stopping, stopped, faulted. Pure: the robot's status and the
 * hub's own permissives in, a state and the reasons out.
 *
 * Permissives before a start: door closed, e-stop released, no protective stop, automatic mode, an
 * instructor present, no latched trip (the last two come from the hub: visits and interlocks).
 */
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
export const NO_INSTRUCTOR: Text = { nl: "er is geen begeleider bij deze station (start een bezoek)", en: "no instructor is present at this station (start a visit)" };

/** Every reason a start would be refused now, in both languages; empty if it may start. */
export function startRefusals(s: RobotStatus, hub: HubPermissives): Text[] {
  const r = robotRefusals(s);
  if (!hub.instructorPresent) r.push(NO_INSTRUCTOR);
  if (hub.interlock !== null) r.push(hub.interlock);
  return r;
}

/** The robot's own part of `startRefusals`: what it reports, whatever the hub permits. */
export function robotRefusals(s: RobotStatus): Text[] {
  const r: Text[] = [];
  if (!s.connected) r.push({ nl: "geen verbinding met de robot", en: "no connection to the robot" });
  if (!s.doorClosed) r.push({ nl: "de deur van de robotcel is open", en: "the robot cell's door is open" });
  if (s.emergencyStop) r.push({ nl: "de noodstop van de robot is ingedrukt", en: "the robot's emergency stop is pressed" });
  if (s.protectiveStop) r.push({ nl: "de robot staat in een beschermende stop", en: "the robot is in a protective stop" });
  if (s.mode !== OPERATIONAL_MODE.AUTOMATIC && s.mode !== OPERATIONAL_MODE.AUTOMATIC_EXTERNAL) r.push({ nl: "de robot staat niet op automatisch", en: "the robot is not in automatic mode" });
  if (s.programState === "running") r.push({ nl: "er draait al een programma", en: "a program is already running" });
  if (s.programState === "error") r.push({ nl: `de robot meldt een fout: ${s.error ?? "?"}`, en: `the robot reports an error: ${s.error ?? "?"}` });
  return r;
}

export interface DemoView {
  state: RobotDemoState;
  reason: Text;
}

/**
 * The demo state from the robot's status and what the hub asked for last. `stopRequested` is set
 * by a stop from the hub until the robot confirms it.
 */
export function demoState(s: RobotStatus, hub: HubPermissives, stopRequested: boolean, lastEnd: "stopped" | "done" | null): DemoView {
  if (!s.connected) return { state: "faulted", reason: { nl: "verbinding met de robot verloren", en: "connection to the robot lost" } };
  if (s.emergencyStop) return { state: "faulted", reason: { nl: "noodstop van de robot ingedrukt", en: "the robot's emergency stop is pressed" } };
  if (s.programState === "error") return { state: "faulted", reason: { nl: `fout in het programma: ${s.error ?? "?"}`, en: `program error: ${s.error ?? "?"}` } };
  if (s.protectiveStop) return { state: "faulted", reason: { nl: "beschermende stop (deur of lichtscherm)", en: "protective stop (door or light curtain)" } };
  if (s.programState === "running") {
    return stopRequested ? { state: "stopping", reason: { nl: "stoppen", en: "stopping" } } : { state: "running", reason: { nl: `${s.program ?? "programma"} draait`, en: `running ${s.program ?? "a program"}` } };
  }
  if (lastEnd === "stopped") return { state: "stopped", reason: { nl: "gestopt voordat het programma klaar was", en: "stopped before the program finished" } };
  const refusals = startRefusals(s, hub);
  if (refusals.length === 0) return { state: "ready", reason: { nl: "klaar om te starten", en: "ready to start" } };
  return { state: "idle", reason: { nl: refusals.map((x) => x.nl).join("; "), en: refusals.map((x) => x.en).join("; ") } };
}
