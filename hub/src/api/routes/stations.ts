/**
 * Stations (printers, robots) over REST: their state, programs and progress, the job history, and
 * for technicians the upload of a new approved printer model. Starting and stopping go through the
 * command registry (`station.start`, `station.pause`, …).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { AuditLog } from "../../core/audit.ts";
import { HubError } from "../../core/errors.ts";
import type { ActuatorKeeper } from "../../core/actuators/keeper.ts";
import type { StationRegistry } from "../../core/stations/stations.ts";
import type { VisitService } from "../../core/visits/visits.ts";
import type { JobHistory } from "../../storage/job-history.ts";
import { type ActorOf, requireRoleBeforeBody } from "../guard.ts";
import type { RefusalLedger } from "../refusals.ts";

const JobQuery = z.object({ station: z.string().max(48).optional(), limit: z.coerce.number().int().min(1).max(1000).optional() }).strict();
const MODEL_NAME = /^[a-z0-9][a-z0-9-]{0,47}$/;
/** A G-code model; the only route that takes more than a few KB, and only from a technician. */
export const MAX_MODEL_BYTES = 5 * 1024 * 1024;

export interface StationRouteDeps {
  stations: StationRegistry;
  jobs: JobHistory;
  audit: AuditLog;
  actorOf: ActorOf;
  /** Catalogue folder per printer station id. */
  catalogues: ReadonlyMap<string, string>;
  visits: VisitService;
  keeper: ActuatorKeeper;
  refusals: RefusalLedger;
}

export function registerStationRoutes(app: FastifyInstance, deps: StationRouteDeps): void {
  app.get("/api/stations", { schema: { summary: "Every station: state and why, program, progress, catalogue, whether it may start now", tags: ["stations"] } }, (_req, reply) =>
    reply.send({ ok: true, result: deps.stations.list() }),
  );

  app.get<{ Params: { id: string } }>(
    "/api/stations/:id",
    { schema: { summary: "One station", tags: ["stations"], params: { type: "object", properties: { id: { type: "string", maxLength: 48 } }, required: ["id"] } } },
    (req, reply) => reply.send({ ok: true, result: deps.stations.view(req.params.id) }),
  );

  app.get("/api/visit", { schema: { summary: "The class visit that runs, or null", tags: ["stations"] } }, (_req, reply) => reply.send({ ok: true, result: deps.visits.active }));

  app.get("/api/holds", { schema: { summary: "What the hub holds on: actuator values re-sent within their leases, and how the last refresh went", tags: ["stations"] } }, (_req, reply) =>
    reply.send({ ok: true, result: deps.keeper.list() }),
  );

  app.get("/api/jobs", { schema: { summary: "Job history, newest first; ?station=&limit=", tags: ["stations"] } }, (req, reply) => {
    const q = JobQuery.safeParse(req.query);
    if (!q.success) throw new HubError("REQUEST_INVALID", `jobs: ${q.error.issues.map((i) => `${i.path.join(".") || "query"}: ${i.message}`).join("; ")}`);
    return reply.send({ ok: true, result: deps.jobs.list(q.data) });
  });

  // A new approved model: a technician's right. The body is the G-code itself (text/plain). The
  // 5 MB text parser lives in its own scope with this one route: every other route keeps fastify's
  // own parsers and its own small limit. The role is checked in onRequest, before the body is read.
  void app.register((scope, _options, ready) => {
    scope.addContentTypeParser("text/plain", { parseAs: "string", bodyLimit: MAX_MODEL_BYTES }, (_req, body, done) => done(null, body));
    scope.put<{ Params: { id: string; name: string }; Body: string }>(
      "/api/stations/:id/catalogue/:name",
      {
        bodyLimit: MAX_MODEL_BYTES,
        onRequest: requireRoleBeforeBody(deps.actorOf, ["technician"], deps.refusals, "station.catalogueUpload"),
        schema: { summary: "Adds or replaces an approved G-code model in a printer's catalogue (technicians; body: the G-code as text/plain)", tags: ["stations"] },
      },
      (req, reply) => {
        const actor = deps.actorOf(req);
        const dir = deps.catalogues.get(req.params.id);
        if (dir === undefined) throw new HubError("NOT_FOUND", `no printer "${req.params.id}"`);
        if (!MODEL_NAME.test(req.params.name)) throw new HubError("REQUEST_INVALID", `model name "${req.params.name}" must be lower-case letters, digits and dashes`);
        const text = typeof req.body === "string" ? req.body : "";
        if (!/^\s*(;|G|M|T)/im.test(text)) throw new HubError("REQUEST_INVALID", "the body is not G-code (send it as text/plain)");
        mkdirSync(dir, { recursive: true });
        writeFileSync(path.join(dir, `${req.params.name}.gcode`), text);
        deps.audit.append({ at: Date.now(), actor, action: "station.catalogueUpload", target: `${req.params.id}/${req.params.name}`, result: "ok", details: { bytes: Buffer.byteLength(text) } });
        deps.stations.changed(req.params.id);
        return reply.send({ ok: true, result: { station: req.params.id, program: req.params.name, bytes: Buffer.byteLength(text) } });
      },
    );
    ready();
  });
}
