/**
 * Upgrades: a database written by an older hub (test/fixtures/db-schema-7.db, made by
 * make-db-schema-7.ts with migrations 1..7 and rows in every table) is brought to this hub's
 * schema when it is opened, keeps every row, keeps its audit log append-only, and ends with
 * exactly the schema of a fresh database. Holds for any number of later migrations. A database
 * newer than the hub is refused and none of its tables or rows change.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HubError } from "../../hub/src/core/errors.ts";
import { SqliteAlarmStore } from "../../hub/src/storage/alarm-store.ts";
import { checkAuditLog } from "../../hub/src/storage/backup.ts";
import { type Database, MIGRATIONS, openDatabase } from "../../hub/src/storage/db.ts";
import { DeviceStore } from "../../hub/src/storage/device-store.ts";
import { SqliteInterlockStore } from "../../hub/src/storage/interlock-store.ts";

const FIXTURE = path.resolve(import.meta.dirname, "../fixtures/db-schema-7.db");
const FIXTURE_VERSION = 7;

type Row = Record<string, unknown>;

/** Every user table's rows, with the fixture's columns only (a later migration may add columns), sorted. */
function contents(db: Database, columnsOf: (table: string) => string[]): Map<string, string[]> {
  const tables = db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all();
  const out = new Map<string, string[]>();
  for (const table of tables) {
    const cols = columnsOf(table).map((c) => `"${c}"`).join(", ");
    const rows = db.prepare<[], Row>(`SELECT ${cols} FROM "${table}"`).all();
    out.set(table, rows.map((r) => JSON.stringify(r, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString("hex") : v))).sort());
  }
  return out;
}

const columns = (db: Database) => (table: string) => db.prepare<[], { name: string }>(`PRAGMA table_info("${table}")`).all().map((c) => c.name);

/** sqlite_master as a set of normalised entries: white space folded, `IF NOT EXISTS` dropped. */
function schemaOf(db: Database): string[] {
  return db
    .prepare<[], { type: string; name: string; tbl_name: string; sql: string | null }>("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_autoindex_%'")
    .all()
    .map((e) => `${e.type} ${e.name} ON ${e.tbl_name}: ${(e.sql ?? "").replace(/--[^\n]*/g, "").replace(/\s+/g, " ").replace(/ IF NOT EXISTS/gi, "").replace(/\( /g, "(").replace(/ \)/g, ")").trim()}`)
    .sort();
}

describe("upgrade from schema 7", () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-upgrade-"));
    file = path.join(dir, "hub.db");
    copyFileSync(FIXTURE, file);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("the fixture is what it claims: schema 7, rows in every table, small", () => {
    const old = new BetterSqlite3(FIXTURE, { readonly: true });
    try {
      expect(old.prepare("SELECT MAX(version) AS v FROM schema_version").pluck().get()).toBe(FIXTURE_VERSION);
      const empty = [...contents(old, columns(old))].filter(([, rows]) => rows.length === 0).map(([t]) => t);
      expect(empty).toEqual([]);
    } finally {
      old.close();
    }
    expect(readFileSync(FIXTURE).length).toBeLessThan(200 * 1024);
  });

  it("opens at the latest schema with every row still there, an append-only audit log, and a fresh database's schema", () => {
    const old = new BetterSqlite3(file, { readonly: true });
    const before = contents(old, columns(old));
    const oldColumns = new Map([...before.keys()].map((t) => [t, columns(old)(t)]));
    old.close();

    const db = openDatabase(file);
    try {
      expect(db.prepare("SELECT version FROM schema_version ORDER BY version").pluck().all()).toEqual(MIGRATIONS.map((m) => m.version));
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
      // Every row of every old table, column for column; schema_version only grew.
      const after = contents(db, (t) => oldColumns.get(t) ?? columns(db)(t));
      for (const [table, rows] of before) {
        if (table === "schema_version") expect(after.get(table)).toEqual(expect.arrayContaining(rows));
        else expect(after.get(table), table).toEqual(rows);
      }
      // The hub's own stores still read them.
      expect(new DeviceStore(db).load().map((d) => d.id).sort()).toEqual(["dev-a", "water"]);
      expect(new SqliteAlarmStore(db).load()).toMatchObject([{ key: "interlock:water-leak", acknowledged: true, ackedBy: "jan" }]);
      expect(new SqliteInterlockStore(db, { clock: { now: () => 0 } }).load()).toMatchObject([{ id: "water-leak" }]);
      // The audit log is whole and still refuses to change.
      expect(checkAuditLog(db)).toEqual({ ok: true, rows: 4, problems: [] });
      expect(() => db.prepare("UPDATE audit SET reason = 'rewritten' WHERE seq = 2").run()).toThrow("audit log is append-only");
      expect(() => db.prepare("DELETE FROM audit WHERE seq = 4").run()).toThrow("audit log is append-only");
      expect(() => db.prepare("INSERT OR REPLACE INTO audit (seq, at, actor, role, action, target, result) VALUES (1, 0, 'x', 'system', 'x', 'x', 'ok')").run()).toThrow("audit log is append-only");
      expect(db.prepare("SELECT COUNT(*) FROM audit").pluck().get()).toBe(4);

      const fresh = openDatabase(path.join(dir, "fresh.db"));
      try {
        expect(schemaOf(db)).toEqual(schemaOf(fresh));
      } finally {
        fresh.close();
      }
    } finally {
      db.close();
    }
  });

  it("opening it twice applies nothing twice", () => {
    openDatabase(file).close();
    const db = openDatabase(file);
    try {
      expect(db.prepare("SELECT COUNT(*) FROM schema_version").pluck().get()).toBe(MIGRATIONS.length);
    } finally {
      db.close();
    }
  });

  it("refuses a database newer than this hub, naming both versions, and leaves it as it was", () => {
    const future = new BetterSqlite3(file);
    future.prepare("INSERT INTO schema_version (version, name) VALUES (?, 'from a newer hub')").run(MIGRATIONS.length + 1);
    future.close();
    const look = () => {
      const db = new BetterSqlite3(file, { readonly: true });
      try {
        return { schema: schemaOf(db), rows: contents(db, columns(db)) };
      } finally {
        db.close();
      }
    };
    const before = look();
    let error: unknown;
    try {
      openDatabase(file).close();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).code).toBe("STORAGE_FAILED");
    expect((error as HubError).message).toBe(`database ${file} has schema version ${MIGRATIONS.length + 1}, newer than this hub knows (${MIGRATIONS.length})`);
    // Nothing migrated or written (opening it did switch it to WAL mode, which changes no row).
    expect(look()).toEqual(before);
  });
});
