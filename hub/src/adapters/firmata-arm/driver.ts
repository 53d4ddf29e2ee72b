/**
 * A servo robot arm on an Arduino running StandardFirmata (or an ESP32/ESP8266 running
 * StandardFirmataWiFi), as a `RobotDriver`: johnny-five over firmata-io over a serial port or a TCP
 * socket (five.ts). The board only sets pulse widths; every motion is the hub sending one small
 * step after another (motion.ts), so motion stops when the hub stops sending.
 *
 * - Connecting moves nothing. The servos are attached at the first `run` after each connection,
 *   each with its home angle written in the same burst as its attach, so the first pulse a servo
 *   gets is home (StandardFirmata cannot say where a horn is: the arm moves to home at the servos'
 *   own speed), then a settle wait, then the program.
 * - The board disappearing (the link closes, or three version queries go unanswered) stops a
 *   running program and reports it as error "board disconnected"; the driver reconnects with backoff.
 * - The door switch opening during a program stops it as an error; a start with the door open is
 *   refused. (The state machine checks the door too; this is the second check, in the one place
 *   that makes the arm move.)
 * - No e-stop and no protective stop: the hardware has neither. See README.md for what that means.
 */
import type { Clock, Timer } from "../../core/clock.ts";
import { HubError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { OPERATIONAL_MODE, type RobotDriver, type RobotStatus } from "../../core/robots/driver.ts";
import { type FirmataBoardSession, type ServoOutput, openFirmataBoard } from "./five.ts";
import { MotionPlan } from "./motion.ts";
import { type FirmataArmOptions, type ResolvedArmOptions, resolveArmOptions } from "./options.ts";

export const BOARD_DISCONNECTED = "board disconnected";
export const DOOR_OPENED = "door opened during the program";

export interface FirmataArmContext {
  clock: Clock;
  logger: Logger;
}

export interface FirmataArmStats {
  connects: number;
  disconnects: number;
  failedAttempts: number;
  /** From the start of the last successful attempt (opening the link) to Firmata "ready", in ms. */
  lastHandshakeMs: number | null;
  lastError: string | null;
  /** As the board reports it, e.g. "StandardFirmata.ino 2.5". */
  firmware: string | null;
}

interface Running {
  name: string;
  plan: MotionPlan;
  timer: Timer | null;
}

export class FirmataArmDriver implements RobotDriver {
  private readonly o: ResolvedArmOptions;
  private readonly log: Logger;
  private current: RobotStatus;
  private readonly listeners: Array<(s: RobotStatus) => void> = [];
  private session: FirmataBoardSession | null = null;
  /** Attached servos of this connection; null until the first run after connecting. */
  private outputs: ServoOutput[] | null = null;
  /** The pose last commanded on this connection; null while unknown. */
  private pose: number[] | null = null;
  private running: Running | null = null;
  private wanted = false;
  private generation = 0;
  private retry: Timer | null = null;
  private backoffMs: number;
  private liveness: Timer | null = null;
  private lastAnswerAt = 0;
  readonly stats: FirmataArmStats = { connects: 0, disconnects: 0, failedAttempts: 0, lastHandshakeMs: null, lastError: null, firmware: null };

  /** Checks the options (HubError CONFIG_INVALID naming every problem); no I/O. */
  constructor(
    options: FirmataArmOptions,
    private readonly ctx: FirmataArmContext,
  ) {
    this.o = resolveArmOptions(options);
    this.log = ctx.logger.child({ adapter: "firmata-arm" });
    this.backoffMs = this.o.reconnectMinMs;
    this.current = {
      connected: false,
      mode: OPERATIONAL_MODE.AUTOMATIC,
      emergencyStop: false,
      protectiveStop: false,
      doorClosed: this.o.doorPin === null,
      program: null,
      programState: "idle",
      error: null,
      axesDeg: [],
      at: ctx.clock.now(),
    };
  }

  get status(): RobotStatus {
    return this.current;
  }

  /** The firmware as the board last named itself ("StandardFirmata.ino 2.5"); null before the first handshake. */
  firmware(): string | null {
    return this.stats.firmware;
  }

  onStatus(fn: (status: RobotStatus) => void): void {
    this.listeners.push(fn);
  }

  connectError(): string | null {
    return this.current.connected ? null : this.stats.lastError;
  }

  programs(): string[] {
    return Object.keys(this.o.programs);
  }

  /** Starts connecting (and reconnecting after every loss) until `close()`. */
  connect(): void {
    if (this.wanted) return;
    this.wanted = true;
    void this.attempt();
  }

  async close(): Promise<void> {
    this.wanted = false;
    this.generation++;
    this.retry?.cancel();
    this.retry = null;
    this.stopLiveness();
    if (this.running !== null) this.endProgram("stopped");
    const session = this.session;
    this.session = null;
    this.outputs = null;
    this.pose = null;
    await session?.close();
    if (this.current.connected) this.update({ connected: false, doorClosed: this.o.doorPin === null, axesDeg: [] });
  }

  /** Resolves once the program has started (the arm homes first after each connection); rejects with HubError. */
  run(program: string): Promise<void> {
    return new Promise<void>((resolve) => {
      this.start(program);
      resolve();
    });
  }

  /** Ends the program where it is: no further steps are sent, the servos hold the last one. */
  stop(): Promise<void> {
    if (this.running !== null) {
      this.log.info({ program: this.running.name }, "firmata arm: program stopped");
      this.endProgram("stopped");
    }
    return Promise.resolve();
  }

  /** The same at once: motion exists only as our steps, so not sending the next one is the stop. */
  halt(): Promise<void> {
    if (this.running !== null) {
      this.log.warn({ program: this.running.name }, "firmata arm: halted");
      this.endProgram("stopped");
    }
    return Promise.resolve();
  }

  resetFault(): Promise<void> {
    if (this.current.programState === "error") this.update({ programState: "idle", error: null });
    return Promise.resolve();
  }

  private start(program: string): void {
    const waypoints = Object.hasOwn(this.o.programs, program) ? this.o.programs[program] : undefined;
    if (waypoints === undefined) throw new HubError("NOT_FOUND", `the arm has no program "${program}" (it has ${this.programs().join(", ")})`);
    const session = this.session;
    if (session === null) throw new HubError("DEVICE_OFFLINE", "the arm's board is not connected");
    if (this.running !== null) throw new HubError("DEVICE_REFUSED", `program "${this.running.name}" is still running`);
    if (this.current.programState === "error") throw new HubError("DEVICE_REFUSED", `reset the fault first (${this.current.error ?? "error"})`);
    if (!this.current.doorClosed) throw new HubError("DEVICE_REFUSED", "the cell's door is open");

    let settleMs = 0;
    let start = this.pose;
    if (this.outputs === null || start === null) {
      // Each servo is attached with home as its first pulse; the board cannot tell where the
      // horns are, so that is a move to home at the servos' own speed, and then we wait for it.
      const home = this.o.servos.map((s) => s.homeDeg);
      const outputs: ServoOutput[] = [];
      session.burst(() => this.o.servos.forEach((s) => outputs.push(session.attachServo(s.pin, [s.minDeg, s.maxDeg], s.homeDeg))));
      this.outputs = outputs;
      start = home;
      this.pose = home;
      settleMs = this.o.homingSettleMs;
    }
    const running: Running = { name: program, plan: new MotionPlan(start, waypoints, this.o.servos, this.o.maxSpeedDegS, this.o.stepMs), timer: null };
    this.running = running;
    const stepping = (): void => {
      if (this.running === running) running.timer = this.ctx.clock.setInterval(() => this.tick(running), this.o.stepMs);
    };
    if (settleMs > 0) running.timer = this.ctx.clock.setTimeout(stepping, settleMs);
    else stepping();
    this.log.info({ program }, "firmata arm: program started");
    this.update({ program, programState: "running", error: null, axesDeg: [...start] });
  }

  private tick(running: Running): void {
    const outputs = this.outputs;
    const session = this.session;
    if (this.running !== running || outputs === null || session === null) return;
    const step = running.plan.next();
    if (step === null) return this.endProgram("done");
    // One burst per step: the board takes every joint's new pulse in the same pass of its loop.
    session.burst(() => step.poseDeg.forEach((deg, i) => outputs[i]?.to(deg)));
    this.pose = step.poseDeg;
    if (running.plan.done) {
      this.log.info({ program: running.name }, "firmata arm: program done");
      return this.endProgram("done");
    }
    this.update({ axesDeg: [...step.poseDeg] });
  }

  private endProgram(state: "stopped" | "done" | "error", error: string | null = null, patch: Partial<RobotStatus> = {}): void {
    this.cancelMotion();
    this.update({ programState: state, error, axesDeg: this.pose !== null ? [...this.pose] : [], ...patch });
  }

  private cancelMotion(): boolean {
    const running = this.running;
    if (running === null) return false;
    running.timer?.cancel();
    this.running = null;
    return true;
  }

  private async attempt(): Promise<void> {
    this.retry = null;
    const generation = ++this.generation;
    // A measurement of real I/O, not a timer: wall time whatever clock the hub was given.
    const startedAt = performance.now();
    try {
      // A USB id is looked up again on every attempt: a replugged Uno may come back as another ttyACM.
      const session = await openFirmataBoard({
        link: this.o.link,
        clock: this.ctx.clock,
        handshakeTimeoutMs: this.o.handshakeTimeoutMs,
        reportVersionTimeoutMs: this.o.reportVersionTimeoutMs,
        eagerHandshake: this.o.eagerHandshake,
      });
      if (generation !== this.generation || !this.wanted) {
        await session.close();
        return;
      }
      const missing = this.missingModes(session);
      if (missing.length > 0) {
        await session.close();
        throw new HubError("DEVICE_REFUSED", `${session.firmware} cannot drive this arm: ${missing.join("; ")}`);
      }
      this.adopt(session, Math.round(performance.now() - startedAt));
    } catch (error) {
      if (generation !== this.generation || !this.wanted) return;
      const message = error instanceof Error ? error.message : String(error);
      this.stats.failedAttempts++;
      if (message !== this.stats.lastError) this.log.warn({ err: message }, "firmata arm: cannot connect");
      this.stats.lastError = message;
      this.scheduleRetry();
    }
  }

  private missingModes(session: FirmataBoardSession): string[] {
    const missing = this.o.servos.filter((s) => !session.supportsMode(s.pin, "SERVO")).map((s) => `pin ${s.pin} has no servo mode`);
    const door = this.o.doorPin;
    if (door !== null && !session.supportsMode(door, "INPUT")) missing.push(`pin ${door} has no digital input mode`);
    return missing;
  }

  private adopt(session: FirmataBoardSession, handshakeMs: number): void {
    this.session = session;
    this.outputs = null;
    this.pose = null;
    this.stats.connects++;
    this.stats.lastHandshakeMs = handshakeMs;
    this.stats.firmware = session.firmware;
    this.backoffMs = this.o.reconnectMinMs;
    session.onLost((reason) => this.lost(session, reason));
    const door = this.o.doorPin;
    // StandardFirmata reports the port as soon as reporting is on; until then the door counts as open.
    if (door !== null) session.watchDigital(door, (value) => this.door(session, value === 1));
    this.startLiveness(session);
    this.log.info({ firmware: session.firmware, handshakeMs }, "firmata arm: connected");
    this.update({ connected: true, axesDeg: [] });
  }

  private door(session: FirmataBoardSession, closed: boolean): void {
    if (this.session !== session || closed === this.current.doorClosed) return;
    if (!closed && this.running !== null) {
      this.log.warn({ program: this.running.name }, "firmata arm: door opened, program stopped");
      return this.endProgram("error", DOOR_OPENED, { doorClosed: false });
    }
    this.update({ doorClosed: closed });
  }

  private lost(session: FirmataBoardSession, reason: string): void {
    if (this.session !== session) return;
    this.session = null;
    this.outputs = null;
    this.pose = null;
    this.stopLiveness();
    this.stats.disconnects++;
    this.stats.lastError = reason;
    this.log.warn({ reason }, "firmata arm: board disconnected");
    const wasRunning = this.cancelMotion();
    void session.close();
    this.update({ connected: false, doorClosed: this.o.doorPin === null, axesDeg: [], ...(wasRunning ? { programState: "error" as const, error: BOARD_DISCONNECTED } : {}) });
    this.scheduleRetry();
  }

  /** StandardFirmata never speaks unasked: a REPORT_VERSION round trip shows the board is still there. */
  private startLiveness(session: FirmataBoardSession): void {
    const everyMs = this.o.livenessIntervalMs;
    if (everyMs <= 0) return;
    this.lastAnswerAt = this.ctx.clock.now();
    this.liveness = this.ctx.clock.setInterval(() => {
      if (this.session !== session) return;
      const silentMs = this.ctx.clock.now() - this.lastAnswerAt;
      if (silentMs > 3 * everyMs) return this.lost(session, `no answer to REPORT_VERSION for ${silentMs} ms`);
      session.ping(() => {
        if (this.session === session) this.lastAnswerAt = this.ctx.clock.now();
      });
    }, everyMs);
  }

  private stopLiveness(): void {
    this.liveness?.cancel();
    this.liveness = null;
  }

  private scheduleRetry(): void {
    if (!this.wanted || this.retry !== null) return;
    const waitMs = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.o.reconnectMaxMs);
    this.retry = this.ctx.clock.setTimeout(() => void this.attempt(), waitMs);
  }

  private update(patch: Partial<RobotStatus>): void {
    this.current = { ...this.current, ...patch, at: this.ctx.clock.now() };
    for (const fn of this.listeners) {
      try {
        fn(this.current);
      } catch (error) {
        this.log.error({ err: error instanceof Error ? error.message : String(error) }, "firmata arm: status listener failed");
      }
    }
  }
}
