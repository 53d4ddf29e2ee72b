/**
 * The Tiny House's simulated clock: simulated time = anchorSimMs + (real - anchorRealMs) * speed.
 * A change of speed or a jump to a time of day re-anchors it (the simulated time never runs
 * backwards: a jump goes to the next time that hour comes round). Built before the hub and the
 * simulator, so both get it at construction: the simulator drives it, the hub streams it.
 */
import type { SimClockView } from "../../hub/src/api/live-protocol.ts";
import { amsterdamOffsetMs } from "./model.ts";

export type { SimClockView };

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
export const MIN_SPEED = 1;
export const MAX_SPEED = 3600;

/** Simulated time at real time `realMs`. */
export function simAt(v: SimClockView, realMs: number): number {
  return v.anchorSimMs + (realMs - v.anchorRealMs) * v.speed;
}

/** The next moment (at or after `simMs`) the Tiny House's local clock (Europe/Amsterdam) shows `hour` (0..24). */
export function nextLocalHour(simMs: number, hour: number): number {
  const offset = amsterdamOffsetMs(simMs);
  const local = simMs + offset;
  const dayStart = Math.floor(local / DAY_MS) * DAY_MS;
  let target = dayStart + hour * HOUR_MS;
  if (target < local) target += DAY_MS;
  return target - offset;
}

export class SimClock {
  private view: SimClockView | null = null;
  private readonly listeners = new Set<(v: SimClockView) => void>();

  /** The clock as it runs now, or null before the simulator started it. */
  current(): SimClockView | null {
    return this.view;
  }

  /** Re-anchors the clock (the simulator does this at start, on a speed change and on a jump). */
  anchor(v: SimClockView): void {
    this.view = { ...v };
    for (const fn of this.listeners) fn(this.view);
  }

  subscribe(fn: (v: SimClockView) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
