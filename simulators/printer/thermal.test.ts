import { describe, expect, it } from "vitest";
import { bench, type Bench } from "./test-harness.ts";

const KILLED = "Error:Printer halted. kill() called!";

/** Advances until an `Error:` line appears; returns the ms waited and the error lines. */
function untilError(b: Bench, maxMs: number): { ms: number; errors: string[] } {
  const ms = b.until((l) => l.some((x) => x.startsWith("Error:")), maxMs);
  return { ms, errors: b.take().filter((x) => x.startsWith("Error:")) };
}

function heatAndWait(b: Bench, cmd: string): void {
  b.send(cmd);
  b.until((l) => l.includes("ok"), 400_000);
  b.take();
}

describe("Marlin thermal protection", () => {
  it("a heater that does not heat from cold fails the 20 s / +2 °C watch (hotend)", () => {
    const b = bench();
    b.fw.inject({ kind: "heaterFailure" });
    b.take();
    b.send("M104 S200");
    b.take();
    const { ms, errors } = untilError(b, 120_000);
    expect(errors).toEqual(["Error:Heating failed, system stopped! Heater_ID: 0", KILLED]);
    expect(ms).toBeGreaterThanOrEqual(20_000);
    expect(ms).toBeLessThanOrEqual(20_200);
    expect(b.fw.snapshot()).toMatchObject({ state: "killed", hotend: { targetC: 0, pwm: 0 } });
  });

  it("a bed that does not heat fails the 60 s / +2 °C watch", () => {
    const b = bench();
    b.fw.inject({ kind: "heaterFailure", heater: "bed" });
    b.send("M140 S60");
    b.take();
    const { ms, errors } = untilError(b, 120_000);
    expect(errors).toEqual(["Error:Heating failed, system stopped! Heater_ID: bed", KILLED]);
    expect(ms).toBeGreaterThanOrEqual(60_000);
    expect(ms).toBeLessThanOrEqual(60_200);
  });

  it("losing heat at temperature is a runaway after 40 s below target - 4 °C (hotend)", () => {
    const b = bench();
    heatAndWait(b, "M109 S200");
    b.fw.inject({ kind: "heaterFailure" });
    b.send("M155 S1");
    b.take();
    const { ms, errors } = untilError(b, 120_000);
    expect(errors).toEqual(["Error:Thermal Runaway, system stopped! Heater_ID: 0", KILLED]);
    // It takes ~2 s to fall 4 °C, then the 40 s period.
    expect(ms).toBeGreaterThan(40_000);
    expect(ms).toBeLessThan(45_000);
  });

  it("losing heat at temperature is a runaway after 20 s below target - 2 °C (bed)", () => {
    const b = bench();
    heatAndWait(b, "M190 S60");
    b.fw.inject({ kind: "heaterFailure", heater: "bed" });
    const { ms, errors } = untilError(b, 120_000);
    expect(errors).toEqual(["Error:Thermal Runaway, system stopped! Heater_ID: bed", KILLED]);
    expect(ms).toBeGreaterThan(20_000);
    expect(ms).toBeLessThan(35_000);
  });

  it("an open thermistor reads -14 °C and trips MINTEMP once the heater has a target", () => {
    const b = bench();
    b.fw.inject({ kind: "sensorOpen" });
    b.send("M105");
    expect(b.take().at(-1)).toBe("ok T:-14.00 /0.00 B:21.00 /0.00 @:0 B@:0");
    b.clock.advance(30_000);
    expect(b.take()).toEqual([]);
    b.send("M104 S200");
    const { ms, errors } = untilError(b, 1_000);
    expect(errors).toEqual(["Error:MINTEMP triggered, system stopped! Heater_ID: 0", KILLED]);
    expect(ms).toBeLessThanOrEqual(100);
  });

  it.each([
    ["hotend", "0"],
    ["bed", "bed"],
  ] as const)("a shorted thermistor (%s) trips MAXTEMP at once", (heater, id) => {
    const b = bench();
    b.take();
    b.fw.inject({ kind: "sensorShort", heater });
    const { ms, errors } = untilError(b, 1_000);
    expect(errors).toEqual([`Error:MAXTEMP triggered, system stopped! Heater_ID: ${id}`, KILLED]);
    expect(ms).toBeLessThanOrEqual(100);
  });

  it("once killed by a thermal error the firmware answers nothing, and a sensor fault survives a reset", () => {
    const b = bench();
    b.fw.inject({ kind: "sensorShort" });
    untilError(b, 1_000);
    b.send("M105");
    b.clock.advance(10_000);
    expect(b.take()).toEqual([]);
    b.fw.reset();
    const { errors } = untilError(b, 1_000);
    expect(errors[0]).toBe("Error:MAXTEMP triggered, system stopped! Heater_ID: 0");
    b.fw.clearFaults();
    b.fw.reset();
    b.clock.advance(5_000);
    b.send("M105");
    expect(b.take().at(-1)).toBe("ok T:21.00 /0.00 B:21.00 /0.00 @:0 B@:0");
  });

  it("holds 200/60 °C for ten minutes with sensor noise and no false alarm", () => {
    const b = bench({ tempNoiseC: 0.3, seed: 7 });
    b.send("M140 S60");
    heatAndWait(b, "M109 S200");
    heatAndWait(b, "M190 S60");
    b.clock.advance(600_000);
    b.send("M105");
    const lines = b.take();
    expect(lines.filter((l) => l.startsWith("Error:"))).toEqual([]);
    const s = b.fw.snapshot();
    expect(s.state).toBe("running");
    expect(Math.abs(s.hotend.trueC - 200)).toBeLessThan(1);
    expect(Math.abs(s.bed.trueC - 60)).toBeLessThan(1);
  });
});

describe("without the firmware's protection", () => {
  it("a silent heater failure keeps full power at room temperature and raises nothing", () => {
    const b = bench();
    b.fw.inject({ kind: "heaterFailure", silent: true });
    b.send("M104 S200");
    b.clock.advance(600_000);
    b.send("M105");
    const lines = b.take();
    expect(lines.filter((l) => l.startsWith("Error:"))).toEqual([]);
    expect(lines.at(-1)).toBe("ok T:21.00 /200.00 B:21.00 /0.00 @:127 B@:0");
    b.send("M115");
    expect(b.take()).toContain("Cap:THERMAL_PROTECTION:1"); // it claims protection all the same
  });

  it("noThermalProtection reports Cap:THERMAL_PROTECTION:0, keeps heating a failed heater, still has MAXTEMP", () => {
    const b = bench();
    b.fw.inject({ kind: "noThermalProtection" });
    b.send("M115");
    expect(b.take()).toContain("Cap:THERMAL_PROTECTION:0");
    b.send("M109 S200");
    b.until((l) => l.includes("ok"), 400_000);
    b.fw.inject({ kind: "heaterFailure" });
    b.send("M155 S5");
    b.clock.advance(300_000);
    const lines = b.take();
    expect(lines.filter((l) => l.startsWith("Error:"))).toEqual([]);
    expect(lines.at(-1)).toMatch(/^ T:2\d\.\d\d \/200\.00 B:21\.00 \/0\.00 @:127 B@:0$/);
    b.fw.inject({ kind: "sensorShort" });
    expect(untilError(b, 1_000).errors[0]).toBe("Error:MAXTEMP triggered, system stopped! Heater_ID: 0");
  });
});
