import type { HealthMessage, MetaMessage } from "../../../firmware-bridge/contract/messages.ts";

declare const deviceIdBrand: unique symbol;
/** A device's id as declared in the config (`pv-inverter`). */
export type DeviceId = string & { readonly [deviceIdBrand]: true };
export const asDeviceId = (id: string): DeviceId => id as DeviceId;

export type DeviceKind = "mqtt" | "serial" | "printer" | "robot-opcua" | "robot-firmata";

/**
 * unknown: nothing heard since the hub started; init: online, still describing itself or not every
 * channel seen yet; ready: every channel fresh and valid; degraded: online but a channel is invalid
 * or the device says so; stale: a channel has not reported within 3 x its period; offline: the
 * device said goodbye or its last will fired; fault: the device reports a fault.
 */
export type DeviceState = "unknown" | "init" | "ready" | "degraded" | "stale" | "offline" | "fault";

/** ok: fresh and valid; stale: too old; invalid: the last reading was refused; missing: never seen. */
export type ChannelQuality = "ok" | "stale" | "invalid" | "missing";

/** Where a value comes from, shown next to it on every screen. */
export type Provenance = "live" | "simulated" | "stale";

export type RejectCode =
  | "oversized"
  | "malformed-json"
  | "invalid-message"
  | "bad-topic"
  | "unknown-device"
  | "no-meta"
  | "unknown-channel"
  | "wrong-type"
  | "not-finite"
  | "out-of-range"
  | "too-many-readings"
  | "duplicate"
  | "bad-line"
  | "acl-denied"
  | "auth-failed"
  /** Another account tried to connect with one of this device's client ids (PROTOCOL.md). */
  | "client-id-refused"
  /** A connection over the account's cap, or from an address waiting out its failed-login backoff. */
  | "connection-refused"
  /** The device re-declared its channels more often than the hub takes. */
  | "meta-throttled"
  | "shed";

export interface ChannelValue {
  readonly value: number | null;
  /** Hub time the value arrived (ms since the epoch); null if never seen. */
  readonly at: number | null;
  /** The device's own timestamp of the value. */
  readonly deviceTs: number | null;
  readonly quality: ChannelQuality;
  readonly reason?: string;
}

/** One accepted telemetry message, immutable so fan-out needs no copies. */
export interface TelemetryBatch {
  readonly deviceId: DeviceId;
  /** Hub receive time, ms since the epoch. */
  readonly at: number;
  readonly deviceTs: number;
  readonly seq: number;
  readonly readings: ReadonlyArray<readonly [channel: string, value: number]>;
  readonly simulated: boolean;
}

/**
 * One line of a device's recent rejects. Repeats merge into one line: per code for connection and
 * repeat codes (auth-failed, client-id-refused, connection-refused, acl-denied, duplicate, shed,
 * meta-throttled), per code and reason (numbers aside) for the others, at most a few lines a code.
 * So a flood of one kind (2,000 failed logins) takes one line and every other kind stays in view.
 */
export interface RejectRecord {
  /** The latest time this line's reject happened (ms since the epoch). */
  readonly at: number;
  readonly code: RejectCode;
  /** The latest reason given. */
  readonly message: string;
  /** How many rejects merged into this line (at least 1). */
  readonly count: number;
  /** The first time, since the line was made. */
  readonly firstAt: number;
}

export interface DeviceCounters {
  messages: number;
  readings: number;
  rejects: number;
  duplicates: number;
  gaps: number;
  missedMessages: number;
  /** The tele sequence jumped forward further than the device could have sent (a glitch or a forged seq). */
  seqJumps: number;
  /** The tele sequence started again without a new boot counter (a reconnect, or honest messages after a bad seq). */
  seqRestarts: number;
  reboots: number;
  shed: number;
}

/** What technicians see about one device. Plain data: safe to serialise and send. */
export interface DeviceView {
  id: DeviceId;
  kind: DeviceKind;
  name: string;
  /** Its name in both languages (the config's `name` and `nameEn`). */
  label: Text;
  simulated: boolean;
  /** Printers: how the hub talks to it (`marlin`, `ultimaker`, `bambu-lan`, `prusalink`, `moonraker`, `octoprint`). */
  protocol?: string;
  state: DeviceState;
  stateSince: number;
  /** Why it is in this state, for technicians and logs (English, with channel names). */
  stateReason: string;
  /** The same for people, in both languages. */
  stateText: Text;
  status: "online" | "offline" | null;
  lastSeen: number | null;
  messageRatePerS: number;
  model: string | null;
  firmware: string | null;
  boot: number | null;
  health: HealthMessage | null;
  counters: DeviceCounters;
  rejectsByCode: Partial<Record<RejectCode, number>>;
  recentRejects: RejectRecord[];
  channels: Record<string, ChannelValue & { unit: string; min: number; max: number; periodMs: number; label?: string }>;
  actuators: MetaMessage["actuators"];
  /** The state when the hub last stopped, until the device is heard from again. */
  lastKnownState: DeviceState | null;
}

/** Who may do what: pupils' kiosk screens (no login), instructors (PIN), technicians (password). */
export type Role = "kiosk" | "instructor" | "technician";
export const ROLES: readonly Role[] = ["kiosk", "instructor", "technician"];

/** Who did something: a logged-in person, the hub itself, or a device (an e-stop button). */
export interface Actor {
  name: string;
  role: Role | "system" | "device";
}

/** A text in both languages of the centre: Dutch first. */
export interface Text {
  nl: string;
  en: string;
}
