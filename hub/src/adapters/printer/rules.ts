/**
 * The interlocks every printer station gets, beside the site's own: a latched trip when the
 * firmware halts (thermal runaway, MINTEMP/MAXTEMP, kill) and when the hub's thermal watchdog
 * fires (with M112), and, if the printer has an enclosure door contact, no start while it is open
 * and a pause if it opens mid-print.
 */
import { deviceLabel } from "../../config/names.ts";
import type { HubConfig } from "../../config/schema.ts";
import type { EngineRule } from "../../core/interlock/engine.ts";
import { bilingualName, text } from "../../core/texts/texts.ts";
import type { Text } from "../../core/types.ts";

export interface PrinterRuleInput {
  id: string;
  name: string;
  /** Its name in both languages; without it, `name` in both. */
  label?: Text | undefined;
  door?: string | undefined;
  resetRoles: Array<"instructor" | "technician">;
}

export const firmwareRuleId = (printer: string) => `${printer}-firmware`;
export const thermalRuleId = (printer: string) => `${printer}-thermal`;
export const doorRuleId = (printer: string) => `${printer}-door`;
export const faultRuleId = (printer: string) => `${printer}-fault`;

/** The latched rules behind a printer's fault: resetting one (or the e-stop) recovers the printer. */
export const printerFaultRuleIds = (printer: string) => [firmwareRuleId(printer), thermalRuleId(printer), faultRuleId(printer)];

const RECONNECTS: Text = text("printer.rule.reconnects");

export function printerRules(p: PrinterRuleInput): EngineRule[] {
  const printer = p.label ?? bilingualName(p.name);
  const base = {
    delayS: 0,
    latch: true,
    reset: { roles: p.resetRoles, clearForS: 0 },
    forbids: [`${p.id}.start`],
    escalation: "alarm" as const,
    severity: "critical" as const,
  };
  const rules: EngineRule[] = [
    {
      ...base,
      id: firmwareRuleId(p.id),
      name: text("printer.rule.firmware.name", { printer }),
      reason: text("printer.rule.firmware.reason", { printer }),
      kiosk: text("printer.rule.firmware.kiosk"),
      when: null,
      actions: [{ type: "station", station: p.id, command: "estop" }],
      // The hub cannot see whether a halted firmware's cause has gone (a thermistor wire fixed):
      // a reset tries, by restarting the firmware; Marlin halts again if the cause is still there.
      resetEffect: RECONNECTS,
    },
    {
      ...base,
      id: thermalRuleId(p.id),
      name: text("printer.rule.thermal.name", { printer }),
      reason: text("printer.rule.thermal.reason", { printer }),
      kiosk: text("printer.rule.thermal.kiosk"),
      when: null,
      actions: [{ type: "station", station: p.id, command: "estop" }],
      resetEffect: RECONNECTS,
    },
    {
      ...base,
      id: faultRuleId(p.id),
      name: text("printer.rule.lost.name", { printer }),
      reason: text("printer.rule.lost.reason", { printer }),
      kiosk: text("printer.rule.lost.kiosk"),
      when: null,
      actions: [],
      // Not resettable while the printer is still unreachable.
      causeWhile: { inputs: [`${p.id}.hotendTempC`] },
      resetEffect: text("printer.rule.lost.resetEffect"),
    },
  ];
  if (p.door !== undefined) {
    rules.push({
      ...base,
      id: doorRuleId(p.id),
      severity: "info",
      name: text("printer.rule.door.name", { printer }),
      reason: text("printer.rule.door.reason", { printer }),
      kiosk: text("printer.rule.door.kiosk"),
      when: { type: "equals", input: p.door, value: 1 },
      actions: [{ type: "station", station: p.id, command: "pause" }],
      // Opening a door is not a fault: the rule clears itself; resuming is a separate, deliberate action.
      latch: false,
    });
  }
  return rules;
}

export type PrinterDeviceConfig = Extract<HubConfig["devices"][number], { kind: "printer" }>;

export function printerConfigs(config: Readonly<HubConfig>): PrinterDeviceConfig[] {
  return config.devices.filter((d): d is PrinterDeviceConfig => d.kind === "printer");
}

/** The interlocks every printer of the config gets (light: the hub builds its engine before it loads any printer machinery). */
export function printerRulesOf(config: Readonly<HubConfig>): EngineRule[] {
  return printerConfigs(config).flatMap((p) => printerRules({ id: p.id, name: p.name, label: deviceLabel(p), door: p.door, resetRoles: p.resetRoles }));
}
