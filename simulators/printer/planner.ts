/**
 * Motion of the simulated printer: the G-code coordinate state (G90/G91, M82/M83, G92, M220) and a
 * bounded planner whose moves really take time. A move lasts distance / feed rate (no acceleration
 * model), divided by `speedFactor`. Times are clock milliseconds.
 */

export interface Axes {
  x: number;
  y: number;
  z: number;
  e: number;
}

type Axis = keyof Axes;
export const AXES: readonly Axis[] = ["x", "y", "z", "e"];

/** Marlin DEFAULT_MAX_FEEDRATE (mm/s) and DEFAULT_AXIS_STEPS_PER_UNIT. */
const MAX_FEED_MM_S: Axes = { x: 300, y: 300, z: 5, e: 25 };
const STEPS_PER_MM: Axes = { x: 80, y: 80, z: 400, e: 500 };
/** Marlin's initial feedrate_mm_s: 1500 mm/min. */
const DEFAULT_FEED_MM_MIN = 1500;
/** Homing feed rates (HOMING_FEEDRATE_MM_M 50/50/4 mm/s) and the time of the slow second touch. */
const HOMING_MM_S: Axes = { x: 50, y: 50, z: 4, e: 1 };
const HOMING_BUMP_S: Axes = { x: 0.3, y: 0.3, z: 1.0, e: 0 };

/**
 * How long a move of `d` (mm per axis) takes at `feedMmMin`: the XYZ distance (or the E distance of
 * an extruder-only move) over the feed rate, slowed to each axis's maximum; 0 for no motion.
 */
export function moveSeconds(d: Axes, feedMmMin: number): number {
  const xyz = Math.hypot(d.x, d.y, d.z);
  const mm = xyz > 0 ? xyz : Math.abs(d.e);
  if (mm === 0) return 0;
  let seconds = mm / Math.max(0.01, feedMmMin / 60);
  for (const a of AXES) seconds = Math.max(seconds, Math.abs(d[a]) / MAX_FEED_MM_S[a]);
  return seconds;
}

interface Move {
  from: Axes;
  to: Axes;
  startMs: number;
  endMs: number;
}

export class Motion {
  /** The commanded (logical) position: what M114 reports. */
  readonly position: Axes = { x: 0, y: 0, z: 0, e: 0 };
  relative = false;
  relativeE = false;
  feedMmMin = DEFAULT_FEED_MM_MIN;
  feedPercent = 100;
  flowPercent = 100;
  /** G92 shifts (logical minus machine) for X/Y/Z, like Marlin's position_shift. */
  private readonly shift: Axes = { x: 0, y: 0, z: 0, e: 0 };
  private moves: Move[] = [];
  /** Where the machine is when the planner is empty (machine coordinates). */
  private rest: Axes = { x: 0, y: 0, z: 0, e: 0 };
  filamentMm = 0;

  constructor(
    readonly slots: number,
    readonly speedFactor: number,
  ) {}

  /** G0/G1 target in logical coordinates from the words present. */
  resolveTarget(words: Partial<Axes>): Axes {
    const t = { ...this.position };
    for (const a of AXES) {
      const v = words[a];
      if (v === undefined) continue;
      const rel = a === "e" ? this.relative || this.relativeE : this.relative;
      t[a] = rel ? this.position[a] + v : v;
    }
    return t;
  }

  /** Moves still in the planner at `nowMs` (including the one executing). */
  queued(nowMs: number): number {
    this.prune(nowMs);
    return this.moves.length;
  }

  hasRoom(nowMs: number): boolean {
    return this.queued(nowMs) < this.slots;
  }

  /** When the oldest move finishes (a slot frees), or undefined if none is queued. */
  nextFreeAt(): number | undefined {
    return this.moves[0]?.endMs;
  }

  /** When the planner runs dry. */
  idleAt(nowMs: number): number {
    const last = this.moves[this.moves.length - 1];
    return last === undefined ? nowMs : Math.max(nowMs, last.endMs);
  }

  /**
   * Queues a move to logical `target` (caller checked `hasRoom`). `extrude` false drops the E motion
   * (cold extrusion prevented). Returns the move's duration in clock ms (0 for a zero-length move,
   * which Marlin drops).
   */
  push(target: Axes, nowMs: number, extrude: boolean): number {
    const from = this.machineEnd();
    const to: Axes = {
      x: target.x - this.shift.x,
      y: target.y - this.shift.y,
      z: target.z - this.shift.z,
      e: extrude ? from.e + (target.e - this.position.e) * (this.flowPercent / 100) : from.e,
    };
    Object.assign(this.position, target);
    const d = { x: to.x - from.x, y: to.y - from.y, z: to.z - from.z, e: to.e - from.e };
    const seconds = moveSeconds(d, this.feedMmMin * (this.feedPercent / 100));
    if (seconds === 0) return 0;
    if (d.e > 0) this.filamentMm += d.e;
    const startMs = Math.max(nowMs, this.moves[this.moves.length - 1]?.endMs ?? nowMs);
    const durationMs = (seconds * 1000) / this.speedFactor;
    this.moves.push({ from, to, startMs, endMs: startMs + durationMs });
    return durationMs;
  }

  /** Duration of G28 for the given axes from where the machine is now (planner must be empty). */
  homingMs(axes: readonly Axis[]): number {
    let seconds = 0;
    for (const a of axes) seconds += Math.abs(this.rest[a]) / HOMING_MM_S[a] + HOMING_BUMP_S[a];
    return (seconds * 1000) / this.speedFactor;
  }

  /** The axes are at their endstops: position 0, G92 shifts cleared (Marlin set_axis_is_at_home). */
  homed(axes: readonly Axis[]): void {
    for (const a of axes) {
      this.rest[a] = 0;
      this.shift[a] = 0;
      this.position[a] = 0;
    }
  }

  /** G92: sets the logical position without moving. */
  setPosition(words: Partial<Axes>): void {
    const end = this.machineEnd();
    for (const a of AXES) {
      const v = words[a];
      if (v === undefined) continue;
      this.position[a] = v;
      // E needs no shift: moves extrude the logical difference.
      if (a !== "e") this.shift[a] = v - end[a];
    }
  }

  /** M410: abort every planned move; the position becomes where the steppers are now. */
  quickStop(nowMs: number): void {
    const now = this.actual(nowMs);
    const end = this.machineEnd();
    this.moves = [];
    this.rest = now;
    for (const a of AXES) this.position[a] = a === "e" ? this.position.e - (end.e - now.e) : now[a] + this.shift[a];
  }

  /** Where the steppers are at `nowMs` (machine coordinates), interpolated along the current move. */
  actual(nowMs: number): Axes {
    this.prune(nowMs);
    const m = this.moves[0];
    if (m === undefined || nowMs <= m.startMs) return { ...(m?.from ?? this.rest) };
    const f = Math.min(1, (nowMs - m.startMs) / Math.max(1e-9, m.endMs - m.startMs));
    return {
      x: m.from.x + (m.to.x - m.from.x) * f,
      y: m.from.y + (m.to.y - m.from.y) * f,
      z: m.from.z + (m.to.z - m.from.z) * f,
      e: m.from.e + (m.to.e - m.from.e) * f,
    };
  }

  /** ` Count X:… Y:… Z:…`: the planner's end position in steps (Marlin report_a_position). */
  counts(): { x: number; y: number; z: number } {
    const end = this.machineEnd();
    return {
      x: Math.round(end.x * STEPS_PER_MM.x),
      y: Math.round(end.y * STEPS_PER_MM.y),
      z: Math.round(end.z * STEPS_PER_MM.z),
    };
  }

  /** A firmware reset: everything forgotten, the machine assumed at 0 (Marlin does not know better). */
  reset(): void {
    this.moves = [];
    for (const a of AXES) {
      this.position[a] = 0;
      this.shift[a] = 0;
      this.rest[a] = 0;
    }
    this.relative = false;
    this.relativeE = false;
    this.feedMmMin = DEFAULT_FEED_MM_MIN;
    this.feedPercent = 100;
    this.flowPercent = 100;
  }

  /** Power loss or kill: the planner is emptied where the machine stands. */
  clear(nowMs: number): void {
    this.rest = this.actual(nowMs);
    this.moves = [];
  }

  private machineEnd(): Axes {
    const last = this.moves[this.moves.length - 1];
    return { ...(last?.to ?? this.rest) };
  }

  private prune(nowMs: number): void {
    while (this.moves.length > 0 && (this.moves[0]?.endMs ?? 0) <= nowMs) {
      const done = this.moves.shift();
      if (done !== undefined) this.rest = done.to;
    }
  }
}
