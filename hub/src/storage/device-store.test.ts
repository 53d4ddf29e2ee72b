import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { MetaMessage } from "../../../firmware-bridge/contract/messages.ts";
import { HubError } from "../core/errors.ts";
import type { PersistedDevice } from "../core/registry/registry.ts";
import { asDeviceId, type DeviceCounters } from "../core/types.ts";
import { MIGRATIONS, migrate, openDatabase, type Database } from "./db.ts";
import { DeviceStore } from "./device-store.ts";

const counters = (messages: number): DeviceCounters => ({
  messages,
  readings: messages * 3,
  rejects: 2,
  duplicates: 1,
  gaps: 0,
  missedMessages: 4,
  reboots: 1,
  shed: 0,
});

const meta: MetaMessage = {
  model: "tec-pv",
  firmware: "1.2.0",
  boot: 3,
  channels: { pvPowerW: { unit: "W", min: 0, max: 5000, periodMs: 1000, label: "PV power" } },
  actuators: { relay: { safe: 0, leaseMs: 5000 } },
};

describe("DeviceStore", () => {
  let dir: string;
  let db: Database;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "tec-devices-"));
    db = openDatabase(join(dir, "hub.db"));
  });
  afterEach(() => {
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("round-trips a snapshot through a reopened database", () => {
    const devices: PersistedDevice[] = [
      { id: asDeviceId("pv-inverter"), state: "ready", lastSeen: 1_700_000_000_123, meta, counters: counters(10) },
      { id: asDeviceId("boiler"), state: "offline", lastSeen: null, meta: null, counters: counters(0) },
    ];
    new DeviceStore(db).save(devices);
    db.close();
    db = openDatabase(join(dir, "hub.db"));
    const loaded = new DeviceStore(db).load();
    expect(loaded).toEqual([devices[1], devices[0]]); // ordered by id
  });

  it("upserts by id and leaves devices that are not in the list", () => {
    const store = new DeviceStore(db);
    store.save([
      { id: asDeviceId("a"), state: "ready", lastSeen: 1, meta: null, counters: counters(1) },
      { id: asDeviceId("b"), state: "ready", lastSeen: 1, meta: null, counters: counters(1) },
    ]);
    store.save([{ id: asDeviceId("a"), state: "stale", lastSeen: 9, meta, counters: counters(99) }]);
    const loaded = store.load();
    expect(loaded.map((d) => [d.id, d.state, d.lastSeen, d.counters.messages])).toEqual([
      ["a", "stale", 9, 99],
      ["b", "ready", 1, 1],
    ]);
    expect(loaded[0]?.meta).toEqual(meta);
  });

  it("repairs rows an older hub or a bad write left behind", () => {
    db.prepare("INSERT INTO devices (id, state, last_seen, meta, counters) VALUES (?, ?, ?, ?, ?)").run(
      "old",
      "sleeping",
      5,
      '{"model": 7}',
      '{"messages": 12, "readings": -1, "gaps": "x"',
    );
    db.prepare("INSERT INTO devices (id, state, last_seen, meta, counters) VALUES (?, ?, ?, ?, ?)").run(
      "older",
      "fault",
      null,
      "not json",
      '{"messages": 12, "readings": -1, "gaps": "x"}',
    );
    const [old, older] = new DeviceStore(db).load();
    expect(old).toEqual({ id: "old", state: "unknown", lastSeen: 5, meta: null, counters: zero() });
    expect(older?.state).toBe("fault");
    expect(older?.meta).toBeNull();
    expect(older?.counters).toEqual({ ...zero(), messages: 12 });
  });
});

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

function zero(): DeviceCounters {
  return { messages: 0, readings: 0, rejects: 0, duplicates: 0, gaps: 0, missedMessages: 0, reboots: 0, shed: 0 };
}

describe("openDatabase", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "tec-db-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("creates the folder, uses WAL with synchronous NORMAL and records each migration once", () => {
    const path = join(dir, "nested", "deeper", "hub.db");
    const db = openDatabase(path);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("synchronous", { simple: true })).toBe(1); // NORMAL
    expect(db.pragma("busy_timeout", { simple: true })).toBeGreaterThan(0);
    db.close();
    const again = openDatabase(path);
    const versions = again.prepare("SELECT version FROM schema_version ORDER BY version").pluck().all();
    expect(versions).toEqual(MIGRATIONS.map((m) => m.version));
    again.close();
  });

  it("applies only the migrations a database has not seen", () => {
    const db = openDatabase(":memory:");
    const next = [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: "audit", up: (d: Database) => d.exec("CREATE TABLE later_feature (x)") }];
    expect(migrate(db, next)).toBe(next.length);
    expect(migrate(db, next)).toBe(next.length); // a second run is a no-op, not a "table exists" error
    db.prepare("INSERT INTO later_feature (x) VALUES (1)").run();
    db.close();
  });

  it("refuses a database written by a newer hub", () => {
    const path = join(dir, "hub.db");
    const db = openDatabase(path);
    db.prepare("INSERT INTO schema_version (version, name) VALUES (?, ?)").run(MIGRATIONS.length + 5, "from the future");
    db.close();
    const error = thrown(() => openDatabase(path));
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).code).toBe("STORAGE_FAILED");
    expect((error as HubError).message).toContain(`schema version ${MIGRATIONS.length + 5}, newer than this hub knows (${MIGRATIONS.length})`);
  });

  it("reports a path it cannot open as STORAGE_FAILED", () => {
    const error = thrown(() => openDatabase(dir)); // a folder, not a file
    expect((error as HubError).code).toBe("STORAGE_FAILED");
    expect((error as HubError).message).toContain(dir);
  });
});
