/**
 * Interlock rules as the config declares them. The engine (core/interlock) evaluates them; this
 * file is the single description of their shape, bounds and defaults.
 */
import { z } from "zod";

/** `<device>.<channel>`, e.g. `water.leak`. */
export const ChannelRef = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,47}\.[a-zA-Z][a-zA-Z0-9]{0,47}$/, 'must be "<device>.<channel>", e.g. "water.leak"');
/** `<device>.<actuator>`, e.g. `water.pumpEnable`. */
export const ActuatorRef = ChannelRef.describe("<device>.<actuator>");

export const Text = z.object({ nl: z.string().min(1).max(300), en: z.string().min(1).max(300) }).strict();
export const Role = z.enum(["kiosk", "instructor", "technician"]);

const finite = z.number().refine(Number.isFinite, "must be a finite number");

/**
 * A condition on the inputs. Every channel a rule names is an input: whatever the condition says,
 * an input that is missing, stale, invalid or from an unavailable device trips the rule.
 */
export type Condition =
  | { type: "above"; input: string; value: number; hysteresis: number }
  | { type: "below"; input: string; value: number; hysteresis: number }
  | { type: "equals"; input: string; value: number }
  | { type: "rate"; input: string; risePerMin?: number | undefined; fallPerMin?: number | undefined; windowS: number }
  | { type: "stuck"; input: string; forS: number }
  | { type: "tripped"; interlock: string }
  | { type: "all"; of: Condition[] }
  | { type: "any"; of: Condition[] };

export const Condition: z.ZodType<Condition, unknown> = z.lazy(() =>
  z.discriminatedUnion("type", [
    // True above `value`; once true, false again only below `value - hysteresis`.
    z.object({ type: z.literal("above"), input: ChannelRef, value: finite, hysteresis: z.number().min(0).default(0) }).strict(),
    // True below `value`; once true, false again only above `value + hysteresis`.
    z.object({ type: z.literal("below"), input: ChannelRef, value: finite, hysteresis: z.number().min(0).default(0) }).strict(),
    // A contact: true while the input equals `value` (a door switch 1 = open, a leak sensor 1 = wet).
    z.object({ type: z.literal("equals"), input: ChannelRef, value: finite }).strict(),
    // True while the input rises (or falls) faster than this many units per minute over `windowS`.
    z
      .object({ type: z.literal("rate"), input: ChannelRef, risePerMin: z.number().positive().optional(), fallPerMin: z.number().positive().optional(), windowS: z.number().min(1).max(3600).default(60) })
      .strict()
      .refine((c) => c.risePerMin !== undefined || c.fallPerMin !== undefined, "needs risePerMin or fallPerMin"),
    // A stuck sensor: the value has not changed at all for `forS` although readings keep coming.
    z.object({ type: z.literal("stuck"), input: ChannelRef, forS: z.number().min(1).max(86_400) }).strict(),
    // True while another interlock is not normal.
    z.object({ type: z.literal("tripped"), interlock: z.string().min(1).max(64) }).strict(),
    z.object({ type: z.literal("all"), of: z.array(Condition).min(1).max(16) }).strict(),
    z.object({ type: z.literal("any"), of: z.array(Condition).min(1).max(16) }).strict(),
  ]),
);

export const TripAction = z.discriminatedUnion("type", [
  // Send the actuator to the safe value its device declares in its meta, and stop holding it.
  z.object({ type: z.literal("safe"), actuator: ActuatorRef }).strict(),
  // The emergency stop: every actuator of every device to safe, latched until reset.
  z.object({ type: z.literal("estop") }).strict(),
  // A station (printer, robot) to pause, stop, or stop at once (M112, the cell's stop).
  z.object({ type: z.literal("station"), station: z.string().regex(/^[a-z0-9][a-z0-9-]{0,47}$/), command: z.enum(["pause", "stop", "estop"]) }).strict(),
]);
export type TripAction = z.infer<typeof TripAction>;

export const InterlockRule = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "must be lower-case letters, digits and dashes"),
    name: Text,
    /** What people read when it trips: "Pomp uit: lekkage gedetecteerd" / "Pump off: leak detected". */
    reason: Text,
    /** A child-friendly line for the kiosk's "why did this stop?". */
    kiosk: Text.optional(),
    severity: z.enum(["info", "warning", "critical"]).default("warning"),
    when: Condition,
    /** The condition must hold this long before the rule trips (inputs going bad trip at once). */
    delayS: z.number().min(0).max(3600).default(0),
    actions: z.array(TripAction).default([]),
    /** A latched trip stays until an authorised person resets it; an unlatched one clears itself. */
    latch: z.boolean().default(true),
    reset: z
      .object({
        roles: z.array(Role.exclude(["kiosk"])).min(1).default(["technician"]),
        /** The cause must have been gone, and every input fresh, for this long before a reset is accepted. */
        clearForS: z.number().min(0).max(3600).default(5),
      })
      .strict()
      .default({ roles: ["technician"], clearForS: 5 }),
    /** Actuators that may not be started (set away from safe) unless this rule is normal: its permissives. */
    forbids: z.array(ActuatorRef).default([]),
    /** If a trip action is not acknowledged within the actuator's lease: an alarm, or the emergency stop too. */
    escalation: z.enum(["alarm", "estop"]).default("alarm"),
  })
  .strict();
export type InterlockRule = z.infer<typeof InterlockRule>;

export const SafetyConfig = z
  .object({
    /** Who may reset the emergency stop once its cause is gone. */
    estopResetRoles: z.array(Role.exclude(["kiosk"])).min(1).default(["instructor", "technician"]),
    /**
     * E-stop buttons on MQTT (`<device>.<channel>`, 1 = pressed). A button that is pressed, or
     * whose device is offline or stale, holds the emergency stop: a lost button is a pressed one.
     */
    estopButtons: z.array(ChannelRef).default([]),
    /**
     * The on-screen e-stop without a login from the hub's own machine (a browser on the hub: the
     * demo's console). Other screens need a login or registration as a terminal by a technician.
     */
    estopFromHubMachine: z.boolean().default(true),
  })
  .strict();
export type SafetyConfig = z.infer<typeof SafetyConfig>;

/** Every channel a condition reads, for freshness checks and for the hazard table. */
export function conditionInputs(c: Condition): string[] {
  switch (c.type) {
    case "all":
    case "any":
      return [...new Set(c.of.flatMap(conditionInputs))];
    case "tripped":
      return [];
    default:
      return [c.input];
  }
}
