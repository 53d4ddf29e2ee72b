import { describe, expect, it } from "vitest";
import { ManualClock } from "../../hub/src/core/clock.ts";
import { startTinyHouse } from "./index.ts";
import { nextLocalHour, SimClock, simAt } from "./sim-clock.ts";


describe("sim clock: mapping and jumps", () => {
  it.each([
    // anchorReal, anchorSim, speed, real, sim
    [1000, 5000, 1, 2000, 6000],
    [1000, 5000, 60, 2000, 65_000],
    [1000, 5000, 600, 1000, 5000],
    [0, Date.UTC(2026, 5, 21, 10), 60, 60_000, Date.UTC(2026, 5, 21, 11)],
  ])("anchored at %d/%d, %dx: real %d is simulated %d", (anchorRealMs, anchorSimMs, speed, real, sim) => {
    expect(simAt({ anchorRealMs, anchorSimMs, speed }, real)).toBe(sim);
  });

  it.each([
    // simulated now (UTC), hour (Amsterdam), next (UTC). June: CEST (+2); January: CET (+1).
    [Date.UTC(2026, 5, 21, 8), 12, Date.UTC(2026, 5, 21, 10)],
    [Date.UTC(2026, 5, 21, 11), 12, Date.UTC(2026, 5, 22, 10)],
    [Date.UTC(2026, 5, 21, 10), 12, Date.UTC(2026, 5, 21, 10)],
    [Date.UTC(2026, 5, 21, 20), 7, Date.UTC(2026, 5, 22, 5)],
    [Date.UTC(2026, 0, 10, 8), 12, Date.UTC(2026, 0, 10, 11)],
    [Date.UTC(2026, 0, 10, 8), 24, Date.UTC(2026, 0, 10, 23)],
    [Date.UTC(2026, 0, 10, 8), 0, Date.UTC(2026, 0, 10, 23)],
  ])("from %d the next %d:00 in Deventer is %d", (now, hour, next) => {
    expect(nextLocalHour(now, hour)).toBe(next);
  });

  it("the Tiny House drives the clock it is given: speed changes and jumps re-anchor it, never backwards", async () => {
    const clock = new ManualClock(Date.UTC(2026, 5, 21, 10, 0));
    const simClock = new SimClock();
    const seen: number[] = [];
    simClock.subscribe((v) => seen.push(v.speed));
    expect(simClock.current()).toBeNull();
    // No passwords: no devices, no broker needed; the model and the clock still run.
    const house = await startTinyHouse({ brokerUrl: "mqtt://127.0.0.1:1", site: "th", passwords: {}, speed: 60, seed: 1, periodMs: 1000, clock, simClock, startMs: Date.UTC(2026, 5, 21, 6) });
    try {
      expect(simClock.current()).toEqual({ anchorRealMs: clock.now(), anchorSimMs: Date.UTC(2026, 5, 21, 6), speed: 60 });
      clock.advance(60_000); // one real minute at 60x: one simulated hour
      expect(house.model.state.timeMs).toBe(Date.UTC(2026, 5, 21, 7));
      const fast = house.setSpeed(600);
      expect(fast).toEqual({ anchorRealMs: clock.now(), anchorSimMs: Date.UTC(2026, 5, 21, 7), speed: 600 });
      clock.advance(6000); // six real seconds at 600x: one simulated hour
      expect(house.model.state.timeMs).toBe(Date.UTC(2026, 5, 21, 8));
      const noon = house.jumpToHour(12);
      expect(noon.anchorSimMs).toBe(Date.UTC(2026, 5, 21, 10)); // 12:00 in Deventer (CEST)
      expect(house.model.state.timeMs).toBe(noon.anchorSimMs);
      expect(house.model.state.pvPowerW).toBeGreaterThan(0);
      // Morning from noon is tomorrow's morning: simulated time never runs backwards.
      expect(house.jumpToHour(7).anchorSimMs).toBe(Date.UTC(2026, 5, 22, 5));
      expect(house.setSpeed(100_000).speed).toBe(3600);
      expect(seen).toEqual([60, 600, 600, 600, 3600]);
    } finally {
      await house.stop();
    }
  });
});
