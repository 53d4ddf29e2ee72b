/**
 * Stations: the demos instructors start for a class (3D printers today, robots next). Every kind
 * implements `Station`; this registry is where the hub decides: a start passes the permissives of
 * every interlock that forbids `<station>.start`, and only programs from the station's approved
 * catalogue run. Interlocks and the emergency stop act on stations through here.
 */
import type { Permits } from "../actuators/keeper.ts";
import type { Bus } from "../bus.ts";
import { HubError } from "../errors.ts";
import type { Actor, Text } from "../types.ts";

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
  simulated: boolean;
  state: StationState;
  /** Why it is in this state, for people: "Printing demo-cube", "halted: Thermal Runaway". */
  stateReason: Text;
  program: string | null;
  progress: StationProgress | null;
  catalogue: string[];
  /** Whether a start would pass its permissives now, and if not, why. */
  startable: { ok: true } | { ok: false; reason: Text };
  /** Kind-specific details (temperatures, link statistics, firmware, axes). */
  details: Record<string, unknown>;
}

export type StationAction = "pause" | "resume" | "stop" | "estop";

export interface Station {
  readonly id: string;
  readonly kind: StationKind;
  /** The view without `startable`, which the registry adds. */
  view(): Omit<StationView, "startable">;
  catalogue(): string[];
  /** Throws HubError (with a bilingual reason where a person reads it) if it cannot start. */
  start(program: string, actor: Actor): Promise<void>;
  act(action: StationAction, reason: string, actor: Actor): Promise<void>;
  stop(): Promise<void>;
}

export class StationRegistry {
  private readonly stations = new Map<string, Station>();
  private permits: Permits | null = null;
  private readonly gates: Array<(id: string) => Text | null> = [];

  constructor(private readonly ctx: { bus: Bus }) {}

  add(station: Station): void {
    if (this.stations.has(station.id)) throw new HubError("CONFIG_INVALID", `station "${station.id}" is declared twice`);
    this.stations.set(station.id, station);
  }

  usePermits(permits: Permits): void {
    this.permits = permits;
  }

  /** A further condition on every start (a visit open to the station); returns why not, or null. */
  addGate(gate: (id: string) => Text | null): void {
    this.gates.push(gate);
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
    return { ...s.view(), startable: this.startable(id) };
  }

  list(): StationView[] {
    return this.ids().map((id) => this.view(id));
  }

  /** Tells listeners (the live stream) a station changed. Stations call it. */
  changed(id: string): void {
    this.ctx.bus.emit("station:changed", { id });
  }

  async start(id: string, program: string, actor: Actor): Promise<StationView> {
    const station = this.get(id);
    if (!station.catalogue().includes(program)) {
      throw HubError.because("REQUEST_INVALID", { nl: `"${program}" staat niet in de goedgekeurde lijst van ${id}`, en: `"${program}" is not in ${id}'s approved catalogue` });
    }
    const verdict = this.startable(id);
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
    await Promise.allSettled([...this.stations.values()].map((s) => s.stop()));
  }

  private startable(id: string): StationView["startable"] {
    const verdict = this.permits?.check(id as never, "start", 1) ?? { allowed: true };
    if (!verdict.allowed) return { ok: false, reason: verdict.reason };
    for (const gate of this.gates) {
      const why = gate(id);
      if (why !== null) return { ok: false, reason: why };
    }
    return { ok: true };
  }
}
