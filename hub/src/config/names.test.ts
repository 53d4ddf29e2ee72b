import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig, parseConfig } from "./load.ts";
import { declaredDevices } from "./names.ts";

const base = { site: "school", siteName: "A school" };

describe("names in both languages", () => {
  it("takes nameEn and labels, falls back to the Dutch name, and refuses an unknown key in a label", () => {
    const { config } = parseConfig({
      ...base,
      devices: [
        { kind: "mqtt", id: "water", name: "Water", nameEn: "Water board", password: "x", labels: { pumpEnable: { nl: "Pomp", en: "Pump" } } },
        { kind: "mqtt", id: "sun", name: "Zonnepanelen", password: "y" },
      ],
    });
    expect(declaredDevices(config.devices).map((d) => [d.label, d.labels])).toEqual([
      [{ nl: "Water", en: "Water board" }, { pumpEnable: { nl: "Pomp", en: "Pump" } }],
      [{ nl: "Zonnepanelen", en: "Zonnepanelen" }, {}],
    ]);
    expect(() => parseConfig({ ...base, devices: [{ kind: "mqtt", id: "w", name: "W", password: "x", labels: { pump: { nl: "Pomp", en: "Pump", de: "Pumpe" } } }] })).toThrow(/devices\.0\.labels\.pump/);
  });

  it("the demo names every device and station, and every actuator it holds, in English too", () => {
    const { config } = loadConfig(path.resolve(import.meta.dirname, "../../../config/demo.yaml"), {});
    for (const d of config.devices) {
      expect(d.nameEn, d.id).toBeDefined();
      if (d.kind !== "mqtt" && d.kind !== "serial") continue;
      for (const actuator of Object.keys(d.hold)) expect(d.labels[actuator], `${d.id}.${actuator}`).toBeDefined();
    }
    // Every input of an interlock has a name people can read in an alarm ("CO2-meting binnen: geen verse meting sinds 12:03").
    const labelled = new Set(config.devices.flatMap((d) => (d.kind === "mqtt" || d.kind === "serial" ? Object.keys(d.labels).map((p) => `${d.id}.${p}`) : [])));
    const inputs = JSON.stringify(config.interlocks).match(/"input":"([^"]+)"/g)?.map((m) => m.slice(9, -1)) ?? [];
    expect(inputs.length).toBeGreaterThan(0);
    expect(inputs.filter((i) => !labelled.has(i))).toEqual([]);
  });
});
