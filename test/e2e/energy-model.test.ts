/**
 * The kiosk's flow model (dashboard/src/core/energy.ts), table-driven: who feeds whom from the
 * meters' signs (grid + import, battery + discharge), nothing from the panels at night, and the
 * everyday comparisons. Pure; here because vitest runs test/**, not dashboard/**.
 */
import { describe, expect, it } from "vitest";
import { computeFlows, dotPeriodS, equivalent, lineWidth, ownShare, type Flows, type PowerReadings } from "../../dashboard/src/core/energy.ts";

const none: Flows = { pvToHouse: 0, pvToBattery: 0, pvToGrid: 0, gridToHouse: 0, gridToBattery: 0, batteryToHouse: 0, batteryToGrid: 0, houseToHeatPump: 0 };
const r = (pvW: number, gridW: number, batteryW: number, heatPumpW = 0): PowerReadings => ({ pvW, gridW, batteryW, loadW: pvW + gridW + batteryW, heatPumpW });

describe("energy flows", () => {
  it.each<[string, PowerReadings, Partial<Flows>]>([
    ["noon surplus: house, battery charging, export", r(3000, -1200, -1000), { pvToHouse: 800, pvToBattery: 1000, pvToGrid: 1200 }],
    ["cloudy: sun and grid share the house", r(500, 700, 0), { pvToHouse: 500, gridToHouse: 700 }],
    ["night: battery and grid, nothing from the panels", r(0, 300, 400), { batteryToHouse: 400, gridToHouse: 300 }],
    ["night charging from the grid", r(0, 2500, -2000), { gridToHouse: 500, gridToBattery: 2000 }],
    ["battery discharging to the grid", r(0, -1000, 1500), { batteryToHouse: 500, batteryToGrid: 1000 }],
    ["heat pump is part of the house", r(2000, 0, 0, 800), { pvToHouse: 2000, houseToHeatPump: 800 }],
    ["noise below the threshold is still", r(10, 5, -3), {}],
  ])("%s", (_name, readings, expected) => {
    expect(computeFlows(readings)).toEqual({ ...none, ...expected });
  });

  it("never lets anything flow from the panels at night, whatever the other meters say", () => {
    for (const [grid, bat] of [[500, 0], [-800, 1200], [3000, -2500], [0, 0]] as const) {
      const f = computeFlows({ pvW: 0, gridW: grid, batteryW: bat, loadW: Math.max(0, grid + bat), heatPumpW: null });
      expect([f.pvToHouse, f.pvToBattery, f.pvToGrid]).toEqual([0, 0, 0]);
    }
  });

  it("treats missing readings as no flow, never as a guess", () => {
    expect(computeFlows({ pvW: null, gridW: null, batteryW: null, loadW: null, heatPumpW: null })).toEqual(none);
  });

  it("derives the load from the balance when the meter's load is missing", () => {
    expect(computeFlows({ pvW: 1000, gridW: 200, batteryW: 0, loadW: null, heatPumpW: null })).toMatchObject({ pvToHouse: 1000, gridToHouse: 200 });
  });

  it("says how much of the house runs on its own power", () => {
    expect(ownShare(computeFlows(r(500, 500, 0)))).toBe(0.5);
    expect(ownShare(computeFlows(r(0, 0, 0)))).toBeNull();
  });

  it("draws bigger flows thicker and faster, and none as nothing", () => {
    expect(lineWidth(0)).toBe(0);
    expect(dotPeriodS(0)).toBe(0);
    expect(lineWidth(3000)).toBeGreaterThan(lineWidth(300));
    expect(dotPeriodS(3000)).toBeLessThan(dotPeriodS(300));
  });

  it.each<[number, ReturnType<typeof equivalent>]>([
    [2, null],
    [40, { kind: "ledLamp", count: 4 }],
    [600, { kind: "laptop", count: 12 }],
    [3000, { kind: "kettle", count: 1.5 }],
    [-1200, { kind: "laptop", count: 24 }],
  ])("compares %i W with everyday things", (w, expected) => {
    expect(equivalent(w)).toEqual(expected);
  });
});
