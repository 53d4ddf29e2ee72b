/**
 * What a printer station needs from the printer behind it, whatever the wire: Marlin G-code on a
 * cable (the hub streams every line) or a network printer that stores and runs the file itself
 * (Ultimaker, Bambu Lab, PrusaLink, Moonraker, OctoPrint). The station, its thermal watchdog, its
 * interlocks and its view are the same for all of them.
 */
import { readFileSync } from "node:fs";
import type { PrinterProtocol } from "../../config/schema.ts";
import type { Clock } from "../../core/clock.ts";
import type { HaltKind, TemperatureReport } from "./gcode.ts";
import { type JobProgress, type JobState, PrintJob, analyseGcode } from "./job.ts";
import type { DriverState, MarlinDriver } from "./marlin-driver.ts";

export type { DriverState } from "./marlin-driver.ts";

export { PRINTER_PROTOCOLS, type PrinterProtocol } from "../../config/schema.ts";

export interface BackendEvents {
  state(state: DriverState, reason: string): void;
  temperature(report: TemperatureReport): void;
  /** The printer has said what it is (firmware name, model): it may be started once operational. */
  firmware(): void;
  /** The printer halted itself (thermal runaway, heater fault, MINTEMP, an emergency stop …). */
  halt(kind: HaltKind, message: string): void;
  /** The printer restarted by itself: what it was doing is lost. */
  reset(): void;
  message(text: string, level: "info" | "error"): void;
  /** The printer's own door or enclosure contact changed (only printers that have one). */
  door(open: boolean): void;
}

/** A job as the station sees it: streamed by the hub (Marlin) or run by the printer (network). */
export interface PrinterJob {
  readonly name: string;
  readonly state: JobState;
  /** Runs the job to its end; never rejects (a failure ends the job as `failed` with a reason). */
  run(): Promise<JobProgress>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  cancel(reason: string): Promise<void>;
  /** The job ends without talking to the printer (it halted, the link went): says why. */
  abort(reason: string): void;
  progress(): JobProgress;
  whenEnded(fn: (p: JobProgress) => void): void;
}

export interface PrinterBackend {
  readonly protocol: PrinterProtocol;
  readonly state: DriverState;
  /** FIRMWARE_NAME, MACHINE_TYPE and whatever else the printer says about itself. */
  readonly firmware: Readonly<Record<string, string>>;
  /** `THERMAL_PROTECTION` and other firmware capabilities; undefined = not known (yet). */
  capability(name: string): boolean | undefined;
  /** Link counters for the technician (numbers only); `connects` always. */
  readonly stats: Readonly<{ connects: number } & Record<string, number | null>>;
  /** File name endings this printer takes from the catalogue (`.gcode`, `.3mf`, `.bgcode`, `.ufp`). */
  readonly catalogueExtensions: readonly string[];
  /** What the e-stop does on this printer, in one phrase for the technician ("M112: firmware halted", "cancel and cool"). */
  readonly estopEffect: string;
  on<K extends keyof BackendEvents>(event: K, fn: BackendEvents[K]): void;
  /** Connects and keeps connecting (with backoff) until `stop()`. */
  start(): void;
  stop(): Promise<void>;
  /** After a halt's trip is reset: reconnect (and restart the firmware where the API can); starts nothing. */
  reconnect(): Promise<void>;
  /** The strongest stop the printer's API offers. */
  emergencyStop(reason: string): Promise<void>;
  /** Both heaters off (the idle-heater timeout). */
  heatersOff(): Promise<void>;
  /**
   * Network printers run a job on their own: after the hub lost one mid-job, the printer may still
   * be printing when it comes back. This cancels that job (true if there was one). Absent for
   * Marlin, where the job stops with the hub's stream.
   */
  cancelOrphan?(): Promise<boolean>;
  /** A network printer that waits for a person before it takes a job (an Ultimaker's plate to clear); absent for Marlin. */
  attention?(): "clear-plate" | "at-printer" | null;
  /** A job for a catalogue file (absolute path); `run()` sends and starts it. */
  createJob(program: string, file: string, clock: Clock): PrinterJob;
}

/** The Marlin driver behind the same face: the hub streams the analysed G-code line by line. */
export class MarlinBackend implements PrinterBackend {
  readonly protocol = "marlin" as const;
  readonly catalogueExtensions = [".gcode"] as const;
  readonly estopEffect = "M112: the firmware halts at once, heaters and motors off";

  constructor(readonly driver: MarlinDriver) {}

  get state(): DriverState {
    return this.driver.state;
  }

  get firmware(): Readonly<Record<string, string>> {
    return this.driver.firmware;
  }

  get stats(): Readonly<{ connects: number } & Record<string, number | null>> {
    const s = this.driver.stats;
    return { ...s, resendRatio: s.linesSent > 0 ? s.resends / s.linesSent : 0 };
  }

  capability(name: string): boolean | undefined {
    return this.driver.capability(name);
  }

  on<K extends keyof BackendEvents>(event: K, fn: BackendEvents[K]): void {
    if (event === "door") return; // a Marlin printer's door is an MQTT contact, not the firmware's
    if (event === "firmware") this.driver.on("firmware", () => (fn as BackendEvents["firmware"])());
    else this.driver.on(event as Exclude<K, "door" | "firmware">, fn as never);
  }

  start(): void {
    this.driver.start();
  }

  stop(): Promise<void> {
    return this.driver.stop();
  }

  reconnect(): Promise<void> {
    return this.driver.reconnect();
  }

  emergencyStop(reason: string): Promise<void> {
    return this.driver.emergencyStop(reason);
  }

  async heatersOff(): Promise<void> {
    await Promise.all([this.driver.send("M104 S0"), this.driver.send("M140 S0")]);
  }

  createJob(program: string, file: string, clock: Clock): PrinterJob {
    return new PrintJob(program, analyseGcode(readFileSync(file, "utf8")), this.driver, clock);
  }
}
