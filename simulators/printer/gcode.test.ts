import { describe, expect, it } from "vitest";
import { emergencyCommand, parseCommand } from "./gcode.ts";

describe("parseCommand", () => {
  it("drops the line number and checksum and splits the words", () => {
    const c = parseCommand("N42 G1 X10 Y-2.5 E.4 F3000*122");
    expect(c).toMatchObject({ letter: "G", code: 1, text: "G1 X10 Y-2.5 E.4 F3000" });
    expect(Object.fromEntries(c.params)).toEqual({ X: 10, Y: -2.5, E: 0.4, F: 3000 });
  });

  it("keeps flags without values and the rest of the line for messages", () => {
    expect([...parseCommand("G28 X Y").flags]).toEqual(["X", "Y"]);
    expect(parseCommand("M117 Hello class").rest).toBe("Hello class");
    expect(parseCommand("hello").letter).toBe("?");
  });
});

describe("emergencyCommand (Marlin's emergency parser)", () => {
  it.each([
    ["M112", "M112"],
    ["N5 M112*36", "M112"],
    ["M108", "M108"],
    [" M410", "M410"],
    ["M1120", null],
    ["G1 M112", null],
    ["M105", null],
  ])("%s -> %s", (line, expected) => {
    expect(emergencyCommand(line)).toBe(expected);
  });
});
