/**
 * Online backups of the hub's database, and the checks a restore needs.
 *
 * A backup is `VACUUM INTO` run in a short-lived worker thread with its own connection (as
 * maintenance.ts runs its jobs), never on the main thread, so the safety loop never waits for it.
 * Why VACUUM INTO and not better-sqlite3's `db.backup()` (the sqlite3_backup API):
 *
 * - It reads the database in ONE read transaction: in WAL mode that is a consistent snapshot
 *   while the history worker and the main thread go on committing. The backup API copies a few
 *   pages per step and starts again from the first page whenever another connection writes in
 *   between; under a steady telemetry load (a commit every `flushMs`) a large file may never
 *   finish, unless it copies everything in one step, which is then no better.
 * - The copy is compact (pages freed by trims and retention are left out) and a plain
 *   rollback-journal file, one self-contained file with no -wal beside it.
 * - It keeps rowids (SQLite copies the tables' b-trees record by record), so a restored database
 *   is the source, row for row, as it was at that moment.
 *
 * The price: while it runs, the WAL cannot be checkpointed past the snapshot, so it grows for
 * the length of the backup (the disk guard's next checkpoint cuts it back), and it costs more
 * CPU than a page copy; both on a worker thread, at the rate of one backup a day.
 *
 * The copy is written to `<dest>.partial`, checked with `PRAGMA integrity_check`, fsynced and
 * only then renamed to `<dest>`: a file with the final name is a whole, checked backup.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { statfs } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { Worker } from "node:worker_threads";
import BetterSqlite3 from "better-sqlite3";
import type { AlarmBook } from "../core/alarms/alarms.ts";
import type { AuditLog } from "../core/audit.ts";
import type { Clock, Timer } from "../core/clock.ts";
import { HubError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { text } from "../core/texts/texts.ts";
import type { Database } from "./db.ts";
import type { DiskLevel } from "./disk-guard.ts";

const MB = 1024 * 1024;
const HOUR_MS = 3_600_000;
/** How long the backup's read waits for a writer's lock (only a WAL recovery takes one). */
const BACKUP_BUSY_TIMEOUT_MS = 5000;
/** Lines of integrity_check output kept in an error. */
const PROBLEMS_SHOWN = 5;

export const BACKUP_FAILED_ALARM = "storage:backup-failed";
export const BACKUP_SKIPPED_ALARM = "storage:backup-skipped";

export interface BackupInfo {
  /** The finished backup file. */
  path: string;
  bytes: number;
  /** The backup's schema version (null: no schema_version table, not a TEC Hub database). */
  schemaVersion: number | null;
  /** Rows in its audit log (null: it has none). */
  auditRows: number | null;
  tookMs: number;
}

interface WorkerAnswer {
  ok: boolean;
  error: string | null;
  schemaVersion: number | null;
  auditRows: number | null;
}

const WORKER_CODE = `
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const Database = require(workerData.driver);
const { source, partial, busyMs, problemsShown } = workerData;
const out = { ok: false, error: null, schemaVersion: null, auditRows: null };
let src = null;
let copy = null;
try {
  fs.rmSync(partial, { force: true });
  // Read-write, so that the last connection to close (no hub running) folds the WAL back and removes
  // the side files; read-only where the file cannot be written (a backup on a read-only medium).
  try { src = new Database(source, { fileMustExist: true }); } catch (error) {
    if (error && error.code === "SQLITE_CANTOPEN" && fs.existsSync(source)) src = new Database(source, { readonly: true });
    else throw error;
  }
  src.pragma("busy_timeout = " + busyMs);
  src.prepare("VACUUM INTO ?").run(partial);
  src.close();
  src = null;
  copy = new Database(partial, { fileMustExist: true });
  const problems = copy.pragma("integrity_check").map((r) => r.integrity_check);
  if (problems.length !== 1 || problems[0] !== "ok") {
    throw new Error("the copy fails its integrity check: " + problems.slice(0, problemsShown).join("; "));
  }
  const has = (name) => copy.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
  if (has("schema_version")) out.schemaVersion = copy.prepare("SELECT MAX(version) AS v FROM schema_version").get().v;
  if (has("audit")) out.auditRows = copy.prepare("SELECT COUNT(*) AS n FROM audit").get().n;
  copy.close();
  copy = null;
  const fd = fs.openSync(partial, "r+");
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
  out.ok = true;
} catch (error) {
  out.error = error instanceof Error ? error.message : String(error);
} finally {
  if (src !== null) src.close();
  if (copy !== null) copy.close();
}
if (!out.ok) { try { fs.rmSync(partial, { force: true }); } catch {} }
parentPort.postMessage(out);
`;

const driver = (): string => createRequire(import.meta.url).resolve("better-sqlite3");

/**
 * Copies the database at `source` (live or not) to `dest`. Rejects with HubError STORAGE_FAILED,
 * leaving no file at `dest` (and no `.partial`). `overwrite`: replace an existing `dest`;
 * without it an existing `dest` is refused.
 */
export async function backupDatabase(source: string, dest: string, options: { overwrite?: boolean } = {}): Promise<BackupInfo> {
  const started = performance.now();
  const target = resolve(dest);
  if (resolve(source) === target) throw new HubError("STORAGE_FAILED", `the backup ${dest} would overwrite the database itself`);
  if (!existsSync(source)) throw new HubError("STORAGE_FAILED", `there is no database at ${source}`);
  if (options.overwrite !== true && existsSync(target)) throw new HubError("STORAGE_FAILED", `${dest} exists already`);
  try {
    mkdirSync(dirname(target), { recursive: true });
  } catch (error) {
    throw new HubError("STORAGE_FAILED", `cannot make the folder for ${dest}: ${(error as Error).message}`);
  }
  const partial = `${target}.partial`;
  const answer = await new Promise<WorkerAnswer>((done) => {
    const failed = (error: string): WorkerAnswer => ({ ok: false, error, schemaVersion: null, auditRows: null });
    let result: WorkerAnswer | null = null;
    let worker: Worker;
    try {
      worker = new Worker(WORKER_CODE, {
        eval: true,
        name: "storage-backup",
        workerData: { source: resolve(source), partial, driver: driver(), busyMs: BACKUP_BUSY_TIMEOUT_MS, problemsShown: PROBLEMS_SHOWN },
      });
    } catch (error) {
      done(failed(`cannot start the backup worker: ${(error as Error).message}`));
      return;
    }
    worker.on("message", (m: WorkerAnswer) => (result = m));
    worker.on("error", (error) => (result ??= failed(error.message)));
    worker.on("exit", (code) => done(result ?? failed(`the backup worker exited with code ${code}`)));
  });
  if (!answer.ok) {
    rmSync(partial, { force: true });
    throw new HubError("STORAGE_FAILED", `backup of ${source} to ${dest} failed: ${answer.error ?? "unknown error"}`);
  }
  try {
    if (options.overwrite !== true && existsSync(target)) throw new Error(`${dest} appeared while the backup ran`);
    renameSync(partial, target);
    syncFolder(dirname(target));
  } catch (error) {
    rmSync(partial, { force: true });
    throw new HubError("STORAGE_FAILED", `backup of ${source} to ${dest} failed: ${(error as Error).message}`);
  }
  return { path: target, bytes: statSync(target).size, schemaVersion: answer.schemaVersion, auditRows: answer.auditRows, tookMs: Math.round(performance.now() - started) };
}

/** The rename itself survives a power loss once the folder is synced (a no-op where folders cannot be opened). */
function syncFolder(folder: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(folder, "r");
    fsyncSync(fd);
  } catch {
    // Windows cannot fsync a folder; the rename is still atomic.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

export interface AuditCheck {
  ok: boolean;
  rows: number;
  /** What is wrong, in English, for a technician; empty when ok. */
  problems: string[];
}

const AUDIT_TRIGGERS = ["audit_no_update", "audit_no_delete", "audit_no_replace"];

/**
 * The audit log's integrity as far as the database can show it (it has no hash chain): the
 * append-only triggers of migration 3 are all there, and its sequence numbers run 1, 2, 3, …
 * without a gap up to the highest one ever handed out (sqlite_sequence), so no row was removed,
 * not even the newest. Only an edit of the file outside SQLite's rules could pass this unseen.
 */
export function checkAuditLog(db: Database): AuditCheck {
  const problems: string[] = [];
  const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit'").get();
  if (table === undefined) return { ok: false, rows: 0, problems: ["there is no audit table"] };
  const triggers = new Set(db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'").pluck().all());
  for (const t of AUDIT_TRIGGERS) if (!triggers.has(t)) problems.push(`the trigger ${t} that keeps the audit log append-only is missing`);
  const s = db.prepare<[], { n: number; lo: number | null; hi: number | null }>("SELECT COUNT(*) AS n, MIN(seq) AS lo, MAX(seq) AS hi FROM audit").get() ?? { n: 0, lo: null, hi: null };
  const handedOut = (db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").get()?.seq ?? 0);
  if (s.n > 0 && (s.lo !== 1 || s.hi !== s.n)) problems.push(`audit rows are missing: ${s.n} rows with seq ${s.lo ?? "?"}..${s.hi ?? "?"}`);
  if (handedOut > (s.hi ?? 0)) problems.push(`the newest audit rows are missing: seq ${(s.hi ?? 0) + 1}..${handedOut} were handed out`);
  return { ok: problems.length === 0, rows: s.n, problems };
}

export interface DatabaseInspection {
  /** integrity_check's first lines; ["ok"] when whole. */
  integrity: string[];
  /** null: no schema_version table. */
  schemaVersion: number | null;
  audit: AuditCheck | null;
}

/**
 * Reads a database file without changing it (read-only; a file that is not SQLite throws HubError
 * STORAGE_FAILED): whether it is whole, its schema version, its audit log's state.
 */
export function inspectDatabase(path: string): DatabaseInspection {
  let db: Database;
  try {
    db = new BetterSqlite3(path, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw new HubError("STORAGE_FAILED", `cannot open ${path}: ${(error as Error).message}`);
  }
  try {
    const integrity = db.pragma("integrity_check", { simple: false }) as Array<{ integrity_check: string }>;
    const has = (name: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
    const schemaVersion = has("schema_version") ? (db.prepare<[], { v: number | null }>("SELECT MAX(version) AS v FROM schema_version").get()?.v ?? 0) : null;
    return { integrity: integrity.slice(0, PROBLEMS_SHOWN).map((r) => r.integrity_check), schemaVersion, audit: has("audit") ? checkAuditLog(db) : null };
  } catch (error) {
    throw new HubError("STORAGE_FAILED", `${path} is not a readable SQLite database: ${(error as Error).message}`);
  } finally {
    db.close();
  }
}

/** `tec-hub-2026-12-02T0300Z.db`: UTC, to the minute; sorts by time. */
export function backupFileName(at: number, n = 0): string {
  const iso = new Date(at).toISOString(); // 2026-12-02T03:00:12.345Z
  return `tec-hub-${iso.slice(0, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}Z${n > 0 ? `-${n}` : ""}.db`;
}

const NAME = /^tec-hub-(\d{4}-\d{2}-\d{2}T\d{4}Z)(?:-(\d+))?\.db$/;

/** The scheduled backups in `folder`, newest first (other files are never touched). */
export function listBackups(folder: string): string[] {
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch {
    return [];
  }
  return names
    .flatMap((name) => {
      const m = NAME.exec(name);
      return m === null ? [] : [{ name, key: m[1] ?? "", n: Number(m[2] ?? 0) }];
    })
    .sort((a, b) => (a.key === b.key ? b.n - a.n : a.key < b.key ? 1 : -1))
    .map((b) => b.name);
}

export type BackupOutcome =
  | { kind: "ok"; info: BackupInfo; removed: string[] }
  | { kind: "skipped"; reason: string }
  | { kind: "failed"; reason: string };

export interface BackupSchedulerOptions {
  enabled: boolean;
  /** The database file. */
  path: string;
  /** Where the backups go (config/paths.ts `backupFolder`). */
  folder: string;
  everyH: number;
  keep: number;
  /**
   * The disk guard's low mark (storage.diskLowFreeMB): a backup that would leave less free space
   * than this on its folder's file system is skipped, so a backup never starts a history trim.
   */
  minFreeMB: number;
}

export interface BackupSchedulerContext {
  clock: Clock;
  logger: Logger;
  alarms: Pick<AlarmBook, "raise" | "clear">;
  audit: Pick<AuditLog, "append">;
  /** The disk guard's latest level for the database's disk (null: not known yet). A backup is skipped unless "ok". */
  diskLevel?: () => DiskLevel | null;
  /** Bytes an unprivileged process may still write on the file system holding `dir` (fs.statfs by default). */
  freeBytes?: (dir: string) => Promise<number>;
  /** The copy itself: `backupDatabase` by default. */
  backup?: (source: string, dest: string) => Promise<BackupInfo>;
}

const HUB_ACTOR = { name: "hub", role: "system" as const };

/**
 * A backup every `everyH` hours (the first one `everyH` after the start) into `folder`, the
 * newest `keep` kept. A failure raises a warning alarm for technicians with the reason, cleared
 * by the next success; low disk space skips a backup with a warning alarm of its own. Each
 * backup, failed or skipped one is an audit entry `storage.backup`. Never throws into the hub.
 */
export class BackupScheduler {
  private timer: Timer | null = null;
  private running: Promise<BackupOutcome> | null = null;
  private readonly freeBytes: (dir: string) => Promise<number>;
  private readonly backup: (source: string, dest: string) => Promise<BackupInfo>;

  /** No I/O and no timers here. */
  constructor(
    private readonly ctx: BackupSchedulerContext,
    private readonly options: BackupSchedulerOptions,
  ) {
    this.freeBytes = ctx.freeBytes ?? (async (dir) => {
      const s = await statfs(dir);
      return s.bavail * s.bsize;
    });
    this.backup = ctx.backup ?? ((source, dest) => backupDatabase(source, dest));
  }

  start(): void {
    if (!this.options.enabled || this.timer !== null) return;
    this.timer = this.ctx.clock.setInterval(() => void this.runNow(), this.options.everyH * HOUR_MS);
  }

  /** Stops the schedule and waits for a backup in progress (it runs on its own thread). Safe to call twice. */
  async stop(): Promise<void> {
    this.timer?.cancel();
    this.timer = null;
    await this.running;
  }

  /** One backup now; one already running is shared. Never rejects. */
  runNow(): Promise<BackupOutcome> {
    this.running ??= this.round()
      .catch((error: unknown): BackupOutcome => ({ kind: "failed", reason: error instanceof Error ? error.message : String(error) }))
      .finally(() => (this.running = null));
    return this.running;
  }

  private async round(): Promise<BackupOutcome> {
    const { folder, path } = this.options;
    const at = this.ctx.clock.now();
    const skip = await this.skipReason();
    if (skip !== null) {
      this.ctx.logger.warn({ folder, ...skip.details }, "backup skipped: low disk space");
      this.ctx.alarms.raise(BACKUP_SKIPPED_ALARM, "warning", "storage", skip.text);
      this.note(at, folder, "refused", skip.reason, skip.details);
      return { kind: "skipped", reason: skip.reason };
    }
    let info: BackupInfo;
    try {
      mkdirSync(folder, { recursive: true });
      removePartials(folder);
      info = await this.backup(path, join(folder, freeName(folder, at)));
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      this.ctx.logger.error({ folder, reason }, "backup failed");
      this.ctx.alarms.raise(BACKUP_FAILED_ALARM, "warning", "storage", text("alarm.backupFailed", { folder, reason }));
      this.note(at, folder, "failed", reason);
      return { kind: "failed", reason };
    }
    // Older backups go only now that a new one is whole.
    const removed: string[] = [];
    for (const name of listBackups(folder).slice(this.options.keep)) {
      try {
        rmSync(join(folder, name), { force: true });
        removed.push(name);
      } catch (error) {
        this.ctx.logger.warn({ file: name, err: (error as Error).message }, "cannot remove an old backup");
      }
    }
    this.ctx.alarms.clear(BACKUP_FAILED_ALARM);
    this.ctx.alarms.clear(BACKUP_SKIPPED_ALARM);
    this.ctx.logger.info({ file: info.path, bytes: info.bytes, tookMs: info.tookMs, removed }, "backup written");
    this.note(at, info.path, "ok", undefined, { bytes: info.bytes, schemaVersion: info.schemaVersion, auditRows: info.auditRows, tookMs: info.tookMs, removed });
    return { kind: "ok", info, removed };
  }

  /** Why this backup must not run now, or null. */
  private async skipReason(): Promise<{ reason: string; text: ReturnType<typeof text>; details: Record<string, unknown> } | null> {
    const level = this.ctx.diskLevel?.() ?? null;
    if (level === "low" || level === "critical") {
      return { reason: `the database's disk is ${level} on space`, text: text("alarm.backupSkippedDiskLow"), details: { level } };
    }
    let free: number;
    try {
      free = await this.freeBytes(existingAncestor(this.options.folder));
    } catch (error) {
      // Unknown free space is no reason to go without a backup: the copy itself will fail if it must.
      this.ctx.logger.warn({ err: (error as Error).message }, "cannot read the free space for backups");
      return null;
    }
    const dbBytes = (statSync(this.options.path, { throwIfNoEntry: false })?.size ?? 0) + (statSync(`${this.options.path}-wal`, { throwIfNoEntry: false })?.size ?? 0);
    if (free - dbBytes >= this.options.minFreeMB * MB) return null;
    const freeMB = Math.floor(free / MB);
    const needMB = Math.ceil(dbBytes / MB) + this.options.minFreeMB;
    return {
      reason: `not enough free space for a backup in ${this.options.folder}: ${freeMB} MB free, ${needMB} MB needed`,
      text: text("alarm.backupSkippedNoRoom", { folder: this.options.folder, free: freeMB, need: needMB }),
      details: { freeMB, needMB },
    };
  }

  private note(at: number, target: string, result: "ok" | "refused" | "failed", reason: string | undefined, details?: Record<string, unknown>): void {
    try {
      this.ctx.audit.append({ at, actor: HUB_ACTOR, action: "storage.backup", target, result, ...(reason !== undefined ? { reason } : {}), ...(details !== undefined ? { details } : {}) });
    } catch (error) {
      this.ctx.logger.error({ err: (error as Error).message }, "cannot record the backup in the audit log");
    }
  }
}

/** The first name for a backup at `at` that is not taken (two backups within one minute). */
function freeName(folder: string, at: number): string {
  for (let n = 0; ; n++) {
    const name = backupFileName(at, n);
    if (!existsSync(join(folder, name))) return name;
  }
}

/** Leftovers of a backup that was cut off (a crash, a power loss): never a finished backup. */
function removePartials(folder: string): void {
  for (const name of readdirSync(folder)) {
    if (name.endsWith(".db.partial") && NAME.test(name.slice(0, -".partial".length))) rmSync(join(folder, name), { force: true });
  }
}

/** The folder, or the nearest parent that exists (the backup folder is made by the first backup). */
function existingAncestor(folder: string): string {
  let dir = resolve(folder);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}
