/**
 * Ultimaker S-series (S3, S5, S7; UM3) over the printer's local HTTP API v1 (`http://<printer>/api/v1`).
 *
 * Every GET is open; every POST/PUT needs HTTP Digest with the pair (`id`, `key`) the printer hands
 * out at pairing (`auth.user` = id, `auth.password` = key; `pairUltimaker()` in ultimaker-pair.ts).
 * The driver polls `/printer` and `/print_job` (404 = no job); a job is the catalogue file posted as
 * multipart `file` to `/print_job` (`.ufp` or `.gcode`), which the printer starts at once;
 * pause/resume/abort are `PUT /print_job/state`. The strongest stop is `abort`: the firmware's own
 * end routine (heaters off, park). There is no e-stop and no raw G-code over this API, and heater
 * targets are (reportedly) refused with 405 on real firmware, so `stopNow` = abort + a try to zero
 * the heaters. No door signal.
 */
import { readFile } from "node:fs/promises";
import { basename, extname } from "node:path";
import DigestClient from "digest-fetch";
import type { Timer } from "../../../core/clock.ts";
import { HubError } from "../../../core/errors.ts";
import type { PrinterDeviceConfig } from "../rules.ts";
import { type NetworkDriverContext, type NetworkDriverOptions, NetworkPrinterDriver, type NetworkStatus } from "./driver.ts";

export interface UltimakerDriverOptions extends NetworkDriverOptions {
  /** How often `/printer` and `/print_job` are read; default 2 s (at most a third of `staleAfterMs`). */
  pollMs: number;
  /** One request (not an upload); default 5 s. */
  requestTimeoutMs: number;
  /** Sending a catalogue file; default 120 s. */
  uploadTimeoutMs: number;
}

/** The parts of `GET /api/v1/printer` the driver reads. */
interface PrinterDoc {
  status?: unknown;
  bed?: { temperature?: { current?: unknown; target?: unknown } };
  heads?: Array<{ extruders?: Array<{ hotend?: { id?: unknown; temperature?: { current?: unknown; target?: unknown } } }> }>;
}

/** The parts of `GET /api/v1/print_job` the driver reads. */
interface JobDoc {
  name?: unknown;
  state?: unknown;
  result?: unknown;
  progress?: unknown;
  time_elapsed?: unknown;
  time_total?: unknown;
}

interface Reply {
  status: number;
  body: unknown;
}

/** Job states in which `abort` applies (the others have ended or there is no job). */
const ACTIVE_JOB_STATES = new Set(["pre_print", "printing", "pausing", "paused", "resuming", "wait_user_action"]);

/** A request that got no answer in time (the printer may be silent): the base's stale check decides. */
class NoAnswer extends HubError {
  constructor(what: string) {
    super("DEVICE_TIMEOUT", `${what}: the printer did not answer in time`);
  }
}

export class UltimakerDriver extends NetworkPrinterDriver {
  readonly protocol = "ultimaker" as const;
  readonly catalogueExtensions = [".ufp", ".gcode"] as const;
  readonly estopEffect = "abort: the printer's own end routine (heaters off, park); no hard stop over the API";

  private readonly api: string;
  private readonly opts: UltimakerDriverOptions;
  private digest: DigestClient | null = null;
  private session: AbortController | null = null;
  private generation = 0;
  private poller: Timer | null = null;
  private polling = false;
  private extruders = 1;
  private lastJobState: string | null = null;
  private pollsStarted = 0;
  private newestReported = 0;

  constructor(
    url: string,
    private readonly user: string,
    private readonly password: string,
    ctx: NetworkDriverContext,
    options: Partial<UltimakerDriverOptions> = {},
  ) {
    super(ctx, options);
    const stale = this.options.staleAfterMs;
    this.opts = {
      ...this.options,
      pollMs: options.pollMs ?? Math.max(100, Math.min(2000, Math.floor(stale / 3))),
      requestTimeoutMs: options.requestTimeoutMs ?? Math.max(500, Math.min(5000, stale)),
      uploadTimeoutMs: options.uploadTimeoutMs ?? 120_000,
    };
    this.api = apiBase(url);
  }

  // ---- NetworkPrinterDriver ------------------------------------------------------------------

  protected async open(): Promise<void> {
    const gen = ++this.generation;
    this.session = new AbortController();
    // Who is there (open GETs): the guid keys the pair; firmware and model for the technician.
    const guid = await this.get("/system/guid", [404]);
    if (guid.status === 404) await this.get("/printer");
    const [firmware, variant, name] = await Promise.allSettled([this.get("/system/firmware"), this.get("/system/variant"), this.get("/system/name")]);
    const text = (r: PromiseSettledResult<Reply>) => (r.status === "fulfilled" && typeof r.value.body === "string" ? r.value.body : null);
    this.info.FIRMWARE_NAME = `Ultimaker firmware ${text(firmware) ?? "(unknown version)"}`;
    this.info.MACHINE_TYPE = text(variant) ?? "Ultimaker";
    if (typeof guid.body === "string") this.info.UUID = guid.body;
    const printerName = text(name);
    if (printerName !== null) this.info.NAME = printerName;

    // Does the printer still know our pair? (Digest; 401 = forgotten or wrong, 403 = denied.)
    this.digest = new DigestClient(this.user, this.password, { algorithm: "MD5" });
    const verify = await this.authed("GET", "/auth/verify");
    if (verify.status === 401 || verify.status === 403) {
      throw new HubError(
        "DEVICE_AUTH",
        `the Ultimaker API refused the digest pair (auth.user/auth.password): HTTP ${verify.status}; ` +
          "the printer does not know this pair (reset or never paired): pair the hub again and put the new id and key in the config",
      );
    }
    if (verify.status !== 200) throw new HubError("DEVICE_REFUSED", `GET /api/v1/auth/verify answered HTTP ${verify.status}`);

    await this.poll(gen);
    this.poller = this.ctx.clock.setInterval(() => void this.pollSafely(gen), this.opts.pollMs);
  }

  protected close(): Promise<void> {
    this.generation++;
    this.poller?.cancel();
    this.poller = null;
    this.session?.abort();
    this.session = null;
    this.polling = false;
    return Promise.resolve();
  }

  protected async startPrint(program: string, file: string): Promise<void> {
    const ext = extname(file).toLowerCase();
    if (!this.catalogueExtensions.includes(ext as ".ufp" | ".gcode")) {
      throw new HubError("REQUEST_INVALID", `an Ultimaker prints .ufp or .gcode, not ${ext || "a file without an extension"} (${basename(file)})`);
    }
    // The printer takes a file only without a job; after one it waits for a person to clear the plate.
    const current = await this.get("/print_job", [404]);
    if (current.status === 200) {
      const state = str((current.body as JobDoc | null)?.state);
      if (state === "wait_cleanup" || state === "post_print") {
        throw new HubError("DEVICE_REFUSED", "the printer waits for its build plate to be cleared: confirm on the printer's screen, then start again");
      }
      throw new HubError("DEVICE_REFUSED", `the printer already has a job (${state || "unknown state"})`);
    }
    const data = await readFile(file);
    const form = new FormData();
    form.append("jobname", program);
    form.append("file", new Blob([new Uint8Array(data)], { type: ext === ".ufp" ? "application/zip" : "text/x-gcode" }), `${program}${ext}`);
    const r = await this.authed("POST", "/print_job", form, this.opts.uploadTimeoutMs);
    if (r.status !== 200 && r.status !== 201) throw this.refused(r, `sending ${program}${ext}`);
    // Read the job at once: it is in pre_print now, and a short job must not end between two polls unseen.
    await this.poll(this.generation).catch(() => {});
  }

  protected pauseJob(): Promise<void> {
    return this.setJobState("pause");
  }

  protected resumeJob(): Promise<void> {
    return this.setJobState("print");
  }

  protected cancelJob(): Promise<void> {
    return this.setJobState("abort", false);
  }

  /** Abort (the firmware parks and cools in `post_print`), then a try to zero the heaters at once. */
  protected async stopNow(reason: string): Promise<void> {
    let active = this.lastJobState !== null && ACTIVE_JOB_STATES.has(this.lastJobState);
    if (!active) {
      // The last poll may be from before a start (a job begun a moment ago): ask the printer now.
      const current = await this.get("/print_job", [404]);
      active = current.status === 200 && ACTIVE_JOB_STATES.has(str((current.body as JobDoc | null)?.state));
    }
    if (active) await this.setJobState("abort");
    try {
      await this.coolDown();
    } catch (error) {
      this.message(`emergency stop (${reason}): the job is aborted; ${messageOf(error)}`, "info");
    }
  }

  protected async coolDown(): Promise<void> {
    const paths = ["/printer/bed/temperature"];
    for (let i = 0; i < this.extruders; i++) paths.push(`/printer/heads/0/extruders/${i}/hotend/temperature`);
    for (const p of paths) {
      const r = await this.authed("PUT", p, JSON.stringify({ temperature: 0 }));
      if (r.status === 405) {
        throw new HubError("DEVICE_REFUSED", "the printer refuses heater settings over its API (HTTP 405): only its own end routine and pre-heat timeout switch the heaters off");
      }
      if (r.status < 200 || r.status >= 300) throw this.refused(r, `PUT ${p}`);
    }
  }

  // ---- inside --------------------------------------------------------------------------------

  /** `readBack`: read the printer's state at once instead of at the next poll (not after a cancel: the station's own reason must end the job). */
  private async setJobState(target: "pause" | "print" | "abort", readBack = true): Promise<void> {
    const r = await this.authed("PUT", "/print_job/state", JSON.stringify({ target }));
    if (r.status < 200 || r.status >= 300) throw this.refused(r, `${target === "print" ? "resume" : target} the job`);
    if (readBack) await this.poll(this.generation).catch(() => {});
  }

  private async pollSafely(gen: number): Promise<void> {
    if (this.polling || gen !== this.generation) return;
    this.polling = true;
    try {
      await this.poll(gen);
    } catch (error) {
      if (gen !== this.generation) return;
      this.counters.requestErrors++;
      // No answer: the stale check decides. A refused or reset connection: the printer is gone.
      if (error instanceof HubError && error.code === "TRANSPORT_CLOSED") this.lost(error.message);
      else if (!(error instanceof NoAnswer)) this.ctx.logger.warn({ err: messageOf(error) }, "ultimaker poll failed");
    } finally {
      if (gen === this.generation) this.polling = false;
    }
  }

  private async poll(gen: number): Promise<void> {
    const seq = ++this.pollsStarted;
    const [printer, job] = await Promise.all([this.get("/printer"), this.get("/print_job", [404])]);
    // A poll that began before a newer one answered is older news (e.g. "no job" from before an upload): dropped.
    if (gen !== this.generation || seq < this.newestReported) return;
    this.newestReported = seq;
    const p = (printer.body ?? {}) as PrinterDoc;
    const j = job.status === 404 ? null : ((job.body ?? {}) as JobDoc);
    if (typeof p !== "object" || typeof p.status !== "string") throw new HubError("PROTOCOL_INVALID", "GET /api/v1/printer: no status in the answer");
    this.report(this.statusOf(p, j));
  }

  private statusOf(p: PrinterDoc, j: JobDoc | null): NetworkStatus {
    const printerStatus = String(p.status);
    const extruders = p.heads?.[0]?.extruders ?? [];
    this.extruders = Math.max(1, extruders.filter((e) => typeof e.hotend?.id === "string" && e.hotend.id !== "").length);
    const hot = extruders[0]?.hotend?.temperature;
    const bed = p.bed?.temperature;
    const jobState = j === null ? null : (str(j.state) || "none");
    this.lastJobState = jobState;
    const error = printerStatus === "error";
    const progress = num(j?.progress);
    const elapsed = num(j?.time_elapsed);
    const total = num(j?.time_total);
    return {
      raw: jobState === null ? printerStatus : `${printerStatus}, job ${jobState}`,
      job: jobOf(jobState, str(j?.result), error),
      hotend: num(hot?.current) === null ? null : { actual: num(hot?.current) ?? 0, target: num(hot?.target) },
      bed: num(bed?.current) === null ? null : { actual: num(bed?.current) ?? 0, target: num(bed?.target) },
      file: typeof j?.name === "string" && j.name !== "" ? j.name : null,
      progressPct: progress === null ? null : Math.max(0, Math.min(100, progress * 100)),
      elapsedS: elapsed,
      timeLeftS: elapsed !== null && total !== null && total > 0 ? Math.max(0, Math.round(total - elapsed)) : null,
      layer: null,
      layers: null,
      doorOpen: null,
      fault: error ? "the printer reports an error (status \"error\"): see its screen" : null,
      attention: jobState === "wait_cleanup" || jobState === "post_print" ? "clear-plate" : jobState === "wait_user_action" ? "at-printer" : null,
    };
  }

  /** An open GET; `allow` lists non-2xx statuses that are answers (404 = no job). */
  private async get(path: string, allow: number[] = []): Promise<Reply> {
    const r = await this.call(`GET /api/v1${path}`, () => fetch(this.api + path, { headers: { accept: "application/json" }, signal: this.signal(this.opts.requestTimeoutMs) }));
    if (!r.ok && !allow.includes(r.status)) throw new HubError("DEVICE_REFUSED", `GET /api/v1${path} answered HTTP ${r.status}`);
    return { status: r.status, body: await bodyOf(r) };
  }

  /** A digest-authenticated request (the first one of a session takes the printer's challenge). */
  private async authed(method: "GET" | "POST" | "PUT", path: string, body?: string | FormData, timeoutMs = this.opts.requestTimeoutMs): Promise<Reply> {
    const digest = this.digest;
    if (digest === null) throw new HubError("DEVICE_OFFLINE", "not connected to the printer");
    const headers: Record<string, string> = { accept: "application/json" };
    if (typeof body === "string") headers["content-type"] = "application/json";
    const r = (await this.call(`${method} /api/v1${path}`, () => digest.fetch(this.api + path, { method, headers, body, signal: this.signal(timeoutMs) }))) as Response;
    return { status: r.status, body: await bodyOf(r) };
  }

  /** Runs a fetch; a timeout becomes NoAnswer, anything else TRANSPORT_CLOSED (never with a secret in it). */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof Error && error.name === "TimeoutError") throw new NoAnswer(what);
      if (error instanceof Error && error.name === "AbortError") throw new HubError("TRANSPORT_CLOSED", `${what}: the connection to the printer was closed`);
      throw new HubError("TRANSPORT_CLOSED", `no connection to the printer at ${this.api}: ${causeOf(error)}`);
    }
  }

  private signal(timeoutMs: number): AbortSignal {
    const t = AbortSignal.timeout(timeoutMs);
    return this.session === null ? t : AbortSignal.any([this.session.signal, t]);
  }

  private refused(r: Reply, what: string): HubError {
    const said = typeof r.body === "object" && r.body !== null && typeof (r.body as { message?: unknown }).message === "string" ? (r.body as { message: string }).message : null;
    if (r.status === 401 || r.status === 403) return new HubError("DEVICE_AUTH", `${what}: the Ultimaker API refused the digest pair: HTTP ${r.status}`);
    return new HubError("DEVICE_REFUSED", `${what}: the printer answered HTTP ${r.status}${said !== null ? ` (${said.slice(0, 200)})` : ""}`);
  }
}

/** Creates the driver for a printer device with `protocol: ultimaker`; throws CONFIG_INVALID naming what is missing. */
export function createUltimakerDriver(config: PrinterDeviceConfig, ctx: NetworkDriverContext, options: Partial<UltimakerDriverOptions> = {}): NetworkPrinterDriver {
  const where = `devices: printer "${config.id}"`;
  let url: URL;
  try {
    url = new URL(config.url);
  } catch {
    throw new HubError("CONFIG_INVALID", `${where}: url must be http://<printer address> for protocol ultimaker`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new HubError("CONFIG_INVALID", `${where}: url must be http://<printer address> for protocol ultimaker (got ${url.protocol}//…)`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new HubError("CONFIG_INVALID", `${where}: url must not hold credentials; put the pair in auth.user and auth.password`);
  }
  const missing = (["user", "password"] as const).filter((k) => config.auth?.[k] === undefined).map((k) => `auth.${k}`);
  if (missing.length > 0) {
    throw new HubError("CONFIG_INVALID", `${where}: protocol ultimaker needs ${missing.join(" and ")} (the digest pair from pairing: id and key)`);
  }
  return new UltimakerDriver(config.url, config.auth?.user ?? "", config.auth?.password ?? "", ctx, options);
}

/** `http://host[:port][/api/v1]` -> `http://host[:port]/api/v1`. */
export function apiBase(url: string): string {
  const u = new URL(url);
  const path = u.pathname.replace(/\/+$/, "");
  return `${u.protocol}//${u.host}${path.endsWith("/api/v1") ? path : `${path}/api/v1`}`;
}

/**
 * The printer's job state (and its result once ended) as the station's job word.
 * pre_print/printing/resuming -> printing; pausing/paused/wait_user_action -> paused; post_print
 * and wait_cleanup -> finished, cancelled (result Aborted) or error (result Failed); status error -> error.
 */
export function jobOf(state: string | null, result: string, printerError: boolean): NetworkStatus["job"] {
  if (state === null || state === "none") return "idle";
  if (printerError) return "error";
  switch (state) {
    case "pre_print":
    case "printing":
    case "resuming":
      return "printing";
    case "pausing":
    case "paused":
    case "wait_user_action":
      return "paused";
    default: {
      const r = result.toLowerCase();
      if (r.startsWith("abort")) return "cancelled";
      if (r.startsWith("fail") || r.startsWith("error")) return "error";
      return "finished";
    }
  }
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

async function bodyOf(r: Response): Promise<unknown> {
  const text = await r.text().catch(() => "");
  if (text === "") return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function causeOf(error: unknown): string {
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (typeof cause?.code === "string") return cause.code;
  if (typeof cause?.message === "string") return cause.message;
  return messageOf(error);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
