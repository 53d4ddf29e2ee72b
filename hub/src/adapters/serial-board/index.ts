/**
 * Builds the serial boards a config declares. Wiring only.
 */
import type { HubConfig } from "../../config/schema.ts";
import type { Clock } from "../../core/clock.ts";
import { HubError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { Registry } from "../../core/registry/registry.ts";
import type { TelemetryPipeline } from "../../core/telemetry/pipeline.ts";
import { asDeviceId } from "../../core/types.ts";
import { createByteLink, parseLinkUrl } from "../../transports/byte-link.ts";
import { SupervisedLink } from "../../transports/supervised-link.ts";
import { SerialBoard } from "./adapter.ts";

export type SerialBoardConfig = Extract<HubConfig["devices"][number], { kind: "serial" }>;

export function buildSerialBoards(config: Readonly<HubConfig>, ctx: { clock: Clock; logger: Logger; pipeline: TelemetryPipeline; registry: Registry }): Map<string, SerialBoard> {
  const boards = new Map<string, SerialBoard>();
  for (const d of config.devices) {
    if (d.kind !== "serial") continue;
    if (d.url.startsWith("sim:")) throw new HubError("CONFIG_INVALID", `devices: serial board "${d.id}" has url "${d.url}": sim:// is filled in by the demo runner (npm start)`);
    const logger = ctx.logger.child({ board: d.id });
    const link = new SupervisedLink(createByteLink(parseLinkUrl(d.url)), { clock: ctx.clock, logger });
    boards.set(d.id, new SerialBoard(asDeviceId(d.id), link, { clock: ctx.clock, logger, pipeline: ctx.pipeline, registry: ctx.registry, simulated: d.simulated }));
  }
  return boards;
}
