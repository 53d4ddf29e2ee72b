import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.ts";
import { HubError } from "../core/errors.ts";
import { silentLogger } from "../core/logger.ts";
import { asDeviceId, type TelemetryBatch } from "../core/types.ts";
import { openDatabase } from "./db.ts";
import { pickResolution } from "./history-buckets.ts";
import { HistoryStore, type HistoryOptions, type HistoryPoint, type HistoryResult } from "./history.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 10, 2, 9, 0, 0); // on a quarter hour

interface Sample {
  t: number;
  v: number;
}

const batch = (device: string, at: number, readings: Array<[string, number]>): TelemetryBatch => ({
  deviceId: asDeviceId(device),
  at,
  deviceTs: at,
  seq: 0,
  readings,
  simulated: false,
});

/** What a tier should hold, worked out from the samples themselves. Values are multiples of 0.5, so sums are exact. */
function aggregate(samples: readonly Sample[], bucketMs: number, origin = 0): HistoryPoint[] {
  const buckets = new Map<number, { n: number; sum: number; min: number; max: number }>();
  for (const { t, v } of samples) {
    const key = origin + Math.floor((t - origin) / bucketMs) * bucketMs;
    const b = buckets.get(key);
    if (b === undefined) buckets.set(key, { n: 1, sum: v, min: v, max: v });
    else buckets.set(key, { n: b.n + 1, sum: b.sum + v, min: Math.min(b.min, v), max: Math.max(b.max, v) });
  }
  return [...buckets.entries()].sort(([a], [b]) => a - b).map(([t, b]) => ({ t, avg: b.sum / b.n, min: b.min, max: b.max, n: b.n }));
}

const rawPoints = (samples: readonly Sample[]): HistoryPoint[] => samples.map(({ t, v }) => ({ t, avg: v, min: v, max: v, n: 1 }));
const wave = (i: number): number => ((i * 7) % 13) - 3.5;

async function refusal(promise: Promise<unknown>): Promise<HubError> {
  const error: unknown = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HubError);
  return error as HubError;
}

describe("HistoryStore", () => {
  let dir: string;
  let path: string;
  let stores: HistoryStore[];
  let readers: BetterSqlite3.Database[];
  let workers: Worker[];
  let clock: ManualClock;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "tec-history-"));
    path = join(dir, "hub.db");
    stores = [];
    readers = [];
    workers = [];
    clock = new ManualClock(T0);
  });
  afterEach(async () => {
    for (const s of stores) await s.stop();
    for (const db of readers) if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function create(options: Partial<HistoryOptions> = {}, on = clock, file = path): HistoryStore {
    const store = new HistoryStore(
      file,
      { flushMs: 250, rawRetentionH: 1, minuteRetentionD: 1, ...options },
      // Keeps each worker so a test can kill it; the store never learns of it.
      { clock: on, logger: silentLogger, spawnWorker: (entry, opts) => workers[workers.push(new Worker(entry, opts)) - 1] as Worker },
    );
    stores.push(store);
    return store;
  }

  async function open(options: Partial<HistoryOptions> = {}, on = clock): Promise<HistoryStore> {
    const store = create(options, on);
    await store.start();
    return store;
  }

  /** A second connection to look at the file, as an operator would. */
  function reader(): BetterSqlite3.Database {
    const db = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
    readers.push(db);
    return db;
  }

  /**
   * One reading every `everyMs`, moving the clock (and so the store's timers) along. When a timer
   * has handed samples to the worker, waits for that commit, as the event loop would between ticks.
   */
  async function feed(store: HistoryStore, count: number, everyMs: number, on = clock, value = wave): Promise<Sample[]> {
    const out: Sample[] = [];
    for (let i = 0; i < count; i++) {
      const sample = { t: on.now(), v: value(i) };
      store.append(batch("pv", sample.t, [["powerW", sample.v]]));
      out.push(sample);
      on.advance(everyMs);
      if (store.stats().workerSamples > 0) await store.flush();
    }
    return out;
  }

  const query = (store: HistoryStore, from: number, to: number, resolution: "raw" | "1m" | "15m" | "auto" = "auto", maxPoints?: number): Promise<HistoryResult> =>
    store.query({ device: "pv", channel: "powerW", from, to, resolution, maxPoints });

  it("commits one chunk row per channel with both aggregate tiers, and reads it back as raw points", async () => {
    const store = await open();
    const samples: Sample[] = [];
    for (let i = 0; i < 10; i++) {
      const at = T0 + i * 20;
      store.append(batch("pv", at, [["powerW", wave(i)], ["tempC", 20 + i]]));
      store.append(batch("boiler", at, [["tempC", 60 - i]]));
      samples.push({ t: at, v: wave(i) });
    }
    expect(store.stats()).toMatchObject({ bufferedSamples: 30, workerSamples: 0, flushedSamples: 0 });
    await store.flush();
    expect(store.stats()).toMatchObject({ bufferedSamples: 0, flushedSamples: 30, flushes: 1, lastFlushAt: T0 });
    const db = reader();
    const rows = db.prepare<[], { device: string; channel: string; n: number; t0: number; t1: number; data: Buffer }>(
      "SELECT device, channel, n, t0, t1, data FROM raw_chunks JOIN channels ON channels.id = channel_id ORDER BY device, channel",
    ).all();
    expect(rows.map((r) => [r.device, r.channel, r.n, r.t0, r.t1])).toEqual([
      ["boiler", "tempC", 10, T0, T0 + 180],
      ["pv", "powerW", 10, T0, T0 + 180],
      ["pv", "tempC", 10, T0, T0 + 180],
    ]);
    const blob = rows[0]?.data ?? Buffer.alloc(0);
    expect([blob.readDoubleLE(0), blob.readDoubleLE(8), blob.readDoubleLE(16 * 9 + 8)]).toEqual([T0, 60, 51]);
    const tiers = db.prepare("SELECT 'agg_1m' AS tier, t, n, sum, min, max FROM agg_1m UNION ALL SELECT 'agg_15m', t, n, sum, min, max FROM agg_15m").all();
    expect(tiers).toHaveLength(6); // each channel's minute and quarter, written by the same commit
    expect(tiers).toContainEqual({ tier: "agg_1m", t: T0, n: 10, sum: 555, min: 51, max: 60 });
    const result = await query(store, T0, T0 + 1000, "raw");
    expect(result).toEqual({ device: "pv", channel: "powerW", resolution: "raw", bucketMs: null, from: T0, to: T0 + 1000, points: rawPoints(samples) });
  });

  it("shows buffered samples before they are committed, while they are, and once after", async () => {
    const store = await open();
    store.append(batch("pv", T0 - 10, [["powerW", 1]]));
    await store.flush();
    store.append(batch("pv", T0, [["powerW", 2]]));
    store.append(batch("pv", T0 + 10, [["powerW", 3.5]]));
    const expected = rawPoints([{ t: T0 - 10, v: 1 }, { t: T0, v: 2 }, { t: T0 + 10, v: 3.5 }]);
    expect((await query(store, T0 - 100, T0 + 100)).points).toEqual(expected);
    expect((await query(store, T0, T0 + 10)).points).toEqual(expected.slice(1)); // bounds are inclusive
    // Asked while the commit is in flight: the worker answers after it, so each sample shows once.
    const committing = store.flush();
    expect(store.stats().workerSamples).toBe(2);
    const during = query(store, T0 - 100, T0 + 100);
    store.append(batch("pv", T0 + 20, [["powerW", 4]])); // after the question: not in its answer
    expect((await during).points).toEqual(expected);
    await committing;
    expect((await query(store, T0 - 100, T0 + 100)).points).toEqual([...expected, ...rawPoints([{ t: T0 + 20, v: 4 }])]);
  });

  it("aggregates minutes at commit time across chunks that straddle minute boundaries", async () => {
    clock.set(T0 - 30_450); // commits every second hold 450 ms either side of each minute's end
    const store = await open({ flushMs: 1000 });
    const samples = await feed(store, 1500, 100);
    const straddling = reader().prepare("SELECT COUNT(*) FROM raw_chunks WHERE t0 < ? AND t1 >= ?").pluck().get(T0, T0);
    expect(straddling).toBe(1);
    const result = await query(store, T0 - MIN, T0 + 2 * MIN, "1m");
    expect(result.resolution).toBe("1m");
    expect(result.points).toEqual(aggregate(samples, MIN));
    expect(result.points.map((p) => p.n)).toEqual([305, 600, 595]);
  });

  it("includes the current, incomplete minute and quarter, before and after its samples are committed", async () => {
    const store = await open();
    const samples = await feed(store, 89, 1000);
    samples.push({ t: clock.now(), v: 0.5 }); // 1.5 minutes; the last sample not handed off yet
    store.append(batch("pv", clock.now(), [["powerW", 0.5]]));
    expect(store.stats()).toMatchObject({ bufferedSamples: 1, workerSamples: 0 });
    const expected = aggregate(samples, MIN);
    expect(expected.map((p) => p.n)).toEqual([60, 30]);
    expect((await query(store, T0, clock.now(), "1m")).points).toEqual(expected);
    expect((await query(store, T0, clock.now(), "15m")).points).toEqual(aggregate(samples, 15 * MIN));
    await store.flush();
    expect(store.stats().bufferedSamples).toBe(0);
    expect((await query(store, T0, clock.now(), "1m")).points).toEqual(expected);
    const stored = reader().prepare("SELECT t, n FROM agg_1m ORDER BY t").all();
    expect(stored).toEqual([{ t: T0, n: 60 }, { t: T0 + MIN, n: 30 }]);
  });

  it("splits a backlog into chunks of at most a minute and keeps both tiers exact", async () => {
    const store = await open();
    const samples: Sample[] = [];
    for (let i = 0; i < 32 * 12; i++) samples.push({ t: T0 + i * 5000, v: wave(i) });
    for (const { t, v } of samples) store.append(batch("pv", t, [["powerW", v]]));
    clock.set(T0 + 32 * MIN + 10_000); // no timer ran: one commit holds 32 minutes
    await store.flush();
    const spans = reader().prepare<[], { rows: number; widest: number }>("SELECT COUNT(*) AS rows, MAX(t1 - t0) AS widest FROM raw_chunks").get();
    expect(spans?.rows).toBeGreaterThan(1); // split so no chunk spans more than a minute
    expect(spans?.widest).toBeLessThanOrEqual(MIN);
    const quarters = await query(store, T0, clock.now(), "15m");
    expect(quarters.points).toEqual(aggregate(samples, 15 * MIN));
    expect(quarters.points.map((p) => p.n)).toEqual([180, 180, 24]);
    const minutes = (await query(store, T0, T0 + 15 * MIN - 1, "1m")).points;
    expect(minutes).toHaveLength(15);
    expect(minutes.reduce((n, p) => n + p.n, 0)).toBe(quarters.points[0]?.n);
  });

  it("picks the tier for auto from the range and maxPoints", () => {
    const now = T0 + 10 * DAY;
    const retention = { rawMs: 48 * HOUR, minuteMs: 90 * DAY };
    const cases: Array<[string, number, number, number, string]> = [
      ["10 minutes", now - 10 * MIN, now, 1000, "raw"],
      ["2 hours", now - 2 * HOUR, now, 1000, "raw"],
      ["2 hours and a second", now - 2 * HOUR - 1000, now, 1000, "1m"],
      ["yesterday, 2 h, past raw retention", now - 50 * HOUR, now - 48 * HOUR - 1, 1000, "1m"],
      ["20 hours", now - 20 * HOUR, now, 1000, "15m"], // 1201 minutes > 1000 points
      ["20 hours, 2000 points", now - 20 * HOUR, now, 2000, "1m"],
      ["a day 100 days ago, past minute retention", now - 100 * DAY, now - 99 * DAY, 10_000, "15m"],
    ];
    for (const [name, from, to, maxPoints, tier] of cases) expect([name, pickResolution({ from, to, maxPoints }, now, retention)]).toEqual([name, tier]);
  });

  it("answers auto from raw samples, folded to fit maxPoints, within 2 hours and raw retention", async () => {
    const store = await open();
    await feed(store, 1800, 1000); // 30 minutes, one sample a second
    clock.advance(10_000);
    const now = clock.now();
    const pick = async (from: number, to: number, maxPoints?: number) => {
      const r = await store.query({ device: "pv", channel: "powerW", from, to, maxPoints });
      return [r.resolution, r.bucketMs, r.points.length, r.points.reduce((n, p) => n + p.n, 0)];
    };
    expect(await pick(now - 5 * MIN, now)).toEqual(["raw", null, 290, 290]);
    const folded = await pick(T0, now); // 1800 samples do not fit 1000 points: raw-derived buckets, not 30 minutes
    expect(folded.slice(0, 2)).toEqual(["raw", Math.ceil((now - T0 + 1) / 1000)]);
    expect(folded[2]).toBeLessThanOrEqual(1000);
    expect(folded[3]).toBe(1800);
    expect(await pick(T0, now, 2000)).toEqual(["raw", null, 1800, 1800]);
    expect((await pick(now - 2 * HOUR, now - 90 * MIN))[0]).toBe("1m"); // raw is kept 1 h
    expect((await pick(now - 20 * HOUR, now))[0]).toBe("15m");
    expect((await pick(now - 20 * HOUR, now, 2000)).slice(0, 3)).toEqual(["1m", null, 30]);
    expect((await pick(now - 2 * DAY, now))[0]).toBe("15m"); // minutes are kept 1 day
  });

  it("folds points into even buckets to fit maxPoints and says so", async () => {
    const store = await open();
    const samples = await feed(store, 100, 1000);
    const from = T0;
    const to = T0 + 99_000;
    const result = await query(store, from, to, "raw", 10);
    expect(result.resolution).toBe("raw");
    expect(result.bucketMs).toBe(9901);
    expect(result.points.length).toBeLessThanOrEqual(10);
    expect(result.points).toEqual(aggregate(samples, 9901, from));
    expect(result.points.reduce((n, p) => n + p.n, 0)).toBe(100);
    const over = await query(store, from, to, "raw", 50_000); // maxPoints is capped, not an error
    expect(over.bucketMs).toBeNull();
    expect(over.points).toHaveLength(100);
  });

  it("prunes raw data past retention but keeps minutes, and minutes past theirs but keeps quarters", async () => {
    const store = await open();
    const samples = await feed(store, 3 * 360, 10_000); // 3 hours, retention 1 hour
    await store.prune();
    const now = clock.now();
    const oldest = reader().prepare("SELECT MIN(t1) FROM raw_chunks").pluck().get() as number;
    expect(oldest).toBeGreaterThanOrEqual(now - HOUR);
    expect((await query(store, T0, T0 + HOUR - 1, "raw")).points).toEqual([]);
    const firstHour = samples.filter((s) => s.t < T0 + HOUR);
    expect((await query(store, T0, T0 + HOUR - 1, "1m")).points).toEqual(aggregate(firstHour, MIN));

    clock.set(now + 2 * DAY);
    await store.prune();
    expect((await query(store, T0, T0 + HOUR - 1, "1m")).points).toEqual([]);
    expect((await query(store, T0, T0 + HOUR - 1, "15m")).points).toEqual(aggregate(firstHour, 15 * MIN));
  });

  it("resumes after a crash with every committed sample in every tier exactly once", async () => {
    const first = await open();
    const before = await feed(first, 150, 1000);
    await first.flush();
    first.append(batch("pv", clock.now(), [["powerW", 1000]])); // never handed off: lost in the crash
    // kill -9: the worker dies mid-stride and nothing is flushed; the store is abandoned.
    stores.splice(stores.indexOf(first), 1);
    await workers[0]?.terminate();
    const later = new ManualClock(clock.now() + 5000);
    const second = await open({}, later);
    expect((await query(second, T0, later.now(), "raw")).points).toEqual(rawPoints(before));
    const after = await feed(second, 100, 1000, later, (i) => i / 2);
    await second.flush();
    const all = [...before, ...after];
    expect((await query(second, T0, later.now(), "1m")).points).toEqual(aggregate(all, MIN));
    expect((await query(second, T0, later.now(), "15m")).points).toEqual(aggregate(all, 15 * MIN));
  });

  it("keeps samples through failed commits, drops the oldest past its bound, and never throws", async () => {
    const store = await open({ maxBufferedSamples: 100, busyTimeoutMs: 0 });
    const other = new BetterSqlite3(path);
    readers.push(other);
    other.exec("BEGIN IMMEDIATE"); // another writer holds the lock
    const samples: Sample[] = [];
    for (let i = 0; i < 120; i++) {
      samples.push({ t: T0 + i * 10, v: wave(i) });
      expect(() => store.append(batch("pv", T0 + i * 10, [["powerW", wave(i)]]))).not.toThrow();
      if (i % 10 === 9) await store.flush(); // resolves, though the commit fails
    }
    const failed = store.stats();
    expect(failed.failedFlushes).toBe(12);
    expect(failed.flushedSamples).toBe(0);
    expect(failed.droppedSamples).toBeGreaterThan(0);
    expect(failed.bufferedSamples).toBeLessThanOrEqual(100);
    expect(failed.bufferedSamples).toBe(failed.workerSamples); // all of them wait in the worker
    expect(failed.bufferedSamples + failed.droppedSamples).toBe(120);
    const kept = samples.slice(failed.droppedSamples);
    // What the worker keeps is visible while it waits.
    expect((await query(store, T0, T0 + 2000, "raw", 10_000)).points).toEqual(rawPoints(kept));
    other.exec("COMMIT");
    await store.flush();
    expect(store.stats()).toMatchObject({ bufferedSamples: 0, workerSamples: 0, flushedSamples: kept.length, flushes: 1 });
    expect((await query(store, T0, T0 + 2000, "raw", 10_000)).points).toEqual(rawPoints(kept));
    expect((await query(store, T0, T0 + 2000, "1m")).points).toEqual(aggregate(kept, MIN));
  });

  it("restarts a worker that died, counting what it took with it, and keeps what it never had", async () => {
    const store = await open();
    const first = await feed(store, 20, 100);
    await store.flush();
    const handedOff: Sample[] = [];
    for (let i = 0; i < 5; i++) {
      handedOff.push({ t: clock.now(), v: i });
      store.append(batch("pv", clock.now(), [["powerW", i]]));
      clock.set(clock.now() + 10);
    }
    const inFlight = store.flush();
    const waiting: Sample[] = [{ t: clock.now(), v: 99 }];
    store.append(batch("pv", clock.now(), [["powerW", 99]])); // still on the main thread when the worker dies
    await workers[0]?.terminate();
    await inFlight;
    const dead = store.stats();
    expect(dead.workerRestarts).toBe(1);
    // The commit either made it before the worker died or is counted lost, never both.
    expect(dead.flushedSamples + dead.lostSamples).toBe(25);
    expect(dead.bufferedSamples).toBe(1);
    expect((await refusal(query(store, T0, clock.now()))).code).toBe("STORAGE_FAILED");
    expect(() => store.append(batch("pv", clock.now(), [["powerW", 100]]))).not.toThrow();
    waiting.push({ t: clock.now(), v: 100 });

    clock.advance(1000); // the restart timer
    expect(workers).toHaveLength(2);
    await store.flush();
    expect(store.stats()).toMatchObject({ bufferedSamples: 0, workerRestarts: 1, flushedSamples: dead.flushedSamples + 2 });
    const stored = dead.lostSamples === 0 ? [...first, ...handedOff, ...waiting] : [...first, ...waiting];
    expect((await query(store, T0, clock.now(), "raw")).points).toEqual(rawPoints(stored));
    expect((await query(store, T0, clock.now(), "1m")).points).toEqual(aggregate(stored, MIN));
  });

  it("never waits for the worker: 600,000 appends run while a large backlog commits", async () => {
    const store = await open({ maxBufferedSamples: 10_000_000 });
    const devices = Array.from({ length: 50 }, (_, i) => `device-${i}`);
    const readings: Array<[string, number]> = ["powerW", "voltageV", "currentA", "tempC"].map((c, i) => [c, i + 0.5]);
    const load = (messages: number, start: number): void => {
      for (let m = 0; m < messages; m++) store.append(batch(devices[m % devices.length] ?? "device-0", start + Math.floor(m / 60), readings));
    };
    load(600_000, T0); // 10 s at 60,000 messages/s, 2.4 million samples
    const committing = store.flush();
    // The hand-off returned at once: nothing is committed yet, and every sample is in flight.
    expect(store.stats()).toMatchObject({ flushedSamples: 0, workerSamples: 2_400_000, bufferedSamples: 2_400_000 });
    load(600_000, T0 + 10_000); // the next 10 s, appended while the worker commits
    expect(store.stats()).toMatchObject({ flushedSamples: 0, workerSamples: 2_400_000, bufferedSamples: 4_800_000, droppedSamples: 0 });
    await committing;
    expect(store.stats()).toMatchObject({ flushedSamples: 2_400_000, flushes: 1, workerSamples: 0, bufferedSamples: 2_400_000 });
    await store.flush();
    expect(store.stats()).toMatchObject({ flushedSamples: 4_800_000, flushes: 2, bufferedSamples: 0 });
    const minutes = await store.query({ device: "device-7", channel: "tempC", from: T0, to: T0 + 20_000, resolution: "1m" });
    expect(minutes.points).toEqual([{ t: T0, avg: 3.5, min: 3.5, max: 3.5, n: 24_000 }]);
  });

  it("refuses to start when the database cannot be opened, naming the file and the problem", async () => {
    const bad = join(dir, "not-a.db");
    writeFileSync(bad, "this is not an SQLite database, it is a text file that is long enough to have a header page.");
    const store = create({}, clock, bad);
    expect(() => store.append(batch("pv", T0, [["powerW", 1]]))).not.toThrow();
    const error = await refusal(store.start());
    expect(error.code).toBe("STORAGE_FAILED");
    expect(error.message).toContain(bad);
    expect(error.message).toMatch(/not a database/);
    expect((await refusal(query(store, T0, T0 + 1000))).code).toBe("STORAGE_FAILED");
    await expect(store.stop()).resolves.toBeUndefined();
    await expect(store.stop()).resolves.toBeUndefined();
  });

  it("catches up once on a database whose rollup ran behind a watermark", async () => {
    // The layout a timer-driven rollup left: minutes up to its watermark, raw samples past it.
    const old = openDatabase(path);
    const at = (i: number) => T0 + i * 10_000;
    const samples: Sample[] = Array.from({ length: 30 }, (_, i) => ({ t: at(i), v: wave(i) })); // 5 minutes
    old.prepare("INSERT INTO channels (id, device, channel) VALUES (1, 'pv', 'powerW')").run();
    const data = Buffer.from(Float64Array.from(samples.flatMap((s) => [s.t, s.v])).buffer);
    old.prepare("INSERT INTO raw_chunks (channel_id, t0, t1, n, data) VALUES (1, ?, ?, ?, ?)").run(T0, at(29), 30, data);
    for (const p of aggregate(samples.filter((s) => s.t < T0 + 3 * MIN), MIN)) {
      old.prepare("INSERT INTO agg_1m (channel_id, t, n, sum, min, max) VALUES (1, ?, ?, ?, ?, ?)").run(p.t, p.n, p.avg * p.n, p.min, p.max);
    }
    old.exec(`INSERT INTO rollup_state (tier, done_until) VALUES ('1m', ${T0 + 3 * MIN}), ('15m', ${T0})`);
    old.close();
    const store = await open();
    const more = await feed(store, 1, 1000); // clock is still at T0: a second sample in the first minute
    await store.flush();
    const all = [...samples, ...more];
    expect((await query(store, T0, T0 + 10 * MIN, "1m")).points).toEqual(aggregate(all, MIN));
    expect((await query(store, T0, T0 + 10 * MIN, "15m")).points).toEqual(aggregate(all, 15 * MIN));
    await store.stop();
    const again = await open(); // done once: opening again changes nothing
    expect((await query(again, T0, T0 + 10 * MIN, "15m")).points).toEqual(aggregate(all, 15 * MIN));
  });

  it("answers unknown channels and reversed ranges with no points, and refuses ranges over 400 days", async () => {
    const store = await open();
    await feed(store, 3, 1000);
    expect((await store.query({ device: "nobody", channel: "powerW", from: T0, to: T0 + 5000 })).points).toEqual([]);
    expect((await store.query({ device: "pv", channel: "nothing", from: T0, to: T0 + 5000 })).points).toEqual([]);
    expect((await query(store, T0 + 5000, T0)).points).toEqual([]);
    const error = await refusal(query(store, T0 - 401 * DAY, T0));
    expect(error.code).toBe("REQUEST_INVALID");
    expect(error.message).toMatch(/401 days; at most 400/);
  });
});
