/**
 * The interlocks every printer station gets, beside the site's own: a latched trip when the
 * firmware halts (thermal runaway, MINTEMP/MAXTEMP, kill) and when the hub's thermal watchdog
 * fires (with M112), and, if the printer has an enclosure door contact, no start while it is open
 * and a pause if it opens mid-print.
 */
import type { EngineRule } from "../../core/interlock/engine.ts";

export interface PrinterRuleInput {
  id: string;
  name: string;
  door?: string | undefined;
  resetRoles: Array<"instructor" | "technician">;
}

export const firmwareRuleId = (printer: string) => `${printer}-firmware`;
export const thermalRuleId = (printer: string) => `${printer}-thermal`;
export const doorRuleId = (printer: string) => `${printer}-door`;
export const faultRuleId = (printer: string) => `${printer}-fault`;

/** The latched rules behind a printer's fault: resetting one (or the e-stop) recovers the printer. */
export const printerFaultRuleIds = (printer: string) => [firmwareRuleId(printer), thermalRuleId(printer), faultRuleId(printer)];

const RECONNECTS: { nl: string; en: string } = {
  nl: "De hub verbindt opnieuw met de printer, waardoor zijn firmware herstart (verwarming uit, niets beweegt); er start niets. Stopt de printer weer, dan is de oorzaak er nog.",
  en: "The hub reconnects to the printer, which restarts its firmware (heaters off, nothing moves); nothing starts. If the printer halts again, the cause is still there.",
};

export function printerRules(p: PrinterRuleInput): EngineRule[] {
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
      name: { nl: `${p.name}: firmware gestopt`, en: `${p.name}: firmware halted` },
      reason: { nl: `${p.name} is door zijn eigen firmware gestopt`, en: `${p.name} was stopped by its own firmware` },
      kiosk: { nl: "De printer merkte zelf dat er iets mis was en is veilig gestopt.", en: "The printer noticed something was wrong and stopped safely by itself." },
      when: null,
      actions: [{ type: "station", station: p.id, command: "estop" }],
      // The hub cannot see whether a halted firmware's cause has gone (a thermistor wire fixed):
      // a reset tries, by restarting the firmware; Marlin halts again if the cause is still there.
      resetEffect: RECONNECTS,
    },
    {
      ...base,
      id: thermalRuleId(p.id),
      name: { nl: `${p.name}: temperatuurbewaking`, en: `${p.name}: thermal watchdog` },
      reason: { nl: `${p.name} gestopt (M112): de temperatuur gedroeg zich niet zoals verwacht`, en: `${p.name} stopped (M112): its temperature did not behave as expected` },
      kiosk: { nl: "De printer werd niet goed warm of te warm. De hub heeft hem meteen uitgezet.", en: "The printer did not heat up properly. The hub switched it off at once." },
      when: null,
      actions: [{ type: "station", station: p.id, command: "estop" }],
      resetEffect: RECONNECTS,
    },
    {
      ...base,
      id: faultRuleId(p.id),
      name: { nl: `${p.name}: verbinding weg tijdens het printen`, en: `${p.name}: connection lost while printing` },
      reason: { nl: `${p.name} was niet meer bereikbaar tijdens een print: de print is afgebroken`, en: `${p.name} could not be reached during a print: the print was aborted` },
      kiosk: { nl: "De hub verloor de verbinding met de printer tijdens het printen. De print is gestopt.", en: "The hub lost its connection to the printer during a print. The print stopped." },
      when: null,
      actions: [],
      // Not resettable while the printer is still unreachable.
      causeWhile: { inputs: [`${p.id}.hotendTempC`] },
      resetEffect: { nl: "De storing van de printer wordt gewist; er start niets.", en: "The printer's fault is cleared; nothing starts." },
    },
  ];
  if (p.door !== undefined) {
    rules.push({
      ...base,
      id: doorRuleId(p.id),
      severity: "info",
      name: { nl: `${p.name}: deur open`, en: `${p.name}: door open` },
      reason: { nl: `De deur van ${p.name} is open: niet starten, een print wordt gepauzeerd`, en: `The door of ${p.name} is open: no start, a print is paused` },
      kiosk: { nl: "De deur van de printer staat open. Dicht doen, dan kan hij verder.", en: "The printer's door is open. Close it and it can carry on." },
      when: { type: "equals", input: p.door, value: 1 },
      actions: [{ type: "station", station: p.id, command: "pause" }],
      // Opening a door is not a fault: the rule clears itself; resuming is a separate, deliberate action.
      latch: false,
    });
  }
  return rules;
}
