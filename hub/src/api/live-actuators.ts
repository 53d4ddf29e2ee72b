/**
 * Every actuator's state for the live stream, from the hub's own state: the holds (the keeper),
 * the last start or stop staff asked for (the command registry), and, watched tick by tick, the
 * holds the hub let go of without a stop, with why. Screens used to work this out from the newest
 * rows of the audit log, which anyone who can send a command can push out of view.
 */
import type { ActuatorSpec } from "../../../firmware-bridge/contract/messages.ts";
import type { HeldActuator } from "../core/actuators/keeper.ts";
import { ESTOP_ID } from "../core/interlock/service.ts";
import { asSentence, text, verbatim } from "../core/texts/texts.ts";
import type { Text } from "../core/types.ts";
import type { LatestInvocation } from "./commands.ts";
import type { ActuatorView, InterlockView } from "./live-protocol.ts";

export interface ActuatorSources {
  /** The latest `actuator.start` or `actuator.stop` on `device.actuator`. */
  order(ref: string): Readonly<LatestInvocation> | undefined;
  /** Every interlock: read only when a hold has gone, to say why. */
  interlocks(): InterlockView[];
  /** An actuator's name in both languages (the config's labels, else the device's own label); without it, the device's label in both. */
  label?(device: string, actuator: string): Text;
}

const VISIT_ENDED: Text = text("actuator.visitEnded");
const NO_LONGER_HELD: Text = text("actuator.noLongerHeld");

type Released = NonNullable<ActuatorView["released"]>;

export class ActuatorBoard {
  /** device -> actuator -> spec, devices in the registry's order, actuators in the device's. */
  private specs = new Map<string, ReadonlyMap<string, ActuatorSpec>>();
  /** The registry's order of devices, whatever order they describe themselves in. */
  private rank = new Map<string, number>();
  private holds = new Map<string, HeldActuator>();
  /** When each current hold was first seen. */
  private readonly heldSince = new Map<string, number>();
  private readonly released = new Map<string, Released>();
  /** What frames last carried per ref; a ref whose key differs goes in the next frame. */
  private readonly sentKeys = new Map<string, string>();
  private gone: string[] = [];
  private lastVisitEndAt: number | null = null;

  constructor(private readonly sources: ActuatorSources) {}

  /** The order devices are listed in (the registry's); those not in it come last. */
  order(devices: readonly string[]): void {
    this.rank = new Map(devices.map((d, i) => [d, i]));
    this.sort();
  }

  /** A device's declared actuators (from its meta), replacing what it declared before. */
  describe(device: string, actuators: Readonly<Record<string, ActuatorSpec>>): void {
    const before = this.specs.get(device);
    const now = new Map(Object.entries(actuators));
    if (now.size === 0) this.specs.delete(device);
    else this.specs.set(device, now);
    if (before === undefined && now.size > 0) this.sort();
    for (const actuator of before?.keys() ?? []) {
      if (now.has(actuator)) continue;
      const ref = `${device}.${actuator}`;
      this.gone.push(ref);
      this.sentKeys.delete(ref);
      this.released.delete(ref);
    }
    // A new spec is news even if nothing else about the actuator changed.
    for (const actuator of now.keys()) this.sentKeys.delete(`${device}.${actuator}`);
  }

  /** The visit ended now: holds let go of from here on without a stop are put down to it. */
  visitEnded(at: number): void {
    this.lastVisitEndAt = at;
  }

  /**
   * Takes the keeper's holds of this tick. A hold that has gone without a stop asked for since it
   * began was let go of by the hub: by an interlock that forbids it now (the emergency stop among
   * them), or by the visit's end.
   */
  observe(holds: readonly HeldActuator[], now: number): void {
    const next = new Map<string, HeldActuator>();
    for (const h of holds) next.set(`${h.deviceId}.${h.actuator}`, h);
    let interlocks: InterlockView[] | null = null;
    for (const ref of this.holds.keys()) {
      if (next.has(ref)) continue;
      const since = this.heldSince.get(ref) ?? now;
      this.heldSince.delete(ref);
      const order = this.sources.order(ref);
      // actuator.stop lets go of the hold before its command is acknowledged: it is pending here.
      if (order !== undefined && order.command === "actuator.stop" && order.at >= since) {
        this.released.delete(ref);
        continue;
      }
      interlocks ??= this.sources.interlocks();
      this.released.set(ref, this.why(ref, since, now, interlocks));
    }
    for (const ref of next.keys()) {
      if (this.heldSince.has(ref)) continue;
      this.heldSince.set(ref, now);
      this.released.delete(ref);
    }
    this.holds = next;
  }

  /** Every declared actuator, in order. */
  views(): ActuatorView[] {
    const out: ActuatorView[] = [];
    for (const [device, actuators] of this.specs) {
      for (const [actuator, spec] of actuators) out.push(this.view(device, actuator, spec));
    }
    return out;
  }

  /** What changed since the last call (the last frame), and what is gone. */
  changes(): { changed: ActuatorView[]; gone: string[] } {
    const changed: ActuatorView[] = [];
    for (const [device, actuators] of this.specs) {
      for (const [actuator, spec] of actuators) {
        const ref = `${device}.${actuator}`;
        const key = this.keyOf(ref);
        if (this.sentKeys.get(ref) === key) continue;
        this.sentKeys.set(ref, key);
        changed.push(this.view(device, actuator, spec));
      }
    }
    const gone = this.gone;
    this.gone = [];
    return { changed, gone };
  }

  /** Whether `changes()` would return anything, without building views. */
  hasChanges(): boolean {
    if (this.gone.length > 0) return true;
    for (const [device, actuators] of this.specs) {
      for (const actuator of actuators.keys()) {
        const ref = `${device}.${actuator}`;
        if (this.sentKeys.get(ref) !== this.keyOf(ref)) return true;
      }
    }
    return false;
  }

  private sort(): void {
    const last = this.rank.size;
    this.specs = new Map([...this.specs].sort(([a], [b]) => (this.rank.get(a) ?? last) - (this.rank.get(b) ?? last)));
  }

  private view(device: string, actuator: string, spec: ActuatorSpec): ActuatorView {
    const ref = `${device}.${actuator}`;
    const hold = this.holds.get(ref);
    const released = hold === undefined ? (this.released.get(ref) ?? null) : null;
    return {
      ref,
      device,
      actuator,
      label: this.sources.label?.(device, actuator) ?? verbatim(spec.label ?? actuator),
      spec,
      state: hold !== undefined ? hold.status : released !== null ? "released" : "off",
      value: hold?.value ?? null,
      error: hold?.lastError ?? null,
      order: this.sources.order(ref) ?? null,
      released,
    };
  }

  /** Everything a screen shows, without the refresh times of a held value (those change every few seconds). */
  private keyOf(ref: string): string {
    const hold = this.holds.get(ref);
    const order = this.sources.order(ref);
    const released = this.released.get(ref);
    return `${hold?.status ?? "-"}:${hold?.value ?? ""}:${hold?.lastError ?? ""}|${order?.at ?? ""}:${order?.result ?? ""}|${released?.at ?? ""}`;
  }

  private why(ref: string, since: number, now: number, interlocks: readonly InterlockView[]): Released {
    const forbidding = interlocks.filter((il) => il.status !== "normal" && (il.forbids.includes(ref) || il.forbids.includes("*")));
    // The emergency stop first: it is what people will have seen.
    const il = forbidding.find((i) => i.id === ESTOP_ID) ?? forbidding[0];
    if (il !== undefined) {
      // The rule's own words for staff; its cause with ids and values is in the interlock's view.
      return { at: now, interlock: il.id, why: asSentence(il.id === ESTOP_ID ? text("permit.estop") : il.reason) };
    }
    const visitEnded = this.lastVisitEndAt !== null && this.lastVisitEndAt >= since;
    return { at: now, interlock: null, why: visitEnded ? VISIT_ENDED : NO_LONGER_HELD };
  }
}
