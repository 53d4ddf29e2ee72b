/**
 * `POST /api/estop`: the on-screen emergency stop, with or without a login. Accepted from a staff
 * session, from a registered terminal (its token in `x-tec-terminal`) and from the hub's own
 * machine; refused, and counted per address, from anything else (estop-terminals.ts says why).
 * `GET /api/terminals` lists the registered screens for technicians; registering and revoking are
 * commands (`terminal.register`, `terminal.revoke`).
 */
import type { FastifyInstance } from "fastify";
import type { AuditLog } from "../../core/audit.ts";
import type { Clock } from "../../core/clock.ts";
import { HubError, errorReply } from "../../core/errors.ts";
import type { InterlockService } from "../../core/interlock/service.ts";
import { text } from "../../core/texts/texts.ts";
import type { Actor, Text } from "../../core/types.ts";
import { type EstopTerminals, TERMINAL_HEADER, isLoopback } from "../estop-terminals.ts";
import { type ActorOf, requireRole } from "../guard.ts";
import type { RefusalLedger } from "../refusals.ts";
import { sendReply } from "./commands.ts";

const ESTOP_BODY_LIMIT_BYTES = 1024;

export interface EstopRouteDeps {
  interlocks: InterlockService;
  terminals: EstopTerminals;
  actorOf: ActorOf;
  audit: AuditLog;
  clock: Clock;
  refusals: RefusalLedger;
  /** The hub's own machine may press it without a login (`safety.estopFromHubMachine`). */
  fromHubMachine: boolean;
}

export function registerEstopRoutes(app: FastifyInstance, deps: EstopRouteDeps): void {
  app.post(
    "/api/estop",
    {
      bodyLimit: ESTOP_BODY_LIMIT_BYTES,
      schema: { summary: "Emergency stop from a screen: with a staff session, a registered terminal's token (x-tec-terminal) or from the hub's own machine. Latched until reset.", tags: ["safety"] },
    },
    (request, reply) => {
      const session = deps.actorOf(request);
      const header = request.headers[TERMINAL_HEADER];
      const terminal = deps.terminals.verify(typeof header === "string" ? header : undefined);
      let actor: Actor;
      let via: string;
      let who: Text | undefined;
      if (session.role === "instructor" || session.role === "technician") {
        actor = session;
        via = "session";
      } else if (terminal !== null) {
        actor = { name: `terminal ${terminal.name}`, role: "device" };
        via = "terminal";
        who = text("estop.whoTerminal", { terminal: terminal.name });
      } else if (deps.fromHubMachine && isLoopback(request.socket.remoteAddress)) {
        actor = { name: "screen on the hub's own machine", role: "device" };
        via = "hub machine";
        who = text("estop.whoHubMachine");
      } else {
        deps.refusals.note(request.ip, "estop (unregistered screen)", {});
        return sendReply(
          reply,
          errorReply(
            HubError.because("FORBIDDEN", text("estop.unregistered")),
          ),
        );
      }
      const view = deps.interlocks.emergencyStop(actor, who);
      deps.audit.append({ at: deps.clock.now(), actor, action: "estop.trigger", target: "*", result: "ok", details: { via, ...(terminal !== null ? { terminal: terminal.id } : {}), from: request.ip } });
      return sendReply(reply, { ok: true, result: view });
    },
  );

  app.get("/api/terminals", { preHandler: requireRole(deps.actorOf, ["technician"]), schema: { summary: "Screens registered for the e-stop without a login (never their tokens)", tags: ["safety"] } }, (_req, reply) =>
    reply.send({ ok: true, result: deps.terminals.list() }),
  );

  /** Whether this screen's terminal token is still valid (the dashboard asks at start, no login needed). */
  app.get("/api/terminals/self", { schema: { summary: "Whether the token in x-tec-terminal is a registered, active terminal; and whether this is the hub's own machine", tags: ["safety"] } }, (request, reply) => {
    const header = request.headers[TERMINAL_HEADER];
    const terminal = deps.terminals.verify(typeof header === "string" ? header : undefined);
    return reply.send({ ok: true, result: { terminal: terminal === null ? null : { id: terminal.id, name: terminal.name }, hubMachine: deps.fromHubMachine && isLoopback(request.socket.remoteAddress) } });
  });
}
