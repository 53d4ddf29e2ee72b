/**
 * Trip actions: an actuator to the safe value its device declares, re-sent until the device
 * acknowledges, escalated if it has not within the actuator's lease. Idempotent per actuator: a
 * second trip asking for the same actuator joins the one already under way.
 */
import type { CommandService } from "../actuators/commands.ts";
import type { ActuatorKeeper } from "../actuators/keeper.ts";
import type { Clock, Timer } from "../clock.ts";
import type { Logger } from "../logger.ts";
import type { Registry } from "../registry/registry.ts";
import type { DeviceId } from "../types.ts";

const RETRY_MS = 500;
/** Used when the device never declared the actuator (its meta is unknown). */
const DEFAULT_LEASE_MS = 10_000;

export interface Escalation {
  ruleId: string;
  deviceId: DeviceId;
  actuator: string;
  /** Why: no acknowledgement within the lease, the device is unreachable, or it refuses. */
  lastError: string;
}

interface Pending {
  deviceId: DeviceId;
  actuator: string;
  rules: Set<string>;
  startedAt: number;
  escalated: boolean;
  inFlight: boolean;
  timer: Timer | null;
  lastError: string;
  attempts: number;
}

export interface SafeStateStatus {
  deviceId: DeviceId;
  actuator: string;
  rules: string[];
  sinceMs: number;
  attempts: number;
  lastError: string;
  escalated: boolean;
}

export class SafeStateEnforcer {
  private readonly pending = new Map<string, Pending>();
  readonly counters = { confirmed: 0, escalations: 0 };

  constructor(
    private readonly ctx: { clock: Clock; registry: Registry; commands: CommandService; keeper: ActuatorKeeper; logger: Logger },
    private readonly onEscalate: (e: Escalation) => void,
    private readonly onConfirmed: (deviceId: DeviceId, actuator: string, rules: string[], latencyMs: number) => void = () => {},
  ) {}

  ensureSafe(ruleId: string, deviceId: DeviceId, actuator: string): void {
    // Never hold it again on our own, whatever happens next.
    this.ctx.keeper.release(deviceId, actuator);
    const key = `${deviceId}/${actuator}`;
    const existing = this.pending.get(key);
    if (existing !== undefined) {
      existing.rules.add(ruleId);
      return;
    }
    const p: Pending = { deviceId, actuator, rules: new Set([ruleId]), startedAt: this.ctx.clock.now(), escalated: false, inFlight: false, timer: null, lastError: "", attempts: 0 };
    this.pending.set(key, p);
    this.attempt(key, p);
  }

  /** Every actuator of every device that has declared any: the emergency stop. */
  ensureAllSafe(ruleId: string): number {
    this.ctx.keeper.releaseAll();
    let n = 0;
    for (const view of this.ctx.registry.list()) {
      for (const actuator of Object.keys(view.actuators)) {
        this.ensureSafe(ruleId, view.id, actuator);
        n++;
      }
    }
    return n;
  }

  status(): SafeStateStatus[] {
    const now = this.ctx.clock.now();
    return [...this.pending.values()].map((p) => ({ deviceId: p.deviceId, actuator: p.actuator, rules: [...p.rules], sinceMs: now - p.startedAt, attempts: p.attempts, lastError: p.lastError, escalated: p.escalated }));
  }

  stop(): void {
    for (const p of this.pending.values()) p.timer?.cancel();
    this.pending.clear();
  }

  private attempt(key: string, p: Pending): void {
    p.timer = null;
    if (this.pending.get(key) !== p) return;
    const { registry, commands, clock } = this.ctx;
    const view = registry.view(p.deviceId);
    const spec = view?.actuators[p.actuator];
    const leaseMs = spec?.leaseMs ?? DEFAULT_LEASE_MS;
    this.checkEscalation(p, leaseMs);
    if (spec === undefined) {
      p.lastError = `device ${p.deviceId} has not declared actuator ${p.actuator}: its own safe default applies`;
      p.timer = clock.setTimeout(() => this.attempt(key, p), RETRY_MS * 2);
      return;
    }
    p.inFlight = true;
    p.attempts++;
    commands.send(p.deviceId, p.actuator, spec.safe).then(
      () => {
        p.inFlight = false;
        // Stopped (or superseded) meanwhile: nobody waits for this any more.
        if (this.pending.get(key) !== p) return;
        this.pending.delete(key);
        this.counters.confirmed++;
        this.onConfirmed(p.deviceId, p.actuator, [...p.rules], clock.now() - p.startedAt);
      },
      (error: unknown) => {
        p.inFlight = false;
        if (this.pending.get(key) !== p) return;
        p.lastError = error instanceof Error ? error.message : String(error);
        this.checkEscalation(p, leaseMs);
        p.timer = clock.setTimeout(() => this.attempt(key, p), RETRY_MS);
      },
    );
  }

  private checkEscalation(p: Pending, leaseMs: number): void {
    if (p.escalated || this.ctx.clock.now() - p.startedAt < leaseMs) return;
    p.escalated = true;
    this.counters.escalations++;
    for (const ruleId of p.rules) {
      try {
        this.onEscalate({ ruleId, deviceId: p.deviceId, actuator: p.actuator, lastError: p.lastError || "no acknowledgement" });
      } catch (error) {
        // An escalation that cannot be recorded must not stop the retries that follow it.
        this.ctx.logger.error({ err: error, ruleId, device: p.deviceId, actuator: p.actuator }, "escalation failed");
      }
    }
  }
}
