/**
 * Keeps the hub's database from filling the disk, and its WAL from staying large after a burst.
 *
 * Every `diskCheckS` it reads the free space on the database's file system and the WAL's size:
 *
 * - WAL larger than `walCheckpointMB`: a checkpoint off the main thread (maintenance.ts) copies
 *   it back into the database and cuts the file back (db.ts sets the size it is cut to).
 * - Free space under `diskLowFreeMB`: a warning alarm for technicians, and the history tiers are
 *   trimmed to TRIM.low (raw readings 6 h, 1-minute aggregates 7 days) on every check while it
 *   lasts. Under `diskCriticalFreeMB`: a critical alarm and TRIM.critical (1 h, 1 day). SQLite
 *   does not give freed pages back to the file system, but reuses them: once trimmed, the file
 *   stops growing, and the audit log, which is never trimmed, keeps writing into the freed pages
 *   long before it could run out of room. The 15-minute tier is kept.
 * - Free space back above the low mark plus a tenth: the alarm clears.
 *
 * Scheduled backups (backup.ts) ask `currentLevel()` and are skipped while it is not "ok"; their
 * folder stays bounded by their retention (`storage.backup.keep`).
 */
import { statfs } from "node:fs/promises";
import { statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { AlarmBook } from "../core/alarms/alarms.ts";
import type { Clock, Timer } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { text } from "../core/texts/texts.ts";
import type { MaintenanceResult } from "./maintenance.ts";

const MB = 1024 * 1024;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** How much history is kept while the disk is low, and while it is nearly full. */
export const TRIM = {
  low: { rawMs: 6 * HOUR_MS, minuteMs: 7 * DAY_MS },
  critical: { rawMs: 1 * HOUR_MS, minuteMs: 1 * DAY_MS },
} as const;
export const DISK_ALARM = "storage:disk-low";

export type DiskLevel = "ok" | "low" | "critical";

export interface DiskGuardOptions {
  /** The database file. */
  path: string;
  diskLowFreeMB: number;
  diskCriticalFreeMB: number;
  walCheckpointMB: number;
  diskCheckS: number;
}

/** What runs the jobs: StorageMaintenance, off the main thread. */
export interface Maintainer {
  run(job: { type: "checkpoint" } | { type: "trim"; rawBefore: number; minuteBefore: number }): Promise<MaintenanceResult>;
  idle(): Promise<void>;
}

export interface DiskGuardContext {
  clock: Clock;
  logger: Logger;
  alarms: Pick<AlarmBook, "raise" | "clear">;
  maintenance: Maintainer;
  /** Bytes an unprivileged process may still write on the file system holding `dir` (fs.statfs by default). */
  freeBytes?: (dir: string) => Promise<number>;
}

export interface DiskCheck {
  level: DiskLevel;
  /** null if the file system could not be asked. */
  freeBytes: number | null;
  walBytesBefore: number;
  /** The job run this round, if any, and how it went. */
  job: { type: "checkpoint" | "trim"; result: MaintenanceResult } | null;
}

export class DiskGuard {
  private timer: Timer | null = null;
  private running: Promise<DiskCheck> | null = null;
  /** null until the first round, which reports whatever it finds: an alarm left from before a restart is cleared. */
  private level: DiskLevel | null = null;
  private readonly freeBytes: (dir: string) => Promise<number>;

  /** No I/O and no timers here. */
  constructor(
    private readonly ctx: DiskGuardContext,
    private readonly options: DiskGuardOptions,
  ) {
    this.freeBytes = ctx.freeBytes ?? (async (dir) => {
      const s = await statfs(dir);
      return s.bavail * s.bsize;
    });
  }

  start(): void {
    this.timer ??= this.ctx.clock.setInterval(() => void this.check(), this.options.diskCheckS * 1000);
  }

  /** The level the latest round found: null before the first round. */
  currentLevel(): DiskLevel | null {
    return this.level;
  }

  /** Stops the checks and waits for a job in progress. Safe to call twice. */
  async stop(): Promise<void> {
    this.timer?.cancel();
    this.timer = null;
    await this.running?.catch(() => undefined);
    await this.ctx.maintenance.idle();
  }

  /** One round now (the timer does one every diskCheckS); a round already running is shared. Never rejects. */
  check(): Promise<DiskCheck> {
    this.running ??= this.round().finally(() => (this.running = null));
    return this.running;
  }

  private async round(): Promise<DiskCheck> {
    const { path, walCheckpointMB } = this.options;
    let free: number | null = null;
    try {
      free = await this.freeBytes(dirname(resolve(path)));
    } catch (error) {
      this.ctx.logger.error({ err: error, path }, "cannot read the free disk space");
    }
    const level = free === null ? (this.level ?? "ok") : this.levelFor(free);
    this.report(level, free);
    const walBytesBefore = statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    let job: DiskCheck["job"] = null;
    if (level !== "ok") {
      const now = this.ctx.clock.now();
      const keep = TRIM[level];
      const result = await this.ctx.maintenance.run({ type: "trim", rawBefore: now - keep.rawMs, minuteBefore: now - keep.minuteMs });
      job = { type: "trim", result };
    } else if (walBytesBefore > walCheckpointMB * MB) {
      job = { type: "checkpoint", result: await this.ctx.maintenance.run({ type: "checkpoint" }) };
    }
    if (job?.result.error != null) this.ctx.logger.error({ job: job.type, error: job.result.error }, "storage maintenance failed");
    else if (job !== null) this.ctx.logger.info({ job: job.type, walBytesBefore, ...job.result }, "storage maintenance");
    return { level, freeBytes: free, walBytesBefore, job };
  }

  private levelFor(free: number): DiskLevel {
    const { diskLowFreeMB, diskCriticalFreeMB } = this.options;
    if (free < diskCriticalFreeMB * MB) return "critical";
    if (free < diskLowFreeMB * MB) return "low";
    // Hysteresis: a disk hovering at the mark does not raise and clear the alarm every check.
    if (this.level !== "ok" && free < diskLowFreeMB * MB * 1.1) return "low";
    return "ok";
  }

  private report(level: DiskLevel, free: number | null): void {
    const was = this.level;
    this.level = level;
    if (level === was) return;
    const freeMB = free === null ? "?" : String(Math.floor(free / MB));
    if (level === "ok") {
      this.ctx.alarms.clear(DISK_ALARM);
      this.ctx.logger.info({ freeMB }, "disk space back to normal");
      return;
    }
    const keep = TRIM[level];
    const rawH = keep.rawMs / HOUR_MS;
    const minuteD = keep.minuteMs / DAY_MS;
    const mark = level === "critical" ? this.options.diskCriticalFreeMB : this.options.diskLowFreeMB;
    this.ctx.logger.warn({ freeMB, level }, "disk space low: trimming history");
    this.ctx.alarms.raise(DISK_ALARM, level === "critical" ? "critical" : "warning", "storage", text("alarm.diskLow", { mark, free: freeMB, rawH, minuteD }));
  }
}
