/**
 * A robot station: any `RobotDriver` behind the one demo state machine, a device in the registry
 * (kind `robot`: axes, mode, e-stop, protective stop, door, running) so its interlocks read it like
 * any other input, and a `Station` for instructors. Decisions here, I/O in the driver.
 *
 * Faults latch here and in the interlocks: a program that ends on an open door trips the door
 * interlock (also when the robot reports the door and the end of the program in one update); a
 * program error or a protective stop during a program trips `<id>-fault`; the robot's e-stop and a
 * lost connection trip the rules that read those channels. The fault clears only when the station
 * is told to (`clearFault`, after those trips are reset), which resets the robot's own fault state
 * and starts nothing.
 */
import type { MetaMessage } from "../../../../firmware-bridge/contract/messages.ts";
import type { Clock, Timer } from "../clock.ts";
import { HubError } from "../errors.ts";
import type { Station, StationAction, StationView } from "../stations/stations.ts";
import type { TelemetryPipeline } from "../telemetry/pipeline.ts";
import { bilingualName, sentences, text, withDetail } from "../texts/texts.ts";
import type { Actor, DeviceId, Text } from "../types.ts";
import { NO_INSTRUCTOR, demoState, type HubPermissives, type RobotDemoState, robotRefusals } from "./demo-machine.ts";
import type { RobotDriver, RobotStatus } from "./driver.ts";
import { robotDoorRuleId, robotEstopRuleId, robotFaultRuleId, robotRuleIds } from "./rules.ts";

export interface RobotStationConfig {
  id: string;
  name: string;
  /** Its name in both languages; without it, `name` in both. */
  label?: Text;
  simulated: boolean;
  /** The hub's approved programs: a start of anything else is refused, whatever the robot offers. */
  catalogue: string[];
  axes: number;
  /** Extra words for the view (e.g. "servo arm on StandardFirmata: no heartbeat"). */
  note?: Text;
}

export interface RobotStationPorts {
  clock: Clock;
  pipeline: TelemetryPipeline;
  changed: () => void;
  /** The hub's part of the permissives (visit presence, interlocks), for the demo state shown. */
  permissives: () => HubPermissives;
  /** Trips one of this station's latched interlocks with what happened. */
  trip: (ruleId: string, detail: Text) => void;
  /** The robot ran while the hub forbade it and was halted (for the log and the audit). */
  onEnforced?: (why: Text) => void;
}

/** A fault the station holds until its trips are reset. */
interface Fault {
  /** For staff, in plain words. */
  reason: Text;
  /** For the trip's cause (technicians): the same with the robot's own error text, if it gave one. */
  detail: Text;
  ruleId: string;
}

const TELE_MS = 500;
/** How long a robot's reports of one event (door, protective stop, end of program) may take to arrive. */
const FAULT_SETTLE_MS = 200;

export class RobotStation implements Station {
  readonly kind = "robot" as const;
  readonly label: Text;
  private stopRequested = false;
  private lastEnd: "stopped" | "done" | null = null;
  private seq = 0;
  private described = false;
  /** Axes in the meta: a robot that cannot report where its joints are (a Firmata arm before it first moves) has none yet. */
  private describedAxes = 0;
  /** The firmware in the meta: described again once the robot names it (a Firmata arm does after its handshake). */
  private describedFirmware = "";
  private timer: Timer | null = null;
  private lastProgram: string | null = null;
  private fault: Fault | null = null;
  private previous: RobotStatus | null = null;
  /** A fault has begun; it is classified once the robot's reports have settled. */
  private settling: Timer | null = null;
  /** A halt sent because the robot runs while the hub forbids it (see `enforce`); one at a time. */
  private enforcing = false;

  constructor(
    private readonly config: RobotStationConfig,
    private readonly driver: RobotDriver,
    private readonly ports: RobotStationPorts,
  ) {
    this.label = config.label ?? bilingualName(config.name);
    driver.onStatus((s) => this.onStatus(s));
  }

  get id(): string {
    return this.config.id;
  }

  connect(): void {
    this.driver.connect();
    this.timer = this.ports.clock.setInterval(() => this.publish(), TELE_MS);
  }

  async stop(): Promise<void> {
    this.timer?.cancel();
    this.timer = null;
    this.settling?.cancel();
    this.settling = null;
    await this.driver.close();
  }

  catalogue(): string[] {
    return [...this.config.catalogue];
  }

  demo(): { state: RobotDemoState; reason: Text } {
    if (this.fault !== null) return { state: "faulted", reason: this.faultReason(this.fault) };
    return demoState(this.driver.status, this.ports.permissives(), this.stopRequested, this.lastEnd, this.label);
  }

  refusals(): Text[] {
    const r = robotRefusals(this.driver.status, this.label);
    if (this.fault !== null) r.unshift(this.faultReason(this.fault));
    // A robot moves only with an instructor at the station: a visit open to it.
    if (!this.ports.permissives().instructorPresent) r.push(NO_INSTRUCTOR);
    return r;
  }

  faultRules(): string[] {
    return robotRuleIds(this.config.id);
  }

  /** After the station's trips are reset: the robot's own fault state is reset too; nothing starts. */
  async clearFault(): Promise<void> {
    const s = this.driver.status;
    this.fault = null;
    this.lastEnd = null;
    if (s.connected && (s.programState === "error" || s.protectiveStop || s.emergencyStop)) await this.driver.resetFault();
    this.ports.changed();
  }

  async start(program: string, _actor: Actor): Promise<void> {
    const refusals = this.refusals();
    if (refusals.length > 0) {
      throw HubError.because("INTERLOCK_TRIPPED", text("station.mayNotStart", { station: this.label, reasons: sentences(refusals) }));
    }
    if (!this.driver.programs().includes(program)) {
      throw HubError.because("REQUEST_INVALID", text("robot.unknownProgram", { robot: this.label, program }));
    }
    this.stopRequested = false;
    this.lastEnd = null;
    this.lastProgram = program;
    await this.driver.run(program);
    this.ports.changed();
  }

  async act(action: StationAction, _reason: string, _actor: Actor): Promise<void> {
    if (action === "resume") throw new HubError("REQUEST_INVALID", `${this.config.name} cannot resume: start the program again`);
    const s = this.driver.status;
    if (!s.connected) return;
    if (s.programState === "running") {
      this.stopRequested = true;
      this.ports.changed();
    }
    // Sent also when the hub's view says nothing runs: that view can lag the robot (an OPC UA cell's
    // notifications arrive one by one; a late one can say "stopped" after a new start), and a stop
    // to a robot at rest costs nothing. A robot does not pause mid-motion for a lesson: pause, stop
    // and estop all stop it.
    if (action === "estop") await this.driver.halt();
    else await this.driver.stop();
  }

  view(): Omit<StationView, "startable"> {
    const s = this.driver.status;
    const d = this.demo();
    const state: StationView["state"] = !s.connected ? "offline" : d.state === "faulted" ? "faulted" : d.state === "running" ? "running" : d.state === "stopping" ? "stopping" : "idle";
    return {
      id: this.config.id,
      kind: "robot",
      name: this.config.name,
      label: this.label,
      simulated: this.config.simulated,
      state,
      stateReason: d.reason,
      program: s.programState === "running" ? (s.program ?? this.lastProgram) : null,
      progress: null,
      catalogue: this.catalogue(),
      details: { demoState: d.state, connectError: s.connected ? null : (this.driver.connectError?.() ?? null), firmware: this.driver.firmware?.() ?? null, mode: s.mode, emergencyStop: s.emergencyStop, protectiveStop: s.protectiveStop, doorClosed: s.doorClosed, programState: s.programState, error: s.error, axesDeg: s.axesDeg, note: this.config.note ?? null },
    };
  }

  private faultReason(f: Fault): Text {
    return text("station.waitingForReset", { reason: f.reason });
  }

  /** Whether this status may begin a fault: what to classify once the robot's reports have settled. */
  private faultBegins(prev: RobotStatus | null, s: RobotStatus): boolean {
    const wasRunning = prev?.programState === "running";
    if (s.programState === "error" && prev?.programState !== "error") return true;
    // A protective stop while nothing moves is the cell's own latch (reset at the cell), not a
    // fault of the demo; during a program it is one (the rule latches it, whatever the timing).
    if (s.protectiveStop && prev?.protectiveStop !== true && wasRunning) return true;
    if (s.emergencyStop && prev?.emergencyStop !== true) return true;
    // A program that ended neither done nor asked to stop: its cause (the door, a protective stop)
    // may be reported after the end (an OPC UA cell's notifications arrive one by one, in any
    // order on a busy machine), so classify once the reports have settled.
    if (wasRunning && (s.programState === "stopped" || s.programState === "idle") && !this.stopRequested) return true;
    return wasRunning && (!s.connected || !s.doorClosed);
  }

  /**
   * What the fault is, from the robot's status once its reports have settled (an OPC UA cell
   * reports the door, the protective stop and the end of the program as separate notifications),
   * in the order of their causes: the connection, the e-stop, the door, then the robot's own error.
   */
  private classify(s: RobotStatus, wasRunning: boolean): Fault | null {
    const id = this.config.id;
    const robot = this.label;
    // The robot's own words (often English, with its internals) are for the technician only.
    const fault = (ruleId: string, reason: Text): Fault => ({ ruleId, reason, detail: s.error === null ? reason : withDetail(reason, s.error) });
    if (!s.connected) return wasRunning ? fault(robotEstopRuleId(id), text("robot.fault.connectionLost", { robot })) : null;
    if (s.emergencyStop) return fault(robotEstopRuleId(id), text("robot.fault.estop", { robot }));
    if (!s.doorClosed && (wasRunning || s.protectiveStop || s.programState === "error")) return fault(robotDoorRuleId(id), text("robot.fault.door"));
    if (s.protectiveStop) return fault(robotFaultRuleId(id), text("robot.fault.protectiveStop"));
    if (s.programState === "error") return fault(robotFaultRuleId(id), text("robot.fault.programError"));
    return null;
  }

  private settled(wasRunning: boolean): void {
    this.settling = null;
    if (this.fault !== null) return;
    const fault = this.classify(this.driver.status, wasRunning);
    if (fault === null) return;
    this.fault = fault;
    // The rule latches with what happened; its reset (once the cause has gone) clears this fault.
    this.ports.trip(fault.ruleId, fault.detail);
    this.ports.changed();
  }

  private onStatus(s: RobotStatus): void {
    const id = this.config.id;
    const prev = this.previous;
    this.previous = s;
    if (this.fault === null && this.settling === null && this.faultBegins(prev, s)) {
      const wasRunning = prev?.programState === "running";
      this.settling = this.ports.clock.setTimeout(() => this.settled(wasRunning), FAULT_SETTLE_MS);
    }
    if (!s.connected) {
      this.described = false;
      this.ports.pipeline.ingestRaw(id, "status", "offline");
    } else if (!this.described || this.axesKnown(s) !== this.describedAxes || this.firmwareName() !== this.describedFirmware) {
      if (!this.described) this.ports.pipeline.ingestRaw(id, "status", "online");
      this.describe();
    }
    if (s.programState !== "running") {
      if (this.stopRequested) this.lastEnd = "stopped";
      else if (s.programState === "done") this.lastEnd = "done";
      this.stopRequested = false;
    }
    this.enforce(prev, s);
    this.publish();
    this.ports.changed();
  }

  /**
   * A robot that reports a running program while its fault is held, or that is found running when
   * its connection comes back while an interlock forbids a start, is halted. It happens when the hub
   * lost the robot mid-program (the trip's stop could not reach it) and the robot, without a
   * watchdog of its own, ran on: once the connection is back, the latched trip holds. (A trip while
   * connected stops the robot through the trip's own action.) Sent again on later reports while the
   * robot still runs with its fault held.
   */
  private enforce(prev: RobotStatus | null, s: RobotStatus): void {
    if (this.enforcing || !s.connected || s.programState !== "running") return;
    const back = prev === null || !prev.connected;
    const why = this.fault?.reason ?? (back ? this.ports.permissives().interlock : null);
    if (why === null) return;
    this.enforcing = true;
    this.ports.onEnforced?.(why);
    this.driver
      .halt()
      .catch(() => undefined)
      .finally(() => {
        this.enforcing = false;
      });
  }

  private describe(): void {
    const ch = (unit: string, min: number, max: number, label: string) => ({ unit, min, max, periodMs: TELE_MS * 2, label });
    const channels: MetaMessage["channels"] = {
      mode: ch("", 0, 4, "Bedrijfsstand (3 = automatisch)"),
      emergencyStop: ch("", 0, 1, "Noodstop robot"),
      protectiveStop: ch("", 0, 1, "Beschermende stop"),
      doorClosed: ch("", 0, 1, "Deur dicht"),
      running: ch("", 0, 1, "Programma draait"),
    };
    const axes = this.axesKnown(this.driver.status);
    for (let i = 1; i <= axes; i++) channels[`axis${i}Deg`] = ch("°", -720, 720, `As ${i}`);
    const firmware = this.firmwareName();
    this.ports.pipeline.describe(this.config.id as DeviceId, { model: "robot", firmware, boot: 1, simulated: this.config.simulated, channels, actuators: {} });
    this.describedFirmware = firmware;
    this.described = true;
    this.describedAxes = axes;
  }

  /** The firmware as the robot names it, for the registry (the same as the station's details say); "-" until known. */
  private firmwareName(): string {
    return (this.driver.firmware?.() ?? "-").slice(0, 32);
  }

  private axesKnown(s: RobotStatus): number {
    return Math.min(this.config.axes, s.axesDeg.filter((d) => Number.isFinite(d)).length);
  }

  private publish(): void {
    const s = this.driver.status;
    if (!s.connected || !this.described) return;
    const readings: Record<string, number> = {
      mode: s.mode,
      emergencyStop: s.emergencyStop ? 1 : 0,
      protectiveStop: s.protectiveStop ? 1 : 0,
      doorClosed: s.doorClosed ? 1 : 0,
      running: s.programState === "running" ? 1 : 0,
    };
    s.axesDeg.slice(0, this.describedAxes).forEach((deg, i) => {
      if (Number.isFinite(deg)) readings[`axis${i + 1}Deg`] = deg;
    });
    this.ports.pipeline.ingest(this.config.id as DeviceId, "tele", { ts: this.ports.clock.now(), seq: this.seq++, readings });
  }
}
