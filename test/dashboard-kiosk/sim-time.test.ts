/** The kiosk's simulated time (dashboard/src/views/kiosk/sim-time.ts): mapping, "Vandaag"'s window and round ticks. */
import { describe, expect, it } from "vitest";
import { hourStepMs, niceTicks, realAt, shownNow, simAt, todayWindow } from "../../dashboard/src/views/kiosk/sim-time.ts";

const H = 3_600_000;
/** Midnight UTC: the tests' "local" day, whatever the machine's time zone. */
const utcMidnight = (ms: number) => Math.floor(ms / (24 * H)) * 24 * H;
const REAL0 = Date.UTC(2026, 11, 2, 10, 0);

describe("kiosk sim time", () => {
  const clock = { anchorRealMs: REAL0, anchorSimMs: Date.UTC(2026, 5, 21, 6), speed: 60 };

  it.each([
    [REAL0, Date.UTC(2026, 5, 21, 6)],
    [REAL0 + 60_000, Date.UTC(2026, 5, 21, 7)],
    [REAL0 + 6 * 60_000, Date.UTC(2026, 5, 21, 12)],
  ])("real %d is simulated %d, and back", (real, sim) => {
    expect(simAt(clock, real)).toBe(sim);
    expect(realAt(clock, sim)).toBe(real);
    expect(shownNow(clock, real)).toBe(sim);
    expect(shownNow(null, real)).toBe(real);
  });

  it("\"Vandaag\" without a simulator: from midnight, at least the last hour, in real time", () => {
    const w = todayWindow(null, REAL0, utcMidnight);
    expect(w).toMatchObject({ fromReal: Date.UTC(2026, 11, 2), toReal: REAL0, fromShown: Date.UTC(2026, 11, 2), toShown: REAL0 });
    expect(w.shown(REAL0 - 5)).toBe(REAL0 - 5);
    expect(todayWindow(null, Date.UTC(2026, 11, 2, 0, 20), utcMidnight).fromReal).toBe(Date.UTC(2026, 11, 1, 23, 20));
  });

  it("\"Vandaag\" simulated: starts at the anchor when the day began before it, maps history to simulated time", () => {
    const now = REAL0 + 6 * 60_000; // simulated 12:00
    const w = todayWindow(clock, now, utcMidnight);
    expect(w.fromShown).toBe(Date.UTC(2026, 5, 21, 6));
    expect(w.toShown).toBe(Date.UTC(2026, 5, 21, 12));
    expect(w.fromReal).toBe(REAL0);
    expect(w.toReal).toBe(now);
    expect(w.shown(REAL0 + 3 * 60_000)).toBe(Date.UTC(2026, 5, 21, 9));
  });

  it("\"Vandaag\" simulated across midnight: starts at the simulated midnight", () => {
    const now = REAL0 + 20 * 60_000; // simulated 02:00 the next day
    const w = todayWindow(clock, now, utcMidnight);
    expect(w.fromShown).toBe(Date.UTC(2026, 5, 22, 0));
    expect(w.fromReal).toBe(REAL0 + 18 * 60_000);
    expect(w.toShown).toBe(Date.UTC(2026, 5, 22, 2));
  });

  it.each([
    [0, [0, 0.25, 0.5, 0.75, 1]],
    [743, [0, 200, 400, 600, 800]],
    [1000, [0, 250, 500, 750, 1000]],
    [1600, [0, 500, 1000, 1500, 2000]],
    [2950, [0, 1000, 2000, 3000]],
    [3000, [0, 1000, 2000, 3000]],
    [9100, [0, 2500, 5000, 7500, 10000]],
  ])("round ticks up to %d W: %o", (max, ticks) => {
    expect(niceTicks(max)).toEqual(ticks);
  });

  it.each([
    [20 * H, 3 * H],
    [6 * H, H],
    [2 * H, H / 2],
    [H / 2, H / 6],
  ])("hour labels over %d ms every %d ms", (span, step) => {
    expect(hourStepMs(span)).toBe(step);
  });
});
