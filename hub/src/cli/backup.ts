/**
 * `tec-hub backup FILE [--config config.yaml] [--force]`: an online copy of the hub's database,
 * whether a hub runs on it or not (storage/backup.ts: a consistent snapshot, checked).
 *
 * `tec-hub restore FILE [--config config.yaml]`: puts a backup in place of the hub's database.
 * Refused while a hub (or another restore) holds the store lock; FILE must be a whole TEC Hub
 * database no newer than this hub. The current database is kept as `<db>.before-restore-<time>`
 * (its WAL folded in first), and the restored one is migrated to this hub's schema at once.
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import { dirname, resolve } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { DEFAULT_CONFIG_PATH, loadConfig } from "../config/load.ts";
import { HubError } from "../core/errors.ts";
import { backupDatabase, checkAuditLog, inspectDatabase } from "../storage/backup.ts";
import { MIGRATIONS, openDatabase } from "../storage/db.ts";
import { SqliteAuditLog } from "../storage/audit.ts";
import { acquireStoreLock } from "../storage/store-lock.ts";

const MB = 1024 * 1024;
const SIDE_FILES = ["-wal", "-shm"] as const;

interface Args {
  file: string;
  config: string;
  force: boolean;
}

function parse(command: string, args: string[], allowForce: boolean): Args | string {
  let file: string | undefined;
  let config = DEFAULT_CONFIG_PATH;
  let force = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    if (a === "--config") {
      const next = args[++i];
      if (next === undefined) return "--config needs a file";
      config = next;
    } else if (a.startsWith("--config=")) {
      config = a.slice("--config=".length);
    } else if (a === "--force" && allowForce) {
      force = true;
    } else if (a.startsWith("-")) {
      return `unknown option ${a}`;
    } else if (file === undefined) {
      file = a;
    } else {
      return `one FILE only (got ${file} and ${a})`;
    }
  }
  if (file === undefined) return `usage: tec-hub ${command} FILE [--config config.yaml]${allowForce ? " [--force]" : ""}`;
  return { file, config, force };
}

function databaseOf(configFile: string): string {
  return resolve(loadConfig(configFile).config.storage.path);
}

const size = (bytes: number) => (bytes >= MB ? `${(bytes / MB).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`);

export async function runBackup(argv: string[]): Promise<number> {
  const args = parse("backup", argv, true);
  if (typeof args === "string") {
    console.error(args);
    return 2;
  }
  const db = databaseOf(args.config);
  if (!existsSync(db)) {
    console.error(`✗ backup: there is no database at ${db} (from ${args.config}); has a hub run with this config?`);
    return 1;
  }
  if (resolve(args.file) === db) {
    console.error(`✗ backup: ${args.file} is the database itself; choose another file`);
    return 1;
  }
  if (existsSync(args.file) && !args.force) {
    console.error(`✗ backup: ${args.file} exists already; choose another name, or add --force to replace it`);
    return 1;
  }
  try {
    const info = await backupDatabase(db, args.file, { overwrite: args.force });
    console.log(`✓ wrote ${info.path}: ${size(info.bytes)}, schema version ${info.schemaVersion ?? "?"}, ${info.auditRows ?? 0} rows in the audit log, integrity check ok (${(info.tookMs / 1000).toFixed(1)} s, from ${db})`);
    return 0;
  } catch (error) {
    console.error(`✗ backup: ${(error as Error).message}`);
    return 1;
  }
}

/** `2026-12-02T132105Z`: for the name of the kept copy. */
function stamp(at: number): string {
  const iso = new Date(at).toISOString();
  return `${iso.slice(0, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

/** Why FILE may not be restored, or null. */
function refusal(file: string): string | null {
  if (!existsSync(file)) return `there is no file ${file}`;
  if (!statSync(file).isFile()) return `${file} is not a file`;
  let found;
  try {
    found = inspectDatabase(file);
  } catch (error) {
    return `${file} is not a TEC Hub database: ${(error as Error).message}`;
  }
  if (found.integrity.length !== 1 || found.integrity[0] !== "ok") return `${file} is damaged: its integrity check says ${found.integrity.join("; ")}`;
  if (found.schemaVersion === null) return `${file} is not a TEC Hub database: it has no schema_version table`;
  if (found.schemaVersion > MIGRATIONS.length) {
    return `${file} has schema version ${found.schemaVersion}, newer than this hub knows (${MIGRATIONS.length}): restore it with the hub version that made it, or a newer one`;
  }
  if (found.audit !== null && !found.audit.ok) return `the audit log in ${file} is not whole: ${found.audit.problems.join("; ")}`;
  return null;
}

export async function runRestore(argv: string[]): Promise<number> {
  const args = parse("restore", argv, false);
  if (typeof args === "string") {
    console.error(args);
    return 2;
  }
  const db = databaseOf(args.config);
  const file = resolve(args.file);
  if (file === db) {
    console.error(`✗ restore: ${args.file} is the database itself`);
    return 1;
  }
  const why = refusal(file);
  if (why !== null) {
    console.error(`✗ restore refused: ${why}`);
    return 1;
  }
  let lock;
  try {
    // A restore onto a new machine: the data folder may not exist yet.
    mkdirSync(dirname(db), { recursive: true });
    lock = acquireStoreLock(db, { purpose: "restore" });
  } catch (error) {
    console.error(`✗ restore refused: ${(error as Error).message}`);
    return 1;
  }
  try {
    return await restoreLocked(file, db);
  } finally {
    lock.release();
  }
}

async function restoreLocked(file: string, db: string): Promise<number> {
  const now = Date.now();
  const kept = `${db}.before-restore-${stamp(now)}`;
  let movedAside = false;
  const incoming = `${db}.restoring`;
  try {
    if (existsSync(db)) {
      foldWal(db);
      renameSync(db, kept);
      movedAside = true;
      for (const side of SIDE_FILES) if (existsSync(db + side)) renameSync(db + side, kept + side);
    } else {
      for (const side of SIDE_FILES) rmSync(db + side, { force: true });
    }
    // A consistent copy even if FILE is itself live or has a -wal beside it (as `backup` reads).
    rmSync(incoming, { force: true });
    await backupDatabase(file, incoming);
    renameSync(incoming, db);
    const before = inspectDatabase(db).schemaVersion ?? 0;
    const restored = openDatabase(db);
    try {
      const after = restored.prepare<[], { v: number }>("SELECT MAX(version) AS v FROM schema_version").get()?.v ?? 0;
      const audit = checkAuditLog(restored);
      if (!audit.ok) throw new HubError("STORAGE_FAILED", `the restored audit log is not whole: ${audit.problems.join("; ")}`);
      new SqliteAuditLog(restored).append({
        at: Date.now(),
        actor: { name: os.userInfo().username, role: "technician" },
        action: "storage.restored",
        target: db,
        result: "ok",
        reason: `restored from ${file}`,
        details: { from: file, schemaBefore: before, schemaAfter: after, previousKeptAs: movedAside ? kept : null },
      });
      const upgrade = before === after ? `schema version ${after}` : `schema version ${before}, migrated to ${after}`;
      console.log(`✓ restored ${file} into ${db}: ${upgrade}, ${audit.rows + 1} rows in the audit log`);
      console.log(movedAside ? `  the previous database is kept as ${kept}` : "  there was no database before");
    } finally {
      restored.close();
    }
    return 0;
  } catch (error) {
    rmSync(incoming, { force: true });
    console.error(`✗ restore failed: ${(error as Error).message}`);
    if (movedAside) {
      try {
        for (const f of [db, ...SIDE_FILES.map((s) => db + s)]) rmSync(f, { force: true });
        renameSync(kept, db);
        for (const side of SIDE_FILES) if (existsSync(kept + side)) renameSync(kept + side, db + side);
        console.error(`  the previous database was put back at ${db}`);
      } catch (again) {
        console.error(`  and putting the previous database back failed too (${(again as Error).message}): it is at ${kept}`);
      }
    }
    return 1;
  }
}

/**
 * Copies the WAL back into the database so the file alone is whole; the last connection to close
 * removes the -wal and -shm. A database that cannot be opened is moved aside as it is, side files included.
 */
function foldWal(db: string): void {
  try {
    const conn = new BetterSqlite3(db, { fileMustExist: true });
    try {
      conn.pragma("wal_checkpoint(TRUNCATE)");
    } finally {
      conn.close();
    }
  } catch {
    // Damaged or not SQLite: kept as it is, with whatever lies beside it.
  }
}
