/**
 * Role checks for REST routes. Who is asking comes from the session behind the request (see
 * auth.ts); a request without a valid session is a kiosk. The server decides, never the browser.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { HubError, type Reply } from "../core/errors.ts";
import type { Actor, Role } from "../core/types.ts";
import type { RefusalLedger } from "./refusals.ts";
import { httpStatus } from "./status.ts";

/** Finds the actor behind a request (kiosk if nobody is logged in). */
export type ActorOf = (request: FastifyRequest) => Actor;

/** A callback-style hook, usable as onRequest (before the body is read) or preHandler. */
export type RoleHook = (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => void;

export function requireRole(actorOf: ActorOf, roles: readonly Role[]): RoleHook {
  return (request, _reply, done) => {
    const refusal = roleRefusal(actorOf(request), roles);
    if (refusal === null) done();
    else done(new HubError(refusal.code, refusal.message));
  };
}

/**
 * The role check as an onRequest hook for a route that takes a big body: a refused request is
 * answered before a byte of its body is read, and the connection is closed after the answer. A
 * refusal to a client without a session is counted by the refusal ledger (RATE_LIMITED once its
 * address is over budget), not audited one by one.
 */
export function requireRoleBeforeBody(actorOf: ActorOf, roles: readonly Role[], refusals: RefusalLedger, action: string): RoleHook {
  return (request, reply, done) => {
    const actor = actorOf(request);
    const refusal = roleRefusal(actor, roles);
    if (refusal === null) return done();
    if (actor.role !== "kiosk") return void refuseEarly(reply, refusal);
    const verdict = refusals.note(request.ip, action);
    if (!verdict.limited) return void refuseEarly(reply, refusal);
    void refuseEarly(reply, { ok: false, code: "RATE_LIMITED", message: `too many refused requests from this address without a session; try again in ${verdict.retryAfterS} s` }, verdict.retryAfterS);
  };
}

/**
 * Answers a request refused before its body was read. If a body is on its way, the connection is
 * closed after the answer rather than left for Node to read the rest of the body and throw it away.
 */
export function refuseEarly(reply: FastifyReply, r: Reply<never>, retryAfterS: number | null = null): FastifyReply {
  const headers = reply.request.headers;
  const hasBody = (headers["content-length"] !== undefined && headers["content-length"] !== "0") || headers["transfer-encoding"] !== undefined;
  if (hasBody) void reply.header("connection", "close");
  if (retryAfterS !== null) void reply.header("retry-after", String(retryAfterS));
  return reply.status(r.ok ? 200 : httpStatus(r.code)).send(r);
}

function roleRefusal(actor: Actor, roles: readonly Role[]): { ok: false; code: "UNAUTHENTICATED" | "FORBIDDEN"; message: string } | null {
  if (actor.role === "kiosk" && !roles.includes("kiosk")) return { ok: false, code: "UNAUTHENTICATED", message: `log in as ${roles.join(" or ")} first` };
  if (!roles.includes(actor.role as Role)) return { ok: false, code: "FORBIDDEN", message: `${actor.name} (${actor.role}) may not do this; it needs ${roles.join(" or ")}` };
  return null;
}
