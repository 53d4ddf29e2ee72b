import { describe, expect, it } from "vitest";
import { ManualClock } from "../core/clock.ts";
import { silentLogger } from "../core/logger.ts";
import { SqliteAuditLog } from "../storage/audit.ts";
import { openDatabase } from "../storage/db.ts";
import { OTHER_ADDRESSES, REFUSAL_ACTION, RefusalLedger } from "./refusals.ts";

const MIN = 60_000;

function setup(options: ConstructorParameters<typeof RefusalLedger>[1] = {}) {
  // Starts 20 s into a minute, so the first minute ends after 40 s.
  const clock = new ManualClock(Date.UTC(2026, 10, 2, 9, 0, 20));
  const db = openDatabase(":memory:");
  const audit = new SqliteAuditLog(db);
  const ledger = new RefusalLedger({ clock, audit, logger: silentLogger }, options);
  const rows = () => audit.query({ action: REFUSAL_ACTION }).records.reverse();
  return { clock, db, audit, ledger, rows };
}

describe("RefusalLedger", () => {
  it("writes one row per address and minute, when the minute ends, with the count, what was asked and the names tried", () => {
    const { clock, ledger, rows } = setup();
    ledger.start();
    for (let i = 0; i < 300; i++) ledger.note("10.0.0.5", "alarm.acknowledge");
    ledger.note("10.0.0.5", "session.login", { name: "begeleider" });
    ledger.note("::ffff:10.0.0.6", "nope.x");
    expect(rows()).toEqual([]);
    clock.advance(40 * 1000);
    expect(rows().map((r) => [r.actor, r.target, r.result, r.details])).toEqual([
      [
        { name: "kiosk", role: "kiosk" },
        "10.0.0.5",
        "refused",
        {
          from: "10.0.0.5",
          count: 301,
          overLimit: 271,
          minute: Date.UTC(2026, 10, 2, 9, 0),
          firstAt: Date.UTC(2026, 10, 2, 9, 0, 20),
          lastAt: Date.UTC(2026, 10, 2, 9, 0, 20),
          actions: { "alarm.acknowledge": 300, "session.login": 1 },
          names: { begeleider: 1 },
        },
      ],
      [{ name: "kiosk", role: "kiosk" }, "10.0.0.6", "refused", expect.objectContaining({ count: 1, overLimit: 0, actions: { "nope.x": 1 } })],
    ]);
    expect(rows()[0]?.reason).toBe(
      "301 request(s) without a session refused in the minute from 2026-11-02T09:00:00.000Z, 271 of them over the limit of 30 a minute: alarm.acknowledge ×300, session.login ×1",
    );
    // The next minute starts afresh.
    ledger.note("10.0.0.5", "alarm.acknowledge");
    clock.advance(MIN);
    expect(rows().map((r) => [r.target, r.details?.count, r.details?.minute])).toEqual([
      ["10.0.0.5", 301, Date.UTC(2026, 10, 2, 9, 0)],
      ["10.0.0.6", 1, Date.UTC(2026, 10, 2, 9, 0)],
      ["10.0.0.5", 1, Date.UTC(2026, 10, 2, 9, 1)],
    ]);
    ledger.stop();
  });

  it("answers limited past the budget until the minute ends, per address", () => {
    const { clock, ledger } = setup({ perAddressPerMinute: 3 });
    const verdicts = Array.from({ length: 5 }, () => ledger.note("10.0.0.5", "x.y"));
    expect(verdicts).toEqual([
      { limited: false, retryAfterS: 40 },
      { limited: false, retryAfterS: 40 },
      { limited: false, retryAfterS: 40 },
      { limited: true, retryAfterS: 40 },
      { limited: true, retryAfterS: 40 },
    ]);
    expect(ledger.note("10.0.0.6", "x.y").limited).toBe(false);
    clock.advance(40 * 1000);
    expect(ledger.note("10.0.0.5", "x.y")).toEqual({ limited: false, retryAfterS: 60 });
  });

  it("writes a bounded number of rows: addresses beyond the limit share one, and kinds beyond 16 are '(other)'", () => {
    const { ledger, rows } = setup({ maxAddresses: 3 });
    for (let i = 1; i <= 10; i++) ledger.note(`10.0.1.${i}`, "x.y");
    for (let i = 0; i < 40; i++) ledger.note("10.0.1.1", `a${i}.b`);
    ledger.stop();
    const written = rows();
    expect(written.map((r) => [r.target, r.details?.count])).toEqual([
      ["10.0.1.1", 41],
      ["10.0.1.2", 1],
      ["10.0.1.3", 1],
      [OTHER_ADDRESSES, 7],
    ]);
    const kinds = written[0]?.details?.actions as Record<string, number>;
    expect(Object.keys(kinds)).toHaveLength(17);
    expect(kinds["(other)"]).toBe(25);
    expect(ledger.stats()).toEqual({ addresses: 0, rowsWritten: 4 });
  });

  it("writes what it has on stop, and a second stop writes nothing more", () => {
    const { ledger, rows } = setup();
    ledger.start();
    ledger.note("10.0.0.5", "x.y");
    ledger.stop();
    ledger.stop();
    expect(rows().map((r) => r.details?.count)).toEqual([1]);
  });

  it("logs and carries on when the audit log cannot take the row", () => {
    const { ledger, db, rows } = setup();
    ledger.note("10.0.0.5", "x.y");
    const errors: string[] = [];
    const failing = new RefusalLedger({ clock: new ManualClock(), audit: { append: () => { throw new Error("disk full"); } }, logger: { ...silentLogger, error: (_o, m) => errors.push(m ?? "") } });
    failing.note("10.0.0.5", "x.y");
    expect(() => failing.stop()).not.toThrow();
    expect(errors).toEqual(["refusal counts not recorded"]);
    ledger.stop();
    expect(rows()).toHaveLength(1);
    db.close();
  });
});
