/**
 * What the main thread's HistoryStore and its worker (history-worker.ts) share: the public types of
 * the history, and the messages between the two threads as one discriminated union each way.
 */
import type { HubErrorCode } from "../core/errors.ts";

export type Resolution = "raw" | "1m" | "15m";

export interface HistoryOptions {
  flushMs: number;
  rawRetentionH: number;
  minuteRetentionD: number;
  /**
   * Samples kept in memory while the worker cannot take them; beyond it the oldest are dropped.
   * The bound holds on each side: the main thread's buffers (worker busy or restarting) and the
   * worker's samples kept after failed commits. Default 2,000,000.
   */
  maxBufferedSamples?: number;
  /** How long a commit waits for another connection's write lock before it fails and retries. Default 5000. */
  busyTimeoutMs?: number;
}

/** from and to are hub times in ms, both inclusive. maxPoints: default 1000, at most 10,000. */
export interface HistoryQuery { device: string; channel: string; from: number; to: number; resolution?: Resolution | "auto"; maxPoints?: number }

/** Raw samples have avg = min = max = the value and n = 1. */
export interface HistoryPoint { t: number; avg: number; min: number; max: number; n: number }

export interface HistoryResult {
  device: string;
  channel: string;
  resolution: Resolution;
  /** Width of the buckets the points were folded into to fit maxPoints; null: the tier's own points. */
  bucketMs: number | null;
  from: number;
  to: number;
  points: HistoryPoint[];
}

export interface HistoryStats {
  /** Appended and not yet committed, wherever they wait: main-thread buffers, in flight, kept by the worker. */
  bufferedSamples: number;
  /** Of bufferedSamples, those already handed to the worker. */
  workerSamples: number;
  flushedSamples: number;
  /** Dropped to keep memory bounded while the database could not keep up. */
  droppedSamples: number;
  /** Handed to a worker that died or could not commit them before it stopped. */
  lostSamples: number;
  flushes: number;
  failedFlushes: number;
  /** Main-thread time of the last hand-off to the worker. */
  lastHandOffMs: number | null;
  /** Worker time of the last successful commit (raw chunks and both aggregate tiers). */
  lastFlushMs: number | null;
  lastFlushAt: number | null;
  workerRestarts: number;
  /** Database file plus WAL as the worker last saw them; null before it reported. */
  dbBytes: number | null;
}

export const MINUTE_MS = 60_000;
export const QUARTER_MS = 15 * MINUTE_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

export const floorTo = (t: number, ms: number): number => Math.floor(t / ms) * ms;

/** One channel's samples: `data[start..end)` holds float pairs [t, v, t, v, …]; t is hub time in ms. */
export interface ChannelSamples {
  readonly device: string;
  readonly channel: string;
  data: Float64Array;
  start: number;
  end: number;
}

/** Handed to the worker as workerData. */
export interface WorkerInit {
  path: string;
  busyTimeoutMs: number;
  maxPendingSamples: number;
}

/** A query as the worker runs it: the tier is chosen, maxPoints bounded. */
export interface StoredQuery {
  device: string;
  channel: string;
  from: number;
  to: number;
  resolution: Resolution;
  /** The tier came from `auto`: the worker may step down from raw when the range holds too many samples. */
  auto: boolean;
  maxPoints: number;
}

/** Every request but `stop` gets exactly one reply with its id, in the order sent. */
export type ToWorker =
  /** Commits `channels` (and whatever earlier commits left behind) in one transaction; the buffers are transferred. */
  | { type: "commit"; id: number; channels: ChannelSamples[] }
  | { type: "prune"; id: number; rawBefore: number; minuteBefore: number }
  /** `buffered`: the main thread's not yet handed off samples of that channel, [t, v, …], transferred. */
  | { type: "query"; id: number; query: StoredQuery; buffered: Float64Array }
  | { type: "stop"; id: number };

export type FromWorker =
  | { type: "ready"; dbBytes: number | null }
  /** The database could not be opened or migrated; the worker exits. */
  | { type: "failed"; message: string }
  /** `samples`: committed by this transaction, including any kept from failed commits before. */
  | { type: "committed"; id: number; samples: number; commitMs: number; dbBytes: number | null }
  /** The worker keeps `pendingSamples` for the next commit; `droppedSamples` were dropped now to stay in bound. */
  | { type: "commitFailed"; id: number; error: string; pendingSamples: number; droppedSamples: number }
  | { type: "pruned"; id: number; error: string | null; dbBytes: number | null }
  /** points: [t, avg, min, max, n] per point, transferred. */
  | { type: "answer"; id: number; resolution: Resolution; bucketMs: number | null; points: Float64Array }
  | { type: "refused"; id: number; code: HubErrorCode; message: string }
  /** Final reply to `stop`; `lostSamples` could not be committed. The worker exits after it. */
  | { type: "stopped"; id: number; lostSamples: number };
