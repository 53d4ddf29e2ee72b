/**
 * Issue 10, "Hostile and overloaded", findings 3, 4 and 8, as they were reproduced against a
 * running hub: the real hub over real HTTP sockets on 127.0.0.1, clients on other loopback source
 * addresses (127.0.0.x, `localAddress`), the real SQLite database, and the hub's clock in the
 * test's hand.
 */
import { statSync } from "node:fs";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { connect } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { io as ioClient } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import type { Alarm } from "../../hub/src/core/alarms/alarms.ts";
import type { AuditRecord } from "../../hub/src/core/audit.ts";
import { ManualClock } from "../../hub/src/core/clock.ts";
import { hashSecret } from "../../hub/src/api/auth.ts";
import { parseConfig } from "../../hub/src/config/load.ts";
import { startHub, type Hub } from "../../hub/src/main.ts";
import { baseConfig } from "./harness.ts";

const CHEAP = 2 ** 10;
const PIN = "246810";
const PASSWORD = "workbench-7";

interface Res {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json<T = { ok: boolean; code?: string; message?: string; result?: unknown }>(): T;
}

describe("a hostile network", () => {
  let hub: Hub | undefined;
  let dir: string | undefined;
  let clock: ManualClock;
  let dbPath: string;

  afterEach(async () => {
    await hub?.stop();
    hub = undefined;
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function boot(): Promise<Hub> {
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-hostile-"));
    dbPath = path.join(dir, "hub.db");
    const { config } = parseConfig(
      baseConfig(dir, {
        users: [
          { name: "begeleider", role: "instructor", secretHash: hashSecret(PIN, CHEAP) },
          { name: "technicus", role: "technician", secretHash: hashSecret(PASSWORD, CHEAP) },
        ],
      }),
    );
    clock = new ManualClock(Date.UTC(2026, 10, 2, 9, 0, 0));
    hub = await startHub(config, { clock });
    return hub;
  }

  /** One request on its own connection, from `from` (a loopback address). */
  function send(method: string, url: string, options: { from?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Res> {
    const port = hub?.httpPort ?? 0;
    return new Promise<Res>((resolve, reject) => {
      const req = httpRequest(
        { host: "127.0.0.1", port, method, path: url, agent: false, headers: options.headers ?? {}, ...(options.from !== undefined ? { localAddress: options.from } : {}) },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T });
          });
        },
      );
      req.on("error", reject);
      req.end(options.body);
    });
  }

  const json = (body: unknown) => ({ headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const login = (name: string, secret: string, from = "127.0.0.1") => send("POST", "/api/login", { from, ...json({ name, secret }) });
  async function token(name: string, secret: string): Promise<string> {
    const res = await login(name, secret);
    expect(res.status).toBe(200);
    return `Bearer ${res.json<{ result: { token: string } }>().result.token}`;
  }
  async function auditOf(query: string): Promise<AuditRecord[]> {
    const res = await send("GET", `/api/audit?${query}`, { headers: { authorization: await token("technicus", PASSWORD) } });
    expect(res.status).toBe(200);
    return res.json<{ result: { records: AuditRecord[] } }>().result.records;
  }

  /**
   * Sends only a request's head, announcing a body of `length` bytes that never comes, and
   * resolves with what the hub answers. A hub that waited for the body would never answer.
   */
  function headOnly(method: string, url: string, headers: Record<string, string>, length: number, from = "127.0.0.1"): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port: hub?.httpPort ?? 0, localAddress: from });
      const chunks: Buffer[] = [];
      socket.on("connect", () => {
        const head = [`${method} ${url} HTTP/1.1`, "Host: 127.0.0.1", `Content-Length: ${length}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
        socket.write(`${head.join("\r\n")}\r\n\r\n`);
      });
      socket.on("data", (c: Buffer) => chunks.push(c));
      socket.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      socket.on("error", reject);
    });
  }

  const dbBytes = () => (statSync(dbPath).size ?? 0) + (statSync(`${dbPath}-wal`, { throwIfNoEntry: false })?.size ?? 0);

  describe("finding 3: strangers cannot write to the audit log", () => {
    it("8 threads of refused POSTs with 60 KB bodies from no session: one row per address and minute with the count, and the database does not grow", async () => {
      await boot();
      const body = JSON.stringify({ key: "interlock:water-leak", comment: "x".repeat(60 * 1024) });
      const before = dbBytes();
      const statuses = new Map<number, number>();
      // 8 threads, 4 from each of two addresses, 50 requests each, to a real command and an unknown one.
      const threads = Array.from({ length: 8 }, async (_, t) => {
        for (let i = 0; i < 50; i++) {
          const res = await send("POST", `/api/commands/${i % 5 === 0 ? "nope.x" : "alarm.acknowledge"}`, { from: t < 4 ? "127.0.0.2" : "127.0.0.3", headers: { "content-type": "application/json" }, body });
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        }
      });
      await Promise.all(threads);
      // Each address is refused 30 times a minute as such (401, or 404 for the unknown name), then answered 429.
      expect((statuses.get(401) ?? 0) + (statuses.get(404) ?? 0)).toBe(60);
      expect(statuses.get(429)).toBe(340);
      expect(dbBytes() - before).toBeLessThan(64 * 1024);
      expect(await auditOf("action=kiosk.refused")).toEqual([]);
      clock.advance(60_000);
      const rows = await auditOf("action=kiosk.refused");
      expect(rows.map((r) => [r.target, r.actor.role, r.result, r.details?.count, r.details?.overLimit]).sort()).toEqual([
        ["127.0.0.2", "kiosk", "refused", 200, 170],
        ["127.0.0.3", "kiosk", "refused", 200, 170],
      ]);
      expect(rows[0]?.details?.actions).toEqual({ "alarm.acknowledge": 160, "nope.x": 40 });
      // No body previews: nothing of the 60 KB comment is on record.
      expect(JSON.stringify(rows)).not.toContain("xxxxxxxx");
      // Besides them, only the hub's own start and the technician's own logins to read the log.
      expect((await auditOf("limit=5000")).map((r) => r.action).sort()).toEqual(["hub.started", "kiosk.refused", "kiosk.refused", "session.login", "session.login", "session.login"]);
    });

    it("refuses a command to a client without a session before its body is read", async () => {
      await boot();
      const answer = await headOnly("POST", "/api/commands/alarm.acknowledge", { "Content-Type": "application/json" }, 60 * 1024, "127.0.0.4");
      expect(answer).toMatch(/^HTTP\/1\.1 401 /);
      expect(answer).toMatch(/\r\nconnection: close\r\n/i);
      expect(answer).toContain('"code":"UNAUTHENTICATED"');
    });

    it("takes a command of at most 16 KB over socket.io, and counts a kiosk's refusals there too", async () => {
      await boot();
      const socket = ioClient(`http://127.0.0.1:${hub?.httpPort ?? 0}`, { transports: ["websocket"], forceNew: true, reconnection: false });
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("connect_error", reject);
      });
      const small = (await socket.emitWithAck("command", { name: "alarm.acknowledge", params: { key: "x" } })) as { code: string };
      expect(small.code).toBe("UNAUTHENTICATED");
      const closed = new Promise<string>((resolve) => socket.once("disconnect", resolve));
      socket.emit("command", { name: "alarm.acknowledge", params: { key: "x", comment: "y".repeat(64 * 1024) } }, () => undefined);
      expect(await closed).toBe("transport close");
      clock.advance(60_000);
      const rows = await auditOf("action=kiosk.refused");
      expect(rows.map((r) => [r.target, r.details?.count])).toEqual([["127.0.0.1", 1]]);
    });

    it("320 refused requests to nope.x do not push a running visit out of the newest 300 audit rows, and GET /api/visit has it", async () => {
      await boot();
      const juf = await token("begeleider", PIN);
      const started = await send("POST", "/api/commands/visit.start", { headers: { "content-type": "application/json", authorization: juf }, body: JSON.stringify({ label: "Groep 7", stations: [], minutes: 90 }) });
      expect(started.status).toBe(200);
      for (let i = 0; i < 320; i++) await send("POST", "/api/commands/nope.x", { from: `127.0.1.${(i % 16) + 1}`, ...json({}) });
      clock.advance(60_000);
      const newest = await auditOf("limit=300");
      expect(newest.some((r) => r.action === "visit.start" && r.target === "Groep 7")).toBe(true);
      expect(newest.filter((r) => r.action === "kiosk.refused")).toHaveLength(16);
      const visit = await send("GET", "/api/visit");
      expect(visit.json<{ result: { label: string } | null }>().result?.label).toBe("Groep 7");
    });

    it("refuses a 5 MB body to /api/login with 413 before it is read, as JSON or as text, and takes G-code only from a technician", async () => {
      await boot();
      // 200 at once, as was tried: each refused from its head alone.
      const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => headOnly("POST", "/api/login", { "Content-Type": i % 2 === 0 ? "application/json" : "text/plain" }, 5 * 1024 * 1024, `127.0.2.${(i % 50) + 1}`)));
      for (const a of answers) {
        expect(a).toMatch(/^HTTP\/1\.1 413 /);
        expect(a).toContain("request body too large: POST /api/login takes at most 2048 bytes");
      }
      // The 5 MB G-code route checks the role before it reads a byte.
      const upload = await headOnly("PUT", "/api/stations/printer-1/catalogue/cube", { "Content-Type": "text/plain" }, 5 * 1024 * 1024, "127.0.0.5");
      expect(upload).toMatch(/^HTTP\/1\.1 401 /);
      const asInstructor = await headOnly("PUT", "/api/stations/printer-1/catalogue/cube", { "Content-Type": "text/plain", Authorization: await token("begeleider", PIN) }, 5 * 1024 * 1024);
      expect(asInstructor).toMatch(/^HTTP\/1\.1 403 /);
      // A technician's text/plain body is read (there is no printer here, so it is not found).
      const tech = await send("PUT", "/api/stations/printer-1/catalogue/cube", { headers: { "content-type": "text/plain", authorization: await token("technicus", PASSWORD) }, body: "G28\nG1 X10\n" });
      expect(tech.json()).toMatchObject({ ok: false, code: "NOT_FOUND", message: 'no printer "printer-1"' });
      // Any other route takes 1 KB.
      const logout = await send("POST", "/api/logout", { headers: { "content-type": "text/plain" }, body: "x".repeat(2000) });
      expect(logout.status).toBe(413);
    });
  });

  describe("finding 4: the instructor cannot be locked out", () => {
    it("wrong PINs from 127.0.0.2 leave the right PIN from 127.0.0.3 working", async () => {
      await boot();
      const wrong: number[] = [];
      for (let i = 0; i < 5; i++) wrong.push((await login("begeleider", `13579${i}`, "127.0.0.2")).status);
      expect(wrong).toEqual([401, 401, 401, 401, 429]);
      expect((await login("begeleider", PIN, "127.0.0.2")).status).toBe(429);
      const real = await login("begeleider", PIN, "127.0.0.3");
      expect(real.status).toBe(200);
      expect(real.json<{ result: { name: string } }>().result.name).toBe("begeleider");
    });

    it("junk logins from 40 addresses do not keep the real login out", async () => {
      await boot();
      let stop = false;
      const failedOnce = new Set<string>();
      let seen = 0;
      let allFailed: () => void = () => undefined;
      const everyAddressFailed = new Promise<void>((resolve) => (allFailed = resolve));
      const junk = Array.from({ length: 40 }, async (_, i) => {
        const from = `127.0.3.${i + 1}`;
        while (!stop) {
          const res = await login("begeleider", `00000${i % 10}`, from);
          seen += 1;
          if (res.status === 401) failedOnce.add(from);
          if (failedOnce.size === 40) allFailed();
        }
      });
      await everyAddressFailed;
      // The junk keeps coming while the real login is sent.
      const real = await login("begeleider", PIN, "127.0.4.1");
      const seenAtReal = seen;
      stop = true;
      await Promise.all(junk);
      expect(real.status).toBe(200);
      expect(seenAtReal).toBeGreaterThan(40);
    });

    it("raises an alarm for technicians when the guess budget of an account is spent", async () => {
      await boot();
      for (let i = 0; i < 20; i++) expect((await login("begeleider", `97531${i % 10}`, `127.0.5.${i + 1}`)).status).toBe(401);
      const alarms = await send("GET", "/api/alarms?open=true", { headers: { authorization: await token("technicus", PASSWORD) } });
      const alarm = alarms.json<{ result: Alarm[] }>().result.find((a) => a.key === "login-guessing:begeleider");
      expect(alarm).toMatchObject({ active: true, severity: "warning", source: "auth" });
      // Guarded: an address that has used its free failures is refused; a clean one with the right PIN is not.
      for (let i = 0; i < 3; i++) await login("begeleider", "000000", "127.0.6.1");
      expect((await login("begeleider", PIN, "127.0.6.1")).status).toBe(429);
      expect((await login("begeleider", PIN, "127.0.6.2")).status).toBe(200);
      // The wrong logins are on record, counted per address and minute.
      clock.advance(60_000);
      const rows = await auditOf("action=kiosk.refused&limit=100");
      expect(rows).toHaveLength(21);
      expect(rows.every((r) => JSON.stringify(r.details?.names) === JSON.stringify({ begeleider: r.details?.count }))).toBe(true);
    });
  });

  describe("finding 8: the CSV export", () => {
    it.each([
      ["a space", " =1+1"],
      ["a no-break space", "\u00A0=1+1"],
      ["a zero-width space", "\u200B=1+1"],
      ["a semicolon", ";=1+1"],
      ["a pipe", "|=cmd|' /C calc'!A0"],
    ])("escapes a formula behind %s in a visit label", async (_name, label) => {
      await boot();
      const juf = await token("begeleider", PIN);
      const started = await send("POST", "/api/commands/visit.start", { headers: { "content-type": "application/json", authorization: juf }, body: JSON.stringify({ label, stations: [], minutes: 30 }) });
      expect(started.status).toBe(200);
      const csv = await send("GET", "/api/audit.csv?action=visit.start", { headers: { authorization: await token("technicus", PASSWORD) } });
      const line = csv.text.split("\r\n")[1] ?? "";
      // The target column: a leading ' so no spreadsheet runs it, quoted where a separator could split it.
      const field = /[",;|]/.test(label) ? `"'${label.replaceAll('"', '""')}"` : `'${label}`;
      expect(line).toContain(`,visit.start,${field},ok,`);
    });
  });
});
