/**
 * The channels a printer station reports (temperatures, progress and, for a printer that reports
 * its own door, the door), with their names in both languages (the hub's dictionary). The
 * station's meta names them in Dutch; the registry gives every printer these labels, so an
 * interlock that names a printer's door ("printer-3.doorOpen") says it in the console's language.
 */
import { text } from "../texts/texts.ts";

export const PRINTER_CHANNEL_LABELS = {
  hotendTempC: text("printer.channel.hotendTempC"),
  hotendTargetC: text("printer.channel.hotendTargetC"),
  bedTempC: text("printer.channel.bedTempC"),
  bedTargetC: text("printer.channel.bedTargetC"),
  progressPct: text("printer.channel.progressPct"),
  doorOpen: text("printer.channel.doorOpen"),
} as const;
