/**
 * The Tiny House physics: pure and deterministic (seeded), no I/O and no timers. `step(dtS)` moves
 * simulated time forward; the caller decides how real time maps onto it.
 *
 * Signs follow Home Assistant's "standard" power sensors: grid + import, battery + discharge, PV and
 * load >= 0, and `loadPowerW = pvPowerW + gridPowerW + batteryPowerW` holds exactly at every step
 * (all four are whole watts, the grid is what is left over). Battery losses (one-way efficiency)
 * sit on the DC side, so they show in the state of charge and never in the AC balance.
 * Parameters: the project reference "Realistic Tiny House parameters" (protocols-safety.md 7.4):
 * 3 kWp PV, 10 kWh LFP used between 10 and 90 %, heat pump COP 2.5 at -5 C .. 4.5 at +10 C.
 */
import { createRng, deriveSeed, type Rng } from "../common/rng.ts";

export interface TinyHouseControls {
  chargeEnable: boolean;
  dischargeEnable: boolean;
  compressorEnable: boolean;
  ventilationEnable: boolean;
  pumpEnable: boolean;
  valveOpen: boolean;
  heaterEnable: boolean;
}

export const DEFAULT_PARAMS = {
  latDeg: 52.25, // Deventer
  lonDeg: 6.16,
  pvPeakW: 3000,
  pvDerate: 0.88, // inverter, wiring, soiling
  inverterMaxW: 3000,
  batteryCapacityWh: 10_000,
  socMinPct: 10,
  socMaxPct: 90,
  batteryMaxChargeW: 3000,
  batteryMaxDischargeW: 3000,
  batteryEfficiency: 0.95, // one way
  hpMinW: 500,
  hpMaxW: 1500,
  hpFlowLpm: 12,
  heatingSetpointC: 20.5,
  houseUaWPerK: 45,
  houseHeatCapacityJPerK: 4e6,
  houseVolumeM3: 75,
  ventilationMaxM3h: 150,
  heatRecovery: 0.85,
  tankLitres: 150,
  tankSetpointC: 55,
  heaterW: 2000,
  rainTankLitres: 2000,
  pumpW: 500,
  pumpFlowLpm: 15,
  /** Chance per simulated hour that a pipe starts leaking on its own; 0 = only injected leaks. */
  leakProbabilityPerH: 0,
  maxStepS: 10,
};
export type TinyHouseParams = typeof DEFAULT_PARAMS;

export interface TinyHouseState {
  timeMs: number;
  pvPowerW: number;
  irradianceWm2: number;
  pvEnergyTodayWh: number;
  batteryPowerW: number;
  socPct: number;
  batteryTempC: number;
  batteryChargeWh: number;
  batteryDischargeWh: number;
  gridPowerW: number;
  loadPowerW: number;
  gridImportWh: number;
  gridExportWh: number;
  baseLoadW: number;
  hpPowerW: number;
  hpHeatW: number;
  hpCop: number;
  outdoorTempC: number;
  hpFlowLpm: number;
  indoorTempC: number;
  co2Ppm: number;
  ventilationPct: number;
  ventilationPowerW: number;
  occupants: number;
  tankTempC: number;
  heaterPowerW: number;
  tankLevelPct: number;
  pumpFlowLpm: number;
  pumpPowerW: number;
  leak: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const RAD = Math.PI / 180;
const CO2_OUTDOOR_PPM = 420;
const CO2_PER_PERSON_M3H = 0.018;
const AIR_J_PER_M3K = 1206;
const WATER_J_PER_LK = 4186;
const COLD_WATER_C = 10;

/** Sun elevation in degrees (NOAA approximation), negative below the horizon. */
export function sunElevationDeg(timeMs: number, latDeg: number, lonDeg: number): number {
  const d = new Date(timeMs);
  const hourUtc = d.getUTCHours() + d.getUTCMinutes() / 60 + d.getUTCSeconds() / 3600;
  const dayOfYear = Math.floor((timeMs - Date.UTC(d.getUTCFullYear(), 0, 1)) / DAY_MS) + 1;
  const g = ((2 * Math.PI) / 365) * (dayOfYear - 1 + (hourUtc - 12) / 24);
  const decl =
    0.006918 - 0.399912 * Math.cos(g) + 0.070257 * Math.sin(g) - 0.006758 * Math.cos(2 * g) +
    0.000907 * Math.sin(2 * g) - 0.002697 * Math.cos(3 * g) + 0.00148 * Math.sin(3 * g);
  const eqTimeMin = 229.18 * (0.000075 + 0.001868 * Math.cos(g) - 0.032077 * Math.sin(g) - 0.014615 * Math.cos(2 * g) - 0.040849 * Math.sin(2 * g));
  const hourAngle = ((hourUtc * 60 + eqTimeMin + 4 * lonDeg) / 4 - 180) * RAD;
  const lat = latDeg * RAD;
  const sinEl = Math.sin(lat) * Math.sin(decl) + Math.cos(lat) * Math.cos(decl) * Math.cos(hourAngle);
  return Math.asin(Math.max(-1, Math.min(1, sinEl))) / RAD;
}

/** Clear-sky global horizontal irradiance (Haurwitz), W/m2. */
export function clearSkyGhiWm2(elevationDeg: number): number {
  const s = Math.sin(elevationDeg * RAD);
  return s <= 0 ? 0 : 1098 * s * Math.exp(-0.057 / s);
}

/** Heat pump COP from outdoor temperature: 2.5 at -5 C, 4.5 at +10 C, linear, clamped 1.8..5.5. */
export function heatPumpCop(outdoorC: number): number {
  return Math.min(5.5, Math.max(1.8, 2.5 + ((outdoorC + 5) * 2) / 15));
}

function lastSundayUtc(year: number, month: number): number {
  const d = new Date(Date.UTC(year, month + 1, 0, 1)); // last day of the month, 01:00 UTC
  return d.getTime() - d.getUTCDay() * DAY_MS;
}

/** Europe/Amsterdam offset from UTC: CEST from the last Sunday of March to that of October, 01:00 UTC. */
export function amsterdamOffsetMs(timeMs: number): number {
  const year = new Date(timeMs).getUTCFullYear();
  return timeMs >= lastSundayUtc(year, 2) && timeMs < lastSundayUtc(year, 9) ? 2 * HOUR_MS : HOUR_MS;
}

interface DayWeather {
  cloudiness: number; // 0 clear .. 1 overcast: share of time the sun is behind a cloud
  tempOffsetC: number;
  rainy: boolean;
  classVisit: boolean;
  laundryHour: number; // < 0: no laundry
}

interface Timed {
  untilMs: number;
  value: number;
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));
const between = (h: number, from: number, to: number): boolean => h >= from && h < to;

export class TinyHouseModel {
  readonly params: TinyHouseParams;
  private readonly seed: number;
  private readonly rng: Rng;
  private s: TinyHouseState;
  private controls: TinyHouseControls = {
    chargeEnable: false, dischargeEnable: false, compressorEnable: false, ventilationEnable: false,
    pumpEnable: false, valveOpen: false, heaterEnable: false,
  };
  private readonly weather = new Map<number, DayWeather>();
  private shaded = false;
  private transmission = 1;
  private hpRunning = false;
  private heaterRunning = false;
  private appliances: Timed[] = [];
  private draws: Timed[] = [];
  private demandL = 0;
  private leakFault = false;
  private leakedL = 0;
  private localDay: number;

  constructor(opts: { startMs: number; seed: number; params?: Partial<TinyHouseParams> }) {
    this.params = { ...DEFAULT_PARAMS, ...opts.params };
    this.seed = opts.seed;
    this.rng = createRng(deriveSeed(opts.seed, "tiny-house"));
    this.localDay = this.localDayOf(opts.startMs);
    const outdoor = this.outdoorTempC(opts.startMs);
    this.s = {
      timeMs: opts.startMs, pvPowerW: 0, irradianceWm2: 0, pvEnergyTodayWh: 0,
      batteryPowerW: 0, socPct: 50, batteryTempC: 20, batteryChargeWh: 0, batteryDischargeWh: 0,
      gridPowerW: 0, loadPowerW: 0, gridImportWh: 0, gridExportWh: 0, baseLoadW: 0,
      hpPowerW: 0, hpHeatW: 0, hpCop: 0, outdoorTempC: outdoor, hpFlowLpm: 0,
      indoorTempC: 20, co2Ppm: 600, ventilationPct: 0, ventilationPowerW: 0, occupants: 0,
      tankTempC: 52, heaterPowerW: 0, tankLevelPct: 60, pumpFlowLpm: 0, pumpPowerW: 0, leak: 0,
    };
    this.substep(0);
  }

  /** The latest state; a new object after every step, so a reader always sees one consistent step. */
  get state(): Readonly<TinyHouseState> {
    return this.s;
  }

  setControls(controls: Partial<TinyHouseControls>): void {
    this.controls = { ...this.controls, ...controls };
  }

  /** Starts (true) or repairs (false) a leak. Water only escapes while the valve is open or the pump runs. */
  setLeak(on: boolean): void {
    this.leakFault = on;
    if (!on) this.leakedL = 0;
  }

  step(dtS: number): void {
    if (!(dtS > 0)) return;
    const n = Math.ceil(dtS / this.params.maxStepS);
    for (let i = 0; i < n; i++) this.substep(dtS / n);
  }

  private localDayOf(timeMs: number): number {
    return Math.floor((timeMs + amsterdamOffsetMs(timeMs)) / DAY_MS);
  }

  /** Weather and plans of one local day, drawn from their own seed so they do not depend on step sizes. */
  private dayWeather(day: number): DayWeather {
    let w = this.weather.get(day);
    if (w === undefined) {
      const r = createRng(deriveSeed(this.seed, `day-${day}`));
      const cloudiness = clamp(r.next() ** 0.8, 0, 0.95);
      const weekday = (new Date(day * DAY_MS).getUTCDay() + 6) % 7 < 5;
      w = {
        cloudiness,
        tempOffsetC: 2.5 * r.normal(),
        rainy: cloudiness > 0.6 && r.chance(0.6),
        classVisit: weekday && r.chance(0.6),
        laundryHour: r.chance(0.5) ? Math.floor(r.between(9, 20)) : -1,
      };
      this.weather.set(day, w);
      if (this.weather.size > 8) this.weather.delete(this.weather.keys().next().value ?? day);
    }
    return w;
  }

  private outdoorTempC(timeMs: number): number {
    const local = timeMs + amsterdamOffsetMs(timeMs);
    const day = Math.floor(local / DAY_MS);
    const hour = (local - day * DAY_MS) / HOUR_MS;
    const doy = Math.floor((timeMs - Date.UTC(new Date(timeMs).getUTCFullYear(), 0, 1)) / DAY_MS);
    const mean = 10.5 - 7.5 * Math.cos((2 * Math.PI * (doy - 20)) / 365); // NL: ~3 C in January, ~18 C in July
    const amplitude = 4 + 2 * Math.sin((2 * Math.PI * (doy - 80)) / 365);
    const offset = this.dayWeather(day).tempOffsetC + (this.dayWeather(day + 1).tempOffsetC - this.dayWeather(day).tempOffsetC) * (hour / 24);
    return mean + offset + amplitude * Math.sin((2 * Math.PI * (hour - 9)) / 24);
  }

  private substep(dt: number): void {
    const p = this.params;
    const c = this.controls;
    const prev = this.s;
    const timeMs = prev.timeMs + dt * 1000;
    const local = timeMs + amsterdamOffsetMs(timeMs);
    const day = Math.floor(local / DAY_MS);
    const hour = (local - day * DAY_MS) / HOUR_MS;
    const weekday = (new Date(day * DAY_MS).getUTCDay() + 6) % 7 < 5;
    const w = this.dayWeather(day);
    const perH = (ratePerH: number): boolean => this.rng.chance((ratePerH * dt) / 3600);
    const awake = between(hour, 6.5, 23);

    // Sun and passing clouds: a two-state process (sun / shade) with a soft cloud edge.
    const meanShadeS = 240;
    const meanSunS = (meanShadeS * (1 - w.cloudiness)) / Math.max(0.05, w.cloudiness);
    if (this.shaded ? perH(3600 / meanShadeS) : perH(3600 / meanSunS)) this.shaded = !this.shaded;
    const target = this.shaded ? 0.2 + 0.25 * (1 - w.cloudiness) : 1;
    this.transmission += (target - this.transmission) * (1 - Math.exp(-dt / 30));
    const ghi = clearSkyGhiWm2(sunElevationDeg(timeMs, p.latDeg, p.lonDeg)) * this.transmission;
    const outdoorTempC = this.outdoorTempC(timeMs);
    const cellC = outdoorTempC + 0.03 * ghi;
    const pvPowerW = Math.round(Math.min(p.inverterMaxW, (p.pvPeakW * ghi * p.pvDerate * (1 - 0.004 * (cellC - 25))) / 1000));

    // People: two residents (one away on weekdays), a visiting class on some weekdays.
    const residents = weekday && between(hour, 8.5, 17) ? 1 : 2;
    const visit = w.classVisit && (between(hour, 10, 11.5) || between(hour, 13.5, 15));
    const occupants = residents + (visit ? 8 : 0);

    // Household base load with appliance events (kettle, induction cooking).
    const profileW = !awake ? 90 : hour < 9 ? 220 : hour < 17 ? 110 + 10 * occupants : 240;
    this.appliances = this.appliances.filter((a) => a.untilMs > timeMs);
    if (awake && perH(visit ? 1 : 0.2)) this.appliances.push({ untilMs: timeMs + 180_000, value: 2000 });
    const meal = between(hour, 12, 13) ? 0.3 : between(hour, 17.5, 19.5) ? 0.5 : 0;
    if (meal > 0 && perH(meal)) this.appliances.push({ untilMs: timeMs + this.rng.between(15, 35) * 60_000, value: this.rng.between(1200, 2500) });
    const baseLoadW = Math.round(profileW * (1 + 0.03 * this.rng.normal()) + this.appliances.reduce((sum, a) => sum + a.value, 0));

    // Heat pump: local thermostat with hysteresis, only with compressorEnable.
    const t = prev.indoorTempC;
    if (!c.compressorEnable || t > p.heatingSetpointC + 0.5) this.hpRunning = false;
    else if (t < p.heatingSetpointC - 0.5) this.hpRunning = true;
    const hpPowerW = this.hpRunning ? Math.round(clamp(p.hpMinW + (p.hpMaxW - p.hpMinW) * (p.heatingSetpointC + 0.5 - t), p.hpMinW, p.hpMaxW)) : 0;
    const hpCop = this.hpRunning ? heatPumpCop(outdoorTempC) : 0;
    const hpHeatW = hpPowerW * hpCop;
    const hpFlowLpm = c.compressorEnable ? Math.max(0, p.hpFlowLpm + 0.2 * this.rng.normal()) : 0;

    // Ventilation: fan speed follows CO2 locally, 20..40 W.
    const ventilationPct = c.ventilationEnable ? clamp(30 + (70 * (prev.co2Ppm - 600)) / 600, 30, 100) : 0;
    const ventilationPowerW = c.ventilationEnable ? Math.round(20 + (20 * (ventilationPct - 30)) / 70) : 0;
    const ventM3h = (ventilationPct / 100) * p.ventilationMaxM3h;

    // Hot-water tank: 2 kW element with a local thermostat, draw-offs replaced by cold water.
    if (!c.heaterEnable || prev.tankTempC > p.tankSetpointC + 2) this.heaterRunning = false;
    else if (prev.tankTempC < p.tankSetpointC - 2) this.heaterRunning = true;
    const heaterPowerW = this.heaterRunning ? p.heaterW : 0;
    this.draws = this.draws.filter((d) => d.untilMs > timeMs);
    const showerPerH = between(hour, 7, 8) ? 0.8 : between(hour, 19, 22) ? 0.3 : 0; // 5 L/min of tank water for 5 min
    if (showerPerH > 0 && perH(showerPerH)) this.draws.push({ untilMs: timeMs + 300_000, value: 5 });
    if (awake && perH(0.3 * occupants)) this.draws.push({ untilMs: timeMs + this.rng.between(15, 45) * 1000, value: 2 });
    const drawL = (this.draws.reduce((sum, d) => sum + d.value, 0) * dt) / 60;
    const tankJ = p.tankLitres * WATER_J_PER_LK;
    let tankTempC = prev.tankTempC + (Math.min(drawL, p.tankLitres) / p.tankLitres) * (COLD_WATER_C - prev.tankTempC);
    tankTempC += ((heaterPowerW - 1.2 * (prev.tankTempC - prev.indoorTempC)) * dt) / tankJ;

    // Rain-water tank: the pump runs on demand (toilets, laundry, garden) when enabled and the valve is open.
    if (awake && perH(0.35 * occupants)) this.demandL += 6;
    if (Math.floor(hour) === w.laundryHour && perH(2)) this.demandL += 45;
    this.demandL = Math.min(this.demandL, 60);
    let tankL = (prev.tankLevelPct / 100) * p.rainTankLitres;
    const pumping = c.pumpEnable && c.valveOpen && this.demandL > 0;
    const dry = tankL < 0.01 * p.rainTankLitres;
    const pumpFlowLpm = pumping && !dry ? Math.max(0, p.pumpFlowLpm + 0.3 * this.rng.normal()) : 0;
    const pumpPowerW = pumping ? Math.round(dry ? 0.7 * p.pumpW : p.pumpW) : 0; // dry run: power, no flow
    const servedL = Math.min((pumpFlowLpm * dt) / 60, this.demandL, tankL);
    this.demandL -= servedL;
    tankL -= servedL;
    if (!this.leakFault && perH(p.leakProbabilityPerH)) this.leakFault = true;
    const leakLpm = this.leakFault ? (c.valveOpen ? 2 : 0) + (pumping ? 4 : 0) : 0;
    this.leakedL += (leakLpm * dt) / 60; // water on the floor (from the pipes even when the tank is empty)
    tankL -= Math.min(tankL, (leakLpm * dt) / 60);
    if (w.rainy && this.shaded) tankL += (30 * 1.5 * dt) / 3600; // 30 m2 roof, 1.5 mm/h shower
    const tankLevelPct = clamp((100 * tankL) / p.rainTankLitres, 0, 100);

    // Every electrical consumer, then the battery's self-consumption control, then the grid.
    const loadPowerW = baseLoadW + hpPowerW + ventilationPowerW + heaterPowerW + pumpPowerW;
    const { batteryPowerW, socPct } = this.dispatch(pvPowerW - loadPowerW, prev.socPct, dt);
    const gridPowerW = loadPowerW - pvPowerW - batteryPowerW;

    // Thermal: house (mass, envelope, ventilation with heat recovery, residents opening windows), battery.
    const windowsOpen = awake && prev.indoorTempC > 25 && outdoorTempC < prev.indoorTempC;
    const lossWPerK = p.houseUaWPerK + (ventM3h * AIR_J_PER_M3K * (1 - p.heatRecovery)) / 3600 + (windowsOpen ? 100 : 0) + (15 * AIR_J_PER_M3K) / 3600;
    const gainsW = hpHeatW + 80 * occupants + 0.7 * baseLoadW + 1.0 * ghi;
    const indoorTempC = t + ((gainsW - lossWPerK * (t - outdoorTempC)) * dt) / p.houseHeatCapacityJPerK;
    const airM3h = ventM3h + 15 + (windowsOpen ? 200 : 0);
    const co2Ppm = prev.co2Ppm + ((occupants * CO2_PER_PERSON_M3H * 1e6 - airM3h * (prev.co2Ppm - CO2_OUTDOOR_PPM)) * dt) / (3600 * p.houseVolumeM3);
    const batteryTempC = prev.batteryTempC + ((0.03 * Math.abs(batteryPowerW) - 10 * (prev.batteryTempC - prev.indoorTempC)) * dt) / 1.2e5;

    const h = dt / 3600;
    const newDay = this.localDay !== day;
    this.localDay = day;
    this.s = {
      timeMs, pvPowerW, irradianceWm2: Math.round(ghi), pvEnergyTodayWh: (newDay ? 0 : prev.pvEnergyTodayWh) + pvPowerW * h,
      batteryPowerW, socPct, batteryTempC,
      batteryChargeWh: prev.batteryChargeWh + Math.max(0, -batteryPowerW) * h,
      batteryDischargeWh: prev.batteryDischargeWh + Math.max(0, batteryPowerW) * h,
      gridPowerW, loadPowerW,
      gridImportWh: prev.gridImportWh + Math.max(0, gridPowerW) * h,
      gridExportWh: prev.gridExportWh + Math.max(0, -gridPowerW) * h,
      baseLoadW, hpPowerW, hpHeatW: Math.round(hpHeatW), hpCop, outdoorTempC, hpFlowLpm,
      indoorTempC, co2Ppm, ventilationPct, ventilationPowerW, occupants,
      tankTempC, heaterPowerW, tankLevelPct, pumpFlowLpm, pumpPowerW,
      leak: this.leakFault && this.leakedL > 0.1 ? 1 : 0,
    };
  }

  /** Self-consumption: surplus charges, deficit discharges, within power limits and the SoC window. */
  private dispatch(surplusW: number, soc: number, dt: number): { batteryPowerW: number; socPct: number } {
    const p = this.params;
    const c = this.controls;
    const whPerPct = p.batteryCapacityWh / 100;
    if (dt > 0 && surplusW > 0 && c.chargeEnable && soc < p.socMaxPct) {
      const byEnergyW = ((p.socMaxPct - soc) * whPerPct * 3600) / (p.batteryEfficiency * dt);
      const w = Math.floor(Math.min(surplusW, p.batteryMaxChargeW, byEnergyW));
      // Whole watts leave less than 1 W x dt short of the edge when the window binds: the BMS calls it full.
      const full = byEnergyW - w < 1;
      return { batteryPowerW: w === 0 ? 0 : -w, socPct: full ? p.socMaxPct : soc + (w * p.batteryEfficiency * dt) / 3600 / whPerPct };
    }
    if (dt > 0 && surplusW < 0 && c.dischargeEnable && soc > p.socMinPct) {
      const byEnergyW = ((soc - p.socMinPct) * whPerPct * 3600 * p.batteryEfficiency) / dt;
      const w = Math.floor(Math.min(-surplusW, p.batteryMaxDischargeW, byEnergyW));
      const empty = byEnergyW - w < 1;
      return { batteryPowerW: w, socPct: empty ? p.socMinPct : soc - (w * dt) / (3600 * p.batteryEfficiency) / whPerPct };
    }
    return { batteryPowerW: 0, socPct: soc };
  }
}
