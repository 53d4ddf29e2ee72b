/**
 * The behaviour of a simulated robot cell, without OPC UA: six axes moving through the waypoints
 * of a program, the program state machine, and the cell's own safety (layer L1 below the hub, see
 * protocols-safety.md §6.2). The hub's interlocks may only add stops on top of this; the cell
 * never relies on the hub to stop.
 *
 * Safety rules, as a robot controller applies them (ISO 10218-1 §5.7; EN ISO 13850; Machinery
 * Directive Annex I §1.2.4.3 "disengaging the device must not restart the machinery"):
 *  - e-stop: motion halts at once and the program stops; EmergencyStop stays latched after the
 *    button is released, until `resetFault`.
 *  - door opened while a program runs in automatic: protective stop (halt, program stopped),
 *    latched until `resetFault` with the door closed.
 *  - a mode change while running stops the program (a controller never carries a running program
 *    across a mode change).
 *  - reset never restarts anything; start is a separate command that checks every permissive.
 *  - stop is always accepted, even when nothing runs: a stop must never be refused.
 */
import { systemClock, type Clock, type Timer } from "../../hub/src/core/clock.ts";
import { AXIS_COUNT, DEFAULT_PROGRAMS, HOME_DEG, leadingDistanceDeg, validatePrograms, type RobotProgram } from "./programs.ts";

/** OPC 40010-1 OperationalModeEnumeration. */
export const OperationalMode = {
  OTHER: 0,
  MANUAL_REDUCED_SPEED: 1,
  MANUAL_HIGH_SPEED: 2,
  AUTOMATIC: 3,
  AUTOMATIC_EXTERNAL: 4,
} as const;
export type OperationalMode = (typeof OperationalMode)[keyof typeof OperationalMode];

export function operationalModeName(mode: OperationalMode): string {
  return Object.entries(OperationalMode).find(([, v]) => v === mode)?.[0] ?? String(mode);
}

export function isOperationalMode(value: number): value is OperationalMode {
  return Object.values<number>(OperationalMode).includes(value);
}

export type ProgramState = "idle" | "loaded" | "running" | "stopped" | "done" | "error";

/** Refusals say why, for a person: the reason is shown to students as is. */
export type CellResult = { ok: true } | { ok: false; code: "INVALID_STATE" | "INVALID_ARGUMENT"; reason: string };

export interface CellSnapshot {
  /** A1..A6, degrees. */
  axesDeg: readonly number[];
  /** A1..A6, degrees per second (0 while halted or dwelling). */
  speedsDegS: readonly number[];
  mode: OperationalMode;
  /** Latched e-stop state as the controller reports it (OPC 40010 `EmergencyStop`). */
  emergencyStop: boolean;
  /** Whether the e-stop button itself is still pressed (the cause). */
  emergencyStopPressed: boolean;
  protectiveStop: boolean;
  doorClosed: boolean;
  programState: ProgramState;
  /** "" when none. */
  loadedProgram: string;
  /** Why the cell last stopped or failed; "" after a successful start. */
  lastError: string;
  speedOverridePct: number;
  /** Index of the waypoint being approached (or dwelt at) while running. */
  waypointIndex: number;
}

export interface RobotCellOptions {
  clock?: Clock;
  programs?: readonly RobotProgram[];
  initialMode?: OperationalMode;
  /** How often motion is integrated while a program runs, ms. */
  tickMs?: number;
}

const AUTOMATIC_MODES: readonly OperationalMode[] = [OperationalMode.AUTOMATIC, OperationalMode.AUTOMATIC_EXTERNAL];
const ok: CellResult = { ok: true };
const refuse = (reason: string, code: "INVALID_STATE" | "INVALID_ARGUMENT" = "INVALID_STATE"): CellResult => ({ ok: false, code, reason });

export class RobotCell {
  readonly programs: ReadonlyMap<string, RobotProgram>;
  private readonly clock: Clock;
  private readonly tickMs: number;
  private readonly listeners = new Set<(s: CellSnapshot) => void>();
  private axesDeg: number[] = [...HOME_DEG];
  private speedsDegS: number[] = new Array<number>(AXIS_COUNT).fill(0);
  private mode: OperationalMode;
  private emergencyStop = false;
  private emergencyStopPressed = false;
  private protectiveStopActive = false;
  private doorClosed = true;
  private programState: ProgramState = "idle";
  private loaded: RobotProgram | null = null;
  private lastError = "";
  private speedOverridePct = 100;
  private waypointIndex = 0;
  /** Time left at the current waypoint once reached; null while still travelling to it. */
  private dwellLeftMs: number | null = null;
  private lastUpdateMs = 0;
  private ticker: Timer | null = null;

  constructor(opts: RobotCellOptions = {}) {
    const programs = opts.programs ?? DEFAULT_PROGRAMS;
    validatePrograms(programs);
    this.programs = new Map(programs.map((p) => [p.name, p]));
    this.clock = opts.clock ?? systemClock;
    this.tickMs = opts.tickMs ?? 50;
    this.mode = opts.initialMode ?? OperationalMode.AUTOMATIC_EXTERNAL;
  }

  snapshot(): CellSnapshot {
    return {
      axesDeg: [...this.axesDeg],
      speedsDegS: [...this.speedsDegS],
      mode: this.mode,
      emergencyStop: this.emergencyStop,
      emergencyStopPressed: this.emergencyStopPressed,
      protectiveStop: this.protectiveStopActive,
      doorClosed: this.doorClosed,
      programState: this.programState,
      loadedProgram: this.loaded?.name ?? "",
      lastError: this.lastError,
      speedOverridePct: this.speedOverridePct,
      waypointIndex: this.waypointIndex,
    };
  }

  /** Called after every change, motion ticks included. Returns the unsubscribe function. */
  onChange(listener: (s: CellSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  // --- commands (what the hub may call over OPC UA) ------------------------------------------

  loadProgram(name: string): CellResult {
    if (this.programState === "running") return refuse("a program is running: stop it first");
    if (this.programState === "error") return refuse(`program error (${this.lastError}): reset the fault first`);
    const program = this.programs.get(name);
    if (program === undefined) return refuse(`unknown program "${name}"`, "INVALID_ARGUMENT");
    this.loaded = program;
    this.waypointIndex = 0;
    this.programState = "loaded";
    this.emit();
    return ok;
  }

  startProgram(): CellResult {
    const why = this.startRefusal();
    if (why !== null) return refuse(why);
    this.programState = "running";
    this.lastError = "";
    this.waypointIndex = 0;
    this.dwellLeftMs = null;
    this.lastUpdateMs = this.clock.now();
    this.ticker = this.clock.setInterval(() => this.tick(), this.tickMs);
    this.emit();
    return ok;
  }

  /** Always accepted; stops motion at once if a program runs. */
  stopProgram(): CellResult {
    this.haltIfRunning("stopped");
    this.emit();
    return ok;
  }

  /** Clears latched stops and a program error once their causes are gone. Never restarts. */
  resetFault(): CellResult {
    if (this.emergencyStopPressed) return refuse("emergency stop button still pressed: release it first");
    if (this.protectiveStopActive && !this.doorClosed) return refuse("door open: close it first");
    this.emergencyStop = false;
    this.protectiveStopActive = false;
    if (this.programState === "error") this.programState = this.loaded === null ? "idle" : "loaded";
    this.emit();
    return ok;
  }

  setSpeedOverride(pct: number): CellResult {
    if (!Number.isFinite(pct) || pct < 0 || pct > 100) return refuse(`speed override ${pct} % is outside 0..100`, "INVALID_ARGUMENT");
    this.advanceToNow();
    this.speedOverridePct = pct;
    this.emit();
    return ok;
  }

  /** Why a start would be refused now, or null. The order is the order a controller checks. */
  startRefusal(): string | null {
    if (this.programState === "running") return "a program is already running";
    if (this.emergencyStop) return "emergency stop active: release the button and reset";
    if (this.protectiveStopActive) return "protective stop active: close the door and reset";
    if (this.programState === "error") return `program error (${this.lastError}): reset the fault first`;
    if (!AUTOMATIC_MODES.includes(this.mode)) {
      return `operational mode is ${operationalModeName(this.mode)}: start needs AUTOMATIC or AUTOMATIC_EXTERNAL`;
    }
    if (!this.doorClosed) return "door open: close the door first";
    if (this.loaded === null) return "no program loaded";
    if (!this.loaded.approved) return `program "${this.loaded.name}" is not approved`;
    return null;
  }

  // --- fault injection (the technician's and the tests' side) --------------------------------

  pressEmergencyStop(): void {
    this.emergencyStopPressed = true;
    this.emergencyStop = true;
    this.haltIfRunning("stopped");
    this.lastError = "emergency stop pressed";
    this.emit();
  }

  /** Releasing the button does not clear the latched e-stop: that needs `resetFault`. */
  releaseEmergencyStop(): void {
    this.emergencyStopPressed = false;
    this.emit();
  }

  /** An external protective stop (a light curtain, a safety PLC): halts and latches. */
  protectiveStop(reason = "protective stop triggered"): void {
    this.protectiveStopActive = true;
    this.haltIfRunning("stopped");
    this.lastError = reason;
    this.emit();
  }

  openDoor(): void {
    this.advanceToNow();
    this.doorClosed = false;
    // The door interlock is enabled in automatic only (OPC 40010 ProtectiveStopFunction.Enabled):
    // in the manual modes an operator may stand at the robot under reduced speed.
    if (this.programState === "running" && AUTOMATIC_MODES.includes(this.mode)) {
      this.protectiveStop("protective stop: door opened while running in automatic");
      return;
    }
    this.emit();
  }

  closeDoor(): void {
    this.doorClosed = true;
    this.emit();
  }

  setMode(mode: OperationalMode): CellResult {
    if (!isOperationalMode(mode)) return refuse(`unknown operational mode ${String(mode)}`, "INVALID_ARGUMENT");
    if (mode === this.mode) return ok;
    this.advanceToNow();
    this.mode = mode;
    if (this.haltIfRunning("stopped")) {
      this.lastError = `program stopped: operational mode changed to ${operationalModeName(mode)}`;
    }
    this.emit();
    return ok;
  }

  /** A fault in the program (a collision detected, a missing part): halts and needs a reset. */
  programError(message: string): void {
    this.haltIfRunning("error");
    this.programState = "error";
    this.lastError = message;
    this.emit();
  }

  /** Cancels the motion timer; the cell keeps its state. Safe to call twice. */
  dispose(): void {
    this.ticker?.cancel();
    this.ticker = null;
  }

  // --- motion ---------------------------------------------------------------------------------

  private tick(): void {
    this.advanceToNow();
    this.emit();
  }

  private advanceToNow(): void {
    if (this.programState !== "running") return;
    const now = this.clock.now();
    const dtMs = Math.max(0, now - this.lastUpdateMs);
    this.lastUpdateMs = now;
    this.advance(dtMs);
  }

  /**
   * Synchronous point-to-point motion: every axis reaches the waypoint at the same moment, the
   * one with the longest way moving at the program speed times the override. Time left over at
   * a waypoint carries into the dwell and the next segment, so the result does not depend on
   * the tick length.
   */
  private advance(dtMs: number): void {
    const program = this.loaded;
    if (program === null) return;
    let leftMs = dtMs;
    this.speedsDegS.fill(0);
    while (this.programState === "running" && leftMs > 0) {
      const waypoint = program.waypoints[this.waypointIndex];
      if (waypoint === undefined) {
        this.finish();
        return;
      }
      if (this.dwellLeftMs !== null) {
        const used = Math.min(this.dwellLeftMs, leftMs);
        this.dwellLeftMs -= used;
        leftMs -= used;
        if (this.dwellLeftMs <= 0) this.nextWaypoint();
        continue;
      }
      const speed = (program.speedDegS * this.speedOverridePct) / 100;
      if (speed <= 0) return; // override 0 %: the program holds where it is
      const distance = leadingDistanceDeg(this.axesDeg, waypoint.axesDeg);
      const reachMs = (distance / speed) * 1000;
      const fraction = reachMs <= leftMs ? 1 : leftMs / reachMs;
      for (let a = 0; a < AXIS_COUNT; a++) {
        const delta = (waypoint.axesDeg[a] ?? 0) - (this.axesDeg[a] ?? 0);
        this.speedsDegS[a] = distance > 0 ? (delta / distance) * speed : 0;
        this.axesDeg[a] = fraction === 1 ? (waypoint.axesDeg[a] ?? 0) : (this.axesDeg[a] ?? 0) + delta * fraction;
      }
      if (fraction < 1) return;
      leftMs -= reachMs;
      this.speedsDegS.fill(0);
      this.dwellLeftMs = waypoint.dwellMs ?? 0;
      if (this.dwellLeftMs <= 0) this.nextWaypoint();
    }
  }

  private nextWaypoint(): void {
    this.dwellLeftMs = null;
    this.waypointIndex += 1;
    if (this.loaded !== null && this.waypointIndex >= this.loaded.waypoints.length) this.finish();
  }

  private finish(): void {
    this.halt("done");
  }

  /**
   * Motion stops where it is, now (stop category 0 in the simulation: no braking ramp). Motion is
   * first integrated up to now, so a program that finished between two ticks ends as "done".
   */
  private haltIfRunning(next: "stopped" | "error"): boolean {
    this.advanceToNow();
    if (this.programState !== "running") return false;
    this.halt(next);
    return true;
  }

  private halt(next: "stopped" | "done" | "error"): void {
    this.ticker?.cancel();
    this.ticker = null;
    this.speedsDegS.fill(0);
    this.dwellLeftMs = null;
    this.programState = next;
  }

  private emit(): void {
    const s = this.snapshot();
    for (const listener of this.listeners) listener(s);
  }
}
