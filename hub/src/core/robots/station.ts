/**
 * A robot station: any `RobotDriver` behind the one demo state machine, a device in the registry
 * (kind `robot`: axes, mode, e-stop, protective stop, door, running) so its interlocks read it like
 * any other input, and a `Station` for instructors. Decisions here, I/O in the driver.
 */
import type { MetaMessage } from "../../../../firmware-bridge/contract/messages.ts";
import type { Clock, Timer } from "../clock.ts";
import { HubError } from "../errors.ts";
import type { Station, StationAction, StationView } from "../stations/stations.ts";
import type { TelemetryPipeline } from "../telemetry/pipeline.ts";
import type { Actor, DeviceId, Text } from "../types.ts";
import { demoState, type HubPermissives, type RobotDemoState, startRefusals } from "./demo-machine.ts";
import type { RobotDriver, RobotStatus } from "./driver.ts";

export interface RobotStationConfig {
  id: string;
  name: string;
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
  /** The hub's part of the permissives (visit presence, interlocks). */
  permissives: () => HubPermissives;
}

const TELE_MS = 500;

export class RobotStation implements Station {
  readonly kind = "robot" as const;
  private stopRequested = false;
  private lastEnd: "stopped" | "done" | null = null;
  private seq = 0;
  private described = false;
  /** Axes in the meta: a robot that cannot report where its joints are (a Firmata arm before it first moves) has none yet. */
  private describedAxes = 0;
  private timer: Timer | null = null;
  private lastProgram: string | null = null;

  constructor(
    private readonly config: RobotStationConfig,
    private readonly driver: RobotDriver,
    private readonly ports: RobotStationPorts,
  ) {
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
    await this.driver.close();
  }

  catalogue(): string[] {
    return [...this.config.catalogue];
  }

  demo(): { state: RobotDemoState; reason: Text } {
    return demoState(this.driver.status, this.ports.permissives(), this.stopRequested, this.lastEnd);
  }

  async start(program: string, _actor: Actor): Promise<void> {
    const refusals = startRefusals(this.driver.status, this.ports.permissives());
    if (refusals.length > 0) {
      throw HubError.because("INTERLOCK_TRIPPED", {
        nl: `${this.config.name} mag niet starten: ${refusals.map((r) => r.nl).join("; ")}`,
        en: `${this.config.name} may not start: ${refusals.map((r) => r.en).join("; ")}`,
      });
    }
    if (!this.driver.programs().includes(program)) {
      throw HubError.because("REQUEST_INVALID", { nl: `de robot kent het programma "${program}" niet`, en: `the robot does not offer the program "${program}"` });
    }
    this.stopRequested = false;
    this.lastEnd = null;
    this.lastProgram = program;
    await this.driver.run(program);
    this.ports.changed();
  }

  async act(action: StationAction, _reason: string, _actor: Actor): Promise<void> {
    if (action === "resume") throw new HubError("REQUEST_INVALID", `${this.config.name} cannot resume: start the program again`);
    if (this.driver.status.programState !== "running") return;
    this.stopRequested = true;
    this.ports.changed();
    // A robot does not pause mid-motion for a lesson: pause, stop and estop all stop it.
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
      simulated: this.config.simulated,
      state,
      stateReason: d.reason,
      program: s.programState === "running" ? (s.program ?? this.lastProgram) : null,
      progress: null,
      catalogue: this.catalogue(),
      details: { demoState: d.state, mode: s.mode, emergencyStop: s.emergencyStop, protectiveStop: s.protectiveStop, doorClosed: s.doorClosed, programState: s.programState, error: s.error, axesDeg: s.axesDeg, note: this.config.note ?? null },
    };
  }

  private onStatus(s: RobotStatus): void {
    const id = this.config.id;
    if (!s.connected) {
      this.described = false;
      this.ports.pipeline.ingestRaw(id, "status", "offline");
    } else if (!this.described || this.axesKnown(s) !== this.describedAxes) {
      if (!this.described) this.ports.pipeline.ingestRaw(id, "status", "online");
      this.describe();
    }
    if (s.programState !== "running") {
      if (this.stopRequested) this.lastEnd = "stopped";
      else if (s.programState === "done") this.lastEnd = "done";
      this.stopRequested = false;
    }
    this.publish();
    this.ports.changed();
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
    this.ports.pipeline.describe(this.config.id as DeviceId, { model: "robot", firmware: "-", boot: 1, simulated: this.config.simulated, channels, actuators: {} });
    this.described = true;
    this.describedAxes = axes;
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
