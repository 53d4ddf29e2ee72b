/**
 * The history's tables as the worker uses them (they live in db.ts, migration 1): one connection,
 * commits of raw chunks together with the upserted 1-minute and 15-minute aggregates of the same
 * samples, retention, and queries. Synchronous and blocking: only history-worker.ts runs it.
 */
import { statSync } from "node:fs";
import { HubError } from "../core/errors.ts";
import { openDatabase, type Database } from "./db.ts";
import { foldTiers, LooseBuckets, PointSink, stepDown } from "./history-buckets.ts";
import { floorTo, MINUTE_MS, QUARTER_MS, type ChannelSamples, type Resolution, type StoredQuery, type WorkerInit } from "./history-protocol.ts";

/** No raw chunk spans more than this, so every time-range scan can bound t1 on both sides. */
const MAX_CHUNK_SPAN_MS = MINUTE_MS;
const PRUNE_BATCH_ROWS = 5000;
const PRUNE_MAX_BATCHES = 40;
/** An explicit raw query reads at most this many stored samples. */
const MAX_RAW_SCAN = 5_000_000;
/** `auto` steps down to an aggregate tier rather than read more raw samples than this. */
const AUTO_RAW_SCAN = 1_000_000;
/**
 * rollup_state row present once both tiers are kept by every commit. Before, a timer rolled raw
 * data up behind the '1m' and '15m' watermarks; opening such a database catches up once.
 */
const AT_COMMIT = "at-commit";

export interface QueryAnswer { resolution: Resolution; bucketMs: number | null; points: Float64Array<ArrayBuffer> }

/** Samples not in the database that a query must still show: [t, v, …] in data[start..end). */
export interface LooseSamples { data: Float64Array; start: number; end: number }

interface ChunkRow { channel_id: number; n: number; data: Buffer }
interface AggRow { t: number; n: number; sum: number; min: number; max: number }

/** The float64 pairs of a chunk; copies only if SQLite's buffer is not 8-byte aligned. */
function decode(blob: Buffer, n: number): Float64Array {
  if (blob.byteOffset % 8 === 0) return new Float64Array(blob.buffer, blob.byteOffset, n * 2);
  const out = new Float64Array(n * 2);
  new Uint8Array(out.buffer).set(blob.subarray(0, n * 16));
  return out;
}

// SQLite's scalar min()/max() with two arguments; the bare names are the row's columns.
const upsert = (table: string): string =>
  `INSERT INTO ${table} (channel_id, t, n, sum, min, max) VALUES (?, ?, ?, ?, ?, ?)
   ON CONFLICT (channel_id, t) DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum, min = min(min, excluded.min), max = max(max, excluded.max)`;

function prepare(db: Database) {
  type Agg = [number, number, number, number, number, number];
  const agg = (table: string) =>
    db.prepare<[number, number, number], AggRow>(`SELECT t, n, sum, min, max FROM ${table} WHERE channel_id = ? AND t > ? AND t <= ? ORDER BY t`);
  return {
    channels: db.prepare<[], { id: number; device: string; channel: string }>("SELECT id, device, channel FROM channels"),
    addChannel: db.prepare<[string, string]>("INSERT OR IGNORE INTO channels (device, channel) VALUES (?, ?)"),
    channelId: db.prepare<[string, string], { id: number }>("SELECT id FROM channels WHERE device = ? AND channel = ?"),
    addChunk: db.prepare<[number, number, number, number, Buffer]>("INSERT INTO raw_chunks (channel_id, t0, t1, n, data) VALUES (?, ?, ?, ?, ?)"),
    chunksOf: db.prepare<[number, number, number, number], ChunkRow>(
      "SELECT channel_id, n, data FROM raw_chunks WHERE channel_id = ? AND t1 >= ? AND t1 <= ? AND t0 <= ?",
    ),
    countOf: db.prepare<[number, number, number, number], { n: number }>(
      "SELECT COALESCE(SUM(n), 0) AS n FROM raw_chunks WHERE channel_id = ? AND t1 >= ? AND t1 <= ? AND t0 <= ?",
    ),
    up1m: db.prepare<Agg>(upsert("agg_1m")),
    up15m: db.prepare<Agg>(upsert("agg_15m")),
    pruneRaw: db.prepare<[number]>(`DELETE FROM raw_chunks WHERE rowid IN (SELECT rowid FROM raw_chunks WHERE t1 < ? LIMIT ${PRUNE_BATCH_ROWS})`),
    // Through the primary key channel by channel: a bare `t < ?` would scan the whole table.
    prune1m: db.prepare<[number]>("DELETE FROM agg_1m WHERE channel_id IN (SELECT id FROM channels) AND t < ?"),
    agg1m: agg("agg_1m"),
    agg15m: agg("agg_15m"),
  };
}
type Statements = ReturnType<typeof prepare>;

export class HistoryDb {
  private readonly st: Statements;
  /** Channel ids known to be committed, by device then channel. */
  private readonly ids = new Map<string, Map<string, number>>();

  private constructor(
    private readonly db: Database,
    private readonly path: string,
  ) {
    this.st = prepare(db);
    for (const row of this.st.channels.all()) this.remember(row.device, row.channel, row.id);
    this.catchUp();
  }

  /** Opens and migrates the file (db.ts) and prepares the history's statements. Throws HubError STORAGE_FAILED. */
  static open(init: WorkerInit): HistoryDb {
    const db = openDatabase(init.path);
    try {
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(init.busyTimeoutMs))}`);
      return new HistoryDb(db, init.path);
    } catch (error) {
      db.close();
      throw new HubError("STORAGE_FAILED", `history: cannot prepare its tables in ${init.path}: ${(error as Error).message}`);
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /**
   * Everything in `batches` in one transaction: a raw chunk row per channel (split only if a
   * backlog spans more than MAX_CHUNK_SPAN_MS) and the upserted minute and quarter aggregates of
   * the same samples, so the tiers are exactly as durable as the raw data and include the current
   * minute. Throws on failure, having changed nothing. Returns the samples committed.
   */
  commit(batches: ReadonlyArray<readonly ChannelSamples[]>): number {
    const st = this.st;
    const fresh: Array<[string, string, number]> = [];
    let samples = 0;
    // IMMEDIATE: take the write lock (waiting busy_timeout for it) before reading anything.
    this.db.transaction(() => {
      for (const batch of batches) {
        for (const ch of batch) {
          if (ch.end <= ch.start) continue;
          let id = this.idOf(ch.device, ch.channel);
          if (id === undefined) {
            st.addChannel.run(ch.device, ch.channel);
            id = st.channelId.get(ch.device, ch.channel)?.id;
            if (id === undefined) throw new Error(`channel ${ch.device}/${ch.channel} was not stored`);
            fresh.push([ch.device, ch.channel, id]);
          }
          const channelId = id;
          this.writeChunks(channelId, ch.data, ch.start, ch.end);
          foldTiers(
            ch.data,
            ch.start,
            ch.end,
            (t, n, sum, min, max) => st.up1m.run(channelId, t, n, sum, min, max),
            (t, n, sum, min, max) => st.up15m.run(channelId, t, n, sum, min, max),
          );
          samples += (ch.end - ch.start) / 2;
        }
      }
    }).immediate();
    // Ids are only trusted once their transaction committed.
    for (const [device, channel, id] of fresh) this.remember(device, channel, id);
    return samples;
  }

  /** Raw chunks before `rawBefore` (their aggregates are kept) and minute rows before `minuteBefore`. */
  prune(rawBefore: number, minuteBefore: number): void {
    // Small batches keep each delete short; what is left goes next time.
    for (let i = 0; i < PRUNE_MAX_BATCHES; i++) if (this.st.pruneRaw.run(rawBefore).changes < PRUNE_BATCH_ROWS) break;
    this.st.prune1m.run(minuteBefore);
  }

  /** Stored points merged with `loose` samples, folded to fit maxPoints. Throws HubError REQUEST_INVALID. */
  query(q: StoredQuery, loose: readonly LooseSamples[]): QueryAnswer {
    const { from, to, maxPoints } = q;
    const id = this.idOf(q.device, q.channel);
    let resolution = q.resolution;
    const sink = new PointSink(from, to, maxPoints);
    if (from > to) return { resolution, bucketMs: null, points: new Float64Array(0) };
    if (resolution === "raw") {
      const stored = id === undefined ? 0 : (this.st.countOf.get(id, from, to + MAX_CHUNK_SPAN_MS, to)?.n ?? 0);
      if (q.auto && stored > AUTO_RAW_SCAN) resolution = stepDown(q);
      else if (stored > MAX_RAW_SCAN) {
        throw new HubError("REQUEST_INVALID", `${stored} raw samples in range, at most ${MAX_RAW_SCAN} per query: narrow the range or ask for 1m or 15m`);
      }
    }
    if (resolution === "raw") {
      if (id !== undefined) {
        for (const row of this.st.chunksOf.iterate(id, from, to + MAX_CHUNK_SPAN_MS, to)) sink.addSamples(decode(row.data, row.n), 0, row.n * 2);
      }
      for (const s of loose) sink.addSamples(s.data, s.start, s.end);
    } else {
      const [stmt, tierMs] = resolution === "1m" ? [this.st.agg1m, MINUTE_MS] : [this.st.agg15m, QUARTER_MS];
      const pending = new LooseBuckets(tierMs, from - tierMs, to);
      for (const s of loose) pending.addSamples(s.data, s.start, s.end);
      if (id !== undefined) for (const r of stmt.iterate(id, from - tierMs, to)) pending.merge(r.t, r.n, r.sum, r.min, r.max, sink.add);
      pending.rest(sink.add);
    }
    return { resolution, bucketMs: sink.bucketMs, points: sink.packed() };
  }

  /** Database file plus WAL; null if they cannot be read. */
  dbBytes(): number | null {
    try {
      const pages = this.db.pragma("page_count", { simple: true });
      const size = this.db.pragma("page_size", { simple: true });
      if (typeof pages !== "number" || typeof size !== "number") return null;
      return pages * size + (statSync(`${this.path}-wal`, { throwIfNoEntry: false })?.size ?? 0);
    } catch {
      return null;
    }
  }

  private idOf(device: string, channel: string): number | undefined {
    return this.ids.get(device)?.get(channel);
  }

  private remember(device: string, channel: string, id: number): void {
    let byChannel = this.ids.get(device);
    if (byChannel === undefined) this.ids.set(device, (byChannel = new Map<string, number>()));
    byChannel.set(channel, id);
  }

  private writeChunks(id: number, d: Float64Array, from: number, to: number): void {
    const write = (start: number, end: number, t0: number, t1: number): void => {
      // A view, no copy: SQLite copies the bytes when it binds them.
      this.st.addChunk.run(id, t0, t1, (end - start) / 2, Buffer.from(d.buffer, d.byteOffset + start * 8, (end - start) * 8));
    };
    let start = from;
    let t0 = d[from] ?? 0;
    let t1 = t0;
    for (let i = from + 2; i < to; i += 2) {
      const t = d[i] ?? 0;
      const lo = Math.min(t0, t);
      const hi = Math.max(t1, t);
      if (hi - lo > MAX_CHUNK_SPAN_MS) {
        write(start, i, t0, t1);
        start = i;
        t0 = t1 = t;
      } else {
        t0 = lo;
        t1 = hi;
      }
    }
    write(start, to, t0, t1);
  }

  /**
   * Once per database written while a timer rolled raw data up behind the watermarks in
   * rollup_state: folds the raw samples past the '1m' watermark into agg_1m, rebuilds agg_15m from
   * agg_1m past the '15m' one, and records that commits keep both tiers from now on. One
   * transaction, so a crash leaves either the old layout or the new one.
   */
  private catchUp(): void {
    const db = this.db;
    const marks = (): Map<string, number> =>
      new Map(db.prepare<[], { tier: string; done_until: number }>("SELECT tier, done_until FROM rollup_state").all().map((r) => [r.tier, r.done_until]));
    if (marks().has(AT_COMMIT)) return;
    db.transaction(() => {
      const m = marks(); // again inside the write lock: another connection may have done it
      if (m.has(AT_COMMIT)) return;
      const done1m = m.get("1m") ?? -Number.MAX_VALUE;
      const done15m = m.get("15m") ?? -Number.MAX_VALUE;
      const rows = db.prepare<[number], ChunkRow>("SELECT channel_id, n, data FROM raw_chunks WHERE t1 >= ?").all(done1m);
      for (const row of rows) {
        const d = decode(row.data, row.n);
        const keep: number[] = [];
        for (let i = 0; i < d.length; i += 2) if ((d[i] ?? 0) >= done1m) keep.push(d[i] ?? 0, d[i + 1] ?? 0);
        foldTiers(Float64Array.from(keep), 0, keep.length, (t, n, sum, min, max) => this.st.up1m.run(row.channel_id, t, n, sum, min, max), () => {});
      }
      db.prepare<[number]>(
        `INSERT OR REPLACE INTO agg_15m (channel_id, t, n, sum, min, max)
         SELECT channel_id, (t / ${QUARTER_MS}) * ${QUARTER_MS}, SUM(n), SUM(sum), MIN(min), MAX(max) FROM agg_1m
         WHERE channel_id IN (SELECT id FROM channels) AND t >= ? GROUP BY channel_id, t / ${QUARTER_MS}`,
      ).run(floorTo(done15m, QUARTER_MS));
      db.exec("DELETE FROM rollup_state");
      db.prepare("INSERT INTO rollup_state (tier, done_until) VALUES (?, 0)").run(AT_COMMIT);
    }).immediate();
  }
}
