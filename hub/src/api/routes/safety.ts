/**
 * Interlocks and alarms over REST. Interlocks are public (a kiosk explains why something stopped);
 * alarms are for staff. Changing anything goes through the command registry.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Installation } from "../../core/actuators/installation.ts";
import type { AlarmBook } from "../../core/alarms/alarms.ts";
import { HubError } from "../../core/errors.ts";
import type { InterlockService } from "../../core/interlock/service.ts";
import type { SafeStateEnforcer } from "../../core/interlock/safe-state.ts";
import { type ActorOf, requireRole } from "../guard.ts";

const AlarmQuery = z.object({ open: z.enum(["true", "false"]).optional() }).strict();

export function registerSafetyRoutes(app: FastifyInstance, deps: { interlocks: InterlockService; alarms: AlarmBook; enforcer: SafeStateEnforcer; installation: Installation; actorOf: ActorOf }): void {
  app.get("/api/interlocks", { schema: { summary: "Every interlock (estop is the emergency stop): state, cause and reasons in Dutch and English, permissives", tags: ["safety"] } }, (_req, reply) =>
    reply.send({ ok: true, result: deps.interlocks.list() }),
  );

  app.get<{ Params: { id: string } }>(
    "/api/interlocks/:id",
    { schema: { summary: "One interlock", tags: ["safety"], params: { type: "object", properties: { id: { type: "string", maxLength: 64 } }, required: ["id"] } } },
    (req, reply) => {
      const view = deps.interlocks.view(req.params.id);
      if (view === undefined) throw new HubError("NOT_FOUND", `no interlock "${req.params.id}"`);
      return reply.send({ ok: true, result: view });
    },
  );

  app.get(
    "/api/installation",
    { preHandler: requireRole(deps.actorOf, ["instructor", "technician"]), schema: { summary: "The installation's configured holds: held, or off (after a stop or a trip) and whether each may come back now", tags: ["safety"] } },
    (_req, reply) => reply.send({ ok: true, result: deps.installation.status() }),
  );

  app.get("/api/safe-state", { schema: { summary: "Trip actions still waiting for a device to confirm its safe state", tags: ["safety"] } }, (_req, reply) =>
    reply.send({ ok: true, result: deps.enforcer.status() }),
  );

  app.get(
    "/api/alarms",
    { preHandler: requireRole(deps.actorOf, ["instructor", "technician"]), schema: { summary: "Alarms, those needing attention first; ?open=true for active or unacknowledged only", tags: ["safety"] } },
    (req, reply) => {
      const q = AlarmQuery.safeParse(req.query);
      if (!q.success) throw new HubError("REQUEST_INVALID", `alarms: ${q.error.issues.map((i) => `${i.path.join(".") || "query"}: ${i.message}`).join("; ")}`);
      return reply.send({ ok: true, result: deps.alarms.list({ open: q.data.open === "true" }) });
    },
  );
}
