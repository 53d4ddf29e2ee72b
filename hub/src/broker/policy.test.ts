import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Account, HubBacklog, LoginBackoff, TokenBucket, clientIdOwner, clientIdRefusal, effectiveKeepaliveS } from "./policy.ts";

const devices = new Set(["water", "water-1", "estop-button-1", "battery"]);
const observer: Account = { role: "observer", username: "observer" };
const water: Account = { role: "device", deviceId: "water" };

describe("client id ownership (PROTOCOL.md, client ids)", () => {
  it.each([
    ["water", "water"],
    ["water-3", "water"],
    ["water-esp32-a1", "water"],
    ["water-1", "water-1"],
    ["water-1-7", "water-1"],
    ["estop-button-1", "estop-button-1"],
    ["estop-button-1-0", "estop-button-1"],
    ["estop-button", null],
    ["waterx", null],
    ["mqtt-explorer-1234", null],
    ["", null],
  ])("%s belongs to %s", (clientId, owner) => {
    expect(clientIdOwner(clientId, devices)).toBe(owner);
  });

  it.each<[Account, string, string | null]>([
    [water, "water", null],
    [water, "water-3", null],
    [water, "water-1", 'belongs to device "water-1"'],
    [water, "battery-2", 'belongs to device "battery"'],
    [water, "pump", "is not one of device \"water\"'s"],
    [water, "", 'must send a client id that starts with "water"'],
    [observer, "estop-button-1", 'belongs to device "estop-button-1"; observer account'],
    [observer, "water-9", 'belongs to device "water"'],
    [observer, "tec-hub-th-1234", "the hub's own"],
    [observer, "mqtt-explorer-1", null],
    [observer, "", null],
  ])("%o with client id %s: %s", (account, clientId, refusal) => {
    const r = clientIdRefusal(account, clientId, devices);
    if (refusal === null) expect(r).toBeNull();
    else expect(r?.reason).toContain(refusal);
  });

  it("never lets one account use a client id another account may use", () => {
    const ids = fc.constantFrom("water", "water-1", "estop-button-1", "battery");
    const accounts = fc.oneof(
      ids.map((d): Account => ({ role: "device", deviceId: d })),
      fc.constant<Account>(observer),
    );
    const clientIds = fc.oneof(fc.string(), fc.tuple(ids, fc.string()).map(([d, rest]) => `${d}${rest}`), fc.tuple(ids, fc.string()).map(([d, rest]) => `${d}-${rest}`));
    fc.assert(
      fc.property(accounts, accounts, clientIds, (a, b, clientId) => {
        const same = a.role === b.role && (a.role === "observer" || (b.role === "device" && a.deviceId === b.deviceId));
        if (same) return;
        // Two different accounts can never both be allowed the same client id: no takeover across accounts.
        expect(clientIdRefusal(a, clientId, devices) === null && clientIdRefusal(b, clientId, devices) === null).toBe(clientId === "" ? a.role === "observer" && b.role === "observer" : false);
      }),
    );
  });
});

describe("login backoff per address", () => {
  const options = { freeFailures: 3, baseMs: 1000, maxMs: 60_000, forgetAfterMs: 600_000, maxAddresses: 3 };

  it("lets three failures through, then doubles the wait up to a minute", () => {
    const b = new LoginBackoff(options);
    let now = 0;
    const waits: number[] = [];
    for (let i = 0; i < 10; i++) {
      expect(b.waitMs("10.0.0.9", now)).toBeNull();
      waits.push(b.failed("10.0.0.9", now));
      now += waits.at(-1) ?? 0;
    }
    expect(waits).toEqual([0, 0, 0, 1000, 2000, 4000, 8000, 16_000, 32_000, 60_000]);
  });

  it("refuses inside the wait without lengthening it, and leaves other addresses alone", () => {
    const b = new LoginBackoff(options);
    for (let i = 0; i < 5; i++) b.failed("10.0.0.9", 0);
    expect(b.waitMs("10.0.0.9", 500)).toBe(1500);
    expect(b.waitMs("10.0.0.9", 1999)).toBe(1);
    expect(b.waitMs("10.0.0.9", 2000)).toBeNull();
    expect(b.waitMs("10.0.0.10", 500)).toBeNull();
    expect(b.blocked(500)).toBe(1);
  });

  it("forgets an address after a quiet spell, and the quietest first when full", () => {
    const b = new LoginBackoff(options);
    for (let i = 0; i < 5; i++) b.failed("a", 0);
    expect(b.waitMs("a", 700_000)).toBeNull();
    expect(b.failed("a", 700_000)).toBe(0);
    b.failed("b", 700_001);
    b.failed("c", 700_002);
    b.failed("d", 700_003);
    expect(b.size).toBe(3);
    // "a" failed longest ago and was forgotten to make room.
    for (let i = 0; i < 3; i++) expect(b.failed("a", 700_004)).toBe(0);
  });
});

describe("token bucket", () => {
  it("allows the burst, then the rate", () => {
    const t = new TokenBucket(10, 5, 0);
    expect(Array.from({ length: 6 }, () => t.take(0))).toEqual([true, true, true, true, true, false]);
    expect(t.take(100)).toBe(true);
    expect(t.take(100)).toBe(false);
    expect(Array.from({ length: 6 }, () => t.take(10_000)).filter(Boolean)).toHaveLength(5);
  });
});

describe("keep-alive (MQTT 3.1.1 has no code to refuse one)", () => {
  it.each([
    [0, 60],
    [5, 5],
    [60, 60],
    [61, 60],
    [65535, 60],
  ])("asked %i s -> %i s", (asked, got) => {
    expect(effectiveKeepaliveS(asked, 60)).toBe(got);
  });
});

describe("token bucket with a changing rate", () => {
  it("keeps what it earned up to the new burst", () => {
    const t = new TokenBucket(10, 10, 0);
    for (let i = 0; i < 10; i++) t.take(0);
    t.setRate(500, 100, 4);
    // 500 ms at 10/s earned 5, capped at the new burst of 4.
    expect(Array.from({ length: 5 }, () => t.take(500)).filter(Boolean)).toHaveLength(4);
    expect(t.take(510)).toBe(true);
  });
});

describe("the hub's backlog on the broker's thread", () => {
  it("gives a flooding device its own share, and frees it as the hub takes messages in order", () => {
    const b = new HubBacklog(10, 4);
    for (let i = 0; i < 4; i++) {
      expect(b.admits("flood")).toBe(true);
      b.added("flood");
    }
    expect(b.admits("flood")).toBe(false);
    expect(b.admits("estop")).toBe(true);
    b.added("estop");
    b.added("flood-2");
    expect(b.size).toBe(6);
    b.taken(3);
    expect(b.of("flood")).toBe(1);
    expect(b.admits("flood")).toBe(true);
    b.taken(2);
    expect([b.of("flood"), b.of("estop"), b.of("flood-2")]).toEqual([0, 0, 1]);
    b.taken(100);
    expect(b.size).toBe(0);
  });

  it("keeps count through many runs taken in small steps", () => {
    const b = new HubBacklog(1_000_000, 1_000_000);
    for (let i = 0; i < 5000; i++) b.added(i % 2 === 0 ? "a" : "b");
    for (let i = 0; i < 4999; i++) b.taken(1);
    expect(b.size).toBe(1);
    expect([b.of("a"), b.of("b")]).toEqual([0, 1]);
    b.added("b");
    b.added("a");
    b.taken(2);
    expect([b.size, b.of("a"), b.of("b")]).toEqual([1, 1, 0]);
  });

  it("holds the total for everyone", () => {
    const b = new HubBacklog(3, 3);
    b.added("a");
    b.added("b");
    b.added("c");
    expect(b.admits("d")).toBe(false);
  });
});
