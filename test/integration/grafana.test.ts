/**
 * The hub's Prometheus endpoint and the Grafana dashboard that reads it (deploy/grafana-dashboard.json):
 * a real hub gets telemetry and trips an interlock; /metrics then has counters typed as counters that
 * rise, both timing histograms with observations, and every metric a dashboard panel queries.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootHarness, type Harness, TEST_META, until } from "./harness.ts";

const DASHBOARD = path.resolve(import.meta.dirname, "../../deploy/grafana-dashboard.json");

interface Family {
  type: string;
  samples: Map<string, number>;
}

/** Parses the Prometheus text format into families (by name) and their samples (by series). */
function parseMetrics(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const familyOf = (sample: string): Family | undefined => {
    for (const suffix of ["", "_bucket", "_count", "_sum"]) {
      if (suffix !== "" && !sample.endsWith(suffix)) continue;
      const f = families.get(sample.slice(0, sample.length - suffix.length));
      if (f !== undefined) return f;
    }
    return undefined;
  };
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) {
      families.set(type[1] ?? "", { type: type[2] ?? "", samples: new Map() });
      continue;
    }
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/.exec(line);
    if (m === null) continue;
    familyOf(m[1] ?? "")?.samples.set(`${m[1]}${m[2] ?? ""}`, Number(m[3]));
  }
  return families;
}

const sample = (fams: Map<string, Family>, family: string, series: string): number | undefined => fams.get(family)?.samples.get(series);

describe("Prometheus metrics and the Grafana dashboard", () => {
  let h: Harness;

  beforeAll(async () => {
    h = await bootHarness({
      interlocks: [
        {
          id: "too-much-power",
          name: { nl: "Te veel vermogen", en: "Too much power" },
          reason: { nl: "Relais uit: meer dan 4 kW", en: "Relay off: more than 4 kW" },
          when: { type: "above", input: "dev-a.powerW", value: 4000 },
          actions: [{ type: "safe", actuator: "dev-a.relay" }],
        },
      ],
    });
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  });

  const scrape = async (): Promise<{ text: string; fams: Map<string, Family> }> => {
    const res = await fetch(`${h.httpUrl}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    return { text, fams: parseMetrics(text) };
  };

  it("counts as counters, times the pipeline and a trip, and has every metric the dashboard queries", async () => {
    const first = await scrape();
    expect(first.text).toContain("# TYPE tec_hub_ingest_messages_total counter");
    expect(first.text).toContain("# TYPE tec_hub_ingest_readings_total counter");
    expect(first.text).toContain("# TYPE tec_hub_ingest_rejected_total counter");
    const before = sample(first.fams, "tec_hub_ingest_messages_total", "tec_hub_ingest_messages_total") ?? Number.NaN;
    expect(before).toBe(0);

    const dev = await h.device("dev-a");
    await dev.describe(TEST_META);
    await until(() => h.hub.registry.view("dev-a" as never)?.model !== null, 30_000, "dev-a described");
    // 40 messages: one in 16 is timed, so at least two are.
    for (let i = 0; i < 40; i++) await dev.tele({ powerW: 100 + i, tempC: 20 });
    // One reading out of range (not the interlock's input): a reject, counted by code.
    await dev.tele({ tempC: 999 });
    await until(() => h.hub.pipeline.counters.accepted >= 40 && h.hub.pipeline.counters.rejected >= 1, 30_000, "40 messages accepted and a reject");

    const second = await scrape();
    const after = sample(second.fams, "tec_hub_ingest_messages_total", "tec_hub_ingest_messages_total") ?? 0;
    expect(after).toBeGreaterThanOrEqual(40);
    expect(sample(second.fams, "tec_hub_ingest_rejected_total", 'tec_hub_ingest_rejected_total{code="out-of-range"}')).toBeGreaterThanOrEqual(1);
    expect(second.fams.get("tec_hub_ingest_latency_seconds")?.type).toBe("histogram");
    expect(sample(second.fams, "tec_hub_ingest_latency_seconds", "tec_hub_ingest_latency_seconds_count")).toBeGreaterThanOrEqual(2);
    expect(sample(second.fams, "tec_hub_ingest_latency_seconds", 'tec_hub_ingest_latency_seconds_bucket{le="+Inf"}')).toBeGreaterThanOrEqual(2);
    expect(sample(second.fams, "tec_hub_interlock_reaction_seconds", "tec_hub_interlock_reaction_seconds_count")).toBe(0);

    // The input that trips the rule.
    await dev.tele({ powerW: 4500, tempC: 20 });
    await until(() => h.hub.interlocks.view("too-much-power")?.status === "tripped", 30_000, "the interlock tripped");
    const third = await scrape();
    expect(third.fams.get("tec_hub_interlock_reaction_seconds")?.type).toBe("histogram");
    expect(sample(third.fams, "tec_hub_interlock_reaction_seconds", "tec_hub_interlock_reaction_seconds_count")).toBe(1);
    const buckets = [...(third.fams.get("tec_hub_interlock_reaction_seconds")?.samples ?? new Map<string, number>())].filter(([k]) => k.includes("_bucket{"));
    expect(buckets.length).toBeGreaterThan(5);
    expect(Math.max(...buckets.map(([, v]) => v))).toBe(1);
    // Counters only rise.
    expect(sample(third.fams, "tec_hub_ingest_messages_total", "tec_hub_ingest_messages_total") ?? 0).toBeGreaterThan(after);

    // Every metric in every panel's query is in the hub's output; rate() and increase() only on counters and histograms.
    const dashboard = JSON.parse(readFileSync(DASHBOARD, "utf8")) as { schemaVersion: number; panels: Array<{ title: string; targets?: Array<{ expr: string; datasource: { uid: string } }> }>; templating: { list: Array<{ name: string; type: string }> } };
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: "DS_PROMETHEUS", type: "datasource" }));
    const titles = dashboard.panels.map((p) => p.title);
    for (const want of ["Ingest rate", "Rejects by code", "Device states", "Event-loop lag (p99)", "Ingest latency p50 / p99", "Interlock reaction p99", "MQTT clients", "Live clients"]) expect(titles).toContain(want);
    let checked = 0;
    for (const panel of dashboard.panels) {
      expect(panel.targets?.length ?? 0, panel.title).toBeGreaterThan(0);
      for (const t of panel.targets ?? []) {
        expect(t.datasource.uid).toBe("${DS_PROMETHEUS}");
        const names = t.expr.match(/\btec_hub_[a-z0-9_]+/g) ?? [];
        expect(names.length, `${panel.title}: ${t.expr}`).toBeGreaterThan(0);
        for (const name of names) {
          const family = [...third.fams.entries()].find(([f, fam]) => f === name || [...fam.samples.keys()].some((s) => s === name || s.startsWith(`${name}{`)));
          expect(family, `${panel.title}: ${name} is not in /metrics`).toBeDefined();
          checked++;
        }
        for (const m of t.expr.matchAll(/\b(?:rate|increase)\((tec_hub_[a-z0-9_]+)/g)) {
          const name = m[1] ?? "";
          const fam = third.fams.get(name) ?? third.fams.get(name.replace(/_bucket$|_count$|_sum$/, ""));
          expect(["counter", "histogram"], `${panel.title}: rate() of ${name}`).toContain(fam?.type);
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(10);
  }, 180_000);
});
