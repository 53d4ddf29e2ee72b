/**
 * Stations: the demos instructors start for a class (3D printers and robots). Every kind
 * implements `Station`; this registry is where the hub decides. One function, `verdict`, says
 * whether a station may start: the station's own refusals (not connected, faulted, busy), the
 * permissives of every interlock that forbids `<station>.start`, and the gates (a visit open to
 * it). The screens' "startable" and `start` both ask it, so they cannot disagree. Only programs
 * from the station's approved catalogue run. Interlocks and the emergency stop act on stations
 * through here.
 *
 * Faults: every fault of a station trips one of its latched interlocks (`faultRules`). Once every
 * one of them and the emergency stop are normal again after a reset, the station is told to clear
 * its fault state (the robot's ResetFault, a printer's firmware restart), which starts nothing.
 */
import type { Permits } from "../actuators/keeper.ts";
import type { Bus } from "../bus.ts";
import { HubError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { sentences, text } from "../texts/texts.ts";
import type { Actor, DeviceId, Text } from "../types.ts";

export type StationKind = "printer" | "robot";

/** The same words for every kind, so screens need not know the kind to say what a station does. */
export type StationState = "offline" | "connecting" | "idle" | "running" | "paused" | "stopping" | "faulted";

export interface StationProgress {
  pct: number;
  elapsedS: number;
  timeLeftS: number | null;
  layer?: number;
  layers?: number;
}

export interface StationView {
  id: string;
  kind: StationKind;
  name: string;
  /** Its name in both languages (the config's `name` and `nameEn`). */
  label: Text;
  simulated: boolean;
  state: StationState;
  /** Why it is in this state, for people, in plain words: "Print demo-cube.", "Gestopt met de noodstop". Raw errors are in `details`. */
  stateReason: Text;
  program: string | null;
  progress: StationProgress | null;
  catalogue: string[];
  /**
   * Whether a start would pass its permissives now, and if not, why: `reasons`, one sentence each
   * for staff ("De deur van Printer 2 staat open.", "De noodstop is actief."), without ids or raw
   * values; `reason`, those sentences one after another.
   */
  startable: { ok: true } | { ok: false; reason: Text; reasons: Text[] };
  /** Kind-specific details (temperatures, link statistics, firmware, axes). */
  details: Record<string, unknown>;
}

export type StationAction = "pause" | "resume" | "stop" | "estop";

export interface Station {
  readonly id: string;
  readonly kind: StationKind;
  /** Its name in both languages. */
  readonly label: Text;
  /** The view without `startable`, which the registry adds. */
  view(): Omit<StationView, "startable">;
  catalogue(): string[];
  /**
   * Why the station itself would refuse a start now (no connection, a fault not yet reset, a job
   * already running, its own guard open), in both languages; empty if it could start. The registry
   * adds the interlocks and the gates.
   */
  refusals(): Text[];
  /**
   * Starts `program`; the registry has asked `verdict` first. Throws HubError (with a bilingual
   * reason where a person reads it) if the station cannot (its own `refusals()` are checked again
   * here, the same function, and the I/O may fail).
   */
  start(program: string, actor: Actor): Promise<void>;
  act(action: StationAction, reason: string, actor: Actor): Promise<void>;
  /** The latched interlocks its faults trip: resetting them (and the e-stop) clears its fault. */
  faultRules(): string[];
  /** Clears the station's fault state once its trips are reset; starts nothing. */
  clearFault(): Promise<void>;
  stop(): Promise<void>;
}

export interface StationRegistryContext {
  bus: Bus;
  logger: Logger;
  /** The interlocks' permissives (`<station>.start`). */
  permits: Permits & { normal(ruleId: string): boolean };
  /** Further conditions on every start (a visit open to the station): each returns why not, or null. `label`: the station's name. */
  gates: ReadonlyArray<(id: string, label: Text) => Text | null>;
}

/** The emergency stop's rule id (core/interlock/service.ts ESTOP_ID). */
const ESTOP_RULE = "estop";

export class StationRegistry {
  private readonly stations = new Map<string, Station>();
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly ctx: StationRegistryContext) {}

  add(station: Station): void {
    if (this.stations.has(station.id)) throw new HubError("CONFIG_INVALID", `station "${station.id}" is declared twice`);
    this.stations.set(station.id, station);
  }

  /** Listens for resets: a station whose trips are all reset clears its fault. */
  start(): void {
    this.unsubscribe ??= this.ctx.bus.on("interlock:changed", "stations", (e) => {
      if (e.to !== "normal" || (e.from !== "cleared" && e.from !== "tripped")) return;
      for (const station of this.stations.values()) {
        if (e.id !== ESTOP_RULE && !station.faultRules().includes(e.id)) continue;
        if (![ESTOP_RULE, ...station.faultRules()].every((id) => this.ctx.permits.normal(id))) continue;
        station.clearFault().then(
          () => this.changed(station.id),
          (error: unknown) => this.ctx.logger.error({ err: error, station: station.id }, "clearing the station's fault failed"),
        );
      }
    });
  }

  get(id: string): Station {
    const s = this.stations.get(id);
    if (s === undefined) throw new HubError("NOT_FOUND", `no station "${id}"`);
    return s;
  }

  ids(): string[] {
    return [...this.stations.keys()];
  }

  view(id: string): StationView {
    const s = this.get(id);
    return { ...s.view(), startable: this.verdict(id) };
  }

  list(): StationView[] {
    return this.ids().map((id) => this.view(id));
  }

  /** Tells listeners (the live stream) a station changed. Stations call it. */
  changed(id: string): void {
    this.ctx.bus.emit("station:changed", { id });
  }

  async startProgram(id: string, program: string, actor: Actor): Promise<StationView> {
    const station = this.get(id);
    if (!station.catalogue().includes(program)) {
      throw HubError.because("REQUEST_INVALID", text("station.notInCatalogue", { program, station: station.label }));
    }
    const verdict = this.verdict(id);
    if (!verdict.ok) throw HubError.because("INTERLOCK_TRIPPED", verdict.reason, { station: id });
    await station.start(program, actor);
    this.changed(id);
    return this.view(id);
  }

  async act(id: string, action: StationAction, reason: string, actor: Actor): Promise<StationView> {
    await this.get(id).act(action, reason, actor);
    this.changed(id);
    return this.view(id);
  }

  /** The emergency stop reaches every station, each as fast as it can; one failing does not hold up the others. */
  async emergencyStopAll(reason: string, actor: Actor): Promise<void> {
    await Promise.allSettled(this.ids().map((id) => this.act(id, "estop", reason, actor)));
  }

  async stopAll(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    await Promise.allSettled([...this.stations.values()].map((s) => s.stop()));
  }

  /**
   * Whether a start would be accepted now, and if not every reason why: the one place that decides,
   * for the screens (`startable`) and for `startProgram` alike.
   */
  verdict(id: string): StationView["startable"] {
    const station = this.get(id);
    const reasons: Text[] = [...station.refusals()];
    const permit = this.ctx.permits.check(id as DeviceId, "start", 1);
    if (!permit.allowed) reasons.push(...permit.reasons);
    for (const gate of this.ctx.gates) {
      const why = gate(id, station.label);
      if (why !== null) reasons.push(why);
    }
    // The same sentence from two sources (the robot's own e-stop and its rule) is said once.
    const unique = reasons.filter((r, i) => reasons.findIndex((o) => o.nl === r.nl && o.en === r.en) === i);
    if (unique.length === 0) return { ok: true };
    return { ok: false, reason: sentences(unique), reasons: unique };
  }
}
