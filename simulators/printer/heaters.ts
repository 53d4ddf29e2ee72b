/**
 * One heater of the simulated printer: first-order physics, Marlin's power control, and Marlin's
 * thermal protection (Marlin/src/module/temperature.cpp, Configuration(_adv).h defaults; see
 * shared/reference/protocols-safety.md §2.1).
 *
 * Time here is *thermal* seconds: real seconds times the firmware's `heatFactor`, so a demo can heat
 * faster while the watch/runaway periods keep their proportion to the physics.
 */

export type HeaterId = "hotend" | "bed";

export interface HeaterSpec {
  id: HeaterId;
  /** What follows `Heater_ID: ` in Marlin's thermal errors. */
  errorId: "0" | "bed";
  /** Temperature rise above ambient at 100 % power, in steady state. */
  riseAtFullPowerC: number;
  timeConstantS: number;
  /** Proportional gain on top of the feed-forward, per °C of error (fraction of full power). */
  gainPerC: number;
  /** Integral gain per °C·s; a little windup gives the small overshoot of a real PID. */
  integralPerCs: number;
  minTempC: number;
  maxTempC: number;
  /** Marlin refuses targets above MAXTEMP minus the overshoot margin (HOTEND_OVERSHOOT 15, BED_OVERSHOOT 10). */
  maxTargetC: number;
  /** WATCH_TEMP_PERIOD / WATCH_TEMP_INCREASE (and the bed's). */
  watchPeriodS: number;
  watchIncreaseC: number;
  /** TEMP_HYSTERESIS: the watch is not armed when the target is this close. */
  hysteresisC: number;
  /** THERMAL_PROTECTION_PERIOD / _HYSTERESIS (and the bed's). */
  runawayPeriodS: number;
  runawayHysteresisC: number;
  /** M109/M190: TEMP_RESIDENCY_TIME, TEMP_WINDOW. */
  residencyS: number;
  windowC: number;
}

/**
 * Hotend: 330 °C rise at full power with a 75 s time constant gives ~4.4 °C/s from cold, ~2 °C/s
 * near 200 °C, and 21 -> 200 °C in about a minute. Bed: slower (~1 °C/s cold, ~0.5 °C/s at 60 °C).
 */
export const HOTEND_SPEC: HeaterSpec = {
  id: "hotend",
  errorId: "0",
  riseAtFullPowerC: 330,
  timeConstantS: 75,
  gainPerC: 0.08,
  integralPerCs: 0.004,
  minTempC: 5,
  maxTempC: 275,
  maxTargetC: 260,
  watchPeriodS: 20,
  watchIncreaseC: 2,
  hysteresisC: 3,
  runawayPeriodS: 40,
  runawayHysteresisC: 4,
  residencyS: 10,
  windowC: 1,
};

export const BED_SPEC: HeaterSpec = {
  id: "bed",
  errorId: "bed",
  riseAtFullPowerC: 110,
  timeConstantS: 150,
  gainPerC: 0.15,
  integralPerCs: 0.004,
  minTempC: 5,
  maxTempC: 125,
  maxTargetC: 115,
  watchPeriodS: 60,
  watchIncreaseC: 2,
  hysteresisC: 3,
  runawayPeriodS: 20,
  runawayHysteresisC: 2,
  residencyS: 10,
  windowC: 1,
};

/** What an open thermistor reads (the table's bottom) and what a shorted one reads. */
export const SENSOR_OPEN_C = -14;
export const SENSOR_SHORT_C = 310;
/** Marlin's PID_FUNCTIONAL_RANGE: further below target than this, the heater runs flat out. */
const FULL_POWER_BELOW_C = 10;
/** Soft PWM on AVR runs 0..127 (`@:127` in reports). */
export const PWM_MAX = 127;

export type ThermalError = "Thermal Runaway" | "Heating failed" | "MINTEMP triggered" | "MAXTEMP triggered";

export type SensorState = "ok" | "open" | "short";

export interface HeaterFaults {
  /** The element no longer heats (broken cartridge, loose connector); power is still commanded. */
  heaterFailed: boolean;
  sensor: SensorState;
  /** Skip watch and runaway checks for this heater (firmware without THERMAL_PROTECTION_*). */
  unprotected: boolean;
}

type RunawayState = "inactive" | "firstHeating" | "stable";

export class Heater {
  /** The physical temperature of the block. */
  trueC: number;
  targetC = 0;
  /** Commanded power 0..1 (what `@:` reports, even if the element is broken). */
  power = 0;
  readonly faults: HeaterFaults = { heaterFailed: false, sensor: "ok", unprotected: false };

  private noiseC = 0;
  private integralCs = 0;
  private runaway: RunawayState = "inactive";
  private runawayTarget = 0;
  private runawayTimerS = 0;
  private watchTargetC = 0;
  /** 0 = watch not armed (Marlin's next_ms = 0). */
  private watchAtS = 0;

  constructor(
    readonly spec: HeaterSpec,
    readonly ambientC: number,
  ) {
    this.trueC = ambientC;
  }

  /** What the thermistor reports. */
  get readingC(): number {
    if (this.faults.sensor === "open") return SENSOR_OPEN_C;
    if (this.faults.sensor === "short") return SENSOR_SHORT_C;
    return this.trueC + this.noiseC;
  }

  get pwm(): number {
    return Math.round(this.power * PWM_MAX);
  }

  /** M104/M140/M109/M190: clamp like Marlin, then (re)start the heating watch. */
  setTarget(celsius: number, nowS: number): void {
    this.targetC = Math.max(0, Math.min(Math.round(celsius), this.spec.maxTargetC));
    this.startWatching(nowS);
  }

  /** Marlin's start_watching_*: arm only if the target is well above the current temperature. */
  startWatching(nowS: number): void {
    const newTarget = Math.trunc(this.readingC) + this.spec.watchIncreaseC;
    if (this.targetC > 0 && newTarget < this.targetC - this.spec.hysteresisC - 1) {
      this.watchTargetC = newTarget;
      this.watchAtS = nowS + this.spec.watchPeriodS;
    } else {
      this.watchAtS = 0;
    }
  }

  /** disable_all_heaters(). */
  off(): void {
    this.targetC = 0;
    this.power = 0;
    this.watchAtS = 0;
  }

  /** Advances the physics by `dtS` thermal seconds; `noiseC` is this sample's sensor noise. */
  step(dtS: number, noiseC: number): void {
    this.noiseC = noiseC;
    this.power = this.control(dtS);
    const effective = this.faults.heaterFailed ? 0 : this.power;
    const steady = this.ambientC + this.spec.riseAtFullPowerC * effective;
    this.trueC = steady + (this.trueC - steady) * Math.exp(-dtS / this.spec.timeConstantS);
  }

  /**
   * Marlin's checks, in the order manage_heater and the ADC ISR run them. Returns the error the
   * firmware raises, or null. MINTEMP/MAXTEMP always apply (they are not THERMAL_PROTECTION_*).
   */
  check(nowS: number): ThermalError | null {
    const c = this.readingC;
    if (c > this.spec.maxTempC) return "MAXTEMP triggered";
    // Marlin 2.1 checks MINTEMP only while the heater has a target (temperature.cpp readings_ready).
    if (this.targetC > 0 && c < this.spec.minTempC) return "MINTEMP triggered";
    if (this.faults.unprotected) return null;
    if (this.runawayStep(c, nowS)) return "Thermal Runaway";
    if (this.watchAtS !== 0 && nowS >= this.watchAtS) {
      if (c >= this.watchTargetC) this.startWatching(nowS);
      else return "Heating failed";
    }
    return null;
  }

  /** ` T:210.00 /210.00` (or ` B:…`), Marlin's print_heater_state. */
  report(key: "T" | "B"): string {
    return ` ${key}:${this.readingC.toFixed(2)} /${this.targetC.toFixed(2)}`;
  }

  /** Marlin's tr_state_machine_t::run; true when the runaway fires. */
  private runawayStep(c: number, nowS: number): boolean {
    if (this.runawayTarget !== this.targetC) {
      this.runawayTarget = this.targetC;
      this.runaway = this.targetC > 0 ? "firstHeating" : "inactive";
    }
    if (this.runaway === "inactive") return false;
    if (this.runaway === "firstHeating") {
      if (c < this.runawayTarget) return false; // a slow climb is not a runaway
      this.runaway = "stable";
      this.runawayTimerS = nowS + this.spec.runawayPeriodS;
    }
    if (this.runawayTarget - c <= this.spec.runawayHysteresisC) {
      this.runawayTimerS = nowS + this.spec.runawayPeriodS;
      return false;
    }
    return nowS >= this.runawayTimerS;
  }

  /**
   * Feed-forward plus PI, like Marlin's PID: full power further than PID_FUNCTIONAL_RANGE below
   * the target (integral reset), off without a target or outside MINTEMP..MAXTEMP.
   */
  private control(dtS: number): number {
    const c = this.readingC;
    const error = this.targetC - c;
    if (this.targetC <= 0 || c <= this.spec.minTempC || c >= this.spec.maxTempC || Math.abs(error) > FULL_POWER_BELOW_C) {
      this.integralCs = 0;
      return this.targetC > 0 && error > FULL_POWER_BELOW_C && c > this.spec.minTempC && c < this.spec.maxTempC ? 1 : 0;
    }
    const limit = 0.2 / this.spec.integralPerCs; // the integral term stays within ±20 % power
    this.integralCs = Math.max(-limit, Math.min(limit, this.integralCs + error * dtS));
    const hold = (this.targetC - this.ambientC) / this.spec.riseAtFullPowerC;
    return Math.min(1, Math.max(0, hold + error * this.spec.gainPerC + this.integralCs * this.spec.integralPerCs));
  }
}
