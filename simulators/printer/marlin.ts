/**
 * A Marlin 2.1 printer as a pure protocol engine: bytes from the host go in through `receive`,
 * bytes to the host come out through the `output` callback, and all time runs on the injected
 * Clock, so tests drive it with a ManualClock. No I/O here; `index.ts` binds it to a pty or TCP.
 *
 * What it models (Marlin src/gcode/queue.cpp, gcode.cpp, module/temperature.cpp, feature/e_parser):
 * - the emergency parser acting on M108/M112/M410 as their bytes arrive;
 * - a bounded RX buffer (bytes beyond it are lost, as on a UART), a command queue of BUFSIZE
 *   lines and a planner of a few moves, so `ok` for a move comes when it is planned and waits
 *   while the planner is full;
 * - line numbers and checksums with Marlin's exact errors and `Resend:`;
 * - `busy: processing` keepalives, M155 auto-reports, heat-and-wait with residency;
 * - thermal protection (watch, runaway, MINTEMP, MAXTEMP) ending in kill();
 * - fault injection (faults.ts).
 */
import { systemClock, type Clock, type Timer } from "../../hub/src/core/clock.ts";
import { createRng, deriveSeed, type Rng } from "../common/rng.ts";
import { defaultSettings, execute, type Machine, type MachineSettings, type Running } from "./commands.ts";
import { afterReset, clampProbability, noFaults, type ActiveFaults, type PrinterFault } from "./faults.ts";
import { parseCommand } from "./gcode.ts";
import { BED_SPEC, HOTEND_SPEC, Heater, type HeaterId } from "./heaters.ts";
import { Motion, type Axes } from "./planner.ts";
import { SerialInput } from "./serial-input.ts";
import { MARLIN_STRINGS as S, bannerLines, firmwareInfoLines, garbageLine, uuidFrom } from "./strings.ts";

export interface MarlinOptions {
  /** Bytes to the host. Called synchronously whenever the firmware prints a line. */
  output: (bytes: Buffer) => void;
  clock?: Clock;
  /** Moves, homing and dwells run this many times faster than on a real printer; default 1. */
  speedFactor?: number;
  /** Heater physics and the firmware's thermal timers run this many times faster; default 1. */
  heatFactor?: number;
  seed?: number;
  /** M115 MACHINE_TYPE; default "TEC Sim Printer". */
  machineType?: string;
  /** M115 UUID; default derived from the seed. */
  uuid?: string;
  ambientC?: number;
  /** Standard deviation of the thermistor noise; default 0 (exact readings). */
  tempNoiseC?: number;
  /** A line of garbage bytes before `start`, like a bootloader (OctoPrint's virtual printer sends \x80). */
  bootGarbage?: boolean;
  /** Time from reset to the banner; bytes received meanwhile are lost. Default 0. */
  bootMs?: number;
  /** Planner slots (Marlin BLOCK_BUFFER_SIZE is 16; 4 like OctoPrint's virtual printer). */
  plannerSlots?: number;
  /** Called when the `disconnect` fault is injected: the owner drops the transport. */
  onDisconnect?: () => void;
}

export type FirmwareState = "off" | "booting" | "running" | "stopped" | "killed";

export interface HeaterSnapshot {
  readingC: number;
  trueC: number;
  targetC: number;
  pwm: number;
}

export interface PrinterSnapshot {
  state: FirmwareState;
  /** True after the `disconnect` fault until reset. */
  linkDown: boolean;
  killReason: string | null;
  hotend: HeaterSnapshot;
  bed: HeaterSnapshot;
  position: Axes;
  lastLine: number;
  commandsQueued: number;
  plannerMoves: number;
  busy: boolean;
  feedPercent: number;
  progress: MachineSettings["progress"];
  message: string | null;
  filamentMm: number;
  rxOverflowBytes: number;
}

/** Marlin BUFSIZE: commands in the queue, including the one executing. */
export const BUFSIZE = 4;
const TICK_MS = 100;

export class MarlinFirmware {
  readonly hotend: Heater;
  readonly bed: Heater;
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly heatFactor: number;
  private readonly speedFactor: number;
  private readonly uuid: string;
  private faults: ActiveFaults = noFaults();
  private readonly motion: Motion;
  private readonly settings: MachineSettings = defaultSettings();
  private state: FirmwareState = "off";
  private linkDown = false;
  private killReason: string | null = null;
  private readonly input: SerialInput;
  private queue: string[] = [];
  private running: Running | null = null;
  private runningDone = false;
  private nextBusyMs = 0;
  private thermalNowS = 0;
  private lastTickMs = 0;
  private tickTimer: Timer | null = null;
  private wakeTimer: Timer | null = null;
  private bootTimer: Timer | null = null;
  private pumping = false;
  private pumpAgain = false;
  private readonly machine: Machine;

  constructor(private readonly opts: MarlinOptions) {
    this.clock = opts.clock ?? systemClock;
    this.speedFactor = opts.speedFactor ?? 1;
    this.heatFactor = opts.heatFactor ?? 1;
    this.rng = createRng(deriveSeed(opts.seed ?? 1, "marlin"));
    this.uuid = opts.uuid ?? uuidFrom(createRng(deriveSeed(opts.seed ?? 1, "uuid")));
    const ambient = opts.ambientC ?? 21;
    this.hotend = new Heater(HOTEND_SPEC, ambient);
    this.bed = new Heater(BED_SPEC, ambient);
    this.motion = new Motion(opts.plannerSlots ?? 4, this.speedFactor);
    this.input = new SerialInput(
      {
        emit: (line) => this.emit(line),
        emergency: (cmd) => this.emergency(cmd),
        listening: () => this.listening(),
        stopped: () => this.state === "stopped",
        faults: () => this.faults,
      },
      this.rng,
    );
    this.machine = this.makeMachine();
  }

  /** Powers the board: physics starts ticking, then the boot banner. */
  start(): void {
    if (this.tickTimer !== null) return;
    this.lastTickMs = this.clock.now();
    this.tickTimer = this.clock.setInterval(() => this.tick(), TICK_MS);
    this.reset();
  }

  /** Powers the board off: no timers, no output. Safe to call twice. */
  stop(): void {
    this.tickTimer?.cancel();
    this.tickTimer = null;
    this.cancelTimers();
    this.state = "off";
  }

  /** A reset (DTR on connect, the reset button): state lost, line numbers 0, banner again. */
  reset(): void {
    this.cancelTimers();
    this.faults = afterReset(this.faults);
    this.applyHeaterFaults();
    this.hotend.off();
    this.bed.off();
    this.motion.reset();
    Object.assign(this.settings, defaultSettings());
    this.linkDown = false;
    this.killReason = null;
    this.input.reset();
    this.queue = [];
    this.running = null;
    this.state = "booting";
    const bootMs = this.opts.bootMs ?? 0;
    if (bootMs > 0) this.bootTimer = this.clock.setTimeout(() => this.boot(), bootMs);
    else this.boot();
  }

  /** Bytes from the host. */
  receive(bytes: Buffer): void {
    if (!this.listening()) return;
    this.input.receive(bytes);
    this.pump();
  }

  inject(fault: PrinterFault): void {
    const f = this.faults;
    switch (fault.kind) {
      case "heaterFailure":
        f.heaterFailure.set(fault.heater ?? "hotend", { silent: fault.silent ?? false });
        break;
      case "sensorOpen":
      case "sensorShort":
        f.sensor.set(fault.heater ?? "hotend", fault.kind === "sensorOpen" ? "open" : "short");
        break;
      case "lineNoise":
        f.lineNoise = clampProbability(fault.probability);
        break;
      case "garbageOutput":
        f.garbageOutput = clampProbability(fault.probability);
        break;
      case "noThermalProtection":
        f.noThermalProtection = true;
        break;
      case "dontAnswer":
        f.dontAnswer += Math.max(1, Math.trunc(fault.count ?? 1));
        break;
      case "busyForever":
        f.busyForever = true;
        break;
      case "resendStorm":
        f.resendStorm = Math.max(0, Math.trunc(fault.count));
        break;
      case "kill":
        if (this.alive()) this.kill("injected");
        break;
      case "stop":
        if (this.state === "running") this.stopMachine();
        break;
      case "disconnect":
        this.linkDown = true;
        this.opts.onDisconnect?.();
        break;
    }
    this.applyHeaterFaults();
  }

  /** Clears every injected fault (a killed firmware stays killed until reset). */
  clearFaults(): void {
    this.faults = noFaults();
    this.applyHeaterFaults();
    this.pump();
  }

  snapshot(): PrinterSnapshot {
    const now = this.clock.now();
    const heater = (h: Heater): HeaterSnapshot => ({ readingC: h.readingC, trueC: h.trueC, targetC: h.targetC, pwm: h.pwm });
    return {
      state: this.state,
      linkDown: this.linkDown,
      killReason: this.killReason,
      hotend: heater(this.hotend),
      bed: heater(this.bed),
      position: { ...this.motion.position },
      lastLine: this.input.lastN,
      commandsQueued: this.queue.length + (this.running !== null ? 1 : 0),
      plannerMoves: this.motion.queued(now),
      busy: this.running !== null,
      feedPercent: this.motion.feedPercent,
      progress: this.settings.progress,
      message: this.settings.message,
      filamentMm: this.motion.filamentMm,
      rxOverflowBytes: this.input.overflowBytes,
    };
  }

  // ---- the main loop ------------------------------------------------------------------------

  private tick(): void {
    const now = this.clock.now();
    const dtS = (Math.min(1000, Math.max(0, now - this.lastTickMs)) / 1000) * this.heatFactor;
    this.lastTickMs = now;
    this.thermalNowS += dtS;
    const noise = this.opts.tempNoiseC ?? 0;
    for (const h of [this.hotend, this.bed]) h.step(dtS, noise > 0 ? this.rng.normal() * noise : 0);
    if (!this.alive()) return;
    for (const h of [this.hotend, this.bed]) {
      const error = h.check(this.thermalNowS);
      if (error === null) continue;
      // Marlin _temp_error: the message only while running, the kill regardless.
      if (this.state === "running") this.emit(`Error:${error}${S.stoppedHeater}${h.spec.errorId}`);
      this.kill(`${error} ${h.spec.errorId}`);
      return;
    }
    const s = this.settings;
    if (s.autoTempS > 0 && now >= s.nextAutoTempMs) {
      s.nextAutoTempMs = now + s.autoTempS * 1000;
      this.emit(this.temperatureReport());
    }
    if (this.running !== null && s.busyIntervalS > 0 && now >= this.nextBusyMs) {
      this.nextBusyMs = now + s.busyIntervalS * 1000;
      this.emit(S.busyProcessing);
    }
    this.pump();
  }

  private pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        this.pumpOnce();
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
    this.scheduleWake();
  }

  private pumpOnce(): void {
    while (this.alive()) {
      this.readSerial();
      if (this.running !== null) {
        if (!this.runningDone) this.runningDone = this.running.poll();
        if (!this.runningDone || this.faults.busyForever || !this.alive()) return;
        const r = this.running;
        this.running = null;
        // Marlin: one "ok" per line received, after the command's output.
        if (r.ok) this.emit("ok");
        continue;
      }
      const next = this.queue.shift();
      if (next === undefined) return;
      this.running = execute(this.machine, parseCommand(next));
      this.runningDone = false;
      this.nextBusyMs = this.clock.now() + this.settings.busyIntervalS * 1000;
    }
  }

  private scheduleWake(): void {
    this.wakeTimer?.cancel();
    this.wakeTimer = null;
    const at = this.running !== null && !this.runningDone ? this.running.wakeAt() : undefined;
    const now = this.clock.now();
    if (at !== undefined && at > now) this.wakeTimer = this.clock.setTimeout(() => this.pump(), at - now);
  }

  /** Moves complete lines from the RX buffer into the command queue while it has room. */
  private readSerial(): void {
    while (this.alive() && this.queue.length + (this.running !== null ? 1 : 0) < BUFSIZE) {
      const cmd = this.input.nextCommand();
      if (cmd === null) return;
      this.queue.push(cmd);
    }
  }

  private emergency(cmd: "M108" | "M112" | "M410"): void {
    if (cmd === "M112") {
      this.emit(S.emergencyKilled);
      this.kill("M112 Shutdown");
    } else if (cmd === "M108") {
      this.settings.waitForHeatup = false;
    } else {
      this.motion.quickStop(this.clock.now());
    }
  }

  // ---- states -------------------------------------------------------------------------------

  private boot(): void {
    this.bootTimer = null;
    this.state = "running";
    for (const line of bannerLines(this.opts.bootGarbage === true ? garbageLine(this.rng) : null)) this.emit(line);
  }

  private kill(reason: string): void {
    this.hotend.off();
    this.bed.off();
    this.motion.clear(this.clock.now());
    this.emit(S.errKilled);
    this.state = "killed";
    this.killReason = reason;
    this.queue = [];
    this.running = null;
    this.cancelTimers();
  }

  /** Marlin stop(): heaters off, `Error:Printer stopped…`; M999 restarts. */
  private stopMachine(): void {
    this.hotend.off();
    this.bed.off();
    this.emit(`Error:${S.errStopped}`);
    this.state = "stopped";
  }

  private alive(): boolean {
    return this.state === "running" || this.state === "stopped";
  }

  private listening(): boolean {
    return this.alive() && !this.linkDown;
  }

  private cancelTimers(): void {
    this.wakeTimer?.cancel();
    this.wakeTimer = null;
    this.bootTimer?.cancel();
    this.bootTimer = null;
  }

  // ---- output -------------------------------------------------------------------------------

  private emit(line: string): void {
    if (this.state === "off" || this.state === "killed" || this.linkDown) return;
    if (this.faults.garbageOutput > 0 && this.rng.chance(this.faults.garbageOutput)) this.write(garbageLine(this.rng));
    this.write(line);
  }

  private write(line: string): void {
    this.opts.output(Buffer.from(`${line}\n`, "latin1"));
  }

  private temperatureReport(): string {
    return `${this.hotend.report("T")}${this.bed.report("B")} @:${this.hotend.pwm} B@:${this.bed.pwm}`;
  }

  private applyHeaterFaults(): void {
    const f = this.faults;
    for (const h of [this.hotend, this.bed]) {
      const id: HeaterId = h.spec.id;
      const failure = f.heaterFailure.get(id);
      h.faults.heaterFailed = failure !== undefined;
      h.faults.unprotected = f.noThermalProtection || failure?.silent === true;
      h.faults.sensor = f.sensor.get(id) ?? "ok";
    }
  }

  private makeMachine(): Machine {
    return {
      now: () => this.clock.now(),
      thermalS: () => this.thermalNowS,
      emit: (line) => this.emit(line),
      hotend: this.hotend,
      bed: this.bed,
      motion: this.motion,
      settings: this.settings,
      temperatureReport: () => this.temperatureReport(),
      stopped: () => this.state === "stopped",
      restart: (requestResend) => {
        if (this.state === "stopped") this.state = "running";
        if (!requestResend) return;
        this.emit(`Resend: ${this.input.lastN + 1}`);
        this.emit("ok");
      },
      setLastLine: (n) => {
        this.input.lastN = n;
      },
      firmwareInfo: () => firmwareInfoLines(this.opts.machineType ?? "TEC Sim Printer", this.uuid, !this.faults.noThermalProtection),
    };
  }
}
