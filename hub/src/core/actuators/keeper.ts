/**
 * Holds actuators at the values the hub wants, by re-sending each command well within its lease.
 * A device returns an actuator to its safe value when the lease runs out, so anything the hub does
 * not actively hold falls back to safe on its own: the hub going quiet is itself a safe state.
 *
 * Starting something (holding a value other than the safe one) must pass the permissives; a hold
 * whose permissives stop holding is dropped, never resumed by itself (a reset restarts nothing).
 * That is judged whether or not the device is there, and also when the permissive went and came
 * back between two ticks: the permits count every trip of the rules that forbid an actuator, and a
 * hold whose count has changed since it was asked for is dropped like one whose permit is gone.
 */
import type { Clock, Timer } from "../clock.ts";
import { HubError, type Reason } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Registry } from "../registry/registry.ts";
import type { DeviceId } from "../types.ts";
import type { CommandService } from "./commands.ts";

/** Refresh a held value when a third of its lease has passed. */
const REFRESH_FRACTION = 3;
const TICK_MS = 250;

/**
 * Whether a start is permitted. If not: `reasons`, one sentence per interlock in the way, for staff
 * (no ids, no raw values), and `reason`, those sentences one after another.
 */
export type PermitResult = { allowed: true } | { allowed: false; reason: Reason; reasons: Reason[]; /** a latched trip or the e-stop, not just "waiting for inputs" */ latched: boolean };

export interface Permits {
  check(deviceId: DeviceId, actuator: string, value: number): PermitResult;
}

export interface HeldActuator {
  deviceId: DeviceId;
  actuator: string;
  value: number;
  /** pending: asked for at start-up, waits for its permissives; held: being refreshed. */
  status: "pending" | "held";
  lastSentAt: number | null;
  lastAckAt: number | null;
  lastError: string | null;
  inFlight: boolean;
}

/** A hold as the keeper keeps it: with the trips of its forbidding rules counted when it was asked for. */
interface Held extends HeldActuator {
  trips: number;
}

const shown = ({ trips: _trips, ...h }: Held): HeldActuator => h;

export class ActuatorKeeper {
  private readonly held = new Map<string, Held>();
  private timer: Timer | null = null;

  /**
   * `permits`: the interlocks' permissives, which every start (a value other than safe) must pass,
   * and how often the rules behind them have tripped (`InterlockPermits.trips`).
   */
  constructor(private readonly ctx: { clock: Clock; registry: Registry; commands: CommandService; logger: Logger; permits: Permits & { trips(deviceId: DeviceId, actuator: string): number } }) {}

  start(): void {
    this.timer ??= this.ctx.clock.setInterval(() => this.tick(), TICK_MS);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /** Starts holding a value now; refused (HubError INTERLOCK_TRIPPED, with the reason) if a permissive forbids it. */
  hold(deviceId: DeviceId, actuator: string, value: number): void {
    const verdict = this.isSafe(deviceId, actuator, value) ? { allowed: true as const } : this.ctx.permits.check(deviceId, actuator, value);
    if (!verdict.allowed) throw HubError.because("INTERLOCK_TRIPPED", verdict.reason, { deviceId, actuator, value });
    this.put(deviceId, actuator, value, "held");
    this.tick();
  }

  /**
   * Asks for a value at start-up (the config's `hold`): it starts once its device is there and its
   * permissives hold, and is forgotten if a latched trip forbids it first.
   */
  holdWhenPermitted(deviceId: DeviceId, actuator: string, value: number): void {
    this.put(deviceId, actuator, value, "pending");
    this.tick();
  }

  /** Stops holding: the device falls back to safe when the lease ends (or when told, by the caller). */
  release(deviceId: DeviceId, actuator: string): HeldActuator | undefined {
    const key = `${deviceId}/${actuator}`;
    const h = this.held.get(key);
    this.held.delete(key);
    return h === undefined ? undefined : shown(h);
  }

  releaseAll(): HeldActuator[] {
    const all = [...this.held.values()].map(shown);
    this.held.clear();
    return all;
  }

  list(): HeldActuator[] {
    return [...this.held.values()].map(shown);
  }

  private put(deviceId: DeviceId, actuator: string, value: number, status: HeldActuator["status"]): void {
    const key = `${deviceId}/${actuator}`;
    const prev = this.held.get(key);
    this.held.set(key, {
      deviceId,
      actuator,
      value,
      status,
      lastSentAt: prev?.value === value ? prev.lastSentAt : null,
      lastAckAt: prev?.lastAckAt ?? null,
      lastError: null,
      inFlight: false,
      trips: this.ctx.permits.trips(deviceId, actuator),
    });
  }

  private isSafe(deviceId: DeviceId, actuator: string, value: number): boolean {
    return this.ctx.registry.view(deviceId)?.actuators[actuator]?.safe === value;
  }

  private tick(): void {
    const now = this.ctx.clock.now();
    for (const [key, h] of this.held) {
      if (h.inFlight) continue;
      const view = this.ctx.registry.view(h.deviceId);
      const spec = view?.actuators[h.actuator];
      // Judged whether or not the device is there: a permissive lost while it was away is lost all
      // the same (and a hold of a device not yet described may be anything but safe).
      if (spec === undefined || h.value !== spec.safe) {
        const verdict = this.ctx.permits.check(h.deviceId, h.actuator, h.value);
        const trippedSince = this.ctx.permits.trips(h.deviceId, h.actuator) !== h.trips;
        if (trippedSince || !verdict.allowed) {
          if (trippedSince || h.status === "held" || (!verdict.allowed && verdict.latched)) {
            // A permissive stopped holding: drop it for good. The interlock also sends the safe value.
            this.held.delete(key);
            this.ctx.logger.info({ device: h.deviceId, actuator: h.actuator, reason: verdict.allowed ? "a rule that forbids it tripped meanwhile" : verdict.reason.en }, "hold dropped: permissive no longer holds");
          }
          continue;
        }
      }
      if (view === undefined || spec === undefined || view.state === "offline" || view.state === "unknown") continue;
      if (h.status === "pending") h.status = "held";
      if (h.lastSentAt !== null && now - h.lastSentAt < spec.leaseMs / REFRESH_FRACTION) continue;
      h.inFlight = true;
      h.lastSentAt = now;
      this.ctx.commands.send(h.deviceId, h.actuator, h.value).then(
        () => {
          h.inFlight = false;
          h.lastAckAt = this.ctx.clock.now();
          h.lastError = null;
        },
        (error: unknown) => {
          h.inFlight = false;
          h.lastError = error instanceof Error ? error.message : String(error);
          // Try again on the next tick rather than waiting a third of a lease.
          h.lastSentAt = null;
          this.ctx.logger.debug({ device: h.deviceId, actuator: h.actuator, err: h.lastError }, "hold refresh failed");
        },
      );
    }
  }
}
