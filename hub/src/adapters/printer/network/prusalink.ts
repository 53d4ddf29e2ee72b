/**
 * PrusaLink (REST API v1): Prusa's MK4/MK3.9, Core One, XL and MINI (PrusaLink inside the Buddy
 * firmware) and an MK3 with Prusa-Link on a Raspberry Pi.
 *
 * - Auth: HTTP Digest (`auth.user`, default `maker`, and `auth.password` from the printer's menu) or
 *   `X-Api-Key` (`auth.apiKey`; older firmware and Prusa-Link on a Pi). `auth.password` may be given
 *   as `ha1:<32 hex>` = md5("maker:Printer API:<password>"): the config then holds the digest hash,
 *   not the password (the hash is only good for that user and realm, but it is still a credential).
 *   Digest is done by `digest-fetch`, which keeps the nonce and answers a `stale=true` 401 once.
 * - State: polled (`GET /api/v1/status` every 2 s, faster when `staleAfterMs` is short); the file
 *   name from `GET /api/v1/job` once per job. Every request is on its own connection
 *   (`Connection: close`), so a request that fails means the printer failed, not a reused socket
 *   the printer had already closed: a failed or timed-out poll is a lost printer.
 * - A job: the catalogue's `.gcode` (or `.bgcode`) is `PUT` raw to `/api/v1/files/<storage>/<name>`
 *   with `Print-After-Upload: ?1` and `Overwrite: ?1`; pause/resume `PUT /api/v1/job/<id>/pause|resume`,
 *   cancel `DELETE /api/v1/job/<id>`.
 * - The e-stop: v1 has no emergency stop, no G-code and no heater endpoint. The strongest stop is
 *   `DELETE` of the job, the firmware's own stop routine (Buddy: heaters off, park). Heaters off
 *   without a job is tried once on the legacy OctoPrint-style endpoints (`/api/printer/tool`,
 *   `/api/printer/bed`, which only Prusa-Link on a Pi may have); where they are missing it says so.
 * - Door: v1 reports none (Core One included, as far as the published spec goes): `doorOpen` null.
 * - Faults: `ERROR` (with `status_printer.message`) is a halt; `ATTENTION` is one only with a heater
 *   message (thermal runaway, heating failed, MINTEMP …), otherwise a print waiting for a person.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import DigestClient from "digest-fetch";
import type { Timer } from "../../../core/clock.ts";
import { HubError } from "../../../core/errors.ts";
import type { PrinterDeviceConfig } from "../rules.ts";
import { type NetworkDriverContext, type NetworkDriverOptions, NetworkPrinterDriver, type NetworkStatus } from "./driver.ts";

export const PRUSALINK_POLL_MS = 2000;
const DEFAULT_USER = "maker";
const REQUEST_TIMEOUT_MS = 10_000;
const HEATER_WORDS = /heat|thermal|runaway|mintemp|maxtemp|temp|thermistor/i;

export type PrusaLinkAuth = { kind: "apiKey"; apiKey: string } | { kind: "digest"; user: string; password: string; ha1: boolean };

export interface PrusaLinkTarget {
  /** `http://host[:port]` without a trailing slash. */
  base: string;
  auth: PrusaLinkAuth;
}

/** Checks a prusalink printer's config: the url and the credentials, naming what is missing. */
export function prusaLinkTarget(config: PrinterDeviceConfig): PrusaLinkTarget {
  const where = `devices: printer "${config.id}"`;
  let url: URL;
  try {
    url = new URL(config.url);
  } catch {
    throw new HubError("CONFIG_INVALID", `${where}: url must be http://<printer address> for protocol prusalink`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new HubError("CONFIG_INVALID", `${where}: url must be http://<printer address> for protocol prusalink, not ${url.protocol}//`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new HubError("CONFIG_INVALID", `${where}: put the PrusaLink credentials in auth.user/auth.password, not in the url`);
  }
  const base = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}`;
  const a = config.auth ?? {};
  if (a.password !== undefined) {
    const ha1 = /^ha1:([0-9a-fA-F]{32})$/.exec(a.password);
    if (a.password.startsWith("ha1:") && ha1 === null) {
      throw new HubError("CONFIG_INVALID", `${where}: auth.password "ha1:…" must be ha1: and 32 hex digits (md5 of user:Printer API:password)`);
    }
    return { base, auth: { kind: "digest", user: a.user ?? DEFAULT_USER, password: ha1?.[1]?.toLowerCase() ?? a.password, ha1: ha1 !== null } };
  }
  if (a.apiKey !== undefined) return { base, auth: { kind: "apiKey", apiKey: a.apiKey } };
  throw new HubError(
    "CONFIG_INVALID",
    `${where}: protocol prusalink needs auth.password (the printer's PrusaLink password, user "maker") or auth.apiKey`,
  );
}

export function createPrusaLinkDriver(config: PrinterDeviceConfig, ctx: NetworkDriverContext, options: Partial<NetworkDriverOptions> = {}): NetworkPrinterDriver {
  return new PrusaLinkDriver(prusaLinkTarget(config), ctx, options);
}

interface V1Status {
  printer?: {
    state?: unknown;
    temp_nozzle?: unknown;
    target_nozzle?: unknown;
    temp_bed?: unknown;
    target_bed?: unknown;
    status_printer?: { ok?: unknown; message?: unknown };
  };
  job?: { id?: unknown; progress?: unknown; time_remaining?: unknown; time_printing?: unknown };
}

type Reply = { status: number; body: unknown; text: string };

export class PrusaLinkDriver extends NetworkPrinterDriver {
  readonly protocol = "prusalink" as const;
  /** The catalogue stores `.gcode` for a PrusaLink printer; a `.bgcode` next to it is taken first. */
  readonly catalogueExtensions = [".bgcode", ".gcode"] as const;
  readonly estopEffect = "cancel: the printer's own stop routine (heaters off, park); PrusaLink has no emergency stop";

  private readonly digest: DigestClient | null;
  private readonly pollMs: number;
  /** Aborts every request of the current connection on `close()`. */
  private conn: AbortController | null = null;
  private generation = 0;
  private pollTimer: Timer | null = null;
  private polling = false;
  private storage = "usb";
  private jobId: number | null = null;
  private readonly jobFiles = new Map<number, string>();
  /** The legacy heater endpoints answered 404 once: not asked again. */
  private noHeaterEndpoint = false;

  constructor(
    private readonly target: PrusaLinkTarget,
    ctx: NetworkDriverContext,
    options: Partial<NetworkDriverOptions> = {},
  ) {
    super(ctx, options);
    const a = target.auth;
    this.digest = a.kind === "digest" ? new BuddyDigest(a.user, a.password, { precomputedHash: a.ha1 }) : null;
    // Three polls inside the stale window at least, never more often than 4 a second.
    this.pollMs = Math.max(250, Math.min(PRUSALINK_POLL_MS, Math.floor(this.options.staleAfterMs / 3)));
  }

  private get credentialName(): string {
    return this.target.auth.kind === "apiKey" ? "api key" : this.target.auth.ha1 ? "digest hash (ha1) of the password" : "password";
  }

  // ---- connection ----------------------------------------------------------------------------

  protected async open(): Promise<void> {
    this.conn?.abort();
    const conn = new AbortController();
    this.conn = conn;
    const gen = ++this.generation;
    this.jobId = null;
    const version = await this.call("GET", "/api/version");
    if (version.status !== 200) throw this.refusal("GET /api/version", version);
    const v = asRecord(version.body);
    const api = typeof v.api === "string" ? v.api : "?";
    // v1 is there from api 2.0.0 (Prusa-Link 0.7.2 on a Pi serves it while saying 0.9.0-legacy): ask it.
    const first = await this.call("GET", "/api/v1/status");
    if (first.status === 404) {
      throw new HubError("PROTOCOL_INVALID", `the printer has no PrusaLink API v1 (api ${api}): update its firmware (MK4/XL 4.7.0, MINI 5.1.0 or newer)`);
    }
    if (first.status !== 200) throw this.refusal("GET /api/v1/status", first);
    const info = await this.call("GET", "/api/v1/info").catch(() => null);
    const i = info?.status === 200 ? asRecord(info.body) : {};
    const storage = await this.call("GET", "/api/v1/storage").catch(() => null);
    if (storage?.status === 200) {
      const list = asRecord(storage.body).storage_list;
      const writable = Array.isArray(list) ? list.map(asRecord).find((s) => s.read_only === false && s.available !== false && typeof s.name === "string") : undefined;
      if (writable !== undefined) this.storage = String(writable.name);
    }
    if (gen !== this.generation) throw new HubError("TRANSPORT_CLOSED", "closed while connecting");
    this.info.FIRMWARE_NAME = `PrusaLink ${typeof v.server === "string" ? v.server : ""}`.trim();
    this.info.PROTOCOL_VERSION = api;
    this.info.MACHINE_TYPE = str(i.name) ?? str(v.text) ?? "Prusa printer";
    const host = str(i.hostname) ?? str(v.hostname);
    if (host !== null) this.info.HOSTNAME = host;
    this.info.STORAGE = this.storage;
    this.info.AUTH = this.target.auth.kind === "apiKey" ? "X-Api-Key" : "digest";
    await this.handleStatus(first, gen);
    this.pollTimer = this.ctx.clock.setInterval(() => void this.poll(gen), this.pollMs);
  }

  protected close(): Promise<void> {
    this.generation++;
    this.pollTimer?.cancel();
    this.pollTimer = null;
    this.conn?.abort();
    this.conn = null;
    this.polling = false;
    return Promise.resolve();
  }

  private async poll(gen: number): Promise<void> {
    if (this.polling || gen !== this.generation) return;
    this.polling = true;
    try {
      const reply = await this.call("GET", "/api/v1/status", { timeoutMs: Math.max(1000, Math.min(REQUEST_TIMEOUT_MS, this.options.staleAfterMs)) });
      if (gen !== this.generation) return;
      if (reply.status === 401) {
        this.lost(`the printer refused the ${this.credentialName} (HTTP 401)`);
        return;
      }
      if (reply.status !== 200) {
        this.counters.requestErrors++;
        this.ctx.logger.debug({ status: reply.status }, "prusalink: status poll refused");
        return;
      }
      await this.handleStatus(reply, gen);
    } catch (error) {
      if (gen !== this.generation) return;
      this.lost(`the printer did not answer: ${describe(error)}`);
    } finally {
      if (gen === this.generation) this.polling = false;
    }
  }

  /** Asks for a status now (after a request), outside the poll's pace. */
  private pollSoon(): void {
    const gen = this.generation;
    this.ctx.clock.setTimeout(() => void this.poll(gen), 0);
  }

  private async handleStatus(reply: Reply, gen: number): Promise<void> {
    const s = asRecord(reply.body) as V1Status;
    const p = asRecord(s.printer) as NonNullable<V1Status["printer"]>;
    if (typeof p.state !== "string") {
      // Not a status (a proxy's page, a truncated body): no report, so a printer that only says this goes stale.
      this.counters.requestErrors++;
      this.ctx.logger.warn({ body: reply.text.slice(0, 80) }, "prusalink: status without printer.state");
      return;
    }
    const state = p.state.toUpperCase();
    const jobId = num(s.job?.id);
    this.jobId = jobId;
    let file: string | null = null;
    if (jobId !== null) {
      file = this.jobFiles.get(jobId) ?? null;
      if (file === null) {
        const job = await this.call("GET", "/api/v1/job").catch(() => null);
        if (gen !== this.generation) return;
        const f = job?.status === 200 ? asRecord(asRecord(job.body).file) : {};
        file = str(f.display_name) ?? str(f.name);
        if (file !== null) {
          this.jobFiles.set(jobId, file);
          if (this.jobFiles.size > 20) this.jobFiles.delete(this.jobFiles.keys().next().value as number);
        }
      }
    }
    const message = str(p.status_printer?.message);
    const hasJob = jobId !== null;
    let job: NetworkStatus["job"];
    switch (state) {
      case "PRINTING":
        job = "printing";
        break;
      case "PAUSED":
        job = "paused";
        break;
      case "ATTENTION": // the printer waits for a person (filament runout, a crash, a question on its screen)
        job = hasJob ? "paused" : "idle";
        break;
      case "BUSY":
        job = hasJob ? "printing" : "idle";
        break;
      case "FINISHED":
        job = "finished";
        break;
      case "STOPPED":
        job = "cancelled";
        break;
      case "ERROR":
        job = hasJob ? "error" : "idle";
        break;
      default:
        job = "idle";
    }
    let fault: string | null = null;
    if (state === "ERROR") fault = message ?? "the printer reports ERROR";
    else if (state === "ATTENTION" && message !== null && HEATER_WORDS.test(message)) fault = message;
    const nozzle = num(p.temp_nozzle);
    const bed = num(p.temp_bed);
    this.report({
      raw: message !== null ? `${state}: ${message}` : state,
      job,
      hotend: nozzle === null ? null : { actual: nozzle, target: num(p.target_nozzle) },
      bed: bed === null ? null : { actual: bed, target: num(p.target_bed) },
      file,
      progressPct: clampPct(num(s.job?.progress)),
      elapsedS: num(s.job?.time_printing),
      timeLeftS: num(s.job?.time_remaining),
      layer: null,
      layers: null,
      doorOpen: null,
      fault,
    });
  }

  // ---- jobs ----------------------------------------------------------------------------------

  protected async startPrint(program: string, file: string): Promise<void> {
    const name = path.basename(file);
    if (!/\.(b?gcode)$/i.test(name)) throw new HubError("REQUEST_INVALID", `${program}: a PrusaLink printer takes .gcode or .bgcode, not ${name}`);
    const body = await readFile(file);
    // A fresh nonce right before the upload: Buddy's live ~8 s, and a body sent on a stale one is sent twice.
    if (this.digest !== null) await this.call("GET", "/api/v1/status");
    const where = `/api/v1/files/${encodeURIComponent(this.storage)}/${encodeURIComponent(name)}`;
    const reply = await this.call("PUT", where, {
      body,
      headers: { "Content-Type": "application/octet-stream", "Print-After-Upload": "?1", Overwrite: "?1" },
      timeoutMs: REQUEST_TIMEOUT_MS + Math.ceil(body.length / 50), // plus ~50 kB/s (50 bytes a ms), a printer's Wi-Fi at its worst
    });
    if (reply.status !== 201 && reply.status !== 204) throw this.refusal(`upload of ${name}`, reply);
    this.message(`${name} sent to the printer (${Math.round(body.length / 1024)} kB) and started`, "info");
    this.pollSoon();
  }

  protected pauseJob(): Promise<void> {
    return this.jobRequest("PUT", "pause");
  }

  protected resumeJob(): Promise<void> {
    return this.jobRequest("PUT", "resume");
  }

  protected cancelJob(): Promise<void> {
    return this.jobRequest("DELETE", null);
  }

  /** Stop the job (the firmware's stop routine); heaters off where an endpoint exists. */
  protected async stopNow(reason: string): Promise<void> {
    this.ctx.logger.info({ reason }, "prusalink: emergency stop = stop the job");
    const running = this.last !== null && (this.last.job === "printing" || this.last.job === "paused");
    let jobId = running ? this.jobId : null;
    if (jobId === null) {
      // The last poll may be from before a start (a job begun a moment ago): ask the printer now.
      const fresh = await this.call("GET", "/api/v1/status");
      jobId = fresh.status === 200 ? num(asRecord(asRecord(fresh.body).job).id) : null;
    }
    if (jobId !== null) {
      const reply = await this.call("DELETE", `/api/v1/job/${jobId}`);
      // 404/409: the job ended on its own between the last poll and now.
      if (reply.status !== 204 && reply.status !== 200 && reply.status !== 404 && reply.status !== 409) throw this.refusal("stop the job", reply);
    }
    await this.coolDown().catch((error: unknown) => this.message(`heaters: ${describe(error)}`, "info"));
    this.pollSoon();
  }

  /** v1 has no heater endpoint; the legacy OctoPrint-style ones are tried (Prusa-Link on a Pi may answer). */
  protected async coolDown(): Promise<void> {
    if (this.noHeaterEndpoint) throw new HubError("DEVICE_REFUSED", "PrusaLink API v1 has no heater control: switch the heaters off at the printer");
    const tool = await this.call("POST", "/api/printer/tool", { json: { command: "target", targets: { tool0: 0 } } });
    const bed = await this.call("POST", "/api/printer/bed", { json: { command: "target", target: 0 } });
    const ok = (r: Reply): boolean => r.status === 204 || r.status === 200;
    if (ok(tool) && ok(bed)) return;
    if (tool.status === 404 || bed.status === 404 || tool.status === 501 || bed.status === 405) {
      this.noHeaterEndpoint = true;
      throw new HubError("DEVICE_REFUSED", "PrusaLink API v1 has no heater control: switch the heaters off at the printer");
    }
    throw this.refusal("heaters off", ok(tool) ? bed : tool);
  }

  private async jobRequest(method: "PUT" | "DELETE", action: "pause" | "resume" | null): Promise<void> {
    const id = this.jobId;
    if (id === null) throw new HubError("REQUEST_INVALID", "the printer reports no job");
    const reply = await this.call(method, `/api/v1/job/${id}${action !== null ? `/${action}` : ""}`);
    if (reply.status !== 204 && reply.status !== 200) throw this.refusal(action ?? "cancel", reply);
    this.pollSoon();
  }

  // ---- HTTP ----------------------------------------------------------------------------------

  /** One request on its own connection; resolves with any HTTP status, rejects on no answer. */
  private async call(
    method: string,
    urlPath: string,
    opts: { body?: Buffer; json?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<Reply> {
    const conn = this.conn;
    if (conn === null) throw new HubError("DEVICE_OFFLINE", "not connected");
    const headers: Record<string, string> = { Accept: "application/json", Connection: "close", ...opts.headers };
    // A Blob: fetch sends Content-Length (PrusaLink requires it), and digest-fetch can send it again after a stale nonce.
    let body: Blob | string | undefined = opts.body !== undefined ? new Blob([new Uint8Array(opts.body)]) : undefined;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers["Content-Type"] = "application/json";
    }
    if (this.target.auth.kind === "apiKey") headers["X-Api-Key"] = this.target.auth.apiKey;
    const signal = AbortSignal.any([conn.signal, AbortSignal.timeout(opts.timeoutMs ?? REQUEST_TIMEOUT_MS)]);
    const init = { method, headers, signal, ...(body !== undefined ? { body } : {}) };
    const url = this.target.base + urlPath;
    const res = (this.digest !== null ? await this.digest.fetch(url, init) : await fetch(url, init)) as Response;
    const text = res.status === 204 ? "" : await res.text();
    let parsed: unknown = null;
    if (text !== "") {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
    }
    return { status: res.status, body: parsed, text: text.slice(0, 300) };
  }

  /** A refused request as a HubError in plain words: the printer's own title/text where it gave one, never a credential. */
  private refusal(what: string, reply: Reply): HubError {
    if (reply.status === 401 || reply.status === 403) {
      const a = this.target.auth;
      const realm = (this.digest?.digest.realm ?? "").replace(/[^\w .-]/g, "").slice(0, 40); // the printer's words: kept short and plain
      const hint =
        a.kind === "digest" && a.ha1 && realm !== ""
          ? `the hash must be md5 of "${a.user}:${realm}:<password>"`
          : "check auth in the config against the printer's Settings > Network > PrusaLink";
      return new HubError("DEVICE_AUTH", `PrusaLink refused the ${this.credentialName}: HTTP ${reply.status} on ${what} (${hint})`);
    }
    const b = asRecord(reply.body);
    const said = str(b.text) ?? str(b.title) ?? (reply.text.trim() !== "" && reply.body === null ? reply.text.trim().slice(0, 120) : null);
    const why = reply.status === 409 ? "the printer is busy or the job is in another state" : `HTTP ${reply.status}`;
    return new HubError("DEVICE_REFUSED", `PrusaLink refused ${what}: ${why}${said !== null ? ` (${said})` : ""}`);
  }
}

/**
 * digest-fetch, minus the `algorithm=MD5` field when the challenge had no `qop`: Buddy's challenge has
 * none, and older Buddy firmware refused a reply that carried the field (pyprusalink omits it for the
 * same reason; prusa3d/Prusa-Firmware-Buddy PR #3665). MD5 is the default the field would name.
 */
class BuddyDigest extends DigestClient {
  override addAuth(url: unknown, options: unknown): unknown {
    const out = super.addAuth(url, options) as { headers?: Record<string, string> };
    const qop = (this.digest as { qop?: unknown }).qop;
    const auth = out.headers?.Authorization;
    if (out.headers !== undefined && auth !== undefined && (qop === null || qop === undefined)) {
      out.headers.Authorization = auth.replace(/,?\s*algorithm=MD5\b/i, "");
    }
    return out;
  }
}

function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function str(v: unknown): string | null {
  return typeof v === "string" && v.trim() !== "" ? v.slice(0, 200) : null;
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function clampPct(v: number | null): number | null {
  return v === null ? null : Math.max(0, Math.min(100, v));
}

/** A fetch failure in plain words (`fetch failed` says nothing; its cause does). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if (error.name === "TimeoutError") return "no answer in time";
  if (error.name === "AbortError") return "aborted";
  const cause = (error as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code;
    return `${error.message} (${typeof code === "string" ? code : cause.message})`;
  }
  return error.message;
}
