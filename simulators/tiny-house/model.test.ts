import { describe, expect, it } from "vitest";
import { TinyHouseModel, amsterdamOffsetMs, heatPumpCop, sunElevationDeg, type TinyHouseControls, type TinyHouseState } from "./model.ts";

const ALL_ON: TinyHouseControls = {
  chargeEnable: true, dischargeEnable: true, compressorEnable: true, ventilationEnable: true,
  pumpEnable: true, valveOpen: true, heaterEnable: true,
};
const ALL_OFF: TinyHouseControls = {
  chargeEnable: false, dischargeEnable: false, compressorEnable: false, ventilationEnable: false,
  pumpEnable: false, valveOpen: false, heaterEnable: false,
};
const DAY_S = 86_400;
const JUNE = Date.UTC(2026, 5, 21, 0, 0); // 02:00 local (CEST)
const DECEMBER = Date.UTC(2026, 11, 21, 0, 0);
const MARCH = Date.UTC(2026, 2, 20, 0, 0);

/** Runs `seconds` of simulated time in `dtS` steps and hands every state to `each`. */
function run(model: TinyHouseModel, seconds: number, dtS: number, each: (s: Readonly<TinyHouseState>) => void): void {
  for (let t = 0; t < seconds; t += dtS) {
    model.step(dtS);
    each(model.state);
  }
}

describe("energy balance (HA signs: grid + import, battery + discharge)", () => {
  it.each([
    ["summer, all enabled", JUNE, ALL_ON],
    ["winter, all enabled", DECEMBER, ALL_ON],
    ["spring, all enabled", MARCH, ALL_ON],
    ["summer, all disabled", JUNE, ALL_OFF],
    ["winter, all disabled", DECEMBER, ALL_OFF],
  ])("load = pv + grid + battery exactly at every step over a day: %s", (_name, startMs, controls) => {
    const model = new TinyHouseModel({ startMs, seed: 42 });
    model.setControls(controls);
    let steps = 0;
    run(model, DAY_S, 5, (s) => {
      expect(s.pvPowerW + s.gridPowerW + s.batteryPowerW).toBe(s.loadPowerW);
      expect(s.loadPowerW).toBe(s.baseLoadW + s.hpPowerW + s.ventilationPowerW + s.heaterPowerW + s.pumpPowerW);
      expect(s.pvPowerW).toBeGreaterThanOrEqual(0);
      steps++;
    });
    expect(steps).toBe(DAY_S / 5);
  });

  it("holds at every step while the controls change under it, with coarse steps", () => {
    const model = new TinyHouseModel({ startMs: MARCH, seed: 3 });
    const keys = Object.keys(ALL_ON) as (keyof TinyHouseControls)[];
    let i = 0;
    run(model, 2 * DAY_S, 60, (s) => {
      const key = keys[i++ % keys.length];
      if (key !== undefined) model.setControls({ [key]: (i >> 3) % 2 === 0 });
      expect(s.pvPowerW + s.gridPowerW + s.batteryPowerW).toBe(s.loadPowerW);
    });
  });

  it.each([
    ["with the battery", ALL_ON],
    ["without the battery", { ...ALL_ON, chargeEnable: false, dischargeEnable: false }],
  ])("conserves energy over a June day %s: load = PV + import - export + discharge - charge", (_name, controls) => {
    const model = new TinyHouseModel({ startMs: JUNE, seed: 11 });
    model.setControls(controls);
    let loadWh = 0;
    let pvWh = 0;
    run(model, DAY_S, 10, (s) => {
      loadWh += (s.loadPowerW * 10) / 3600;
      pvWh += (s.pvPowerW * 10) / 3600;
    });
    const s = model.state;
    expect(s.gridImportWh + s.gridExportWh).toBeGreaterThan(0);
    expect(s.batteryChargeWh > 0).toBe(controls.chargeEnable);
    expect(pvWh + s.gridImportWh - s.gridExportWh + s.batteryDischargeWh - s.batteryChargeWh).toBeCloseTo(loadWh, 6);
  });
});

describe("PV", () => {
  it("is zero at night and clearly positive at noon in June", () => {
    const model = new TinyHouseModel({ startMs: Date.UTC(2026, 5, 21, 21, 30), seed: 1 }); // 23:30 local
    run(model, 3 * 3600, 10, (s) => {
      expect(s.pvPowerW).toBe(0);
      expect(s.irradianceWm2).toBe(0);
    });
    const noon = new TinyHouseModel({ startMs: Date.UTC(2026, 5, 21, 11, 40), seed: 1 }); // solar noon in Deventer
    let max = 0;
    run(noon, 1800, 10, (s) => (max = Math.max(max, s.pvPowerW)));
    expect(max).toBeGreaterThan(500);
    expect(max).toBeLessThanOrEqual(3000);
  });

  it("follows the sun: elevation at solar noon is about 61 deg in June and 14 deg in December", () => {
    expect(sunElevationDeg(Date.UTC(2026, 5, 21, 11, 37), 52.25, 6.16)).toBeCloseTo(61.2, 0);
    expect(sunElevationDeg(Date.UTC(2026, 11, 21, 11, 34), 52.25, 6.16)).toBeCloseTo(14.3, 0);
    expect(sunElevationDeg(Date.UTC(2026, 5, 21, 23, 37), 52.25, 6.16)).toBeLessThan(0);
  });

  it("makes more energy on a day in June than in December, and resets the day counter at local midnight", () => {
    const energy = (startMs: number): number => {
      const model = new TinyHouseModel({ startMs, seed: 5 });
      let wh = 0;
      run(model, DAY_S, 10, (s) => (wh += (s.pvPowerW * 10) / 3600));
      return wh;
    };
    expect(energy(JUNE)).toBeGreaterThan(2 * energy(DECEMBER));
    const model = new TinyHouseModel({ startMs: Date.UTC(2026, 5, 21, 12, 0), seed: 5 });
    run(model, 10 * 3600, 10, () => {}); // until 00:00 local
    expect(model.state.pvEnergyTodayWh).toBe(0);
    expect(amsterdamOffsetMs(JUNE)).toBe(2 * 3_600_000);
    expect(amsterdamOffsetMs(DECEMBER)).toBe(3_600_000);
  });
});

describe("battery", () => {
  it.each([
    ["June", JUNE],
    ["December", DECEMBER],
  ])("keeps the SoC within 10..90 %% with both enables on (%s)", (_name, startMs) => {
    const model = new TinyHouseModel({ startMs, seed: 9 });
    model.setControls(ALL_ON);
    const seen = { charged: false, discharged: false };
    run(model, 3 * DAY_S, 10, (s) => {
      expect(s.socPct).toBeGreaterThanOrEqual(10);
      expect(s.socPct).toBeLessThanOrEqual(90);
      expect(Math.abs(s.batteryPowerW)).toBeLessThanOrEqual(3000);
      if (s.batteryPowerW < 0) seen.charged = true;
      if (s.batteryPowerW > 0) seen.discharged = true;
    });
    expect(seen).toEqual({ charged: true, discharged: true });
  });

  it("reaches the window edges and stops there", () => {
    const model = new TinyHouseModel({ startMs: DECEMBER, seed: 9 });
    model.setControls({ dischargeEnable: true, compressorEnable: true });
    run(model, DAY_S, 10, () => {});
    expect(model.state.socPct).toBe(10);
    expect(model.state.batteryPowerW).toBe(0);
  });

  it("does nothing with the enables off", () => {
    const model = new TinyHouseModel({ startMs: JUNE, seed: 2 });
    model.setControls({ ...ALL_ON, chargeEnable: false, dischargeEnable: false });
    const soc = model.state.socPct;
    run(model, DAY_S, 10, (s) => {
      expect(s.batteryPowerW).toBe(0);
      expect(s.socPct).toBe(soc);
    });
  });

  it("only charges with chargeEnable alone, and warms up with power", () => {
    const model = new TinyHouseModel({ startMs: JUNE, seed: 2 });
    model.setControls({ chargeEnable: true });
    let minT = Infinity;
    let maxRise = 0;
    run(model, DAY_S, 10, (s) => {
      expect(s.batteryPowerW).toBeLessThanOrEqual(0);
      minT = Math.min(minT, s.batteryTempC);
      maxRise = Math.max(maxRise, s.batteryTempC - s.indoorTempC);
    });
    expect(model.state.socPct).toBe(90); // full, and held at the top of the window
    expect(maxRise).toBeGreaterThan(0.5);
  });
});

describe("heat pump and local control", () => {
  it("has a higher COP at +10 C than at -5 C", () => {
    expect(heatPumpCop(-5)).toBeCloseTo(2.5, 6);
    expect(heatPumpCop(10)).toBeCloseTo(4.5, 6);
    expect(heatPumpCop(10)).toBeGreaterThan(heatPumpCop(-5));
  });

  it("runs only with compressorEnable, within 0.5..1.5 kW, heat = power x COP(outdoor)", () => {
    const off = new TinyHouseModel({ startMs: DECEMBER, seed: 4 });
    run(off, DAY_S, 10, (s) => {
      expect(s.hpPowerW).toBe(0);
      expect(s.hpCop).toBe(0);
      expect(s.hpFlowLpm).toBe(0);
    });
    expect(off.state.indoorTempC).toBeLessThan(19);

    const on = new TinyHouseModel({ startMs: DECEMBER, seed: 4 });
    on.setControls({ compressorEnable: true });
    let running = 0;
    run(on, DAY_S, 10, (s) => {
      if (s.hpPowerW === 0) return;
      running++;
      expect(s.hpPowerW).toBeGreaterThanOrEqual(500);
      expect(s.hpPowerW).toBeLessThanOrEqual(1500);
      expect(s.hpCop).toBeCloseTo(heatPumpCop(s.outdoorTempC), 9);
      expect(s.hpHeatW).toBe(Math.round(s.hpPowerW * s.hpCop));
      expect(s.hpFlowLpm).toBeGreaterThan(5);
    });
    expect(running).toBeGreaterThan(0);
    expect(on.state.indoorTempC).toBeGreaterThan(19);
    expect(on.state.indoorTempC).toBeLessThan(22);
  });

  it("ventilation runs only when enabled and brings CO2 down", () => {
    const closed = new TinyHouseModel({ startMs: DECEMBER, seed: 4 });
    const vented = new TinyHouseModel({ startMs: DECEMBER, seed: 4 });
    vented.setControls({ ventilationEnable: true });
    run(closed, 12 * 3600, 10, (s) => expect(s.ventilationPct).toBe(0));
    run(vented, 12 * 3600, 10, (s) => {
      expect(s.ventilationPct).toBeGreaterThanOrEqual(30);
      expect(s.ventilationPowerW).toBeGreaterThanOrEqual(20);
      expect(s.ventilationPowerW).toBeLessThanOrEqual(40);
    });
    expect(vented.state.co2Ppm).toBeLessThan(closed.state.co2Ppm - 300);
  });

  it("the water heater only runs with heaterEnable and keeps the tank near 55 C", () => {
    const model = new TinyHouseModel({ startMs: MARCH, seed: 6 });
    run(model, DAY_S, 10, (s) => expect(s.heaterPowerW).toBe(0));
    expect(model.state.tankTempC).toBeLessThan(45);
    model.setControls({ heaterEnable: true });
    run(model, DAY_S, 10, (s) => expect(s.tankTempC).toBeLessThan(60));
    expect(model.state.tankTempC).toBeGreaterThan(45);
  });

  it("the rain-water pump runs on demand only with pumpEnable and the valve open", () => {
    const model = new TinyHouseModel({ startMs: MARCH, seed: 6 });
    model.setControls({ pumpEnable: true, valveOpen: false });
    run(model, DAY_S, 10, (s) => expect(s.pumpPowerW + s.pumpFlowLpm).toBe(0));
    model.setControls({ valveOpen: true });
    let pumped = 0;
    run(model, DAY_S, 10, (s) => (pumped += s.pumpFlowLpm > 0 ? 1 : 0));
    expect(pumped).toBeGreaterThan(0);
  });
});

describe("leak", () => {
  it("shows only when water can flow, and stays until repaired", () => {
    const model = new TinyHouseModel({ startMs: MARCH, seed: 6 });
    model.setLeak(true);
    run(model, 3600, 10, (s) => expect(s.leak).toBe(0));
    const level = model.state.tankLevelPct;
    model.setControls({ valveOpen: true });
    run(model, 600, 10, () => {});
    expect(model.state.leak).toBe(1);
    expect(model.state.tankLevelPct).toBeLessThan(level);
    model.setControls({ valveOpen: false });
    run(model, 600, 10, (s) => expect(s.leak).toBe(1));
    model.setLeak(false);
    model.step(10);
    expect(model.state.leak).toBe(0);
  });
});

describe("determinism", () => {
  it("gives the same states for the same seed and different ones for another seed", () => {
    const trace = (seed: number): TinyHouseState[] => {
      const model = new TinyHouseModel({ startMs: JUNE, seed });
      model.setControls(ALL_ON);
      const states: TinyHouseState[] = [];
      run(model, DAY_S, 30, (s) => states.push(s));
      return states;
    };
    const a = trace(42);
    expect(trace(42)).toEqual(a);
    expect(trace(43)).not.toEqual(a);
  });
});
