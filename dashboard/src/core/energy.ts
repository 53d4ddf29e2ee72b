/**
 * The Tiny House's power flows, from live power in watts (never accumulated energy, so nothing
 * flows from the panels at night). Signs as the meters report them: grid + = import, - = export;
 * battery + = discharge, - = charge; load = pv + grid + battery. Pure: no DOM, unit-tested.
 *
 * Who feeds whom is not measured, only the totals are; the split follows the usual convention
 * (home energy managers and power-flow cards do the same): the sun serves the house first, then
 * the battery, then the grid; the battery serves the house before the grid; the grid fills the rest.
 */

export interface PowerReadings {
  pvW: number | null;
  gridW: number | null;
  batteryW: number | null;
  loadW: number | null;
  heatPumpW: number | null;
}

export interface Flows {
  pvToHouse: number;
  pvToBattery: number;
  pvToGrid: number;
  gridToHouse: number;
  gridToBattery: number;
  batteryToHouse: number;
  batteryToGrid: number;
  houseToHeatPump: number;
}

export type FlowName = keyof Flows;

/** Below this a flow is noise (meter resolution, rounding): drawn as still. */
export const FLOW_THRESHOLD_W = 15;

const pos = (x: number | null): number => (x !== null && Number.isFinite(x) && x > 0 ? x : 0);

export function computeFlows(r: PowerReadings): Flows {
  const pv = pos(r.pvW);
  const grid = r.gridW ?? 0;
  const bat = r.batteryW ?? 0;
  const imp = pos(grid);
  const exp = pos(-grid);
  const discharge = pos(bat);
  const charge = pos(-bat);
  // The meter's load if we have it; otherwise what the balance says it must be.
  const load = r.loadW !== null && Number.isFinite(r.loadW) ? Math.max(0, r.loadW) : Math.max(0, pv + grid + bat);

  const pvToHouse = Math.min(pv, load);
  let pvLeft = pv - pvToHouse;
  const pvToBattery = Math.min(pvLeft, charge);
  pvLeft -= pvToBattery;
  const pvToGrid = Math.min(pvLeft, exp);

  const batteryToHouse = Math.min(discharge, load - pvToHouse);
  const batteryToGrid = Math.min(discharge - batteryToHouse, exp - pvToGrid);

  const gridToHouse = Math.min(imp, Math.max(0, load - pvToHouse - batteryToHouse));
  const gridToBattery = Math.min(imp - gridToHouse, Math.max(0, charge - pvToBattery));

  const clean = (w: number) => (w >= FLOW_THRESHOLD_W ? Math.round(w) : 0);
  return {
    pvToHouse: clean(pvToHouse),
    pvToBattery: clean(pvToBattery),
    pvToGrid: clean(pvToGrid),
    gridToHouse: clean(gridToHouse),
    gridToBattery: clean(gridToBattery),
    batteryToHouse: clean(batteryToHouse),
    batteryToGrid: clean(batteryToGrid),
    houseToHeatPump: clean(Math.min(pos(r.heatPumpW), load)),
  };
}

/** Share of the house's use that comes from the sun and the battery, 0..1; null if the house uses nothing. */
export function ownShare(f: Flows): number | null {
  const use = f.pvToHouse + f.batteryToHouse + f.gridToHouse;
  if (use < FLOW_THRESHOLD_W) return null;
  return (f.pvToHouse + f.batteryToHouse) / use;
}

/** Line width in the picture's units: grows with the square root, so small flows stay visible. */
export function lineWidth(w: number): number {
  if (w < FLOW_THRESHOLD_W) return 0;
  return Math.round((4 + 22 * Math.sqrt(Math.min(w, 8000) / 8000)) * 10) / 10;
}

/** Seconds for a dot to travel one dash period: more power, faster dots (quantised to avoid jitter). */
export function dotPeriodS(w: number): number {
  if (w < FLOW_THRESHOLD_W) return 0;
  const unitsPerS = 40 + 200 * Math.sqrt(Math.min(w, 8000) / 8000);
  return Math.round((60 / unitsPerS) * 20) / 20;
}

export type EquivalentKind = "ledLamp" | "laptop" | "kettle";

/** Everyday things that use about this much power: LED lamps (10 W), laptops (50 W), kettles (2000 W). */
export const EQUIVALENT_W: Record<EquivalentKind, number> = { ledLamp: 10, laptop: 50, kettle: 2000 };

/**
 * The everyday comparison that gives a count a pupil can picture: kettles from 2 kW, laptops from
 * 100 W, LED lamps below that; null for (almost) nothing.
 */
export function equivalent(w: number): { kind: EquivalentKind; count: number } | null {
  const abs = Math.abs(w);
  if (abs < 5) return null;
  if (abs >= 2000) return { kind: "kettle", count: Math.round((abs / EQUIVALENT_W.kettle) * 2) / 2 };
  if (abs >= 100) return { kind: "laptop", count: Math.round(abs / EQUIVALENT_W.laptop) };
  return { kind: "ledLamp", count: Math.max(1, Math.round(abs / EQUIVALENT_W.ledLamp)) };
}

/** A phone battery holds about 15 Wh: energy as phone charges. */
export const PHONE_CHARGE_WH = 15;
