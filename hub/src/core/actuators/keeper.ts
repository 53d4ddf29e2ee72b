/**
 * Holds actuators at the values the hub wants, by re-sending each command well within its lease.
 * A device returns an actuator to its safe value when the lease runs out, so anything the hub does
 * not actively hold falls back to safe on its own: the hub going quiet is itself a safe state.
 */
import type { Clock, Timer } from "../clock.ts";
import type { Logger } from "../logger.ts";
import type { Registry } from "../registry/registry.ts";
import type { DeviceId } from "../types.ts";
import type { CommandService } from "./commands.ts";

/** Refresh a held value when a third of its lease has passed. */
const REFRESH_FRACTION = 3;
const TICK_MS = 250;

export interface HeldActuator {
  deviceId: DeviceId;
  actuator: string;
  value: number;
  lastSentAt: number | null;
  lastAckAt: number | null;
  lastError: string | null;
  inFlight: boolean;
}

export class ActuatorKeeper {
  private readonly held = new Map<string, HeldActuator>();
  private timer: Timer | null = null;

  constructor(private readonly ctx: { clock: Clock; registry: Registry; commands: CommandService; logger: Logger }) {}

  start(): void {
    this.timer ??= this.ctx.clock.setInterval(() => this.tick(), TICK_MS);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  hold(deviceId: DeviceId, actuator: string, value: number): void {
    const key = `${deviceId}/${actuator}`;
    const prev = this.held.get(key);
    this.held.set(key, { deviceId, actuator, value, lastSentAt: prev?.value === value ? prev.lastSentAt : null, lastAckAt: prev?.lastAckAt ?? null, lastError: null, inFlight: false });
    this.tick();
  }

  /** Stops holding: the device falls back to safe when the lease ends, or at once if told so. */
  release(deviceId: DeviceId, actuator: string): void {
    this.held.delete(`${deviceId}/${actuator}`);
  }

  list(): HeldActuator[] {
    return [...this.held.values()].map((h) => ({ ...h }));
  }

  private tick(): void {
    const now = this.ctx.clock.now();
    for (const h of this.held.values()) {
      if (h.inFlight) continue;
      const view = this.ctx.registry.view(h.deviceId);
      const spec = view?.actuators[h.actuator];
      if (view === undefined || spec === undefined || view.state === "offline" || view.state === "unknown") continue;
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
