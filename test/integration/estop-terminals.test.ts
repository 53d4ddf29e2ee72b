/**
 * The on-screen e-stop without a login (issue 11, finding 5): accepted from a staff session, from
 * a screen a technician registered as a terminal, and from the hub's own machine; refused (with a
 * reason that points at the physical button) from an unregistered screen such as a pupil's phone
 * on the guest network. Every test machine is loopback, so "another machine" is the hub with
 * `safety.estopFromHubMachine: false`: then loopback counts like any other address.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { InterlockView } from "../../hub/src/core/interlock/service.ts";
import { isLoopback, TERMINAL_HEADER } from "../../hub/src/api/estop-terminals.ts";
import { bootHarness, type Harness } from "./harness.ts";

type Reply = { ok: boolean; code?: string; message?: string; reason?: { nl: string; en: string }; result?: unknown };

const USERS = [
  { name: "juf", role: "instructor" as const, pin: "123456" },
  { name: "tech", role: "technician" as const, password: "technician" },
];

describe("the e-stop without a login", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const post = async (path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Reply }> => {
    const res = await fetch(`${h!.httpUrl}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Reply };
  };
  const login = async (name: string, secret: string) => {
    const r = await post("/api/login", { name, secret });
    return (r.body.result as { token: string }).token;
  };
  const estop = async () => (await h!.get<{ result: InterlockView }>("/api/interlocks/estop")).body.result;
  const reset = async (tech: string) => expect((await post("/api/commands/interlock.reset", { id: "estop" }, { authorization: `Bearer ${tech}` })).body).toMatchObject({ ok: true });

  it("a screen on another machine: refused unless registered; a registered terminal works until revoked; a session always works", async () => {
    h = await bootHarness({ users: USERS, safety: { estopFromHubMachine: false } });
    // A pupil's phone: no session, no terminal token.
    const phone = await post("/api/estop", {});
    expect(phone.status).toBe(403);
    expect(phone.body).toMatchObject({ ok: false, code: "FORBIDDEN" });
    expect(phone.body.reason?.nl).toMatch(/rode noodknop/);
    expect((await estop()).status).toBe("normal");
    // A made-up token is no better.
    expect((await post("/api/estop", {}, { [TERMINAL_HEADER]: "x".repeat(43) })).status).toBe(403);

    // A technician registers the tablet by the robots.
    const tech = await login("tech", "technician");
    const reg = await post("/api/commands/terminal.register", { name: "tablet robots" }, { authorization: `Bearer ${tech}` });
    expect(reg.body.ok).toBe(true);
    const { token, terminal } = reg.body.result as { token: string; terminal: { id: string; name: string } };
    expect(token.length).toBeGreaterThanOrEqual(40);
    // The list never shows a token or its hash.
    const list = await fetch(`${h.httpUrl}/api/terminals`, { headers: { authorization: `Bearer ${tech}` } });
    const listed = JSON.stringify(await list.json());
    expect(listed).toContain("tablet robots");
    expect(listed).not.toContain(token);
    expect((await fetch(`${h.httpUrl}/api/terminals`)).status).toBe(401);
    // The tablet asks whether it is registered (at start, without a login).
    const self = (await (await fetch(`${h.httpUrl}/api/terminals/self`, { headers: { [TERMINAL_HEADER]: token } })).json()) as { result: { terminal: { name: string } | null } };
    expect(self.result.terminal?.name).toBe("tablet robots");

    // The tablet, nobody logged in: accepted, latched, audited with the terminal's name.
    const pressed = await post("/api/estop", {}, { [TERMINAL_HEADER]: token });
    expect(pressed.body).toMatchObject({ ok: true });
    // Latched: tripped, or cleared once evaluated (a screen's e-stop has no input to hold it).
    expect(await estop()).toMatchObject({ latched: true });
    const audit = (await (await fetch(`${h.httpUrl}/api/audit?action=estop.trigger`, { headers: { authorization: `Bearer ${tech}` } })).json()) as { result: { records: Array<{ actor: { name: string }; details: { via: string } }> } };
    expect(audit.result.records[0]).toMatchObject({ actor: { name: "terminal tablet robots" }, details: { via: "terminal" } });
    await reset(tech);

    // Revoked: the token is worthless.
    expect((await post("/api/commands/terminal.revoke", { id: terminal.id }, { authorization: `Bearer ${tech}` })).body.ok).toBe(true);
    expect((await post("/api/estop", {}, { [TERMINAL_HEADER]: token })).status).toBe(403);

    // An instructor's session works from any screen.
    const juf = await login("juf", "123456");
    expect((await post("/api/estop", {}, { authorization: `Bearer ${juf}` })).body).toMatchObject({ ok: true });
    expect(await estop()).toMatchObject({ latched: true });
  });

  it("the hub's own machine (the demo's console): works without a login or a registration", async () => {
    h = await bootHarness({ users: USERS });
    expect((await post("/api/estop", {})).body).toMatchObject({ ok: true });
    expect(await estop()).toMatchObject({ latched: true });
  });

  it("only technicians register or revoke terminals", async () => {
    h = await bootHarness({ users: USERS });
    const juf = await login("juf", "123456");
    expect((await post("/api/commands/terminal.register", { name: "x" }, { authorization: `Bearer ${juf}` })).body).toMatchObject({ ok: false, code: "FORBIDDEN" });
    expect((await post("/api/commands/terminal.register", { name: "x" })).body).toMatchObject({ ok: false });
  });

  it("loopback is 127.0.0.0/8, ::1 and their IPv4-mapped forms, nothing else", () => {
    for (const a of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"]) expect(isLoopback(a)).toBe(true);
    for (const a of ["10.0.0.5", "192.168.1.20", "::ffff:10.0.0.1", "fe80::1", "1127.0.0.1", undefined]) expect(isLoopback(a)).toBe(false);
  });
});
