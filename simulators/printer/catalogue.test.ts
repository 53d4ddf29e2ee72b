import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../hub/src/core/clock.ts";
import { demoModels, writeDemoCatalogue, type DemoModel } from "./catalogue.ts";
import { frameLine } from "./gcode.ts";
import { MarlinFirmware, type PrinterSnapshot } from "./marlin.ts";

interface PrintRun {
  /** From the first line after the heat-up to the last ok, in clock ms. */
  printMs: number;
  errors: string[];
  progress: number[];
  end: PrinterSnapshot;
}

/** Streams a file like OctoPrint does (comments stripped, numbered, one line in flight). */
function print(model: DemoModel, speedFactor: number): PrintRun {
  const clock = new ManualClock();
  const lines = model.gcode
    .split("\n")
    .map((l) => l.replace(/;.*$/, "").trim())
    .filter((l) => l !== "");
  const heatUpEnd = lines.indexOf("M109 S200") + 1;
  let next = 0;
  let printStart = 0;
  let doneAt: number | null = null;
  const errors: string[] = [];
  const progress: number[] = [];
  let partial = "";
  const sendNext = (): void => {
    if (next >= lines.length) {
      doneAt ??= clock.now();
      return;
    }
    if (next === heatUpEnd) printStart = clock.now();
    const cmd = lines[next++] ?? "";
    const pct = /^M73 P(\d+)/.exec(cmd);
    if (pct !== null) progress.push(Number(pct[1]));
    fw.receive(Buffer.from(`${frameLine(next, cmd)}\n`, "latin1"));
  };
  const fw: MarlinFirmware = new MarlinFirmware({
    clock,
    speedFactor,
    heatFactor: 20,
    output: (bytes) => {
      partial += bytes.toString("latin1");
      for (let i = partial.indexOf("\n"); i >= 0; i = partial.indexOf("\n")) {
        const line = partial.slice(0, i);
        partial = partial.slice(i + 1);
        if (line.startsWith("Error:") || line.startsWith("echo:Unknown")) errors.push(line);
        if (line === "ok") sendNext();
      }
    },
  });
  fw.start();
  fw.receive(Buffer.from("M110 N0\n"));
  for (let s = 0; s < 3600 && doneAt === null; s++) clock.advance(1000);
  return { printMs: (doneAt ?? Number.NaN) - printStart, errors, progress, end: fw.snapshot() };
}

describe("demo catalogue", () => {
  const models = demoModels({ speedFactor: 10 });

  it("has the approved models, each with layers, progress and realistic moves", () => {
    expect(models.map((m) => m.id)).toEqual(["calibration-cube", "name-tag", "spiral-vase"]);
    for (const m of models) {
      const lines = m.gcode.split("\n");
      expect(lines.filter((l) => l.startsWith(";LAYER:")).length).toBe(m.layers);
      expect(lines.filter((l) => /^M73 P\d+ R\d+$/.test(l)).length).toBe(m.layers + 1);
      expect(lines.some((l) => /^G1 F\d+ X[\d.]+ Y[\d.]+ E[\d.]+$/.test(l))).toBe(true);
      expect(lines).toContain("M109 S200");
      // Real-printer motion of ten to thirteen minutes: one to three at speedFactor 10.
      expect(m.printSeconds / 10).toBeGreaterThan(60);
      expect(m.printSeconds / 10).toBeLessThan(180);
    }
  });

  it.each(demoModels({ speedFactor: 10 }).map((m) => [m.id, m] as const))(
    "%s prints on the simulated Marlin at speedFactor 10 in its estimated time",
    (_id, model) => {
      const run = print(model, 10);
      expect(run.errors).toEqual([]);
      expect(run.printMs / 1000).toBeCloseTo(model.printSeconds / 10, -1);
      expect(run.progress.at(-1)).toBe(100);
      expect([...run.progress].sort((a, b) => a - b)).toEqual(run.progress);
      expect(run.end.filamentMm).toBeCloseTo(model.filamentMm, 0);
      expect(run.end).toMatchObject({ state: "running", hotend: { targetC: 0 }, bed: { targetC: 0 } });
    },
  );

  it("writes the files", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tec-catalogue-"));
    try {
      const written = await writeDemoCatalogue(dir);
      expect(written.map((w) => w.path)).toEqual(models.map((m) => join(dir, m.fileName)));
      expect(await readFile(join(dir, "calibration-cube.gcode"), "utf8")).toBe(models[0]?.gcode);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
