/**
 * The network printer simulators by protocol, each loaded only when asked for (the demo, the
 * tests and the bench start them by their `protocol`).
 */
import type { NetPrinterSimHandle, NetPrinterSimOptions } from "./machine.ts";

export type { NetPrinterSimHandle, NetPrinterSimOptions } from "./machine.ts";

export const NET_PRINTER_PROTOCOLS = ["ultimaker", "bambu-lan", "prusalink", "moonraker", "octoprint"] as const;
export type NetPrinterProtocol = (typeof NET_PRINTER_PROTOCOLS)[number];

export async function startNetPrinterSim(protocol: NetPrinterProtocol, opts: NetPrinterSimOptions = {}): Promise<NetPrinterSimHandle> {
  switch (protocol) {
    case "ultimaker":
      return (await import("./ultimaker.ts")).startUltimakerSim(opts);
    case "bambu-lan":
      return (await import("./bambu.ts")).startBambuSim(opts);
    case "prusalink":
      return (await import("./prusalink.ts")).startPrusaLinkSim(opts);
    case "moonraker":
      return (await import("./moonraker.ts")).startMoonrakerSim(opts);
    case "octoprint":
      return (await import("./octoprint.ts")).startOctoPrintSim(opts);
  }
}
