import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AuditEntry, AuditRecord } from "../../core/audit.ts";
import { HubError, type HubErrorCode } from "../../core/errors.ts";
import type { Actor } from "../../core/types.ts";
import { SqliteAuditLog } from "../../storage/audit.ts";
import { openDatabase, type Database } from "../../storage/db.ts";
import { registerAuditRoutes } from "./audit.ts";

const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);

// The test's stand-in for the session: `x-test-actor: name/role`; no header is a kiosk.
function actorOf(request: FastifyRequest): Actor {
  const header = request.headers["x-test-actor"];
  if (typeof header !== "string") return { name: "kiosk", role: "kiosk" };
  const [name = "", role = ""] = header.split("/");
  return { name, role: role as Actor["role"] };
}

const STATUS: Partial<Record<HubErrorCode, number>> = { REQUEST_INVALID: 400, UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404 };

// As http.ts builds its app: same ajv options and the same reply shape for errors.
function buildApp(audit: SqliteAuditLog): FastifyInstance {
  const app = Fastify({ logger: false, ajv: { customOptions: { removeAdditional: false } } });
  app.setErrorHandler((error: unknown, _request, reply) => {
    if (error instanceof HubError) return reply.status(STATUS[error.code] ?? 500).send({ ok: false, code: error.code, message: error.message });
    return reply.status(500).send({ ok: false, code: "TRANSPORT_FAILED", message: error instanceof Error ? error.message : String(error) });
  });
  registerAuditRoutes(app, { audit, actorOf });
  return app;
}

interface Json {
  ok: boolean;
  code?: string;
  message?: string;
  result?: { records: AuditRecord[]; nextBeforeSeq: number | null };
}

describe("audit routes", () => {
  let dir: string;
  let db: Database;
  let log: SqliteAuditLog;
  let app: FastifyInstance;
  const tech = { "x-test-actor": "jan/technician" };
  const entries: AuditEntry[] = [
    { at: T0, actor: { name: "jan", role: "technician" }, action: "interlock.reset", target: "water-leak", result: "ok", reason: "=1+1 looked dry" },
    { at: T0 + 1000, actor: { name: "hub", role: "system" }, action: "interlock.tripped", target: "water-leak", result: "ok", details: { sensor: "leak-1" } },
    { at: T0 + 2000, actor: { name: "eva", role: "instructor" }, action: "relay.set", target: "water.pumpEnable", result: "refused", reason: "interlock, latched" },
  ];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "tec-audit-routes-"));
    db = openDatabase(join(dir, "hub.db"), { checkpoints: false });
    log = new SqliteAuditLog(db);
    for (const e of entries) log.append(e);
    app = buildApp(log);
    await app.ready();
  });
  afterEach(async () => {
    await app.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = async (url: string, headers: Record<string, string> = tech) => {
    const res = await app.inject({ method: "GET", url, headers });
    return { status: res.statusCode, headers: res.headers, body: res.body, json: () => res.json<Json>() };
  };

  it("serves the records newest first in the one reply shape", async () => {
    const res = await get("/api/audit");
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ ok: true, result: { records: [...entries].reverse().map((e, i) => ({ ...e, seq: 3 - i })), nextBeforeSeq: null } });
  });

  it.each<[string, string, number[], number | null]>([
    ["actor", "actor=eva", [3], null],
    ["role", "role=system", [2], null],
    ["action prefix", "action=interlock.*", [2, 1], null],
    ["target and result", "target=water-leak&result=ok", [2, 1], null],
    ["from and to", `from=${T0 + 1000}&to=${T0 + 2000}`, [3, 2], null],
    ["limit", "limit=1", [3], 3],
    ["paging", "limit=1&beforeSeq=3", [2], 2],
    ["empty values as no filter", "actor=&from=&action=", [3, 2, 1], null],
  ])("filters by %s", async (_name, query, seqs, next) => {
    const res = await get(`/api/audit?${query}`);
    expect(res.status).toBe(200);
    expect(res.json().result?.records.map((r) => r.seq)).toEqual(seqs);
    expect(res.json().result?.nextBeforeSeq).toBe(next);
  });

  it("lets instructors read it too", async () => {
    expect((await get("/api/audit", { "x-test-actor": "eva/instructor" })).status).toBe(200);
  });

  it.each<[string, string | undefined, number, string]>([
    ["/api/audit", undefined, 401, "UNAUTHENTICATED"],
    ["/api/audit.csv", undefined, 401, "UNAUTHENTICATED"],
    ["/api/audit?bogus=1", undefined, 401, "UNAUTHENTICATED"], // the guard runs before the query is read
    ["/api/audit", "estop-1/device", 403, "FORBIDDEN"],
  ])("refuses %s to actor %s with %i", async (url, actor, status, code) => {
    const res = await get(url, actor === undefined ? {} : { "x-test-actor": actor });
    expect(res.status).toBe(status);
    expect(res.json()).toMatchObject({ ok: false, code });
    expect(res.body).not.toContain("water-leak");
  });

  it.each([
    ["an unknown parameter", "/api/audit?actr=eva", 'unknown query parameter "actr"'],
    ["two unknown parameters", "/api/audit.csv?a=1&b=2", 'unknown query parameter "a", "b"'],
    ["a time that is not a number", "/api/audit?from=yesterday", 'query parameter "from" must be ms since the epoch'],
    ["a negative time", "/api/audit?to=-5", 'query parameter "to"'],
    ["a fractional limit", "/api/audit?limit=1.5", 'query parameter "limit"'],
    ["a limit over the maximum", "/api/audit?limit=5001", 'query parameter "limit"'],
    ["a limit of zero", "/api/audit?limit=0", 'query parameter "limit"'],
    ["a seq of zero", "/api/audit?beforeSeq=0", 'query parameter "beforeSeq"'],
    ["an unknown role", "/api/audit?role=admin", 'query parameter "role"'],
    ["an unknown result", "/api/audit.csv?result=done", 'query parameter "result"'],
    ["a * inside the action", "/api/audit?action=inter*.reset", 'query parameter "action" may hold one \'*\''],
    ["a repeated parameter", "/api/audit?actor=jan&actor=eva", 'query parameter "actor"'],
    ["from after to", `/api/audit?from=${T0 + 1}&to=${T0}`, `"from" (${T0 + 1}) is after "to" (${T0})`],
  ])("answers 400 REQUEST_INVALID naming %s", async (_name, url, message) => {
    const res = await get(url);
    expect(res.status).toBe(400);
    expect(res.json()).toMatchObject({ ok: false, code: "REQUEST_INVALID" });
    expect(res.json().message).toContain(message);
  });

  it("downloads the same records as CSV, defused for spreadsheets", async () => {
    const res = await get(`/api/audit.csv?from=${T0}&to=${T0 + 86_400_000}`);
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/csv; charset=utf-8");
    expect(res.headers["content-disposition"]).toBe('attachment; filename="tec-audit-20261102T090000Z-20261103T090000Z.csv"');
    expect(res.headers["x-audit-next-before-seq"]).toBeUndefined();
    expect(res.body.split("\r\n")).toEqual([
      "seq,time,actor,role,action,target,result,reason,details",
      '3,2026-11-02T09:00:02.000Z,eva,instructor,relay.set,water.pumpEnable,refused,"interlock, latched",',
      '2,2026-11-02T09:00:01.000Z,hub,system,interlock.tripped,water-leak,ok,,"{""sensor"":""leak-1""}"',
      "1,2026-11-02T09:00:00.000Z,jan,technician,interlock.reset,water-leak,ok,'=1+1 looked dry,",
      "",
    ]);
  });

  it("names an open range in the file name and says when a download is cut at the limit", async () => {
    const res = await get("/api/audit.csv?limit=2&action=*");
    expect(res.headers["content-disposition"]).toBe('attachment; filename="tec-audit-start-now.csv"');
    expect(res.headers["x-audit-next-before-seq"]).toBe("2");
    expect(res.body.trimEnd().split("\r\n")).toHaveLength(3);
  });
});
