/**
 * Where things sit in the energy-flow picture (a 1600 x 1000 view box, scaled to the screen) and
 * the curve of each flow. The layout follows the power-flow cards people know: the sun and panels
 * on top, the grid on the left, the house on the right, the battery at the bottom.
 */
import type { FlowName } from "../../core/energy.ts";

export interface Pt {
  x: number;
  y: number;
}
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export type NodeName = "pv" | "grid" | "house" | "battery" | "heatPump";
export type Source = "pv" | "grid" | "battery" | "house";

export const VIEW_W = 1800;
export const VIEW_H = 940;
export const SUN: Pt & { r: number } = { x: 900, y: 56, r: 44 };

export const NODES: Record<NodeName, Box> = {
  pv: { x: 690, y: 120, w: 420, h: 205 },
  grid: { x: 30, y: 405, w: 430, h: 230 },
  house: { x: 1240, y: 400, w: 460, h: 240 },
  battery: { x: 690, y: 700, w: 420, h: 230 },
  heatPump: { x: 1390, y: 725, w: 400, h: 205 },
};

export interface FlowGeometry {
  from: Pt;
  ctrl: Pt;
  to: Pt;
  source: Source;
  /** Where along the curve (0..1) the value's label sits: away from crossings. */
  labelT: number;
  /** Moves the label sideways off a short line. */
  labelDx?: number;
  /** Where the arrowhead sits (default: a little after the label). */
  arrowT?: number;
}

const P = (x: number, y: number): Pt => ({ x, y });
const mid = (a: Pt, b: Pt): Pt => P((a.x + b.x) / 2, (a.y + b.y) / 2);
const line = (from: Pt, to: Pt, source: Source, labelT: number): FlowGeometry => ({ from, ctrl: mid(from, to), to, source, labelT });

const pvLeft = P(690, 222);
const pvRight = P(1110, 222);
const pvBottom = P(900, 325);
const gridTop = P(245, 405);
const gridRight = P(460, 520);
const gridBottom = P(245, 635);
const houseTop = P(1470, 400);
const houseLeft = P(1240, 520);
const houseBottomLeft = P(1320, 640);
const houseBottomRight = P(1590, 640);
const batteryTop = P(900, 700);
const batteryLeft = P(690, 815);
const batteryRight = P(1110, 815);
const heatPumpTop = P(1590, 725);

export const FLOW_GEOMETRY: Record<FlowName, FlowGeometry> = {
  pvToHouse: { from: pvRight, ctrl: P(1470, 222), to: houseTop, source: "pv", labelT: 0.5 },
  pvToGrid: { from: pvLeft, ctrl: P(245, 222), to: gridTop, source: "pv", labelT: 0.5 },
  pvToBattery: line(pvBottom, batteryTop, "pv", 0.3),
  gridToHouse: line(gridRight, houseLeft, "grid", 0.25),
  gridToBattery: { from: gridBottom, ctrl: P(245, 815), to: batteryLeft, source: "grid", labelT: 0.5 },
  batteryToGrid: { from: batteryLeft, ctrl: P(245, 815), to: gridBottom, source: "battery", labelT: 0.5 },
  batteryToHouse: { from: batteryRight, ctrl: P(1320, 815), to: houseBottomLeft, source: "battery", labelT: 0.5 },
  houseToHeatPump: { ...line(houseBottomRight, heatPumpTop, "house", 0.5), labelDx: -120, arrowT: 0.8 },
};

/** The connections drawn as faint tracks whether or not anything flows. */
export const TRACKS: readonly FlowName[] = ["pvToHouse", "pvToGrid", "pvToBattery", "gridToHouse", "gridToBattery", "batteryToHouse", "houseToHeatPump"];

export function pathD(g: FlowGeometry): string {
  return `M${g.from.x},${g.from.y} Q${g.ctrl.x},${g.ctrl.y} ${g.to.x},${g.to.y}`;
}

/** The point at t on the quadratic curve, and the direction it runs there (radians). */
export function pointAt(g: FlowGeometry, t: number): Pt & { angle: number } {
  const u = 1 - t;
  const x = u * u * g.from.x + 2 * u * t * g.ctrl.x + t * t * g.to.x;
  const y = u * u * g.from.y + 2 * u * t * g.ctrl.y + t * t * g.to.y;
  const dx = 2 * u * (g.ctrl.x - g.from.x) + 2 * t * (g.to.x - g.ctrl.x);
  const dy = 2 * u * (g.ctrl.y - g.from.y) + 2 * t * (g.to.y - g.ctrl.y);
  return { x, y, angle: Math.atan2(dy, dx) };
}

/** An arrowhead at t, pointing along the flow, sized to the line. */
export function arrowPoints(g: FlowGeometry, t: number, size: number): string {
  const p = pointAt(g, t);
  const c = Math.cos(p.angle);
  const s = Math.sin(p.angle);
  const pts: Array<[number, number]> = [
    [size, 0],
    [-size * 0.7, size * 0.75],
    [-size * 0.35, 0],
    [-size * 0.7, -size * 0.75],
  ];
  return pts.map(([x, y]) => `${(p.x + x * c - y * s).toFixed(1)},${(p.y + x * s + y * c).toFixed(1)}`).join(" ");
}
