/**
 * Stations the instructor runs: the Tiny House (its devices' actuators, grouped per device) and
 * the stations the hub lists in its snapshot (3D printers, robots: programs from an approved
 * catalogue). A station is a kind plus a renderer; the hub describes printers and robots in the
 * same words (state, program, progress, startable), so one card serves every program station and
 * a kind this dashboard has not seen before is still shown and operable rather than left out.
 */
import type { LiveStore, StationView } from "../../core/live-store.ts";
import type { IconName } from "../../components/icons.ts";
import { nameOf, t } from "../../i18n/index.ts";

export interface ActuatorSpec {
  safe: number;
  leaseMs: number;
  min?: number;
  max?: number;
  label?: string;
}

/** What /api/devices says about a device (the parts the station needs). */
export interface DeviceInfo {
  id: string;
  name: string;
  state: string;
  stateReason: string;
  simulated: boolean;
  actuators: Record<string, ActuatorSpec>;
}

export interface ActuatorItem {
  device: string;
  actuator: string;
  spec: ActuatorSpec;
  /** A reading that shows what the actuator does (not its state: that is not measured). */
  evidence: { device: string; channel: string } | null;
  /** Starting it is dangerous enough to ask for a hold (a heater). */
  holdToStart: boolean;
}

/** The Tiny House: actuators held by the hub. */
export interface ActuatorStation {
  type: "actuators";
  id: string;
  kind: "tiny-house";
  name: string;
  icon: IconName;
  groups: Array<{ device: string; items: ActuatorItem[] }>;
}

/** A printer, a robot, or a kind to come: programs from a catalogue. */
export interface ProgramStation {
  type: "program";
  id: string;
  kind: string;
  name: string;
  icon: IconName;
}

export type Station = ActuatorStation | ProgramStation;

/** The Tiny House's readings that show an actuator at work. */
const EVIDENCE: Record<string, { device: string; channel: string }> = {
  "water.heaterEnable": { device: "water", channel: "heaterPowerW" },
  "water.pumpEnable": { device: "water", channel: "pumpFlowLpm" },
  "heat-pump.compressorEnable": { device: "heat-pump", channel: "hpPowerW" },
  "climate.ventilationEnable": { device: "climate", channel: "ventilationPct" },
  "battery.chargeEnable": { device: "battery", channel: "batteryPowerW" },
  "battery.dischargeEnable": { device: "battery", channel: "batteryPowerW" },
};

/** Heaters start only with hold-to-confirm. */
const HOLD_TO_START = /heater/i;

export const KIND_ICON: Record<string, IconName> = { "tiny-house": "house", printer: "printer", robot: "robot" };

/** The stations on screen: the Tiny House from the devices with actuators, plus what the hub lists. */
export function stationsFrom(live: LiveStore, devices: readonly DeviceInfo[]): Station[] {
  const listed: readonly StationView[] = live.stations();
  const withActuators = devices.filter((d) => Object.keys(d.actuators).length > 0);
  const stations: Station[] = [];
  if (withActuators.length > 0) {
    stations.push({
      type: "actuators",
      id: "tiny-house",
      kind: "tiny-house",
      name: t("station.tinyHouse"),
      icon: "house",
      groups: withActuators.map((d) => ({
        device: d.id,
        items: Object.entries(d.actuators).map(([actuator, spec]) => ({
          device: d.id,
          actuator,
          spec,
          evidence: EVIDENCE[`${d.id}.${actuator}`] ?? null,
          holdToStart: HOLD_TO_START.test(actuator),
        })),
      })),
    });
  }
  for (const s of listed) stations.push({ type: "program", id: s.id, kind: s.kind, name: s.name, icon: KIND_ICON[s.kind] ?? "cpu" });
  return stations;
}

export function deviceTitle(d: DeviceInfo | undefined, id: string): string {
  return nameOf(id, d?.name);
}
