/**
 * The interlocks' permissives, read straight from the engine's state: may `<device>.<actuator>`
 * (or `<station>.start`) be started now, and if not, why. Built before anything that asks it (the
 * actuator keeper, the stations), so nothing runs half-wired with an allow-all stand-in; the
 * interlock service that drives the engine comes after them.
 *
 * The reasons are for staff: one sentence per interlock in the rule's own words (its reason while
 * tripped, its name otherwise), never an id or a raw value; the interlock view keeps the cause.
 */
import type { Permits, PermitResult } from "../actuators/keeper.ts";
import { asSentence, sentences, text } from "../texts/texts.ts";
import type { DeviceId, Text } from "../types.ts";
import type { InterlockEngine } from "./engine.ts";

/** The emergency stop's rule id (service.ts ESTOP_ID; imported from there it would be a cycle). */
const ESTOP_RULE = "estop";

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
    const reasons = blocking.map((id) => this.blockText(id));
    return { allowed: false, latched, reason: sentences(reasons), reasons };
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

  /** One sentence for a rule that is not normal (check() lists only rules it has a state for). */
  private blockText(id: string): Text {
    const rule = this.engine.rule(id);
    const status = this.engine.state(id)?.status;
    if (rule === undefined) return text("permit.notReset", { rule: id });
    if (status === "waiting") return text("permit.waiting", { rule: rule.name });
    if (id === ESTOP_RULE) return status === "tripped" ? text("permit.estop") : text("permit.estopNotReset");
    if (status === "tripped") return asSentence(rule.reason);
    return text("permit.notReset", { rule: rule.name });
  }
}
