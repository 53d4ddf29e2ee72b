/**
 * A class visit: an instructor opens it for the stations this class may use, for a time. While it
 * runs an instructor counts as present at those stations (a robot needs that to start), and only
 * those stations start. When it ends, by hand or by its time running out, every station stops and
 * everything the instructors started during the visit returns to safe. No personal data about the
 * pupils: a label and a count at most.
 */
import type { Clock, Timer } from "../clock.ts";
import { HubError } from "../errors.ts";
import { text } from "../texts/texts.ts";
import type { Actor, Text } from "../types.ts";

export interface Visit {
  id: string;
  /** "Groep 7, De Regenboog" — whatever the instructor types; no names of children. */
  label: string;
  openedBy: string;
  startedAt: number;
  endsAt: number;
  /** Stations this class may use. */
  stations: string[];
}

export interface VisitEndHooks {
  /** Stop every station and return what the visit started to safe. */
  onEnd(visit: Visit, reason: string): Promise<void>;
}

export class VisitService {
  private current: Visit | null = null;
  private timer: Timer | null = null;
  private counter = 0;
  private readonly changeFns: Array<(v: Visit | null) => void> = [];
  private hooks: VisitEndHooks | null = null;

  /** Built before the stations (their starts ask `blocks`); what ending a visit does comes at `startService`. */
  constructor(private readonly ctx: { clock: Clock }) {}

  /** Starts the service with what ending a visit does (stop the stations, return holds to safe). Visits open only after this. */
  startService(hooks: VisitEndHooks): void {
    this.hooks = hooks;
  }

  get active(): Visit | null {
    return this.current;
  }

  onChange(fn: (v: Visit | null) => void): void {
    this.changeFns.push(fn);
  }

  start(actor: Actor, params: { label: string; stations: string[]; minutes: number }): Visit {
    if (this.hooks === null) throw new HubError("DEVICE_OFFLINE", "the hub is still starting: no visit can open yet");
    if (this.current !== null) throw new HubError("REQUEST_INVALID", `a visit is already running ("${this.current.label}", opened by ${this.current.openedBy}); end it first`);
    const now = this.ctx.clock.now();
    const visit: Visit = { id: `visit-${now}-${++this.counter}`, label: params.label, openedBy: actor.name, startedAt: now, endsAt: now + params.minutes * 60_000, stations: [...new Set(params.stations)] };
    this.current = visit;
    this.timer = this.ctx.clock.setTimeout(() => void this.end(`the visit's time (${params.minutes} min) is up`), params.minutes * 60_000);
    this.emit();
    return visit;
  }

  async end(reason: string): Promise<Visit> {
    const visit = this.current;
    if (visit === null) throw new HubError("REQUEST_INVALID", "no visit is running");
    this.timer?.cancel();
    this.timer = null;
    this.current = null;
    this.emit();
    await this.hooks?.onEnd(visit, reason);
    return visit;
  }

  /** An instructor is present at this station: a visit runs and the station is open to it. */
  present(station: string): boolean {
    return this.current !== null && this.current.stations.includes(station);
  }

  /** Null if the station may start as far as the visit goes; else why not. `label`: how people know the station. */
  blocks(station: string, label?: Text): Text | null {
    if (this.current === null || this.current.stations.includes(station)) return null;
    return text("station.notInVisit", { station: label ?? station, visit: this.current.label });
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
    this.hooks = null;
  }

  private emit(): void {
    for (const fn of this.changeFns) fn(this.current);
  }
}
