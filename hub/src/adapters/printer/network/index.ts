/**
 * The network printer drivers, loaded only for the protocols a config uses.
 */
import type { PrinterProtocol } from "../../../config/schema.ts";
import { HubError } from "../../../core/errors.ts";
import type { PrinterDeviceConfig } from "../rules.ts";
import type { NetworkDriverContext, NetworkDriverOptions, NetworkPrinterDriver } from "./driver.ts";

export type NetworkProtocol = Exclude<PrinterProtocol, "marlin">;

export async function createNetworkDriver(config: PrinterDeviceConfig, ctx: NetworkDriverContext, options: Partial<NetworkDriverOptions> = {}): Promise<NetworkPrinterDriver> {
  switch (config.protocol) {
    case "ultimaker":
      return (await import("./ultimaker.ts")).createUltimakerDriver(config, ctx, options);
    case "bambu-lan":
      return (await import("./bambu.ts")).createBambuDriver(config, ctx, options);
    case "prusalink":
      return (await import("./prusalink.ts")).createPrusaLinkDriver(config, ctx, options);
    case "moonraker":
      return (await import("./moonraker.ts")).createMoonrakerDriver(config, ctx, options);
    case "octoprint":
      return (await import("./octoprint.ts")).createOctoPrintDriver(config, ctx, options);
    default:
      throw new HubError("CONFIG_INVALID", `devices: printer "${config.id}": protocol "${config.protocol}" is not a network printer's`);
  }
}
