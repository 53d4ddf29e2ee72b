/**
 * The Tiny House's energy flows as an animated picture, driven by live power (W): a line from
 * each source to each user whose thickness and dot speed follow the watts, with an arrow and a
 * value label (and the source's icon) on each, so direction and size never depend on colour or
 * motion. Nothing moves where nothing flows: at night the panels' lines are still and grey.
 */
import type { LiveStore } from "../../core/live-store.ts";
import { badgeKinds, isDoubtful, setBadges, type BadgeKind } from "../../components/badge.ts";
import { icon, iconMarkup, type IconName } from "../../components/icons.ts";
import { h, setAttr, setText, svg, toggleClass } from "../../core/dom.ts";
import { computeFlows, dotPeriodS, lineWidth, ownShare, type FlowName, type Flows } from "../../core/energy.ts";
import { num, power, powerParts } from "../../core/format.ts";
import { t } from "../../i18n/index.ts";
import { equivalentText } from "./words.ts";
import { arrowPoints, FLOW_GEOMETRY, NODES, pathD, pointAt, SUN, TRACKS, VIEW_H, VIEW_W, type NodeName, type Source } from "./flow-geometry.ts";

const SOURCE_ICON: Record<Source, IconName> = { pv: "sun", grid: "grid", battery: "battery", house: "house" };
const NODE_ICON: Record<NodeName, IconName> = { pv: "panel", grid: "grid", house: "house", battery: "battery", heatPump: "heatpump" };

interface NodeParts {
  root: HTMLElement;
  num: HTMLElement;
  unit: HTMLElement;
  dir: HTMLElement;
  caption: HTMLElement;
  badges: HTMLElement;
}

interface FlowParts {
  g: SVGGElement;
  line: SVGPathElement;
  dots: SVGPathElement;
  arrow: SVGPolygonElement;
  label: SVGGElement;
  labelText: SVGTextElement;
  labelBox: SVGRectElement;
}

function nodeCard(name: NodeName, title: string): NodeParts {
  const numEl = h("span", { class: "num" }, "–");
  const unit = h("span", { class: "unit" });
  const dir = h("div", { class: "node-dir" });
  const caption = h("div", { class: "node-caption" });
  const badges = h("div", { class: "badges" });
  const root = h(
    "div",
    { class: `node node-${name}`, "data-node": name },
    h("div", { class: "node-head" }, icon(NODE_ICON[name]), h("span", { class: "node-title" }, title)),
    h("div", { class: "node-value" }, numEl, unit, badges),
    dir,
    caption,
  );
  return { root, num: numEl, unit, dir, caption, badges };
}

export interface FlowView {
  el: HTMLElement;
  update(): void;
}

export function energyFlowView(live: LiveStore): FlowView {
  const headline = h("p", { class: "flow-headline", "data-testid": "flow-headline" });
  const picture = svg("svg", { class: "flow-svg", viewBox: `0 0 ${VIEW_W} ${VIEW_H}`, role: "img", preserveAspectRatio: "xMidYMid meet" });
  const desc = svg("desc");
  picture.appendChild(desc);

  // Faint tracks: the connections that exist, so a still line reads as "nothing flows now".
  const tracks = svg("g", { class: "tracks" });
  for (const f of TRACKS) tracks.appendChild(svg("path", { class: "track", d: pathD(FLOW_GEOMETRY[f]) }));
  picture.appendChild(tracks);

  // The sun, or the moon at night, above the panels.
  const sunG = svg("g", { class: "sun", "data-sun": "day" });
  sunG.innerHTML = `<circle class="sun-disc" cx="${SUN.x}" cy="${SUN.y}" r="${SUN.r}"/>${iconMarkup("sun", SUN.x - 30, SUN.y - 30, 60, "sun-icon")}${iconMarkup("moon", SUN.x - 26, SUN.y - 26, 52, "moon-icon")}<path class="sun-beam" d="M${SUN.x - 40},${SUN.y + 44} L${SUN.x - 60},${NODES.pv.y} M${SUN.x},${SUN.y + SUN.r} L${SUN.x},${NODES.pv.y} M${SUN.x + 40},${SUN.y + 44} L${SUN.x + 60},${NODES.pv.y}"/>`;
  const sunText = svg("text", { class: "sun-text", x: SUN.x + SUN.r + 18, y: SUN.y + 12 });
  sunG.appendChild(sunText);
  picture.appendChild(sunG);

  const flows = {} as Record<FlowName, FlowParts>;
  const flowLayer = svg("g", { class: "flows" });
  for (const name of Object.keys(FLOW_GEOMETRY) as FlowName[]) {
    const geo = FLOW_GEOMETRY[name];
    const d = pathD(geo);
    const at = pointAt(geo, geo.labelT);
    const lp = { x: at.x + (geo.labelDx ?? 0), y: at.y };
    const labelText = svg("text", { class: "flow-value", x: lp.x + 22, y: lp.y + 11 });
    const labelBox = svg("rect", { class: "flow-label-box", x: lp.x - 92, y: lp.y - 26, width: 184, height: 52, rx: 26 });
    const label = svg("g", { class: "flow-label" }, labelBox, labelText);
    label.insertAdjacentHTML("beforeend", iconMarkup(SOURCE_ICON[geo.source], lp.x - 82, lp.y - 17, 34, "flow-label-icon"));
    const parts: FlowParts = {
      g: svg("g", { class: `flow flow-src-${geo.source}`, "data-flow": name, "data-w": 0 }),
      line: svg("path", { class: "flow-line", d }),
      dots: svg("path", { class: "flow-dots", d }),
      arrow: svg("polygon", { class: "flow-arrow" }),
      label,
      labelText,
      labelBox,
    };
    parts.g.append(parts.line, parts.dots, parts.arrow, parts.label);
    flowLayer.appendChild(parts.g);
    flows[name] = parts;
  }
  picture.appendChild(flowLayer);

  const titles: Record<NodeName, string> = {
    pv: t("flow.node.pv"),
    grid: t("flow.node.grid"),
    house: t("flow.node.house"),
    battery: t("flow.node.battery"),
    heatPump: t("flow.node.heatPump"),
  };
  const nodes = {} as Record<NodeName, NodeParts>;
  for (const name of Object.keys(NODES) as NodeName[]) {
    const b = NODES[name];
    nodes[name] = nodeCard(name, titles[name]);
    const fo = svg("foreignObject", { x: b.x, y: b.y, width: b.w, height: b.h });
    fo.appendChild(nodes[name].root);
    picture.appendChild(fo);
  }

  // Top left: how much of the house's power is our own; top right: what the colours and icons mean.
  const shareValue = h("span", { class: "share-value" });
  const shareFill = h("div", { class: "share-fill" });
  const share = h(
    "div",
    { class: "share", "data-testid": "own-share" },
    h("div", { class: "share-head" }, icon("leaf"), h("span", null, t("flow.share.title")), shareValue),
    h("div", { class: "share-bar" }, shareFill),
    h("div", { class: "share-caption" }, t("flow.share.caption")),
  );
  const shareFo = svg("foreignObject", { x: 30, y: 10, width: 560, height: 140 });
  shareFo.appendChild(share);
  picture.appendChild(shareFo);

  const legendItem = (src: Source, text: string) => h("li", { class: `legend-${src}` }, h("span", { class: "legend-line" }), icon(SOURCE_ICON[src]), text);
  const legend = h(
    "ul",
    { class: "flow-legend" },
    legendItem("pv", t("flow.legend.pv")),
    legendItem("grid", t("flow.legend.grid")),
    legendItem("battery", t("flow.legend.battery")),
    legendItem("house", t("flow.legend.house")),
  );
  const legendFo = svg("foreignObject", { x: 1250, y: 10, width: 520, height: 170 });
  legendFo.appendChild(legend);
  picture.appendChild(legendFo);

  const el = h("section", { class: "kiosk-view view-flow", "data-view": "flow" }, headline, picture);

  const setNode = (n: NodeParts, w: number | null, kinds: BadgeKind[], dirText: string, caption: string) => {
    const p = w === null ? { value: "–", unit: "" } : powerParts(Math.abs(w));
    setText(n.num, p.value);
    setText(n.unit, p.unit);
    setText(n.dir, dirText);
    setText(n.caption, caption);
    setBadges(n.badges, kinds);
    toggleClass(n.root, "doubtful", isDoubtful(kinds));
  };

  const setFlow = (name: FlowName, w: number) => {
    const f = flows[name];
    const width = lineWidth(w);
    const on = width > 0;
    setAttr(f.g, "data-w", w);
    toggleClass(f.g, "on", on);
    if (!on) return;
    setAttr(f.line, "stroke-width", width);
    setAttr(f.dots, "stroke-width", width + 8);
    f.dots.style.animationDuration = `${dotPeriodS(w)}s`;
    const geo = FLOW_GEOMETRY[name];
    setAttr(f.arrow, "points", arrowPoints(geo, geo.arrowT ?? Math.min(0.92, geo.labelT + 0.22), 10 + width * 0.7));
    setText(f.labelText, power(w));
  };

  const update = () => {
    const conn = live.conn;
    const ch = (d: string, c: string) => live.channel(d, c);
    const pvCh = ch("pv-inverter", "pvPowerW");
    const gridCh = ch("grid-meter", "gridPowerW");
    const batCh = ch("battery", "batteryPowerW");
    const loadCh = ch("grid-meter", "loadPowerW");
    const hpCh = ch("heat-pump", "hpPowerW");
    const pv = pvCh?.value ?? null;
    const grid = gridCh?.value ?? null;
    const bat = batCh?.value ?? null;
    const load = loadCh?.value ?? null;
    const hp = hpCh?.value ?? null;
    const f: Flows = computeFlows({ pvW: pv, gridW: grid, batteryW: bat, loadW: load, heatPumpW: hp });
    for (const name of Object.keys(flows) as FlowName[]) setFlow(name, f[name]);

    const irr = live.value("pv-inverter", "irradianceWm2");
    const night = (pv ?? 0) < 1 && (irr === null || irr < 1);
    setAttr(sunG, "data-sun", night ? "night" : "day");
    setText(sunText, night ? t("flow.sun.night") : t("flow.sun.day"));

    setNode(nodes.pv, pv, badgeKinds(pvCh, conn), "", night ? t("flow.caption.pvNight") : equivalentText(pv ?? 0, "makes"));
    const g = grid ?? 0;
    setNode(nodes.grid, grid, badgeKinds(gridCh, conn), Math.abs(g) < 15 ? t("flow.grid.none") : g > 0 ? t("flow.grid.import") : t("flow.grid.export"), g <= -15 ? t("flow.caption.export") : "");
    setNode(nodes.house, load, badgeKinds(loadCh, conn), "", load === null ? "" : equivalentText(load, "uses"));
    const b = bat ?? 0;
    const soc = live.value("battery", "socPct");
    setNode(
      nodes.battery,
      bat,
      badgeKinds(batCh, conn),
      Math.abs(b) < 15 ? t("flow.battery.idle") : b < 0 ? t("flow.battery.charging") : t("flow.battery.discharging"),
      soc === null ? "" : t("flow.battery.soc", { pct: num(soc) }),
    );
    nodes.battery.root.style.setProperty("--soc", `${Math.max(0, Math.min(100, soc ?? 0))}%`);
    const heat = live.value("heat-pump", "hpHeatW");
    const cop = live.value("heat-pump", "hpCop");
    const hpOn = (hp ?? 0) >= 15;
    setNode(
      nodes.heatPump,
      hp,
      badgeKinds(hpCh, conn),
      hpOn ? "" : t("flow.heatPump.off"),
      hpOn && heat !== null ? t("flow.heatPump.makes", { heat: power(heat), times: num(cop ?? heat / Math.max(1, hp ?? 1), 1) }) : "",
    );

    const shareNow = ownShare(f);
    setText(shareValue, shareNow === null ? "–" : `${num(shareNow * 100)} %`);
    shareFill.style.width = `${Math.round((shareNow ?? 0) * 100)}%`;

    toggleClass(picture, "offline", conn !== "up");
    const sentence = conn !== "up" ? t("flow.headline.offline") : headlineText(f, pv, load, night);
    setText(headline, sentence);
    setText(desc, `${sentence} ${t("flow.node.pv")}: ${power(pv ?? 0)}. ${t("flow.node.house")}: ${power(load ?? 0)}.`);
    picture.setAttribute("aria-label", sentence);
  };

  return { el, update };
}

function headlineText(f: Flows, pv: number | null, load: number | null, night: boolean): string {
  if (pv === null || load === null) return t("flow.headline.waiting");
  if (night) return f.batteryToHouse > f.gridToHouse ? t("flow.headline.nightBattery") : t("flow.headline.night");
  if (f.pvToGrid + f.pvToBattery > 0 && f.gridToHouse === 0) return t("flow.headline.surplus");
  if (f.pvToHouse > 0 && f.gridToHouse === 0 && f.batteryToHouse === 0) return t("flow.headline.allSun");
  if (f.pvToHouse > 0) return t("flow.headline.helping");
  return t("flow.headline.grid");
}
