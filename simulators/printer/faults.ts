/**
 * Faults the printer simulator can be told to have (`MarlinFirmware.inject`), for the hub's driver,
 * watchdog and interlock tests. Hardware faults (heater, sensor, a noisy cable) and the firmware
 * build survive a firmware reset, as they would on a real machine; one-shot protocol faults
 * (dontAnswer, busyForever, resendStorm) are cleared by it. `clearFaults()` clears everything.
 */
import type { HeaterId } from "./heaters.ts";

export type PrinterFault =
  /**
   * The element stops heating while the firmware keeps commanding power: the temperature stays
   * or decays with `@:127`, so Marlin's own watch ("Heating failed") or runaway fires. `silent`:
   * the firmware does not react at all, for testing the hub's second opinion.
   */
  | { kind: "heaterFailure"; heater?: HeaterId; silent?: boolean }
  /** Thermistor open: reads -14 °C; MINTEMP as soon as the heater has a target. */
  | { kind: "sensorOpen"; heater?: HeaterId }
  /** Thermistor shorted: reads 310 °C; MAXTEMP at once. */
  | { kind: "sensorShort"; heater?: HeaterId }
  /** Each received line is corrupted (one byte flipped or dropped) with this probability 0..1. */
  | { kind: "lineNoise"; probability: number }
  /** Before each line the firmware sends, a line of random bytes with this probability 0..1. */
  | { kind: "garbageOutput"; probability: number }
  /** The transport drops (the owner's `onDisconnect` is called); the firmware hears and says nothing until reset. */
  | { kind: "disconnect" }
  /** kill(): `Error:Printer halted. kill() called!`, heaters off, silent until reset. */
  | { kind: "kill" }
  /** stop(): `Error:Printer stopped due to errors…`, heaters off; M999 restarts. */
  | { kind: "stop" }
  /** Firmware built without THERMAL_PROTECTION_*: no watch, no runaway, `Cap:THERMAL_PROTECTION:0`. */
  | { kind: "noThermalProtection" }
  /** Swallow the next `count` (default 1) lines: no processing, no ok. */
  | { kind: "dontAnswer"; count?: number }
  /** The command executing (or the next one) never finishes; busy messages continue until cleared. */
  | { kind: "busyForever" }
  /** Request a resend of the next numbered line `count` times over before accepting it. */
  | { kind: "resendStorm"; count: number };

export interface ActiveFaults {
  heaterFailure: Map<HeaterId, { silent: boolean }>;
  sensor: Map<HeaterId, "open" | "short">;
  lineNoise: number;
  garbageOutput: number;
  noThermalProtection: boolean;
  dontAnswer: number;
  busyForever: boolean;
  resendStorm: number;
}

export function noFaults(): ActiveFaults {
  return {
    heaterFailure: new Map(),
    sensor: new Map(),
    lineNoise: 0,
    garbageOutput: 0,
    noThermalProtection: false,
    dontAnswer: 0,
    busyForever: false,
    resendStorm: 0,
  };
}

/** What a firmware reset keeps: everything but the one-shot protocol faults. */
export function afterReset(f: ActiveFaults): ActiveFaults {
  return { ...f, dontAnswer: 0, busyForever: false, resendStorm: 0 };
}

export function clampProbability(p: number): number {
  return Number.isFinite(p) ? Math.min(1, Math.max(0, p)) : 0;
}
