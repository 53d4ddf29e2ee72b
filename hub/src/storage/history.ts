/**
 * Telemetry history, main-thread side. `append` runs for every accepted message, so it only copies
 * (hub time, value) pairs into per-channel Float64Array buffers. Every `flushMs` those buffers are
 * handed (transferred, not copied) to a worker thread (history-worker.ts) that owns its own
 * connection to the database and commits them, with their 1-minute and 15-minute aggregates, in
 * one transaction: a kill -9 loses at most about `flushMs` plus the commit in flight. All SQLite
 * work (commits and their WAL checkpoints, retention, queries) runs there, so none of it can stall
 * this thread's event loop. Tables: db.ts (migration 1); SQL: history-sql.ts.
 *
 * One hand-off is in flight at a time: while the worker is busy, samples stay here, bounded by
 * maxBufferedSamples (the oldest are dropped and counted). A worker that dies is logged, counted and
 * started again; what it had not committed is lost and counted.
 */
import { performance } from "node:perf_hooks";
import type { Clock, Timer } from "../core/clock.ts";
import { HubError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { TelemetryBatch } from "../core/types.ts";
import { pickResolution } from "./history-buckets.ts";
import {
  DAY_MS,
  HOUR_MS,
  MINUTE_MS,
  type ChannelSamples,
  type FromWorker,
  type HistoryOptions,
  type HistoryPoint,
  type HistoryQuery,
  type HistoryResult,
  type HistoryStats,
} from "./history-protocol.ts";
import { WorkerSession, type SpawnWorker } from "./history-thread.ts";

export type { HistoryOptions, HistoryPoint, HistoryQuery, HistoryResult, HistoryStats, Resolution } from "./history-protocol.ts";

export type { SpawnWorker } from "./history-thread.ts";

export interface HistoryContext {
  clock: Clock;
  logger: Logger;
  spawnWorker?: SpawnWorker;
}

const PRUNE_EVERY_MS = MINUTE_MS;
const MAX_QUERY_RANGE_MS = 400 * DAY_MS;
const DEFAULT_POINTS = 1000;
const MAX_POINTS = 10_000;
const INITIAL_FLOATS = 256;
/** A channel's next buffer is sized for the rate of its last hand-off, up to this many floats (512 KiB). */
const MAX_HINT_FLOATS = 1 << 16;
const EMPTY = new Float64Array(0);
const FAILURE_LOG_EVERY = 40;
const RESTART_FIRST_MS = 100;
const RESTART_MAX_MS = 30_000;

interface ChannelBuffer {
  readonly device: string;
  readonly channel: string;
  /** [t, v, t, v, …]; `len` floats are in use. */
  data: Float64Array<ArrayBuffer>;
  len: number;
  /** Size of the next buffer, allocated by the first append after a hand-off rather than all at once in it. */
  hint: number;
}

const nextPow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

export class HistoryStore {
  private readonly buffers = new Map<string, Map<string, ChannelBuffer>>();
  private readonly list: ChannelBuffer[] = [];
  private readonly log: Logger;
  private readonly maxBuffered: number;
  private session: WorkerSession | null = null;
  private timers: Timer[] = [];
  private restartTimer: Timer | null = null;
  private restartStreak = 0;
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  /** Started and not stopped: a worker that dies is started again. */
  private running = false;
  private nextId = 1;
  private inFlight: { samples: number; done: Promise<void> } | null = null;
  private buffered = 0;
  private workerPending = 0;
  private flushed = 0;
  private dropped = 0;
  private lost = 0;
  private flushes = 0;
  private failedFlushes = 0;
  private failStreak = 0;
  private restarts = 0;
  private lastHandOffMs: number | null = null;
  private lastFlushMs: number | null = null;
  private lastFlushAt: number | null = null;
  private dbBytes: number | null = null;

  /** `path`: the database file; the worker opens its own connection, so ":memory:" cannot work. */
  constructor(
    private readonly path: string,
    private readonly options: HistoryOptions,
    private readonly ctx: HistoryContext,
  ) {
    this.log = ctx.logger.child({ module: "history" });
    this.maxBuffered = options.maxBufferedSamples ?? 2_000_000;
  }

  /** Starts the worker and waits until it has opened and migrated the database. Rejects with HubError STORAGE_FAILED. */
  start(): Promise<void> {
    this.starting ??= this.boot();
    return this.starting;
  }

  /** Hands off what is buffered, lets the worker commit it and exit. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /** Hot path: memory only, never throws. Values were checked finite by the pipeline. */
  append(batch: TelemetryBatch): void {
    let device = this.buffers.get(batch.deviceId);
    if (device === undefined) {
      device = new Map();
      this.buffers.set(batch.deviceId, device);
    }
    const at = batch.at;
    for (const [channel, value] of batch.readings) {
      const buf = device.get(channel) ?? this.buffer(batch.deviceId, channel);
      if (buf.len + 2 > buf.data.length) {
        const next = new Float64Array(Math.max(INITIAL_FLOATS, buf.hint, buf.data.length * 2));
        next.set(buf.data.subarray(0, buf.len));
        buf.data = next;
      }
      buf.data[buf.len] = at;
      buf.data[buf.len + 1] = value;
      buf.len += 2;
    }
    this.buffered += batch.readings.length;
    if (this.buffered > this.maxBuffered) this.dropOldest();
  }

  /**
   * Hands everything buffered to the worker now (the timer does so every flushMs) and resolves once
   * it is committed or the commit failed (then the worker keeps it for the next one). Never rejects.
   */
  flush(): Promise<void> {
    const s = this.session;
    if (s !== null && !s.isReady) return s.ready.then(() => this.flush(), () => {});
    // Synchronous when nothing is in flight, so what was appended before the call goes now.
    if (this.inFlight !== null) return this.inFlight.done.then(() => this.flush());
    return this.handOff();
  }

  /** Applies retention now (the timer does so every minute). Never rejects; failures are logged. */
  async prune(): Promise<void> {
    const s = this.session;
    if (s === null || !s.isReady) return;
    const now = this.ctx.clock.now();
    const reply = await s.request({
      type: "prune",
      id: this.nextId++,
      rawBefore: now - this.options.rawRetentionH * HOUR_MS,
      minuteBefore: now - this.options.minuteRetentionD * DAY_MS,
    }).catch(() => null);
    if (reply?.type !== "pruned") return;
    if (reply.error !== null) this.log.error({ error: reply.error }, "history retention failed");
    this.dbBytes = reply.dbBytes ?? this.dbBytes;
  }

  /** Stored points merged with those still buffered here, answered by the worker. Rejects with HubError. */
  async query(q: HistoryQuery): Promise<HistoryResult> {
    const { device, channel, from, to } = q;
    if (!Number.isFinite(from) || !Number.isFinite(to)) throw new HubError("REQUEST_INVALID", "from and to must be times in ms since the epoch");
    if (to - from > MAX_QUERY_RANGE_MS) {
      throw new HubError("REQUEST_INVALID", `range to - from is ${Math.ceil((to - from) / DAY_MS)} days; at most 400 days are allowed`);
    }
    const s = this.session;
    if (s === null || !this.running) throw new HubError("STORAGE_FAILED", this.running ? "history worker is restarting; try again shortly" : "history store is not running");
    const maxPoints = q.maxPoints !== undefined && Number.isFinite(q.maxPoints) ? Math.min(MAX_POINTS, Math.max(1, Math.floor(q.maxPoints))) : DEFAULT_POINTS;
    const requested = q.resolution ?? "auto";
    const auto = requested === "auto";
    const retention = { rawMs: this.options.rawRetentionH * HOUR_MS, minuteMs: this.options.minuteRetentionD * DAY_MS };
    const resolution = requested === "auto" ? pickResolution({ from, to, maxPoints }, this.ctx.clock.now(), retention) : requested;
    // Taken now: later hand-offs reach the worker after this query, so no sample is missed or counted twice.
    const buf = this.buffers.get(device)?.get(channel);
    const buffered = buf === undefined || buf.len === 0 ? new Float64Array(0) : buf.data.slice(0, buf.len);
    const query = { device, channel, from, to, resolution, auto, maxPoints };
    const reply = await s.request({ type: "query", id: this.nextId++, query, buffered }, [buffered.buffer]);
    if (reply.type === "refused") throw new HubError(reply.code, reply.message);
    if (reply.type !== "answer") throw new HubError("STORAGE_FAILED", `history worker answered a query with "${reply.type}"`);
    const p = reply.points;
    const points: HistoryPoint[] = [];
    for (let i = 0; i + 4 < p.length; i += 5) points.push({ t: p[i] ?? 0, avg: p[i + 1] ?? 0, min: p[i + 2] ?? 0, max: p[i + 3] ?? 0, n: p[i + 4] ?? 0 });
    return { device, channel, resolution: reply.resolution, bucketMs: reply.bucketMs, from, to, points };
  }

  stats(): HistoryStats {
    const workerSamples = (this.inFlight?.samples ?? 0) + this.workerPending;
    return {
      bufferedSamples: this.buffered + workerSamples,
      workerSamples,
      flushedSamples: this.flushed,
      droppedSamples: this.dropped,
      lostSamples: this.lost,
      flushes: this.flushes,
      failedFlushes: this.failedFlushes,
      lastHandOffMs: this.lastHandOffMs,
      lastFlushMs: this.lastFlushMs,
      lastFlushAt: this.lastFlushAt,
      workerRestarts: this.restarts,
      dbBytes: this.dbBytes,
    };
  }

  private async boot(): Promise<void> {
    if (this.stopping !== null) throw new HubError("STORAGE_FAILED", "history store was stopped");
    await this.spawn().ready;
    this.running = true;
    const { clock } = this.ctx;
    this.timers = [clock.setInterval(() => void this.handOff(), this.options.flushMs), clock.setInterval(() => void this.prune(), PRUNE_EVERY_MS)];
    void this.prune();
  }

  private async shutdown(): Promise<void> {
    for (const t of this.timers) t.cancel();
    this.timers = [];
    this.restartTimer?.cancel();
    this.restartTimer = null;
    await this.starting?.catch(() => {});
    if (!this.running) return;
    this.running = false;
    let s = this.session;
    // Stopped while a dead worker waited for its restart: one more for the last flush.
    if (s === null && this.buffered > 0) s = this.spawn();
    await s?.ready.catch(() => {});
    if (s === null || !s.isReady) {
      if (this.buffered > 0) this.log.error({ lostSamples: this.buffered }, "history stopped without a worker; buffered samples are lost");
      this.lost += this.buffered;
      this.buffered = 0;
      return;
    }
    await this.flush();
    s.stop();
    const reply = await s.request({ type: "stop", id: this.nextId++ }).catch(() => null);
    if (reply?.type === "stopped" && reply.lostSamples > 0) {
      this.log.error({ lostSamples: reply.lostSamples }, "history stopped with samples it could not commit");
      this.lost += reply.lostSamples;
    }
    this.workerPending = 0;
    await s.exited;
  }

  private spawn(): WorkerSession {
    const init = { path: this.path, busyTimeoutMs: this.options.busyTimeoutMs ?? 5000, maxPendingSamples: this.maxBuffered };
    const s = new WorkerSession(
      init,
      {
        ready: (dbBytes) => void (this.dbBytes = dbBytes),
        error: (error) => this.log.error({ err: error }, "history worker failed"),
        exit: (session, code) => this.exited(session, code),
      },
      this.ctx.spawnWorker,
    );
    this.session = s;
    return s;
  }

  private exited(s: WorkerSession, code: number): void {
    if (this.session === s) this.session = null;
    if (s.stopping || !this.running) return;
    if (s.isReady) {
      this.restarts++;
      this.lost += this.workerPending;
      this.log.error({ code, problem: s.problem, lostSamples: this.workerPending, restarts: this.restarts }, "history worker died; starting it again");
      this.workerPending = 0;
    } else {
      this.log.error({ code, problem: s.problem, attempt: this.restartStreak }, "history worker could not start again");
    }
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (!this.running || this.restartTimer !== null) return;
    const delay = Math.min(RESTART_MAX_MS, RESTART_FIRST_MS * 2 ** this.restartStreak++);
    this.restartTimer = this.ctx.clock.setTimeout(() => {
      this.restartTimer = null;
      if (!this.running) return;
      let s: WorkerSession;
      try {
        s = this.spawn();
      } catch (error) {
        this.log.error({ err: error }, "history worker could not start again");
        return this.scheduleRestart();
      }
      s.ready.then(
        () => {
          this.restartStreak = 0;
          this.log.info({ restarts: this.restarts }, "history worker started again");
        },
        () => {}, // its exit schedules the next attempt
      );
    }, delay);
  }

  /** Transfers every non-empty buffer to the worker in one commit request; one at a time. */
  private handOff(): Promise<void> {
    const s = this.session;
    if (s === null || !s.isReady || this.inFlight !== null || (this.buffered === 0 && this.workerPending === 0)) return Promise.resolve();
    const started = performance.now();
    const channels: ChannelSamples[] = [];
    const transfer: ArrayBuffer[] = [];
    for (const buf of this.list) {
      if (buf.len === 0) continue;
      channels.push({ device: buf.device, channel: buf.channel, data: buf.data, start: 0, end: buf.len });
      transfer.push(buf.data.buffer);
      buf.hint = Math.min(MAX_HINT_FLOATS, nextPow2(buf.len));
      buf.data = EMPTY;
      buf.len = 0;
    }
    const samples = this.buffered;
    this.buffered = 0;
    const done = s.request({ type: "commit", id: this.nextId++, channels }, transfer).then(
      (reply) => this.committed(reply),
      () => void (this.lost += samples), // the worker died with them
    );
    this.inFlight = { samples, done: done.finally(() => (this.inFlight = null)) };
    this.lastHandOffMs = performance.now() - started;
    return this.inFlight.done;
  }

  private committed(reply: FromWorker): void {
    if (reply.type === "committed") {
      if (reply.samples > 0) {
        this.flushed += reply.samples;
        this.flushes++;
        this.lastFlushMs = reply.commitMs;
        this.lastFlushAt = this.ctx.clock.now();
      }
      this.workerPending = 0;
      this.dbBytes = reply.dbBytes ?? this.dbBytes;
      if (this.failStreak > 0) this.log.info({ failures: this.failStreak }, "history flush recovered");
      this.failStreak = 0;
    } else if (reply.type === "commitFailed") {
      this.failedFlushes++;
      this.workerPending = reply.pendingSamples;
      this.dropped += reply.droppedSamples;
      if (this.failStreak++ % FAILURE_LOG_EVERY === 0) {
        this.log.error({ error: reply.error, workerSamples: reply.pendingSamples, failures: this.failStreak }, "history flush failed; the worker keeps the samples for the next try");
      }
    }
  }

  private buffer(device: string, channel: string): ChannelBuffer {
    let byChannel = this.buffers.get(device);
    if (byChannel === undefined) {
      byChannel = new Map();
      this.buffers.set(device, byChannel);
    }
    let buf = byChannel.get(channel);
    if (buf === undefined) {
      buf = { device, channel, data: EMPTY, len: 0, hint: INITIAL_FLOATS };
      byChannel.set(channel, buf);
      this.list.push(buf);
    }
    return buf;
  }

  /** Drops the oldest part of every channel's buffer in proportion to its size, down to 90% of the bound. */
  private dropOldest(): void {
    const excess = this.buffered - Math.floor(this.maxBuffered * 0.9);
    const total = this.buffered;
    for (const buf of this.list) {
      const drop = Math.min(buf.len / 2, Math.ceil(((buf.len / 2) * excess) / total));
      if (drop === 0) continue;
      buf.data.copyWithin(0, drop * 2, buf.len);
      buf.len -= drop * 2;
      this.buffered -= drop;
      this.dropped += drop;
    }
    this.log.warn({ droppedSamples: this.dropped, bufferedSamples: this.buffered }, "history buffer full; dropped the oldest samples");
  }
}
