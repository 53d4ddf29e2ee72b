/**
 * The hub's second opinion on a printer's heaters, after Marlin's thermal protection (the first,
 * in the firmware) and Klipper's verify_heater: while heating, the temperature must gain
 * `watchIncreaseC` within `watchPeriodS`; once at target it must stay within `hysteresisC` of it,
 * never drifting out for longer than `periodS`; and while a heater is on, temperature reports must
 * keep coming. Pure: samples and time in, a verdict out.
 */
import { type TextArg, text } from "../texts/texts.ts";
import type { Text } from "../types.ts";

export interface HeaterLimits {
  /** Heating: gain at least this much... */
  watchIncreaseC: number;
  /** ...within this long (Marlin WATCH_TEMP_PERIOD). */
  watchPeriodS: number;
  /** Holding: outside target +- this... */
  hysteresisC: number;
  /** ...for longer than this is a runaway (Marlin THERMAL_PROTECTION_PERIOD). */
  periodS: number;
}

/** Marlin's defaults (Configuration_adv.h), which Klipper's verify_heater matches in spirit. */
export const HOTEND_LIMITS: HeaterLimits = { watchIncreaseC: 2, watchPeriodS: 20, hysteresisC: 4, periodS: 40 };
export const BED_LIMITS: HeaterLimits = { watchIncreaseC: 2, watchPeriodS: 60, hysteresisC: 2, periodS: 20 };
/** No temperature report for this long while a heater is on is a fault too. */
export const REPORT_TIMEOUT_MS = 10_000;

type Phase =
  | { kind: "off" }
  /** The target went down: cooling towards it is not a fault. */
  | { kind: "cooling" }
  | { kind: "heating"; goalC: number; deadline: number }
  | { kind: "holding"; outsideSince: number | null };

export interface ThermalVerdict {
  heater: "hotend" | "bed";
  reason: Text;
}

export class HeaterWatch {
  private phase: Phase = { kind: "off" };
  private target = 0;
  private lastSampleAt: number | null = null;
  private lastActual: number | null = null;

  constructor(
    readonly heater: "hotend" | "bed",
    private readonly limits: HeaterLimits,
  ) {}

  /** A temperature report: actual and target (°C). Returns a verdict if the heater misbehaves. */
  sample(now: number, actual: number, target: number): ThermalVerdict | null {
    this.lastSampleAt = now;
    this.lastActual = actual;
    if (target !== this.target) this.retarget(now, actual, target);
    const p = this.phase;
    const L = this.limits;
    switch (p.kind) {
      case "off":
        return null;
      case "cooling":
        if (actual <= this.target + L.hysteresisC) this.phase = { kind: "holding", outsideSince: null };
        return null;
      case "heating":
        if (actual >= this.target - L.hysteresisC) {
          this.phase = { kind: "holding", outsideSince: null };
          return null;
        }
        if (actual >= p.goalC) {
          this.phase = { kind: "heating", goalC: actual + L.watchIncreaseC, deadline: now + L.watchPeriodS * 1000 };
          return null;
        }
        if (now > p.deadline) {
          return this.verdict("printer.thermal.notHeating", { gainC: L.watchIncreaseC, periodS: L.watchPeriodS, actualC: actual.toFixed(1), targetC: this.target });
        }
        return null;
      case "holding": {
        const outside = Math.abs(actual - this.target) > L.hysteresisC;
        if (!outside) {
          p.outsideSince = null;
          return null;
        }
        p.outsideSince ??= now;
        if (now - p.outsideSince > L.periodS * 1000) {
          return this.verdict("printer.thermal.offTarget", { offC: Math.abs(actual - this.target).toFixed(1), periodS: L.periodS });
        }
        return null;
      }
    }
  }

  /** Called on the clock: a heater that is on and has gone quiet is a fault. */
  check(now: number): ThermalVerdict | null {
    if (this.target <= 0 || this.lastSampleAt === null) return null;
    if (now - this.lastSampleAt > REPORT_TIMEOUT_MS) {
      return this.verdict("printer.thermal.silent", { seconds: Math.round((now - this.lastSampleAt) / 1000) });
    }
    return null;
  }

  get on(): boolean {
    return this.target > 0;
  }

  get actual(): number | null {
    return this.lastActual;
  }

  reset(): void {
    this.phase = { kind: "off" };
    this.target = 0;
    this.lastSampleAt = null;
  }

  private retarget(now: number, actual: number, target: number): void {
    this.target = target;
    if (target <= 0) this.phase = { kind: "off" };
    else if (actual > target + this.limits.hysteresisC) this.phase = { kind: "cooling" };
    else if (actual >= target - this.limits.hysteresisC) this.phase = { kind: "holding", outsideSince: null };
    else this.phase = { kind: "heating", goalC: actual + this.limits.watchIncreaseC, deadline: now + this.limits.watchPeriodS * 1000 };
  }

  private verdict(key: "printer.thermal.notHeating" | "printer.thermal.offTarget" | "printer.thermal.silent", args: Record<string, TextArg>): ThermalVerdict {
    const heater = text(this.heater === "hotend" ? "printer.heater.hotend" : "printer.heater.bed");
    this.phase = { kind: "off" };
    return { heater: this.heater, reason: text(key, { ...args, heater }) };
  }
}
