import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.ts";
import { HubError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import { openDatabase, type Database } from "./db.ts";
import { SqliteInterlockStore } from "./interlock-store.ts";

const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("SqliteInterlockStore", () => {
  let dir: string;
  let path: string;
  let db: Database;
  let clock: ManualClock;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "tec-interlocks-"));
    path = join(dir, "hub.db");
    db = openDatabase(path, { checkpoints: false });
    clock = new ManualClock(T0);
  });
  afterEach(() => {
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps latched states across a reopen, replacing by id and forgetting removed ones", () => {
    const store = new SqliteInterlockStore(db, { clock });
    const leak = { latched: true, since: T0, trips: [{ actuator: "water.pumpEnable", reason: { nl: "lek", en: "leak" } }] };
    store.save("water-leak", { latched: true, since: T0 - 5, trips: [] });
    store.save("boiler-overtemp", { latched: true, since: T0 });
    store.save("estop", ["a", 1, null]);
    clock.advance(1000);
    store.save("water-leak", leak); // replaces
    store.remove("boiler-overtemp");
    store.remove("never-stored"); // not an error
    db.close(); // nothing after the last write
    db = openDatabase(path, { checkpoints: false });
    expect(new SqliteInterlockStore(db, { clock }).load()).toEqual([
      { id: "estop", state: ["a", 1, null] },
      { id: "water-leak", state: leak },
    ]);
    expect(db.prepare("SELECT updated_at FROM interlock_state WHERE id = 'water-leak'").pluck().get()).toBe(T0 + 1000);
  });

  it("skips, counts and logs a row that is not JSON; the caller gets the rest", () => {
    const warnings: unknown[] = [];
    const logger: Logger = { debug: () => {}, info: () => {}, warn: (o) => warnings.push(o), error: () => {}, child: () => logger };
    const store = new SqliteInterlockStore(db, { clock, logger });
    store.save("good", { latched: true });
    db.prepare("INSERT INTO interlock_state (id, json, updated_at) VALUES ('bad', '{\"latched\": tru', 0)").run();
    expect(store.load()).toEqual([{ id: "good", state: { latched: true } }]);
    expect(store.skipped).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ id: "bad" });
    expect(typeof (warnings[0] as { problem?: unknown }).problem).toBe("string");
  });

  it.each<[string, unknown]>([
    ["undefined", undefined],
    ["a function", () => 1],
    ["a cycle", (() => {
      const o: Record<string, unknown> = {};
      o.o = o;
      return o;
    })()],
  ])("refuses a state with no JSON form (%s) as STORAGE_FAILED, storing nothing", (_name, state) => {
    const store = new SqliteInterlockStore(db, { clock });
    const error = thrown(() => store.save("water-leak", state));
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).code).toBe("STORAGE_FAILED");
    expect((error as HubError).message).toContain('interlock "water-leak"');
    expect(store.load()).toEqual([]);
  });

  it("reports storage failures as STORAGE_FAILED", () => {
    const store = new SqliteInterlockStore(db, { clock });
    db.close();
    for (const fn of [() => store.save("x", {}), () => store.remove("x"), () => store.load()]) {
      expect((thrown(fn) as HubError).code).toBe("STORAGE_FAILED");
    }
  });
});
