/**
 * Time on the kiosk when the installation is simulated: the day runs at `speed` (60x in the demo),
 * so the clock shows simulated time of day and "Vandaag" covers the simulated day. History is stored
 * by real (hub) time: it is mapped through the clock's last anchor; a change of speed or a jump
 * starts a new anchor, and "Vandaag" then starts at the anchor (what came before it cannot be
 * placed on today's simulated hours). Also the chart's round tick values. Pure: table-tested.
 */
import type { SimClockView } from "../../../../hub/src/api/live-protocol.ts";

export type { SimClockView };

export function simAt(v: SimClockView, realMs: number): number {
  return v.anchorSimMs + (realMs - v.anchorRealMs) * v.speed;
}

export function realAt(v: SimClockView, simMs: number): number {
  return v.anchorRealMs + (simMs - v.anchorSimMs) / v.speed;
}

/** The time of day to show: simulated when there is a simulated clock, else the hub's. */
export function shownNow(v: SimClockView | null, hubNowMs: number): number {
  return v === null ? hubNowMs : simAt(v, hubNowMs);
}

export interface TodayWindow {
  /** History to ask for, in real (hub) time. */
  fromReal: number;
  toReal: number;
  /** The chart's span in shown time (simulated when simulated). */
  fromShown: number;
  toShown: number;
  /** A history point's real time as shown time. */
  shown(realMs: number): number;
}

/**
 * What "Vandaag" covers: without a simulated clock, from midnight (at least the last hour);
 * with one, the simulated day so far since the later of its midnight and the clock's last anchor.
 * `startOfDay` gives local midnight of a time (the screen's time zone).
 */
export function todayWindow(v: SimClockView | null, hubNowMs: number, startOfDay: (ms: number) => number): TodayWindow {
  if (v === null) {
    const fromReal = Math.min(startOfDay(hubNowMs), hubNowMs - 3_600_000);
    return { fromReal, toReal: hubNowMs, fromShown: fromReal, toShown: hubNowMs, shown: (ms) => ms };
  }
  const simNow = simAt(v, hubNowMs);
  const fromShown = Math.min(simNow, Math.max(startOfDay(simNow), v.anchorSimMs));
  return { fromReal: realAt(v, fromShown), toReal: hubNowMs, fromShown, toShown: simNow, shown: (ms) => simAt(v, ms) };
}

/** Round tick values from 0 to at least `max`: steps of 1, 2, 2.5 or 5 times a power of ten (0, 500, 1000, 1500 W). */
export function niceTicks(max: number, count = 4): number[] {
  const target = Math.max(max, 1) / count;
  const mag = 10 ** Math.floor(Math.log10(target));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= target) ?? 10) * mag;
  const top = Math.ceil(Math.max(max, 1) / step) * step;
  const ticks: number[] = [];
  for (let k = 0; k * step <= top + step / 1e6; k++) ticks.push(Math.round(k * step * 1e6) / 1e6);
  return ticks;
}

/** Hour-label spacing for a span of shown time: 3 h, 1 h, 30 min or 10 min. */
export function hourStepMs(spanMs: number): number {
  return spanMs > 12 * 3600_000 ? 3 * 3600_000 : spanMs > 3 * 3600_000 ? 3600_000 : spanMs > 3600_000 ? 1800_000 : 600_000;
}
