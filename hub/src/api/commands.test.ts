import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import { Server } from "socket.io";
import { io as connect, type Socket as ClientSocket } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { AuditEntry, AuditLog, AuditRecord } from "../core/audit.ts";
import { AlarmBook } from "../core/alarms/alarms.ts";
import { Bus } from "../core/bus.ts";
import { ManualClock } from "../core/clock.ts";
import { HubError, type Reply } from "../core/errors.ts";
import { silentLogger } from "../core/logger.ts";
import type { Actor } from "../core/types.ts";
import { SessionsConfig, UsersConfig } from "../config/users.ts";
import { AuthService } from "./auth.ts";
import { CommandRegistry, MAX_LATEST_TARGETS } from "./commands.ts";
import { REFUSAL_ACTION, RefusalLedger } from "./refusals.ts";
import { attachLiveCommands, COMMAND_EVENTS } from "./live-commands.ts";
import { registerCommandRoutes } from "./routes/commands.ts";
import { registerSessionRoutes } from "./routes/session.ts";

/** An audit log in memory that writes into the same event list as the commands, to show the order. */
class FakeAudit implements AuditLog {
  readonly entries: AuditRecord[] = [];
  failWith: Error | null = null;
  constructor(private readonly events: string[]) {}
  append(entry: AuditEntry): number {
    if (this.failWith !== null) throw this.failWith;
    this.events.push(`audit ${entry.action} ${entry.result}`);
    this.entries.push({ ...entry, seq: this.entries.length + 1 });
    return this.entries.length;
  }
}

const tech: Actor = { name: "tech", role: "technician" };
const anne: Actor = { name: "juf-anne", role: "instructor" };
const kiosk: Actor = { name: "kiosk", role: "kiosk" };

function setup() {
  const clock = new ManualClock();
  const events: string[] = [];
  const audit = new FakeAudit(events);
  const refusals = new RefusalLedger({ clock, audit, logger: silentLogger }, { perAddressPerMinute: 5 });
  const commands = new CommandRegistry({ clock, audit, logger: silentLogger, refusals });
  commands.register({
    name: "interlock.reset",
    summary: "Resets a latched interlock",
    roles: ["technician"],
    params: z.object({ rule: z.string().min(1) }).strict(),
    target: (p) => p.rule,
    run: (p, ctx) => {
      events.push(`run interlock.reset ${p.rule} by ${ctx.actor.name}`);
      return { reset: p.rule, at: ctx.at };
    },
  });
  commands.register({
    name: "relay.set",
    summary: "Switches a relay",
    roles: ["instructor", "technician"],
    params: z.object({ relay: z.string(), on: z.boolean() }).strict(),
    target: (p) => p.relay,
    run: async (p) => {
      await Promise.resolve();
      events.push(`run relay.set ${p.relay}`);
      if (p.relay === "tripped") throw new HubError("INTERLOCK_TRIPPED", "water-leak is tripped");
      if (p.relay === "slow") throw new HubError("DEVICE_TIMEOUT", "no ack within 3000 ms");
      if (p.relay === "broken") throw new TypeError("relay driver crashed");
      return { relay: p.relay, on: p.on };
    },
  });
  const users = UsersConfig.parse([
    { name: "juf-anne", role: "instructor", pin: "4321" },
    { name: "tech", role: "technician", password: "technician" },
  ]);
  const auth = new AuthService({ clock, logger: silentLogger, users, sessions: SessionsConfig.parse({}), alarms: new AlarmBook({ clock, bus: new Bus(silentLogger), store: { save: () => undefined, load: () => [] } }) });
  return { clock, events, audit, commands, auth, refusals };
}

describe("CommandRegistry", () => {
  it("refuses a duplicate or malformed name and lists what it has", () => {
    const { commands } = setup();
    const def = { name: "relay.set", summary: "again", roles: ["technician"] as const, params: z.object({}), target: () => "*", run: () => null };
    expect(() => commands.register(def)).toThrow('command "relay.set" is registered twice');
    expect(() => commands.register({ ...def, name: "reset" })).toThrow("is not noun.verb");
    expect(commands.list()).toEqual([
      { name: "interlock.reset", summary: "Resets a latched interlock", roles: ["technician"] },
      { name: "relay.set", summary: "Switches a relay", roles: ["instructor", "technician"] },
    ]);
  });

  it.each<[string, string, unknown, Actor, Reply<unknown>, string, "ok" | "refused" | "failed"]>([
    ["ok", "interlock.reset", { rule: "water-leak" }, tech, { ok: true, result: { reset: "water-leak", at: Date.UTC(2026, 10, 2, 9) } }, "water-leak", "ok"],
    ["unknown name", "pump.explode", {}, tech, { ok: false, code: "NOT_FOUND", message: 'no command "pump.explode"' }, "-", "refused"],
    ["instructor on technician-only", "interlock.reset", { rule: "water-leak" }, anne, { ok: false, code: "FORBIDDEN", message: "instructor may not interlock.reset; it needs technician" }, "water-leak", "refused"],
    ["bad field", "relay.set", { relay: "fan", on: "yes" }, anne, { ok: false, code: "REQUEST_INVALID", message: "relay.set: on: Invalid input: expected boolean, received string" }, "-", "refused"],
    ["unknown field", "interlock.reset", { rule: "x", force: true }, tech, { ok: false, code: "REQUEST_INVALID", message: 'interlock.reset: (params): Unrecognized key: "force"' }, "-", "refused"],
    ["HubError refusal", "relay.set", { relay: "tripped", on: true }, anne, { ok: false, code: "INTERLOCK_TRIPPED", message: "water-leak is tripped" }, "tripped", "refused"],
    ["HubError failure", "relay.set", { relay: "slow", on: true }, anne, { ok: false, code: "DEVICE_TIMEOUT", message: "no ack within 3000 ms" }, "slow", "failed"],
    ["thrown Error", "relay.set", { relay: "broken", on: true }, anne, { ok: false, code: "TRANSPORT_FAILED", message: "relay driver crashed" }, "broken", "failed"],
  ])("%s: replies and audits before replying", async (_case, name, params, actor, expected, target, result) => {
    const { commands, events, audit } = setup();
    const reply = await commands.invoke(name, params, actor).then((r) => {
      events.push("reply");
      return r;
    });
    expect(reply).toEqual(expected);
    expect(events.at(-2)).toBe(`audit ${name} ${result}`);
    expect(events.at(-1)).toBe("reply");
    expect(audit.entries).toEqual([
      {
        seq: 1,
        at: Date.UTC(2026, 10, 2, 9),
        actor,
        action: name,
        target,
        result,
        ...(expected.ok ? {} : { reason: expected.message }),
        details: { params },
      },
    ]);
  });

  it("counts a kiosk's refusals per address and minute instead of auditing each, without its params", async () => {
    const { commands, audit, refusals, clock } = setup();
    refusals.start();
    const big = { relay: "x".repeat(60_000), on: true };
    expect(await commands.invoke("relay.set", big, kiosk, "10.0.0.5")).toEqual({ ok: false, code: "UNAUTHENTICATED", message: "log in as instructor or technician to relay.set" });
    expect(await commands.invoke("nope.x", {}, kiosk, "10.0.0.5")).toMatchObject({ ok: false, code: "NOT_FOUND" });
    expect(await commands.invoke("relay.set", big, kiosk, "::ffff:10.0.0.6")).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
    // Staff are audited one by one as before.
    await commands.invoke("relay.set", { relay: "fan", on: true }, anne, "10.0.0.5");
    expect(audit.entries.map((e) => `${e.actor.name} ${e.action}`)).toEqual(["juf-anne relay.set"]);
    clock.advance(60_000);
    const rows = audit.entries.filter((e) => e.action === REFUSAL_ACTION);
    expect(rows.map((r) => [r.target, r.result, r.details?.count, r.details?.actions])).toEqual([
      ["10.0.0.5", "refused", 2, { "relay.set": 1, "nope.x": 1 }],
      ["10.0.0.6", "refused", 1, { "relay.set": 1 }],
    ]);
    expect(JSON.stringify(rows)).not.toContain("xxxxxxxx");
    refusals.stop();
  });

  it("answers RATE_LIMITED once an address without a session is over its budget, and other addresses are not affected", async () => {
    const { commands, refusals, clock, audit } = setup();
    const codes: string[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await commands.invoke("relay.set", { relay: "fan", on: true }, kiosk, "10.0.0.5");
      codes.push(r.ok ? "ok" : r.code);
    }
    expect(codes).toEqual([...Array<string>(5).fill("UNAUTHENTICATED"), "RATE_LIMITED", "RATE_LIMITED"]);
    expect(await commands.invoke("relay.set", { relay: "fan", on: true }, kiosk, "10.0.0.9")).toMatchObject({ code: "UNAUTHENTICATED" });
    expect(commands.refuseWithoutSession("relay.set", "10.0.0.5")).toMatchObject({ reply: { code: "RATE_LIMITED" }, retryAfterS: 60 });
    clock.advance(60_000);
    expect(commands.refuseWithoutSession("relay.set", "10.0.0.5")).toMatchObject({ reply: { code: "UNAUTHENTICATED" }, retryAfterS: null });
    refusals.stop();
    const rows = audit.entries.filter((e) => e.action === REFUSAL_ACTION);
    expect(rows.map((r) => [r.target, r.details?.count, r.details?.overLimit])).toEqual([
      ["10.0.0.5", 8, 3],
      ["10.0.0.9", 1, 0],
      ["10.0.0.5", 1, 0],
    ]);
  });

  it("does not run a refused command", async () => {
    const { commands, events } = setup();
    await commands.invoke("interlock.reset", { rule: "water-leak" }, anne);
    await commands.invoke("interlock.reset", { rule: "water-leak" }, kiosk);
    await commands.invoke("interlock.reset", { rule: 5 }, tech);
    expect(events.filter((e) => e.startsWith("run"))).toEqual([]);
  });

  it("answers STORAGE_FAILED when the audit entry cannot be written, saying the action happened", async () => {
    const { commands, events, audit } = setup();
    audit.failWith = new HubError("STORAGE_FAILED", "disk full");
    const reply = await commands.invoke("interlock.reset", { rule: "water-leak" }, tech);
    expect(events).toEqual(["run interlock.reset water-leak by tech"]);
    expect(reply).toEqual({ ok: false, code: "STORAGE_FAILED", message: "interlock.reset was done but not recorded in the audit log (disk full): it has taken effect" });
    const refused = await commands.invoke("interlock.reset", { rule: "water-leak" }, anne);
    expect(refused.ok ? "" : refused.code).toBe("STORAGE_FAILED");
    expect(refused.ok ? "" : refused.message).toContain("refused (instructor may not interlock.reset; it needs technician) and not recorded");
  });

  it("keeps the latest invocation per target of a keepLatest command: pending while it runs, then the answer", async () => {
    const { commands, clock } = setup();
    let release: () => void = () => undefined;
    commands.register({
      name: "lamp.set",
      summary: "Switches a lamp",
      roles: ["instructor", "technician"],
      params: z.object({ lamp: z.string(), on: z.boolean() }).strict(),
      target: (p) => p.lamp,
      keepLatest: true,
      run: async (p) => {
        if (p.lamp === "locked") throw HubError.because("INTERLOCK_TRIPPED", { nl: "Noodstop", en: "Emergency stop" });
        await new Promise<void>((resolve) => (release = resolve));
      },
    });
    const running = commands.invoke("lamp.set", { lamp: "hall", on: true }, anne);
    expect(commands.latest("hall")).toEqual({ command: "lamp.set", at: clock.now(), by: "juf-anne", result: "pending", code: null, message: null, reason: null });
    release();
    await running;
    expect(commands.latest("hall")).toMatchObject({ by: "juf-anne", result: "ok" });

    clock.advance(1000);
    await commands.invoke("lamp.set", { lamp: "locked", on: true }, tech);
    expect(commands.latest("locked")).toEqual({ command: "lamp.set", at: clock.now(), by: "tech", result: "refused", code: "INTERLOCK_TRIPPED", message: "Emergency stop", reason: { nl: "Noodstop", en: "Emergency stop" } });
    // Neither a kiosk's refusal nor a command without keepLatest changes what is kept.
    await commands.invoke("lamp.set", { lamp: "hall", on: false }, kiosk);
    await commands.invoke("relay.set", { relay: "hall", on: true }, tech);
    expect(commands.latest("hall")).toMatchObject({ by: "juf-anne", result: "ok" });
  });

  it("forgets the least recently used target beyond MAX_LATEST_TARGETS", async () => {
    const { commands } = setup();
    commands.register({ name: "lamp.set", summary: "Switches a lamp", roles: ["technician"], params: z.object({ lamp: z.string() }).strict(), target: (p) => p.lamp, keepLatest: true, run: () => null });
    await commands.invoke("lamp.set", { lamp: "first" }, tech);
    await commands.invoke("lamp.set", { lamp: "second" }, tech);
    for (let i = 0; i < MAX_LATEST_TARGETS - 2; i++) await commands.invoke("lamp.set", { lamp: `junk-${i}` }, tech);
    // Used again, "first" is the newest now; one more target pushes out "second".
    await commands.invoke("lamp.set", { lamp: "first" }, tech);
    await commands.invoke("lamp.set", { lamp: "one-more" }, tech);
    expect(commands.latest("first")).toBeDefined();
    expect(commands.latest("second")).toBeUndefined();
    expect(commands.latest("one-more")).toBeDefined();
  });
});

describe("commands over HTTP", () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function makeApp() {
    const s = setup();
    app = Fastify();
    registerSessionRoutes(app, { auth: s.auth, audit: s.audit, clock: s.clock, refusals: s.refusals });
    registerCommandRoutes(app, { commands: s.commands, actorOf: s.auth.actorOf });
    // The reply leaves here; the audit entry must already be in the events by then.
    app.addHook("onSend", async (request) => {
      if (request.url.startsWith("/api/commands/")) s.events.push("sent");
      await Promise.resolve();
    });
    await app.ready();
    const a = app;
    const login = async (name: string, secret: string) => {
      const res = await a.inject({ method: "POST", url: "/api/login", payload: { name, secret } });
      return `Bearer ${res.json<{ result: { token: string } }>().result.token}`;
    };
    const post = (name: string, payload: object, authorization?: string) =>
      a.inject({ method: "POST", url: `/api/commands/${name}`, payload, headers: authorization === undefined ? {} : { authorization } });
    return { ...s, app: a, login, post };
  }

  it("lists the commands", async () => {
    const { app } = await makeApp();
    const res = await app.inject({ method: "GET", url: "/api/commands" });
    expect(res.json<{ result: Array<{ name: string }> }>().result.map((c) => c.name)).toEqual(["interlock.reset", "relay.set"]);
  });

  it("maps every outcome to its status, audited before the reply is sent", async () => {
    const { login, post, events, audit } = await makeApp();
    const t = await login("tech", "technician");
    const i = await login("juf-anne", "4321");
    const cases: Array<[string, object, string | undefined, number, string]> = [
      ["interlock.reset", { rule: "water-leak" }, t, 200, "ok"],
      ["interlock.reset", { rule: "water-leak" }, undefined, 401, "UNAUTHENTICATED"],
      ["interlock.reset", { rule: "water-leak" }, "Bearer forged", 401, "UNAUTHENTICATED"],
      ["interlock.reset", { rule: "water-leak" }, i, 403, "FORBIDDEN"],
      ["relay.set", { relay: "fan" }, i, 400, "REQUEST_INVALID"],
      ["pump.explode", {}, t, 404, "NOT_FOUND"],
      ["relay.set", { relay: "tripped", on: true }, i, 409, "INTERLOCK_TRIPPED"],
      ["relay.set", { relay: "broken", on: true }, i, 500, "TRANSPORT_FAILED"],
      ["relay.set", { relay: "slow", on: true }, i, 504, "DEVICE_TIMEOUT"],
    ];
    for (const [name, params, authorization, status, code] of cases) {
      const before = events.length;
      const res = await post(name, params, authorization);
      const body = res.json<Reply<unknown>>();
      expect([name, res.statusCode, body.ok ? "ok" : body.code]).toEqual([name, status, code]);
      // Refusals without a session are counted, not audited one by one (refusals.ts).
      if (code === "UNAUTHENTICATED") expect(events.slice(before)).toEqual(["sent"]);
      else expect(events.slice(-2)).toEqual([expect.stringMatching(new RegExp(`^audit ${name} `)), "sent"]);
    }
    expect(audit.entries.filter((e) => !e.action.startsWith("session.")).map((e) => `${e.actor.role} ${e.result}`)).toEqual([
      "technician ok",
      "instructor refused",
      "instructor refused",
      "technician refused",
      "instructor refused",
      "instructor failed",
      "instructor failed",
    ]);
  });

  it("refuses every command to a kiosk (no token) with 401, and runs none", async () => {
    const { commands, post, events } = await makeApp();
    for (const { name } of commands.list()) {
      const res = await post(name, { rule: "water-leak", relay: "fan", on: true });
      expect([name, res.statusCode, res.json<{ code: string }>().code]).toEqual([name, 401, "UNAUTHENTICATED"]);
    }
    expect(events.filter((e) => e.startsWith("run"))).toEqual([]);
  });

  it("refuses a kiosk before reading its body (a 60 KB body gets 401, not 413), and counts it per address", async () => {
    const { app, login, events, audit, refusals, clock } = await makeApp();
    refusals.start();
    const big = JSON.stringify({ relay: "x".repeat(60_000), on: true });
    const asKiosk = await app.inject({ method: "POST", url: "/api/commands/relay.set", remoteAddress: "10.0.0.44", headers: { "content-type": "application/json" }, payload: big });
    expect(asKiosk.statusCode).toBe(401);
    expect(asKiosk.headers.connection).toBe("close");
    expect(asKiosk.json()).toEqual({ ok: false, code: "UNAUTHENTICATED", message: "log in as instructor or technician to relay.set" });
    const unknown = await app.inject({ method: "POST", url: "/api/commands/nope.x", remoteAddress: "10.0.0.44", payload: big, headers: { "content-type": "application/json" } });
    expect(unknown.json()).toMatchObject({ ok: false, code: "NOT_FOUND" });
    const asStaff = await app.inject({ method: "POST", url: "/api/commands/relay.set", headers: { "content-type": "application/json", authorization: await login("juf-anne", "4321") }, payload: big });
    expect(asStaff.statusCode).toBe(413);
    expect(events.filter((e) => e.startsWith("run") || e.startsWith("audit relay") || e.startsWith("audit nope"))).toEqual([]);
    clock.advance(60_000);
    expect(audit.entries.filter((e) => e.action === REFUSAL_ACTION).map((e) => [e.target, e.details?.count])).toEqual([["10.0.0.44", 2]]);
    refusals.stop();
  });

  it("answers 429 with retry-after once a kiosk's address is over its budget", async () => {
    const { app } = await makeApp();
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof app.inject>> | undefined;
    for (let i = 0; i < 6; i++) {
      last = await app.inject({ method: "POST", url: "/api/commands/relay.set", remoteAddress: "10.0.0.45", payload: { relay: "fan", on: true } });
      statuses.push(last.statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    expect(last?.headers["retry-after"]).toBe("60");
    expect(last?.json()).toMatchObject({ ok: false, code: "RATE_LIMITED" });
  });

  it("names the bad field in a 400", async () => {
    const { login, post } = await makeApp();
    const res = await post("relay.set", { relay: "fan" }, await login("juf-anne", "4321"));
    expect(res.json()).toEqual({ ok: false, code: "REQUEST_INVALID", message: "relay.set: on: Invalid input: expected boolean, received undefined" });
  });

  it("refuses an instructor's command once the session has expired", async () => {
    const { clock, login, post } = await makeApp();
    const i = await login("juf-anne", "4321");
    expect((await post("relay.set", { relay: "fan", on: true }, i)).statusCode).toBe(200);
    clock.advance(SessionsConfig.parse({}).instructorMinutes * 60_000);
    const res = await post("relay.set", { relay: "fan", on: true }, i);
    expect(res.statusCode).toBe(401);
    expect(res.json<{ code: string }>().code).toBe("UNAUTHENTICATED");
  });

  it("answers 500 STORAGE_FAILED when the audit log fails", async () => {
    const { login, post, audit } = await makeApp();
    const t = await login("tech", "technician");
    audit.failWith = new Error("SQLITE_FULL");
    const res = await post("interlock.reset", { rule: "water-leak" }, t);
    expect(res.statusCode).toBe(500);
    expect(res.json<{ code: string; message: string }>()).toMatchObject({ code: "STORAGE_FAILED", message: expect.stringContaining("done but not recorded") as string });
  });
});

describe("commands over socket.io", () => {
  const open: Array<{ close(): unknown }> = [];
  let httpServer: HttpServer | undefined;
  afterEach(async () => {
    for (const c of open.splice(0)) c.close();
    await new Promise<void>((resolve) => (httpServer === undefined ? resolve() : httpServer.close(() => resolve())));
    httpServer = undefined;
  });

  async function makeServer() {
    const s = setup();
    const server = createServer();
    httpServer = server;
    const io = new Server(server);
    open.push(io);
    attachLiveCommands(io, { commands: s.commands, auth: s.auth });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const client = async (token?: string): Promise<ClientSocket> => {
      const socket = connect(`http://127.0.0.1:${port}`, { transports: ["websocket"], reconnection: false, ...(token === undefined ? {} : { auth: { token } }) });
      open.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("connect_error", reject);
      });
      return socket;
    };
    const command = (socket: ClientSocket, name: string, params: unknown) => socket.emitWithAck("command", { name, params }) as Promise<Reply<unknown>>;
    return { ...s, client, command };
  }

  it("refuses every command to a kiosk, and runs what a role allows", async () => {
    const { client, command, auth, commands } = await makeServer();
    const k = await client();
    for (const { name } of commands.list()) {
      const reply = await command(k, name, { rule: "water-leak", relay: "fan", on: true });
      expect(reply.ok ? "ok" : reply.code).toBe("UNAUTHENTICATED");
    }
    const i = await client((await auth.login("juf-anne", "4321", "127.0.0.1")).token);
    expect(await command(i, "interlock.reset", { rule: "water-leak" })).toEqual({ ok: false, code: "FORBIDDEN", message: "instructor may not interlock.reset; it needs technician" });
    expect(await command(i, "relay.set", { relay: "fan", on: true })).toEqual({ ok: true, result: { relay: "fan", on: true } });
    const t = await client((await auth.login("tech", "technician", "127.0.0.1")).token);
    expect(await command(t, "interlock.reset", { rule: "water-leak" })).toMatchObject({ ok: true, result: { reset: "water-leak" } });
    expect(await command(t, "relay.set", { relay: "fan", on: 1 })).toMatchObject({ ok: false, code: "REQUEST_INVALID", message: expect.stringContaining("on: ") as string });
  });

  it("re-checks the token on every command: an expired or logged-out session is a kiosk", async () => {
    const { client, command, auth, clock, audit, refusals } = await makeServer();
    const { token, expiresAt } = await auth.login("juf-anne", "4321", "127.0.0.1");
    const i = await client(token);
    expect(await i.emitWithAck("whoami")).toEqual({ ok: true, result: { name: "juf-anne", role: "instructor", expiresAt } });
    expect((await command(i, "relay.set", { relay: "fan", on: true })).ok).toBe(true);
    clock.advance(SessionsConfig.parse({}).instructorMinutes * 60_000);
    expect(await command(i, "relay.set", { relay: "fan", on: false })).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
    expect(await i.emitWithAck("whoami")).toEqual({ ok: true, result: { name: "kiosk", role: "kiosk", expiresAt: null } });
    // The expired session's refusal is a kiosk's: counted (under "unknown": socket.io does not say the address), not audited.
    expect(audit.entries.map((e) => [e.actor.name, e.result])).toEqual([["juf-anne", "ok"]]);
    expect(refusals.stats().addresses).toBe(1);

    const t = (await auth.login("tech", "technician", "127.0.0.1")).token;
    const s = await client(t);
    auth.logout(t);
    expect(await command(s, "interlock.reset", { rule: "water-leak" })).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
  });

  it("answers malformed messages without crashing", async () => {
    const { client, auth, audit } = await makeServer();
    const t = await client((await auth.login("tech", "technician", "127.0.0.1")).token);
    for (const bad of ["junk", 42, null, [], { name: 5 }, { name: "relay.set", params: {}, extra: 1 }]) {
      const reply = (await t.emitWithAck("command", bad)) as Reply<unknown>;
      expect(reply.ok ? "ok" : reply.code).toBe("REQUEST_INVALID");
    }
    expect(((await t.emitWithAck("command", { name: 5 })) as { message: string }).message).toContain("name: ");
    const rejected: unknown[] = [];
    t.on(COMMAND_EVENTS.rejected, (r: unknown) => rejected.push(r));
    t.emit("command", { name: "interlock.reset", params: { rule: "water-leak" } });
    t.emit("command");
    // whoami is answered after both, so by then both rejections have arrived (one socket, in order).
    expect(await t.emitWithAck("whoami")).toMatchObject({ ok: true, result: { role: "technician" } });
    expect(rejected).toEqual([
      { ok: false, code: "REQUEST_INVALID", message: expect.stringContaining("needs an acknowledgement callback") as string },
      { ok: false, code: "REQUEST_INVALID", message: expect.stringContaining("needs an acknowledgement callback") as string },
    ]);
    // Malformed messages never reach the registry, so nothing ran and nothing was recorded.
    expect(audit.entries).toEqual([]);
  });
});
