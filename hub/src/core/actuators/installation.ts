/**
 * The installation's own holds (the config's `hold:`: the ventilation on, the heat pump enabled)
 * after an emergency stop or a trip switched them off (issue 11, finding 4). Nothing comes back by
 * itself: `status()` says which are off and whether they may come back now (each through its
 * permissives), and `restore()` (one deliberate action by an instructor or technician) starts
 * again each that may, refusing the others with their reasons. Each start is the keeper's own
 * `hold`, so a latched trip or the e-stop still forbids it.
 */
import { HubError } from "../errors.ts";
import type { Registry } from "../registry/registry.ts";
import { text, verbatim } from "../texts/texts.ts";
import type { DeviceId, Text } from "../types.ts";
import type { ActuatorKeeper, Permits } from "./keeper.ts";

export interface ConfiguredHold {
  deviceId: DeviceId;
  actuator: string;
  value: number;
}

export interface InstallationItem extends ConfiguredHold {
  /** The actuator's label from its device's meta, if it has one. */
  label: string | null;
  /** held: the hub holds it now; off: the configured value is not held (a stop, a trip, a person). */
  state: "held" | "pending" | "off";
  /** For an item that is off: null if it may come back now, else why not. */
  blocked: Text | null;
}

export interface RestoreResult {
  restored: ConfiguredHold[];
  refused: Array<ConfiguredHold & { reason: Text }>;
  alreadyOn: ConfiguredHold[];
}

export class Installation {
  constructor(
    private readonly ctx: { keeper: ActuatorKeeper; permits: Permits; registry: Registry },
    private readonly configured: readonly ConfiguredHold[],
  ) {}

  status(): InstallationItem[] {
    const held = new Map(this.ctx.keeper.list().map((h) => [`${h.deviceId}/${h.actuator}`, h]));
    return this.configured.map((c) => {
      const h = held.get(`${c.deviceId}/${c.actuator}`);
      const spec = this.ctx.registry.view(c.deviceId)?.actuators[c.actuator];
      const label = spec?.label ?? null;
      if (h !== undefined && h.value === c.value) return { ...c, label, state: h.status === "held" ? "held" : "pending", blocked: null };
      return { ...c, label, state: "off", blocked: this.blocker(c) };
    });
  }

  /** Starts again every configured hold that is off and may start; refuses the rest with their reasons. */
  restore(): RestoreResult {
    const result: RestoreResult = { restored: [], refused: [], alreadyOn: [] };
    for (const item of this.status()) {
      const c: ConfiguredHold = { deviceId: item.deviceId, actuator: item.actuator, value: item.value };
      if (item.state !== "off") {
        result.alreadyOn.push(c);
        continue;
      }
      if (item.blocked !== null) {
        result.refused.push({ ...c, reason: item.blocked });
        continue;
      }
      try {
        this.ctx.keeper.hold(c.deviceId, c.actuator, c.value);
        result.restored.push(c);
      } catch (error) {
        const reason = error instanceof HubError && error.reason !== undefined ? error.reason : verbatim(String(error instanceof Error ? error.message : error));
        result.refused.push({ ...c, reason });
      }
    }
    return result;
  }

  private blocker(c: ConfiguredHold): Text | null {
    const view = this.ctx.registry.view(c.deviceId);
    const device = this.ctx.registry.label(c.deviceId);
    if (view === undefined || view.state === "offline" || view.state === "unknown") return text("actuator.unreachable", { device });
    if (view.actuators[c.actuator] === undefined) return text("actuator.notDeclared", { device, actuator: this.ctx.registry.partLabel(c.deviceId, c.actuator) });
    const verdict = this.ctx.permits.check(c.deviceId, c.actuator, c.value);
    return verdict.allowed ? null : verdict.reason;
  }
}
