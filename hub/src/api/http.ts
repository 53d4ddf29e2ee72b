/**
 * REST API (fastify) with its OpenAPI description, Prometheus metrics, and the dashboard's files.
 * Every reply has one shape: `{ ok: true, result }` or `{ ok: false, code, message }`.
 *
 * Bodies: every route that takes one sets its own limit (login 2 KB, commands 16 KB, a printer
 * model 5 MB for technicians only); any other route takes at most DEFAULT_BODY_LIMIT_BYTES. A
 * declared length over the limit is refused with 413 before a byte of the body is read.
 */
import { existsSync } from "node:fs";
import fastifyStatic from "@fastify/static";
import fastifySwagger from "@fastify/swagger";
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import { readTlsFiles } from "../broker/tls-certs.ts";
import { HubError, errorReply } from "../core/errors.ts";
import { httpStatus } from "./status.ts";
import type { Registry } from "../core/registry/registry.ts";
import { asDeviceId } from "../core/types.ts";
import type { HubMonitor } from "./monitor.ts";
import type { MetricsRegistry } from "./metrics.ts";

/** For a route that does not set its own: none of the others takes a body. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024;

export interface HistoryQuery {
  device: string;
  channel: string;
  from: number;
  to: number;
  resolution?: "raw" | "1m" | "15m" | "auto";
  maxPoints?: number;
}

export interface HistorySource {
  query(q: HistoryQuery): Promise<unknown>;
}

export interface HttpContext {
  registry: Registry;
  history: HistorySource;
  monitor: HubMonitor;
  metrics: MetricsRegistry;
  /** Folder of the built dashboard; served at `/`. */
  dashboardDir: string;
  /** Further route groups (sessions, commands, safety, audit), registered before the dashboard's files. */
  routes?: Array<(app: FastifyInstance) => void>;
  /** HTTPS with these certificate files (`http.tls`), read now; plain HTTP without. */
  tls?: { cert: string; key: string; ca?: string | undefined } | null;
}


const errorSchema = {
  type: "object",
  properties: {
    ok: { const: false },
    code: { type: "string" },
    message: { type: "string" },
    reason: { type: "object", properties: { nl: { type: "string" }, en: { type: "string" } } },
  },
  required: ["ok", "code", "message"],
} as const;

const okSchema = (result: object) => ({ type: "object", properties: { ok: { const: true }, result }, required: ["ok", "result"] }) as const;

function ok(reply: FastifyReply, result: unknown) {
  return reply.send({ ok: true, result });
}

export async function buildHttp(ctx: HttpContext): Promise<FastifyInstance> {
  // removeAdditional off: a misspelt query parameter is an error that names it, not silently ignored.
  const options = { logger: false, bodyLimit: DEFAULT_BODY_LIMIT_BYTES, ajv: { customOptions: { removeAdditional: false } } } as const;
  // HTTPS: the files are read (and the key checked against the certificate) before anything listens.
  // An https.Server serves routes and upgrades (socket.io attaches to `app.server`) as an
  // http.Server does, so the rest of the hub takes the instance by the one type.
  const files = ctx.tls ?? null;
  const pem = files !== null ? readTlsFiles(files, "http.tls") : null;
  const app = pem !== null ? (Fastify({ ...options, https: { cert: pem.cert, key: pem.key } }) as unknown as FastifyInstance) : Fastify(options);

  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.0.3",
      info: { title: "TEC Hub API", version: "1", description: "Devices, their health, history and the hub's own health. Replies: { ok: true, result } | { ok: false, code, message }." },
    },
  });

  app.setErrorHandler((error: unknown, request, reply) => {
    if (error instanceof HubError) return reply.status(httpStatus(error.code)).send(errorReply(error));
    const e = error as { validation?: unknown; message?: string; statusCode?: number; code?: string };
    if (e.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
      const limit = request.routeOptions.bodyLimit ?? DEFAULT_BODY_LIMIT_BYTES;
      return reply.status(413).send({ ok: false, code: "REQUEST_INVALID", message: `request body too large: ${request.method} ${request.routeOptions.url ?? request.url.split("?")[0] ?? ""} takes at most ${limit} bytes` });
    }
    if (e.validation !== undefined) return reply.status(400).send({ ok: false, code: "REQUEST_INVALID", message: e.message ?? "invalid request" });
    if (e.statusCode !== undefined && e.statusCode < 500) return reply.status(e.statusCode).send({ ok: false, code: "REQUEST_INVALID", message: e.message ?? "invalid request" });
    return reply.status(500).send({ ok: false, code: "TRANSPORT_FAILED", message: e.message ?? "internal error" });
  });

  app.setNotFoundHandler((request, reply) => {
    if (request.url.startsWith("/api/")) return reply.status(404).send({ ok: false, code: "NOT_FOUND", message: `no route ${request.method} ${request.url.split("?")[0] ?? ""}` });
    return reply.status(404).type("text/plain").send("Not found");
  });

  app.get("/api/devices", { schema: { summary: "Every declared device with its state and health", tags: ["devices"], response: { 200: okSchema({ type: "array" }) } } }, (_req, reply) =>
    ok(reply, ctx.registry.list()),
  );

  app.get<{ Params: { id: string } }>(
    "/api/devices/:id",
    {
      schema: {
        summary: "One device: state, channels with freshness, counters, recent rejects with reasons",
        tags: ["devices"],
        params: { type: "object", properties: { id: { type: "string", maxLength: 64 } }, required: ["id"] },
        response: { 200: okSchema({ type: "object", additionalProperties: true }), 404: errorSchema },
      },
    },
    (req, reply) => {
      const view = ctx.registry.view(asDeviceId(req.params.id));
      if (view === undefined) throw new HubError("NOT_FOUND", `no device "${req.params.id}"`);
      return ok(reply, view);
    },
  );

  app.get<{ Querystring: HistoryQuery }>(
    "/api/history",
    {
      schema: {
        summary: "Readings of one channel over a time range, at a resolution that fits (raw, 1-minute or 15-minute)",
        tags: ["history"],
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            device: { type: "string", maxLength: 64 },
            channel: { type: "string", maxLength: 64 },
            from: { type: "integer", minimum: 0, description: "ms since the epoch" },
            to: { type: "integer", minimum: 0, description: "ms since the epoch" },
            resolution: { type: "string", enum: ["raw", "1m", "15m", "auto"], default: "auto" },
            maxPoints: { type: "integer", minimum: 1, maximum: 10000, default: 1000 },
          },
          required: ["device", "channel", "from", "to"],
        },
        response: { 200: okSchema({ type: "object", additionalProperties: true }), 400: errorSchema },
      },
    },
    async (req, reply) => {
      const q = req.query;
      if (q.from > q.to) throw new HubError("REQUEST_INVALID", `from (${q.from}) is after to (${q.to})`);
      return ok(reply, await ctx.history.query(q));
    },
  );

  app.get("/api/hub/health", { schema: { summary: "The hub's own health: ingest rate, rejects, clients, event-loop lag, memory", tags: ["hub"] } }, (_req, reply) =>
    ok(reply, ctx.monitor.snapshot()),
  );

  app.get("/api/openapi.json", { schema: { hide: true } }, () => app.swagger());

  app.get("/metrics", { schema: { hide: true } }, async (_req, reply) => {
    const body = await ctx.metrics.render();
    return reply.type(ctx.metrics.contentType).send(body);
  });

  for (const register of ctx.routes ?? []) register(app);

  // Browsers ask for /favicon.ico whatever the page says; answer rather than log a 404.
  app.get("/favicon.ico", { schema: { hide: true } }, (_req, reply) => reply.redirect("/favicon.svg", 301));

  if (existsSync(ctx.dashboardDir)) {
    await app.register(fastifyStatic, { root: ctx.dashboardDir, prefix: "/", index: "index.html" });
  } else {
    app.get("/", (_req, reply) => reply.type("text/plain").send(`Dashboard not built: run "npm run build:dashboard" (looked in ${ctx.dashboardDir}).`));
  }

  return app;
}
