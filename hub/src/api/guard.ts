/**
 * Role checks for REST routes. Who is asking comes from the session behind the request (see
 * auth.ts); a request without a valid session is a kiosk. The server decides, never the browser.
 */
import type { FastifyRequest, preHandlerHookHandler } from "fastify";
import { HubError } from "../core/errors.ts";
import type { Actor, Role } from "../core/types.ts";

/** Finds the actor behind a request (kiosk if nobody is logged in). */
export type ActorOf = (request: FastifyRequest) => Actor;

export function requireRole(actorOf: ActorOf, roles: readonly Role[]): preHandlerHookHandler {
  return (request, _reply, done) => {
    const actor = actorOf(request);
    if (actor.role === "kiosk" && !roles.includes("kiosk")) {
      done(new HubError("UNAUTHENTICATED", `log in as ${roles.join(" or ")} first`));
      return;
    }
    if (!roles.includes(actor.role as Role)) {
      done(new HubError("FORBIDDEN", `${actor.name} (${actor.role}) may not do this; it needs ${roles.join(" or ")}`));
      return;
    }
    done();
  };
}
