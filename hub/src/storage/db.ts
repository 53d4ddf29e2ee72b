/**
 * The hub's one SQLite file: opened in WAL mode and brought to the current schema by numbered,
 * forward-only migrations. A later feature (the audit log) adds a table by appending a migration;
 * a migration once shipped is never edited.
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { HubError } from "../core/errors.ts";

export type Database = BetterSqlite3.Database;

export interface Migration {
  /** 1, 2, 3, … in order, without gaps. */
  readonly version: number;
  readonly name: string;
  readonly up: (db: Database) => void;
}

/** How long a statement waits for another connection's write lock before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;
/**
 * The WAL file is cut back to this size whenever a checkpoint lets it restart. Without a limit
 * SQLite reuses the file at its largest: after a burst of writes a 410 MB WAL stayed 410 MB, even
 * across a restart. The disk guard (disk-guard.ts) checkpoints it after bursts.
 */
export const WAL_SIZE_LIMIT_BYTES = 16 * 1024 * 1024;

const aggTable = (name: string): string => `
  CREATE TABLE ${name} (
    channel_id INTEGER NOT NULL,
    t INTEGER NOT NULL,
    n INTEGER NOT NULL,
    sum REAL NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    PRIMARY KEY (channel_id, t)
  ) WITHOUT ROWID;`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "telemetry history",
    up: (db) =>
      db.exec(`
        CREATE TABLE channels (
          id INTEGER PRIMARY KEY,
          device TEXT NOT NULL,
          channel TEXT NOT NULL,
          UNIQUE (device, channel)
        );
        -- data: little-endian float64 pairs [t0, v0, t1, v1, ...]; t is hub time in ms.
        CREATE TABLE raw_chunks (
          channel_id INTEGER NOT NULL,
          t0 INTEGER NOT NULL,
          t1 INTEGER NOT NULL,
          n INTEGER NOT NULL,
          data BLOB NOT NULL
        );
        CREATE INDEX raw_chunks_channel_t1 ON raw_chunks (channel_id, t1);
        -- rollup and retention scan all channels by time.
        CREATE INDEX raw_chunks_t1 ON raw_chunks (t1);
        ${aggTable("agg_1m")}
        ${aggTable("agg_15m")}
        -- every bucket of the tier that ends at or before done_until is rolled up.
        CREATE TABLE rollup_state (tier TEXT PRIMARY KEY, done_until INTEGER NOT NULL);
      `),
  },
  {
    version: 2,
    name: "device registry snapshot",
    up: (db) =>
      db.exec(`
        CREATE TABLE devices (
          id TEXT PRIMARY KEY,
          state TEXT NOT NULL,
          last_seen INTEGER,
          meta TEXT,
          counters TEXT NOT NULL
        );
      `),
  },
  {
    version: 3,
    name: "audit log",
    // A safety record: the database itself refuses to change or remove a row, whoever asks.
    // Every index holds the rowid (seq), so "filter, newest first" walks one index backwards.
    up: (db) =>
      db.exec(`
        CREATE TABLE audit (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          at INTEGER NOT NULL,
          actor TEXT NOT NULL,
          role TEXT NOT NULL,
          action TEXT NOT NULL,
          target TEXT NOT NULL,
          result TEXT NOT NULL CHECK (result IN ('ok', 'refused', 'failed')),
          reason TEXT,
          details TEXT -- JSON
        );
        CREATE INDEX audit_at ON audit (at);
        CREATE INDEX audit_action ON audit (action);
        CREATE INDEX audit_actor ON audit (actor);
        CREATE INDEX audit_target ON audit (target);
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
          BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
          BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
        -- INSERT OR REPLACE deletes the row it collides with without firing delete triggers
        -- (unless recursive_triggers is on): refuse an insert that names an existing seq.
        CREATE TRIGGER audit_no_replace BEFORE INSERT ON audit
          WHEN EXISTS (SELECT 1 FROM audit WHERE seq = NEW.seq)
          BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
      `),
  },
  {
    version: 4,
    name: "alarms",
    up: (db) =>
      db.exec(`
        -- json: the whole Alarm; updated_at: its latest change (ms), for pruning.
        CREATE TABLE alarms (key TEXT PRIMARY KEY, json TEXT NOT NULL, updated_at INTEGER NOT NULL);
      `),
  },
  {
    version: 5,
    name: "latched interlock state",
    up: (db) =>
      db.exec(`
        CREATE TABLE interlock_state (id TEXT PRIMARY KEY, json TEXT NOT NULL, updated_at INTEGER NOT NULL);
      `),
  },
  {
    version: 6,
    name: "station job history",
    up: (db) =>
      db.exec(`
        CREATE TABLE station_jobs (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          station TEXT NOT NULL,
          program TEXT NOT NULL,
          actor TEXT NOT NULL,
          started_at INTEGER NOT NULL,
          ended_at INTEGER,
          state TEXT NOT NULL,
          reason TEXT,
          progress_pct REAL NOT NULL,
          elapsed_s INTEGER NOT NULL
        );
        CREATE INDEX station_jobs_station_started ON station_jobs (station, started_at);
      `),
  },
  {
    version: 7,
    name: "e-stop terminals",
    up: (db) =>
      db.exec(`
        -- Screens registered by a technician whose on-screen e-stop works without a login.
        -- token_hash: SHA-256 of a 32-byte random token (the token itself is shown once, never stored).
        CREATE TABLE estop_terminals (
          id TEXT PRIMARY KEY,
          name TEXT NOT NULL,
          token_hash TEXT NOT NULL UNIQUE,
          created_at INTEGER NOT NULL,
          created_by TEXT NOT NULL,
          last_used_at INTEGER,
          revoked_at INTEGER
        );
      `),
  },
  {
    version: 8,
    name: "home assistant discovery",
    up: (db) =>
      db.exec(`
        -- Every Home Assistant discovery config the hub announced (retained), so that after a
        -- restart it can clear the entities of devices and channels that are gone.
        -- payload: the config as published (JSON); device: the hub's device id, or '_hub'.
        CREATE TABLE ha_discovery (topic TEXT PRIMARY KEY, device TEXT NOT NULL, payload TEXT NOT NULL, announced_at INTEGER NOT NULL);
      `),
  },
];

/**
 * Applies every migration newer than the database, each in its own transaction together with its
 * `schema_version` row, so a crash leaves the schema at a whole version. Returns the version.
 */
export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): number {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration "${m.name}" has version ${m.version}, expected ${i + 1}`);
  });
  db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL)");
  const current = (): number =>
    db.prepare<[], { v: number | null }>("SELECT MAX(version) AS v FROM schema_version").get()?.v ?? 0;
  const latest = migrations.length;
  const found = current();
  if (found > latest) {
    throw new HubError("STORAGE_FAILED", `database ${db.name} has schema version ${found}, newer than this hub knows (${latest})`);
  }
  const record = db.prepare<[number, string]>("INSERT INTO schema_version (version, name) VALUES (?, ?)");
  for (const m of migrations.slice(found)) {
    // IMMEDIATE: a second process opening the same file waits instead of applying it twice.
    db.transaction(() => {
      if (current() >= m.version) return;
      m.up(db);
      record.run(m.version, m.name);
    }).immediate();
  }
  return latest;
}

/**
 * Opens (creating its folder if needed) and migrates the database. `":memory:"` is for tests.
 * synchronous = NORMAL in WAL mode: a committed transaction survives a crash or kill -9 of the
 * process; only a power loss can take back the last commits (the file itself stays consistent).
 */
export interface OpenOptions {
  /**
   * Whether commits on this connection may checkpoint the WAL. The hub's main-thread connection
   * says no: a checkpoint of the history worker's WAL behind a small registry save would stall the
   * event loop for 100 ms and more; the history worker's connection does the checkpointing.
   */
  checkpoints?: boolean;
}

export function openDatabase(path: string, options: OpenOptions = {}): Database {
  const inMemory = path === ":memory:" || path === "";
  let db: Database;
  try {
    if (!inMemory) mkdirSync(dirname(resolve(path)), { recursive: true });
    db = new BetterSqlite3(path);
  } catch (error) {
    throw new HubError("STORAGE_FAILED", `cannot open database ${path}: ${(error as Error).message}`);
  }
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = NORMAL");
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    if (options.checkpoints === false) db.pragma("wal_autocheckpoint = 0");
    migrate(db);
    return db;
  } catch (error) {
    db.close();
    if (error instanceof HubError) throw error;
    throw new HubError("STORAGE_FAILED", `cannot prepare database ${path}: ${(error as Error).message}`);
  }
}
