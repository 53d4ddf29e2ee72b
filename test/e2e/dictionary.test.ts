/**
 * The dashboard's one dictionary: every key in Dutch and English, neither empty, the same
 * placeholders in both, and no English left standing in for Dutch. (Pure: it lives with the
 * browser tests because vitest runs test/**, not dashboard/**.)
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { NAMES } from "../../dashboard/src/i18n/names.ts";
import { CONSOLE_STRINGS } from "../../dashboard/src/i18n/strings-console.ts";
import { SHELL_STRINGS } from "../../dashboard/src/i18n/strings-shell.ts";
import { WORKBENCH_STRINGS } from "../../dashboard/src/i18n/strings-workbench.ts";
import { COMMON_AND_KIOSK, STRINGS } from "../../dashboard/src/i18n/strings.ts";

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

/** Words that are the same in both languages on purpose. */
const SAME = new Set(["conn.up", "nav.kiosk", "kiosk.brand", "station.tinyHouse", "station.start", "actuator.start", "actuator.startHold", "interlock.reset", "interlock.title", "tab.interlocks", "tab.hub", "tab.sim", "hub.hub", "hub.mqtt", "hub.p50", "hub.p99", "hub.max", "hub.rss", "hub.clients", "hub.frames", "severity.info", "state.offline", "station.state.offline", "time.seconds", "time.minutes", "dev.details", "dev.col.firmware", "sim.power.crash", "sim.power.reboot", "audit.col.details", "station.title", "station.stop", "actuator.stop", "station.kind.robot", "eq.laptop.one", "eq.laptop.other", "history.min", "history.max", "hub.mqttMode", "hub.dbSize"]);

describe("dashboard dictionary", () => {
  const entries = Object.entries(STRINGS) as Array<[string, { nl: string; en: string }]>;

  it.each(entries)("%s has both languages with the same placeholders", (key, e) => {
    expect(e.nl.trim(), `${key}: nl`).not.toBe("");
    expect(e.en.trim(), `${key}: en`).not.toBe("");
    expect(placeholders(e.nl), key).toEqual(placeholders(e.en));
  });

  it("is one dictionary: no key defined in two of its files", () => {
    const parts: Array<Record<string, unknown>> = [COMMON_AND_KIOSK, SHELL_STRINGS, CONSOLE_STRINGS, WORKBENCH_STRINGS];
    const keys = parts.flatMap((p) => Object.keys(p));
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
  });

  it("translates everything that is not the same word on purpose", () => {
    const untranslated = entries.filter(([k, e]) => e.nl === e.en && !SAME.has(k)).map(([k]) => k);
    expect(untranslated).toEqual([]);
  });

  it("names every known device, actuator and channel in both languages", () => {
    for (const [id, e] of Object.entries(NAMES)) {
      expect(e.nl.trim(), id).not.toBe("");
      expect(e.en.trim(), id).not.toBe("");
    }
  });

  it("has no key the code never uses, and the code uses no key it lacks", () => {
    const dir = path.resolve(import.meta.dirname, "../../dashboard/src");
    const files = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(path.join(d, e.name)) : e.name.endsWith(".ts") ? [path.join(d, e.name)] : []));
    const code = files(dir)
      .filter((f) => !f.includes(`${path.sep}i18n${path.sep}`))
      .map((f) => readFileSync(f, "utf8"))
      .join("\n");
    const literal = new Set([...code.matchAll(/"([a-z][a-zA-Z]*(?:\.[a-zA-Z0-9_]+)+)"/g)].map((m) => m[1]));
    // Keys built at run time: `state.${state}`, `audit.col.${k}`, ...
    const prefixes = [...code.matchAll(/`([a-z][a-zA-Z]*(?:\.[a-zA-Z]+)*\.)\$\{/g)].map((m) => m[1] ?? "");
    const unused = Object.keys(STRINGS).filter((k) => !literal.has(k) && !prefixes.some((p) => k.startsWith(p)));
    expect(unused).toEqual([]);
  });
});
