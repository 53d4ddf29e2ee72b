/**
 * OctoPrint: the printer behind an OctoPrint server (an OctoPi next to a Marlin printer), through
 * OctoPrint's REST API with the API key (`X-Api-Key`) and its push socket.
 *
 * Connect: `GET /api/version` (403/401 = the key is refused), `GET /api/connection` (the printer
 * profile names the machine), a first status over REST, then the push socket: a passive login
 * (`POST /api/login {"passive": true}` with the key gives `name` and `session`), the raw WebSocket
 * at `/sockjs/websocket`, `{"subscribe": …}` then `{"auth": "name:session"}`; `history` and then
 * `current` (at most twice a second) carry state, temperatures and progress. OctoPrint answers a bad
 * or expired session with silence, so the handshake has a deadline: without `history` in time the
 * driver polls REST instead (`/api/job`, `/api/printer`). A socket that goes quiet is covered by a
 * REST poll; when both are silent no status arrives and the base calls the printer lost (stale).
 *
 * Jobs: the catalogue's `.gcode` goes up with `POST /api/files/local` (`print=true`), OctoPrint
 * streams it to the printer. Pause/resume/cancel: `POST /api/job`. The strongest stop: `M112`
 * through `POST /api/printer/command`, which OctoPrint sends ahead of its queue, follows with
 * `M104 T<n> S0` and `M140 S0` and then closes the serial port (state `Offline after error`); the
 * firmware's M112 halts it (heaters and motors off). After the reset the driver reconnects
 * OctoPrint to the printer (`POST /api/connection {"command": "connect"}`), which resets the board.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import WebSocket from "ws";
import type { Timer } from "../../../core/clock.ts";
import { HubError } from "../../../core/errors.ts";
import type { PrinterDeviceConfig } from "../rules.ts";
import { type NetworkDriverContext, type NetworkDriverOptions, type NetworkStatus, NetworkPrinterDriver } from "./driver.ts";

export interface OctoPrintSettings {
  /** `http://host:5000` (or `https://`, or behind OctoPi's proxy on 80), without the `/api`. */
  url: string;
  apiKey: string;
}

export interface OctoPrintExtraOptions {
  /** Each REST request's deadline. */
  requestTimeoutMs: number;
  /** REST poll interval when the socket is not used (and the quiet-socket check). */
  pollMs: number;
  /** Use the push socket (true) or REST polling only (false). */
  push: boolean;
}

interface OctoFlags {
  operational?: boolean;
  printing?: boolean;
  paused?: boolean;
  pausing?: boolean;
  cancelling?: boolean;
  resuming?: boolean;
  finishing?: boolean;
  error?: boolean;
  closedOrError?: boolean;
  ready?: boolean;
}

interface OctoTemp {
  actual?: number | null;
  target?: number | null;
}

/** What `current`/`history` and the REST replies give, merged. */
interface OctoView {
  text: string;
  flags: OctoFlags | null;
  error: string | null;
  file: string | null;
  completion: number | null;
  printTime: number | null;
  printTimeLeft: number | null;
  tool0: OctoTemp | null;
  bed: OctoTemp | null;
}

/** Polling because the socket failed: try the socket again this often. */
const SOCKET_RETRY_MS = 60_000;

/** OctoPrint runs but is not connected to a printer (not after an error: that is a halt). */
const NO_PRINTER = /^(offline|closed)$/i;

const ACTIVE_TEXTS = new Set(["printing", "printing from sd", "starting", "starting print from sd", "resuming", "finishing", "cancelling", "sending file to sd"]);

/** OctoPrint's state (text, flags, error) and job as the hub's `NetworkStatus`; `ended` = the last Print* event's outcome. */
export function octoStatus(v: OctoView, ended: "finished" | "cancelled" | "error" | null): NetworkStatus {
  const text = v.text.toLowerCase();
  const errorState = v.flags?.error === true || text === "error" || text === "offline after error";
  const fault = errorState ? (v.error !== null && v.error !== "" ? v.error : v.text) : null;
  let job: NetworkStatus["job"];
  if (errorState) job = "error";
  else if (v.flags?.paused === true || v.flags?.pausing === true || text === "paused" || text === "pausing") job = "paused";
  else if (v.flags?.printing === true || v.flags?.cancelling === true || v.flags?.finishing === true || ACTIVE_TEXTS.has(text)) job = "printing";
  else if (ended !== null) job = ended;
  else job = v.completion !== null && v.completion >= 100 ? "finished" : "idle";
  const temp = (t: OctoTemp | null) => (t === null || typeof t.actual !== "number" ? null : { actual: t.actual, target: typeof t.target === "number" ? t.target : null });
  return {
    raw: v.text,
    job,
    hotend: temp(v.tool0),
    bed: temp(v.bed),
    file: v.file,
    progressPct: v.completion === null ? null : Math.max(0, Math.min(100, v.completion)),
    elapsedS: v.printTime,
    timeLeftS: v.printTimeLeft,
    layer: null,
    layers: null,
    doorOpen: null,
    fault,
  };
}

class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class OctoPrintDriver extends NetworkPrinterDriver {
  readonly protocol = "octoprint" as const;
  readonly catalogueExtensions = [".gcode"] as const;
  readonly estopEffect =
    "M112 through OctoPrint: sent ahead of its queue, then hotend and bed off (M104/M140 S0) and the serial port closed; the firmware halts (heaters and motors off); the reset reconnects and restarts it";

  private readonly base: string;
  private readonly extra: OctoPrintExtraOptions;
  private ws: WebSocket | null = null;
  private pollTimer: Timer | null = null;
  private lastSocketAt = 0;
  private polling = false;
  private pollSeq = 0;
  /** Poll replies numbered below this are older than the last command: dropped. */
  private acceptFrom = 0;
  private appliedSeq = 0;
  private socketOpening = false;
  private socketRetryAt = 0;
  /** Times a quiet or expired socket was replaced by a fresh login (for the technician). */
  socketRestarts = 0;
  /** Socket handshakes that reached `history` (push working). */
  socketLogins = 0;
  private ended: "finished" | "cancelled" | "error" | null = null;
  /** The latest view (a `current` may lack temperatures: OctoPrint sends only new readings). */
  private view: OctoView = { text: "Offline", flags: null, error: null, file: null, completion: null, printTime: null, printTimeLeft: null, tool0: null, bed: null };
  /** Bumped on every open/close: replies and socket messages of an older connection are dropped. */
  private generation = 0;
  private readonly pending = new Set<AbortController>();

  constructor(
    private readonly settings: OctoPrintSettings,
    ctx: NetworkDriverContext,
    options: Partial<NetworkDriverOptions & OctoPrintExtraOptions> = {},
  ) {
    super(ctx, options);
    this.base = settings.url.replace(/\/+$/, "");
    this.extra = {
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      pollMs: options.pollMs ?? Math.max(200, Math.min(2000, Math.floor(this.options.staleAfterMs / 3))),
      push: options.push ?? true,
    };
  }

  /** `push` = statuses arrive over the socket; `poll` = REST only. */
  get mode(): "push" | "poll" | "closed" {
    return this.pollTimer === null ? "closed" : this.ws !== null ? "push" : "poll";
  }

  // ---- connection --------------------------------------------------------------------------

  protected async open(): Promise<void> {
    const gen = ++this.generation;
    this.ended = null;
    const version = await this.getJson<{ server?: string; api?: string; text?: string }>("/api/version");
    this.info.FIRMWARE_NAME = `OctoPrint ${version.server ?? "?"}`;
    this.info.API_VERSION = version.api ?? "?";
    const conn = await this.getJson<{ current?: { state?: string; printerProfile?: string }; options?: { printerProfiles?: Array<{ id?: string; name?: string }> } }>("/api/connection");
    const profile = conn.options?.printerProfiles?.find((p) => p.id === conn.current?.printerProfile);
    this.info.MACHINE_TYPE = profile?.name ?? "printer behind OctoPrint";
    const state = conn.current?.state ?? "";
    if (NO_PRINTER.test(state)) {
      throw new HubError("DEVICE_OFFLINE", `OctoPrint answers but has no printer connected (state ${state}): connect the printer in OctoPrint's Connection panel (or turn on its auto-connect)`);
    }
    if (gen !== this.generation) return;
    await this.poll(gen);
    if (this.extra.push) {
      try {
        await this.openSocket(gen);
      } catch (error) {
        this.closeSocket();
        this.socketRetryAt = this.ctx.clock.now() + SOCKET_RETRY_MS;
        this.message(`OctoPrint push socket not available (${messageOf(error)}): polling ${this.extra.pollMs} ms`, "info");
      }
    }
    if (gen !== this.generation) return;
    this.pollTimer = this.ctx.clock.setInterval(() => this.tick(gen), this.extra.pollMs);
  }

  protected close(): Promise<void> {
    this.generation++;
    this.pollTimer?.cancel();
    this.pollTimer = null;
    this.closeSocket();
    for (const c of this.pending) c.abort();
    this.pending.clear();
    return Promise.resolve();
  }

  private closeSocket(): void {
    const ws = this.ws;
    this.ws = null;
    if (ws !== null) {
      ws.removeAllListeners();
      ws.on("error", () => {});
      ws.terminate();
    }
  }

  /** Passive login, socket, subscribe, auth; resolves on the first `history`/`current`. */
  private async openSocket(gen: number): Promise<void> {
    const login = await this.postJson<{ name?: string; session?: string }>("/api/login", { passive: true });
    if (typeof login.name !== "string" || typeof login.session !== "string") throw new Error("the passive login gave no session");
    const wsUrl = `${this.base.replace(/^http/, "ws")}/sockjs/websocket`;
    const ws = new WebSocket(wsUrl, { handshakeTimeout: this.extra.requestTimeoutMs });
    this.ws = ws;
    const deadline = Math.min(this.extra.requestTimeoutMs, this.options.staleAfterMs);
    await new Promise<void>((resolve, reject) => {
      let done = false;
      let established = false;
      const finish = (error: Error | null) => {
        if (done) return;
        done = true;
        established = error === null;
        timer.cancel();
        if (error === null) resolve();
        else reject(error);
      };
      // OctoPrint says nothing to a bad session: no `history` in time = no push.
      const timer = this.ctx.clock.setTimeout(() => finish(new Error(`no history within ${deadline} ms after auth`)), deadline);
      ws.on("open", () => {
        ws.send(JSON.stringify({ subscribe: { state: { logs: false, messages: false }, events: true, plugins: false } }));
        ws.send(JSON.stringify({ auth: `${login.name}:${login.session}` }));
      });
      ws.on("message", (data) => {
        if (gen !== this.generation) return;
        const first = this.onSocket(rawText(data));
        if (first && !done) {
          this.socketLogins++;
          finish(null);
        }
      });
      ws.on("error", (error) => finish(error));
      ws.on("close", () => {
        finish(new Error("socket closed during the handshake"));
        if (established && this.ws === ws && gen === this.generation) this.lost("the OctoPrint socket closed");
      });
    });
  }

  private retrySocket(gen: number): void {
    this.socketOpening = true;
    this.socketRetryAt = this.ctx.clock.now() + SOCKET_RETRY_MS;
    void this.openSocket(gen)
      .catch(() => {
        if (gen === this.generation) this.closeSocket();
      })
      .finally(() => {
        this.socketOpening = false;
      });
  }

  /** One socket message; true when it carried a status. */
  private onSocket(text: string): boolean {
    let msg: Record<string, unknown>;
    try {
      const v: unknown = JSON.parse(text);
      if (typeof v !== "object" || v === null) return false;
      msg = v as Record<string, unknown>;
    } catch {
      this.counters.requestErrors++;
      return false;
    }
    if ("reauthRequired" in msg) {
      // The session went (logout, stale, removed): a fresh passive login on a new socket; REST
      // carries the status meanwhile, so the printer is not lost for it.
      const gen = this.generation;
      this.socketRestarts++;
      queueMicrotask(() => {
        if (gen !== this.generation || this.socketOpening) return;
        this.closeSocket();
        this.retrySocket(gen);
      });
      return false;
    }
    if ("event" in msg) {
      const e = msg.event as { type?: string; payload?: { error?: string } } | null;
      if (e?.type === "PrintStarted") this.ended = null;
      else if (e?.type === "PrintDone") this.ended = "finished";
      else if (e?.type === "PrintCancelled") this.ended = "cancelled";
      else if (e?.type === "PrintFailed") this.ended = this.ended ?? "error";
      else if (e?.type === "Error" && typeof e.payload?.error === "string") this.message(`OctoPrint: ${e.payload.error}`, "error");
      return false;
    }
    const cur = (msg.current ?? msg.history) as Record<string, unknown> | undefined;
    if (cur === undefined || typeof cur !== "object" || cur === null) return false;
    this.lastSocketAt = this.ctx.clock.now();
    const state = (cur.state ?? {}) as { text?: string; flags?: OctoFlags; error?: string | null };
    const job = (cur.job ?? {}) as { file?: { name?: string | null } };
    const progress = (cur.progress ?? {}) as { completion?: number | null; printTime?: number | null; printTimeLeft?: number | null };
    const temps = Array.isArray(cur.temps) ? (cur.temps as Array<{ tool0?: OctoTemp; bed?: OctoTemp }>) : [];
    const newest = temps[temps.length - 1];
    const portClosed = typeof state.text === "string" && /^(offline|closed)/i.test(state.text);
    this.apply({
      text: typeof state.text === "string" ? state.text : this.view.text,
      flags: state.flags ?? null,
      error: typeof state.error === "string" && state.error !== "" ? state.error : null,
      file: job.file?.name ?? null,
      completion: num(progress.completion),
      printTime: num(progress.printTime),
      printTimeLeft: num(progress.printTimeLeft),
      // OctoPrint sends only new readings; none = unchanged, except with the port closed (no readings at all).
      tool0: newest?.tool0 ?? (portClosed ? null : this.view.tool0),
      bed: newest?.bed ?? (portClosed ? null : this.view.bed),
    });
    return true;
  }

  private tick(gen: number): void {
    if (gen !== this.generation) return;
    const now = this.ctx.clock.now();
    if (this.extra.push && !this.socketOpening) {
      if (this.ws !== null && now - this.lastSocketAt > this.options.staleAfterMs) {
        // A socket that says nothing (an expired session gets silence, not an error): log in again.
        this.socketRestarts++;
        this.message(`OctoPrint's socket sent nothing for ${Math.round((now - this.lastSocketAt) / 1000)} s: logging in again`, "info");
        this.closeSocket();
        this.retrySocket(gen);
      } else if (this.ws === null && now >= this.socketRetryAt) {
        this.retrySocket(gen);
      }
    }
    if (this.polling) return;
    // With a live socket REST is only asked when the socket has been quiet (OctoPrint pushes on changes and new readings).
    if (this.ws !== null && this.ctx.clock.now() - this.lastSocketAt < this.extra.pollMs) return;
    this.polling = true;
    void this.poll(gen)
      .catch((error: unknown) => {
        if (gen !== this.generation) return;
        this.counters.requestErrors++;
        if (error instanceof HubError && error.code === "DEVICE_AUTH") this.lost(error.message);
        else if (isConnectionError(error)) this.lost(`OctoPrint does not answer: ${messageOf(error)}`);
        // Else (a timeout, a 5xx): no status; the base calls the printer lost once it is stale.
      })
      .finally(() => {
        this.polling = false;
      });
  }

  /** After a command: ask at once (the push may come up to 500 ms later); replies to polls sent before it are dropped. */
  private refresh(): void {
    this.acceptFrom = this.pollSeq + 1;
    const gen = this.generation;
    void this.poll(gen).catch(() => {
      // the regular poll or push follows
    });
  }

  /** `GET /api/job` and `GET /api/printer` (409 = OctoPrint has no printer connected). */
  private async poll(gen: number): Promise<void> {
    const seq = ++this.pollSeq;
    const job = await this.getJson<{ state?: string; error?: string; job?: { file?: { name?: string | null } }; progress?: { completion?: number | null; printTime?: number | null; printTimeLeft?: number | null } }>("/api/job");
    let printer: { temperature?: { tool0?: OctoTemp; bed?: OctoTemp }; state?: { text?: string; flags?: OctoFlags; error?: string } } | null = null;
    try {
      printer = await this.getJson("/api/printer?exclude=sd");
    } catch (error) {
      if (!(error instanceof HttpStatusError && error.status === 409)) throw error;
    }
    if (gen !== this.generation || seq < this.acceptFrom || seq < this.appliedSeq) return;
    this.appliedSeq = seq;
    const text = printer?.state?.text ?? job.state ?? "Offline";
    const error = printer?.state?.error || job.error || null;
    this.apply({
      text,
      flags: printer?.state?.flags ?? null,
      error: error === "" ? null : error,
      file: job.job?.file?.name ?? null,
      completion: num(job.progress?.completion),
      printTime: num(job.progress?.printTime),
      printTimeLeft: num(job.progress?.printTimeLeft),
      tool0: printer?.temperature?.tool0 ?? null,
      bed: printer?.temperature?.bed ?? null,
    });
  }

  private apply(v: OctoView): void {
    if (NO_PRINTER.test(v.text) && v.error === null) {
      // OctoPrint runs, the printer behind it is gone (unplugged, disconnected in OctoPrint).
      this.lost(`OctoPrint has no printer connected any more (state ${v.text})`);
      return;
    }
    const active = v.flags?.printing === true || v.flags?.paused === true || ACTIVE_TEXTS.has(v.text.toLowerCase()) || v.text.toLowerCase() === "paused";
    if (active) this.ended = null;
    this.view = v;
    this.report(octoStatus(v, this.ended));
  }

  // ---- requests ----------------------------------------------------------------------------

  protected async startPrint(program: string, file: string): Promise<void> {
    const data = await readFile(file);
    const name = path.basename(file);
    const form = new FormData();
    form.append("file", new Blob([data], { type: "application/octet-stream" }), name);
    form.append("select", "true");
    form.append("print", "true");
    this.ended = null;
    const reply = await this.call<{ effectivePrint?: boolean; done?: boolean }>("POST", "/api/files/local", form, Math.max(this.extra.requestTimeoutMs, 60_000));
    if (reply?.effectivePrint !== true) {
      throw new HubError("DEVICE_REFUSED", `OctoPrint stored ${name} for ${program} but did not start it (the printer is not operational or busy)`);
    }
    this.refresh();
  }

  protected async pauseJob(): Promise<void> {
    await this.call("POST", "/api/job", { command: "pause", action: "pause" });
    this.refresh();
  }

  protected async resumeJob(): Promise<void> {
    await this.call("POST", "/api/job", { command: "pause", action: "resume" });
    this.refresh();
  }

  protected async cancelJob(): Promise<void> {
    await this.call("POST", "/api/job", { command: "cancel" });
    this.refresh();
  }

  /** M112 through OctoPrint's emergency path, then the job cancel (refused once the port is closed: that is expected). */
  protected async stopNow(reason: string): Promise<void> {
    this.ctx.logger.warn({ reason }, "octoprint: emergency stop (M112)");
    let m112: Error | null = null;
    try {
      await this.call("POST", "/api/printer/command", { commands: ["M112"] });
    } catch (error) {
      m112 = error instanceof Error ? error : new Error(String(error));
    }
    if (m112 === null) this.refresh();
    try {
      await this.call("POST", "/api/job", { command: "cancel" });
    } catch (error) {
      // 409 = nothing to cancel any more (M112 closed the port and ended the job).
      if (!(error instanceof HttpStatusError && error.status === 409)) {
        if (m112 !== null) throw error;
      }
    }
    if (m112 !== null) {
      // No M112 (the printer was not operational): heaters off is what is left.
      await this.coolDown().catch(() => {});
      throw m112;
    }
  }

  protected async coolDown(): Promise<void> {
    await this.call("POST", "/api/printer/command", { commands: ["M104 T0 S0", "M140 S0"] });
  }

  /**
   * After a halt: OctoPrint opens the serial port again (from `Error` or `Offline after error`; it
   * closes a port still open first), and opening it resets the board (DTR). No `disconnect` first:
   * between the two OctoPrint would say `Offline`, which reads as a printer gone.
   */
  protected override async restartFirmware(): Promise<void> {
    const text = this.view.text.toLowerCase();
    if (text === "error" || text.startsWith("offline") || text === "closed") await this.call("POST", "/api/connection", { command: "connect" });
  }

  // ---- HTTP --------------------------------------------------------------------------------

  private getJson<T>(p: string): Promise<T> {
    return this.call<T>("GET", p) as Promise<T>;
  }

  private postJson<T>(p: string, body: unknown): Promise<T> {
    return this.call<T>("POST", p, body) as Promise<T>;
  }

  /** One request with the key and a deadline; JSON reply (null for 204). 401/403 = `DEVICE_AUTH`. */
  private async call<T>(method: "GET" | "POST", p: string, body?: unknown, timeoutMs = this.extra.requestTimeoutMs): Promise<T | null> {
    const abort = new AbortController();
    this.pending.add(abort);
    const timer = this.ctx.clock.setTimeout(() => abort.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    try {
      const headers: Record<string, string> = { "X-Api-Key": this.settings.apiKey, Accept: "application/json" };
      let payload: BodyInit | undefined;
      if (body instanceof FormData) payload = body;
      else if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        payload = JSON.stringify(body);
      }
      let res: Response;
      try {
        res = await fetch(`${this.base}${p}`, { method, headers, body: payload, signal: abort.signal });
      } catch (error) {
        if (abort.signal.aborted) throw new HubError("DEVICE_TIMEOUT", `OctoPrint ${method} ${p.split("?")[0]}: ${messageOf(abort.signal.reason)}`);
        throw error;
      }
      const text = await res.text();
      if (res.status === 401 || res.status === 403) {
        throw new HubError("DEVICE_AUTH", `OctoPrint refused the API key: HTTP ${res.status} on ${method} ${p.split("?")[0]} (check auth.apiKey: OctoPrint, Settings > API or the user's Application Keys)`);
      }
      if (!res.ok) throw new HttpStatusError(res.status, `OctoPrint ${method} ${p.split("?")[0]}: HTTP ${res.status} ${errorText(text)}`.trim());
      if (text === "") return null;
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new HubError("PROTOCOL_INVALID", `OctoPrint ${method} ${p.split("?")[0]}: the reply is not JSON`);
      }
    } finally {
      timer.cancel();
      this.pending.delete(abort);
    }
  }
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.isBuffer(data) ? data.toString("utf8") : Buffer.from(new Uint8Array(data)).toString("utf8");
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function errorText(body: string): string {
  try {
    const v = JSON.parse(body) as { error?: unknown };
    if (typeof v.error === "string") return v.error.slice(0, 200);
  } catch {
    // not JSON: the first bit of the text
  }
  return body.replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim().slice(0, 200);
}

function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}

/** fetch's "fetch failed" with ECONNREFUSED, ECONNRESET, "other side closed" …: nobody (or nothing) at the address. */
function isConnectionError(error: unknown): boolean {
  return error instanceof TypeError && !(error instanceof HubError);
}

export function createOctoPrintDriver(config: PrinterDeviceConfig, ctx: NetworkDriverContext, options: Partial<NetworkDriverOptions & OctoPrintExtraOptions> = {}): NetworkPrinterDriver {
  const where = `devices: printer "${config.id}"`;
  let url: URL;
  try {
    url = new URL(config.url);
  } catch {
    throw new HubError("CONFIG_INVALID", `${where}: url must be OctoPrint's address, e.g. http://octopi.local or http://host:5000`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new HubError("CONFIG_INVALID", `${where}: url must start with http:// or https:// for OctoPrint (got ${url.protocol}//)`);
  }
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") {
    throw new HubError("CONFIG_INVALID", `${where}: url must be OctoPrint's address only (no user, query or #); the key goes in auth.apiKey`);
  }
  const apiKey = config.auth?.apiKey;
  if (apiKey === undefined) throw new HubError("CONFIG_INVALID", `${where}: auth.apiKey is required for OctoPrint (OctoPrint, Settings > API, or a user's Application Key)`);
  return new OctoPrintDriver({ url: url.toString(), apiKey }, ctx, options);
}
