/**
 * The common part of every network printer driver (Ultimaker, Bambu Lab LAN, PrusaLink, Moonraker,
 * OctoPrint): connect and reconnect with backoff, a printer that stops reporting is lost (stale =
 * the station's interlock trips if it was printing), the printer's own reports turned into the
 * station's events (temperatures, halt, door), and jobs the printer runs itself (`RemoteJob`).
 *
 * A protocol subclass implements the wire: `open()` (connect, authenticate, first status),
 * `close()`, the job requests and the stop; it calls `report()` with every status it receives
 * (normalised to `NetworkStatus`) and `lost()` when its connection goes.
 */
import type { Clock, Timer } from "../../../core/clock.ts";
import { HubError } from "../../../core/errors.ts";
import type { Logger } from "../../../core/logger.ts";
import type { BackendEvents, DriverState, PrinterBackend, PrinterJob, PrinterProtocol } from "../backend.ts";
import type { HaltKind } from "../gcode.ts";
import type { JobProgress, JobState } from "../job.ts";

/** One status report of a network printer, in the hub's units (°C, %, seconds). */
export interface NetworkStatus {
  /** The printer's own state word(s), for the technician ("printing", "RUNNING", "standby"). */
  raw: string;
  /** The current (or last) job as the printer says: finished/cancelled/error stay until the next job. */
  job: "idle" | "printing" | "paused" | "finished" | "cancelled" | "error";
  hotend: { actual: number; target: number | null } | null;
  bed: { actual: number; target: number | null } | null;
  /** The file the printer is printing (or printed last), as the printer names it. */
  file: string | null;
  progressPct: number | null;
  elapsedS: number | null;
  timeLeftS: number | null;
  layer: number | null;
  layers: number | null;
  /** The printer's own door/enclosure contact; null = it has none or does not report it. */
  doorOpen: boolean | null;
  /** A fault the printer reports (heater fault, thermal runaway, emergency stop), in its words; null = none. */
  fault: string | null;
  /**
   * The printer waits for a person before it takes another job: `clear-plate` (an Ultimaker after
   * every job until the plate is cleared and confirmed on its screen), `at-printer` (anything else
   * on its screen). Absent or null = it does not.
   */
  attention?: "clear-plate" | "at-printer" | null;
}

export interface NetworkDriverContext {
  clock: Clock;
  logger: Logger;
}

export interface NetworkDriverOptions {
  /** First retry after a failed connect or a lost connection; doubles up to `reconnectMaxMs`. */
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** No status report for this long on an open connection = the printer is lost (reconnect). */
  staleAfterMs: number;
  /** A started job the printer has not reported as printing after this long has failed. */
  startTimeoutMs: number;
  /** After a reset of a halt: a fault still reported within this long is the old one (the firmware restarting); after it, a new halt. */
  restartGraceMs: number;
}

export const DEFAULT_NETWORK_OPTIONS: NetworkDriverOptions = {
  reconnectMinMs: 1000,
  reconnectMaxMs: 30_000,
  staleAfterMs: 15_000,
  startTimeoutMs: 120_000,
  restartGraceMs: 10_000,
};

type Listeners = { [K in keyof BackendEvents]: Array<BackendEvents[K]> };

/** Words in a printer's fault text that name what the firmware halted for. */
export function haltKindOf(fault: string): HaltKind {
  const f = fault.toLowerCase();
  if (f.includes("runaway")) return "thermal-runaway";
  if (f.includes("heating failed") || f.includes("heater") || f.includes("verify_heater")) return "heating-failed";
  if (f.includes("mintemp")) return "mintemp";
  if (f.includes("maxtemp")) return "maxtemp";
  if (f.includes("emergency") || f.includes("kill") || f.includes("shutdown")) return "killed";
  return "fatal";
}

export abstract class NetworkPrinterDriver implements PrinterBackend {
  abstract readonly protocol: PrinterProtocol;
  abstract readonly catalogueExtensions: readonly string[];
  abstract readonly estopEffect: string;

  private current: DriverState = "disconnected";
  private running = false;
  private identified = false;
  private retryMs: number;
  private retryTimer: Timer | null = null;
  private staleTimer: Timer | null = null;
  private opening: Promise<void> | null = null;
  private lastReportAt: number | null = null;
  private door: boolean | null = null;
  private faultSeen: string | null = null;
  /** After a reset of a halt, faults the printer still reports until then are what it said before its restart. */
  private faultGraceUntil = 0;
  private readonly listeners: Listeners = { state: [], temperature: [], firmware: [], halt: [], reset: [], message: [], door: [] };
  private readonly jobs = new Set<RemoteJob>();
  /** The newest status (null before the first). */
  protected last: NetworkStatus | null = null;
  /** FIRMWARE_NAME, MACHINE_TYPE …: a subclass fills it in `open()`. */
  protected readonly info: Record<string, string> = {};
  protected readonly counters = { connects: 0, connectFailures: 0, reports: 0, requestErrors: 0, staleLosses: 0 };
  /** Why the last connect failed, in plain words (refused credentials, no route …); for the technician. */
  lastError: string | null = null;
  protected readonly options: NetworkDriverOptions;

  constructor(
    protected readonly ctx: NetworkDriverContext,
    options: Partial<NetworkDriverOptions> = {},
  ) {
    this.options = { ...DEFAULT_NETWORK_OPTIONS, ...options };
    this.retryMs = this.options.reconnectMinMs;
  }

  // ---- what a protocol implements -------------------------------------------------------------

  /** Connect and authenticate; resolves once the printer answered. Rejects with a HubError that names the problem (`DEVICE_AUTH` for refused credentials). */
  protected abstract open(): Promise<void>;
  /** Close the connection; no `lost()` for it. Must not throw. */
  protected abstract close(): Promise<void>;
  /** Send the catalogue file (absolute path) as `program` and start it. */
  protected abstract startPrint(program: string, file: string): Promise<void>;
  protected abstract pauseJob(): Promise<void>;
  protected abstract resumeJob(): Promise<void>;
  protected abstract cancelJob(): Promise<void>;
  /** The strongest stop the API has (Moonraker's emergency stop; else cancel and cool). */
  protected abstract stopNow(reason: string): Promise<void>;
  protected abstract coolDown(): Promise<void>;
  /** After a halt's reset, where the API can restart the firmware (Moonraker `printer.firmware_restart`). */
  protected restartFirmware(): Promise<void> {
    return Promise.resolve();
  }

  // ---- PrinterBackend -----------------------------------------------------------------------

  get state(): DriverState {
    return this.current;
  }

  get firmware(): Readonly<Record<string, string>> {
    return this.info;
  }

  get stats(): Readonly<{ connects: number } & Record<string, number | null>> {
    return { ...this.counters, lastReportAt: this.lastReportAt };
  }

  /** Every firmware behind these APIs has thermal protection built in (Marlin 2 in Prusa's, Klipper's verify_heater, the vendors'). */
  capability(name: string): boolean | undefined {
    if (name === "THERMAL_PROTECTION") return this.identified ? true : undefined;
    return undefined;
  }

  /** The newest status the printer sent (null before the first). */
  status(): NetworkStatus | null {
    return this.last;
  }

  /** What the printer waits for a person to do before it takes a job (null: nothing, or not connected). */
  attention(): "clear-plate" | "at-printer" | null {
    return this.current === "operational" ? (this.last?.attention ?? null) : null;
  }

  on<K extends keyof BackendEvents>(event: K, fn: BackendEvents[K]): void {
    this.listeners[event].push(fn);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.staleTimer = this.ctx.clock.setInterval(() => this.checkStale(), Math.max(250, Math.min(1000, this.options.staleAfterMs / 4)));
    this.connect();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.retryTimer?.cancel();
    this.retryTimer = null;
    this.staleTimer?.cancel();
    this.staleTimer = null;
    await this.opening?.catch(() => {});
    await this.close();
    this.setState("disconnected", "hub stopping");
  }

  async reconnect(): Promise<void> {
    if (this.current === "halted" || this.faultSeen !== null) {
      await this.restartFirmware().catch((error: unknown) => this.message(`firmware restart failed: ${messageOf(error)}`, "error"));
    }
    const wasHalted = this.current === "halted" || this.faultSeen !== null;
    this.faultSeen = null;
    if (wasHalted) this.faultGraceUntil = this.ctx.clock.now() + this.options.restartGraceMs;
    if (this.current === "halted") this.setState(this.lastReportAt !== null ? "operational" : "connecting", "reset after a halt");
  }

  /**
   * The strongest stop the API has; the printer counts as halted from here until the reset of the
   * stop (as a Marlin printer after M112), so what it reports about its own stop (a Klipper
   * shutdown, an OctoPrint error) is not a second halt.
   */
  async emergencyStop(reason: string): Promise<void> {
    for (const job of this.jobs) job.abort(`emergency stop: ${reason}`);
    const connected = this.current === "operational" || this.current === "halted";
    if (connected) {
      this.faultSeen ??= `emergency stop: ${reason}`;
      this.setState("halted", `emergency stop: ${reason}`);
    }
    await this.request("emergency stop", () => this.stopNow(reason));
  }

  heatersOff(): Promise<void> {
    return this.request("heaters off", () => this.coolDown());
  }

  async cancelOrphan(): Promise<boolean> {
    const s = this.last;
    if (s === null || (s.job !== "printing" && s.job !== "paused")) return false;
    await this.request("cancel the job the hub lost", () => this.cancelJob());
    return true;
  }

  createJob(program: string, file: string, clock: Clock): PrinterJob {
    return new RemoteJob(program, file, this, clock, this.options.startTimeoutMs);
  }

  // ---- for subclasses ------------------------------------------------------------------------

  /** A status from the printer. */
  protected report(s: NetworkStatus): void {
    this.last = s;
    this.lastReportAt = this.ctx.clock.now();
    this.counters.reports++;
    if (this.current === "connecting" || this.current === "disconnected") {
      this.counters.connects++;
      this.retryMs = this.options.reconnectMinMs;
      this.setState("operational", "the printer answers");
    }
    if (!this.identified) {
      this.identified = true;
      this.emit("firmware");
    }
    if (s.hotend !== null || s.bed !== null) {
      this.emit("temperature", { hotend: s.hotend, bed: s.bed, hotendPower: null, bedPower: null });
    }
    if (s.doorOpen !== null && s.doorOpen !== this.door) {
      this.door = s.doorOpen;
      this.emit("door", s.doorOpen);
    }
    if (s.fault !== null && this.faultSeen === null && this.ctx.clock.now() >= this.faultGraceUntil) {
      this.faultSeen = s.fault;
      this.setState("halted", s.fault);
      this.emit("halt", haltKindOf(s.fault), s.fault);
    } else if (s.fault === null && this.faultSeen !== null && this.current !== "halted") {
      this.faultSeen = null;
    }
    for (const job of this.jobs) job.update(s);
  }

  /** The connection went (closed, reset, a read error): reconnect with backoff. */
  protected lost(reason: string): void {
    if (!this.running || this.current === "disconnected") return;
    this.lastReportAt = null;
    this.identified = false;
    this.door = null;
    this.setState("disconnected", reason);
    void this.close();
    this.scheduleRetry();
  }

  protected message(text: string, level: "info" | "error"): void {
    this.emit("message", text, level);
  }

  /** Runs a request; a failure is counted, said in the console, and thrown as a HubError naming what was asked. */
  protected async request(what: string, fn: () => Promise<void>): Promise<void> {
    if (this.current === "disconnected" || this.current === "connecting") {
      throw new HubError("DEVICE_OFFLINE", `${what}: the printer is not connected`);
    }
    try {
      await fn();
    } catch (error) {
      this.counters.requestErrors++;
      const msg = `${what} failed: ${messageOf(error)}`;
      this.message(msg, "error");
      throw error instanceof HubError ? error : new HubError("DEVICE_REFUSED", msg);
    }
  }

  /** For RemoteJob. */
  startFile(program: string, file: string): Promise<void> {
    return this.request(`start ${program}`, () => this.startPrint(program, file));
  }

  pauseFile(): Promise<void> {
    return this.request("pause", () => this.pauseJob());
  }

  resumeFile(): Promise<void> {
    return this.request("resume", () => this.resumeJob());
  }

  cancelFile(): Promise<void> {
    return this.request("cancel", () => this.cancelJob());
  }

  track(job: RemoteJob): void {
    this.jobs.add(job);
    job.whenEnded(() => this.jobs.delete(job));
  }

  // ---- inside --------------------------------------------------------------------------------

  private connect(): void {
    if (!this.running || this.opening !== null) return;
    this.setState("connecting", "connecting");
    this.opening = this.open()
      .then(() => {
        this.lastError = null;
        // The printer answered; operational once its first status report arrives.
        this.lastReportAt ??= this.ctx.clock.now();
      })
      .catch((error: unknown) => {
        this.counters.connectFailures++;
        this.lastError = messageOf(error);
        this.message(`connect failed: ${this.lastError}`, "error");
        void this.close();
        if (this.running) {
          this.setState("disconnected", this.lastError);
          this.scheduleRetry();
        }
      })
      .finally(() => {
        this.opening = null;
      });
  }

  private scheduleRetry(): void {
    if (!this.running || this.retryTimer !== null) return;
    const wait = this.retryMs;
    this.retryMs = Math.min(this.options.reconnectMaxMs, this.retryMs * 2);
    this.retryTimer = this.ctx.clock.setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, wait);
  }

  private checkStale(): void {
    if (this.current !== "operational" && this.current !== "halted" && this.current !== "connecting") return;
    if (this.lastReportAt === null || this.opening !== null) return;
    const silentMs = this.ctx.clock.now() - this.lastReportAt;
    if (silentMs > this.options.staleAfterMs) {
      this.counters.staleLosses++;
      this.lost(`no status from the printer for ${Math.round(silentMs / 1000)} s`);
    }
  }

  private setState(state: DriverState, reason: string): void {
    if (state === this.current) return;
    this.current = state;
    this.ctx.logger.info({ state, reason }, "printer state");
    this.emit("state", state, reason);
  }

  private emit<K extends keyof BackendEvents>(event: K, ...args: Parameters<BackendEvents[K]>): void {
    for (const fn of this.listeners[event]) (fn as (...a: Parameters<BackendEvents[K]>) => void)(...args);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A job the printer runs itself: `run()` sends the file and starts it, then follows the printer's
 * reports until it says the job finished, was cancelled or failed.
 */
export class RemoteJob implements PrinterJob {
  private current: JobState = "running";
  private readonly startedAt: number;
  private endedAt: number | null = null;
  private why: string | null = null;
  /** The printer has reported this job printing (or paused): its terminal states now count. */
  private seenRunning = false;
  private last: NetworkStatus | null = null;
  private readonly onEnd: Array<(p: JobProgress) => void> = [];
  private settle: (() => void) | null = null;
  private startTimer: Timer | null = null;

  constructor(
    readonly name: string,
    private readonly file: string,
    private readonly driver: NetworkPrinterDriver,
    private readonly clock: Clock,
    private readonly startTimeoutMs: number,
  ) {
    this.startedAt = clock.now();
    driver.track(this);
  }

  get state(): JobState {
    return this.current;
  }

  whenEnded(fn: (p: JobProgress) => void): void {
    this.onEnd.push(fn);
  }

  async run(): Promise<JobProgress> {
    const ended = new Promise<void>((resolve) => (this.settle = resolve));
    try {
      await this.driver.startFile(this.name, this.file);
    } catch (error) {
      this.end("failed", messageOf(error));
      return this.progress();
    }
    if (!this.ended()) {
      this.startTimer = this.clock.setTimeout(() => {
        if (!this.seenRunning) this.end("failed", `the printer did not start ${this.name} within ${Math.round(this.startTimeoutMs / 1000)} s`);
      }, this.startTimeoutMs);
    }
    await ended;
    return this.progress();
  }

  async pause(): Promise<void> {
    if (this.current !== "running") throw new HubError("REQUEST_INVALID", `the job is ${this.current}, not running`);
    this.current = "pausing";
    try {
      await this.driver.pauseFile();
      if (this.current === "pausing") this.current = "paused";
    } catch (error) {
      if (this.current === "pausing") this.current = "running";
      throw error;
    }
  }

  async resume(): Promise<void> {
    if (this.current !== "paused") throw new HubError("REQUEST_INVALID", `the job is ${this.current}, not paused`);
    this.current = "resuming";
    try {
      await this.driver.resumeFile();
      if (this.current === "resuming") this.current = "running";
    } catch (error) {
      if (this.current === "resuming") this.current = "paused";
      throw error;
    }
  }

  async cancel(reason: string): Promise<void> {
    if (this.ended()) return;
    this.current = "cancelling";
    try {
      await this.driver.cancelFile();
    } finally {
      this.end("cancelled", reason);
    }
  }

  abort(reason: string): void {
    if (this.ended()) return;
    this.end("failed", reason);
  }

  /** A status from the printer. */
  update(s: NetworkStatus): void {
    if (this.ended()) return;
    this.last = s;
    if (s.job === "printing" || s.job === "paused") {
      this.seenRunning = true;
      // The printer paused or resumed by itself (its door, its screen): follow it, unless a request is under way.
      if (this.current === "running" && s.job === "paused") this.current = "paused";
      else if (this.current === "paused" && s.job === "printing") this.current = "running";
      return;
    }
    if (!this.seenRunning) return; // a report from before the printer took the job
    if (this.current === "cancelling") return; // the hub's own cancel ends it, with the hub's reason
    if (s.job === "finished") this.end("done", null);
    else if (s.job === "cancelled") this.end("cancelled", "cancelled at the printer");
    else if (s.job === "error") this.end("failed", s.fault ?? "the printer reported an error");
    else this.end((s.progressPct ?? 0) >= 99.9 ? "done" : "cancelled", (s.progressPct ?? 0) >= 99.9 ? null : "ended at the printer");
  }

  progress(): JobProgress {
    const s = this.seenRunning ? this.last : null;
    const now = this.endedAt ?? this.clock.now();
    const pct = this.current === "done" ? 100 : Math.max(0, Math.min(100, s?.progressPct ?? 0));
    return {
      state: this.current,
      name: this.name,
      startedAt: this.startedAt,
      endedAt: this.endedAt,
      // A network printer does not say lines; per mille of the job stands in for them.
      linesDone: Math.round(pct * 10),
      totalLines: 1000,
      progressPct: Math.round(pct * 10) / 10,
      layer: s?.layer ?? 0,
      layers: s?.layers ?? 0,
      elapsedS: s?.elapsedS ?? Math.max(0, Math.round((now - this.startedAt) / 1000)),
      timeLeftS: this.ended() ? 0 : (s?.timeLeftS ?? null),
      reason: this.why,
    };
  }

  private ended(): boolean {
    return this.current === "done" || this.current === "cancelled" || this.current === "failed";
  }

  private end(state: "done" | "cancelled" | "failed", reason: string | null): void {
    if (this.ended()) return;
    this.current = state;
    this.why = reason;
    this.endedAt = this.clock.now();
    this.startTimer?.cancel();
    this.startTimer = null;
    const p = this.progress();
    for (const fn of this.onEnd) fn(p);
    this.settle?.();
  }
}
