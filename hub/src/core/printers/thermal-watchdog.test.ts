import { describe, expect, it } from "vitest";
import { BED_LIMITS, HOTEND_LIMITS, HeaterWatch, REPORT_TIMEOUT_MS } from "./thermal-watchdog.ts";

const T0 = 1_000_000;

/** Feeds one sample a second from a temperature curve; returns the second a verdict came, or null. */
function run(watch: HeaterWatch, seconds: number, temp: (s: number) => number, target: (s: number) => number): number | null {
  for (let s = 0; s <= seconds; s++) {
    if (watch.sample(T0 + s * 1000, temp(s), target(s)) !== null) return s;
  }
  return null;
}

describe("hub-side thermal watchdog", () => {
  it("accepts a normal heat-up and hold", () => {
    const w = new HeaterWatch("hotend", HOTEND_LIMITS);
    expect(run(w, 300, (s) => Math.min(210, 21 + s * 1.5), () => 210)).toBeNull();
  });

  it("trips a hotend that does not gain 2 °C in 20 s while heating (heating failed)", () => {
    const w = new HeaterWatch("hotend", HOTEND_LIMITS);
    // Rises a little, then a broken heater cartridge: flat.
    const at = run(w, 60, (s) => (s < 5 ? 21 + s : 26), () => 210);
    expect(at).not.toBeNull();
    expect(at).toBeGreaterThanOrEqual(24);
    expect(at).toBeLessThanOrEqual(26);
  });

  it("trips a hotend that drifts more than 4 °C from target for 40 s (thermal runaway)", () => {
    const w = new HeaterWatch("hotend", HOTEND_LIMITS);
    const at = run(w, 200, (s) => (s < 100 ? Math.min(210, 21 + s * 3) : 200), () => 210);
    expect(at).toBe(141);
  });

  it("uses the bed's own, slower limits", () => {
    const w = new HeaterWatch("bed", BED_LIMITS);
    // 2 °C in 60 s is enough for a bed.
    expect(run(w, 59, (s) => 21 + s / 25, () => 60)).toBeNull();
    const flat = new HeaterWatch("bed", BED_LIMITS);
    expect(run(flat, 120, () => 21, () => 60)).toBe(61);
  });

  it("restarts the watch on a new target and is silent when off", () => {
    const w = new HeaterWatch("hotend", HOTEND_LIMITS);
    expect(run(w, 100, () => 21, () => 0)).toBeNull();
    expect(w.sample(T0, 200, 200)).toBeNull();
    // Lowering the target: cooling down is not a fault.
    expect(run(new HeaterWatch("hotend", HOTEND_LIMITS), 100, (s) => Math.max(150, 210 - s), (s) => (s < 1 ? 210 : 150))).toBeNull();
  });

  it("trips a heater that is on and stops reporting", () => {
    const w = new HeaterWatch("hotend", HOTEND_LIMITS);
    w.sample(T0, 100, 210);
    expect(w.check(T0 + REPORT_TIMEOUT_MS)).toBeNull();
    expect(w.check(T0 + REPORT_TIMEOUT_MS + 1)?.reason.en).toMatch(/no temperature report/);
    w.sample(T0 + 20_000, 100, 0);
    expect(w.check(T0 + 60_000)).toBeNull();
  });
});
