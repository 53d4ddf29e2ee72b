/**
 * Builds the Firmata robot-arm stations a config declares. Wiring only.
 */
import { deviceLabel } from "../../config/names.ts";
import type { HubConfig } from "../../config/schema.ts";
import { text } from "../../core/texts/texts.ts";
import { HubError } from "../../core/errors.ts";
import { RobotStation } from "../../core/robots/station.ts";
import type { RobotWiring } from "../opcua-robot/index.ts";
import { FirmataArmDriver } from "./driver.ts";

export type RobotFirmataConfig = Extract<HubConfig["devices"][number], { kind: "robot-firmata" }>;

export function buildFirmataRobots(config: Readonly<HubConfig>, w: Omit<RobotWiring, "pkiFolder">): RobotStation[] {
  return config.devices
    .filter((d): d is RobotFirmataConfig => d.kind === "robot-firmata")
    .map((r) => {
      if (r.url.startsWith("sim:")) throw new HubError("CONFIG_INVALID", `devices: robot arm "${r.id}" has url "${r.url}": sim:// is filled in by the demo runner (npm start)`);
      const driver = new FirmataArmDriver(
        { url: r.url, servos: r.servos, ...(r.doorPin !== undefined ? { doorPin: r.doorPin } : {}), programs: r.programs, maxSpeedDegS: r.maxSpeedDegS, handshakeTimeoutMs: r.handshakeTimeoutMs },
        { clock: w.clock, logger: w.logger.child({ robot: r.id }) },
      );
      return new RobotStation(
        {
          id: r.id,
          name: r.name,
          label: deviceLabel(r),
          simulated: r.simulated,
          catalogue: Object.keys(r.programs),
          axes: r.servos.length,
          note: text("robot.firmataNote"),
        },
        driver,
        { clock: w.clock, pipeline: w.pipeline, changed: () => w.changed(r.id), permissives: () => w.permissives(r.id), trip: w.trip, onEnforced: (why) => w.enforced(r.id, why) },
      );
    });
}
