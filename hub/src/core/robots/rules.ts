/**
 * The interlocks every robot station gets: a door opened while a program runs stops it and
 * latches (a restart waits for the door to close and a reset); the robot's own e-stop latches too;
 * and because every channel a rule reads is an input, a lost connection trips both. Any other
 * fault of the station (a program error, a protective stop during a program, a firmware fault the
 * robot reports) trips `<id>-fault`, which the station reports; it cannot be reset while the robot
 * is unreachable or its door is open (the usual cause of a protective stop; the robot's own latch
 * is reset with the rule, and a cell refuses that while its cause is still there). Resetting a station's trips resets the robot's own
 * fault state (the cell's ResetFault), which starts nothing. Mode and presence are permissives of
 * the demo state machine, not trips.
 */
import type { EngineRule } from "../interlock/engine.ts";
import { bilingualName, text } from "../texts/texts.ts";
import type { Text } from "../types.ts";

export const robotDoorRuleId = (robot: string) => `${robot}-door`;
export const robotEstopRuleId = (robot: string) => `${robot}-estop`;
export const robotFaultRuleId = (robot: string) => `${robot}-fault`;

/** Every rule a robot station's fault can be behind: resetting them (and the e-stop) clears it. */
export const robotRuleIds = (robot: string) => [robotDoorRuleId(robot), robotEstopRuleId(robot), robotFaultRuleId(robot)];

/** `label`: the robot's name in both languages; without it, `name` in both. */
export function robotRules(r: { id: string; name: string; label?: Text; resetRoles: Array<"instructor" | "technician"> }): EngineRule[] {
  const robot = r.label ?? bilingualName(r.name);
  const resetEffect = text("robot.rule.resetEffect");
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
      id: robotDoorRuleId(r.id),
      name: text("robot.rule.door.name", { robot }),
      reason: text("robot.rule.door.reason", { robot }),
      kiosk: text("robot.rule.door.kiosk"),
      when: {
        type: "all",
        of: [
          { type: "equals", input: `${r.id}.doorClosed`, value: 0 },
          { type: "equals", input: `${r.id}.running`, value: 1 },
        ],
      },
      actions: [{ type: "station", station: r.id, command: "estop" }],
      // The station also trips it when the robot ends the program on the door itself (a Firmata arm
      // does, in the same update that reports the door): it stays tripped while the door is open.
      causeWhile: { condition: { type: "equals", input: `${r.id}.doorClosed`, value: 0 } },
      resetEffect,
    },
    {
      ...base,
      id: robotEstopRuleId(r.id),
      name: text("robot.rule.estop.name", { robot }),
      reason: text("robot.rule.estop.reason", { robot }),
      when: { type: "equals", input: `${r.id}.emergencyStop`, value: 1 },
      actions: [{ type: "station", station: r.id, command: "estop" }],
      resetEffect,
    },
    {
      ...base,
      id: robotFaultRuleId(r.id),
      name: text("robot.rule.fault.name", { robot }),
      reason: text("robot.rule.fault.reason", { robot }),
      kiosk: text("robot.rule.fault.kiosk"),
      when: null,
      actions: [{ type: "station", station: r.id, command: "estop" }],
      // Not while the robot cannot be seen, nor while its door is open (a protective stop's usual
      // cause). The robot's own latch (a cell's protective stop) is reset with the rule: the cell
      // checks its own causes again and refuses if one is still there.
      causeWhile: { condition: { type: "equals", input: `${r.id}.doorClosed`, value: 0 } },
      resetEffect,
    },
  ];
}
