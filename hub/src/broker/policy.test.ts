import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hashSecret, verifySecret } from "../api/auth.ts";
import { type Account, BrokerAccounts, type CredentialCheck, HubBacklog, LoginBackoff, type SecretVerifier, TokenBucket, clientIdOwner, clientIdRefusal, effectiveKeepaliveS } from "./policy.ts";

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

describe("broker accounts: plain and scrypt-hashed passwords", () => {
  const backoffOptions = { freeFailures: 3, baseMs: 1000, maxMs: 60_000, forgetAfterMs: 600_000, maxAddresses: 100 };
  // The lowest cost the config accepts: the real scrypt, fast enough for a unit test.
  const SECRET = "Xk3v9Qn2-board-secret";
  const HASH = hashSecret(SECRET, 1024);
  const pw = (s: string) => Buffer.from(s, "utf8");

  /** A verifier that counts its calls and answers when the test says so (or at once). */
  function countingVerifier(inner: SecretVerifier = verifySecret) {
    const calls: Array<{ plain: string; release: () => void }> = [];
    let hold = false;
    const load = { now: 0, max: 0 };
    const verify: SecretVerifier = async (plain, hash) => {
      load.now += 1;
      load.max = Math.max(load.max, load.now);
      try {
        if (hold) await new Promise<void>((release) => calls.push({ plain, release }));
        else calls.push({ plain, release: () => undefined });
        return await inner(plain, hash);
      } finally {
        load.now -= 1;
      }
    };
    return {
      verify,
      calls,
      load,
      holdEach: () => (hold = true),
      releaseAll: () => calls.forEach((c) => c.release()),
    };
  }

  function accounts(verify: SecretVerifier, now = () => 0, limits = { maxWaiting: 8, maxWaitingPerAddress: 2 }) {
    const backoff = new LoginBackoff(backoffOptions);
    const a = new BrokerAccounts({ devices: [["water", HASH], ["battery", "plain-pw-battery"]], observer: { username: "observer", password: hashSecret("watch-only", 1024) } }, backoff, now, verify, limits);
    return { a, backoff };
  }

  const okAs = (r: CredentialCheck) => (r.ok ? r.account : r.kind);

  it("accepts the right secret for a hashed device and refuses a wrong one (with the real scrypt)", async () => {
    const { a } = accounts(verifySecret);
    expect(okAs(await a.check("water", pw(SECRET), "10.0.0.5"))).toEqual({ role: "device", deviceId: "water" });
    const wrong = await a.check("water", pw("Xk3v9Qn2-board-secreT"), "10.0.0.6");
    expect(wrong).toMatchObject({ ok: false, kind: "wrong", reason: 'wrong password for device "water"' });
    // The hash itself is no password: sending what is in the config does not log in.
    expect(await a.check("water", pw(HASH), "10.0.0.7")).toMatchObject({ ok: false, kind: "wrong" });
  });

  it("still takes plain passwords, without hashing, and a hashed observer password", async () => {
    const v = countingVerifier();
    const { a } = accounts(v.verify);
    expect(okAs(await a.check("battery", pw("plain-pw-battery"), "10.0.0.5"))).toEqual({ role: "device", deviceId: "battery" });
    expect(await a.check("battery", pw("plain-pw-batterx"), "10.0.0.5")).toMatchObject({ ok: false, kind: "wrong" });
    expect(await a.check("ghost", pw("x"), "10.0.0.5")).toMatchObject({ ok: false, kind: "wrong", reason: 'unknown user "ghost"' });
    expect(await a.check(undefined, undefined, "10.0.0.5")).toMatchObject({ ok: false, kind: "wrong" });
    expect(v.calls).toHaveLength(0);
    expect(okAs(await a.check("observer", pw("watch-only"), "10.0.0.8"))).toEqual({ role: "observer", username: "observer" });
    expect(v.calls).toHaveLength(1);
  });

  it("remembers a success: a reconnect storm of the real board hashes once", async () => {
    const v = countingVerifier();
    const { a } = accounts(v.verify);
    for (let i = 0; i < 50; i++) expect(okAs(await a.check("water", pw(SECRET), "10.0.0.5"))).toEqual({ role: "device", deviceId: "water" });
    expect(v.calls).toHaveLength(1);
    expect(a.stats).toMatchObject({ hashChecks: 1, cacheHits: 49 });
    // A wrong password is never answered from the cache, and does not evict the right one.
    expect(await a.check("water", pw("guess"), "10.0.0.9")).toMatchObject({ ok: false, kind: "wrong" });
    expect(v.calls).toHaveLength(2);
    expect(okAs(await a.check("water", pw(SECRET), "10.0.0.5"))).toEqual({ role: "device", deviceId: "water" });
    expect(v.calls).toHaveLength(2);
  });

  it("throttles a guesser before hashing: after the free failures no guess reaches scrypt until the wait is over", async () => {
    const v = countingVerifier();
    let now = 0;
    const { a } = accounts(v.verify, () => now);
    for (let i = 0; i < 3; i++) expect(await a.check("water", pw(`guess-${i}`), "10.0.0.66")).toMatchObject({ ok: false, kind: "wrong" });
    const fourth = await a.check("water", pw("guess-3"), "10.0.0.66");
    expect(fourth).toMatchObject({ ok: false, kind: "wrong", waitMs: 1000 });
    expect(v.calls).toHaveLength(4);
    for (let i = 0; i < 1000; i++) expect(await a.check("water", pw(`guess-x${i}`), "10.0.0.66")).toMatchObject({ ok: false, kind: "throttled" });
    expect(v.calls).toHaveLength(4);
    // Even the right secret is not looked at from a throttled address; another address is unaffected.
    expect(await a.check("water", pw(SECRET), "10.0.0.66")).toMatchObject({ ok: false, kind: "throttled" });
    expect(await a.check("battery", pw("plain-pw-battery"), "10.0.0.66")).toMatchObject({ ok: false, kind: "throttled" });
    expect(okAs(await a.check("water", pw(SECRET), "10.0.0.5"))).toEqual({ role: "device", deviceId: "water" });
    now += 1000;
    expect(await a.check("water", pw("guess-4"), "10.0.0.66")).toMatchObject({ ok: false, kind: "wrong", waitMs: 2000 });
  });

  it("hashes one at a time, caps what waits, and refuses queued guesses unhashed once their address is throttled", async () => {
    const v = countingVerifier();
    v.holdEach();
    const { a } = accounts(v.verify, () => 0, { maxWaiting: 5, maxWaitingPerAddress: 2 });
    // One guesser opens many CONNECTs at once: one runs, two wait, the rest are refused as busy.
    const burst = Array.from({ length: 10 }, (_, i) => a.check("water", pw(`guess-${i}`), "10.0.0.66"));
    await until(() => v.calls.length === 1);
    expect(a.pending).toBe(3);
    const settled = await Promise.all(burst.slice(3));
    expect(settled.every((r) => !r.ok && r.kind === "busy")).toBe(true);
    // Other addresses queue behind it, up to the total.
    const others = Array.from({ length: 3 }, (_, i) => a.check("water", pw(`other-${i}`), `10.0.1.${i}`));
    const refused = await a.check("water", pw("late"), "10.0.2.1");
    expect(refused).toMatchObject({ ok: false, kind: "busy" });
    expect(v.calls).toHaveLength(1);
    // Let them run one by one; never two scrypts at once.
    while (a.pending > 0) {
      const before = v.calls.length;
      v.releaseAll();
      await until(() => v.calls.length > before || a.pending === 0);
    }
    expect(v.load.max).toBe(1);
    await Promise.all([...burst.slice(0, 3), ...others]);
    expect(v.calls).toHaveLength(6);
    expect(a.stats.busy).toBe(8);

    // Three free failures used up by 10.0.0.77's queued guesses: the fourth, still queued, is refused unhashed.
    const v2 = countingVerifier();
    v2.holdEach();
    const { a: b, backoff } = accounts(v2.verify, () => 0, { maxWaiting: 8, maxWaitingPerAddress: 8 });
    const guesses = Array.from({ length: 6 }, (_, i) => b.check("water", pw(`g-${i}`), "10.0.0.77"));
    backoff.failed("10.0.0.77", 0);
    backoff.failed("10.0.0.77", 0);
    backoff.failed("10.0.0.77", 0);
    backoff.failed("10.0.0.77", 0);
    await until(() => v2.calls.length === 1);
    v2.releaseAll();
    const results = await Promise.all(guesses);
    expect(results[0]).toMatchObject({ ok: false, kind: "wrong" });
    expect(results.slice(1).every((r) => !r.ok && r.kind === "throttled")).toBe(true);
    expect(v2.calls).toHaveLength(1);
  });

  it("a verifier that throws is a refusal, never an accepted login or a crash", async () => {
    const { a } = accounts(() => Promise.reject(new Error("pool gone")));
    expect(await a.check("water", pw(SECRET), "10.0.0.5")).toMatchObject({ ok: false, kind: "wrong" });
  });
});

async function until(pred: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setImmediate(r));
  }
}
