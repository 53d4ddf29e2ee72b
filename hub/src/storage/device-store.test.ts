import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { MetaMessage } from "../../../firmware-bridge/contract/messages.ts";
import { Bus } from "../core/bus.ts";
import { ManualClock } from "../core/clock.ts";
import { HubError } from "../core/errors.ts";
import { silentLogger } from "../core/logger.ts";
import { Registry, type PersistedDevice } from "../core/registry/registry.ts";
import { asDeviceId, type DeviceCounters } from "../core/types.ts";
import { MIGRATIONS, migrate, openDatabase, type Database } from "./db.ts";
import { DeviceSaver } from "./device-saver.ts";
import { DeviceStore } from "./device-store.ts";

const counters = (messages: number): DeviceCounters => ({
  messages,
  readings: messages * 3,
  rejects: 2,
  duplicates: 1,
  gaps: 0,
  missedMessages: 4,
  seqJumps: 0,
  seqRestarts: 1,
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

  it("writes only the rows whose persisted fields changed, and the meta column only when the meta did", () => {
    const written = recordWrites(db);
    const store = new DeviceStore(db);
    const a: PersistedDevice = { id: asDeviceId("a"), state: "ready", lastSeen: 1, meta, counters: counters(1) };
    const b: PersistedDevice = { id: asDeviceId("b"), state: "ready", lastSeen: 1, meta, counters: counters(1) };
    const c: PersistedDevice = { id: asDeviceId("c"), state: "offline", lastSeen: null, meta: null, counters: counters(0) };
    expect(store.save([a, b, c])).toBe(3);
    expect(written()).toEqual(["insert a", "insert b", "insert c"]);

    // Nothing changed: nothing written, however often it is saved.
    expect(store.save([a, b, c])).toBe(0);
    expect(store.save([{ ...a, counters: counters(1) }, { ...b }, { ...c }])).toBe(0);
    expect(written()).toEqual([]);

    // One counter of one device, one state of another: those two rows, and no meta rewritten.
    const b2 = { ...b, lastSeen: 2, counters: { ...counters(1), gaps: 1 } };
    const c2 = { ...c, state: "init" as const };
    expect(store.save([a, b2, c2])).toBe(2);
    expect(written()).toEqual(["update b counters", "update c state"]);

    // The same meta again as a new object (a device re-sends its retained meta): not a change.
    expect(store.save([{ ...a, meta: structuredClone(meta) }])).toBe(0);
    expect(written()).toEqual([]);
    // A new firmware is.
    expect(store.save([{ ...a, meta: { ...meta, firmware: "1.3.0" } }])).toBe(1);
    expect(written()).toEqual(["update a meta"]);
    expect(store.load().find((d) => d.id === "a")?.meta?.firmware).toBe("1.3.0");
  });

  it("knows what a reopened database holds: saving what it loaded writes nothing", () => {
    new DeviceStore(db).save([
      { id: asDeviceId("a"), state: "stale", lastSeen: 7, meta, counters: counters(5) },
      { id: asDeviceId("b"), state: "offline", lastSeen: null, meta: null, counters: counters(0) },
    ]);
    db.close();
    db = openDatabase(join(dir, "hub.db"));
    const written = recordWrites(db);
    const store = new DeviceStore(db);
    const loaded = store.load();
    expect(store.save(loaded)).toBe(0);
    expect(store.save(loaded.map((d) => ({ ...d, counters: { ...d.counters } })))).toBe(0);
    expect(written()).toEqual([]);
  });

  it("rewrites a row it had to repair, and after a failed write still counts the row as changed", () => {
    db.prepare("INSERT INTO devices (id, state, last_seen, meta, counters) VALUES ('old', 'sleeping', 5, NULL, '{}')").run();
    const written = recordWrites(db);
    const store = new DeviceStore(db);
    const [old] = store.load();
    if (old === undefined) throw new Error("row not loaded");
    expect(store.save([old])).toBe(1);
    expect(written()).toEqual(["update old state counters"]); // counters too: {} held none of them
    expect(db.prepare("SELECT state FROM devices WHERE id = 'old'").pluck().get()).toBe("unknown");

    db.exec("CREATE TABLE fail (on_write INTEGER); INSERT INTO fail VALUES (1)");
    db.exec("CREATE TRIGGER fail_write BEFORE UPDATE ON devices WHEN (SELECT on_write FROM fail) BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    const next = { ...old, counters: counters(3) };
    expect(() => store.save([next])).toThrow("disk full");
    db.exec("UPDATE fail SET on_write = 0");
    expect(store.save([next])).toBe(1);
    expect(store.load()[0]?.counters).toEqual(counters(3));
  });
});

/**
 * Records every insert and update of the devices table (which columns changed), and returns a
 * function that hands back the records since it was last called.
 */
function recordWrites(db: Database): () => string[] {
  db.exec(`
    CREATE TEMP TABLE device_writes (seq INTEGER PRIMARY KEY, what TEXT NOT NULL);
    CREATE TEMP TRIGGER device_inserted AFTER INSERT ON main.devices BEGIN INSERT INTO device_writes (what) VALUES ('insert ' || NEW.id); END;
    CREATE TEMP TRIGGER device_updated AFTER UPDATE ON main.devices BEGIN
      INSERT INTO device_writes (what) VALUES ('update ' || NEW.id || trim(
        CASE WHEN NEW.meta IS NOT OLD.meta THEN ' meta' ELSE '' END ||
        CASE WHEN NEW.state IS NOT OLD.state THEN ' state' ELSE '' END ||
        CASE WHEN NEW.counters IS NOT OLD.counters OR NEW.last_seen IS NOT OLD.last_seen THEN ' counters' ELSE '' END, ''));
    END;
  `);
  return () => db.prepare("DELETE FROM device_writes RETURNING what").pluck().all() as string[];
}

describe("DeviceSaver", () => {
  const A = asDeviceId("a");
  const B = asDeviceId("b");
  const C = asDeviceId("c");
  const options = { promptMs: 1000, periodMs: 5000, sliceDevices: 2 };
  let dir: string;
  let db: Database;
  let clock: ManualClock;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "tec-device-saver-"));
    db = openDatabase(join(dir, "hub.db"));
    clock = new ManualClock();
  });
  afterEach(() => {
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A hub's worth of wiring on `db`: registry restored from the store, saver not yet started. */
  function boot(): { registry: Registry; saver: DeviceSaver; store: DeviceStore } {
    const bus = new Bus(silentLogger);
    const registry = new Registry({ clock, bus }, [A, B, C].map((id) => ({ id, kind: "mqtt" as const, name: id, simulated: false })));
    const store = new DeviceStore(db);
    registry.restore(store.load());
    return { registry, store, saver: new DeviceSaver({ clock, bus, registry, store, logger: silentLogger }, options) };
  }

  function reopen(): void {
    db.close();
    db = openDatabase(join(dir, "hub.db"));
  }

  it("writes a state or meta change within promptMs, counters at the next pass, and only the devices that changed", () => {
    const { registry, saver } = boot();
    const written = recordWrites(db);
    saver.start();
    clock.advance(5000); // the first pass: the table had none of them
    expect(written()).toEqual(["insert a", "insert b", "insert c"]);
    expect(saver.stats.writes).toBe(2); // in slices of at most two devices
    clock.advance(5000);
    expect(written()).toEqual([]); // nothing changed, nothing written

    registry.setStatus(A, "online"); // unknown -> init, and seen now
    registry.setMeta(B, meta); // described: unknown -> init
    clock.advance(999);
    expect(written()).toEqual([]);
    clock.advance(1); // both in one write, promptMs after the first
    expect(written()).toEqual(["update a state counters", "update b meta state"]);
    expect(saver.stats.writes).toBe(3);

    registry.setMeta(B, { ...meta, firmware: "1.3.0" }); // new firmware, same state
    expect(registry.view(B)?.state).toBe("init");
    clock.advance(1000);
    expect(written()).toEqual(["update b meta"]);

    registry.countReject(C, "malformed-json", "not JSON"); // a counter: no hurry
    clock.advance(2999);
    expect(written()).toEqual([]);
    clock.advance(1); // the pass at 15 s
    expect(written()).toEqual(["update c counters"]);
  });

  it("a clean stop writes what changed; a restart brings back state, meta and counters, and then writes nothing", () => {
    const first = boot();
    first.saver.start();
    first.registry.setStatus(A, "online");
    first.registry.setMeta(A, meta);
    const rec = first.registry.record(A);
    if (rec === undefined) throw new Error("no record");
    first.registry.acceptReadings(rec, clock.now(), clock.now(), [["pvPowerW", 1200]]);
    first.registry.acceptReadings(rec, clock.now(), clock.now(), [["pvPowerW", 1300]]);
    first.registry.countReject(B, "out-of-range", "too hot");
    expect(first.registry.view(A)?.state).toBe("ready");
    first.saver.stop(); // no timer has fired: everything is written by the stop
    first.saver.stop();

    reopen();
    const second = boot();
    const a = second.registry.view(A);
    expect(a?.state).toBe("unknown");
    expect(a?.lastKnownState).toBe("ready");
    expect(a?.model).toBe("tec-pv");
    expect(a?.lastSeen).toBe(clock.now());
    expect(a?.counters).toEqual({ ...zero(), messages: 2, readings: 2 });
    expect(second.registry.view(B)?.counters).toEqual({ ...zero(), rejects: 1 });
    expect(second.registry.snapshot()).toEqual(first.registry.snapshot());

    const written = recordWrites(db);
    second.saver.start();
    clock.advance(10_000);
    second.saver.stop();
    expect(written()).toEqual([]);
  });

  it("after a kill -9, what changed since the last pass is lost and nothing before it", () => {
    const { registry, saver } = boot();
    saver.start();
    registry.countReject(A, "duplicate", "seq 4 again");
    clock.advance(5000); // written by this pass
    registry.countReject(A, "duplicate", "seq 5 again");
    clock.advance(4999); // not yet
    reopen(); // the process died: no stop, timers gone with it

    const after = boot();
    expect(after.registry.view(A)?.counters.duplicates).toBe(1);
  });

  it("never waits for the write lock: while another connection holds it, the slice is tried again later", () => {
    const { registry, saver } = boot();
    saver.start();
    clock.advance(5000);
    const worker = openDatabase(join(dir, "hub.db")); // as the history worker's connection
    try {
      worker.prepare("BEGIN IMMEDIATE").run();
      registry.countReject(A, "duplicate", "seq 4 again");
      clock.advance(5000); // the pass finds the database busy (a wait would end in SQLITE_BUSY after 5 s: a failure)
      expect(saver.stats).toMatchObject({ busy: 1, failures: 0 });
      clock.advance(25); // still busy: once more
      expect(saver.stats.busy).toBe(2);
      worker.prepare("COMMIT").run();
      clock.advance(25);
      expect(saver.stats.busy).toBe(2);
      expect(worker.prepare("SELECT counters FROM devices WHERE id = 'a'").pluck().get()).toContain('"duplicates":1');
    } finally {
      worker.close();
    }
  });

  it("keeps a device that failed to write as changed until a later pass writes it", () => {
    const { registry, saver } = boot();
    saver.start();
    clock.advance(5000);
    db.exec("CREATE TABLE fail (on_write INTEGER); INSERT INTO fail VALUES (1)");
    db.exec("CREATE TRIGGER fail_write BEFORE UPDATE ON devices WHEN (SELECT on_write FROM fail) BEGIN SELECT RAISE(ABORT, 'disk full'); END");
    registry.countReject(B, "out-of-range", "too hot");
    clock.advance(5000);
    expect(saver.stats.failures).toBe(1);
    db.exec("UPDATE fail SET on_write = 0");
    clock.advance(5000);
    saver.stop();
    reopen();
    expect(boot().registry.view(B)?.counters.rejects).toBe(1);
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
  return { messages: 0, readings: 0, rejects: 0, duplicates: 0, gaps: 0, missedMessages: 0, seqJumps: 0, seqRestarts: 0, reboots: 0, shed: 0 };
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
