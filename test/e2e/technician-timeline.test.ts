/**
 * The workbench's time arithmetic (dashboard/src/views/technician/timeline.ts), table-driven: the
 * age of a device's last telemetry, holes in a history series drawn as holes, and the alarm and
 * trip bands over the chart. Pure; here because vitest runs test/**, not dashboard/**.
 */
import { describe, expect, it } from "vitest";
import type { Alarm, InterlockView } from "../../hub/src/api/live-protocol.ts";
import type { AuditRecord } from "../../hub/src/core/audit.ts";
import { alarmBands, clipBands, expectedStepMs, interlocksOf, lastTelemetryAt, tripBands, withGaps, type SeriesPoint } from "../../dashboard/src/views/technician/timeline.ts";

const pts = (...ts: number[]): SeriesPoint[] => ts.map((t) => ({ t, avg: t, min: t, max: t }));
const S = 1000;

describe("last telemetry", () => {
  it.each<[string, { lastSeen: number | null; channels: Record<string, { at: number | null }> }, number | null]>([
    ["the newest channel, not lastSeen (a health report moved it)", { lastSeen: 50, channels: { a: { at: 10 }, b: { at: 30 } } }, 30],
    ["a newer reading than lastSeen (the stream sends lastSeen only on a state change)", { lastSeen: 5, channels: { a: { at: 40 } } }, 40],
    ["no reading yet: lastSeen", { lastSeen: 7, channels: { a: { at: null } } }, 7],
    ["no channels at all: lastSeen", { lastSeen: 9, channels: {} }, 9],
    ["never heard of", { lastSeen: null, channels: {} }, null],
  ])("%s", (_name, device, expected) => {
    expect(lastTelemetryAt(device)).toBe(expected);
  });
});

describe("holes in a series", () => {
  it.each<[string, SeriesPoint[], string, number | null, number | null]>([
    ["folded: the bucket", pts(0, 6 * S), "raw", 6 * S, 6 * S],
    ["a tier's own points", pts(0, 60 * S), "1m", null, 60 * S],
    ["15-minute tier", pts(0), "15m", null, 900 * S],
    ["raw: the median step, whatever one hole says", pts(0, S, 2 * S, 3 * S, 150 * S, 151 * S), "raw", null, S],
    ["one point: no step", pts(5), "raw", null, null],
  ])("expected step, %s", (_name, points, resolution, bucketMs, expected) => {
    expect(expectedStepMs(points, resolution, bucketMs)).toBe(expected);
  });

  it.each<[string, SeriesPoint[], string, number | null, Array<[number, number]>, number]>([
    ["1 Hz with a 2-minute hole", pts(0, S, 2 * S, 3 * S, 123 * S, 124 * S, 125 * S), "raw", null, [[3 * S, 123 * S]], 2],
    ["a late message is no hole (2 steps)", pts(0, S, 3 * S, 4 * S, 5 * S), "raw", null, [], 1],
    ["just over 2.5 steps is", pts(0, S, 2 * S, 4600, 5600, 6600), "raw", null, [[2 * S, 4600]], 2],
    ["1-minute tier missing three minutes", pts(0, 60 * S, 240 * S, 300 * S), "1m", null, [[60 * S, 240 * S]], 2],
    ["buckets of 6 s with two holes", pts(0, 6 * S, 30 * S, 36 * S, 60 * S), "raw", 6 * S, [[6 * S, 30 * S], [36 * S, 60 * S]], 3],
    ["empty", [], "raw", null, [], 0],
  ])("%s", (_name, points, resolution, bucketMs, gaps, segments) => {
    const g = withGaps(points, resolution, bucketMs);
    expect(g.gaps).toEqual(gaps);
    expect(g.segments).toBe(segments);
    expect(g.t.length).toBe(points.length + gaps.length);
    // A null in the middle of every hole, and nowhere else.
    const nullAt = g.avg.flatMap((v, i) => (v === null ? [g.t[i]] : []));
    expect(nullAt).toEqual(gaps.map(([a, b]) => Math.round((a + b) / 2)));
    expect(g.min.filter((v) => v === null).length).toBe(gaps.length);
  });
});

const il = (id: string, over: Partial<InterlockView> = {}): InterlockView => ({
  id,
  name: { nl: id, en: id },
  severity: "critical",
  status: "normal",
  latched: true,
  since: 0,
  trippedAt: null,
  cause: null,
  reason: { nl: "", en: "" },
  resetEffect: null,
  kiosk: null,
  resetBlocked: null,
  resetRoles: [],
  forbids: [],
  inputs: [],
  ...over,
});

let seq = 0;
const rec = (at: number, action: string, target: string, result: AuditRecord["result"] = "ok"): AuditRecord => ({ seq: ++seq, at, actor: { name: "hub", role: "system" }, action, target, result });

describe("trip bands", () => {
  const leak = il("water-leak", { inputs: ["water.leak"], forbids: ["water.pumpEnable"] });
  const co2 = il("co2-high", { inputs: ["climate.co2Ppm"], forbids: [] });
  const estop = il("estop");

  it("finds the interlocks a device feeds, is switched off by, and the e-stop", () => {
    expect([...interlocksOf("water", [leak, co2, estop])].sort()).toEqual(["estop", "water-leak"]);
    expect([...interlocksOf("climate", [leak, co2, estop])].sort()).toEqual(["co2-high", "estop"]);
    // "water" is not "water-heater".
    expect([...interlocksOf("water", [il("x", { inputs: ["water-heater.t"] })])]).toEqual([]);
  });

  it.each<[string, AuditRecord[], InterlockView[], Array<[string, number, number | null]>]>([
    ["tripped then cleared", [rec(10, "interlock.tripped", "water-leak"), rec(20, "interlock.cleared", "water-leak")], [leak], [["water-leak", 10, 20]]],
    ["tripped then reset by a person", [rec(10, "interlock.tripped", "water-leak"), rec(15, "interlock.reset", "water-leak", "refused"), rec(30, "interlock.reset", "water-leak")], [leak], [["water-leak", 10, 30]]],
    ["records newest first, as the audit log pages them", [rec(20, "interlock.cleared", "water-leak"), rec(10, "interlock.tripped", "water-leak")], [leak], [["water-leak", 10, 20]]],
    ["still tripped: open", [rec(10, "interlock.tripped", "water-leak")], [il("water-leak", { status: "tripped", trippedAt: 10, since: 10 })], [["water-leak", 10, null]]],
    ["tripped before the records: from the interlock", [], [il("water-leak", { status: "tripped", trippedAt: 4, since: 4 })], [["water-leak", 4, null]]],
    ["not ours: left out", [rec(10, "interlock.tripped", "co2-high")], [co2], []],
    ["tripped twice", [rec(10, "interlock.tripped", "water-leak"), rec(20, "interlock.cleared", "water-leak"), rec(40, "interlock.tripped", "water-leak"), rec(50, "interlock.reset", "water-leak")], [leak], [["water-leak", 10, 20], ["water-leak", 40, 50]]],
    ["tripped on record, normal now: ends when it changed", [rec(10, "interlock.tripped", "water-leak")], [il("water-leak", { since: 25 })], [["water-leak", 10, 25]]],
  ])("%s", (_name, records, interlocks, expected) => {
    const only = new Set(["water-leak", "estop"]);
    expect(tripBands(records, interlocks, only).map((b) => [b.id, b.from, b.to])).toEqual(expected);
  });
});

const alarm = (key: string, source: string, over: Partial<Alarm> = {}): Alarm => ({
  key,
  severity: "warning",
  source,
  message: { nl: key, en: key },
  active: false,
  acknowledged: false,
  firstAt: 100,
  lastAt: 100,
  count: 1,
  clearedAt: 200,
  ackedBy: null,
  ackedAt: null,
  comment: null,
  ...over,
});

describe("alarm bands", () => {
  it.each<[string, Alarm[], Array<[string, number, number | null]>]>([
    ["offline and back", [alarm("device-offline:water", "water")], [["device-offline:water", 100, 200]]],
    ["still active: open", [alarm("device-offline:water", "water", { active: true, clearedAt: null })], [["device-offline:water", 100, null]]],
    ["the second time: from its last raise", [alarm("device-offline:water", "water", { count: 2, lastAt: 150, clearedAt: 180 })], [["device-offline:water", 150, 180]]],
    ["another device's: left out", [alarm("device-offline:climate", "climate")], []],
    ["an interlock's: the trip band says it", [alarm("interlock:water-leak", "water-leak")], []],
    ["an escalation naming the device's actuator", [alarm("escalation:water-leak:water.pumpEnable", "water-leak")], [["escalation:water-leak:water.pumpEnable", 100, 200]]],
  ])("%s", (_name, alarms, expected) => {
    expect(alarmBands(alarms, "water").map((b) => [b.id, b.from, b.to])).toEqual(expected);
  });

  it("cuts bands to the chart and runs open ones to its end", () => {
    const bands = [
      { kind: "alarm" as const, id: "a", from: 0, to: 50, severity: "warning" as const },
      { kind: "trip" as const, id: "b", from: 80, to: null, severity: "critical" as const },
      { kind: "alarm" as const, id: "c", from: 500, to: 600, severity: "warning" as const },
    ];
    expect(clipBands(bands, 20, 100).map((b) => [b.id, b.from, b.to])).toEqual([["a", 20, 50], ["b", 80, 100]]);
  });
});
