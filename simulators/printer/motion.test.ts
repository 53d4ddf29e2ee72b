import { describe, expect, it } from "vitest";
import { bench, type Bench } from "./test-harness.ts";

/** Sends the lines, then M400, and returns how long until the M400's ok (ms). */
function timeMoves(b: Bench, ...lines: string[]): number {
  for (const l of lines) b.send(l);
  b.take();
  b.send("M400");
  const ms = b.until((l) => l.includes("ok"), 600_000);
  b.take();
  return ms;
}

/** A hot nozzle, so E moves are not cold extrusions. */
function hot(): Bench {
  const b = bench();
  b.send("M109 S200");
  b.until((l) => l.includes("ok"), 600_000);
  b.take();
  return b;
}

function m114(b: Bench): string {
  b.take();
  b.send("M114");
  return b.take()[0] ?? "";
}

describe("motion", () => {
  it("moves take distance / feed rate, divided by speedFactor", () => {
    expect(timeMoves(bench(), "G1 X100 F600")).toBe(10_000);
    expect(timeMoves(bench({ speedFactor: 10 }), "G1 X100 F600")).toBe(1_000);
    expect(timeMoves(bench(), "G1 X30 Y40 F3000")).toBe(1_000); // 50 mm at 50 mm/s
  });

  it("caps each axis at Marlin's maximum feed rate (Z 5 mm/s, E 25 mm/s)", () => {
    expect(timeMoves(bench(), "G1 Z10 F6000")).toBe(2_000);
    expect(timeMoves(hot(), "G1 E50 F6000")).toBe(2_000);
  });

  it("M220 scales the feed rate", () => {
    const b = bench();
    b.send("M220 S50");
    expect(timeMoves(b, "G1 X100 F600")).toBe(20_000);
    b.send("M220");
    expect(b.take()).toEqual(["FR:50%", "ok"]);
  });

  it("follows G90/G91, M82/M83 and G92, and reports positions like Marlin", () => {
    const b = hot();
    timeMoves(b, "G1 X10 Y20 Z0.3 E1.2 F6000");
    expect(m114(b)).toBe("X:10.00 Y:20.00 Z:0.30 E:1.20 Count X:800 Y:1600 Z:120");
    timeMoves(b, "G91", "G1 X5 E1", "G90");
    expect(m114(b)).toBe("X:15.00 Y:20.00 Z:0.30 E:2.20 Count X:1200 Y:1600 Z:120");
    timeMoves(b, "M83", "G1 X20 E1", "G1 X25 E1", "M82");
    expect(m114(b)).toBe("X:25.00 Y:20.00 Z:0.30 E:4.20 Count X:2000 Y:1600 Z:120");
    timeMoves(b, "G92 X0 E0", "G1 X5 E1");
    // Count is machine position: G92 shifts the coordinates, not the steppers.
    expect(m114(b)).toBe("X:5.00 Y:20.00 Z:0.30 E:1.00 Count X:2400 Y:1600 Z:120");
    expect(b.fw.snapshot().filamentMm).toBeCloseTo(5.2, 5);
  });

  it("G28 homes the named axes in a few seconds and clears G92 shifts", () => {
    const b = bench();
    timeMoves(b, "G1 X100 Y100 Z10 F6000", "G92 X50");
    b.send("G28");
    const ms = b.until((l) => l.includes("ok"), 60_000);
    expect(ms).toBeGreaterThan(5_000);
    expect(ms).toBeLessThan(10_000);
    expect(m114(b)).toBe("X:0.00 Y:0.00 Z:0.00 E:0.00 Count X:0 Y:0 Z:0");
    timeMoves(b, "G1 X10 Y10 F6000");
    b.send("G28 X");
    b.until((l) => l.includes("ok"), 60_000);
    expect(m114(b)).toBe("X:0.00 Y:10.00 Z:0.00 E:0.00 Count X:0 Y:800 Z:0");
  });

  it("prevents cold extrusion: the move happens, the filament stays", () => {
    const b = bench();
    b.take();
    b.send("G1 X10 E5 F600");
    expect(b.take()).toEqual(["echo: cold extrusion prevented", "ok"]);
    expect(b.fw.snapshot().filamentMm).toBe(0);
    expect(timeMoves(b)).toBe(1_000);
  });

  it("rejects a second extruder", () => {
    const b = bench();
    b.take();
    b.send("T1");
    b.send("M104 T1 S200");
    expect(b.take()).toEqual(["echo:T1 Invalid extruder", "ok", "echo:M104 Invalid extruder 1", "ok"]);
  });
});
