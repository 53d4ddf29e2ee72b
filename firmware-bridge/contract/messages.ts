/**
 * The TEC device contract, version 1: the message model every device speaks, whatever carries it
 * (MQTT today, serial lines in firmware-bridge/serial later). See firmware-bridge/PROTOCOL.md.
 *
 * These schemas are the single source of truth for the shape of a message. Hub, simulators and
 * tests import them; nothing else re-describes a message.
 */
import { z } from "zod";

export const CONTRACT_VERSION = "1.0";

/** Device and channel names: lower-case letters, digits and dashes; `_` prefixes are the hub's. */
export const DEVICE_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,47}$/;
/** Channel and actuator names: camelCase letters and digits, units in the name (`pvPowerW`). */
export const CHANNEL_NAME_PATTERN = /^[a-zA-Z][a-zA-Z0-9]{0,47}$/;

/** A message larger than this is rejected before it is parsed. */
export const MAX_MESSAGE_BYTES = 4096;
/** A telemetry message carries at most this many readings. */
export const MAX_READINGS_PER_MESSAGE = 64;

const finite = z.number().refine(Number.isFinite, { message: "must be a finite number" });
const channelName = z.string().regex(CHANNEL_NAME_PATTERN, "must be camelCase letters and digits");

export const ChannelSpec = z
  .object({
    unit: z.string().max(16),
    min: finite,
    max: finite,
    periodMs: z.number().int().min(50).max(3_600_000),
    label: z.string().max(80).optional(),
  })
  .strict()
  .refine((c) => c.min <= c.max, { message: "min must not exceed max" });
export type ChannelSpec = z.infer<typeof ChannelSpec>;

export const ActuatorSpec = z
  .object({
    /** The value the device returns the actuator to when its lease runs out or the hub goes quiet. */
    safe: finite,
    /** How long one command holds before the device falls back to `safe`, unless refreshed. */
    leaseMs: z.number().int().min(100).max(3_600_000),
    min: finite.optional(),
    max: finite.optional(),
    label: z.string().max(80).optional(),
  })
  .strict();
export type ActuatorSpec = z.infer<typeof ActuatorSpec>;

/** `tec/<site>/<device>/meta`, retained: what the device is and what it measures and drives. */
export const MetaMessage = z
  .object({
    contract: z.string().max(8).optional(),
    model: z.string().min(1).max(64),
    firmware: z.string().min(1).max(32),
    boot: z.number().int().min(0),
    simulated: z.boolean().optional(),
    channels: z.record(channelName, ChannelSpec),
    actuators: z.record(channelName, ActuatorSpec).default({}),
  })
  .strict();
export type MetaMessage = z.infer<typeof MetaMessage>;

/**
 * `tec/<site>/<device>/tele`: readings are plain numbers. Values are checked against the meta by
 * the hub one by one (an unknown or out-of-range reading is refused, the rest of the message kept),
 * so the schema only checks the envelope here.
 */
export const TeleMessage = z
  .object({
    ts: z.number().int().min(0),
    seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    readings: z.record(z.string().max(48), z.unknown()),
  })
  .strict();
export type TeleMessage = z.infer<typeof TeleMessage>;

const TELE_KEYS = new Set(["ts", "seq", "readings"]);

/**
 * The hot path's test of a tele envelope: true only for what `TeleMessage` accepts (a table-driven
 * test holds the two together). A false sends the message through `TeleMessage` for the error.
 * At tens of thousands of messages a second zod's generic walk is a quarter of the pipeline's time.
 */
export function isTeleEnvelope(body: unknown): body is TeleMessage {
  if (typeof body !== "object" || body === null || Object.getPrototypeOf(body) !== Object.prototype) return false;
  const b = body as Record<string, unknown>;
  const { ts, seq, readings } = b;
  if (typeof ts !== "number" || !Number.isSafeInteger(ts) || ts < 0) return false;
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0) return false;
  if (typeof readings !== "object" || readings === null || Array.isArray(readings)) return false;
  let keys = 0;
  for (const k in b) {
    if (!Object.hasOwn(b, k)) continue;
    if (!TELE_KEYS.has(k)) return false;
    keys++;
  }
  if (keys !== 3) return false;
  for (const k in readings) {
    if (Object.hasOwn(readings, k) && k.length > 48) return false;
  }
  return Object.getPrototypeOf(readings) === Object.prototype;
}

export const DeviceHealthState = z.enum(["ok", "degraded", "fault"]);
export type DeviceHealthState = z.infer<typeof DeviceHealthState>;

/** `tec/<site>/<device>/health`: how the device itself feels. */
export const HealthMessage = z
  .object({
    state: DeviceHealthState,
    uptimeS: z.number().min(0),
    boot: z.number().int().min(0),
    rssiDbm: z.number().min(-130).max(0).optional(),
    freeHeapB: z.number().int().min(0).optional(),
    detail: z.string().max(200).optional(),
  })
  .strict();
export type HealthMessage = z.infer<typeof HealthMessage>;

/** `tec/<site>/<device>/cmd/<actuator>`, hub to device, never retained. */
export const CommandMessage = z
  .object({
    id: z.string().min(1).max(64),
    value: finite,
    leaseMs: z.number().int().min(100).max(3_600_000),
  })
  .strict();
export type CommandMessage = z.infer<typeof CommandMessage>;

/** `tec/<site>/<device>/ack`: the device's answer to one command. */
export const AckMessage = z
  .object({
    id: z.string().min(1).max(64),
    ok: z.boolean(),
    error: z.string().max(200).optional(),
  })
  .strict();
export type AckMessage = z.infer<typeof AckMessage>;

/** `tec/<site>/<device>/event`: something happened on the device (a local trip, a button). */
export const EventMessage = z
  .object({
    ts: z.number().int().min(0),
    type: z.string().min(1).max(48),
    detail: z.string().max(200).optional(),
  })
  .strict();
export type EventMessage = z.infer<typeof EventMessage>;

export const StatusPayload = z.enum(["online", "offline"]);
export type StatusPayload = z.infer<typeof StatusPayload>;

/** `tec/<site>/_hub/heartbeat` at 1 Hz: devices drop to safe when it has been missing for 3 s. */
export const HubHeartbeat = z
  .object({
    ts: z.number().int().min(0),
    seq: z.number().int().min(0),
  })
  .strict();
export type HubHeartbeat = z.infer<typeof HubHeartbeat>;

/** A device treats the hub as lost after this long without a heartbeat. */
export const HUB_HEARTBEAT_TIMEOUT_MS = 3000;
export const HUB_HEARTBEAT_PERIOD_MS = 1000;

/** Turns a zod error into one readable line: `readings.pvPowerW: expected number`. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join(".");
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join("; ");
}
