/**
 * The command registry over HTTP: `GET /api/commands` lists what exists and who may call it,
 * `POST /api/commands/:name` with a JSON body of params invokes one. The reply is the registry's
 * Reply as it is, with the HTTP status of its code.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import type { Reply } from "../../core/errors.ts";
import { httpStatus } from "../status.ts";
import type { CommandRegistry } from "../commands.ts";
import type { ActorOf } from "../guard.ts";

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
      schema: {
        summary: "Invokes one command (see GET /api/commands); the body is its params as JSON. Needs a session: Authorization: Bearer <token>",
        tags: ["commands"],
        params: { type: "object", properties: { name: { type: "string", maxLength: 80 } }, required: ["name"] },
      },
    },
    async (request, reply) => {
      // No body at all is a command without params; `null` or a non-object is left for the schema to refuse.
      const params = request.body === undefined ? {} : request.body;
      return sendReply(reply, await deps.commands.invoke(request.params.name, params, deps.actorOf(request)));
    },
  );
}
