/**
 * The command registry over HTTP: `GET /api/commands` lists what exists and who may call it,
 * `POST /api/commands/:name` with a JSON body of params invokes one. The reply is the registry's
 * Reply as it is, with the HTTP status of its code.
 *
 * A client without a session is refused in `onRequest`, from the name and the Authorization header
 * alone, before its body is read: no command acts for a kiosk, and a stranger's 60 KB body should
 * cost the hub nothing. Those refusals are counted per address and minute, not audited one by one
 * (refusals.ts).
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import type { Reply } from "../../core/errors.ts";
import { httpStatus } from "../status.ts";
import type { CommandRegistry } from "../commands.ts";
import { refuseEarly, type ActorOf } from "../guard.ts";

/** The largest params a command takes, as JSON: staff commands carry ids, a label, a comment. */
export const COMMAND_BODY_LIMIT_BYTES = 16 * 1024;

/** Sends a Reply with the status its code calls for. */
export function sendReply(reply: FastifyReply, r: Reply<unknown>): FastifyReply {
  return reply.status(r.ok ? 200 : httpStatus(r.code)).send(r);
}

export function registerCommandRoutes(app: FastifyInstance, deps: { commands: CommandRegistry; actorOf: ActorOf }): void {
  app.get("/api/commands", { schema: { summary: "Every command, what it does and which roles may call it", tags: ["commands"] } }, (_request, reply) =>
    sendReply(reply, { ok: true, result: deps.commands.list() }),
  );
  app.post<{ Params: { name: string }; Body: unknown }>(
    "/api/commands/:name",
    {
      bodyLimit: COMMAND_BODY_LIMIT_BYTES,
      schema: {
        summary: "Invokes one command (see GET /api/commands); the body is its params as JSON. Needs a session: Authorization: Bearer <token>",
        tags: ["commands"],
        params: { type: "object", properties: { name: { type: "string", maxLength: 80 } }, required: ["name"] },
      },
      onRequest: (request, reply, done) => {
        if (deps.actorOf(request).role !== "kiosk") return done();
        // Params are not validated yet in onRequest; the name is whatever the path says.
        const { name } = request.params as { name?: unknown };
        const refusal = deps.commands.refuseWithoutSession(typeof name === "string" ? name : "", request.ip);
        if (refusal === null) return done();
        void refuseEarly(reply, refusal.reply, refusal.retryAfterS);
      },
    },
    async (request, reply) => {
      // No body at all is a command without params; `null` or a non-object is left for the schema to refuse.
      const params = request.body === undefined ? {} : request.body;
      return sendReply(reply, await deps.commands.invoke(request.params.name, params, deps.actorOf(request), request.ip));
    },
  );
}
