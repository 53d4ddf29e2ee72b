/**
 * Builds the printer stations a config declares: a Marlin driver on its link, or a network
 * printer's driver (loaded only for the protocols the config uses), and the station. Wiring only.
 */
import path from "node:path";
import { deviceLabel } from "../../config/names.ts";
import type { HubConfig } from "../../config/schema.ts";
import type { Clock } from "../../core/clock.ts";
import { HubError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { TelemetryPipeline } from "../../core/telemetry/pipeline.ts";
import type { Text } from "../../core/types.ts";
import { createByteLink, parseLinkUrl } from "../../transports/byte-link.ts";
import { SupervisedLink } from "../../transports/supervised-link.ts";
import { MarlinBackend, type PrinterBackend } from "./backend.ts";
import type { JobProgress } from "./job.ts";
import { MarlinDriver } from "./marlin-driver.ts";
import { faultRuleId, firmwareRuleId, printerConfigs, printerFaultRuleIds, thermalRuleId } from "./rules.ts";
import { PrinterStation } from "./station.ts";

export type { PrinterDeviceConfig } from "./rules.ts";
export { printerConfigs, printerRulesOf } from "./rules.ts";

export interface PrinterWiring {
  clock: Clock;
  logger: Logger;
  pipeline: TelemetryPipeline;
  changed: (id: string) => void;
  trip: (ruleId: string, detail: Text) => void;
  note: (printer: string, action: string, reason: string) => void;
  jobEnded: (job: JobProgress & { printer: string; actor: string }) => void;
}

export interface Printers {
  stations: PrinterStation[];
  catalogues: Map<string, string>;
}


export async function buildPrinters(config: Readonly<HubConfig>, w: PrinterWiring): Promise<Printers> {
  const stations: PrinterStation[] = [];
  const catalogues = new Map<string, string>();
  for (const p of printerConfigs(config)) {
    if (p.url.startsWith("sim:")) {
      throw new HubError("CONFIG_INVALID", `devices: printer "${p.id}" has url "${p.url}": sim:// is filled in by the demo runner (npm start), not usable by the hub itself`);
    }
    const logger = w.logger.child({ printer: p.id });
    let driver: PrinterBackend;
    if (p.protocol === "marlin") {
      const link = new SupervisedLink(createByteLink(parseLinkUrl(p.url)), { clock: w.clock, logger });
      driver = new MarlinBackend(new MarlinDriver(link, { clock: w.clock, logger }));
    } else {
      driver = await (await import("./network/index.ts")).createNetworkDriver(p, { clock: w.clock, logger }, { staleAfterMs: p.lostAfterS * 1000 });
    }
    const catalogueDir = path.resolve(p.catalogue);
    catalogues.set(p.id, catalogueDir);
    stations.push(
      new PrinterStation({ id: p.id, name: p.name, label: deviceLabel(p), simulated: p.simulated, catalogueDir, idleHeaterTimeoutS: p.idleHeaterTimeoutS }, driver, {
        clock: w.clock,
        logger,
        pipeline: w.pipeline,
        changed: () => w.changed(p.id),
        fault: (kind, detail) => w.trip(kind === "firmware" ? firmwareRuleId(p.id) : kind === "thermal" ? thermalRuleId(p.id) : faultRuleId(p.id), detail),
        faultRules: printerFaultRuleIds(p.id),
        note: (action, reason) => w.note(p.id, action, reason),
        jobEnded: w.jobEnded,
      }),
    );
  }
  return { stations, catalogues };
}
