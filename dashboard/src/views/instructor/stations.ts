/**
 * Stations the instructor runs: the stations the hub lists in its snapshot (3D printers, robots:
 * programs from an approved catalogue), those of the running visit first and in the visit's
 * order, and the Tiny House (its devices' actuators, grouped per device), shown as one group. A station is a kind plus a renderer; the hub describes printers and robots in the
 * same words (state, program, progress, startable), so one card serves every program station and
 * a kind this dashboard has not seen before is still shown and operable rather than left out.
 */
import type { ActuatorView, LiveStore, StationView } from "../../core/live-store.ts";
import type { IconName } from "../../components/icons.ts";
import { t } from "../../i18n/index.ts";
import { labelOf, stationName } from "./words.ts";

export interface ActuatorItem {
  device: string;
  actuator: string;
  /** Its name as a person reads it (the hub's bilingual label, else the dictionary's, else the device's). */
  name: string;
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
    items.push({ device: a.device, actuator: a.actuator, name: labelOf(a, a.ref, a.spec.label), spec: a.spec, evidence: EVIDENCE[a.ref] ?? null, holdToStart: HOLD_TO_START.test(a.actuator) });
  }
  // In the order the hub lists its devices, not the order frames happened to bring them in.
  const rank = new Map((live.snapshot?.devices ?? []).map((d, i) => [d.id, i]));
  const ordered = [...groups].sort(([a], [b]) => (rank.get(a) ?? rank.size) - (rank.get(b) ?? rank.size));
  const stations: Station[] = [];
  // The class's task first: the visit's stations in the visit's order, then the others as the hub lists them.
  const order = live.visit()?.stations ?? [];
  const rankOf = (id: string) => (order.includes(id) ? order.indexOf(id) : order.length);
  const programs = listed.map((s, i) => ({ s, i })).sort((a, b) => rankOf(a.s.id) - rankOf(b.s.id) || a.i - b.i);
  for (const { s } of programs) stations.push({ type: "program", id: s.id, kind: s.kind, name: stationName(live, s.id), icon: KIND_ICON[s.kind] ?? "cpu" });
  if (ordered.length > 0) {
    stations.push({ type: "actuators", id: "tiny-house", kind: "tiny-house", name: t("station.tinyHouse"), icon: "house", groups: ordered.map(([device, items]) => ({ device, items })) });
  }
  return stations;
}

export function deviceTitle(live: LiveStore, id: string): string {
  const d = live.device(id);
  return labelOf(d, id, d?.name);
}
