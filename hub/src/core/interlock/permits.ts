/**
 * The interlocks' permissives, read straight from the engine's state: may `<device>.<actuator>`
 * (or `<station>.start`) be started now, and if not, why. Built before anything that asks it (the
 * actuator keeper, the stations), so nothing runs half-wired with an allow-all stand-in; the
 * interlock service that drives the engine comes after them.
 */
import type { Permits, PermitResult } from "../actuators/keeper.ts";
import type { DeviceId, Text } from "../types.ts";
import type { InterlockEngine } from "./engine.ts";

export class InterlockPermits implements Permits {
  constructor(private readonly engine: InterlockEngine) {}

  check(deviceId: DeviceId | string, actuator: string, _value: number): PermitResult {
    const ref = `${deviceId}.${actuator}`;
    const blocking: string[] = [];
    let latched = false;
    for (const id of this.engine.ids()) {
      const rule = this.engine.rule(id);
      const s = this.engine.state(id);
      if (rule === undefined || s === undefined || s.status === "normal") continue;
      if (!rule.forbids.includes(ref) && !rule.forbids.includes("*")) continue;
      blocking.push(id);
      if (s.status !== "waiting") latched = true;
    }
    if (blocking.length === 0) return { allowed: true };
    const texts = blocking.map((id) => this.blockText(id));
    return {
      allowed: false,
      latched,
      reason: { nl: `${ref} mag niet starten: ${texts.map((t) => t.nl).join("; ")}`, en: `${ref} may not start: ${texts.map((t) => t.en).join("; ")}` },
    };
  }

  /**
   * How often the rules that forbid `<device>.<actuator>` have tripped since the hub started. A
   * holder keeps the count from when it was permitted: a different count means a permissive went,
   * however briefly (tripped and back to normal, or reset, between two of its looks).
   */
  trips(deviceId: DeviceId | string, actuator: string): number {
    const ref = `${deviceId}.${actuator}`;
    let n = 0;
    for (const id of this.engine.ids()) {
      const rule = this.engine.rule(id);
      if (rule !== undefined && (rule.forbids.includes(ref) || rule.forbids.includes("*"))) n += this.engine.trips(id);
    }
    return n;
  }

  /** Whether an interlock is normal (unknown ids count as normal: there is nothing to wait for). */
  normal(id: string): boolean {
    const s = this.engine.state(id);
    return s === undefined || s.status === "normal";
  }

  private blockText(id: string): Text {
    const rule = this.engine.rule(id);
    const s = this.engine.state(id);
    if (rule === undefined || s === undefined) return { nl: id, en: id };
    if (s.status === "waiting") return { nl: `${rule.name.nl} wacht op verse meetwaarden (${s.cause?.detail.nl ?? "?"})`, en: `${rule.name.en} is waiting for fresh readings (${s.cause?.detail.en ?? "?"})` };
    if (s.status === "tripped") return { nl: `${rule.reason.nl} (${s.cause?.detail.nl ?? ""})`, en: `${rule.reason.en} (${s.cause?.detail.en ?? ""})` };
    return { nl: `${rule.name.nl} is nog niet gereset`, en: `${rule.name.en} has not been reset yet` };
  }
}
