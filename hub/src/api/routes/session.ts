/**
 * Logging in and out over HTTP. `POST /api/login` answers a token that the dashboard then sends as
 * `Authorization: Bearer <token>`; `GET /api/session` says who that is (a kiosk if nobody).
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { HubError, errorReply } from "../../core/errors.ts";
import { bearerToken, kioskActor, type AuthService } from "../auth.ts";
import { describeIssues } from "../commands.ts";
import { sendReply } from "./commands.ts";

const LoginBody = z
  .object({
    name: z.string().min(1).max(64),
    /** The PIN or the password. */
    secret: z.string().min(1).max(200),
  })
  .strict();

export function registerSessionRoutes(app: FastifyInstance, deps: { auth: AuthService }): void {
  const { auth } = deps;

  app.post<{ Body: unknown }>(
    "/api/login",
    { schema: { summary: "Logs in with { name, secret } (an instructor's PIN or a technician's password); answers a Bearer token and when it expires", tags: ["session"] } },
    (request, reply) => {
      // Tokens and failures must not be cached by a proxy or the tablet's browser.
      void reply.header("cache-control", "no-store");
      const body = LoginBody.safeParse(request.body ?? {});
      if (!body.success) return sendReply(reply, { ok: false, code: "REQUEST_INVALID", message: `login: ${describeIssues(body.error, "(body)")}` });
      try {
        const { token, actor, expiresAt } = auth.login(body.data.name, body.data.secret, request.ip);
        return sendReply(reply, { ok: true, result: { token, role: actor.role, name: actor.name, expiresAt } });
      } catch (error) {
        if (error instanceof HubError && error.code === "RATE_LIMITED") void reply.header("retry-after", String(retryAfterS(error.details)));
        return sendReply(reply, errorReply(error));
      }
    },
  );

  app.post("/api/logout", { schema: { summary: "Ends the session of the Bearer token, if any", tags: ["session"] } }, (request, reply) =>
    sendReply(reply, { ok: true, result: { loggedOut: auth.logout(bearerToken(request)) } }),
  );

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
