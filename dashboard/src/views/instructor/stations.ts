/**
 * Stations the instructor runs: the Tiny House (its devices' actuators, grouped per device) and
 * the stations the hub lists in its snapshot (3D printers, robots: programs from an approved
 * catalogue). A station is a kind plus a renderer; the hub describes printers and robots in the
 * same words (state, program, progress, startable), so one card serves every program station and
 * a kind this dashboard has not seen before is still shown and operable rather than left out.
 */
import type { ActuatorView, LiveStore, StationView } from "../../core/live-store.ts";
import type { IconName } from "../../components/icons.ts";
import { nameOf, t } from "../../i18n/index.ts";

export interface ActuatorItem {
  device: string;
  actuator: string;
  spec: ActuatorView["spec"];
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

/** The stations on screen: the Tiny House from the actuators the hub lists, grouped per device, plus its stations. */
export function stationsFrom(live: LiveStore): Station[] {
  const listed: readonly StationView[] = live.stations();
  const groups = new Map<string, ActuatorItem[]>();
  for (const a of live.actuators()) {
    let items = groups.get(a.device);
    if (items === undefined) {
      items = [];
      groups.set(a.device, items);
    }
    items.push({ device: a.device, actuator: a.actuator, spec: a.spec, evidence: EVIDENCE[a.ref] ?? null, holdToStart: HOLD_TO_START.test(a.actuator) });
  }
  // In the order the hub lists its devices, not the order frames happened to bring them in.
  const rank = new Map((live.snapshot?.devices ?? []).map((d, i) => [d.id, i]));
  const ordered = [...groups].sort(([a], [b]) => (rank.get(a) ?? rank.size) - (rank.get(b) ?? rank.size));
  const stations: Station[] = [];
  if (ordered.length > 0) {
    stations.push({ type: "actuators", id: "tiny-house", kind: "tiny-house", name: t("station.tinyHouse"), icon: "house", groups: ordered.map(([device, items]) => ({ device, items })) });
  }
  for (const s of listed) stations.push({ type: "program", id: s.id, kind: s.kind, name: s.name, icon: KIND_ICON[s.kind] ?? "cpu" });
  return stations;
}

export function deviceTitle(live: LiveStore, id: string): string {
  return nameOf(id, live.device(id)?.name);
}
