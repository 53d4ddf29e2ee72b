import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AlarmBook, type Alarm } from "../core/alarms/alarms.ts";
import { Bus } from "../core/bus.ts";
import { ManualClock } from "../core/clock.ts";
import { HubError } from "../core/errors.ts";
import { silentLogger, type Logger } from "../core/logger.ts";
import { ALARM_RETENTION_MS, SqliteAlarmStore } from "./alarm-store.ts";
import { openDatabase, type Database } from "./db.ts";

const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);
const DAY = 24 * 60 * 60 * 1000;

const alarm = (over: Partial<Alarm> = {}): Alarm => ({
  key: "interlock:water-leak",
  severity: "critical",
  source: "water-leak",
  message: { nl: "Lekkage bij de boiler", en: "Leak at the boiler" },
  active: true,
  acknowledged: false,
  firstAt: T0,
  lastAt: T0,
  count: 1,
  clearedAt: null,
  ackedBy: null,
  ackedAt: null,
  comment: null,
  ...over,
});

function recordingLogger(): { logger: Logger; warnings: unknown[] } {
  const warnings: unknown[] = [];
  const logger: Logger = {
    debug: () => {},
    info: () => {},
    warn: (obj) => warnings.push(obj),
    error: () => {},
    child: () => logger,
  };
  return { logger, warnings };
}

describe("SqliteAlarmStore", () => {
  let dir: string;
  let path: string;
  let db: Database;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "tec-alarms-"));
    path = join(dir, "hub.db");
    db = openDatabase(path, { checkpoints: false });
  });
  afterEach(() => {
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("round-trips alarms through a reopened database, upserting by key", () => {
    const store = new SqliteAlarmStore(db);
    const leak = alarm();
    const offline = alarm({ key: "device-offline:water", severity: "warning", source: "water", active: false, clearedAt: T0 + 5, comment: "kabel los" });
    store.save(leak);
    store.save(offline);
    const acked = { ...leak, acknowledged: true, ackedBy: "jan", ackedAt: T0 + 9, comment: "pomp uit" };
    store.save(acked);
    db.close();
    db = openDatabase(path, { checkpoints: false });
    expect(new SqliteAlarmStore(db).load()).toEqual([offline, acked]); // by key
    expect(db.prepare("SELECT updated_at FROM alarms WHERE key = ?").pluck().get(acked.key)).toBe(T0 + 9);
  });

  it("restores an AlarmBook with its acknowledgements after a restart", () => {
    const clock = new ManualClock(T0);
    const book = new AlarmBook({ clock, bus: new Bus(silentLogger), store: new SqliteAlarmStore(db) });
    book.raise("estop", "critical", "estop-1", { nl: "Noodstop", en: "Emergency stop" });
    clock.advance(1000);
    book.acknowledge("estop", { name: "eva", role: "instructor" }, "gecontroleerd");
    db.close();
    db = openDatabase(path, { checkpoints: false });
    const again = new AlarmBook({ clock, bus: new Bus(silentLogger), store: new SqliteAlarmStore(db) });
    expect(again.get("estop")).toMatchObject({ active: true, acknowledged: true, ackedBy: "eva", ackedAt: T0 + 1000, comment: "gecontroleerd" });
  });

  it("skips, counts and logs rows that do not parse, and loads the rest", () => {
    const { logger, warnings } = recordingLogger();
    const store = new SqliteAlarmStore(db, { logger });
    store.save(alarm());
    const insert = db.prepare("INSERT INTO alarms (key, json, updated_at) VALUES (?, ?, 0)");
    insert.run("a-not-json", "{oops");
    insert.run("b-wrong-severity", JSON.stringify(alarm({ key: "b-wrong-severity", severity: "fatal" as Alarm["severity"] })));
    insert.run("c-missing-field", JSON.stringify({ ...alarm({ key: "c-missing-field" }), acknowledged: undefined }));
    insert.run("d-other-key", JSON.stringify(alarm({ key: "someone-else" })));
    insert.run("e-extra-field", JSON.stringify({ ...alarm({ key: "e-extra-field" }), shelved: true }));
    const loaded = store.load();
    expect(loaded.map((a) => a.key)).toEqual(["e-extra-field", "interlock:water-leak"]);
    expect(loaded[0]).not.toHaveProperty("shelved");
    expect(store.skipped).toBe(4);
    const seen = warnings as { key: string; problem: string }[];
    expect(seen.map((w) => w.key)).toEqual(["a-not-json", "b-wrong-severity", "c-missing-field", "d-other-key"]);
    expect(seen[0]?.problem).toMatch(/^not JSON/);
    expect(seen[1]?.problem).toMatch(/^severity: /);
    expect(seen[2]?.problem).toMatch(/^acknowledged: /);
    expect(seen[3]?.problem).toBe('holds alarm "someone-else" under key "d-other-key"');
    store.load();
    expect(store.skipped).toBe(8);
  });

  it("prunes only cleared and acknowledged alarms that have not changed for the retention time", () => {
    const store = new SqliteAlarmStore(db);
    const now = T0 + 40 * DAY;
    const done = (key: string, ackedAt: number): Alarm =>
      alarm({ key, active: false, acknowledged: true, clearedAt: T0, ackedBy: "jan", ackedAt });
    store.save(done("old-done", T0 + DAY));
    store.save(done("recently-acked", now - DAY)); // cleared long ago, acknowledged yesterday
    store.save(alarm({ key: "old-active-acked", acknowledged: true, ackedBy: "jan", ackedAt: T0 }));
    store.save(alarm({ key: "old-cleared-unacked", active: false, clearedAt: T0 }));
    db.prepare("INSERT INTO alarms (key, json, updated_at) VALUES ('old-garbage', 'x', 0)").run();
    expect(store.prune(ALARM_RETENTION_MS, now)).toBe(1);
    expect(store.load().map((a) => a.key)).toEqual(["old-active-acked", "old-cleared-unacked", "recently-acked"]);
    expect(db.prepare("SELECT COUNT(*) FROM alarms WHERE key = 'old-garbage'").pluck().get()).toBe(1);
    expect(store.prune(ALARM_RETENTION_MS, now)).toBe(0);
    expect(store.prune(ALARM_RETENTION_MS, now + 30 * DAY)).toBe(1); // recently-acked, a month on
  });

  it("reports a failed save as STORAGE_FAILED naming the alarm", () => {
    const store = new SqliteAlarmStore(db);
    db.close();
    let error: unknown;
    try {
      store.save(alarm());
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).code).toBe("STORAGE_FAILED");
    expect((error as HubError).message).toContain('cannot save alarm "interlock:water-leak"');
  });
});
