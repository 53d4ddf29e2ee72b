/**
 * Logging in and out over HTTP. `POST /api/login` answers a token that the dashboard then sends as
 * `Authorization: Bearer <token>`; `GET /api/session` says who that is (a kiosk if nobody).
 * Logins and logouts go into the audit log (`session.login`, `session.logout`), so a technician
 * can see who was at the console when something was done. Wrong names or secrets, and attempts
 * refused in backoff, come from clients without a session: they are counted per address and
 * minute with the names tried (refusals.ts), so a flood of junk logins writes one row per address
 * a minute. Bodies are small (name and secret); larger ones are refused with 413 unread.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { AuditLog } from "../../core/audit.ts";
import type { Clock } from "../../core/clock.ts";
import { HubError, errorReply } from "../../core/errors.ts";
import { bearerToken, kioskActor, type AuthService } from "../auth.ts";
import { describeIssues } from "../commands.ts";
import type { RefusalLedger } from "../refusals.ts";
import { sendReply } from "./commands.ts";

/** A login body is a name of at most 64 and a secret of at most 200 characters, as JSON. */
export const LOGIN_BODY_LIMIT_BYTES = 2048;
/** Logout takes no body. */
const LOGOUT_BODY_LIMIT_BYTES = 1024;

const LoginBody = z
  .object({
    name: z.string().min(1).max(64),
    /** The PIN or the password. */
    secret: z.string().min(1).max(200),
  })
  .strict();

export function registerSessionRoutes(app: FastifyInstance, deps: { auth: AuthService; audit: AuditLog; clock: Clock; refusals: RefusalLedger }): void {
  const { auth, audit, clock, refusals } = deps;

  app.post<{ Body: unknown }>(
    "/api/login",
    { bodyLimit: LOGIN_BODY_LIMIT_BYTES, schema: { summary: "Logs in with { name, secret } (an instructor's PIN or a technician's password); answers a Bearer token and when it expires", tags: ["session"] } },
    async (request, reply) => {
      // Tokens and failures must not be cached by a proxy or the tablet's browser.
      void reply.header("cache-control", "no-store");
      const body = LoginBody.safeParse(request.body ?? {});
      if (!body.success) return sendReply(reply, { ok: false, code: "REQUEST_INVALID", message: `login: ${describeIssues(body.error, "(body)")}` });
      const from = request.ip;
      let session: Awaited<ReturnType<AuthService["login"]>>;
      try {
        session = await auth.login(body.data.name, body.data.secret, from);
      } catch (error) {
        const tried = body.data.name.trim().toLowerCase();
        if (error instanceof HubError && error.code === "RATE_LIMITED") {
          void reply.header("retry-after", String(retryAfterS(error.details)));
          refusals.note(from, "session.login (rate-limited)", { name: tried });
        }
        if (error instanceof HubError && error.code === "UNAUTHENTICATED") refusals.note(from, "session.login", { name: tried });
        return sendReply(reply, errorReply(error));
      }
      const { token, actor, expiresAt } = session;
      try {
        audit.append({ at: clock.now(), actor, action: "session.login", target: actor.name, result: "ok", details: { from, expiresAt } });
      } catch (auditError) {
        // No session without its record.
        auth.logout(token);
        return sendReply(reply, errorReply(auditError));
      }
      return sendReply(reply, { ok: true, result: { token, role: actor.role, name: actor.name, expiresAt } });
    },
  );

  app.post("/api/logout", { bodyLimit: LOGOUT_BODY_LIMIT_BYTES, schema: { summary: "Ends the session of the Bearer token, if any", tags: ["session"] } }, (request, reply) => {
    const token = bearerToken(request);
    const who = auth.session(token)?.actor;
    const loggedOut = auth.logout(token);
    if (loggedOut && who !== undefined) {
      try {
        audit.append({ at: clock.now(), actor: who, action: "session.logout", target: who.name, result: "ok", details: { from: request.ip } });
      } catch (auditError) {
        // The session is over either way; say that the record is missing.
        return sendReply(reply, errorReply(auditError));
      }
    }
    return sendReply(reply, { ok: true, result: { loggedOut } });
  });

  app.get("/api/session", { schema: { summary: "Who the Bearer token belongs to and when the session ends (kiosk and null without one)", tags: ["session"] } }, (request, reply) => {
    void reply.header("cache-control", "no-store");
    const s = auth.session(bearerToken(request));
    const actor = s?.actor ?? kioskActor();
    return sendReply(reply, { ok: true, result: { name: actor.name, role: actor.role, expiresAt: s?.expiresAt ?? null } });
  });
}

function retryAfterS(details: unknown): number {
  if (typeof details === "object" && details !== null && "retryAfterS" in details && typeof details.retryAfterS === "number") return details.retryAfterS;
  return 60;
}
