/**
 * What Home Assistant documents for an MQTT discovery config, as strict zod schemas: a key HA does
 * not document fails, and so does a device class with a unit or state class HA refuses. Used by the
 * tests of home-assistant.ts (unit and integration) to validate every payload the hub publishes;
 * the hub itself does not need it.
 *
 * Sources (HA 2025.10 and later, when `default_entity_id` replaced `object_id`, which 2026.4 dropped):
 * - https://www.home-assistant.io/integrations/sensor.mqtt/ (configuration variables)
 * - https://www.home-assistant.io/integrations/binary_sensor.mqtt/ (configuration variables)
 * - https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery (topic format, `origin`,
 *   empty retained payload removes an entity, birth message `<prefix>/status`)
 * - https://www.home-assistant.io/integrations/sensor/#device-class and HA core
 *   `homeassistant/components/sensor/const.py` (DEVICE_CLASS_UNITS, DEVICE_CLASS_STATE_CLASSES)
 * - ../shared/reference/deployment-and-integrations.md §1 (checklist 1.9)
 */
import { z } from "zod";

/** Discovery topic: `<prefix>/<component>/[<node_id>/]<object_id>/config`, ids `[a-zA-Z0-9_-]`. */
export const DISCOVERY_TOPIC = /^([a-zA-Z0-9_-]+)\/(sensor|binary_sensor)\/(?:([a-zA-Z0-9_-]+)\/)?([a-zA-Z0-9_-]+)\/config$/;

const noWildcards = z.string().min(1).refine((t) => !/[+#]/.test(t), "a topic without wildcards");
const template = z.string().min(1);

const availabilityItem = z
  .object({
    topic: noWildcards,
    payload_available: z.string().optional(),
    payload_not_available: z.string().optional(),
    value_template: template.optional(),
  })
  .strict();

const device = z
  .object({
    configuration_url: z.string().optional(),
    connections: z.array(z.tuple([z.string(), z.string()])).optional(),
    hw_version: z.string().optional(),
    identifiers: z.union([z.string(), z.array(z.string().min(1)).min(1)]).optional(),
    manufacturer: z.string().optional(),
    model: z.string().optional(),
    model_id: z.string().optional(),
    name: z.string().optional(),
    serial_number: z.string().optional(),
    suggested_area: z.string().optional(),
    sw_version: z.string().optional(),
    via_device: z.string().optional(),
  })
  .strict()
  .refine((d) => d.identifiers !== undefined || d.connections !== undefined, "at least one of identifiers or connections");

const origin = z.object({ name: z.string().min(1), sw_version: z.string().optional(), support_url: z.string().optional() }).strict();

/** Keys every MQTT entity platform documents (availability, device, naming, …). */
const common = {
  availability: z.array(availabilityItem).min(1).optional(),
  availability_mode: z.enum(["all", "any", "latest"]).optional(),
  availability_template: template.optional(),
  availability_topic: noWildcards.optional(),
  default_entity_id: z.string().optional(),
  device: device.optional(),
  enabled_by_default: z.boolean().optional(),
  encoding: z.string().optional(),
  entity_category: z.literal("diagnostic").optional(),
  entity_picture: z.string().optional(),
  expire_after: z.number().int().positive().optional(),
  force_update: z.boolean().optional(),
  icon: z.string().optional(),
  json_attributes_template: template.optional(),
  json_attributes_topic: noWildcards.optional(),
  name: z.string().min(1).nullable().optional(),
  payload_available: z.string().optional(),
  payload_not_available: z.string().optional(),
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
  state_topic: noWildcards,
  unique_id: z.string().min(1).optional(),
  value_template: template.optional(),
  origin: origin.optional(),
};

type StateClass = "measurement" | "total" | "total_increasing";
const MEASUREMENT: StateClass[] = ["measurement"];
const TOTALS: StateClass[] = ["total", "total_increasing"];

/** Device classes the hub may use: units HA accepts for each (exact strings) and state classes allowed. */
export const SENSOR_DEVICE_CLASSES: Readonly<Record<string, { units: readonly string[]; stateClasses: readonly StateClass[] }>> = {
  power: { units: ["mW", "W", "kW", "MW", "GW", "TW", "BTU/h"], stateClasses: MEASUREMENT },
  energy: { units: ["J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal", "Mcal", "Gcal"], stateClasses: TOTALS },
  temperature: { units: ["°C", "°F", "K"], stateClasses: MEASUREMENT },
  battery: { units: ["%"], stateClasses: MEASUREMENT },
  humidity: { units: ["%"], stateClasses: MEASUREMENT },
  carbon_dioxide: { units: ["ppm"], stateClasses: MEASUREMENT },
  voltage: { units: ["V", "mV", "μV", "kV", "MV"], stateClasses: MEASUREMENT },
  current: { units: ["A", "mA"], stateClasses: MEASUREMENT },
  frequency: { units: ["Hz", "kHz", "MHz", "GHz"], stateClasses: MEASUREMENT },
  volume_flow_rate: { units: ["m³/h", "m³/min", "m³/s", "ft³/min", "L/h", "L/min", "L/s", "gal/h", "gal/min", "gal/d", "mL/s"], stateClasses: MEASUREMENT },
  irradiance: { units: ["W/m²", "BTU/(h⋅ft²)"], stateClasses: MEASUREMENT },
};

/** binary_sensor device classes (https://www.home-assistant.io/integrations/binary_sensor/#device-class). */
export const BINARY_DEVICE_CLASSES = [
  "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door", "garage_door", "gas", "heat", "light", "lock",
  "moisture", "motion", "moving", "occupancy", "opening", "plug", "power", "presence", "problem", "running", "safety", "smoke",
  "sound", "tamper", "update", "vibration", "window",
] as const;

export const SensorConfig = z
  .object({
    ...common,
    device_class: z.string().nullable().optional(),
    last_reset_value_template: template.optional(),
    options: z.array(z.string()).min(1).optional(),
    state_class: z.enum(["measurement", "total", "total_increasing"]).optional(),
    suggested_display_precision: z.number().int().min(0).optional(),
    unit_of_measurement: z.string().nullable().optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.availability !== undefined && c.availability_topic !== undefined) ctx.addIssue({ code: "custom", message: "availability and availability_topic must not be used together" });
    if (c.default_entity_id !== undefined && !/^sensor\.[a-z0-9_]+$/.test(c.default_entity_id)) ctx.addIssue({ code: "custom", path: ["default_entity_id"], message: "must be sensor.<lower-case id>" });
    if (c.device_class !== undefined && c.device_class !== null) {
      const known = SENSOR_DEVICE_CLASSES[c.device_class];
      if (known === undefined) ctx.addIssue({ code: "custom", path: ["device_class"], message: `device class ${c.device_class} is not one the hub may use` });
      else {
        if (!known.units.includes(c.unit_of_measurement ?? "")) ctx.addIssue({ code: "custom", path: ["unit_of_measurement"], message: `unit ${String(c.unit_of_measurement)} is not valid together with device class ${c.device_class}` });
        if (c.state_class !== undefined && !known.stateClasses.includes(c.state_class)) ctx.addIssue({ code: "custom", path: ["state_class"], message: `state class ${c.state_class} is impossible for device class ${c.device_class}` });
      }
    }
    if (c.last_reset_value_template !== undefined && c.state_class !== "total") ctx.addIssue({ code: "custom", message: "last_reset_value_template needs state_class total" });
    if (c.options !== undefined && (c.device_class !== "enum" || c.state_class !== undefined || c.unit_of_measurement !== undefined)) ctx.addIssue({ code: "custom", message: "options only with device_class enum, never with a unit or state class" });
  });

export const BinarySensorConfig = z
  .object({
    ...common,
    device_class: z.enum(BINARY_DEVICE_CLASSES).nullable().optional(),
    off_delay: z.number().int().positive().optional(),
    payload_off: z.string().optional(),
    payload_on: z.string().optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.availability !== undefined && c.availability_topic !== undefined) ctx.addIssue({ code: "custom", message: "availability and availability_topic must not be used together" });
    if (c.default_entity_id !== undefined && !/^binary_sensor\.[a-z0-9_]+$/.test(c.default_entity_id)) ctx.addIssue({ code: "custom", path: ["default_entity_id"], message: "must be binary_sensor.<lower-case id>" });
  });

/**
 * Validates one published config: the topic's form, then the payload against its component's
 * schema. Returns the parsed payload and the topic's parts; throws with every problem otherwise.
 */
export function validateDiscovery(topic: string, payload: string): { component: "sensor" | "binary_sensor"; nodeId: string | undefined; objectId: string; config: Record<string, unknown> } {
  const m = DISCOVERY_TOPIC.exec(topic);
  if (m === null) throw new Error(`${topic}: not a discovery config topic`);
  const component = m[2] as "sensor" | "binary_sensor";
  const json = JSON.parse(payload) as unknown;
  const parsed = (component === "sensor" ? SensorConfig : BinarySensorConfig).safeParse(json);
  if (!parsed.success) throw new Error(`${topic}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return { component, nodeId: m[3], objectId: m[4] ?? "", config: parsed.data };
}

/**
 * Renders the one template form the hub uses, `{{ value_json.readings['<name>'] | default('') }}`,
 * against a state message as Home Assistant would (Jinja: a missing key is undefined, `default`
 * makes it ''). Anything else throws, so a template the test cannot check cannot slip in.
 */
export function renderValueTemplate(template: string, payload: string): string {
  const m = /^\{\{ value_json\.readings\['([A-Za-z0-9]+)'\] \| default\(''\) \}\}$/.exec(template);
  if (m === null) throw new Error(`template ${template} is not one the test can render`);
  const body = JSON.parse(payload) as { readings?: Record<string, unknown> };
  const v = body.readings?.[m[1] ?? ""];
  // Readings are numbers (the contract); anything else is shown as JSON would write it.
  return v === undefined ? "" : typeof v === "number" ? String(v) : JSON.stringify(v);
}
