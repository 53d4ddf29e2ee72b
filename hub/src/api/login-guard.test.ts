/**
 * Finding 4 of issue 10 ("the instructor can be locked out"): backoff per address, a guess budget
 * per account with an alarm, and a login queue that junk from many addresses cannot clog. The
 * hashes are cheap (N = 1024) so that hundreds of real scrypt checks take milliseconds.
 */
import { describe, expect, it } from "vitest";
import { AlarmBook } from "../core/alarms/alarms.ts";
import { Bus } from "../core/bus.ts";
import { ManualClock } from "../core/clock.ts";
import { HubError } from "../core/errors.ts";
import { type Logger, silentLogger } from "../core/logger.ts";
import { SessionsConfig, UsersConfig } from "../config/users.ts";
import { clientKey } from "./address.ts";
import { AuthService, hashSecret } from "./auth.ts";
import { guessingAlarm, LoginGuard } from "./login-guard.ts";

const CHEAP = 2 ** 10;
const HOUR = 3_600_000;

function setup(sessions: Partial<SessionsConfig> = {}) {
  const clock = new ManualClock();
  const alarms = new AlarmBook({ clock, bus: new Bus(silentLogger), store: { save: () => undefined, load: () => [] } });
  const logged: string[] = [];
  const logger: Logger = {
    debug: (_o, msg) => logged.push(msg ?? ""),
    info: (_o, msg) => logged.push(msg ?? ""),
    warn: (_o, msg) => logged.push(msg ?? ""),
    error: (_o, msg) => logged.push(msg ?? ""),
    child: () => logger,
  };
  const users = UsersConfig.parse([
    { name: "begeleider", role: "instructor", secretHash: hashSecret("246810", CHEAP) },
    { name: "technicus", role: "technician", secretHash: hashSecret("technician", CHEAP) },
  ]);
  const auth = new AuthService({ clock, logger, users, sessions: SessionsConfig.parse(sessions), alarms });
  return { clock, alarms, auth, logged };
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return e instanceof HubError ? e.code : `not a HubError: ${String(e)}`;
  }
}

describe("LoginGuard backoff", () => {
  it("gives 3 free failures, then waits of 2, 4, 8 … s capped at 900 s, per address only", () => {
    const clock = new ManualClock();
    const guard = new LoginGuard({ logger: silentLogger, sessions: SessionsConfig.parse({}), alarms: { raise: () => undefined as never, clear: () => undefined } });
    const waits: number[] = [];
    for (let i = 0; i < 14; i++) {
      expect(guard.refusal("10.0.0.2", "begeleider", clock.now())).toBeNull();
      guard.failed("10.0.0.2", "begeleider", true, clock.now());
      const refusal = guard.refusal("10.0.0.2", "begeleider", clock.now());
      const wait = refusal === null ? 0 : (refusal.details as { retryAfterS: number }).retryAfterS;
      waits.push(wait);
      // Another address is never affected.
      expect(guard.refusal("10.0.0.3", "begeleider", clock.now())).toBeNull();
      clock.advance(wait * 1000);
    }
    expect(waits).toEqual([0, 0, 0, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
  });

  it("ranks an address that logged in lately first, then a clean one, then one with failures", () => {
    const clock = new ManualClock();
    const guard = new LoginGuard({ logger: silentLogger, sessions: SessionsConfig.parse({}), alarms: { raise: () => undefined as never, clear: () => undefined } });
    guard.succeeded("10.0.0.1", "begeleider", clock.now());
    guard.failed("10.0.0.3", "x", false, clock.now());
    expect([guard.rank("10.0.0.1", clock.now()), guard.rank("10.0.0.2", clock.now()), guard.rank("10.0.0.3", clock.now())]).toEqual([0, 1, 2]);
    clock.advance(8 * 24 * HOUR);
    guard.purge(clock.now());
    expect([guard.rank("10.0.0.1", clock.now()), guard.rank("10.0.0.3", clock.now())]).toEqual([1, 1]);
  });
});

describe("AuthService under guessing", () => {
  it("after 5 wrong PINs from 127.0.0.2 the right PIN from 127.0.0.3 logs in at once", async () => {
    const { auth } = setup();
    const tries: string[] = [];
    for (let i = 0; i < 5; i++) tries.push(await outcome(auth.login("begeleider", `00000${i}`, "127.0.0.2")));
    expect(tries).toEqual(["UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED", "UNAUTHENTICATED", "RATE_LIMITED"]);
    expect(await outcome(auth.login("begeleider", "246810", "127.0.0.2"))).toBe("RATE_LIMITED");
    expect((await auth.login("begeleider", "246810", "127.0.0.3")).actor).toEqual({ name: "begeleider", role: "instructor" });
  });

  it("refuses an address in backoff before any hashing", async () => {
    const { auth, logged } = setup();
    for (let i = 0; i < 4; i++) await outcome(auth.login("begeleider", "000000", "10.0.0.9"));
    expect(logged.filter((m) => m === "login failed")).toHaveLength(4);
    logged.length = 0;
    for (let i = 0; i < 50; i++) expect(await outcome(auth.login("begeleider", "000000", "10.0.0.9"))).toBe("RATE_LIMITED");
    expect(logged.filter((m) => m === "login failed")).toHaveLength(0);
    expect(logged.filter((m) => m === "login refused before checking")).toHaveLength(50);
  });

  it("raises an alarm when an account's guess budget is spent, then lets only clean addresses try it, and lifts the guard when the guesses age out", async () => {
    const { auth, alarms, clock } = setup();
    // 3 from one address (its free failures), then one each from 17 more: 20, the budget.
    for (let i = 0; i < 3; i++) expect(await outcome(auth.login("begeleider", "111111", "10.1.0.1"))).toBe("UNAUTHENTICATED");
    for (let i = 2; i < 19; i++) {
      expect(alarms.get(guessingAlarm("begeleider"))).toBeUndefined();
      expect(await outcome(auth.login("Begeleider", `1111${String(i).padStart(2, "0")}`, `10.1.0.${i}`))).toBe("UNAUTHENTICATED");
    }
    const alarm = alarms.get(guessingAlarm("begeleider"));
    expect(alarm).toMatchObject({ active: true, severity: "warning", source: "auth" });
    expect(alarm?.message.en).toBe("Someone is guessing the PIN or password of begeleider: 20 wrong attempts within 12 h. Only addresses without earlier wrong attempts may still try it.");
    expect(auth.stats().guardedAccounts).toEqual(["begeleider"]);
    // The address that used its free failures may not try the guarded account, even with the right PIN…
    expect(await outcome(auth.login("begeleider", "246810", "10.1.0.1"))).toBe("RATE_LIMITED");
    // …but it may still log in as someone else, and an address with a failure left may still try.
    expect(await outcome(auth.login("technicus", "technician", "10.1.0.1"))).toBe("ok");
    expect(await outcome(auth.login("begeleider", "999999", "10.1.0.2"))).toBe("UNAUTHENTICATED");
    // The real instructor from a clean address logs in; that does not undo the attacker's guesses.
    expect((await auth.login("begeleider", "246810", "10.2.0.1")).actor.role).toBe("instructor");
    expect(auth.stats().guardedAccounts).toEqual(["begeleider"]);
    clock.advance(12 * HOUR + 1);
    auth.purge();
    expect(auth.stats().guardedAccounts).toEqual([]);
    expect(alarms.get(guessingAlarm("begeleider"))).toMatchObject({ active: false });
    expect(await outcome(auth.login("begeleider", "246810", "10.1.0.1"))).toBe("ok");
  });

  it("clears a guessing alarm left from before a restart when it starts: guards live in memory only", () => {
    const { auth, alarms } = setup();
    alarms.raise(guessingAlarm("begeleider"), "warning", "auth", { nl: "x", en: "x" });
    auth.start();
    expect(alarms.get(guessingAlarm("begeleider"))?.active).toBe(false);
    auth.stop();
  });

  it("bounds what a whole /24 can guess in a school day: the budget plus 3 per address", async () => {
    const { auth, clock } = setup();
    let checked = 0;
    // Every address of a /24 guesses as fast as the backoff lets it, waiting out every wait under an hour.
    for (let host = 1; host <= 254; host++) {
      for (;;) {
        const r = await auth.login("begeleider", "000000", `10.3.0.${host}`).then(
          () => null,
          (e: unknown) => e,
        );
        if (r instanceof HubError && r.code === "UNAUTHENTICATED") {
          checked += 1;
          continue;
        }
        const retryAfterS = r instanceof HubError ? (r.details as { retryAfterS: number }).retryAfterS : Infinity;
        if (retryAfterS >= 3600) break;
        clock.advance(retryAfterS * 1000);
      }
    }
    // The first address spends the budget (20, over 2.3 h of backoff); each other address gets its 3 free failures.
    expect(checked).toBe(20 + 3 * 253);
    expect(checked).toBeLessThanOrEqual(20 + 3 * 254);
    expect(clock.now() - Date.UTC(2026, 10, 2, 9)).toBeLessThan(12 * HOUR);
  });

  it("lets a login from a clean address through a queue full of junk from many addresses", async () => {
    const { auth } = setup();
    // 30 addresses that have each failed once: their further logins rank last.
    for (let i = 1; i <= 30; i++) await outcome(auth.login("begeleider", "000000", `10.4.0.${i}`));
    const order: string[] = [];
    const junk = Array.from({ length: 30 }, (_, i) =>
      outcome(auth.login("begeleider", "000000", `10.4.0.${i + 1}`)).then((r) => {
        order.push(`junk ${r}`);
        return r;
      }),
    );
    const real = auth.login("begeleider", "246810", "10.4.1.1").then((r) => {
      order.push("real ok");
      return r;
    });
    expect((await real).actor.role).toBe("instructor");
    const junkOutcomes = await Promise.all(junk);
    // At most the one being checked when the real login came goes before it.
    expect(order.filter((o) => o !== "junk RATE_LIMITED").indexOf("real ok")).toBeLessThanOrEqual(1);
    // At most 1 being checked and 16 waiting were taken; the real one pushed out the newest of them.
    expect(junkOutcomes.filter((r) => r === "UNAUTHENTICATED").length).toBeLessThanOrEqual(16);
    expect(junkOutcomes.filter((r) => r === "UNAUTHENTICATED").length + junkOutcomes.filter((r) => r === "RATE_LIMITED").length).toBe(30);
  });

  it("puts an address that logged in lately ahead of a queue full of clean strangers", async () => {
    const { auth } = setup();
    await auth.login("begeleider", "246810", "10.5.0.1");
    const order: string[] = [];
    const strangers = Array.from({ length: 20 }, (_, i) => outcome(auth.login("technicus", "wrong-password", `10.5.1.${i}`)).then((r) => order.push(`stranger ${r}`)));
    const tablet = auth.login("begeleider", "246810", "10.5.0.1").then(() => order.push("tablet"));
    await Promise.all([...strangers, tablet]);
    expect(order.filter((o) => o !== "stranger RATE_LIMITED").indexOf("tablet")).toBeLessThanOrEqual(1);
    expect(order).toContain("stranger RATE_LIMITED");
  });
});

describe("clientKey", () => {
  it.each([
    ["127.0.0.2", "127.0.0.2"],
    ["::ffff:10.0.0.7", "10.0.0.7"],
    ["2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"],
    ["2001:db8:1:2::1", "2001:db8:1:2::/64"],
    ["2001:0db8:0001:0002:0:0:0:9", "2001:db8:1:2::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    [undefined, "unknown"],
  ])("keys %s as %s", (ip, key) => {
    expect(clientKey(ip)).toBe(key);
  });
});
