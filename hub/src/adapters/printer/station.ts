/**
 * A 3D-printer station: a printer behind a backend (Marlin on a byte link, or a network printer's
 * own API), its jobs from an approved catalogue, and
 * its place in the one device registry (kind `printer`: temperatures, progress and link health
 * flow through the telemetry pipeline like any device's). The hub-side thermal watchdog and the
 * idle-heater timeout live here; what they decide goes to the interlocks through `faults`.
 */
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import type { MetaMessage } from "../../../../firmware-bridge/contract/messages.ts";
import type { Clock, Timer } from "../../core/clock.ts";
import { HubError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import { BED_LIMITS, HOTEND_LIMITS, HeaterWatch, type ThermalVerdict } from "../../core/printers/thermal-watchdog.ts";
import { PRINTER_CHANNEL_LABELS } from "../../core/printers/channels.ts";
import type { Station, StationAction, StationView } from "../../core/stations/stations.ts";
import type { TelemetryPipeline } from "../../core/telemetry/pipeline.ts";
import { bilingualName, sentences, text, withDetail } from "../../core/texts/texts.ts";
import type { Actor, DeviceId, Text } from "../../core/types.ts";
import type { PrinterBackend, PrinterJob } from "./backend.ts";
import type { HaltKind, TemperatureReport } from "./gcode.ts";
import type { JobProgress } from "./job.ts";

export interface PrinterConfig {
  id: string;
  name: string;
  /** Its name in both languages; without it, `name` in both. */
  label?: Text;
  simulated: boolean;
  /** Folder of approved demo models (the file types the backend takes). */
  catalogueDir: string;
  /** Heaters on with no job for this long are switched off (OctoPrint's HeaterTimeout plugin idea). */
  idleHeaterTimeoutS: number;
}

export interface PrinterPorts {
  clock: Clock;
  logger: Logger;
  pipeline: TelemetryPipeline;
  /** The station changed (state, progress, temperatures): screens should know. */
  changed: () => void;
  /** A latched printer trip: the firmware halted, the hub's thermal watchdog fired, or the printer went away mid-print. */
  fault: (kind: "firmware" | "thermal" | "lost", detail: Text) => void;
  /** The latched interlocks behind this printer's faults. */
  faultRules: string[];
  /** Something worth recording that no person asked for (heaters switched off when idle). */
  note: (action: string, reason: string) => void;
  /** A finished, cancelled or failed job, for the job history. */
  jobEnded: (job: JobProgress & { printer: string; actor: string }) => void;
}

const HALT_TEXT: Record<HaltKind, Text> = {
  "thermal-runaway": text("printer.halt.thermalRunaway"),
  "heating-failed": text("printer.halt.heatingFailed"),
  mintemp: text("printer.halt.mintemp"),
  maxtemp: text("printer.halt.maxtemp"),
  killed: text("printer.halt.killed"),
  fatal: text("printer.halt.fatal"),
};

export class PrinterStation implements Station {
  readonly kind = "printer" as const;
  readonly label: Text;
  private job: PrinterJob | null = null;
  /** How the last job ended, in plain words, when the station ended it (the e-stop, a halt); else from the job's state. */
  private jobEnd: Text | null = null;
  private jobActor = "";
  private temps: TemperatureReport | null = null;
  private seq = 0;
  private idleSince: number | null = null;
  private readonly hotend = new HeaterWatch("hotend", HOTEND_LIMITS);
  private readonly bed = new HeaterWatch("bed", BED_LIMITS);
  private timer: Timer | null = null;
  private lastFault: Text | null = null;
  /** A fault that holds until its trip is reset (the printer went away during a print). */
  private fault: Text | null = null;
  /** M115 has answered since the last (re)connect: what the firmware can do is known. */
  private identified = false;
  /** The firmware name in the registry's meta; described again if the driver learns another (the device list and the station say the same). */
  private describedFirmware: string | null = null;
  private lastMessage: string | null = null;
  /** The printer's own door contact, once it has reported one (network printers that have it). */
  private door: boolean | null = null;

  constructor(
    private readonly config: PrinterConfig,
    private readonly driver: PrinterBackend,
    private readonly ports: PrinterPorts,
  ) {
    this.label = config.label ?? bilingualName(config.name);
    driver.on("state", (state, reason) => this.onDriverState(state, reason));
    driver.on("temperature", (report) => this.onTemperature(report));
    driver.on("firmware", () => {
      this.identified = true;
      this.describe();
    });
    driver.on("halt", (kind, message) => this.onHalt(kind, message));
    driver.on("reset", () => this.job?.abort("the printer restarted by itself (External reset?): the job is lost"));
    driver.on("message", (text, level) => {
      if (level === "error") this.lastMessage = text;
    });
    driver.on("door", (open) => this.onDoor(open));
  }

  get id(): string {
    return this.config.id;
  }

  /** Opens the link and keeps it open; the station starts nothing by itself. */
  connect(): void {
    this.driver.start();
    this.timer = this.ports.clock.setInterval(() => this.tick(), 1000);
  }

  async stop(): Promise<void> {
    this.timer?.cancel();
    this.timer = null;
    this.job?.abort("hub stopping");
    await this.driver.stop();
  }

  /** The approved models this printer can take (a name once, whichever of its file types the folder has). */
  catalogue(): string[] {
    try {
      const names = new Set<string>();
      for (const f of readdirSync(this.config.catalogueDir)) {
        const ext = this.driver.catalogueExtensions.find((e) => f.endsWith(e));
        if (ext !== undefined) names.add(f.slice(0, -ext.length));
      }
      return [...names].sort();
    } catch {
      return [];
    }
  }

  /** The catalogue file for a model: the first of the backend's file types the folder holds. */
  private catalogueFile(program: string): string {
    for (const ext of this.driver.catalogueExtensions) {
      const file = path.join(this.config.catalogueDir, `${program}${ext}`);
      if (existsSync(file)) return file;
    }
    throw new HubError("NOT_FOUND", `${this.config.name} has no model "${program}" in its catalogue (${this.driver.catalogueExtensions.join(", ")})`);
  }

  /** One plain sentence each; the driver's state and the firmware's own words are in `details`. */
  refusals(): Text[] {
    const r: Text[] = [];
    const printer = this.label;
    if (this.fault !== null) r.push(text("station.waitingForReset", { reason: this.fault }));
    else if (this.driver.state === "halted") r.push(text("station.waitingForReset", { reason: this.lastFault ?? text("printer.halted", { printer }) }));
    if (this.driver.state !== "halted" && (this.driver.state !== "operational" || !this.identified)) r.push(text("printer.notReady", { printer }));
    if (this.job !== null && !["done", "cancelled", "failed"].includes(this.job.state)) r.push(text("printer.busy", { printer, job: this.job.name }));
    else {
      const attention = this.driver.attention?.() ?? null;
      if (attention !== null) r.push(text(attention === "clear-plate" ? "printer.attention.clearPlate" : "printer.attention.atPrinter", { printer }));
    }
    // OctoPrint-FirmwareCheck: firmware without thermal protection is a fire risk; do not heat it.
    const thermal = this.driver.capability("THERMAL_PROTECTION");
    if (thermal === false || (this.identified && thermal !== true)) r.push(text("printer.noThermalProtection", { printer }));
    return r;
  }

  faultRules(): string[] {
    return [...this.ports.faultRules];
  }

  /** After its trips are reset: a halted printer is reconnected (its firmware restarts); nothing starts. */
  async clearFault(): Promise<void> {
    await this.recover();
  }

  start(program: string, actor: Actor): Promise<void> {
    const refusals = this.refusals();
    if (refusals.length > 0) {
      throw HubError.because("DEVICE_REFUSED", text("station.mayNotStart", { station: this.label, reasons: sentences(refusals) }));
    }
    const job = this.driver.createJob(program, this.catalogueFile(program), this.ports.clock);
    this.job = job;
    this.jobEnd = null;
    this.jobActor = actor.name;
    this.idleSince = null;
    job.whenEnded((p) => {
      this.ports.jobEnded({ ...p, printer: this.config.id, actor: this.jobActor });
      this.ports.changed();
    });
    void job.run();
    return Promise.resolve();
  }

  async act(action: StationAction, reason: string, _actor: Actor): Promise<void> {
    switch (action) {
      case "estop":
        if (this.running()) this.jobEnd = text("printer.job.estop");
        this.job?.abort(`emergency stop: ${reason}`);
        if (this.driver.state === "operational" || this.driver.state === "connecting") {
          // The reason it halts, unless its own firmware or the thermal watchdog gave one first (their rules stop it this way too).
          this.lastFault ??= text("printer.stoppedByEstop", { printer: this.label });
          await this.driver.emergencyStop(reason);
        }
        return;
      case "pause":
        // Pausing nothing is fine (a door opened while idle).
        if (this.job?.state === "running") await this.job.pause();
        return;
      case "resume":
        if (this.job?.state !== "paused") throw new HubError("REQUEST_INVALID", `${this.config.name} has no paused job`);
        await this.job.resume();
        return;
      case "stop":
        if (this.job !== null && ["running", "paused", "pausing", "resuming"].includes(this.job.state)) await this.job.cancel(reason);
        return;
    }
  }

  /** After a latched trip is reset: reconnect, which resets the firmware; it starts nothing. */
  async recover(): Promise<void> {
    this.lastFault = null;
    this.fault = null;
    this.hotend.reset();
    this.bed.reset();
    if (this.driver.state === "halted") await this.driver.reconnect();
  }

  view(): Omit<StationView, "startable"> {
    const p = this.job?.progress() ?? null;
    const running = p !== null && ["running", "pausing", "resuming"].includes(p.state);
    const paused = p?.state === "paused";
    const d = this.driver.state;
    const halted = d === "halted";
    // A halted printer heats nothing: its last targets are not shown as if they still held.
    const heater = (h: TemperatureReport["hotend"] | undefined) => (h === null || h === undefined ? null : halted ? { ...h, target: null } : h);
    const state: StationView["state"] =
      d === "disconnected" ? "offline" : d === "connecting" || (d === "operational" && !this.identified) ? "connecting" : d === "halted" || this.fault !== null ? "faulted" : running ? "running" : paused ? "paused" : p?.state === "cancelling" ? "stopping" : "idle";
    return {
      id: this.config.id,
      kind: "printer",
      name: this.config.name,
      label: this.label,
      simulated: this.config.simulated,
      state,
      stateReason: this.reason(state, p),
      program: p !== null && !["done", "cancelled", "failed"].includes(p.state) ? p.name : null,
      progress: p === null ? null : { pct: p.progressPct, elapsedS: p.elapsedS, timeLeftS: p.timeLeftS, layer: p.layer, layers: p.layers },
      catalogue: this.catalogue(),
      details: {
        hotend: heater(this.temps?.hotend),
        bed: heater(this.temps?.bed),
        driverState: d,
        firmware: this.driver.firmware.FIRMWARE_NAME ?? null,
        thermalProtection: this.driver.capability("THERMAL_PROTECTION") ?? null,
        protocol: this.driver.protocol,
        estopEffect: this.driver.estopEffect,
        doorOpen: this.door,
        link: { ...this.driver.stats },
        lastJob: p,
        lastError: this.lastMessage,
      },
    };
  }

  /** In plain words; the job's raw end reason is in `details.lastJob`, the firmware's last error in `details.lastError`. */
  private reason(state: StationView["state"], p: JobProgress | null): Text {
    const printer = this.label;
    switch (state) {
      case "offline":
        return text("printer.state.offline");
      case "connecting":
        return text("printer.state.connecting");
      case "faulted":
        return this.fault ?? this.lastFault ?? text("printer.halted", { printer });
      case "running":
        return text("printer.state.printing", { job: p?.name ?? "" });
      case "paused":
        return text("printer.state.paused", { job: p?.name ?? "" });
      case "stopping":
        return text("printer.state.stopping");
      default: {
        if (p === null || !["done", "cancelled", "failed"].includes(p.state)) return text("printer.state.ready");
        const result = this.jobEnd ?? text(p.state === "done" ? "printer.job.done" : p.state === "cancelled" ? "printer.job.cancelled" : "printer.job.failed");
        return text("printer.state.readyAfter", { result });
      }
    }
  }

  private running(): boolean {
    return this.job !== null && ["running", "paused", "pausing", "resuming", "cancelling"].includes(this.job.state);
  }

  private onDriverState(state: string, reason: string): void {
    const id = this.config.id;
    if (state === "connecting" || state === "disconnected") this.identified = false;
    if (state === "disconnected") {
      const printing = this.running();
      if (printing) this.jobEnd = text("printer.job.printerLost");
      this.job?.abort(`the printer went away (${reason}): the job is stopped`);
      if (printing && this.fault === null) {
        this.fault = text("printer.lostDuringPrint", { printer: this.label });
        this.ports.fault("lost", withDetail(this.fault, reason));
      }
      this.ports.pipeline.ingestRaw(id, "status", "offline");
    } else if (state === "operational") {
      this.ports.pipeline.ingestRaw(id, "status", "online");
      // A network printer prints on without the hub: the job it lost is stopped when it comes back.
      if (this.fault !== null && this.driver.cancelOrphan !== undefined) {
        this.driver
          .cancelOrphan()
          .then((cancelled) => {
            if (cancelled) this.ports.note("printer.orphanCancelled", "the printer came back still printing the job the hub had lost: cancelled");
          })
          .catch((error: unknown) => this.ports.logger.error({ err: error }, "cancelling the lost job failed"));
      }
    }
    this.health();
    this.ports.changed();
  }

  /** The printer's meta, once M115 has said what it is. */
  private describe(): void {
    const info = this.driver.firmware;
    const period = 2000;
    const ch = (unit: string, min: number, max: number, label: Text) => ({ unit, min, max, periodMs: period, label: label.nl });
    const L = PRINTER_CHANNEL_LABELS;
    const meta: MetaMessage = {
      contract: "1.0",
      model: (info.MACHINE_TYPE ?? (this.driver.protocol === "marlin" ? "Marlin printer" : `${this.driver.protocol} printer`)).slice(0, 64),
      firmware: this.firmwareName(),
      boot: this.driver.stats.connects,
      simulated: this.config.simulated,
      channels: {
        hotendTempC: ch("°C", -20, 400, L.hotendTempC),
        hotendTargetC: ch("°C", 0, 400, L.hotendTargetC),
        bedTempC: ch("°C", -20, 200, L.bedTempC),
        bedTargetC: ch("°C", 0, 200, L.bedTargetC),
        progressPct: ch("%", 0, 100, L.progressPct),
        ...(this.door !== null ? { doorOpen: ch("", 0, 1, L.doorOpen) } : {}),
      },
      actuators: {},
    };
    this.ports.pipeline.describe(this.config.id as DeviceId, meta);
    this.describedFirmware = meta.firmware;
    this.health();
    this.ports.changed();
  }

  private onTemperature(report: TemperatureReport): void {
    this.temps = { ...this.temps, ...report, hotend: report.hotend ?? this.temps?.hotend ?? null, bed: report.bed ?? this.temps?.bed ?? null };
    const now = this.ports.clock.now();
    const verdicts: Array<ThermalVerdict | null> = [];
    if (report.hotend !== null) verdicts.push(this.hotend.sample(now, report.hotend.actual, report.hotend.target ?? 0));
    if (report.bed !== null) verdicts.push(this.bed.sample(now, report.bed.actual, report.bed.target ?? 0));
    const t = this.temps;
    const readings: Record<string, number> = { progressPct: this.job?.progress().progressPct ?? 0 };
    if (this.door !== null) readings.doorOpen = this.door ? 1 : 0;
    if (t.hotend !== null) Object.assign(readings, { hotendTempC: t.hotend.actual, hotendTargetC: t.hotend.target ?? 0 });
    if (t.bed !== null) Object.assign(readings, { bedTempC: t.bed.actual, bedTargetC: t.bed.target ?? 0 });
    this.ports.pipeline.ingest(this.config.id as DeviceId, "tele", { ts: now, seq: this.seq++, readings });
    const bad = verdicts.find((v): v is ThermalVerdict => v !== null);
    if (bad !== undefined) this.thermalTrip(bad);
    this.ports.changed();
  }

  /** The printer's own door contact: a channel of its own (`<printer>.doorOpen`), which a `door` rule can name. */
  private onDoor(open: boolean): void {
    const first = this.door === null;
    this.door = open;
    if (first && this.identified) this.describe();
    const t = this.temps;
    const readings: Record<string, number> = { doorOpen: open ? 1 : 0, progressPct: this.job?.progress().progressPct ?? 0 };
    if (t?.hotend != null) Object.assign(readings, { hotendTempC: t.hotend.actual, hotendTargetC: t.hotend.target ?? 0 });
    if (t?.bed != null) Object.assign(readings, { bedTempC: t.bed.actual, bedTargetC: t.bed.target ?? 0 });
    this.ports.pipeline.ingest(this.config.id as DeviceId, "tele", { ts: this.ports.clock.now(), seq: this.seq++, readings });
    this.ports.changed();
  }

  private onHalt(kind: HaltKind, message: string): void {
    if (this.running()) this.jobEnd = text("printer.job.printerHalted");
    this.job?.abort(`the printer halted: ${message}`);
    const what = HALT_TEXT[kind];
    this.lastFault = text("printer.haltedByFirmware", { printer: this.label, what });
    this.health();
    // The firmware's own message ("Printer halted. kill() called!") is for the technician: the trip's cause.
    this.ports.fault("firmware", withDetail(what, message));
    this.ports.changed();
  }

  private thermalTrip(v: ThermalVerdict): void {
    if (this.running()) this.jobEnd = text("printer.job.printerHalted");
    this.lastFault = text("printer.haltedByWatchdog", { printer: this.label, what: v.reason });
    this.job?.abort(`hub thermal watchdog: ${v.reason.en}`);
    this.driver.emergencyStop(`hub thermal watchdog: ${v.reason.en}`).catch((error: unknown) => this.ports.logger.error({ err: error }, "M112 failed"));
    this.ports.fault("thermal", v.reason);
  }

  /** As M115 named it (FIRMWARE_NAME), for the registry's meta: the same words as the station's details. */
  private firmwareName(): string {
    return (this.driver.firmware.FIRMWARE_NAME ?? "unknown").slice(0, 32);
  }

  private tick(): void {
    const now = this.ports.clock.now();
    if (this.identified && this.describedFirmware !== this.firmwareName()) this.describe();
    for (const w of [this.hotend, this.bed]) {
      const v = this.driver.state === "operational" ? w.check(now) : null;
      if (v !== null) this.thermalTrip(v);
    }
    // Heaters on with no job: off after the idle timeout (a bed "heating all night because someone preheated").
    const printing = this.job !== null && ["running", "paused", "pausing", "resuming", "cancelling"].includes(this.job.state);
    const heating = this.hotend.on || this.bed.on;
    if (!heating || printing || this.driver.state !== "operational") {
      this.idleSince = null;
      return;
    }
    this.idleSince ??= now;
    if (now - this.idleSince >= this.config.idleHeaterTimeoutS * 1000) {
      this.idleSince = null;
      this.driver.heatersOff().then(
        () => this.ports.note("printer.heatersOff", `heaters on without a job for ${this.config.idleHeaterTimeoutS} s: switched off`),
        (error: unknown) => this.ports.note("printer.heatersOffFailed", `heaters on without a job for ${this.config.idleHeaterTimeoutS} s, and the printer did not take "heaters off": ${error instanceof Error ? error.message : String(error)}`),
      );
    }
  }

  private health(): void {
    // Only a printer that is talking has a health of its own; otherwise its status says it all.
    if (this.driver.state !== "operational" && this.driver.state !== "halted") return;
    const s = this.driver.stats;
    const sent = s.linesSent ?? 0;
    const ratio = sent > 100 ? (s.resends ?? 0) / sent : 0;
    const state = this.driver.state === "halted" ? "fault" : ratio > 0.1 ? "degraded" : "ok";
    const detail = state === "fault" ? (this.lastFault?.en ?? "halted") : state === "degraded" ? `unreliable link: ${Math.round(ratio * 100)} % of lines resent` : undefined;
    this.ports.pipeline.ingest(this.config.id as DeviceId, "health", { state, uptimeS: 0, boot: s.connects, ...(detail !== undefined ? { detail: detail.slice(0, 200) } : {}) });
  }
}
