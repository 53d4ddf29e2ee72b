/**
 * The audit log over REST, for technicians and instructors: `GET /api/audit` (JSON pages, newest
 * first) and `GET /api/audit.csv` (a download for a spreadsheet). The query string is checked by
 * one strict zod schema: an unknown, repeated or malformed parameter is a 400 that names it.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { HubError } from "../../core/errors.ts";
import type { Actor } from "../../core/types.ts";
import { AUDIT_QUERY_MAX_LIMIT, toCsv, type AuditFilter, type SqliteAuditLog } from "../../storage/audit.ts";
import { requireRole, type ActorOf } from "../guard.ts";

export interface AuditRoutesContext {
  audit: SqliteAuditLog;
  actorOf: ActorOf;
}

/** The last instant a JavaScript Date can hold, ms since the epoch. */
const MAX_TIME_MS = 8.64e15;

const whole = (what: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,16}$/, `must be ${what}, as digits`)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const name = z.string().max(200);

const ACTOR_ROLES = ["kiosk", "instructor", "technician", "system", "device"] as const satisfies readonly Actor["role"][];

/** The query string of both routes. Every value arrives as a string (or an array when repeated). */
export const AuditQuery = z
  .object({
    from: whole("ms since the epoch", 0, MAX_TIME_MS).optional(),
    to: whole("ms since the epoch", 0, MAX_TIME_MS).optional(),
    actor: name.optional(),
    role: z.enum(ACTOR_ROLES).optional(),
    action: name.regex(/^[^*]*\*?$/, "may hold one '*', at the end (a prefix: interlock.*)").optional(),
    target: name.optional(),
    result: z.enum(["ok", "refused", "failed"]).optional(),
    limit: whole("a count", 1, AUDIT_QUERY_MAX_LIMIT).optional(),
    beforeSeq: whole("a seq from nextBeforeSeq", 1, Number.MAX_SAFE_INTEGER).optional(),
  })
  .strict();

/** The filter in a query string; throws HubError REQUEST_INVALID naming each bad parameter. */
export function parseAuditQuery(query: unknown): AuditFilter {
  // An empty value (`?actor=&to=`, as an HTML form sends an unfilled field) means "no filter".
  const given = typeof query === "object" && query !== null ? Object.entries(query).filter(([, v]) => v !== "") : [];
  const parsed = AuditQuery.safeParse(Object.fromEntries(given));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) =>
      issue.code === "unrecognized_keys"
        ? `unknown query parameter ${issue.keys.map((k) => `"${k}"`).join(", ")}`
        : `query parameter "${issue.path.join(".")}" ${issue.message}`,
    );
    throw new HubError("REQUEST_INVALID", problems.join("; "));
  }
  const filter = parsed.data;
  if (filter.from !== undefined && filter.to !== undefined && filter.from > filter.to) {
    throw new HubError("REQUEST_INVALID", `query parameter "from" (${filter.from}) is after "to" (${filter.to})`);
  }
  return filter;
}

/** `tec-audit-<from>-<to>.csv`, times as compact ISO 8601 UTC (`20261102T090000Z`): safe in any file system. */
export function csvFileName(filter: AuditFilter): string {
  const stamp = (ms: number | undefined, open: string) =>
    ms === undefined ? open : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "");
  return `tec-audit-${stamp(filter.from, "start")}-${stamp(filter.to, "now")}.csv`;
}

const querystringDoc = {
  type: "object",
  properties: {
    from: { type: "string", description: "ms since the epoch, inclusive" },
    to: { type: "string", description: "ms since the epoch, inclusive" },
    actor: { type: "string" },
    role: { type: "string", enum: [...ACTOR_ROLES] },
    action: { type: "string", description: "exact, or a prefix ending in * (interlock.*)" },
    target: { type: "string" },
    result: { type: "string", enum: ["ok", "refused", "failed"] },
    limit: { type: "string", description: `1..${AUDIT_QUERY_MAX_LIMIT}; JSON default 200, CSV default ${AUDIT_QUERY_MAX_LIMIT}` },
    beforeSeq: { type: "string", description: "paging: the nextBeforeSeq of the previous page" },
  },
} as const;

export function registerAuditRoutes(app: FastifyInstance, ctx: AuditRoutesContext): void {
  const guard = requireRole(ctx.actorOf, ["technician", "instructor"]);

  // The guard runs before the query is parsed: a kiosk learns nothing from a malformed request.
  // The querystring JSON schema is documentation only (validatorCompiler below): zod decides.
  const schema = (summary: string) => ({ summary, tags: ["audit"], querystring: querystringDoc });
  const noAjv = { validatorCompiler: () => () => true };

  app.get(
    "/api/audit",
    { ...noAjv, preHandler: guard, schema: schema("Audit log records, newest first; page with beforeSeq = nextBeforeSeq") },
    (request, reply) => reply.send({ ok: true, result: ctx.audit.query(parseAuditQuery(request.query)) }),
  );

  app.get(
    "/api/audit.csv",
    { ...noAjv, preHandler: guard, schema: schema("The same records as CSV (RFC 4180) for a spreadsheet") },
    (request, reply) => {
      const filter = parseAuditQuery(request.query);
      // A download should hold the whole range where it can; the header says when it does not.
      const page = ctx.audit.query({ ...filter, limit: filter.limit ?? AUDIT_QUERY_MAX_LIMIT });
      const headers: Record<string, string> = {
        "content-type": "text/csv; charset=utf-8",
        "content-disposition": `attachment; filename="${csvFileName(filter)}"`,
      };
      if (page.nextBeforeSeq !== null) headers["x-audit-next-before-seq"] = String(page.nextBeforeSeq);
      return reply.headers(headers).send(toCsv(page.records));
    },
  );
}
