/**
 * The live stream's wire format (socket.io), shared by the hub and the dashboard.
 *
 * On connect the server emits `snapshot` (everything a screen needs to draw), then `frame` at most
 * `live.maxFramesPerS` times a second with what changed since the previous frame: the latest value
 * of each changed channel (older values in between are coalesced away; history has them all) and
 * each device whose state changed. A client that falls behind skips frames and gets a fresh
 * `snapshot` once its socket has drained.
 */
import type { Alarm } from "../core/alarms/alarms.ts";
import type { InterlockView } from "../core/interlock/service.ts";
import type { HeldActuator } from "../core/actuators/keeper.ts";
import type { StationView } from "../core/stations/stations.ts";
import type { Visit } from "../core/visits/visits.ts";
import type { ChannelQuality, DeviceKind, DeviceState, Provenance } from "../core/types.ts";

export type { Alarm, HeldActuator, InterlockView, StationView, Visit };

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
  kind: DeviceKind;
  simulated: boolean;
  state: DeviceState;
  stateReason: string;
  lastSeen: number | null;
  channels: Record<string, LiveChannel>;
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
  /** The class visit, if one runs. */
  visit: Visit | null;
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
  /** Stations that changed, in full (at most one frame's worth of progress updates). */
  stations: StationView[];
  /** Present when the held actuators changed: all of them. */
  holds?: HeldActuator[];
  /** Present when the visit started or ended: the visit, or null. */
  visit?: Visit | null;
}
