/**
 * The Marlin host protocol, as OctoPrint's serial connector speaks it (see protocols-safety.md §1):
 * one line in flight (`ackMax` 1), every line numbered and checksummed, a 50-line history for
 * `Resend:`, `busy:` and `wait` as keep-alives, `M115` capability detection, temperature
 * auto-report with `M105` polling as fallback, halt detection, OctoPrint's timeouts, and `M112`
 * that jumps every queue. Over a supervised byte link, so a printer on /dev/ttyACM0 and the
 * simulator on a pseudo-terminal run the same code.
 */
import type { Clock, Timer } from "../../core/clock.ts";
import { HubError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { SupervisedLink } from "../../transports/supervised-link.ts";
import { type HaltKind, LONG_RUNNING, type TemperatureReport, classifyLine, commandWord, frame } from "./gcode.ts";

/** How long after a reconnect of ours halt lines count as leftovers from before it. */
const STALE_HALT_MS = 500;

export type DriverState = "disconnected" | "connecting" | "operational" | "halted";

export interface DriverOptions {
  /** Hello attempts (`M110 N0`) before the connection counts as failed. OctoPrint: 3 hellos, 10 s. */
  helloIntervalMs: number;
  helloAttempts: number;
  /** No line at all for this long while a command is in flight is a timeout (OctoPrint 30 s). */
  communicationTimeoutMs: number;
  /** Once the firmware has shown it speaks the busy protocol, 3 s (OctoPrint communicationBusy). */
  busyTimeoutMs: number;
  /** Consecutive timeouts before the printer counts as dead (OctoPrint: idle 2, printing 5). */
  maxTimeouts: number;
  maxConsecutiveResends: number;
  historySize: number;
  /** M155 S<n> when the firmware can auto-report; else M105 every this often. */
  temperatureIntervalS: number;
}

export const DEFAULT_DRIVER_OPTIONS: DriverOptions = {
  helloIntervalMs: 2000,
  helloAttempts: 5,
  communicationTimeoutMs: 30_000,
  busyTimeoutMs: 3000,
  maxTimeouts: 5,
  maxConsecutiveResends: 10,
  historySize: 50,
  temperatureIntervalS: 2,
};

export type Priority = "control" | "job";

interface Pending {
  command: string;
  priority: Priority;
  resolve: () => void;
  reject: (error: HubError) => void;
}

interface InFlight extends Pending {
  n: number;
  sentAt: number;
}

export interface DriverStats {
  linesSent: number;
  resends: number;
  timeouts: number;
  commErrors: number;
  garbageLines: number;
  connects: number;
  lastLineAt: number | null;
}

export interface DriverEvents {
  state(state: DriverState, reason: string): void;
  temperature(report: TemperatureReport): void;
  firmware(info: Record<string, string>, capabilities: ReadonlyMap<string, boolean>): void;
  halt(kind: HaltKind, message: string): void;
  /** The firmware restarted on its own (`start` while operational): what it was doing is lost. */
  reset(): void;
  /** A line from the firmware that is neither protocol nor report (echo, errors), for the technician's console. */
  message(text: string, level: "info" | "error"): void;
}

type Listeners = { [K in keyof DriverEvents]: Array<DriverEvents[K]> };

export class MarlinDriver {
  private current: DriverState = "disconnected";
  /**
   * Until then, halt lines are what the firmware said before the reconnect that reset it (its
   * answer to our M112 still in the port's buffers), not a new halt. A firmware that is still
   * halted answers our hellos after that and is caught then.
   */
  private staleHaltsUntil = 0;
  private lineNumber = 0;
  private readonly history = new Map<number, string>();
  private queue: Pending[] = [];
  private inFlight: InFlight | null = null;
  private resendFrom: number | null = null;
  private consecutiveResends = { line: -1, count: 0 };
  private consecutiveTimeouts = 0;
  private busySupported = false;
  private lastReceivedAt = 0;
  private buffer = "";
  private helloTimer: Timer | null = null;
  private watchdog: Timer | null = null;
  private poller: Timer | null = null;
  private helloCount = 0;
  private capabilities = new Map<string, boolean>();
  private firmwareInfo: Record<string, string> = {};
  private readonly listeners: Listeners = { state: [], temperature: [], firmware: [], halt: [], reset: [], message: [] };
  readonly stats: DriverStats = { linesSent: 0, resends: 0, timeouts: 0, commErrors: 0, garbageLines: 0, connects: 0, lastLineAt: null };

  constructor(
    private readonly link: SupervisedLink,
    private readonly ctx: { clock: Clock; logger: Logger },
    private readonly options: DriverOptions = DEFAULT_DRIVER_OPTIONS,
  ) {
    link.onUp(() => this.handshake());
    link.onDown((reason) => this.lost(`link lost: ${reason}`));
    link.onData((chunk) => this.receive(chunk));
  }

  get state(): DriverState {
    return this.current;
  }

  get firmware(): Readonly<Record<string, string>> {
    return this.firmwareInfo;
  }

  capability(name: string): boolean | undefined {
    return this.capabilities.get(name);
  }

  on<K extends keyof DriverEvents>(event: K, fn: DriverEvents[K]): void {
    this.listeners[event].push(fn);
  }

  start(): void {
    this.link.start();
    this.watchdog ??= this.ctx.clock.setInterval(() => this.checkTimeout(), 500);
  }

  async stop(): Promise<void> {
    this.watchdog?.cancel();
    this.watchdog = null;
    this.clearTimers();
    this.failAll("driver stopped");
    await this.link.stop();
    this.setState("disconnected", "stopped");
  }

  /** Queues a command; resolves on its `ok`. Control commands go before job lines. */
  send(command: string, priority: Priority = "control"): Promise<void> {
    if (this.current !== "operational") {
      return Promise.reject(new HubError("DEVICE_OFFLINE", `printer is ${this.current}: "${command}" not sent`));
    }
    return new Promise<void>((resolve, reject) => {
      const p: Pending = { command, priority, resolve, reject };
      if (priority === "control") {
        const firstJob = this.queue.findIndex((q) => q.priority === "job");
        if (firstJob < 0) this.queue.push(p);
        else this.queue.splice(firstJob, 0, p);
      } else {
        this.queue.push(p);
      }
      this.pump();
    });
  }

  /** Drops job lines not yet sent (pause, cancel). */
  dropJobLines(reason: string): void {
    const dropped = this.queue.filter((q) => q.priority === "job");
    this.queue = this.queue.filter((q) => q.priority !== "job");
    for (const q of dropped) q.reject(new HubError("REQUEST_INVALID", reason));
  }

  /**
   * M112 jumps every queue: sent raw at once (Marlin's emergency parser acts on the bytes as they
   * arrive), then numbered, then heaters off in case the firmware still listens. The printer is
   * then halted until it is reset (a reconnect). M112 is a control stop, not a safety function.
   */
  async emergencyStop(reason: string): Promise<void> {
    const n = this.lineNumber++;
    const lines = ["M112", frame(n, "M112"), frame(this.lineNumber++, "M104 S0"), frame(this.lineNumber++, "M140 S0")];
    this.failAll(`emergency stop: ${reason}`);
    this.setState("halted", `emergency stop: ${reason}`);
    try {
      await this.link.write(`${lines.join("\n")}\n`);
    } catch (error) {
      this.ctx.logger.error({ err: error }, "M112 could not be written");
      throw error;
    }
  }

  /** After a halt: close and reopen the port (on real hardware DTR resets the board) and handshake again. */
  async reconnect(): Promise<void> {
    this.failAll("reconnecting");
    this.staleHaltsUntil = this.ctx.clock.now() + STALE_HALT_MS;
    await this.link.release();
    this.link.reclaim();
  }

  private emit<K extends keyof DriverEvents>(event: K, ...args: Parameters<DriverEvents[K]>): void {
    for (const fn of this.listeners[event]) (fn as (...a: Parameters<DriverEvents[K]>) => void)(...args);
  }

  private setState(state: DriverState, reason: string): void {
    if (state === this.current) return;
    this.current = state;
    this.emit("state", state, reason);
  }

  private handshake(): void {
    this.clearTimers();
    this.stats.connects++;
    this.buffer = "";
    this.busySupported = false;
    this.capabilities = new Map();
    this.firmwareInfo = {};
    this.helloCount = 0;
    this.setState("connecting", "waiting for the firmware");
    this.hello();
  }

  /** `M110 N0` with its checksum, as OctoPrint's helloCommand; repeated until an `ok` comes. */
  private hello(): void {
    if (this.current !== "connecting") return;
    if (this.helloCount >= this.options.helloAttempts) {
      this.lost(`no answer to ${this.helloCount} hellos: is this a Marlin printer at the right baud rate?`);
      void this.link.release().then(() => this.link.reclaim());
      return;
    }
    this.helloCount++;
    this.lineNumber = 1;
    this.history.clear();
    this.write(`${frame(0, "M110 N0")}\n`);
    this.helloTimer = this.ctx.clock.setTimeout(() => this.hello(), this.options.helloIntervalMs);
  }

  private operational(): void {
    this.helloTimer?.cancel();
    this.helloTimer = null;
    this.consecutiveTimeouts = 0;
    this.setState("operational", "firmware answered");
    // Capabilities first; their lines arrive before M115's ok.
    this.send("M115").then(
      () => this.afterCapabilities(),
      () => {},
    );
  }

  private afterCapabilities(): void {
    this.emit("firmware", this.firmwareInfo, this.capabilities);
    if (this.capabilities.get("AUTOREPORT_TEMP") === true) {
      this.send(`M155 S${this.options.temperatureIntervalS}`).catch(() => {});
    } else {
      this.poller = this.ctx.clock.setInterval(() => {
        if (this.current === "operational" && !this.queue.some((q) => q.command === "M105")) this.send("M105").catch(() => {});
      }, this.options.temperatureIntervalS * 1000);
    }
    if (this.capabilities.get("BUSY_PROTOCOL") === true) this.send("M113 S2").catch(() => {});
  }

  private pump(): void {
    if (this.inFlight !== null || this.current !== "operational") return;
    const next = this.queue.shift();
    if (next === undefined) return;
    const n = this.lineNumber++;
    const text = frame(n, next.command);
    this.history.set(n, text);
    this.history.delete(n - this.options.historySize);
    this.inFlight = { ...next, n, sentAt: this.ctx.clock.now() };
    this.stats.linesSent++;
    this.write(`${text}\n`);
  }

  private write(text: string): void {
    this.link.write(text).catch((error: unknown) => this.ctx.logger.warn({ err: error instanceof Error ? error.message : String(error) }, "printer write failed"));
  }

  private receive(chunk: Buffer): void {
    this.buffer += chunk.toString("latin1");
    if (this.buffer.length > 8192) {
      // A line that never ends is garbage (a baud mismatch): keep the tail only.
      this.stats.garbageLines++;
      this.buffer = this.buffer.slice(-1024);
    }
    let nl: number;
    while ((nl = this.buffer.indexOf("\n")) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (line.trim() !== "") this.handleLine(line);
    }
  }

  private handleLine(raw: string): void {
    const now = this.ctx.clock.now();
    this.lastReceivedAt = now;
    this.stats.lastLineAt = now;
    this.consecutiveTimeouts = 0;
    const line = classifyLine(raw);
    switch (line.kind) {
      case "ok": {
        if (line.rest.includes("T:")) this.handleLine(line.rest);
        if (this.current === "connecting") {
          this.operational();
          return;
        }
        this.acknowledge();
        return;
      }
      case "wait":
        return;
      case "busy":
        this.busySupported = true;
        return;
      case "resend":
        this.requestResend(line.line);
        return;
      case "start":
        if (this.current === "operational") {
          this.failAll("the printer restarted (External reset?)");
          this.emit("reset");
          this.handshake();
        } else if (this.current === "connecting") {
          this.helloTimer?.cancel();
          this.hello();
        }
        return;
      case "halt":
        if (this.current === "connecting" && this.ctx.clock.now() < this.staleHaltsUntil) {
          this.ctx.logger.info({ line: line.message }, "printer: a halt line from before the reconnect, ignored");
          this.emit("message", line.message, "info");
          return;
        }
        if (this.current === "halted") {
          // One halt, several lines: Marlin names the cause (`MINTEMP triggered`) and then says
          // `Printer halted. kill() called!`. The first line is the reason; the rest are messages.
          this.emit("message", line.message, "error");
          return;
        }
        this.failAll(`printer halted: ${line.message}`);
        this.setState("halted", line.message);
        this.emit("halt", line.halt, line.message);
        this.emit("message", line.message, "error");
        return;
      case "comm-error":
        this.stats.commErrors++;
        return;
      case "error":
        this.emit("message", line.message, "error");
        return;
      case "temperature":
        this.emit("temperature", line.report);
        return;
      case "firmware":
        this.firmwareInfo = line.info;
        return;
      case "capability":
        this.capabilities.set(line.name, line.enabled);
        return;
      case "action":
        // Host action commands are logged, never obeyed beyond the printer (protocols-safety §1.11).
        this.emit("message", `//action:${line.action}`, "info");
        return;
      case "echo":
        this.emit("message", line.text, "info");
        return;
      case "other":
        if (/[^\x20-\x7e\t]/.test(line.text)) this.stats.garbageLines++;
        else this.emit("message", line.text, "info");
        return;
    }
  }

  private acknowledge(): void {
    const f = this.inFlight;
    if (f === null) return;
    if (this.resendFrom !== null) {
      // Marlin answers a resend request with `ok`: send the requested line again, same number.
      const n = this.resendFrom;
      this.resendFrom = null;
      const text = this.history.get(n);
      if (text === undefined || n > f.n) {
        this.fatalLink(`printer asked to resend line ${n}, which is not in the last ${this.options.historySize} lines`);
        return;
      }
      this.stats.resends++;
      this.write(`${text}\n`);
      // Lines after n up to the one in flight follow, one per ok.
      if (n < f.n) this.resendFrom = n + 1;
      return;
    }
    this.inFlight = null;
    f.resolve();
    this.pump();
  }

  private requestResend(n: number): void {
    const f = this.inFlight;
    // A resend of the line after the one in flight means that one arrived and its ok was lost.
    if (f !== null && n === f.n + 1) {
      this.resendFrom = null;
      return;
    }
    if (this.consecutiveResends.line === n) this.consecutiveResends.count++;
    else this.consecutiveResends = { line: n, count: 1 };
    if (this.consecutiveResends.count > this.options.maxConsecutiveResends) {
      this.fatalLink(`printer keeps requesting line ${n} again and again: communication stuck`);
      return;
    }
    if (f === null || n > f.n) return;
    this.resendFrom = n;
  }

  private checkTimeout(): void {
    if (this.current !== "operational") return;
    const now = this.ctx.clock.now();
    // With temperature auto-report the firmware talks every few seconds, busy or not. Silence means
    // the link is gone even if the port never said so (a pulled USB cable can leave serialport
    // reading zero bytes forever: serialport/bindings-cpp#162).
    const silentLimit = Math.max(6000, this.options.temperatureIntervalS * 3000);
    if (this.capabilities.get("AUTOREPORT_TEMP") === true && this.lastReceivedAt > 0 && now - this.lastReceivedAt > silentLimit) {
      this.fatalLink(`no data from the printer for ${Math.round((now - this.lastReceivedAt) / 1000)} s`);
      return;
    }
    const f = this.inFlight;
    if (f === null) return;
    const since = Math.max(this.lastReceivedAt, f.sentAt);
    const word = commandWord(f.command);
    const limit = this.busySupported && !LONG_RUNNING.has(word) ? Math.max(this.options.busyTimeoutMs, this.options.temperatureIntervalS * 1000 + 1000) : this.options.communicationTimeoutMs;
    if (now - since < limit) return;
    this.stats.timeouts++;
    this.consecutiveTimeouts++;
    this.lastReceivedAt = now;
    if (this.consecutiveTimeouts >= this.options.maxTimeouts) {
      this.fatalLink(`too many consecutive timeouts (${this.consecutiveTimeouts}): printer still connected and alive?`);
      return;
    }
    // Send the line in flight again: if it was lost it is processed now; if it was processed and
    // only its ok got lost, the firmware asks for the next line, which counts as that ok.
    const text = this.history.get(f.n);
    if (text !== undefined) this.write(`${text}\n`);
  }

  /** The link is up but the conversation is broken: fail everything and start over. */
  private fatalLink(reason: string): void {
    this.ctx.logger.warn({ reason }, "printer communication failed");
    this.emit("message", reason, "error");
    this.lost(reason);
    void this.link.release().then(() => this.link.reclaim());
  }

  private lost(reason: string): void {
    this.clearTimers();
    this.failAll(reason);
    this.setState("disconnected", reason);
  }

  private failAll(reason: string): void {
    const all = [...(this.inFlight !== null ? [this.inFlight] : []), ...this.queue];
    this.inFlight = null;
    this.queue = [];
    this.resendFrom = null;
    for (const p of all) p.reject(new HubError("DEVICE_OFFLINE", reason));
  }

  private clearTimers(): void {
    this.helloTimer?.cancel();
    this.helloTimer = null;
    this.poller?.cancel();
    this.poller = null;
  }
}
