/**
 * The demo catalogue: a few small, approved models written as sliced-looking G-code, so the demo
 * and the tests can print something real on the simulated printer. Each file has a Cura-style
 * header, `;LAYER:<n>` comments, `M73 P<percent> R<minutes>` progress and realistic G1 moves with
 * absolute E (M82, `G92 E0` per layer), retractions and travel.
 *
 * Durations come from the same motion model as the simulator (planner.ts moveSeconds). The `R`
 * minutes in M73 are for the simulator at `speedFactor` (default 10), so a dashboard showing them
 * during a demo counts down in real time. Heating (M190/M109) is not included in any figure.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { moveSeconds, type Axes } from "./planner.ts";

export interface DemoModel {
  id: string;
  name: string;
  description: string;
  fileName: string;
  gcode: string;
  layers: number;
  /** Motion time on a real printer (speedFactor 1), heating excluded. */
  printSeconds: number;
  filamentMm: number;
}

export interface CatalogueOptions {
  /** The simulator's speedFactor the M73 R minutes are computed for; default 10. */
  speedFactor?: number;
  hotendC?: number;
  bedC?: number;
}

const LAYER_MM = 0.2;
const LINE_WIDTH_MM = 0.45;
const FILAMENT_AREA_MM2 = Math.PI * 0.875 ** 2; // 1.75 mm filament
const E_PER_MM = (LINE_WIDTH_MM * LAYER_MM) / FILAMENT_AREA_MM2;
const RETRACT_MM = 5;
const CENTRE = { x: 110, y: 110 };

type Point = readonly [number, number];

/** Builds the G-code and keeps the clock of the motion model while doing so. */
class GcodeWriter {
  readonly lines: string[] = [];
  seconds = 0;
  filamentMm = 0;
  private readonly pos: Axes = { x: 0, y: 0, z: 0, e: 0 };
  private feed = 1500;
  private retracted = false;
  private readonly marks: { index: number; seconds: number }[] = [];

  raw(...lines: string[]): void {
    this.lines.push(...lines);
  }

  move(to: Partial<Axes>, feed: number, comment = ""): void {
    const target: Axes = { ...this.pos, ...to };
    const d = { x: target.x - this.pos.x, y: target.y - this.pos.y, z: target.z - this.pos.z, e: target.e - this.pos.e };
    this.seconds += moveSeconds(d, feed);
    if (d.e > 0) this.filamentMm += d.e;
    const words = (["x", "y", "z", "e"] as const)
      .filter((a) => to[a] !== undefined && d[a] !== 0)
      .map((a) => `${a.toUpperCase()}${num(target[a], a === "e" ? 5 : 3)}`);
    const f = feed !== this.feed ? ` F${num(feed, 0)}` : "";
    this.feed = feed;
    Object.assign(this.pos, target);
    if (words.length > 0) this.lines.push(`G1${f} ${words.join(" ")}${comment === "" ? "" : ` ;${comment}`}`);
  }

  travel(x: number, y: number, z?: number): void {
    if (!this.retracted) this.move({ e: this.pos.e - RETRACT_MM }, 2700);
    this.retracted = true;
    this.lines.push(`G0 F6000 X${num(x, 3)} Y${num(y, 3)}${z === undefined ? "" : ` Z${num(z, 3)}`}`);
    const d = { x: x - this.pos.x, y: y - this.pos.y, z: (z ?? this.pos.z) - this.pos.z, e: 0 };
    this.seconds += moveSeconds(d, 6000);
    Object.assign(this.pos, { x, y, z: z ?? this.pos.z });
    this.feed = 6000;
  }

  /** Extrudes along a polyline starting where the nozzle is (travel there first). */
  extrude(points: readonly Point[], feed: number, widthFactor = 1): void {
    if (this.retracted) {
      // Unretract by what was retracted (a `G92 E0` in between moved the zero, not the filament).
      this.move({ e: this.pos.e + RETRACT_MM }, 2700);
      this.retracted = false;
    }
    for (const [x, y] of points) {
      const mm = Math.hypot(x - this.pos.x, y - this.pos.y);
      this.move({ x, y, e: this.pos.e + mm * E_PER_MM * widthFactor }, feed);
    }
  }

  /** `G92 E0`: the extruder position is zero from here on (Cura does this every layer). */
  zeroE(): void {
    this.raw("G92 E0");
    this.pos.e = 0;
  }

  /** Spiral vase: extrude while rising continuously. */
  extrudeRising(x: number, y: number, z: number, feed: number): void {
    this.extrude([], feed);
    const mm = Math.hypot(x - this.pos.x, y - this.pos.y);
    this.move({ x, y, z, e: this.pos.e + mm * E_PER_MM }, feed);
  }

  layer(n: number, z: number): void {
    this.raw(`;LAYER:${n}`);
    this.marks.push({ index: this.lines.length, seconds: this.seconds });
    this.raw("M73 P0 R0"); // placeholder, filled in by finish()
    this.zeroE();
    if (z !== this.pos.z) this.travel(this.pos.x, this.pos.y, z);
  }

  get position(): Readonly<Axes> {
    return this.pos;
  }

  /** Replaces the progress placeholders now that the total time is known. */
  finish(speedFactor: number): string[] {
    const total = Math.max(1e-9, this.seconds);
    for (const m of this.marks) {
      const percent = Math.floor((100 * m.seconds) / total);
      const minutes = Math.ceil((total - m.seconds) / speedFactor / 60);
      this.lines[m.index] = `M73 P${percent} R${minutes}`;
    }
    return this.lines;
  }
}

function num(v: number, decimals: number): string {
  return String(Number(v.toFixed(decimals)));
}

function square(half: number): Point[] {
  const { x, y } = CENTRE;
  return [
    [x - half, y - half],
    [x + half, y - half],
    [x + half, y + half],
    [x - half, y + half],
    [x - half, y - half],
  ];
}

/** Rectilinear solid fill of a rectangle, alternating direction per layer. */
function fill(w: GcodeWriter, minX: number, minY: number, maxX: number, maxY: number, layer: number, feed: number): void {
  const vertical = layer % 2 === 1;
  const [a0, a1, b0, b1] = vertical ? [minX, maxX, minY, maxY] : [minY, maxY, minX, maxX];
  let forward = true;
  for (let a = a0 + LINE_WIDTH_MM / 2; a <= a1 - LINE_WIDTH_MM / 2 + 1e-9; a += LINE_WIDTH_MM) {
    const from: Point = vertical ? [a, forward ? b0 : b1] : [forward ? b0 : b1, a];
    const to: Point = vertical ? [a, forward ? b1 : b0] : [forward ? b1 : b0, a];
    if (Math.hypot(from[0] - w.position.x, from[1] - w.position.y) > 2 * LINE_WIDTH_MM) w.travel(from[0], from[1]);
    w.extrude([from, to], feed);
    forward = !forward;
  }
}

function start(w: GcodeWriter, model: { id: string; name: string }, o: Required<CatalogueOptions>): void {
  w.raw(
    `M140 S${o.bedC}`,
    `M104 S${o.hotendC}`,
    `M190 S${o.bedC}`,
    `M109 S${o.hotendC}`,
    "M82 ;absolute extrusion mode",
    `M117 Printing ${model.name}`,
    "G28 ;home",
    "G92 E0",
  );
  w.move({ z: 2 }, 3000);
  w.move({ x: 10, y: 20, z: 0.28 }, 5000);
  w.extrude([[10, 120]], 1500, 1.5); // prime line
  w.zeroE();
  w.move({ z: 2 }, 3000);
}

function end(w: GcodeWriter, top: number): void {
  w.raw(
    ";END",
    "M73 P100 R0",
    "G91 ;relative positioning",
    "G1 E-2 F2700",
    "G1 E-2 Z0.2 F2400",
    "G1 X5 Y5 F3000",
    "G1 Z10",
    "G90",
    `G1 X0 Y200 Z${num(Math.min(250, top + 10), 2)} F3000`,
    "M106 S0",
    "M104 S0",
    "M140 S0",
    "M84 X Y E",
    "M117 Done",
  );
}

function model(id: string, name: string, description: string, o: Required<CatalogueOptions>, body: (w: GcodeWriter) => { layers: number; top: number }): DemoModel {
  const w = new GcodeWriter();
  start(w, { id, name }, o);
  const { layers, top } = body(w);
  end(w, top);
  const lines = w.finish(o.speedFactor);
  const header = [
    ";FLAVOR:Marlin",
    `;TIME:${Math.round(w.seconds)}`,
    `;Filament used: ${num(w.filamentMm / 1000, 3)}m`,
    `;Layer height: ${LAYER_MM}`,
    `;LAYER_COUNT:${layers}`,
    `;MODEL:${id}`,
    ";Generated by TEC Hub demo catalogue (simulators/printer/catalogue.ts)",
  ];
  return {
    id,
    name,
    description,
    fileName: `${id}.gcode`,
    gcode: `${[...header, ...lines].join("\n")}\n`,
    layers,
    printSeconds: w.seconds,
    filamentMm: w.filamentMm,
  };
}

function cube(o: Required<CatalogueOptions>): DemoModel {
  return model("calibration-cube", "20 mm calibration cube", "Hollow 20 mm cube: two walls, three solid bottom layers.", o, (w) => {
    const layers = 100;
    for (let n = 0; n < layers; n++) {
      const z = LAYER_MM * (n + 1);
      w.layer(n, z);
      if (n === 1) w.raw("M106 S255");
      for (const half of [10 - LINE_WIDTH_MM / 2, 10 - LINE_WIDTH_MM * 1.5]) {
        const path = square(half);
        const [first, ...rest] = path;
        if (first === undefined) continue;
        w.travel(first[0], first[1]);
        w.extrude(rest, n === 0 ? 1200 : 1800);
      }
      const inner = 10 - LINE_WIDTH_MM * 2;
      if (n < 3) fill(w, CENTRE.x - inner, CENTRE.y - inner, CENTRE.x + inner, CENTRE.y + inner, n, 2400);
    }
    return { layers, top: LAYER_MM * layers };
  });
}

/** Strokes on a 4 x 6 grid. */
const GLYPHS: Record<string, Point[][]> = {
  T: [[[0, 6], [4, 6]], [[2, 6], [2, 0]]],
  E: [[[4, 6], [0, 6], [0, 0], [4, 0]], [[0, 3], [3, 3]]],
  C: [[[4, 6], [0, 6], [0, 0], [4, 0]]],
  H: [[[0, 6], [0, 0]], [[4, 6], [4, 0]], [[0, 3], [4, 3]]],
  U: [[[0, 6], [0, 0], [4, 0], [4, 6]]],
  B: [[[0, 0], [0, 6], [3, 6], [4, 5], [4, 4], [3, 3], [0, 3]], [[3, 3], [4, 2], [4, 1], [3, 0], [0, 0]]],
};

function nameTag(o: Required<CatalogueOptions>, text = "TEC HUB"): DemoModel {
  return model("name-tag", `Name tag "${text}"`, "A 90 x 24 mm plate, 1 mm thick, with raised stroke letters.", o, (w) => {
    const plateLayers = 5;
    const letterLayers = 3;
    const [minX, minY, maxX, maxY] = [CENTRE.x - 45, CENTRE.y - 12, CENTRE.x + 45, CENTRE.y + 12];
    for (let n = 0; n < plateLayers; n++) {
      w.layer(n, LAYER_MM * (n + 1));
      if (n === 1) w.raw("M106 S255");
      w.travel(minX, minY);
      w.extrude([[maxX, minY], [maxX, maxY], [minX, maxY], [minX, minY]], 1800);
      fill(w, minX + LINE_WIDTH_MM, minY + LINE_WIDTH_MM, maxX - LINE_WIDTH_MM, maxY - LINE_WIDTH_MM, n, 2400);
    }
    const unit = 2; // mm per grid step
    const advance = 6 * unit;
    const x0 = CENTRE.x - (text.length * advance - 2 * unit) / 2;
    const y0 = CENTRE.y - 3 * unit;
    for (let k = 0; k < letterLayers; k++) {
      const n = plateLayers + k;
      w.layer(n, LAYER_MM * (n + 1));
      [...text].forEach((ch, i) => {
        for (const stroke of GLYPHS[ch] ?? []) {
          const pts = stroke.map(([gx, gy]): Point => [x0 + i * advance + gx * unit, y0 + gy * unit]);
          const [first, ...rest] = pts;
          if (first === undefined) continue;
          w.travel(first[0], first[1]);
          w.extrude(rest, 1200);
        }
      });
    }
    const layers = plateLayers + letterLayers;
    return { layers, top: LAYER_MM * layers };
  });
}

function spiralVase(o: Required<CatalogueOptions>): DemoModel {
  return model("spiral-vase", "Spiral vase", "A 30 mm wide, 40 mm tall cylinder in one continuous spiral over a two-layer base.", o, (w) => {
    const radius = 15;
    const segments = 40;
    const base = 2;
    const height = 40;
    const ring = (r: number): Point[] =>
      Array.from({ length: segments + 1 }, (_, i): Point => {
        const a = (2 * Math.PI * i) / segments;
        return [CENTRE.x + r * Math.cos(a), CENTRE.y + r * Math.sin(a)];
      });
    for (let n = 0; n < base; n++) {
      w.layer(n, LAYER_MM * (n + 1));
      if (n === 1) w.raw("M106 S255");
      for (let r = radius - LINE_WIDTH_MM / 2; r > LINE_WIDTH_MM; r -= LINE_WIDTH_MM) {
        const [first, ...rest] = ring(r);
        if (first === undefined) continue;
        if (r === radius - LINE_WIDTH_MM / 2) w.travel(first[0], first[1]);
        else w.extrude([first], 1800);
        w.extrude(rest, 1800);
      }
    }
    const turns = Math.round((height - base * LAYER_MM) / LAYER_MM);
    const r = radius - LINE_WIDTH_MM / 2;
    w.travel(CENTRE.x + r, CENTRE.y);
    for (let t = 0; t < turns; t++) {
      w.layer(base + t, w.position.z);
      for (let i = 1; i <= segments; i++) {
        const a = (2 * Math.PI * i) / segments;
        const z = LAYER_MM * (base + t + i / segments);
        w.extrudeRising(CENTRE.x + r * Math.cos(a), CENTRE.y + r * Math.sin(a), z, 1800);
      }
    }
    return { layers: base + turns, top: height };
  });
}

/** The approved demo models, generated in memory. */
export function demoModels(opts: CatalogueOptions = {}): DemoModel[] {
  const o: Required<CatalogueOptions> = { speedFactor: opts.speedFactor ?? 10, hotendC: opts.hotendC ?? 200, bedC: opts.bedC ?? 60 };
  return [cube(o), nameTag(o), spiralVase(o)];
}

/** Writes the demo models as `<id>.gcode` into `dir` (created if missing); returns what was written. */
export async function writeDemoCatalogue(dir: string, opts: CatalogueOptions = {}): Promise<(DemoModel & { path: string })[]> {
  await mkdir(dir, { recursive: true });
  const models = demoModels(opts);
  const written: (DemoModel & { path: string })[] = [];
  for (const m of models) {
    const path = join(dir, m.fileName);
    await writeFile(path, m.gcode, "utf8");
    written.push({ ...m, path });
  }
  return written;
}
