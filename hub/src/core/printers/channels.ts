/**
 * The channels a printer station reports (temperatures, progress and, for a printer that reports
 * its own door, the door), with their names in both languages. The station's meta names them in
 * Dutch; the registry gives every printer these labels, so an interlock that names a printer's
 * door ("printer-3.doorOpen") says it in the console's language.
 */
import type { Text } from "../types.ts";

export const PRINTER_CHANNEL_LABELS = {
  hotendTempC: { nl: "Temperatuur spuitmond", en: "Nozzle temperature" },
  hotendTargetC: { nl: "Doel spuitmond", en: "Nozzle target" },
  bedTempC: { nl: "Temperatuur printbed", en: "Bed temperature" },
  bedTargetC: { nl: "Doel printbed", en: "Bed target" },
  progressPct: { nl: "Voortgang", en: "Progress" },
  doorOpen: { nl: "Deur printer open", en: "Printer door open" },
} as const satisfies Readonly<Record<string, Text>>;
