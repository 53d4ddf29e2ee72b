/**
 * The interlocks every robot station gets: a door opened while a program runs stops it and
 * latches (a restart waits for the door and a reset); the robot's own e-stop latches too; and
 * because every channel a rule reads is an input, a lost connection trips both. Mode, protective
 * stop and presence are permissives of the demo state machine, not trips.
 */
import type { EngineRule } from "../interlock/engine.ts";

export function robotRules(r: { id: string; name: string; resetRoles: Array<"instructor" | "technician"> }): EngineRule[] {
  const base = {
    delayS: 0,
    latch: true,
    reset: { roles: r.resetRoles, clearForS: 1 },
    forbids: [`${r.id}.start`],
    escalation: "alarm" as const,
    severity: "critical" as const,
  };
  return [
    {
      ...base,
      id: `${r.id}-door`,
      name: { nl: `${r.name}: deur open tijdens programma`, en: `${r.name}: door opened during a program` },
      reason: { nl: `${r.name} gestopt: de deur ging open terwijl de robot bewoog`, en: `${r.name} stopped: the door was opened while the robot was moving` },
      kiosk: { nl: "De deur van de robot ging open terwijl hij bewoog. Hij is meteen gestopt, zodat niemand geraakt wordt.", en: "The robot's door opened while it was moving. It stopped at once so nobody gets hit." },
      when: {
        type: "all",
        of: [
          { type: "equals", input: `${r.id}.doorClosed`, value: 0 },
          { type: "equals", input: `${r.id}.running`, value: 1 },
        ],
      },
      actions: [{ type: "station", station: r.id, command: "estop" }],
    },
    {
      ...base,
      id: `${r.id}-estop`,
      name: { nl: `${r.name}: noodstop`, en: `${r.name}: emergency stop` },
      reason: { nl: `De noodstop van ${r.name} is ingedrukt`, en: `${r.name}'s emergency stop is pressed` },
      when: { type: "equals", input: `${r.id}.emergencyStop`, value: 1 },
      actions: [{ type: "station", station: r.id, command: "estop" }],
    },
  ];
}
