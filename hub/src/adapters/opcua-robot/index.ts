/**
 * Builds the OPC UA robot stations a config declares. Wiring only.
 */
import path from "node:path";
import { deviceLabel } from "../../config/names.ts";
import type { HubConfig } from "../../config/schema.ts";
import type { Clock } from "../../core/clock.ts";
import { HubError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { HubPermissives } from "../../core/robots/demo-machine.ts";
import { RobotStation } from "../../core/robots/station.ts";
import type { TelemetryPipeline } from "../../core/telemetry/pipeline.ts";
import type { Text } from "../../core/types.ts";
import { OpcuaRobotDriver } from "./driver.ts";

export type RobotOpcuaConfig = Extract<HubConfig["devices"][number], { kind: "robot-opcua" }>;

export interface RobotWiring {
  clock: Clock;
  logger: Logger;
  pipeline: TelemetryPipeline;
  pkiFolder: string;
  changed: (id: string) => void;
  permissives: (id: string) => HubPermissives;
  /** Trips one of a robot station's latched interlocks. */
  trip: (ruleId: string, detail: Text) => void;
  /** A robot ran while the hub forbade it and was halted: for the audit. */
  enforced: (id: string, why: Text) => void;
}

export function buildOpcuaRobots(config: Readonly<HubConfig>, w: RobotWiring): RobotStation[] {
  return config.devices
    .filter((d): d is RobotOpcuaConfig => d.kind === "robot-opcua")
    .map((r) => {
      if (r.endpoint.startsWith("sim:")) {
        throw new HubError("CONFIG_INVALID", `devices: robot "${r.id}" has endpoint "${r.endpoint}": sim:// is filled in by the demo runner (npm start), not usable by the hub itself`);
      }
      const driver = new OpcuaRobotDriver(
        {
          endpoint: r.endpoint,
          mapping: { vendorNamespace: r.vendorNamespace, cell: r.cell, arm: r.arm, axes: r.axes },
          pkiFolder: path.resolve(w.pkiFolder),
          paths: Object.fromEntries(Object.entries(r.paths).filter((e): e is [string, string] => e[1] !== undefined)),
        },
        { clock: w.clock, logger: w.logger.child({ robot: r.id }) },
      );
      return new RobotStation({ id: r.id, name: r.name, label: deviceLabel(r), simulated: r.simulated, catalogue: r.programs, axes: r.axes }, driver, {
        clock: w.clock,
        pipeline: w.pipeline,
        changed: () => w.changed(r.id),
        permissives: () => w.permissives(r.id),
        trip: w.trip,
        onEnforced: (why) => w.enforced(r.id, why),
      });
    });
}
