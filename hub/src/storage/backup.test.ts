/**
 * Backups with real SQLite files in a temp folder and the real backup worker: a backup taken while
 * another thread writes is one consistent moment; the scheduler (ManualClock) keeps the newest
 * `keep`, skips on low disk and raises and clears its alarms. Only the free space the file system
 * reports is handed in, so a test can say "the disk is nearly full".
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AlarmBook } from "../core/alarms/alarms.ts";
import { Bus } from "../core/bus.ts";
import { ManualClock } from "../core/clock.ts";
import { HubError } from "../core/errors.ts";
import { silentLogger } from "../core/logger.ts";
import { SqliteAuditLog } from "./audit.ts";
import {
  BACKUP_FAILED_ALARM,
  BACKUP_SKIPPED_ALARM,
  backupDatabase,
  backupFileName,
  BackupScheduler,
  type BackupSchedulerOptions,
  checkAuditLog,
  inspectDatabase,
  listBackups,
} from "./backup.ts";
import { MIGRATIONS, openDatabase, type Database } from "./db.ts";
import type { DiskLevel } from "./disk-guard.ts";

const MB = 1024 * 1024;
const HOUR = 3_600_000;
const tech = { name: "jan", role: "technician" as const };

describe("backupDatabase", () => {
  let dir: string;
  let path: string;
  let db: Database;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "tec-backup-"));
    path = join(dir, "hub.db");
    db = openDatabase(path, { checkpoints: false });
  });
  afterEach(() => {
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("copies a consistent moment while another thread commits, checked, with rowids kept", async () => {
    // Every commit adds one audit row and one raw chunk whose t0 is that row's seq: in any one
    // moment the two tables hold the same numbers, 1..n.
    db.prepare("INSERT INTO channels (id, device, channel) VALUES (1, 'dev-a', 'powerW')").run();
    const audit = new SqliteAuditLog(db);
    const chunk = db.prepare<[number, number, Buffer]>("INSERT INTO raw_chunks (channel_id, t0, t1, n, data) VALUES (1, ?, ?, 1, ?)");
    const commit = db.transaction((pad: Buffer) => {
      const seq = audit.append({ at: Date.now(), actor: tech, action: "x.y", target: "t", result: "ok" });
      chunk.run(seq, seq, pad);
    });
    const pad = Buffer.alloc(4096, 7);
    for (let i = 0; i < 2000; i++) commit(pad);
    let writing = true;
    let commits = 2000;
    const writer = (async () => {
      while (writing) {
        for (let i = 0; i < 50; i++) commit(pad);
        commits += 50;
        await new Promise((r) => setImmediate(r));
      }
    })();
    const dest = join(dir, "out", "copy.db");
    const before = commits;
    const info = await backupDatabase(path, dest);
    const after = commits;
    writing = false;
    await writer;
    expect(after).toBeGreaterThan(before); // the writer really ran during the backup

    expect(info).toMatchObject({ path: dest, schemaVersion: MIGRATIONS.length });
    expect(existsSync(`${dest}.partial`)).toBe(false);
    const copy = new BetterSqlite3(dest, { readonly: true });
    try {
      expect(copy.pragma("journal_mode", { simple: true })).toBe("delete"); // one self-contained file
      const seqs = copy.prepare<[], number>("SELECT seq FROM audit ORDER BY seq").pluck().all();
      const t0s = copy.prepare<[], number>("SELECT t0 FROM raw_chunks ORDER BY rowid").pluck().all();
      const rowids = copy.prepare<[], number>("SELECT rowid FROM raw_chunks ORDER BY rowid").pluck().all();
      expect(seqs.length).toBeGreaterThanOrEqual(before);
      expect(seqs.length).toBeLessThanOrEqual(after);
      expect(info.auditRows).toBe(seqs.length);
      expect(t0s).toEqual(seqs);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      expect(rowids).toEqual(seqs);
      expect(checkAuditLog(copy)).toEqual({ ok: true, rows: seqs.length, problems: [] });
    } finally {
      copy.close();
    }
    expect(inspectDatabase(dest)).toMatchObject({ integrity: ["ok"], schemaVersion: MIGRATIONS.length, audit: { ok: true } });
  }, 60_000);

  it("refuses an existing file unless told to replace it, and leaves nothing behind when it fails", async () => {
    const dest = join(dir, "copy.db");
    writeFileSync(dest, "mine");
    await expect(backupDatabase(path, dest)).rejects.toThrow(`${dest} exists already`);
    await expect(backupDatabase(path, dest, { overwrite: true })).resolves.toMatchObject({ schemaVersion: MIGRATIONS.length });
    await expect(backupDatabase(path, path)).rejects.toThrow("would overwrite the database itself");
    await expect(backupDatabase(join(dir, "nothing.db"), join(dir, "x.db"))).rejects.toThrow("there is no database at");
    // Not SQLite: the worker fails, no .partial and no file stay.
    const junk = join(dir, "junk.db");
    writeFileSync(junk, "this is not a database, but long enough to look like one at first sight.".repeat(20));
    const error = await backupDatabase(junk, join(dir, "y.db")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).message).toContain("backup of");
    expect(readdirSync(dir).filter((f) => f.startsWith("y.db"))).toEqual([]);
  });

  it("finds a damaged audit log: a missing trigger, a missing row, a missing newest row", () => {
    const audit = new SqliteAuditLog(db);
    for (let i = 0; i < 5; i++) audit.append({ at: 1, actor: tech, action: "x.y", target: "t", result: "ok" });
    expect(checkAuditLog(db)).toEqual({ ok: true, rows: 5, problems: [] });
    db.exec("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 2");
    expect(checkAuditLog(db).problems).toEqual([
      "the trigger audit_no_delete that keeps the audit log append-only is missing",
      "audit rows are missing: 4 rows with seq 1..5",
    ]);
    db.exec("DELETE FROM audit WHERE seq = 5");
    expect(checkAuditLog(db).problems).toContain("the newest audit rows are missing: seq 5..5 were handed out");
  });
});

describe("BackupScheduler", () => {
  let dir: string;
  let path: string;
  let folder: string;
  let db: Database;
  let clock: ManualClock;
  let alarms: AlarmBook;
  let audit: SqliteAuditLog;
  let free: number;
  let level: DiskLevel | null;
  let scheduler: BackupScheduler;

  const make = (options: Partial<BackupSchedulerOptions> = {}, backup?: (s: string, d: string) => Promise<never>) =>
    new BackupScheduler(
      { clock, logger: silentLogger, alarms, audit, diskLevel: () => level, freeBytes: () => Promise.resolve(free), ...(backup !== undefined ? { backup } : {}) },
      { enabled: true, path, folder, everyH: 24, keep: 2, minFreeMB: 100, ...options },
    );
  /** Moves the clock on by the period and waits for the backup it started. */
  const nextBackup = async (hours = 24) => {
    clock.advance(hours * HOUR);
    return scheduler.runNow();
  };
  const backupAudit = () => audit.query({ action: "storage.backup" }).records.reverse();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "tec-backup-sched-"));
    path = join(dir, "hub.db");
    folder = join(dir, "backups");
    db = openDatabase(path, { checkpoints: false });
    clock = new ManualClock(Date.UTC(2026, 11, 2, 3, 0, 0));
    alarms = new AlarmBook({ clock, bus: new Bus(silentLogger), store: { save: () => undefined, load: () => [] } });
    audit = new SqliteAuditLog(db);
    free = 50_000 * MB;
    level = "ok";
    scheduler = make();
  });
  afterEach(async () => {
    await scheduler.stop();
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("names backups by UTC minute", () => {
    expect(backupFileName(Date.UTC(2026, 11, 2, 3, 0, 59))).toBe("tec-hub-2026-12-02T0300Z.db");
    expect(backupFileName(Date.UTC(2026, 11, 2, 3, 0, 59), 2)).toBe("tec-hub-2026-12-02T0300Z-2.db");
  });

  it("backs up every everyH, the first one everyH after the start, keeping the newest `keep` and nothing else", async () => {
    mkdirSync(folder);
    writeFileSync(join(folder, "notes.txt"), "not a backup: never touched");
    writeFileSync(join(folder, "tec-hub-2026-01-01T0000Z.db.partial"), "left by a crash");
    scheduler.start();
    clock.advance(23 * HOUR);
    expect(listBackups(folder)).toEqual([]);
    const first = await nextBackup(1);
    expect(first).toMatchObject({ kind: "ok", removed: [] });
    expect(listBackups(folder)).toEqual(["tec-hub-2026-12-03T0300Z.db"]);
    expect(existsSync(join(folder, "tec-hub-2026-01-01T0000Z.db.partial"))).toBe(false);
    await nextBackup();
    const third = await nextBackup();
    expect(third).toMatchObject({ kind: "ok", removed: ["tec-hub-2026-12-03T0300Z.db"] });
    expect(listBackups(folder)).toEqual(["tec-hub-2026-12-05T0300Z.db", "tec-hub-2026-12-04T0300Z.db"]);
    expect(readdirSync(folder).sort()).toEqual(["notes.txt", "tec-hub-2026-12-04T0300Z.db", "tec-hub-2026-12-05T0300Z.db"]);
    // Each is a whole database, and each backup is in the audit log (a backup holds the entries before it).
    expect(inspectDatabase(join(folder, "tec-hub-2026-12-05T0300Z.db"))).toMatchObject({ integrity: ["ok"], schemaVersion: MIGRATIONS.length, audit: { ok: true, rows: 2 } });
    expect(backupAudit().map((r) => [r.result, r.target])).toEqual([
      ["ok", join(folder, "tec-hub-2026-12-03T0300Z.db")],
      ["ok", join(folder, "tec-hub-2026-12-04T0300Z.db")],
      ["ok", join(folder, "tec-hub-2026-12-05T0300Z.db")],
    ]);
    expect(backupAudit()[2]?.details).toMatchObject({ removed: ["tec-hub-2026-12-03T0300Z.db"], schemaVersion: MIGRATIONS.length });
  }, 60_000);

  it("two backups within a minute get two names", async () => {
    await scheduler.runNow();
    await scheduler.runNow();
    expect(listBackups(folder)).toEqual(["tec-hub-2026-12-02T0300Z-1.db", "tec-hub-2026-12-02T0300Z.db"]);
  });

  it("skips a backup while the disk guard says the disk is low, or when it would leave too little room, with an alarm; the next backup clears it", async () => {
    level = "low";
    expect(await scheduler.runNow()).toMatchObject({ kind: "skipped" });
    expect(alarms.get(BACKUP_SKIPPED_ALARM)).toMatchObject({ active: true, severity: "warning", source: "storage" });
    expect(alarms.get(BACKUP_SKIPPED_ALARM)?.message.en).toBe("The automatic backup was skipped: the hub's disk is low on space. Free some space.");
    level = "ok";
    free = 100 * MB; // the copy (the database's size) would take it under the 100 MB mark
    expect(await scheduler.runNow()).toMatchObject({ kind: "skipped" });
    expect(alarms.get(BACKUP_SKIPPED_ALARM)?.message.en).toMatch(new RegExp(`^The automatic backup was skipped: 100 MB free in ${folder}, 10[1-9] MB needed\\.`));
    expect(existsSync(folder) ? listBackups(folder) : []).toEqual([]);
    expect(backupAudit().map((r) => r.result)).toEqual(["refused", "refused"]);
    free = 50_000 * MB;
    expect(await scheduler.runNow()).toMatchObject({ kind: "ok" });
    expect(alarms.get(BACKUP_SKIPPED_ALARM)?.active).toBe(false);
  });

  it("raises a warning alarm with the reason when a backup fails, keeps the older backups, and clears it on the next success", async () => {
    await scheduler.runNow();
    const kept = listBackups(folder);
    clock.advance(HOUR);
    await scheduler.stop();
    scheduler = make({}, () => Promise.reject(new HubError("STORAGE_FAILED", "disk I/O error")));
    expect(await scheduler.runNow()).toEqual({ kind: "failed", reason: "disk I/O error" });
    const alarm = alarms.get(BACKUP_FAILED_ALARM);
    expect(alarm).toMatchObject({ active: true, severity: "warning", source: "storage" });
    expect(alarm?.message.en).toBe(`The automatic backup of the database into ${folder} failed: disk I/O error. The earlier backups are kept.`);
    expect(listBackups(folder)).toEqual(kept);
    // A real failure too: the folder is a file.
    await scheduler.stop();
    const blocked = join(dir, "blocked");
    writeFileSync(blocked, "");
    scheduler = make({ folder: blocked });
    const outcome = await scheduler.runNow();
    expect(outcome.kind).toBe("failed");
    expect(outcome.kind === "failed" && outcome.reason).toContain("EEXIST");
    expect(backupAudit().map((r) => r.result)).toEqual(["ok", "failed", "failed"]);
    await scheduler.stop();
    scheduler = make();
    clock.advance(HOUR);
    expect(await scheduler.runNow()).toMatchObject({ kind: "ok" });
    expect(alarms.get(BACKUP_FAILED_ALARM)?.active).toBe(false);
  });

  it("does nothing when disabled", () => {
    scheduler = make({ enabled: false });
    scheduler.start();
    clock.advance(100 * HOUR);
    expect(existsSync(folder)).toBe(false);
  });
});
