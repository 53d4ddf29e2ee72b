import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { AlarmBook } from "../core/alarms/alarms.ts";
import { Bus } from "../core/bus.ts";
import { ManualClock } from "../core/clock.ts";
import { HubError } from "../core/errors.ts";
import { silentLogger } from "../core/logger.ts";
import { SessionsConfig, UsersConfig } from "../config/users.ts";
import { SqliteAuditLog } from "../storage/audit.ts";
import { openDatabase, type Database } from "../storage/db.ts";
import { AuthService, hashSecret, verifySecret } from "./auth.ts";
import { REFUSAL_ACTION, RefusalLedger } from "./refusals.ts";
import { registerSessionRoutes } from "./routes/session.ts";

const MIN = 60_000;
const CHEAP = 2 ** 10;

const INSTRUCTOR_MINUTES = SessionsConfig.parse({}).instructorMinutes;

function makeAuth(sessions: Partial<SessionsConfig> = {}) {
  const clock = new ManualClock();
  const users = UsersConfig.parse([
    { name: "juf-anne", role: "instructor", pin: "4321" },
    { name: "tech", role: "technician", password: "technician" },
    { name: "meester-bob", role: "instructor", secretHash: hashSecret("9876", CHEAP) },
  ]);
  const alarms = new AlarmBook({ clock, bus: new Bus(silentLogger), store: { save: () => undefined, load: () => [] } });
  const auth = new AuthService({ clock, logger: silentLogger, users, sessions: SessionsConfig.parse(sessions), alarms });
  return { clock, auth, alarms };
}

/** The code of the HubError `fn` throws or rejects with, or "returned". */
async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
    return "returned";
  } catch (e) {
    return e instanceof HubError ? e.code : `not a HubError: ${String(e)}`;
  }
}

async function errorOf(fn: () => unknown): Promise<HubError> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof HubError) return e;
  }
  throw new Error("expected a HubError");
}

describe("hashSecret / verifySecret", () => {
  it("verifies the right secret, refuses a wrong one and a malformed hash without throwing", async () => {
    const h = hashSecret("correct horse", CHEAP);
    expect(h).toMatch(/^scrypt\$1024\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await verifySecret("correct horse", h)).toBe(true);
    expect(await verifySecret("correct hors", h)).toBe(false);
    expect(await verifySecret("", h)).toBe(false);
    for (const bad of ["", "plain", "scrypt$1000$c2FsdHNhbHQ=$aGFzaA==", "scrypt$1024$$", "bcrypt$10$x$y"]) expect(await verifySecret("x", bad)).toBe(false);
  });

  it("salts every hash", () => {
    expect(hashSecret("4321", CHEAP)).not.toBe(hashSecret("4321", CHEAP));
  });
});

describe("users config", () => {
  const messages = (input: unknown) => {
    const r = UsersConfig.safeParse(input);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };

  it("accepts the demo users and defaults to nobody", () => {
    expect(messages([{ name: "juf-anne", role: "instructor", pin: "4321" }, { name: "tech", role: "technician", password: "technician" }])).toEqual([]);
    expect(UsersConfig.parse(undefined)).toEqual([]);
  });

  it.each([
    [[{ name: "a", role: "instructor", pin: "12a4" }], "0.pin: must be 4 to 8 digits"],
    [[{ name: "a", role: "instructor", pin: "123" }], "0.pin: must be 4 to 8 digits"],
    [[{ name: "a", role: "technician", password: "short" }], "0.password: must be at least 8 characters"],
    [[{ name: "a", role: "instructor", password: "technician" }], 'Unrecognized key: "password"'],
    [[{ name: "a", role: "instructor" }], "0.pin: an instructor needs a pin or a secretHash"],
    [[{ name: "a", role: "technician", password: "technician", secretHash: hashSecret("x", CHEAP) }], "0.secretHash: give either password or secretHash"],
    [[{ name: "a", role: "technician", secretHash: "scrypt$1000$c2FsdHNhbHQ=$aGFzaGhhc2hoYXNoaGFzaA==" }], "N must be a power of two"],
    [[{ name: "a", role: "kiosk" }], "0.role"],
    [[{ name: "kiosk", role: "instructor", pin: "1234" }], "0.name: is reserved"],
    [[{ name: "a", role: "instructor", pin: "1234" }, { name: "a", role: "technician", password: "technician" }], '1.name: duplicate user name "a" (also users.0)'],
  ])("refuses %j naming the field", (input, expected) => {
    expect(messages(input).join("\n")).toContain(expected);
  });

  it("sessions default to the documented values and refuse unknown keys", () => {
    const defaults = { instructorMinutes: 540, technicianMinutes: 480, freeFailures: 3, backoffSeconds: 2, maxBackoffSeconds: 900, guessBudget: 20, failureMemoryHours: 12 };
    expect(SessionsConfig.parse(undefined)).toEqual(defaults);
    expect(SessionsConfig.parse({})).toEqual(defaults);
    expect(SessionsConfig.safeParse({ instructorMinutes: 0 }).success).toBe(false);
    expect(SessionsConfig.safeParse({ lockoutMinutes: 1 }).success).toBe(false);
    expect(SessionsConfig.safeParse({ maxFailures: 5 }).success).toBe(false);
    const r = SessionsConfig.safeParse({ backoffSeconds: 60, maxBackoffSeconds: 30 });
    expect(r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`)).toEqual(["backoffSeconds: must not be longer than maxBackoffSeconds"]);
  });
});

describe("AuthService", () => {
  it("logs in with a PIN, a password or a configured hash, and hands out 32-byte base64url tokens", async () => {
    const { clock, auth } = makeAuth();
    const a = await auth.login("juf-anne", "4321", "10.0.0.2");
    expect(a.actor).toEqual({ name: "juf-anne", role: "instructor" });
    expect(a.expiresAt).toBe(clock.now() + INSTRUCTOR_MINUTES * MIN);
    expect(a.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.token, "base64url")).toHaveLength(32);
    const t = await auth.login("Tech ", "technician", "10.0.0.2");
    expect(t.actor).toEqual({ name: "tech", role: "technician" });
    expect(t.expiresAt).toBe(clock.now() + 480 * MIN);
    expect((await auth.login("meester-bob", "9876", "10.0.0.2")).actor.role).toBe("instructor");
    expect(auth.actorFor(a.token)).toEqual({ name: "juf-anne", role: "instructor" });
  });

  it("refuses a wrong PIN and an unknown name with the same message", async () => {
    const { auth } = makeAuth();
    const wrongPin = await errorOf(() => auth.login("juf-anne", "1234", "10.0.0.2"));
    const wrongName = await errorOf(() => auth.login("juf-anna", "4321", "10.0.0.3"));
    expect([wrongPin.code, wrongPin.message]).toEqual(["UNAUTHENTICATED", "wrong name or PIN/password"]);
    expect([wrongName.code, wrongName.message]).toEqual(["UNAUTHENTICATED", "wrong name or PIN/password"]);
    // A PIN is not a password: an instructor's PIN does not open the technician account.
    expect(await codeOf(() => auth.login("tech", "4321", "10.0.0.4"))).toBe("UNAUTHENTICATED");
  });

  it("is a kiosk without a token, with an unknown or absurd one", () => {
    const { auth } = makeAuth();
    for (const token of [undefined, "", "nope", "x".repeat(10_000)]) {
      expect(auth.actorFor(token)).toEqual({ name: "kiosk", role: "kiosk" });
      expect(auth.session(token)).toBeNull();
    }
  });

  it("ends an instructor's session the configured minutes after login (540 by default) however much it is used (no sliding)", async () => {
    const { clock, auth } = makeAuth();
    const { token, expiresAt } = await auth.login("juf-anne", "4321", "10.0.0.2");
    for (let i = 0; i < INSTRUCTOR_MINUTES - 1; i++) {
      clock.advance(MIN);
      expect(auth.actorFor(token).role).toBe("instructor");
    }
    expect(auth.session(token)?.expiresAt).toBe(expiresAt);
    clock.advance(MIN);
    expect(auth.actorFor(token)).toEqual({ name: "kiosk", role: "kiosk" });
    expect(auth.session(token)).toBeNull();
  });

  it("logs out", async () => {
    const { auth } = makeAuth();
    const { token } = await auth.login("tech", "technician", "10.0.0.2");
    expect(auth.logout(token)).toBe(true);
    expect(auth.logout(token)).toBe(false);
    expect(auth.actorFor(token).role).toBe("kiosk");
  });

  it("makes an address wait after its free failures, even for the right secret, and lets every other address in", async () => {
    const { clock, auth } = makeAuth();
    for (let i = 0; i < 4; i++) expect(await codeOf(() => auth.login(`guess-${i}`, "0000", "10.0.0.66"))).toBe("UNAUTHENTICATED");
    const refused = await errorOf(() => auth.login("juf-anne", "4321", "10.0.0.66"));
    expect(refused.code).toBe("RATE_LIMITED");
    expect(refused.message).toBe("too many failed logins from this address; try again in 2 s");
    expect(refused.details).toEqual({ retryAfterS: 2 });
    expect((await auth.login("juf-anne", "4321", "10.0.0.2")).actor.role).toBe("instructor");
    clock.advance(2000);
    expect((await auth.login("juf-anne", "4321", "10.0.0.66")).actor.role).toBe("instructor");
  });

  it("never locks a name: wrong PINs from many addresses leave the right PIN working from a clean one", async () => {
    const { auth } = makeAuth();
    for (let i = 0; i < 12; i++) expect(await codeOf(() => auth.login("juf-anne", "0000", `10.0.1.${i}`))).toBe("UNAUTHENTICATED");
    expect((await auth.login("juf-anne", "4321", "10.0.2.1")).actor.role).toBe("instructor");
  });

  it("treats an unknown name like a known one at the address, so the wait does not tell which names exist", async () => {
    const { auth } = makeAuth();
    for (let i = 0; i < 4; i++) expect(await codeOf(() => auth.login("nobody", "0000", "10.0.3.1"))).toBe("UNAUTHENTICATED");
    for (let i = 0; i < 4; i++) expect(await codeOf(() => auth.login("juf-anne", "0000", "10.0.3.2"))).toBe("UNAUTHENTICATED");
    expect((await errorOf(() => auth.login("nobody", "0000", "10.0.3.1"))).message).toBe((await errorOf(() => auth.login("juf-anne", "0000", "10.0.3.2"))).message);
  });

  it("forgets failures after the memory, and a good login forgives that name's typos from that address only", async () => {
    const { clock, auth } = makeAuth();
    for (let i = 0; i < 3; i++) await codeOf(() => auth.login("juf-anne", "0000", "10.0.0.7"));
    expect(auth.stats().trackedFailures).toBe(1);
    clock.advance(12 * 3_600_000 + 1);
    auth.purge();
    expect(auth.stats().trackedFailures).toBe(0);
    // Three typos, then the right PIN: the address is clean again.
    for (let i = 0; i < 3; i++) await codeOf(() => auth.login("juf-anne", "0000", "10.0.0.8"));
    expect((await auth.login("juf-anne", "4321", "10.0.0.8")).actor.role).toBe("instructor");
    expect(auth.stats().trackedFailures).toBe(0);
    // Guesses at another name stay counted after a good login: the next wrong one waits.
    for (let i = 0; i < 3; i++) await codeOf(() => auth.login("tech", "wrong-password", "10.0.0.9"));
    expect((await auth.login("juf-anne", "4321", "10.0.0.9")).actor.role).toBe("instructor");
    expect(await codeOf(() => auth.login("tech", "wrong-password", "10.0.0.9"))).toBe("UNAUTHENTICATED");
    expect(await codeOf(() => auth.login("tech", "technician", "10.0.0.9"))).toBe("RATE_LIMITED");
  });

  it("purges expired sessions and old failures on its clock, so memory stays bounded", async () => {
    const { clock, auth } = makeAuth({ instructorMinutes: 5 });
    auth.start();
    for (let i = 0; i < 10; i++) await auth.login("juf-anne", "4321", "10.0.0.2");
    await codeOf(() => auth.login("juf-anne", "0000", "10.0.0.3"));
    expect(auth.stats()).toEqual({ sessions: 10, trackedFailures: 1, guardedAccounts: [], waitingLogins: 0 });
    clock.advance(6 * MIN);
    expect(auth.stats()).toMatchObject({ sessions: 0, trackedFailures: 1 });
    clock.advance(12 * 60 * MIN);
    expect(auth.stats()).toEqual({ sessions: 0, trackedFailures: 0, guardedAccounts: [], waitingLogins: 0 });
    auth.stop();
  });

  it("keeps at most 20 sessions per user, dropping the oldest", async () => {
    const { clock, auth } = makeAuth();
    const first = (await auth.login("tech", "technician", "10.0.0.2")).token;
    clock.advance(1000);
    for (let i = 0; i < 20; i++) await auth.login("tech", "technician", "10.0.0.2");
    expect(auth.stats().sessions).toBe(20);
    expect(auth.actorFor(first).role).toBe("kiosk");
  });

  it("counts guesses sent all at once like guesses sent one by one, and takes at most 4 at once from an address", async () => {
    const { auth } = makeAuth();
    const guesses = Array.from({ length: 8 }, (_, i) => codeOf(() => auth.login("juf-anne", `000${i}`, "10.0.0.70")));
    const right = codeOf(() => auth.login("juf-anne", "4321", "10.0.0.70"));
    // The first 4 wait their turn and are checked one by one; the others are refused at once.
    expect(await Promise.all(guesses)).toEqual([...Array<string>(4).fill("UNAUTHENTICATED"), ...Array<string>(4).fill("RATE_LIMITED")]);
    expect(await right).toBe("RATE_LIMITED");
    // 4 failures: the address now waits, as it would after 4 guesses one by one.
    expect((await errorOf(() => auth.login("juf-anne", "4321", "10.0.0.70"))).message).toBe("too many failed logins from this address; try again in 2 s");
  });

  it("checks the secret off the event loop, which keeps turning meanwhile", async () => {
    const { auth } = makeAuth();
    let turns = 0;
    let done = false;
    const spin = () => {
      if (done) return;
      turns += 1;
      setImmediate(spin);
    };
    const login = auth.login("juf-anne", "4321", "10.0.0.2").finally(() => (done = true));
    setImmediate(spin);
    expect((await login).actor.role).toBe("instructor");
    expect(turns).toBeGreaterThan(0);
  });

  it("refuses logins beyond 16 waiting their turn (and the one being checked) instead of queueing them without bound", async () => {
    const { auth } = makeAuth();
    const attempts = Array.from({ length: 18 }, (_, i) => codeOf(() => auth.login("tech", "technician", `10.0.4.${i}`)));
    const codes = await Promise.all(attempts);
    expect(codes.slice(0, 17)).toEqual(Array<string>(17).fill("returned"));
    expect(codes[17]).toBe("RATE_LIMITED");
    expect(await codeOf(() => auth.login("tech", "technician", "10.0.4.99"))).toBe("returned");
  });
});

describe("session routes", () => {
  let app: FastifyInstance | undefined;
  let db: Database | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
    db?.close();
    db = undefined;
  });

  async function makeApp() {
    const made = makeAuth();
    db = openDatabase(":memory:");
    const audit = new SqliteAuditLog(db);
    const refusals = new RefusalLedger({ clock: made.clock, audit, logger: silentLogger });
    app = Fastify();
    registerSessionRoutes(app, { auth: made.auth, audit, clock: made.clock, refusals });
    await app.ready();
    return { ...made, app, audit, db, refusals };
  }

  it("audits logins and logouts, counts wrong secrets per address and minute, and never stores a secret", async () => {
    const { clock, app, audit, refusals } = await makeApp();
    refusals.start();
    const wrong = await app.inject({ method: "POST", url: "/api/login", remoteAddress: "10.0.0.7", payload: { name: "Juf-Anne", secret: "8642" } });
    expect(wrong.statusCode).toBe(401);
    const login = await app.inject({ method: "POST", url: "/api/login", remoteAddress: "10.0.0.7", payload: { name: "juf-anne", secret: "4321" } });
    const { token } = login.json<{ result: { token: string } }>().result;
    await app.inject({ method: "POST", url: "/api/logout", remoteAddress: "10.0.0.7", headers: { authorization: `Bearer ${token}` } });
    // A second logout with the same token ends nothing and records nothing.
    await app.inject({ method: "POST", url: "/api/logout", headers: { authorization: `Bearer ${token}` } });
    clock.advance(MIN);
    const records = audit.query({}).records.reverse();
    expect(records.map((r) => [r.action, r.actor.name, r.actor.role, r.target, r.result, r.details?.from])).toEqual([
      ["session.login", "juf-anne", "instructor", "juf-anne", "ok", "10.0.0.7"],
      ["session.logout", "juf-anne", "instructor", "juf-anne", "ok", "10.0.0.7"],
      [REFUSAL_ACTION, "kiosk", "kiosk", "10.0.0.7", "refused", "10.0.0.7"],
    ]);
    expect(records[0]?.details?.expiresAt).toBe(clock.now() - MIN + INSTRUCTOR_MINUTES * MIN);
    expect(records[2]?.details).toMatchObject({ count: 1, actions: { "session.login": 1 }, names: { "juf-anne": 1 } });
    expect(JSON.stringify(records)).not.toContain("4321");
    expect(JSON.stringify(records)).not.toContain("8642");
  });

  it("gives no session when its audit record cannot be written, and says why", async () => {
    const { app, auth, db } = await makeApp();
    db.close();
    const res = await app.inject({ method: "POST", url: "/api/login", payload: { name: "juf-anne", secret: "4321" } });
    expect(res.statusCode).toBeGreaterThanOrEqual(500);
    expect(res.json<{ ok: boolean; code: string }>()).toMatchObject({ ok: false, code: "STORAGE_FAILED" });
    expect(auth.stats().sessions).toBe(0);
  });

  it("logs in, says who is logged in, and logs out", async () => {
    const { clock, app } = await makeApp();
    const login = await app.inject({ method: "POST", url: "/api/login", payload: { name: "juf-anne", secret: "4321" } });
    expect(login.statusCode).toBe(200);
    expect(login.headers["cache-control"]).toBe("no-store");
    const body = login.json<{ ok: true; result: { token: string; role: string; name: string; expiresAt: number } }>();
    expect(body).toEqual({ ok: true, result: { token: expect.any(String) as string, role: "instructor", name: "juf-anne", expiresAt: clock.now() + INSTRUCTOR_MINUTES * MIN } });
    const authorization = `Bearer ${body.result.token}`;
    const who = await app.inject({ method: "GET", url: "/api/session", headers: { authorization } });
    expect(who.json()).toEqual({ ok: true, result: { name: "juf-anne", role: "instructor", expiresAt: body.result.expiresAt } });
    const out = await app.inject({ method: "POST", url: "/api/logout", headers: { authorization } });
    expect(out.json()).toEqual({ ok: true, result: { loggedOut: true } });
    const after = await app.inject({ method: "GET", url: "/api/session", headers: { authorization } });
    expect(after.json()).toEqual({ ok: true, result: { name: "kiosk", role: "kiosk", expiresAt: null } });
  });

  it.each([
    [{ name: "juf-anne" }, "secret"],
    [{ name: 7, secret: "4321" }, "name"],
    [{ name: "juf-anne", secret: "4321", role: "technician" }, "role"],
  ])("answers 400 naming the field for %j", async (payload, field) => {
    const { app } = await makeApp();
    const res = await app.inject({ method: "POST", url: "/api/login", payload });
    expect(res.statusCode).toBe(400);
    const body = res.json<{ ok: false; code: string; message: string }>();
    expect(body.code).toBe("REQUEST_INVALID");
    expect(body.message).toContain(field);
  });

  it("answers 401 for a wrong PIN and 429 with retry-after while the address waits", async () => {
    const { clock, app } = await makeApp();
    const attempt = (secret: string) => app.inject({ method: "POST", url: "/api/login", remoteAddress: "10.0.0.99", payload: { name: "juf-anne", secret } });
    for (let i = 0; i < 5; i++) {
      const res = await attempt("0000");
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ ok: false, code: "UNAUTHENTICATED", message: "wrong name or PIN/password" });
      // Failure 4 is the first beyond the free three: 2 s.
      if (i === 3) clock.advance(2000);
    }
    // Failure 5 is the second: 4 s.
    const waiting = await attempt("4321");
    expect(waiting.statusCode).toBe(429);
    expect(waiting.headers["retry-after"]).toBe("4");
    expect(waiting.json<{ code: string }>().code).toBe("RATE_LIMITED");
    clock.advance(4000);
    expect((await attempt("4321")).statusCode).toBe(200);
  });

  it("refuses a body larger than a login with 413", async () => {
    const { app } = await makeApp();
    const res = await app.inject({ method: "POST", url: "/api/login", payload: { name: "juf-anne", secret: "4".repeat(5000) } });
    expect(res.statusCode).toBe(413);
  });
});
