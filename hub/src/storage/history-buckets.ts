/**
 * Point folding for the history, free of SQLite and threads: the tier rule for `auto`, the
 * per-minute and per-quarter aggregates of samples being committed, loose samples merged into
 * stored aggregate rows, and the sink that folds a query's points to fit maxPoints.
 */
import { floorTo, HOUR_MS, MINUTE_MS, QUARTER_MS, type Resolution } from "./history-protocol.ts";

/** Up to this range `auto` draws from raw samples (retention permitting), folded to fit maxPoints. */
export const AUTO_RAW_RANGE_MS = 2 * HOUR_MS;

/**
 * The tier for `auto`, from the range and maxPoints only: counting the samples would cost a scan
 * per request, and a chart should not flip between tiers as a channel's rate changes.
 *  1. raw, when `from` is within raw retention and the range is at most 2 h (AUTO_RAW_RANGE_MS).
 *     With more samples than maxPoints they are folded into even `bucketMs` buckets, so a
 *     10-minute chart of a 4 Hz channel comes back as up to maxPoints raw-derived points, not as 10
 *     minute points. (The worker still steps down to the next rule when the range holds too many
 *     samples to read quickly; see history-sql.ts.)
 *  2. 1m, when `from` is within minute retention and the range spans at most maxPoints minutes.
 *  3. 15m otherwise.
 */
export function pickResolution(q: { from: number; to: number; maxPoints: number }, now: number, retention: { rawMs: number; minuteMs: number }): Resolution {
  if (q.from >= now - retention.rawMs && q.to - q.from <= AUTO_RAW_RANGE_MS) return "raw";
  return q.from >= now - retention.minuteMs ? stepDown(q) : "15m";
}

/** The aggregate tier `auto` uses instead of raw when raw would read too much. */
export const stepDown = (q: { from: number; to: number; maxPoints: number }): Resolution => (minutesIn(q.from, q.to) <= q.maxPoints ? "1m" : "15m");

const minutesIn = (from: number, to: number): number => Math.floor(to / MINUTE_MS) - Math.floor(from / MINUTE_MS) + 1;

export type EmitAggregate = (t: number, n: number, sum: number, min: number, max: number) => void;

/** Folds consecutive values of the same bucket into one aggregate; emits when the bucket changes. */
class RunFolder {
  private t = Number.NaN;
  private n = 0;
  private sum = 0;
  private min = 0;
  private max = 0;

  constructor(
    private readonly bucketMs: number,
    private readonly emit: EmitAggregate,
  ) {}

  add(t: number, n: number, sum: number, min: number, max: number): void {
    const bucket = floorTo(t, this.bucketMs);
    if (bucket !== this.t) {
      this.flush();
      this.t = bucket;
    }
    this.min = this.n === 0 ? min : Math.min(this.min, min);
    this.max = this.n === 0 ? max : Math.max(this.max, max);
    this.n += n;
    this.sum += sum;
  }

  flush(): void {
    if (this.n > 0) this.emit(this.t, this.n, this.sum, this.min, this.max);
    this.n = 0;
    this.sum = 0;
  }
}

/**
 * The 1-minute and 15-minute aggregates of `data[start..end)` ([t, v, …]). Samples arrive in hub
 * time order, so one aggregate per minute is emitted; out-of-order samples only cause more
 * emissions for the same bucket, which the upsert adds up all the same.
 */
export function foldTiers(data: Float64Array, start: number, end: number, emit1m: EmitAggregate, emit15m: EmitAggregate): void {
  const quarters = new RunFolder(QUARTER_MS, emit15m);
  const minutes = new RunFolder(MINUTE_MS, (t, n, sum, min, max) => {
    emit1m(t, n, sum, min, max);
    quarters.add(t, n, sum, min, max);
  });
  for (let i = start; i < end; i += 2) {
    const v = data[i + 1] ?? 0;
    minutes.add(data[i] ?? 0, 1, v, v, v);
  }
  minutes.flush();
  quarters.flush();
}

/**
 * Samples not in the database yet (main-thread buffers, commits that failed), aggregated into the
 * buckets of a tier so they join the stored row of the same bucket instead of adding a second one.
 */
export class LooseBuckets {
  private readonly acc = new Map<number, [n: number, sum: number, min: number, max: number]>();

  /** Buckets whose start lies in (lo, hi] are kept, as for stored rows. */
  constructor(
    private readonly tierMs: number,
    private readonly lo: number,
    private readonly hi: number,
  ) {}

  addSamples(d: Float64Array, start: number, end: number): void {
    for (let i = start; i < end; i += 2) {
      const t = floorTo(d[i] ?? 0, this.tierMs);
      if (t <= this.lo || t > this.hi) continue;
      const v = d[i + 1] ?? 0;
      const a = this.acc.get(t);
      if (a === undefined) this.acc.set(t, [1, v, v, v]);
      else {
        a[0] += 1;
        a[1] += v;
        a[2] = Math.min(a[2], v);
        a[3] = Math.max(a[3], v);
      }
    }
  }

  /** A stored row merged with the loose samples of its bucket, which are then taken out. */
  merge(t: number, n: number, sum: number, min: number, max: number, into: EmitAggregate): void {
    const a = this.acc.get(t);
    if (a === undefined) return into(t, n, sum, min, max);
    this.acc.delete(t);
    into(t, n + a[0], sum + a[1], Math.min(min, a[2]), Math.max(max, a[3]));
  }

  /** Buckets that only loose samples have. */
  rest(into: EmitAggregate): void {
    for (const [t, a] of this.acc) into(t, a[0], a[1], a[2], a[3]);
    this.acc.clear();
  }
}

/** Keeps points as they come, or, once there are more than maxPoints, folds them into even buckets from `from`. */
export class PointSink {
  private rows: number[] = []; // t, n, sum, min, max
  private buckets: { n: Float64Array; sum: Float64Array; min: Float64Array; max: Float64Array } | null = null;
  bucketMs: number | null = null;

  constructor(
    private readonly from: number,
    private readonly to: number,
    private readonly maxPoints: number,
  ) {}

  readonly add: EmitAggregate = (t, n, sum, min, max) => {
    if (this.buckets !== null) return this.fold(t, n, sum, min, max);
    this.rows.push(t, n, sum, min, max);
    if (this.rows.length > this.maxPoints * 5) this.toBuckets();
  };

  /** Raw (t, v) pairs of `d[start..end)`; those outside [from, to] are skipped. */
  addSamples(d: Float64Array, start: number, end: number): void {
    for (let i = start; i < end; i += 2) {
      const t = d[i] ?? 0;
      const v = d[i + 1] ?? 0;
      if (t >= this.from && t <= this.to) this.add(t, 1, v, v, v);
    }
  }

  /** [t, avg, min, max, n] per point, in time order. */
  packed(): Float64Array<ArrayBuffer> {
    const b = this.buckets;
    if (b !== null && this.bucketMs !== null) {
      const out: number[] = [];
      for (let i = 0; i < b.n.length; i++) {
        const n = b.n[i] ?? 0;
        if (n > 0) out.push(this.from + i * this.bucketMs, (b.sum[i] ?? 0) / n, b.min[i] ?? 0, b.max[i] ?? 0, n);
      }
      return Float64Array.from(out);
    }
    const r = this.rows;
    const order = Array.from({ length: r.length / 5 }, (_, i) => i * 5).sort((a, b) => (r[a] ?? 0) - (r[b] ?? 0));
    const out = new Float64Array(r.length);
    order.forEach((k, i) => {
      const n = r[k + 1] ?? 1;
      out.set([r[k] ?? 0, (r[k + 2] ?? 0) / n, r[k + 3] ?? 0, r[k + 4] ?? 0, n], i * 5);
    });
    return out;
  }

  private toBuckets(): void {
    const span = this.to - this.from + 1;
    const bucketMs = Math.max(1, Math.ceil(span / this.maxPoints));
    const count = Math.ceil(span / bucketMs);
    this.bucketMs = bucketMs;
    this.buckets = { n: new Float64Array(count), sum: new Float64Array(count), min: new Float64Array(count), max: new Float64Array(count) };
    const r = this.rows;
    this.rows = [];
    for (let i = 0; i < r.length; i += 5) this.fold(r[i] ?? 0, r[i + 1] ?? 0, r[i + 2] ?? 0, r[i + 3] ?? 0, r[i + 4] ?? 0);
  }

  private fold(t: number, n: number, sum: number, min: number, max: number): void {
    const b = this.buckets;
    if (b === null || this.bucketMs === null) return;
    // An aggregate bucket that starts before `from` counts in the first bucket.
    const i = Math.min(b.n.length - 1, Math.max(0, Math.floor((t - this.from) / this.bucketMs)));
    const had = b.n[i] ?? 0;
    b.min[i] = had === 0 ? min : Math.min(b.min[i] ?? min, min);
    b.max[i] = had === 0 ? max : Math.max(b.max[i] ?? max, max);
    b.n[i] = had + n;
    b.sum[i] = (b.sum[i] ?? 0) + sum;
  }
}
