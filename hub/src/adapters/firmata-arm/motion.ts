/**
 * Servo-arm motion, planned by the hub: StandardFirmata moves a servo as fast as it can to whatever
 * angle it is sent, so speed exists only as the size of the steps we send. Pure; the driver calls
 * `next()` once per step tick.
 *
 * Each waypoint is reached by straight-line interpolation in joint space, all joints arriving
 * together, in whole steps. A segment takes at least its `durationMs` and at least as many steps as
 * the joint with the furthest to go needs at `maxSpeedDegS`: no joint ever moves more than
 * `maxSpeedDegS * stepMs / 1000` in one step, whatever the timer jitter (a late tick slows the arm,
 * it never speeds it up). Targets are clamped to each joint's limits first.
 */

export interface JointLimits {
  minDeg: number;
  maxDeg: number;
}

export interface Waypoint {
  anglesDeg: readonly number[];
  durationMs: number;
}

export interface MotionStep {
  poseDeg: number[];
  /** Index of the waypoint this step moves towards. */
  waypoint: number;
  /** True on the step that reaches it. */
  reached: boolean;
}

export function clampPose(pose: readonly number[], limits: readonly JointLimits[]): number[] {
  return limits.map((l, i) => Math.min(l.maxDeg, Math.max(l.minDeg, pose[i] ?? l.minDeg)));
}

/** How many steps a segment takes (at least one). */
export function segmentSteps(from: readonly number[], to: readonly number[], durationMs: number, maxSpeedDegS: number, stepMs: number): number {
  const furthest = Math.max(0, ...to.map((t, i) => Math.abs(t - (from[i] ?? t))));
  const fastestMs = (furthest / maxSpeedDegS) * 1000;
  return Math.max(1, Math.ceil(Math.max(durationMs, fastestMs) / stepMs - 1e-9));
}

export class MotionPlan {
  private index = 0;
  private step = 0;
  private steps = 0;
  private from: number[];
  private to: number[] = [];

  constructor(
    start: readonly number[],
    private readonly waypoints: readonly Waypoint[],
    private readonly limits: readonly JointLimits[],
    private readonly maxSpeedDegS: number,
    private readonly stepMs: number,
  ) {
    this.from = clampPose(start, limits);
    this.begin();
  }

  /** The next pose to command, or null when the last waypoint has been reached. */
  next(): MotionStep | null {
    if (this.index >= this.waypoints.length) return null;
    this.step++;
    const k = this.step / this.steps;
    const reached = this.step >= this.steps;
    const poseDeg = reached ? [...this.to] : this.to.map((t, i) => {
      const f = this.from[i] ?? t;
      return f + (t - f) * k;
    });
    const waypoint = this.index;
    if (reached) {
      this.from = this.to;
      this.index++;
      this.begin();
    }
    return { poseDeg, waypoint, reached };
  }

  /** True once the last waypoint has been reached. */
  get done(): boolean {
    return this.index >= this.waypoints.length;
  }

  private begin(): void {
    const wp = this.waypoints[this.index];
    if (wp === undefined) return;
    this.to = clampPose(wp.anglesDeg, this.limits);
    this.step = 0;
    this.steps = segmentSteps(this.from, this.to, wp.durationMs, this.maxSpeedDegS, this.stepMs);
  }
}
