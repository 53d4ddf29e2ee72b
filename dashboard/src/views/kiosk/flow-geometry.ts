/**
 * Where things sit in the energy-flow picture (a view box scaled to the screen) and the curve of
 * each flow. The layout follows the power-flow cards people know: the sun and panels on top, the
 * grid on the left, the house on the right, the battery at the bottom; a portrait screen gets a
 * layout of its own in two columns, so nothing shrinks to fit a narrow screen.
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

/** A layout of the picture: a view box, where each card sits, and the curve of each flow. */
export interface FlowLayout {
  kind: LayoutKind;
  w: number;
  h: number;
  sun: Pt & { r: number; beams: boolean };
  nodes: Record<NodeName, Box>;
  flows: Record<FlowName, FlowGeometry>;
  share: Box;
  legend: Box;
  /** Width of a flow's value label (narrower where lines run through a narrow gap). */
  labelW: number;
}

/**
 * wide: a landscape TV, the sun on top, the grid left, the house right, the battery below.
 * tall: a portrait screen or a tablet, two columns: the panels on top, grid and house, then
 * battery and heat pump, so the cards keep their size on a narrow screen.
 */
export type LayoutKind = "wide" | "tall";

/** Below this width/height ratio of the space the picture gets, the tall layout fits better. */
export const TALL_BELOW_ASPECT = 1.25;

export function layoutFor(widthPx: number, heightPx: number): LayoutKind {
  return heightPx > 0 && widthPx / heightPx < TALL_BELOW_ASPECT ? "tall" : "wide";
}

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
const left = (b: Box): Pt => P(b.x, b.y + b.h / 2);
const right = (b: Box): Pt => P(b.x + b.w, b.y + b.h / 2);
const top = (b: Box, f = 0.5): Pt => P(b.x + b.w * f, b.y);
const bottom = (b: Box, f = 0.5): Pt => P(b.x + b.w * f, b.y + b.h);

function wide(): FlowLayout {
  const nodes: Record<NodeName, Box> = {
    pv: { x: 670, y: 112, w: 460, h: 250 },
    grid: { x: 20, y: 398, w: 470, h: 274 },
    house: { x: 1300, y: 398, w: 480, h: 274 },
    battery: { x: 670, y: 700, w: 460, h: 274 },
    heatPump: { x: 1380, y: 712, w: 400, h: 262 },
  };
  const { pv, grid, house, battery, heatPump } = nodes;
  const houseBottomLeft = P(house.x + 50, house.y + house.h);
  const houseBottomRight = P(heatPump.x + heatPump.w / 2, house.y + house.h);
  const gridToBatteryCtrl = P(bottom(grid).x, left(battery).y);
  return {
    kind: "wide",
    w: 1800,
    h: 976,
    sun: { x: 900, y: 56, r: 44, beams: true },
    nodes,
    share: { x: 20, y: 8, w: 600, h: 160 },
    legend: { x: 1220, y: 8, w: 560, h: 200 },
    labelW: 184,
    flows: {
      pvToHouse: { from: right(pv), ctrl: P(top(house).x, right(pv).y), to: top(house), source: "pv", labelT: 0.5 },
      pvToGrid: { from: left(pv), ctrl: P(top(grid).x, left(pv).y), to: top(grid), source: "pv", labelT: 0.5 },
      pvToBattery: line(bottom(pv), top(battery), "pv", 0.3),
      gridToHouse: line(right(grid), left(house), "grid", 0.22),
      gridToBattery: { from: bottom(grid), ctrl: gridToBatteryCtrl, to: left(battery), source: "grid", labelT: 0.5 },
      batteryToGrid: { from: left(battery), ctrl: gridToBatteryCtrl, to: bottom(grid), source: "battery", labelT: 0.5 },
      batteryToHouse: { from: right(battery), ctrl: P(houseBottomLeft.x, right(battery).y), to: houseBottomLeft, source: "battery", labelT: 0.45 },
      houseToHeatPump: { ...line(houseBottomRight, top(heatPump), "house", 0.5), labelDx: -130, arrowT: 0.8 },
    },
  };
}

function tall(): FlowLayout {
  const nodes: Record<NodeName, Box> = {
    pv: { x: 290, y: 138, w: 440, h: 300 },
    grid: { x: 10, y: 520, w: 410, h: 320 },
    house: { x: 580, y: 520, w: 410, h: 320 },
    battery: { x: 10, y: 946, w: 410, h: 286 },
    heatPump: { x: 580, y: 946, w: 410, h: 286 },
  };
  const { pv, grid, house, battery, heatPump } = nodes;
  const gap = (grid.x + grid.w + house.x) / 2;
  const batteryTop = top(battery, 0.8);
  const houseBottomLeft = bottom(house, 0.12);
  return {
    kind: "tall",
    w: 1000,
    h: 1352,
    sun: { x: 64, y: 240, r: 44, beams: false },
    nodes,
    share: { x: 10, y: 2, w: 980, h: 130 },
    legend: { x: 10, y: 1238, w: 980, h: 114 },
    labelW: 172,
    flows: {
      pvToHouse: { from: right(pv), ctrl: P(top(house, 0.6).x, right(pv).y), to: top(house, 0.6), source: "pv", labelT: 0.55, labelDx: 10 },
      pvToGrid: { from: left(pv), ctrl: P(top(grid, 0.4).x, left(pv).y), to: top(grid, 0.4), source: "pv", labelT: 0.62, labelDx: -10 },
      pvToBattery: { from: bottom(pv), ctrl: P(gap, batteryTop.y), to: batteryTop, source: "pv", labelT: 0.16 },
      gridToHouse: { ...line(right(grid), left(house), "grid", 0.5) },
      gridToBattery: line(bottom(grid, 0.35), top(battery, 0.35), "grid", 0.5),
      batteryToGrid: line(top(battery, 0.35), bottom(grid, 0.35), "battery", 0.5),
      batteryToHouse: { from: right(battery), ctrl: P(houseBottomLeft.x, right(battery).y), to: houseBottomLeft, source: "battery", labelT: 0.3 },
      houseToHeatPump: { ...line(bottom(house, 0.75), top(heatPump, 0.75), "house", 0.5), labelDx: -150, arrowT: 0.85 },
    },
  };
}

export const LAYOUTS: Record<LayoutKind, FlowLayout> = { wide: wide(), tall: tall() };

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
