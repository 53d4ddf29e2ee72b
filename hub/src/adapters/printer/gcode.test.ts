import { describe, expect, it } from "vitest";
import { checksum, classifyLine, frame, heatingTarget, parseCapability, parseFirmwareLine, parseTemperatures, stripComment } from "./gcode.ts";

describe("framing", () => {
  // Worked examples from protocols-safety.md §1.1, computed with OctoPrint's and Printrun's algorithm.
  it.each([
    [0, "M110 N0", "N0 M110 N0*125"],
    [1, "M105", "N1 M105*38"],
    [2, "G28", "N2 G28*17"],
    [3, "M104 S210", "N3 M104 S210*101"],
    [4, "M155 S2", "N4 M155 S2*103"],
    [5, "M112", "N5 M112*36"],
    [42, "G1 X10 Y10 F3000", "N42 G1 X10 Y10 F3000*122"],
  ])("N%i %s -> %s", (n, cmd, expected) => {
    expect(frame(n, cmd)).toBe(expected);
  });

  it("xors bytes", () => {
    expect(checksum("N1 M105")).toBe(38);
  });

  it.each([
    ["G1 X10 ; move", "G1 X10"],
    ["; only a comment", ""],
    ["  M104 S200  ", "M104 S200"],
  ])("strips comments from %j", (line, expected) => {
    expect(stripComment(line)).toBe(expected);
  });
});

describe("firmware lines", () => {
  it.each([
    ["ok", { kind: "ok", rest: "" }],
    ["ok T:210.00 /210.00 B:60.00 /60.00 @:127 B@:0", { kind: "ok" }],
    ["Resend: 42", { kind: "resend", line: 42 }],
    ["rs N2 Expected checksum 67", { kind: "resend", line: 2 }],
    ["echo:busy: processing", { kind: "busy", what: "processing" }],
    ["busy: paused for user", { kind: "busy" }],
    ["wait", { kind: "wait" }],
    ["start", { kind: "start" }],
    ["Error:Thermal Runaway, system stopped! Heater_ID: 0", { kind: "halt", halt: "thermal-runaway" }],
    ["Error:Thermal Runaway, system stopped! Heater_ID: bed", { kind: "halt", halt: "thermal-runaway" }],
    ["Error:Heating failed, system stopped! Heater_ID: 0", { kind: "halt", halt: "heating-failed" }],
    ["Error:MINTEMP triggered, system stopped! Heater_ID: 0", { kind: "halt", halt: "mintemp" }],
    ["Error:MAXTEMP triggered, system stopped! Heater_ID: bed", { kind: "halt", halt: "maxtemp" }],
    ["Error:Printer halted. kill() called!", { kind: "halt", halt: "killed" }],
    ["echo:EMERGENCY SHUTDOWN DETECTED. KILLED.", { kind: "halt", halt: "killed" }],
    ["!! KILL caused by KILL button/pin", { kind: "halt", halt: "killed" }],
    ["fatal: Heater/sensor error - Printer stopped", { kind: "halt" }],
    ["Error:checksum mismatch, Last Line: 41", { kind: "comm-error" }],
    ["Error:Line Number is not Last Line Number+1, Last Line: 7", { kind: "comm-error" }],
    ["Error:No Checksum with line number, Last Line: 7", { kind: "comm-error" }],
    ["Error:Hotend too cold", { kind: "error", message: "Hotend too cold" }],
    [" T:21.30 /0.00 B:20.90 /0.00 @:0 B@:0", { kind: "temperature" }],
    ["Cap:AUTOREPORT_TEMP:1", { kind: "capability", name: "AUTOREPORT_TEMP", enabled: true }],
    ["Cap:THERMAL_PROTECTION:0", { kind: "capability", name: "THERMAL_PROTECTION", enabled: false }],
    ["//action:pause", { kind: "action", action: "pause" }],
    ["echo:Unknown command: \"X123\"", { kind: "echo" }],
    ["\u0080\u00ff garbage", { kind: "other" }],
  ])("%j", (line, expected) => {
    expect(classifyLine(line)).toMatchObject(expected);
  });

  it("reads temperatures and heater power", () => {
    expect(parseTemperatures("ok T:210.00 /215.00 B:60.00 /60.00 @:127 B@:0")).toEqual({
      hotend: { actual: 210, target: 215 },
      bed: { actual: 60, target: 60 },
      hotendPower: 1,
      bedPower: 0,
    });
    expect(parseTemperatures("T:21.3/ 0.0")?.hotend).toEqual({ actual: 21.3, target: 0 });
    expect(parseTemperatures("T:210.0 /210.0 B:60.0 /60.0 T0:205.0 /210.0 T1:25.0 /0.0 @:64 B@:0")?.hotend).toEqual({ actual: 205, target: 210 });
    expect(parseTemperatures("X:10.00 Y:20.00 Z:0.30 E:1.20")).toBeNull();
  });

  it("reads M115's firmware line and capabilities", () => {
    const info = parseFirmwareLine("FIRMWARE_NAME:Marlin 2.1.2.1 (sim) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 MACHINE_TYPE:TEC Sim Printer EXTRUDER_COUNT:1 UUID:abc");
    expect(info).toMatchObject({ FIRMWARE_NAME: "Marlin 2.1.2.1 (sim)", PROTOCOL_VERSION: "1.0", MACHINE_TYPE: "TEC Sim Printer", EXTRUDER_COUNT: "1" });
    expect(parseCapability("Cap:EMERGENCY_PARSER:1")).toEqual(["EMERGENCY_PARSER", true]);
  });

  it("reads heating targets", () => {
    expect(heatingTarget("M104 S210")).toBe(210);
    expect(heatingTarget("M109 R200")).toBe(200);
    expect(heatingTarget("M140")).toBe(0);
  });
});
