/**
 * A simulated Ultimaker S-series printer speaking the local HTTP API v1 (`/api/v1`) over a real
 * `node:http` server, with the network printers' `SimMachine` behind it.
 *
 * As on the printer: every GET is open; every POST/PUT needs HTTP Digest (MD5, qop=auth) with a
 * pair (`id`, `key`) the printer handed out at pairing (`POST /auth/request`, confirmed on its
 * screen: `answerPairing()` here). `GET /print_job` is 404 without a job. A job runs
 * `pre_print -> printing <-> (pausing -> paused -> resuming) -> post_print -> wait_cleanup`, and
 * stays in `wait_cleanup` (printer busy, no new upload) until a person confirms the plate is clear
 * (`clearPlate()`). `abort` from any active state ends through `post_print` with result `Aborted`;
 * the machine parks and switches its heaters off (the firmware's end routine). Uploads: multipart
 * field `file`, `.gcode` or `.ufp` (unpacked to `/3D/model.gcode`). Heater targets cannot be set
 * over the API (405, as a community client reports for real firmware) unless
 * `acceptTemperatureWrites`. No door signal in v1.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { Socket } from "node:net";
import { systemClock } from "../../hub/src/core/clock.ts";
import { type MachineStatus, type NetPrinterSimHandle, type NetPrinterSimOptions, SimMachine } from "./machine.ts";
import { ufpGcode } from "./ultimaker-ufp.ts";

export interface UltimakerSimOptions extends NetPrinterSimOptions {
  /** How long a job sits in `post_print` (cool down and park) before `wait_cleanup`; default 1000 ms. */
  postPrintMs?: number;
  /** How long `pausing`/`resuming` last; default 300 ms. */
  transitionMs?: number;
  /** Clear the plate by itself this long after `wait_cleanup` begins (a demo without a person); default never. */
  autoClearPlateMs?: number | null;
  /** Accept `PUT …/temperature` for the bed and hotends (real firmware answers 405, reportedly); default false. */
  acceptTemperatureWrites?: boolean;
  /** The printer's model (`/system/variant`); default "Ultimaker S5". */
  variant?: string;
  /** Largest upload accepted (bytes); default 64 MiB. */
  maxUploadBytes?: number;
}

export interface UltimakerSimHandle extends NetPrinterSimHandle {
  /** The printer's `/system/guid`. */
  readonly guid: string;
  /** The person at the printer confirms the build plate is clear: `wait_cleanup` -> no job. */
  clearPlate(): void;
  /** The person at the printer answers the pairing prompt(s) on the screen. */
  answerPairing(allow: boolean): void;
  /**
   * Fault: the printer drops off the network (true: the listener closes, connections are reset,
   * new ones refused; the machine goes on printing) or comes back on the same port (false).
   * (`dropConnections()` alone is invisible to a polling client between its requests: it simply
   * opens a new connection.)
   */
  setOffline(offline: boolean): Promise<void>;
}

type JobState = "pre_print" | "printing" | "pausing" | "paused" | "resuming" | "post_print" | "wait_cleanup";

interface Job {
  uuid: string;
  name: string;
  startedIso: string;
  finishedIso: string | null;
  /** When the machine's job ended (clock ms); null while it runs. */
  endedAt: number | null;
  transition: { kind: "pausing" | "resuming"; until: number } | null;
}

interface Pairing {
  id: string;
  key: string;
  application: string;
  user: string;
  answer: "unknown" | "authorized" | "unauthorized";
}

const REALM = "Ultimaker";
const DEFAULT_USER = "tec-hub-sim-pair";
const DEFAULT_PASSWORD = "sim-ultimaker-key-0123456789abcdef";
const FIRMWARE = "5.8.1.20240614";

export async function startUltimakerSim(opts: UltimakerSimOptions = {}): Promise<UltimakerSimHandle> {
  const clock = opts.clock ?? systemClock;
  const ownMachine = opts.machine === undefined;
  const variant = opts.variant ?? "Ultimaker S5";
  const machine = opts.machine ?? new SimMachine({ clock, hasDoor: false, name: variant, ...opts.machineOptions });
  if (ownMachine) machine.start();
  const log = opts.logger ?? (() => {});
  const postPrintMs = opts.postPrintMs ?? 1000;
  const transitionMs = opts.transitionMs ?? 300;
  const autoClear = opts.autoClearPlateMs ?? null;
  const maxUpload = opts.maxUploadBytes ?? 64 * 1024 * 1024;
  const guid = randomUUID();
  const user = opts.credentials?.user ?? DEFAULT_USER;
  const password = opts.credentials?.password ?? DEFAULT_PASSWORD;
  /** Pairs the printer knows: id -> key. */
  const pairs = new Map<string, string>([[user, password]]);
  const pairings = new Map<string, Pairing>();
  const nonces = new Set<string>();
  const sockets = new Set<Socket>();
  let silent = false;
  let refuse = false;
  let job: Job | null = null;

  machine.onChange(() => {
    const s = machine.status();
    if (job !== null && job.endedAt === null && (s.job === "finished" || s.job === "cancelled" || s.job === "error")) {
      job.endedAt = clock.now();
      job.finishedIso = new Date(clock.now()).toISOString();
    }
  });

  function jobState(j: Job, m: MachineStatus, now: number): JobState {
    if (j.endedAt !== null) {
      const since = now - j.endedAt;
      return since < postPrintMs ? "post_print" : "wait_cleanup";
    }
    const t = j.transition !== null && now < j.transition.until ? j.transition.kind : null;
    if (m.job === "paused") return t === "pausing" ? "pausing" : "paused";
    if (t === "resuming") return "resuming";
    const heating = (m.hotend.target > 0 && m.hotend.actual < m.hotend.target - 2) || (m.bed.target > 0 && m.bed.actual < m.bed.target - 2);
    if (m.progressPct < 5 && (m.elapsedS < 1 || heating)) return "pre_print";
    return "printing";
  }

  /** Drops a finished job when the demo clears the plate by itself. */
  function tidy(now: number): void {
    if (job?.endedAt != null && autoClear !== null && now - job.endedAt >= postPrintMs + autoClear) job = null;
  }

  function result(m: MachineStatus): string {
    if (m.job === "finished") return "Finished";
    if (m.job === "cancelled") return "Aborted";
    if (m.job === "error") return "Failed";
    return "";
  }

  function printerDoc(): unknown {
    const m = machine.status();
    tidy(clock.now());
    return {
      status: m.machine === "halted" ? "error" : job !== null ? "printing" : "idle",
      bed: { temperature: { current: m.bed.actual, target: m.bed.target }, pre_heat: { active: false }, type: "glass" },
      heads: [
        {
          position: { x: 0, y: 0, z: 0 },
          fan: 0,
          extruders: [
            {
              hotend: { id: "AA 0.4", serial: "SIM0000001", temperature: { current: m.hotend.actual, target: m.hotend.target } },
              active_material: { guid: "506c9f0d-e3aa-4bd4-b2d2-23e2425b1aa9", length_remaining: -1 },
              feeder: { jerk: 5, max_speed: 45, acceleration: 3000 },
            },
            {
              hotend: { id: "", serial: "", temperature: { current: 24, target: 0 } },
              active_material: { guid: "", length_remaining: -1 },
              feeder: { jerk: 5, max_speed: 45, acceleration: 3000 },
            },
          ],
        },
      ],
    };
  }

  function jobDoc(): unknown {
    const now = clock.now();
    tidy(now);
    if (job === null) return null;
    const m = machine.status();
    const elapsed = m.elapsedS;
    return {
      name: job.name,
      uuid: job.uuid,
      state: jobState(job, m, now),
      result: job.endedAt !== null ? result(m) : "",
      progress: job.endedAt !== null && m.job === "finished" ? 1 : m.progressPct / 100,
      time_elapsed: elapsed,
      time_total: elapsed + (m.timeLeftS ?? 0),
      datetime_started: job.startedIso,
      datetime_finished: job.finishedIso ?? "",
      datetime_cleaned: "",
      source: "WEB_API",
      source_user: "",
      source_application: "",
      reprint_original_uuid: "",
      pause_source: "",
    };
  }

  function systemDoc(): unknown {
    return {
      name: "ultimakersystem-sim",
      guid,
      firmware: FIRMWARE,
      variant,
      platform: "Linux-sim",
      hostname: "ultimakersystem-sim",
      type: "3D printer",
      country: "NL",
      language: "en",
      uptime: Math.round(process.uptime()),
    };
  }

  // ---- digest --------------------------------------------------------------------------------

  function challenge(res: ServerResponse): void {
    const nonce = randomBytes(16).toString("hex");
    nonces.add(nonce);
    if (nonces.size > 1000) nonces.delete(nonces.values().next().value as string);
    res.setHeader("WWW-Authenticate", `Digest realm="${REALM}", qop="auth", nonce="${nonce}", algorithm="MD5"`);
    send(res, 401, { message: "Authorization required." });
  }

  function authorized(req: IncomingMessage): boolean {
    if (refuse) return false;
    const header = req.headers.authorization;
    if (header === undefined || !/^Digest\s/i.test(header)) return false;
    const f: Record<string, string> = {};
    for (const m of header.slice(7).matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g)) f[(m[1] ?? "").toLowerCase()] = m[2] ?? m[3] ?? "";
    const { username, realm, nonce, uri, response, qop, nc, cnonce } = f;
    if (username === undefined || nonce === undefined || uri === undefined || response === undefined) return false;
    if (realm !== REALM || !nonces.has(nonce) || uri !== req.url || qop !== "auth" || nc === undefined || cnonce === undefined) return false;
    const key = pairs.get(username);
    if (key === undefined) return false;
    const md5 = (s: string) => createHash("md5").update(s).digest("hex");
    const want = md5(`${md5(`${username}:${REALM}:${key}`)}:${nonce}:${nc}:${cnonce}:auth:${md5(`${req.method ?? "GET"}:${uri}`)}`);
    return want.length === response.length && timingSafeEqual(Buffer.from(want), Buffer.from(response));
  }

  // ---- requests ------------------------------------------------------------------------------

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, maxUpload);
    if (silent) return; // held until the client gives up or the printer speaks again (it never answers this one)
    if (body === null) return send(res, 413, { message: "Request entity too large" });
    const method = req.method ?? "GET";
    const path = new URL(req.url ?? "/", "http://printer").pathname.replace(/\/+$/, "");
    if (!path.startsWith("/api/v1/") && path !== "/api/v1") return send(res, 404, { message: "Not found" });
    const rest = path.slice("/api/v1".length);

    if (method === "GET") {
      if (rest === "/auth/verify") {
        if (!authorized(req)) return challenge(res);
        return send(res, 200, { message: "ok" });
      }
      const check = /^\/auth\/check\/([^/]+)$/.exec(rest);
      if (check !== null) {
        const p = pairings.get(decodeURIComponent(check[1] ?? ""));
        return send(res, 200, { message: p?.answer ?? "unknown" });
      }
      for (const [prefix, doc] of [
        ["/printer", printerDoc],
        ["/print_job", jobDoc],
        ["/system", systemDoc],
      ] as const) {
        if (rest === prefix || rest.startsWith(`${prefix}/`)) {
          const value = leaf(doc(), rest.slice(prefix.length).split("/").filter((s) => s !== ""));
          return value === undefined || value === null ? send(res, 404, { message: "Not found" }) : send(res, 200, value);
        }
      }
      return send(res, 404, { message: "Not found" });
    }

    if (method === "POST" && rest === "/auth/request") {
      const fields = parseFields(req, body);
      const application = fields.application ?? "";
      const who = fields.user ?? "";
      if (application === "" || who === "") return send(res, 400, { message: "application and user are required" });
      const p: Pairing = { id: randomBytes(16).toString("hex"), key: randomBytes(32).toString("hex"), application, user: who, answer: "unknown" };
      pairings.set(p.id, p);
      log(`pairing requested by ${application} (${who}); waiting for the screen`);
      return send(res, 200, { id: p.id, key: p.key });
    }

    if ((method === "POST" || method === "PUT") && !authorized(req)) return challenge(res);

    if (method === "POST" && rest === "/print_job") return upload(req, res, body);
    if (method === "PUT" && rest === "/print_job/state") {
      let target: unknown;
      try {
        target = (JSON.parse(body.toString("utf8")) as { target?: unknown }).target;
      } catch {
        return send(res, 400, { message: "body must be JSON {\"target\": \"pause\" | \"print\" | \"abort\"}" });
      }
      return setState(res, target);
    }
    if (method === "PUT" && (rest === "/printer/bed/temperature" || /^\/printer\/heads\/0\/extruders\/[01]\/hotend\/temperature$/.test(rest))) {
      if (opts.acceptTemperatureWrites !== true) return send(res, 405, { message: "Method not allowed" });
      let t: unknown;
      try {
        t = (JSON.parse(body.toString("utf8")) as { temperature?: unknown }).temperature;
      } catch {
        t = undefined;
      }
      if (typeof t !== "number" || t < 0 || t > 350) return send(res, 400, { message: "temperature must be a number 0..350" });
      if (rest.startsWith("/printer/bed")) machine.setTargets(null, t);
      else if (rest.includes("/extruders/0/")) machine.setTargets(t, null);
      return send(res, 204, null);
    }
    return send(res, method === "GET" || method === "POST" || method === "PUT" ? 404 : 405, { message: "Not found" });
  }

  async function upload(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    if (machine.halted()) return send(res, 405, { message: "Printer is in error state" });
    if (job !== null) return send(res, 405, { message: "Printer is busy" });
    let file: File | null = null;
    try {
      const form = await new Response(new Uint8Array(body), { headers: { "content-type": req.headers["content-type"] ?? "" } }).formData();
      const f = form.get("file");
      file = typeof f === "string" || f === null ? null : f;
    } catch {
      file = null;
    }
    if (file === null) return send(res, 400, { message: "multipart field \"file\" missing" });
    const name = file.name || "print.gcode";
    let gcode: string;
    try {
      const bytes = Buffer.from(await file.arrayBuffer());
      if (/\.ufp$/i.test(name)) gcode = ufpGcode(bytes);
      else if (/\.gcode$/i.test(name)) gcode = bytes.toString("utf8");
      else return send(res, 400, { message: `cannot print ${name}: .gcode or .ufp only` });
    } catch (error) {
      return send(res, 400, { message: error instanceof Error ? error.message : String(error) });
    }
    const jobName = name.replace(/\.(gcode|ufp)$/i, "");
    machine.store(jobName, gcode);
    try {
      machine.startJob(jobName);
    } catch (error) {
      return send(res, 405, { message: error instanceof Error ? error.message : String(error) });
    }
    job = { uuid: randomUUID(), name: jobName, startedIso: new Date(clock.now()).toISOString(), finishedIso: null, endedAt: null, transition: null };
    log(`print job ${jobName} started`);
    return send(res, 200, { message: "Printing job", uuid: job.uuid });
  }

  function setState(res: ServerResponse, target: unknown): void {
    if (job === null || job.endedAt !== null) return send(res, 405, { message: "No active print job" });
    try {
      if (target === "pause") {
        machine.pause();
        job.transition = { kind: "pausing", until: clock.now() + transitionMs };
      } else if (target === "print") {
        machine.resume();
        job.transition = { kind: "resuming", until: clock.now() + transitionMs };
      } else if (target === "abort") {
        machine.cancel();
      } else {
        return send(res, 400, { message: "target must be pause, print or abort" });
      }
    } catch (error) {
      return send(res, 405, { message: error instanceof Error ? error.message : String(error) });
    }
    log(`print job ${job.name}: ${String(target)}`);
    send(res, 204, null);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { message: error instanceof Error ? error.message : String(error) });
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const listen = (at: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(at, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  const unlisten = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  await listen(opts.port ?? 0);
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  let stopped = false;

  return {
    machine,
    protocol: "ultimaker",
    url: `http://127.0.0.1:${port}`,
    auth: { user, password },
    guid,
    dropConnections() {
      for (const s of sockets) s.destroy();
    },
    setSilent(on: boolean) {
      silent = on;
    },
    refuseCredentials(on: boolean) {
      refuse = on;
    },
    clearPlate() {
      if (job !== null && job.endedAt !== null) job = null;
    },
    answerPairing(allow: boolean) {
      for (const p of pairings.values()) {
        if (p.answer !== "unknown") continue;
        p.answer = allow ? "authorized" : "unauthorized";
        if (allow) pairs.set(p.id, p.key);
      }
    },
    async setOffline(offline: boolean) {
      if (stopped) return;
      if (offline) await unlisten();
      else if (!server.listening) await listen(port);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await unlisten();
      if (ownMachine) machine.stop();
    },
  };
}

/** A sub-document by path (`heads/0/extruders`): how the printer serves every leaf of its tree. */
function leaf(doc: unknown, parts: string[]): unknown {
  let v: unknown = doc;
  for (const p of parts) {
    if (v === null || typeof v !== "object") return undefined;
    v = Array.isArray(v) ? v[Number(p)] : (v as Record<string, unknown>)[p];
  }
  return v;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  if (body === null) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(text);
}

/** The whole body, or null when it is larger than `max` (the rest is drained). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= max) chunks.push(c);
    });
    req.on("end", () => resolve(size > max ? null : Buffer.concat(chunks)));
    req.on("error", () => resolve(null));
    req.on("close", () => resolve(size > max ? null : Buffer.concat(chunks)));
  });
}

/** `application`/`user` from a JSON or url-encoded body (Cura sends JSON). */
function parseFields(req: IncomingMessage, body: Buffer): Record<string, string> {
  const text = body.toString("utf8");
  const out: Record<string, string> = {};
  if ((req.headers["content-type"] ?? "").includes("json")) {
    try {
      for (const [k, v] of Object.entries(JSON.parse(text) as Record<string, unknown>)) if (typeof v === "string") out[k] = v;
    } catch {
      return out;
    }
    return out;
  }
  for (const [k, v] of new URLSearchParams(text)) out[k] = v;
  return out;
}
