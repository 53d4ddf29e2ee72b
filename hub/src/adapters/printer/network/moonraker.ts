/**
 * Klipper printers through Moonraker: JSON-RPC 2.0 over the WebSocket at `ws://host:7125/websocket`
 * (../shared/reference/network-printers.md §4).
 *
 * Connect: the API key (when configured) goes as `X-Api-Key` on the upgrade request, which survives
 * reconnects (a oneshot token does not), then `server.connection.identify`, `server.info` (klippy
 * state) and `printer.info` (Klipper's version). When klippy is ready the driver subscribes to
 * `print_stats`, `virtual_sdcard`, `extruder`, `heater_bed`, `webhooks` (and a `gcode_button door`
 * if the printer has one); Moonraker answers with the full state and then pushes only what changed
 * (`notify_status_update`), which is merged here. Klippy shutting down (`notify_klippy_shutdown`,
 * or `shutdown`/`error` in `server.info`) is a fault with Klipper's own message. The subscription
 * is lost whenever klippy restarts: the driver subscribes again on `notify_klippy_ready`.
 *
 * A socket can stay open while nobody answers (a hung host), and Klipper sends nothing while
 * nothing changes, so the driver asks `server.info` every few seconds: an answer keeps the printer
 * fresh, silence makes it stale (`staleAfterMs`) and the base reconnects.
 *
 * A job: the catalogue's `.gcode` is uploaded over HTTP (`POST /server/files/upload`, multipart,
 * `print=true`) on the same port. The e-stop is `printer.emergency_stop` (Klipper's M112): the MCU
 * shuts down at once, heaters, fans and motors off; klippy stays in `shutdown` until
 * `printer.firmware_restart`, which `restartFirmware()` sends after the trip is reset.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { WebSocket } from "ws";
import type { Timer } from "../../../core/clock.ts";
import { HubError } from "../../../core/errors.ts";
import type { PrinterDeviceConfig } from "../rules.ts";
import { type NetworkDriverContext, type NetworkDriverOptions, NetworkPrinterDriver, type NetworkStatus } from "./driver.ts";

const CLIENT_NAME = "TEC Hub";
/** What the hub tells Moonraker it is (shown in its client list); HUB_VERSION lives in main.ts, which a driver does not import. */
const CLIENT_VERSION = "0.2.0";
const UPLOAD_TIMEOUT_MS = 120_000;
/** Status pushes that change only temperatures or progress are passed on at most this often. */
const REPORT_EVERY_MS = 1000;
/** Door switches this driver recognises (a `gcode_button` the printer's config names so). */
const DOOR_OBJECTS = ["gcode_button door", "gcode_button enclosure_door", "gcode_button door_sensor"];

type Fields = Record<string, unknown>;
type Objects = Record<string, Fields>;

interface Pending {
  method: string;
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: Timer;
}

/** An error answer from Moonraker: its code (-32602 = Unauthorized, 503 = Klippy Disconnected, HTTP numbers) and words. */
export class MoonrakerRpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }

  get unauthorized(): boolean {
    return this.code === -32602 || this.code === 401 || this.code === 403 || /unauthori[sz]ed/i.test(this.message);
  }
}

export interface MoonrakerEndpoint {
  /** `ws://host:port/websocket` */
  ws: string;
  /** `http://host:port` (uploads and the HTTP fallback of the e-stop). */
  http: string;
}

/** The printer's address from the config's `url` (`ws://host:7125/websocket`; `http://host:7125` is taken too). */
export function moonrakerEndpoint(id: string, url: string): MoonrakerEndpoint {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HubError("CONFIG_INVALID", `devices: printer "${id}": url "${url}" is not an address; Moonraker's is ws://<host>:7125/websocket`);
  }
  if (!["ws:", "wss:", "http:", "https:"].includes(u.protocol)) {
    throw new HubError("CONFIG_INVALID", `devices: printer "${id}": url must start with ws:// (or wss://) for Moonraker, e.g. ws://<host>:7125/websocket; got ${u.protocol}//`);
  }
  if (u.username !== "" || u.password !== "") {
    throw new HubError("CONFIG_INVALID", `devices: printer "${id}": url must not carry a user or password; Moonraker's key goes in auth.apiKey`);
  }
  const secure = u.protocol === "wss:" || u.protocol === "https:";
  const pathname = u.pathname === "/" || u.pathname === "" ? "/websocket" : u.pathname;
  return { ws: `${secure ? "wss" : "ws"}://${u.host}${pathname}`, http: `${secure ? "https" : "http"}://${u.host}` };
}

export function createMoonrakerDriver(config: PrinterDeviceConfig, ctx: NetworkDriverContext, options: Partial<NetworkDriverOptions> = {}): NetworkPrinterDriver {
  const endpoint = moonrakerEndpoint(config.id, config.url);
  const auth = config.auth ?? {};
  for (const unused of ["user", "password", "accessCode", "serial", "fingerprint"] as const) {
    if (auth[unused] !== undefined) {
      throw new HubError("CONFIG_INVALID", `devices: printer "${config.id}": auth.${unused} is not used by Moonraker; give its API key as auth.apiKey (or none when the hub is a trusted client)`);
    }
  }
  return new MoonrakerDriver(endpoint, auth.apiKey ?? null, ctx, options);
}

export class MoonrakerDriver extends NetworkPrinterDriver {
  readonly protocol = "moonraker" as const;
  readonly catalogueExtensions = [".gcode"] as const;
  readonly estopEffect = "printer.emergency_stop: Klipper shuts its MCU down at once (heaters, fans and motors off); a firmware restart is needed";

  private ws: WebSocket | null = null;
  /** Bumped by every open and close: a late event of an old socket is ignored. */
  private generation = 0;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private objects: Objects = {};
  private klippy = "disconnected";
  /** Klipper's words for its shutdown (first line of `printer.info.state_message`); null until read, so a shutdown is never reported with older words. */
  private shutdownWhy: string | null = null;
  private subscribed = false;
  private subscribing: Promise<void> | null = null;
  private doorObject: string | null = null;
  private pingTimer: Timer | null = null;
  private pinging = false;
  private lastReportSent = 0;
  private lastKey = "";

  constructor(
    private readonly endpoint: MoonrakerEndpoint,
    /** Secret: never logged, never in a message. */
    private readonly apiKey: string | null,
    ctx: NetworkDriverContext,
    options: Partial<NetworkDriverOptions> = {},
  ) {
    super(ctx, options);
  }

  private get requestTimeoutMs(): number {
    return Math.min(10_000, Math.max(1000, this.options.staleAfterMs));
  }

  // ---- the wire ------------------------------------------------------------------------------

  protected async open(): Promise<void> {
    await this.close();
    const gen = ++this.generation;
    const ws = await this.connectSocket(gen);
    this.ws = ws;
    try {
      await this.call("server.connection.identify", { client_name: CLIENT_NAME, version: CLIENT_VERSION, type: "other", url: "urn:tec-hub" });
    } catch (error) {
      if (error instanceof MoonrakerRpcError && error.unauthorized) throw this.refused(`JSON-RPC ${error.code} ${error.message}`);
      // Moonraker before 0.8 has no identify (-32601): the upgrade's key is all it needs.
      if (!(error instanceof MoonrakerRpcError && error.code === -32601)) throw error;
    }
    const info = await this.callOrAuth<{ klippy_state?: string; moonraker_version?: string }>("server.info");
    this.klippy = info.klippy_state ?? "disconnected";
    if (info.moonraker_version !== undefined) this.info.MOONRAKER_VERSION = info.moonraker_version;
    await this.readPrinterInfo();
    this.info.FIRMWARE_NAME ??= "Klipper";
    this.info.MACHINE_TYPE ??= "Klipper printer";
    try {
      await this.sync();
    } catch (error) {
      // Klippy went away between server.info and the subscription (a restart): the host is there; the ping subscribes once it is ready.
      if (!(error instanceof MoonrakerRpcError && error.code === 503)) throw error;
      this.klippy = "startup";
      this.publish(true);
    }
    if (gen !== this.generation) throw new HubError("TRANSPORT_CLOSED", "Moonraker closed the connection while the hub was connecting");
    const every = Math.max(250, Math.min(5000, Math.floor(this.options.staleAfterMs / 3)));
    this.pingTimer = this.ctx.clock.setInterval(() => {
      this.ping(gen).catch((error: unknown) => this.ctx.logger.warn({ err: (error as Error).message }, "moonraker: ping failed"));
    }, every);
  }

  protected close(): Promise<void> {
    this.generation++;
    this.pingTimer?.cancel();
    this.pingTimer = null;
    this.pinging = false;
    this.subscribed = false;
    this.subscribing = null;
    this.objects = {};
    this.doorObject = null;
    this.klippy = "disconnected";
    this.failPending(new HubError("TRANSPORT_CLOSED", "the connection to Moonraker closed"));
    const ws = this.ws;
    this.ws = null;
    if (ws !== null) {
      ws.removeAllListeners("close");
      ws.removeAllListeners("message");
      ws.on("error", () => {}); // a late error of a socket being closed is nobody's business
      ws.terminate();
    }
    return Promise.resolve();
  }

  protected async startPrint(program: string, file: string): Promise<void> {
    const data = await readFile(file);
    const name = path.basename(file);
    const form = new FormData();
    form.append("file", new Blob([data]), name);
    form.append("root", "gcodes");
    form.append("print", "true");
    let res: Response;
    try {
      res = await fetch(`${this.endpoint.http}/server/files/upload`, {
        method: "POST",
        body: form,
        headers: this.apiKey !== null ? { "X-Api-Key": this.apiKey } : {},
        signal: AbortSignal.timeout(UPLOAD_TIMEOUT_MS),
      });
    } catch (error) {
      const cause = (error as Error & { cause?: unknown }).cause;
      const why = cause instanceof Error ? `${(error as Error).message}: ${cause.message}` : (error as Error).message;
      throw new HubError("DEVICE_REFUSED", `upload of ${name} to Moonraker failed: ${why}`);
    }
    const body = (await res.json().catch(() => null)) as { result?: { print_started?: boolean }; error?: { message?: string } } | null;
    if (res.status === 401 || res.status === 403) throw this.refused(`HTTP ${res.status} on the upload`);
    if (!res.ok) throw new HubError("DEVICE_REFUSED", `Moonraker refused ${name}: HTTP ${res.status} ${body?.error?.message ?? res.statusText}`);
    if (body?.result?.print_started === true) return;
    // Stored but not started: Moonraker does not say why; asking Klipper to start it does.
    this.ctx.logger.info({ program, file: name }, "moonraker stored the file but did not start it; starting it over JSON-RPC");
    try {
      await this.call("printer.print.start", { filename: name });
    } catch (error) {
      throw new HubError("DEVICE_REFUSED", `Klipper did not start ${name}: ${(error as Error).message}`);
    }
  }

  protected async pauseJob(): Promise<void> {
    await this.call("printer.print.pause");
  }

  protected async resumeJob(): Promise<void> {
    await this.call("printer.print.resume");
  }

  protected async cancelJob(): Promise<void> {
    await this.call("printer.print.cancel");
  }

  /** `printer.emergency_stop` over the socket; over HTTP when the socket does not take it. */
  protected async stopNow(reason: string): Promise<void> {
    this.ctx.logger.warn({ reason }, "moonraker emergency stop");
    try {
      await this.call("printer.emergency_stop", undefined, Math.min(this.requestTimeoutMs, 3000));
      return;
    } catch (error) {
      this.ctx.logger.warn({ err: (error as Error).message }, "emergency stop over the websocket failed; trying HTTP");
    }
    const res = await fetch(`${this.endpoint.http}/printer/emergency_stop`, {
      method: "POST",
      headers: this.apiKey !== null ? { "X-Api-Key": this.apiKey } : {},
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new HubError("DEVICE_REFUSED", `Moonraker refused the emergency stop: HTTP ${res.status}`);
  }

  protected async coolDown(): Promise<void> {
    await this.call("printer.gcode.script", { script: "TURN_OFF_HEATERS" });
  }

  /** FIRMWARE_RESTART: the MCU and klippy restart; resolves once klippy is ready again (subscribed). */
  protected override async restartFirmware(): Promise<void> {
    if (this.ws === null) return; // not connected: the next connect finds klippy as it is
    await this.call("printer.firmware_restart");
    const gen = this.generation;
    const deadline = this.ctx.clock.now() + 30_000;
    while (this.ctx.clock.now() < deadline && gen === this.generation) {
      await this.delay(250);
      const info = await this.call<{ klippy_state?: string }>("server.info").catch(() => null);
      if (info?.klippy_state === "ready") {
        this.klippy = "ready";
        await this.sync();
        return;
      }
    }
    throw new HubError("DEVICE_TIMEOUT", `Klipper did not come back ready after the firmware restart (klippy ${this.klippy})`);
  }

  // ---- inside --------------------------------------------------------------------------------

  private refused(detail: string): HubError {
    return this.apiKey !== null
      ? new HubError("DEVICE_AUTH", `Moonraker refused the api key: ${detail} (check auth.apiKey against the key in Mainsail/Fluidd or GET /access/api_key)`)
      : new HubError("DEVICE_AUTH", `Moonraker refused the hub without an api key: ${detail} (set auth.apiKey, or add the hub to [authorization] trusted_clients)`);
  }

  private connectSocket(gen: number): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.endpoint.ws, {
        headers: this.apiKey !== null ? { "X-Api-Key": this.apiKey } : {},
        handshakeTimeout: this.requestTimeoutMs,
        perMessageDeflate: false,
      });
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        ws.removeAllListeners();
        ws.on("error", () => {});
        ws.terminate();
        reject(error);
      };
      ws.on("unexpected-response", (_req, res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        fail(status === 401 || status === 403 ? this.refused(`HTTP ${status} on the websocket upgrade`) : new HubError("TRANSPORT_FAILED", `Moonraker at ${this.endpoint.ws} answered HTTP ${status} to the websocket upgrade`));
      });
      ws.on("error", (error) => fail(new HubError("TRANSPORT_FAILED", `Moonraker at ${this.endpoint.ws}: ${error.message}`)));
      ws.on("open", () => {
        if (settled) return;
        settled = true;
        ws.removeAllListeners("error");
        ws.removeAllListeners("unexpected-response");
        ws.on("error", (error) => this.ctx.logger.warn({ err: error.message }, "moonraker websocket error"));
        ws.on("message", (data, isBinary) => {
          if (gen !== this.generation || isBinary) return;
          try {
            this.onMessage(textOf(data));
          } catch (error) {
            // A listener's failure must not escape into the socket's reader (and take the hub down).
            this.ctx.logger.error({ err: (error as Error).message }, "moonraker: handling a message failed");
          }
        });
        ws.on("close", (code) => {
          if (gen !== this.generation) return;
          this.ws = null;
          this.failPending(new HubError("TRANSPORT_CLOSED", `Moonraker closed the connection (code ${code})`));
          this.lost(`Moonraker closed the connection (code ${code})`);
        });
        resolve(ws);
      });
    });
  }

  /** One JSON-RPC request; rejects with `MoonrakerRpcError` for an error answer, a HubError on timeout or a closed socket. */
  private call<T = unknown>(method: string, params?: object, timeoutMs = this.requestTimeoutMs): Promise<T> {
    const ws = this.ws;
    if (ws === null || ws.readyState !== WebSocket.OPEN) return Promise.reject(new HubError("DEVICE_OFFLINE", `${method}: not connected to Moonraker`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = this.ctx.clock.setTimeout(() => {
        this.pending.delete(id);
        reject(new HubError("DEVICE_TIMEOUT", `Moonraker did not answer ${method} within ${Math.round(timeoutMs / 100) / 10} s`));
      }, timeoutMs);
      this.pending.set(id, { method, resolve: resolve as (r: unknown) => void, reject, timer });
      ws.send(JSON.stringify({ jsonrpc: "2.0", method, ...(params !== undefined ? { params } : {}), id }), (error) => {
        if (error === undefined || error === null) return;
        const p = this.pending.get(id);
        if (p === undefined) return;
        this.pending.delete(id);
        p.timer.cancel();
        reject(new HubError("TRANSPORT_FAILED", `${method}: ${error.message}`));
      });
    });
  }

  /** A request during connect whose refusal means the key is wrong. */
  private async callOrAuth<T>(method: string, params?: object): Promise<T> {
    try {
      return await this.call<T>(method, params);
    } catch (error) {
      if (error instanceof MoonrakerRpcError && error.unauthorized) throw this.refused(`JSON-RPC ${error.code} ${error.message}`);
      throw error;
    }
  }

  private failPending(error: Error): void {
    for (const p of this.pending.values()) {
      p.timer.cancel();
      p.reject(error);
    }
    this.pending.clear();
  }

  private onMessage(text: string): void {
    let msg: { id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown } };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      this.ctx.logger.warn({ bytes: text.length }, "moonraker sent a frame that is not JSON");
      return;
    }
    if (typeof msg.id === "number" && msg.method === undefined) {
      const p = this.pending.get(msg.id);
      if (p === undefined) return;
      this.pending.delete(msg.id);
      p.timer.cancel();
      if (msg.error !== undefined && msg.error !== null) {
        p.reject(new MoonrakerRpcError(typeof msg.error.code === "number" ? msg.error.code : 0, typeof msg.error.message === "string" ? msg.error.message : "error"));
      } else p.resolve(msg.result);
      return;
    }
    switch (msg.method) {
      case "notify_status_update": {
        const diff = Array.isArray(msg.params) ? (msg.params[0] as Objects | undefined) : undefined;
        if (diff === undefined || typeof diff !== "object" || !this.subscribed) return;
        this.merge(diff);
        this.publish(false);
        return;
      }
      case "notify_klippy_shutdown":
        this.klippy = "shutdown";
        this.shutdownWhy = null;
        void this.refreshFault().catch((error: unknown) => this.ctx.logger.warn({ err: (error as Error).message }, "moonraker: reading the shutdown failed"));
        return;
      case "notify_klippy_disconnected":
        this.klippy = "disconnected";
        this.subscribed = false;
        this.publish(true);
        return;
      case "notify_klippy_ready":
        this.klippy = "ready";
        void this.sync().catch((error: unknown) => this.ctx.logger.warn({ err: (error as Error).message }, "moonraker resubscribe failed"));
        return;
      case "notify_gcode_response": {
        const line = Array.isArray(msg.params) ? String(msg.params[0] ?? "") : "";
        if (line.startsWith("!!")) this.message(`Klipper: ${line.replace(/^!!\s*/, "")}`, "error");
        return;
      }
      default:
        return;
    }
  }

  private merge(diff: Objects): void {
    for (const [name, fields] of Object.entries(diff)) {
      if (typeof fields !== "object" || fields === null) continue;
      const before = this.objects[name] ?? {};
      const next: Fields = { ...before };
      for (const [k, v] of Object.entries(fields)) {
        // Nested dicts (print_stats.info) arrive whole or in part: merge them one level down.
        const old = before[k];
        next[k] = isRecord(v) && isRecord(old) ? { ...old, ...v } : v;
      }
      this.objects[name] = next;
    }
  }

  /** Brings the picture up to date for the klippy state: subscribe when ready, query when shut down. */
  private async sync(): Promise<void> {
    if (this.klippy === "ready") {
      this.subscribing ??= this.subscribe().finally(() => (this.subscribing = null));
      await this.subscribing;
    } else if (this.klippy === "shutdown" || this.klippy === "error") {
      await this.refreshFault();
    } else {
      this.publish(true);
    }
  }

  private async subscribe(): Promise<void> {
    const list = await this.call<{ objects?: string[] }>("printer.objects.list");
    const names = list.objects ?? [];
    this.doorObject = DOOR_OBJECTS.find((d) => names.includes(d)) ?? null;
    const wanted: Record<string, string[] | null> = {
      webhooks: ["state", "state_message"],
      print_stats: ["state", "filename", "print_duration", "message", "info"],
      virtual_sdcard: ["progress", "is_active"],
      extruder: ["temperature", "target"],
      heater_bed: ["temperature", "target"],
    };
    if (this.doorObject !== null) wanted[this.doorObject] = ["state"];
    const res = await this.call<{ status?: Objects }>("printer.objects.subscribe", { objects: wanted });
    this.objects = {};
    this.merge(res.status ?? {});
    this.subscribed = true;
    this.publish(true);
  }

  private async readPrinterInfo(): Promise<void> {
    try {
      const p = await this.callOrAuth<{ state?: string; state_message?: string; software_version?: string; hostname?: string }>("printer.info");
      if (p.state !== undefined) this.klippy = p.state;
      this.shutdownWhy = p.state === "shutdown" || p.state === "error" ? firstLine(p.state_message ?? "") || `klippy ${p.state}` : null;
      if (p.software_version !== undefined) this.info.FIRMWARE_NAME = `Klipper ${p.software_version}`;
      if (p.hostname !== undefined) this.info.MACHINE_TYPE = p.hostname;
    } catch (error) {
      if (error instanceof HubError && error.code === "DEVICE_AUTH") throw error;
      // 503 while klippy is not connected: the host answers, Klipper does not (yet).
    }
  }

  /** Klippy is shut down: Klipper's words, and the last temperatures it can give. */
  private async refreshFault(): Promise<void> {
    await this.readPrinterInfo();
    if (this.klippy === "shutdown" || this.klippy === "error") this.shutdownWhy ??= `klippy ${this.klippy}`;
    try {
      const q = await this.call<{ status?: Objects }>("printer.objects.query", {
        objects: { print_stats: null, virtual_sdcard: ["progress", "is_active"], extruder: ["temperature", "target"], heater_bed: ["temperature", "target"] },
      });
      this.merge(q.status ?? {});
    } catch {
      // a shut-down klippy may not answer queries: the last values stand
    }
    this.publish(true);
  }

  /** Asks `server.info`: an answer says the printer is alive; a changed klippy state is followed. */
  private async ping(gen: number): Promise<void> {
    if (this.pinging || gen !== this.generation) return;
    this.pinging = true;
    try {
      const info = await this.call<{ klippy_state?: string }>("server.info");
      if (gen !== this.generation) return;
      const state = info.klippy_state ?? "disconnected";
      const changed = state !== this.klippy;
      this.klippy = state;
      if (changed) this.shutdownWhy = null;
      // Moonraker drops subscriptions whenever klippy goes: a missed notify_klippy_disconnected must not leave the hub without updates.
      if (state === "startup" || state === "disconnected") this.subscribed = false;
      if (state === "ready" && !this.subscribed) await this.sync();
      else if ((state === "shutdown" || state === "error") && (changed || this.ctx.clock.now() - this.lastReportSent >= REPORT_EVERY_MS)) await this.refreshFault();
      else this.publish(true);
    } catch (error) {
      if (gen !== this.generation) return;
      if (error instanceof MoonrakerRpcError && error.unauthorized) this.lost("Moonraker refused the api key");
      // A timeout: the stale check decides.
    } finally {
      if (gen === this.generation) this.pinging = false;
    }
  }

  /** The merged objects as the hub's status; `force` reports even if only temperatures changed a moment ago. */
  private publish(force: boolean): void {
    const s = this.snapshot();
    const key = `${s.job}|${s.fault ?? ""}|${String(s.doorOpen)}|${s.file ?? ""}|${s.raw}`;
    const now = this.ctx.clock.now();
    if (!force && key === this.lastKey && now - this.lastReportSent < REPORT_EVERY_MS) return;
    this.lastKey = key;
    this.lastReportSent = now;
    this.report(s);
  }

  private snapshot(): NetworkStatus {
    const ps = this.objects.print_stats ?? {};
    const sd = this.objects.virtual_sdcard ?? {};
    const info = isRecord(ps.info) ? ps.info : {};
    const state = typeof ps.state === "string" ? ps.state : "standby";
    const job: NetworkStatus["job"] =
      state === "printing" ? "printing" : state === "paused" ? "paused" : state === "complete" ? "finished" : state === "cancelled" ? "cancelled" : state === "error" ? "error" : "idle";
    const progress = num(sd.progress);
    const elapsed = num(ps.print_duration);
    const running = job === "printing" || job === "paused";
    const shutdown = this.klippy === "shutdown" || this.klippy === "error";
    const doorState = this.doorObject !== null ? this.objects[this.doorObject]?.state : undefined;
    const message = typeof ps.message === "string" && ps.message !== "" ? ps.message : null;
    return {
      raw: `klippy ${this.klippy}, print ${state}${message !== null ? `: ${message}` : ""}`,
      job,
      hotend: heater(this.objects.extruder),
      bed: heater(this.objects.heater_bed),
      file: typeof ps.filename === "string" && ps.filename !== "" ? ps.filename : null,
      progressPct: progress === null ? null : Math.round(Math.max(0, Math.min(1, progress)) * 1000) / 10,
      elapsedS: elapsed === null ? null : Math.round(elapsed),
      timeLeftS: running && progress !== null && progress > 0.01 && elapsed !== null ? Math.max(0, Math.round(elapsed / progress - elapsed)) : running ? null : 0,
      layer: num(info.current_layer),
      layers: num(info.total_layer),
      // RELEASED = open: the closed door holds the switch down (say so in the printer's config).
      doorOpen: doorState === "RELEASED" ? true : doorState === "PRESSED" ? false : null,
      // Until Klipper's words are read (refreshFault), a shutdown shows in `raw` only: the halt then carries the right words.
      fault: shutdown ? this.shutdownWhy : null,
    };
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => this.ctx.clock.setTimeout(resolve, ms));
  }
}

function textOf(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data).toString("utf8");
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function heater(o: Fields | undefined): NetworkStatus["hotend"] {
  const actual = num(o?.temperature);
  if (actual === null) return null;
  return { actual: Math.round(actual * 10) / 10, target: num(o?.target) };
}

function firstLine(s: string): string {
  return s.split("\n")[0]?.trim() ?? "";
}
