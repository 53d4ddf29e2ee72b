/**
 * Upkeep of the hub's SQLite file that must not run on the main thread: WAL checkpoints and
 * emergency trims of the history tiers. Each job runs in a short-lived worker thread with its own
 * connection (jobs are rare: after a burst of writes, or while the disk is nearly full), one job
 * at a time. The main thread's connection never checkpoints (db.ts): copying a large WAL back
 * into the database would stall the event loop, and with it the interlocks, for seconds.
 *
 * A checkpoint is PASSIVE first (it runs beside writers and copies what it can), then TRUNCATE
 * with a 50 ms busy timeout: TRUNCATE makes new writers wait while it is pending, so it is kept
 * short, and a checkpoint that cannot finish now is tried again at the next check.
 *
 * The worker's code is plain JavaScript handed to the Worker as a string: it needs nothing but
 * better-sqlite3, so it starts in milliseconds under tsx, vitest and compiled alike, without the
 * TypeScript bootstrap history-thread.ts needs.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { WAL_SIZE_LIMIT_BYTES } from "./db.ts";

export type MaintenanceJob =
  /** Checkpoints the WAL and cuts the file back. */
  | { type: "checkpoint" }
  /** Deletes raw chunks that end before `rawBefore` and minute rows before `minuteBefore` (ms), then checkpoints. */
  | { type: "trim"; rawBefore: number; minuteBefore: number };

export interface MaintenanceResult {
  /** The WAL file's size after the job (0 if there is none), or null if it could not be read. */
  walBytes: number | null;
  /** The TRUNCATE checkpoint could not finish (a reader or writer was busy); try again later. */
  busy: boolean;
  deletedRows: number;
  /** Why the job failed, or null. */
  error: string | null;
}

/** Rows per DELETE, so that each write transaction (and the main thread's wait for it) stays short. */
const TRIM_BATCH_ROWS = 2000;
const TRIM_BUSY_TIMEOUT_MS = 1000;
const TRUNCATE_BUSY_TIMEOUT_MS = 50;

const WORKER_CODE = `
const { parentPort, workerData } = require("node:worker_threads");
const { statSync } = require("node:fs");
const Database = require(workerData.driver);
const { path, job, batchRows, trimBusyMs, truncateBusyMs, walLimit } = workerData;
const out = { walBytes: null, busy: false, deletedRows: 0, error: null };
let db = null;
try {
  db = new Database(path, { fileMustExist: true });
  db.pragma("journal_size_limit = " + walLimit);
  if (job.type === "trim") {
    db.pragma("busy_timeout = " + trimBusyMs);
    const raw = db.prepare("DELETE FROM raw_chunks WHERE rowid IN (SELECT rowid FROM raw_chunks WHERE t1 < ? LIMIT " + batchRows + ")");
    const minute = db.prepare("DELETE FROM agg_1m WHERE (channel_id, t) IN (SELECT channel_id, t FROM agg_1m WHERE t < ? LIMIT " + batchRows + ")");
    for (const [stmt, before] of [[raw, job.rawBefore], [minute, job.minuteBefore]]) {
      for (;;) {
        const n = stmt.run(before).changes;
        out.deletedRows += n;
        if (n < batchRows) break;
      }
    }
  }
  db.pragma("busy_timeout = 0");
  db.pragma("wal_checkpoint(PASSIVE)");
  db.pragma("busy_timeout = " + truncateBusyMs);
  const [r] = db.pragma("wal_checkpoint(TRUNCATE)");
  out.busy = r !== undefined && r.busy !== 0;
} catch (error) {
  out.error = error instanceof Error ? error.message : String(error);
} finally {
  if (db !== null) db.close();
}
try {
  out.walBytes = statSync(path + "-wal", { throwIfNoEntry: false })?.size ?? 0;
} catch {
  out.walBytes = null;
}
parentPort.postMessage(out);
`;

export class StorageMaintenance {
  private tail: Promise<unknown> = Promise.resolve();
  private readonly driver: string;

  /** `path`: the hub's database file. No I/O here: a worker starts per job. */
  constructor(private readonly path: string) {
    this.driver = createRequire(import.meta.url).resolve("better-sqlite3");
  }

  /** Runs one job after those before it. Never rejects: a failure is in `error`. */
  run(job: MaintenanceJob): Promise<MaintenanceResult> {
    const next = this.tail.then(() => this.spawn(job));
    this.tail = next;
    return next;
  }

  /** Resolves once the jobs already asked for are done. */
  async idle(): Promise<void> {
    await this.tail;
  }

  private spawn(job: MaintenanceJob): Promise<MaintenanceResult> {
    return new Promise<MaintenanceResult>((resolve) => {
      let result: MaintenanceResult | null = null;
      let worker: Worker;
      try {
        worker = new Worker(WORKER_CODE, {
          eval: true,
          name: "storage-maintenance",
          workerData: {
            path: this.path,
            job,
            driver: this.driver,
            batchRows: TRIM_BATCH_ROWS,
            trimBusyMs: TRIM_BUSY_TIMEOUT_MS,
            truncateBusyMs: TRUNCATE_BUSY_TIMEOUT_MS,
            walLimit: WAL_SIZE_LIMIT_BYTES,
          },
        });
      } catch (error) {
        resolve({ walBytes: null, busy: false, deletedRows: 0, error: `cannot start the maintenance worker: ${(error as Error).message}` });
        return;
      }
      worker.on("message", (m: MaintenanceResult) => (result = m));
      worker.on("error", (error) => (result ??= { walBytes: null, busy: false, deletedRows: 0, error: error.message }));
      worker.on("exit", (code) => resolve(result ?? { walBytes: null, busy: false, deletedRows: 0, error: `maintenance worker exited with code ${code}` }));
    });
  }
}
