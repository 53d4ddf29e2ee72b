/**
 * What the workbench computes about time, free of the DOM so it can be tested with tables
 * (test/e2e/technician-timeline.test.ts): when a device last sent telemetry, where a history
 * series has holes, and when alarms were active or interlocks tripped (the chart's bands).
 */
import type { AuditRecord } from "../../../../hub/src/core/audit.ts";
import type { Alarm, InterlockView } from "../../../../hub/src/api/live-protocol.ts";

/**
 * The newest hub receive time of any of the device's channels: its last accepted telemetry. The
 * device's `lastSeen` also moves on health reports and status messages, and the live stream sends
 * it only when the device's state changes, so on a screen it stands still between state changes;
 * every frame with a reading carries the channel's `at`. A device without channels falls back on
 * `lastSeen`.
 */
export function lastTelemetryAt(device: { lastSeen: number | null; channels: Record<string, { at: number | null }> }): number | null {
  let newest: number | null = null;
  for (const c of Object.values(device.channels)) if (c.at !== null && (newest === null || c.at > newest)) newest = c.at;
  return newest ?? device.lastSeen;
}

export interface SeriesPoint {
  t: number;
  avg: number;
  min: number;
  max: number;
}

/** A hole is wider than this many expected steps (a late message or a slow flush is not a hole). */
export const GAP_FACTOR = 2.5;

const TIER_MS: Record<string, number> = { "1m": 60_000, "15m": 900_000 };

/**
 * The distance between two points the chart expects: the bucket the hub folded into, else the
 * tier's own step, else (raw samples) the median distance between neighbours, which one long hole
 * cannot move.
 */
export function expectedStepMs(points: readonly SeriesPoint[], resolution: string, bucketMs: number | null): number | null {
  if (bucketMs !== null && bucketMs > 0) return bucketMs;
  const tier = TIER_MS[resolution];
  if (tier !== undefined) return tier;
  const steps: number[] = [];
  for (let i = 1; i < points.length; i++) {
    const d = (points[i]?.t ?? 0) - (points[i - 1]?.t ?? 0);
    if (d > 0) steps.push(d);
  }
  if (steps.length === 0) return null;
  steps.sort((a, b) => a - b);
  return steps[Math.floor(steps.length / 2)] ?? null;
}

export interface GappedSeries {
  /** Times in ms, with one extra time in the middle of each hole. */
  t: number[];
  /** null at the extra times: uPlot (spanGaps off) lifts the pen there. */
  avg: Array<number | null>;
  min: Array<number | null>;
  max: Array<number | null>;
  /** The holes, [last point before, first point after]. */
  gaps: Array<[number, number]>;
  /** Runs of points drawn as one line. */
  segments: number;
}

/** The points with a null inserted in every hole wider than GAP_FACTOR expected steps. */
export function withGaps(points: readonly SeriesPoint[], resolution: string, bucketMs: number | null): GappedSeries {
  const step = expectedStepMs(points, resolution, bucketMs);
  const out: GappedSeries = { t: [], avg: [], min: [], max: [], gaps: [], segments: points.length > 0 ? 1 : 0 };
  let prev: SeriesPoint | null = null;
  for (const p of points) {
    if (prev !== null && step !== null && p.t - prev.t > step * GAP_FACTOR) {
      out.gaps.push([prev.t, p.t]);
      out.segments += 1;
      out.t.push(Math.round((prev.t + p.t) / 2));
      out.avg.push(null);
      out.min.push(null);
      out.max.push(null);
    }
    out.t.push(p.t);
    out.avg.push(p.avg);
    out.min.push(p.min);
    out.max.push(p.max);
    prev = p;
  }
  return out;
}

export interface Band {
  kind: "alarm" | "trip";
  /** The alarm's key or the interlock's id. */
  id: string;
  from: number;
  /** null: still going on. */
  to: number | null;
  severity: "info" | "warning" | "critical";
}

/** Whether a `device.channel` reference (or the id itself) is about `device`. */
const about = (ref: string, device: string) => ref === device || ref.startsWith(`${device}.`);

/** Interlocks whose trips concern `device`: it feeds them, they switch it off, or they stop everything. */
export function interlocksOf(device: string, interlocks: readonly InterlockView[]): Set<string> {
  return new Set(interlocks.filter((i) => i.id === "estop" || i.inputs.some((r) => about(r, device)) || i.forbids.some((r) => about(r, device))).map((i) => i.id));
}

/**
 * When interlocks were tripped, from the audit log (`interlock.tripped` until `interlock.cleared`
 * or an accepted `interlock.reset`), for the interlocks named; records in any order. A trip that
 * began before the records (the interlock's `trippedAt`) and one that has not ended yet are
 * completed from the interlocks' present state.
 */
export function tripBands(records: readonly AuditRecord[], interlocks: readonly InterlockView[], only: ReadonlySet<string>): Band[] {
  const sorted = [...records].sort((a, b) => a.at - b.at || a.seq - b.seq);
  const severity = new Map(interlocks.map((i) => [i.id, i.severity]));
  const open = new Map<string, number>();
  const bands: Band[] = [];
  const close = (id: string, at: number | null, from: number) => bands.push({ kind: "trip", id, from, to: at, severity: severity.get(id) ?? "warning" });
  for (const r of sorted) {
    if (!only.has(r.target)) continue;
    const ends = r.action === "interlock.cleared" || (r.action === "interlock.reset" && r.result === "ok");
    if (r.action === "interlock.tripped") {
      if (!open.has(r.target)) open.set(r.target, r.at);
    } else if (ends) {
      const from = open.get(r.target);
      if (from !== undefined) {
        close(r.target, r.at, from);
        open.delete(r.target);
      }
    }
  }
  for (const i of interlocks) {
    if (!only.has(i.id) || i.status !== "tripped") continue;
    const from = open.get(i.id) ?? i.trippedAt ?? i.since;
    close(i.id, null, from);
    open.delete(i.id);
  }
  // Tripped on record but no longer tripped now: it ended at the latest when its state last changed.
  for (const [id, from] of open) {
    const il = interlocks.find((i) => i.id === id);
    close(id, il !== undefined && il.since >= from ? il.since : null, from);
  }
  return bands.sort((a, b) => a.from - b.from);
}

/**
 * When alarms about `device` were active. The hub keeps each alarm's latest occurrence only: it
 * began at `firstAt` (the first time) or, after a return, no later than `lastAt`. Alarms of
 * interlocks are left out: their trips are bands of their own.
 */
export function alarmBands(alarms: readonly Alarm[], device: string): Band[] {
  return alarms
    .filter((a) => !a.key.startsWith("interlock:") && (a.source === device || a.key.split(":").some((part) => about(part, device))))
    .map((a): Band => ({ kind: "alarm", id: a.key, from: a.count <= 1 ? a.firstAt : a.lastAt, to: a.active ? null : (a.clearedAt ?? a.lastAt), severity: a.severity }))
    .sort((a, b) => a.from - b.from);
}

/** The bands that overlap [from, to], cut to it (an open band runs to `to`). */
export function clipBands(bands: readonly Band[], from: number, to: number): Array<Band & { to: number }> {
  return bands.flatMap((b) => {
    const end = b.to ?? to;
    if (end < from || b.from > to) return [];
    return [{ ...b, from: Math.max(from, b.from), to: Math.min(to, end) }];
  });
}
