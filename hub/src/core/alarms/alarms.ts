/**
 * Alarms: one per cause (a re-trigger updates it, it does not pile up), each active or cleared and
 * unacknowledged or acknowledged (ISA-18.2 / OPC UA A&C vocabulary), with who acknowledged it,
 * when and with what comment. Pure: persistence arrives through `AlarmStore`.
 */
import type { Bus } from "../bus.ts";
import type { Clock } from "../clock.ts";
import { HubError } from "../errors.ts";
import type { Actor, Text } from "../types.ts";

export type AlarmSeverity = "info" | "warning" | "critical";

export interface Alarm {
  /** The cause: `interlock:water-leak`, `device-offline:water`, `escalation:water-leak:water.pumpEnable`, `estop`. */
  key: string;
  severity: AlarmSeverity;
  /** Rule or device the alarm is about. */
  source: string;
  message: Text;
  active: boolean;
  acknowledged: boolean;
  firstAt: number;
  lastAt: number;
  /** How often the cause has (re)appeared. */
  count: number;
  clearedAt: number | null;
  ackedBy: string | null;
  ackedAt: number | null;
  comment: string | null;
}

export interface AlarmStore {
  save(alarm: Alarm): void;
  load(): Alarm[];
}

export class AlarmBook {
  private readonly alarms = new Map<string, Alarm>();

  constructor(private readonly ctx: { clock: Clock; bus: Bus; store: AlarmStore }) {
    for (const a of ctx.store.load()) this.alarms.set(a.key, a);
  }

  /** The cause is present. A new alarm, or the existing one updated; a return after clearing needs a new acknowledgement. */
  raise(key: string, severity: AlarmSeverity, source: string, message: Text): Alarm {
    const now = this.ctx.clock.now();
    const existing = this.alarms.get(key);
    let alarm: Alarm;
    if (existing === undefined) {
      alarm = { key, severity, source, message, active: true, acknowledged: false, firstAt: now, lastAt: now, count: 1, clearedAt: null, ackedBy: null, ackedAt: null, comment: null };
    } else if (existing.active) {
      // Still the same occurrence: keep its acknowledgement, refresh what it says.
      alarm = { ...existing, severity: higher(existing.severity, severity), message, lastAt: now };
      if (alarm.severity === existing.severity && sameText(alarm.message, existing.message)) return existing;
    } else {
      alarm = { ...existing, severity, message, active: true, acknowledged: false, lastAt: now, count: existing.count + 1, clearedAt: null, ackedBy: null, ackedAt: null, comment: null };
    }
    this.put(alarm);
    return alarm;
  }

  /** The cause is gone. An acknowledged alarm that clears is done; an unacknowledged one stays until acknowledged. */
  clear(key: string): void {
    const existing = this.alarms.get(key);
    if (existing === undefined || !existing.active) return;
    this.put({ ...existing, active: false, clearedAt: this.ctx.clock.now() });
  }

  acknowledge(key: string, actor: Actor, comment: string | null): Alarm {
    const existing = this.alarms.get(key);
    if (existing === undefined) throw new HubError("NOT_FOUND", `no alarm "${key}"`);
    if (existing.acknowledged) throw new HubError("REQUEST_INVALID", `alarm "${key}" was already acknowledged by ${existing.ackedBy ?? "?"}`);
    const alarm = { ...existing, acknowledged: true, ackedBy: actor.name, ackedAt: this.ctx.clock.now(), comment };
    this.put(alarm);
    return alarm;
  }

  get(key: string): Alarm | undefined {
    return this.alarms.get(key);
  }

  /** Alarms that need attention (active or unacknowledged) first, newest first; then the rest. */
  list(filter: { open?: boolean } = {}): Alarm[] {
    const all = [...this.alarms.values()].filter((a) => filter.open !== true || a.active || !a.acknowledged);
    const open = (a: Alarm) => (a.active || !a.acknowledged ? 1 : 0);
    return all.sort((a, b) => open(b) - open(a) || b.lastAt - a.lastAt);
  }

  private put(alarm: Alarm): void {
    this.alarms.set(alarm.key, alarm);
    this.ctx.store.save(alarm);
    this.ctx.bus.emit("alarm:changed", alarm);
  }
}

const RANK: Record<AlarmSeverity, number> = { info: 0, warning: 1, critical: 2 };

function higher(a: AlarmSeverity, b: AlarmSeverity): AlarmSeverity {
  return RANK[a] >= RANK[b] ? a : b;
}

function sameText(a: Text, b: Text): boolean {
  return a.nl === b.nl && a.en === b.en;
}
