/**
 * The hub's dictionary: every key in Dutch and English, neither empty, the same placeholders in
 * both; every key used; and no sentence built inline anywhere else in hub/src (the sources are
 * scanned), so a text the instructor reads cannot miss its translation unnoticed.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { HUB_STRINGS, asSentence, list, sentences, text, timeOfDay, verbatim, withDetail } from "./texts.ts";

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

const HUB_SRC = path.resolve(import.meta.dirname, "../..");
const sources = (d: string): string[] =>
  readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(d, e.name)) : e.name.endsWith(".ts") ? [path.join(d, e.name)] : []));
const rel = (f: string) => path.relative(HUB_SRC, f).split(path.sep).join("/");
/** Tests and the safety site of the unit tests may write fixtures inline; the dictionary itself is the one place for the rest. */
const scanned = sources(HUB_SRC).filter((f) => !f.endsWith(".test.ts") && !f.endsWith(".bench.ts") && !rel(f).startsWith("core/testing/") && rel(f) !== "core/texts/strings.ts");

describe("hub dictionary", () => {
  const entries = Object.entries(HUB_STRINGS) as Array<[string, { nl: string; en: string }]>;

  it.each(entries)("%s has both languages with the same placeholders", (key, e) => {
    expect(e.nl.trim(), `${key}: nl`).not.toBe("");
    expect(e.en.trim(), `${key}: en`).not.toBe("");
    expect(placeholders(e.nl), key).toEqual(placeholders(e.en));
  });

  it("has no key the hub never uses", () => {
    const code = scanned.map((f) => readFileSync(f, "utf8")).join("\n");
    const used = new Set([...code.matchAll(/"([a-z][a-zA-Z]*(?:\.[a-zA-Z0-9]+)+)"/g)].map((m) => m[1]));
    expect(entries.map(([k]) => k).filter((k) => !used.has(k))).toEqual([]);
  });

  it("is the only place in hub/src that writes a sentence in both languages", () => {
    // `{ nl: "..." }`, `{ nl: `...` }`, or a multi-line object whose `nl:` starts a string.
    const inline = scanned.flatMap((f) =>
      readFileSync(f, "utf8")
        .split("\n")
        .flatMap((line, i) => (/\bnl:\s*["'`]/.test(line) ? [`${rel(f)}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(inline).toEqual([]);
  });

  it("finds inline texts when they are there (the scan above can fail)", () => {
    expect(/\bnl:\s*["'`]/.test('return { nl: `${x} is offline`, en: "..." };')).toBe(true);
    expect(/\bnl:\s*["'`]/.test('    nl: "De hub verbindt opnieuw",')).toBe(true);
    expect(/\bnl:\s*["'`]/.test("const t = text(\"estop.name\");")).toBe(false);
  });
});

describe("text", () => {
  it.each([
    ["a string and a number, the same in both", text("printer.busy", { printer: "P1", job: "cube" }), { nl: "P1 print al cube.", en: "P1 is already printing cube." }],
    ["a Text, per language", text("robot.doorOpen", { robot: { nl: "de Robotcel", en: "the robot cell" } }), { nl: "De deur van de Robotcel staat open.", en: "The door of the robot cell is open." }],
    ["a missing argument stays visible", text("printer.busy", { printer: "P1" }), { nl: "P1 print al {job}.", en: "P1 is already printing {job}." }],
  ])("fills %s", (_what, got, want) => {
    expect(got).toEqual(want);
  });

  it.each([
    [[], { nl: "", en: "" }],
    [[verbatim("a")], { nl: "a", en: "a" }],
    [[verbatim("a"), verbatim("b")], { nl: "a en b", en: "a and b" }],
    [[verbatim("a"), verbatim("b"), { nl: "c", en: "C" }], { nl: "a, b en c", en: "a, b and C" }],
  ])("lists %j", (items, want) => {
    expect(list(items)).toEqual(want);
  });

  it("puts sentences one after another, makes a sentence of a clause, and adds a raw detail", () => {
    expect(sentences([text("permit.estop"), text("robot.noInstructor")])).toEqual({
      nl: "De noodstop is actief. Er is geen begeleider aangemeld (open een bezoek).",
      en: "The emergency stop is active. No instructor is signed in (open a visit).",
    });
    expect(asSentence({ nl: "pomp uit: lekkage", en: "pump off: leak" })).toEqual({ nl: "Pomp uit: lekkage.", en: "Pump off: leak." });
    expect(asSentence({ nl: "Klaar!", en: "Done." })).toEqual({ nl: "Klaar!", en: "Done." });
    expect(withDetail(text("printer.halt.killed"), "Printer halted. kill() called!")).toEqual({ nl: "de firmware is gestopt (Printer halted. kill() called!)", en: "the firmware stopped (Printer halted. kill() called!)" });
  });

  it("says a time of day as hours and minutes on the hub's clock", () => {
    const at = new Date(2026, 2, 14, 9, 5, 59).getTime();
    expect(timeOfDay(at)).toBe("09:05");
  });
});
