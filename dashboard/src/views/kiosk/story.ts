/**
 * What the kiosk says, decided in one place from the same numbers it shows: each value as shown
 * (after the one threshold below which a flow is noise) and each sentence beside it, so "9 W" never
 * stands next to "Niets van of naar het net", the e-stop never says "everything is off" while the
 * house uses power, and "Dit gaat vanzelf weer over" is never said of something that stays off
 * until a grown-up switches it on again. Pure: no DOM, table-tested (test/dashboard-kiosk/).
 *
 * Sentences are dictionary keys with their placeholders' values, rendered by the view with `t`.
 */
import { computeFlows, equivalent, FLOW_THRESHOLD_W, ownShare, type Flows } from "../../core/energy.ts";
import type { StringKey } from "../../i18n/strings.ts";

/**
 * A sentence: a dictionary key and its placeholders. Numbers stay numbers (the view formats them
 * for the language on screen: a placeholder ending in `W` as power, `time` as a clock time); a
 * placeholder can itself be a sentence ("Genoeg voor {what}").
 */
export interface Said {
  key: StringKey;
  vars?: Record<string, string | number | Said>;
}

export interface StoryInput {
  pvW: number | null;
  gridW: number | null;
  batteryW: number | null;
  loadW: number | null;
  heatPumpW: number | null;
  irradianceWm2: number | null;
  socPct: number | null;
  hpHeatW: number | null;
  hpCop: number | null;
}

/** One card: the watts shown (null: no value, "–") and its two lines. */
export interface NodeStory {
  shownW: number | null;
  dir: Said | null;
  caption: Said | null;
}

export interface FlowStory {
  flows: Flows;
  night: boolean;
  pv: NodeStory;
  grid: NodeStory;
  house: NodeStory;
  battery: NodeStory;
  heatPump: NodeStory;
  /** 0..1, or null when the house uses (almost) nothing. */
  share: number | null;
  headline: Said;
}

/** A value below the flow threshold is shown as 0: what the picture draws as still, the number says too. */
export function shownPower(w: number | null): number | null {
  if (w === null || !Number.isFinite(w)) return null;
  return Math.abs(w) < FLOW_THRESHOLD_W ? 0 : Math.round(w);
}

/** The everyday comparison for a number of watts (kettles, laptops, LED lamps: core/energy.ts); null for what is shown as 0. */
export function comparison(w: number): Said | null {
  const eq = Math.abs(w) < FLOW_THRESHOLD_W ? null : equivalent(w);
  if (eq === null) return null;
  const one = eq.count === 1;
  const vars = { n: eq.count };
  switch (eq.kind) {
    case "kettle":
      return { key: one ? "eq.kettle.one" : "eq.kettle.other", vars };
    case "laptop":
      return { key: one ? "eq.laptop.one" : "eq.laptop.other", vars };
    case "ledLamp":
      return { key: one ? "eq.ledLamp.one" : "eq.ledLamp.other", vars };
  }
}

export function flowStory(r: StoryInput): FlowStory {
  const flows = computeFlows({ pvW: r.pvW, gridW: r.gridW, batteryW: r.batteryW, loadW: r.loadW, heatPumpW: r.heatPumpW });
  const pv = shownPower(r.pvW === null ? null : Math.max(0, r.pvW));
  const grid = shownPower(r.gridW);
  const battery = shownPower(r.batteryW);
  const load = shownPower(r.loadW === null ? null : Math.max(0, r.loadW));
  const hp = shownPower(r.heatPumpW === null ? null : Math.max(0, r.heatPumpW));
  const night = (pv ?? 0) === 0 && (r.irradianceWm2 === null || r.irradianceWm2 < 1);

  const pvNode: NodeStory = {
    shownW: pv,
    dir: null,
    caption: pv === null ? null : night ? { key: "flow.caption.pvNight" } : pv === 0 ? { key: "eq.nothingMade" } : { key: "eq.enough", vars: { what: comparison(pv) ?? { key: "eq.nothingMade" } } },
  };
  const gridNode: NodeStory = {
    shownW: grid === null ? null : Math.abs(grid),
    dir: grid === null ? null : grid === 0 ? { key: "flow.grid.none" } : grid > 0 ? { key: "flow.grid.import" } : { key: "flow.grid.export" },
    caption: grid !== null && grid < 0 ? { key: "flow.caption.export" } : null,
  };
  const houseNode: NodeStory = {
    shownW: load,
    dir: null,
    caption: load === null ? null : load === 0 ? { key: "eq.nothingUsed" } : { key: "eq.asMuch", vars: { what: comparison(load) ?? { key: "eq.nothingUsed" } } },
  };
  const batteryNode: NodeStory = {
    shownW: battery === null ? null : Math.abs(battery),
    dir: battery === null ? null : battery === 0 ? { key: "flow.battery.idle" } : battery < 0 ? { key: "flow.battery.charging" } : { key: "flow.battery.discharging" },
    caption: r.socPct === null ? null : { key: "flow.battery.soc", vars: { pct: Math.round(r.socPct) } },
  };
  const hpOn = (hp ?? 0) > 0;
  const heatPumpNode: NodeStory = {
    shownW: hp,
    dir: hp === null || hpOn ? null : { key: "flow.heatPump.off" },
    caption: hpOn && r.hpHeatW !== null ? { key: "flow.heatPump.makes", vars: { heatW: Math.round(r.hpHeatW), times: Math.round((r.hpCop ?? r.hpHeatW / Math.max(1, hp ?? 1)) * 10) / 10 } } : null,
  };
  return { flows, night, pv: pvNode, grid: gridNode, house: houseNode, battery: batteryNode, heatPump: heatPumpNode, share: ownShare(flows), headline: headline(flows, pv, load, night) };
}

function headline(f: Flows, pv: number | null, load: number | null, night: boolean): Said {
  if (pv === null || load === null) return { key: "flow.headline.waiting" };
  if (night) return { key: f.batteryToHouse > f.gridToHouse ? "flow.headline.nightBattery" : "flow.headline.night" };
  if (f.pvToGrid + f.pvToBattery > 0 && f.gridToHouse === 0) return { key: "flow.headline.surplus" };
  if (f.pvToHouse > 0 && f.gridToHouse === 0 && f.batteryToHouse === 0) return { key: "flow.headline.allSun" };
  if (f.pvToHouse > 0) return { key: "flow.headline.helping" };
  return { key: "flow.headline.grid" };
}

/** What the kiosk knows about one thing that stopped, for the "why?" panel. */
export interface WhyInput {
  id: string;
  status: "normal" | "waiting" | "tripped" | "cleared";
  latched: boolean;
  /** Actuators this rule forbids that stay off until staff switch them on again (released by it, or by the e-stop). */
  leftOff: number;
  /** The house's use now (W, as measured), or null. */
  loadW: number | null;
  /** When it tripped (hub time, ms). */
  trippedAt: number;
}

/**
 * The line under an explanation: what happens next. Never "it sorts itself out" while something
 * it switched off stays off until a grown-up switches it on; the e-stop's says that the machines are
 * stopped and, when it does, that the house still uses power.
 */
export function whyNext(i: WhyInput): Said[] {
  const out: Said[] = [];
  if (i.id === "estop") {
    const load = shownPower(i.loadW);
    out.push(i.status === "cleared" ? { key: "why.estopCleared" } : { key: "why.estopMachines" });
    if (load !== null && load > 0) out.push({ key: "why.houseStillUses", vars: { useW: load } });
    return out;
  }
  if (i.status === "cleared") out.push({ key: "why.cleared" });
  else if (i.status === "tripped" && i.latched) out.push({ key: "why.latched", vars: { time: i.trippedAt } });
  else if (i.status === "tripped" && i.leftOff > 0) out.push({ key: "why.staysOff" });
  else if (i.status === "tripped") out.push({ key: "why.selfClearing" });
  return out;
}
