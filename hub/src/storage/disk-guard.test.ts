/**
 * Finding 3 of issue 10: a burst of writes left a 410 MB WAL behind, and nothing watched the disk.
 * Real SQLite files in a temp folder, the real maintenance worker; only the free space the file
 * system reports is handed in, so a test can say "the disk is nearly full".
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AlarmBook } from "../core/alarms/alarms.ts";
import { Bus } from "../core/bus.ts";
import { ManualClock } from "../core/clock.ts";
import { silentLogger } from "../core/logger.ts";
import { SqliteAuditLog } from "./audit.ts";
import { openDatabase, WAL_SIZE_LIMIT_BYTES, type Database } from "./db.ts";
import { DISK_ALARM, DiskGuard, type DiskGuardOptions } from "./disk-guard.ts";
import { StorageMaintenance } from "./maintenance.ts";

const MB = 1024 * 1024;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe("DiskGuard", () => {
  let dir: string;
  let path: string;
  let db: Database;
  let clock: ManualClock;
  let alarms: AlarmBook;
  let free: number;
  let asked: number;
  let guard: DiskGuard;

  const walBytes = () => statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0;
  const make = (options: Partial<DiskGuardOptions> = {}) =>
    new DiskGuard(
      {
        clock,
        logger: silentLogger,
        alarms,
        maintenance: new StorageMaintenance(path),
        freeBytes: () => {
          asked += 1;
          return Promise.resolve(free);
        },
      },
      { path, diskLowFreeMB: 2048, diskCriticalFreeMB: 512, walCheckpointMB: 1, diskCheckS: 30, ...options },
    );

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "tec-disk-guard-"));
    path = join(dir, "hub.db");
    // As the hub's main thread opens it: this connection never checkpoints.
    db = openDatabase(path, { checkpoints: false });
    clock = new ManualClock();
    alarms = new AlarmBook({ clock, bus: new Bus(silentLogger), store: { save: () => undefined, load: () => [] } });
    free = 50_000 * MB;
    asked = 0;
    guard = make();
  });
  afterEach(async () => {
    await guard.stop();
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("cuts every connection's WAL back to 16 MiB when a checkpoint lets it restart", () => {
    expect(db.pragma("journal_size_limit", { simple: true })).toBe(WAL_SIZE_LIMIT_BYTES);
  });

  it("checkpoints the WAL back to size after a burst of writes, off the main thread, keeping every row", async () => {
    const audit = new SqliteAuditLog(db);
    for (let i = 0; i < 3000; i++) audit.append({ at: clock.now(), actor: { name: "kiosk", role: "kiosk" }, action: "x.y", target: "t", result: "refused", details: { pad: "p".repeat(2000) } });
    const before = walBytes();
    expect(before).toBeGreaterThan(4 * MB);
    const check = await guard.check();
    expect(check).toMatchObject({ level: "ok", walBytesBefore: before, job: { type: "checkpoint", result: { busy: false, error: null, walBytes: 0 } } });
    expect(walBytes()).toBe(0);
    // Nothing lost, and the main connection writes on.
    expect(audit.query({ limit: 5000 }).records).toHaveLength(3000);
    audit.append({ at: clock.now(), actor: { name: "jan", role: "technician" }, action: "x.y", target: "t", result: "ok" });
    expect(audit.query({ limit: 5000 }).records).toHaveLength(3001);
  });

  it("leaves a small WAL alone", async () => {
    new SqliteAuditLog(db).append({ at: clock.now(), actor: { name: "jan", role: "technician" }, action: "x.y", target: "t", result: "ok" });
    expect((await guard.check()).job).toBeNull();
  });

  it("checks on its clock", async () => {
    guard.start();
    clock.advance(29_000);
    expect(asked).toBe(0);
    clock.advance(1000);
    await guard.check(); // shares the round the timer started
    expect(asked).toBe(1);
  });

  it("raises an alarm when free space runs low and trims history tiers, never the audit log; deeper when critical; clears when space is back", async () => {
    const now = clock.now();
    db.prepare("INSERT INTO channels (id, device, channel) VALUES (1, 'water', 'tankTempC')").run();
    const raw = db.prepare<[number, number]>("INSERT INTO raw_chunks (channel_id, t0, t1, n, data) VALUES (1, ?, ?, 1, x'00')");
    const minute = db.prepare<[number]>("INSERT INTO agg_1m (channel_id, t, n, sum, min, max) VALUES (1, ?, 1, 1, 1, 1)");
    const quarter = db.prepare<[number]>("INSERT INTO agg_15m (channel_id, t, n, sum, min, max) VALUES (1, ?, 1, 1, 1, 1)");
    for (const ageMs of [30 * DAY, 3 * DAY, 12 * HOUR, 3 * HOUR, 30 * 60_000]) {
      raw.run(now - ageMs - 1000, now - ageMs);
      minute.run(now - ageMs);
      quarter.run(now - ageMs);
    }
    const audit = new SqliteAuditLog(db);
    audit.append({ at: now - 300 * DAY, actor: { name: "jan", role: "technician" }, action: "interlock.reset", target: "water-leak", result: "ok" });
    const ages = (table: string, column: string) => db.prepare<[], { t: number }>(`SELECT ${column} AS t FROM ${table} ORDER BY t`).all().map((r) => (now - r.t) / HOUR).sort((a, b) => a - b);

    expect(guard.currentLevel()).toBeNull();
    free = 1500 * MB;
    const low = await guard.check();
    expect(guard.currentLevel()).toBe("low");
    expect(low).toMatchObject({ level: "low", job: { type: "trim", result: { error: null, deletedRows: 3 + 1 } } });
    expect(alarms.get(DISK_ALARM)).toMatchObject({ active: true, severity: "warning", source: "storage" });
    expect(alarms.get(DISK_ALARM)?.message.en).toBe(
      "Less than 2048 MB free on the hub's disk (1500 MB): history is being trimmed (raw readings 6 h, minute values 7 days). The audit log is kept. Free some space.",
    );
    expect(ages("raw_chunks", "t1")).toEqual([0.5, 3]);
    expect(ages("agg_1m", "t")).toEqual([0.5, 3, 12, 72]);

    free = 100 * MB;
    expect(await guard.check()).toMatchObject({ level: "critical", job: { type: "trim", result: { error: null, deletedRows: 1 + 1 } } });
    expect(alarms.get(DISK_ALARM)).toMatchObject({ active: true, severity: "critical" });
    expect(ages("raw_chunks", "t1")).toEqual([0.5]);
    expect(ages("agg_1m", "t")).toEqual([0.5, 3, 12]);
    // The 15-minute tier and the audit log are kept.
    expect(ages("agg_15m", "t")).toHaveLength(5);
    expect(audit.query({}).records).toHaveLength(1);

    // Just above the low mark is still low (hysteresis); a tenth above it clears the alarm.
    free = 2100 * MB;
    expect((await guard.check()).level).toBe("low");
    expect(alarms.get(DISK_ALARM)?.active).toBe(true);
    free = 2300 * MB;
    expect(await guard.check()).toMatchObject({ level: "ok" });
    expect(guard.currentLevel()).toBe("ok");
    expect(alarms.get(DISK_ALARM)?.active).toBe(false);
  });

  it("clears an alarm left from before a restart when the first check finds enough space", async () => {
    alarms.raise(DISK_ALARM, "critical", "storage", { nl: "vol", en: "full" });
    expect((await guard.check()).level).toBe("ok");
    expect(alarms.get(DISK_ALARM)?.active).toBe(false);
  });

  it("keeps its level and says so in the log when the file system cannot be asked", async () => {
    const errors: string[] = [];
    await guard.stop();
    guard = new DiskGuard(
      { clock, logger: { ...silentLogger, error: (_o, m) => errors.push(m ?? "") }, alarms, maintenance: new StorageMaintenance(path), freeBytes: () => Promise.reject(new Error("EIO")) },
      { path, diskLowFreeMB: 2048, diskCriticalFreeMB: 512, walCheckpointMB: 1, diskCheckS: 30 },
    );
    expect(await guard.check()).toMatchObject({ level: "ok", freeBytes: null });
    expect(errors).toEqual(["cannot read the free disk space"]);
  });

  it("reads the real free space by default", async () => {
    await guard.stop();
    guard = new DiskGuard({ clock, logger: silentLogger, alarms, maintenance: new StorageMaintenance(path) }, { path, diskLowFreeMB: 16, diskCriticalFreeMB: 8, walCheckpointMB: 16, diskCheckS: 30 });
    const check = await guard.check();
    expect(check.freeBytes).toBeGreaterThan(0);
  });
});
