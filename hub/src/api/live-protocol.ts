/**
 * The live stream's wire format (socket.io), shared by the hub and the dashboard.
 *
 * On connect the server emits `snapshot` (everything a screen needs to draw), then `frame` at most
 * `live.maxFramesPerS` times a second with what changed since the previous frame: the latest value
 * of each changed channel (older values in between are coalesced away; history has them all) and
 * each device whose state changed. A client that falls behind skips frames and gets a fresh
 * `snapshot` once its socket has drained.
 *
 * Everything a screen shows about safety comes from here and nowhere else: interlocks, stations
 * (with whether each may start now), what the hub holds, every actuator's state and the visit. A
 * frame re-sends whatever a change can have touched (an interlock's change re-sends every station,
 * whose `startable` depends on it), so a screen never has to poll REST or read the audit log to
 * stay right.
 */
import type { Alarm } from "../core/alarms/alarms.ts";
import type { InterlockView } from "../core/interlock/service.ts";
import type { HeldActuator } from "../core/actuators/keeper.ts";
import type { StationView } from "../core/stations/stations.ts";
import type { Visit } from "../core/visits/visits.ts";
import type { ActuatorSpec } from "../../../firmware-bridge/contract/messages.ts";
import type { ChannelQuality, DeviceKind, DeviceState, Provenance, Text } from "../core/types.ts";
import type { LatestInvocation } from "./commands.ts";

export type { ActuatorSpec, Alarm, HeldActuator, InterlockView, LatestInvocation, StationView, Visit };

export const LIVE_EVENTS = { snapshot: "snapshot", frame: "frame", hubHealth: "hub" } as const;

export interface LiveChannel {
  value: number | null;
  unit: string;
  min: number;
  max: number;
  label?: string;
  /** Hub time the value arrived (ms since the epoch), null if never. */
  at: number | null;
  /** Age at the moment the frame was built, ms. */
  ageMs: number | null;
  quality: ChannelQuality;
  prov: Provenance;
}

export interface LiveDevice {
  id: string;
  name: string;
  /** Its name in both languages (the config's `name` and `nameEn`). */
  label: Text;
  kind: DeviceKind;
  simulated: boolean;
  state: DeviceState;
  /** The state's reason for technicians and logs (English, channel names). */
  stateReason: string;
  /** The same for people, in both languages. */
  stateText: Text;
  lastSeen: number | null;
  channels: Record<string, LiveChannel>;
}

/**
 * One actuator as the hub knows it, for the instructor console: whether the hub holds it, the
 * last start or stop staff asked for, and why the hub let go of it if nobody stopped it.
 */
export interface ActuatorView {
  /** `device.actuator` */
  ref: string;
  device: string;
  actuator: string;
  /** Its name in both languages: the config's `labels`, else the device's own label (in both), else its name. */
  label: Text;
  /** What the device declared (its safe value, lease, range, label). */
  spec: ActuatorSpec;
  /**
   * held: the hub keeps it at `value`, re-sent within its lease; pending: asked for at start-up (the
   * config's `hold`), waiting for its permissives; released: the hub let go of a hold nobody stopped
   * (`released` says why); off: not held, so the device is at its safe value or returns to it when
   * its lease runs out.
   */
  state: "held" | "pending" | "released" | "off";
  /** The value held, or null. */
  value: number | null;
  /** Why the last refresh of the held value failed, or null. */
  error: string | null;
  /** The last `actuator.start` or `actuator.stop` since the hub started (who, when, the hub's answer). */
  order: LatestInvocation | null;
  /** When the hub let go of it without a stop, and why (the interlock or emergency stop that forbade it, the visit's end). */
  released: { at: number; interlock: string | null; why: Text } | null;
}

/**
 * The simulated installation's clock: simulated time = anchorSimMs + (hub time - anchorRealMs) *
 * speed. Re-anchored on every change of speed or jump in time.
 */
export interface SimClockView {
  anchorRealMs: number;
  anchorSimMs: number;
  speed: number;
}

export interface LiveSnapshot {
  /** Hub time the snapshot was built. */
  t: number;
  site: string;
  siteName: string;
  devices: LiveDevice[];
  /** Every interlock (the emergency stop is `estop`) with its state and reasons in both languages. */
  interlocks: InterlockView[];
  /** Alarms that need attention: active or not yet acknowledged. */
  alarms: Alarm[];
  /** Demo stations (printers, robots): state, program, progress, whether they may start. */
  stations: StationView[];
  /** What the hub holds on (actuator values re-sent within their leases). */
  holds: HeldActuator[];
  /** Every actuator a device has declared, in the registry's order. */
  actuators: ActuatorView[];
  /** The class visit, if one runs. */
  visit: Visit | null;
  /** The simulated installation's clock, or null when nothing is simulated. */
  simClock: SimClockView | null;
}

export interface LiveValue {
  /** device id */
  d: string;
  /** channel */
  c: string;
  v: number | null;
  /** hub receive time */
  at: number | null;
  /** the device's own timestamp */
  ts: number | null;
  ageMs: number | null;
  quality: ChannelQuality;
  prov: Provenance;
}

export interface LiveDeviceChange {
  id: string;
  state: DeviceState;
  stateReason: string;
  stateText: Text;
  lastSeen: number | null;
}

export interface LiveFrame {
  t: number;
  /** Frame counter since the client connected; a gap means frames were skipped. */
  n: number;
  values: LiveValue[];
  devices: LiveDeviceChange[];
  /** Interlocks whose state changed, in full. */
  interlocks: InterlockView[];
  /** Alarms that changed (raised, cleared, acknowledged), in full. */
  alarms: Alarm[];
  /**
   * Stations that changed or whose `startable` may have (after any interlock's or the visit's
   * change, all of them), in full.
   */
  stations: StationView[];
  /** Present when the held actuators changed: all of them. */
  holds?: HeldActuator[];
  /** Present when actuators changed (held, let go, started or stopped, described anew): those, in full. */
  actuators?: ActuatorView[];
  /** Present when a device described itself without actuators it had: their refs. */
  actuatorsGone?: string[];
  /** Present when the visit started or ended: the visit, or null. */
  visit?: Visit | null;
  /** Present when the simulated clock changed (a new speed, a jump in time). */
  simClock?: SimClockView | null;
}
