/**
 * The machine inside every simulated network printer: the Marlin engine of the printer simulator
 * (its heaters, thermal protection and motion planner) with the printer's own job runner in front,
 * which is what Ultimaker's, Bambu Lab's, Prusa's and Klipper's firmwares are to the user: a file
 * is stored, started, paused, resumed, cancelled; temperatures, progress, layer and door are read.
 * The protocol simulators (ultimaker.ts, bambu.ts …) put their wire on top of this.
 *
 * The runner streams the stored G-code into the engine one line per `ok`, as a host on a cable
 * would. Pausing stops the stream and parks; resuming comes back down and goes on; cancelling
 * stops the stream, parks and switches the heaters off. An emergency stop is M112 (the engine
 * kills, heaters off) and the machine stays halted until `reset()`.
 */
import { systemClock, type Clock } from "../../hub/src/core/clock.ts";
import type { PrinterFault } from "../printer/faults.ts";
import { MarlinFirmware } from "../printer/marlin.ts";

export type MachineJobState = "idle" | "printing" | "paused" | "finished" | "cancelled" | "error";

export interface MachineStatus {
  /** `halted` after an emergency stop or a firmware halt (thermal runaway, MINTEMP …) until `reset()`. */
  machine: "ready" | "busy" | "halted";
  job: MachineJobState;
  file: string | null;
  hotend: { actual: number; target: number };
  bed: { actual: number; target: number };
  /** 0..100 by lines streamed. */
  progressPct: number;
  elapsedS: number;
  /** From the lines' pace so far; null before there is a pace. */
  timeLeftS: number | null;
  layer: number;
  layers: number;
  doorOpen: boolean;
  /** Why the machine halted or the job failed, in the firmware's words; null when fine. */
  error: string | null;
}

export interface SimMachineOptions {
  clock?: Clock;
  /** Motion speed-up (default 20: a demo model prints in a minute or two). */
  speedFactor?: number;
  /** Heater speed-up (default 10). */
  heatFactor?: number;
  seed?: number;
  name?: string;
  /** Has a door contact (Ultimaker S, Bambu X1C, Prusa Core One); default true. */
  hasDoor?: boolean;
}

const PARK = ["G91", "G1 Z5 F600", "G90"];
const UNPARK = ["G91", "G1 Z-5 F600", "G90"];
const COOL = ["M104 S0", "M140 S0", "M107"];

export class SimMachine {
  readonly clock: Clock;
  readonly firmware: MarlinFirmware;
  readonly hasDoor: boolean;
  /** Stored files by name (what the printer's storage holds). */
  readonly files = new Map<string, string>();
  private partial = "";
  private lines: string[] = [];
  private layerAt: number[] = [];
  private cursor = 0;
  private job: MachineJobState = "idle";
  private jobFile: string | null = null;
  private startedAt = 0;
  private endedAt: number | null = null;
  private pausedMs = 0;
  private pausedAt: number | null = null;
  private error: string | null = null;
  private door = false;
  /** Lines waiting for their `ok` (control lines first, then the job's next). */
  private inFlight = 0;
  private readonly control: string[] = [];
  private streaming = false;
  private readonly listeners: Array<() => void> = [];

  constructor(opts: SimMachineOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.hasDoor = opts.hasDoor ?? true;
    this.firmware = new MarlinFirmware({
      clock: this.clock,
      speedFactor: opts.speedFactor ?? 20,
      heatFactor: opts.heatFactor ?? 10,
      seed: opts.seed ?? 1,
      machineType: opts.name ?? "TEC Sim Network Printer",
      output: (bytes) => this.onOutput(bytes),
    });
  }

  /** Power on. */
  start(): void {
    this.firmware.start();
  }

  /** Power off (timers stopped). */
  stop(): void {
    this.firmware.stop();
  }

  /** Called on every change of job state, halt or door (not on every temperature change). */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  store(name: string, gcode: string): void {
    this.files.set(name, gcode);
  }

  /** Starts a stored file; throws (in plain words) when the printer cannot. */
  startJob(name: string): void {
    const gcode = this.files.get(name);
    if (gcode === undefined) throw new Error(`no such file: ${name}`);
    if (this.halted()) throw new Error(`printer halted: ${this.error ?? "reset it first"}`);
    if (this.job === "printing" || this.job === "paused") throw new Error("printer is busy");
    if (this.door) throw new Error("the door is open");
    this.lines = [];
    this.layerAt = [];
    let layer = 0;
    for (const raw of gcode.split(/\r?\n/)) {
      const mark = /^;LAYER:\s*(\d+)/i.exec(raw.trim());
      if (mark?.[1] !== undefined) layer = Number(mark[1]);
      const cmd = raw.replace(/;.*$/, "").trim();
      if (cmd === "") continue;
      this.lines.push(cmd);
      this.layerAt.push(layer);
    }
    this.cursor = 0;
    this.jobFile = name;
    this.job = "printing";
    this.error = null;
    this.startedAt = this.clock.now();
    this.endedAt = null;
    this.pausedMs = 0;
    this.pausedAt = null;
    this.streaming = true;
    this.changed();
    this.pump();
  }

  pause(): void {
    if (this.job !== "printing") throw new Error(`nothing to pause (job ${this.job})`);
    this.streaming = false;
    this.job = "paused";
    this.pausedAt = this.clock.now();
    this.control.push(...PARK);
    this.changed();
    this.pump();
  }

  resume(): void {
    if (this.job !== "paused") throw new Error(`nothing to resume (job ${this.job})`);
    if (this.door) throw new Error("the door is open");
    this.control.push(...UNPARK);
    if (this.pausedAt !== null) this.pausedMs += this.clock.now() - this.pausedAt;
    this.pausedAt = null;
    this.job = "printing";
    this.streaming = true;
    this.changed();
    this.pump();
  }

  cancel(): void {
    if (this.job !== "printing" && this.job !== "paused") throw new Error(`nothing to cancel (job ${this.job})`);
    this.streaming = false;
    this.end("cancelled", null);
    this.control.push(...PARK, ...COOL);
    this.pump();
  }

  /** M112: the engine kills (heaters off) and stays halted until `reset()`. */
  emergencyStop(): void {
    this.streaming = false;
    this.control.length = 0;
    this.firmware.receive(Buffer.from("M112\n", "latin1"));
    if (this.job === "printing" || this.job === "paused") this.end("error", "emergency stop");
    this.error ??= "emergency stop";
    this.changed();
  }

  /** Heaters off at once (what a cancel-and-cool stop does). */
  heatersOff(): void {
    this.control.push(...COOL);
    this.pump();
  }

  /** Sets heater targets directly (preheat from a printer's own menu or API). */
  setTargets(hotendC: number | null, bedC: number | null): void {
    if (hotendC !== null) this.control.push(`M104 S${hotendC}`);
    if (bedC !== null) this.control.push(`M140 S${bedC}`);
    this.pump();
  }

  /** The firmware restarts (the reset button, a power cycle): a halt is cleared, the job lost. */
  reset(): void {
    this.streaming = false;
    this.control.length = 0;
    this.inFlight = 0;
    if (this.job === "printing" || this.job === "paused") this.end("error", "printer restarted");
    this.error = null;
    this.firmware.clearFaults();
    this.firmware.reset();
    this.changed();
  }

  /** Door contact (only on a machine with a door). Opening it mid-print pauses, as the real ones do. */
  setDoor(open: boolean): void {
    if (!this.hasDoor || this.door === open) return;
    this.door = open;
    if (open && this.job === "printing") this.pause();
    this.changed();
  }

  /** A hardware fault in the engine (heater failure, sensor open …): its own protection halts it. */
  inject(fault: PrinterFault): void {
    this.firmware.inject(fault);
  }

  halted(): boolean {
    const s = this.firmware.snapshot().state;
    return s === "killed" || s === "stopped";
  }

  status(): MachineStatus {
    const snap = this.firmware.snapshot();
    const now = this.endedAt ?? this.clock.now();
    const total = this.lines.length;
    const pausedNow = this.pausedAt !== null ? this.clock.now() - this.pausedAt : 0;
    const elapsedS = this.job === "idle" ? 0 : Math.max(0, (now - this.startedAt - this.pausedMs - pausedNow) / 1000);
    const fraction = total === 0 ? 0 : this.cursor / total;
    const running = this.job === "printing" || this.job === "paused";
    return {
      machine: this.halted() ? "halted" : running ? "busy" : "ready",
      job: this.job,
      file: this.jobFile,
      hotend: { actual: round1(snap.hotend.readingC), target: snap.hotend.targetC },
      bed: { actual: round1(snap.bed.readingC), target: snap.bed.targetC },
      progressPct: Math.round(fraction * 1000) / 10,
      elapsedS: Math.round(elapsedS),
      timeLeftS: running && fraction > 0.01 ? Math.round((elapsedS / fraction) * (1 - fraction)) : running ? null : 0,
      layer: this.layerAt[Math.min(this.cursor, this.layerAt.length - 1)] ?? 0,
      layers: this.layerAt.length === 0 ? 0 : Math.max(...this.layerAt.slice(-1), 0),
      doorOpen: this.door,
      error: this.error ?? snap.killReason,
    };
  }

  private end(state: "finished" | "cancelled" | "error", error: string | null): void {
    this.job = state;
    this.endedAt = this.clock.now();
    if (error !== null) this.error = error;
    this.changed();
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  /** One line in flight at a time: control lines before the job's. */
  private pump(): void {
    if (this.inFlight > 0 || this.halted()) return;
    const next = this.control.shift() ?? (this.streaming && this.cursor < this.lines.length ? this.lines[this.cursor++] : undefined);
    if (next === undefined) {
      if (this.streaming && this.job === "printing" && this.cursor >= this.lines.length) {
        this.streaming = false;
        this.end("finished", null);
      }
      return;
    }
    this.inFlight = 1;
    this.firmware.receive(Buffer.from(`${next}\n`, "latin1"));
  }

  private onOutput(bytes: Buffer): void {
    this.partial += bytes.toString("latin1");
    for (let i = this.partial.indexOf("\n"); i >= 0; i = this.partial.indexOf("\n")) {
      const line = this.partial.slice(0, i).trim();
      this.partial = this.partial.slice(i + 1);
      if (line.startsWith("ok")) {
        this.inFlight = 0;
        // Answer on a later turn: the engine calls output synchronously from receive().
        queueMicrotask(() => this.pump());
      } else if (/^Error:.*(halted|stopped|Thermal Runaway|Heating failed|MINTEMP|MAXTEMP|kill)/i.test(line)) {
        this.streaming = false;
        this.inFlight = 0;
        this.control.length = 0;
        const why = line.replace(/^Error:\s*/, "");
        if (this.job === "printing" || this.job === "paused") this.end("error", why);
        else this.error ??= why; // the first line names the cause; "Printer halted. kill() called!" follows
        this.changed();
      } else if (line === "start") {
        this.inFlight = 0;
      }
    }
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

/** What every network printer simulator takes (`start<Protocol>Sim(opts)`). */
export interface NetPrinterSimOptions {
  /** The machine behind the API; default a new SimMachine with these options. */
  machine?: SimMachine;
  machineOptions?: SimMachineOptions;
  /** Listen on 127.0.0.1 at this port (0 = any free; the default). Bambu: the MQTT port; its FTPS port is `ftpsPort` (default 0). */
  port?: number;
  ftpsPort?: number;
  /** Credentials the simulated printer accepts (per protocol: apiKey, user/password, accessCode, serial); defaults per simulator. */
  credentials?: { apiKey?: string; user?: string; password?: string; accessCode?: string; serial?: string };
  /** How often the printer pushes or may be polled for status (ms); protocol default otherwise. */
  reportIntervalMs?: number;
  clock?: Clock;
  logger?: (msg: string) => void;
}

/** What every network printer simulator returns: the hub's config for it, and its faults. */
export interface NetPrinterSimHandle {
  machine: SimMachine;
  /** The `protocol`, `url` and `auth` of a hub printer device for this simulator. */
  protocol: "ultimaker" | "bambu-lan" | "prusalink" | "moonraker" | "octoprint";
  url: string;
  auth: { apiKey?: string; user?: string; password?: string; accessCode?: string; serial?: string; fingerprint?: string };
  /** Fault: every open connection (and the listener's sessions) dropped at once; new ones are accepted. */
  dropConnections(): void;
  /** Fault: the printer stays connected but stops answering and reporting (true), or comes back (false). */
  setSilent(silent: boolean): void;
  /** Fault: every request / connect is refused as bad credentials (true) until set back (false). */
  refuseCredentials(refuse: boolean): void;
  /** Closes everything; safe to call twice. */
  stop(): Promise<void>;
}
