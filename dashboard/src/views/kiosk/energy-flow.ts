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
import { dotPeriodS, lineWidth, type FlowName } from "../../core/energy.ts";
import { num, power, powerParts } from "../../core/format.ts";
import { t } from "../../i18n/index.ts";
import { say } from "./say.ts";
import { flowStory, type NodeStory } from "./story.ts";
import { arrowPoints, LAYOUTS, layoutFor, pathD, pointAt, TRACKS, type FlowLayout, type LayoutKind, type NodeName, type Source } from "./flow-geometry.ts";

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
  /**
   * Compact while an explanation takes part of the screen: the tall layout leaves out its share
   * and legend rows (the wide one has room beside the cards), so the cards keep their size.
   */
  setCompact(on: boolean): void;
}

interface Picture {
  kind: LayoutKind;
  svg: SVGSVGElement;
  desc: SVGDescElement;
  sunG: SVGGElement;
  sunText: SVGTextElement;
  flows: Record<FlowName, FlowParts>;
  nodes: Record<NodeName, NodeParts>;
  shareValue: HTMLElement;
  shareFill: HTMLElement;
  extras: SVGForeignObjectElement[];
}

function buildPicture(layout: FlowLayout): Picture {
  const picture = svg("svg", { class: "flow-svg", "data-layout": layout.kind, viewBox: `0 0 ${layout.w} ${layout.h}`, role: "img", preserveAspectRatio: "xMidYMid meet" });
  const desc = svg("desc");
  picture.appendChild(desc);

  // Faint tracks: the connections that exist, so a still line reads as "nothing flows now".
  const tracks = svg("g", { class: "tracks" });
  for (const f of TRACKS) tracks.appendChild(svg("path", { class: "track", d: pathD(layout.flows[f]) }));
  picture.appendChild(tracks);

  // The sun, or the moon at night, above the panels.
  const sun = layout.sun;
  const pvTop = layout.nodes.pv.y;
  const sunG = svg("g", { class: "sun", "data-sun": "day" });
  const beams = sun.beams ? `<path class="sun-beam" d="M${sun.x - 40},${sun.y + 44} L${sun.x - 60},${pvTop} M${sun.x},${sun.y + sun.r} L${sun.x},${pvTop} M${sun.x + 40},${sun.y + 44} L${sun.x + 60},${pvTop}"/>` : "";
  sunG.innerHTML = `<circle class="sun-disc" cx="${sun.x}" cy="${sun.y}" r="${sun.r}"/>${iconMarkup("sun", sun.x - 30, sun.y - 30, 60, "sun-icon")}${iconMarkup("moon", sun.x - 26, sun.y - 26, 52, "moon-icon")}${beams}`;
  const sunText = svg("text", { class: "sun-text", x: sun.x + sun.r + 14, y: sun.y + 13 });
  sunG.appendChild(sunText);
  picture.appendChild(sunG);

  const flows = {} as Record<FlowName, FlowParts>;
  const flowLayer = svg("g", { class: "flows" });
  const lw = layout.labelW;
  for (const name of Object.keys(layout.flows) as FlowName[]) {
    const geo = layout.flows[name];
    const d = pathD(geo);
    const at = pointAt(geo, geo.labelT);
    const lp = { x: at.x + (geo.labelDx ?? 0), y: at.y };
    const labelText = svg("text", { class: "flow-value", x: lp.x + 20, y: lp.y + 11 });
    const labelBox = svg("rect", { class: "flow-label-box", x: lp.x - lw / 2, y: lp.y - 26, width: lw, height: 52, rx: 26 });
    const label = svg("g", { class: "flow-label" }, labelBox, labelText);
    label.insertAdjacentHTML("beforeend", iconMarkup(SOURCE_ICON[geo.source], lp.x - lw / 2 + 8, lp.y - 16, 32, "flow-label-icon"));
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
  for (const name of Object.keys(layout.nodes) as NodeName[]) {
    const b = layout.nodes[name];
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
  const shareFo = svg("foreignObject", { x: layout.share.x, y: layout.share.y, width: layout.share.w, height: layout.share.h });
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
  const legendFo = svg("foreignObject", { x: layout.legend.x, y: layout.legend.y, width: layout.legend.w, height: layout.legend.h });
  legendFo.appendChild(legend);
  picture.appendChild(legendFo);
  return { kind: layout.kind, svg: picture, desc, sunG, sunText, flows, nodes, shareValue, shareFill, extras: [shareFo, legendFo] };
}

export function energyFlowView(live: LiveStore): FlowView {
  const headline = h("p", { class: "flow-headline", "data-testid": "flow-headline" });
  // The picture gets the space left under the headline; its layout follows that space's shape.
  const holder = h("div", { class: "flow-pic" });
  let pic = buildPicture(LAYOUTS.wide);
  holder.appendChild(pic.svg);
  const el = h("section", { class: "kiosk-view view-flow", "data-view": "flow" }, headline, holder);
  let compact = false;
  const applyCompact = () => {
    const layout = LAYOUTS[pic.kind];
    const crop = compact && pic.kind === "tall";
    const top = crop ? layout.share.y + layout.share.h : 0;
    const bottom = crop ? layout.legend.y : layout.h;
    setAttr(pic.svg, "viewBox", `0 ${top} ${layout.w} ${bottom - top}`);
    for (const fo of pic.extras) toggleClass(fo, "cropped", crop);
  };
  const relayout = () => {
    const kind = layoutFor(holder.clientWidth, holder.clientHeight);
    if (kind === pic.kind || holder.clientWidth === 0) return;
    pic = buildPicture(LAYOUTS[kind]);
    holder.replaceChildren(pic.svg);
    applyCompact();
    update();
  };
  new ResizeObserver(relayout).observe(holder);

  const setNode = (n: NodeParts, story: NodeStory, kinds: BadgeKind[]) => {
    const p = story.shownW === null ? { value: "–", unit: "" } : powerParts(Math.abs(story.shownW));
    setText(n.num, p.value);
    setText(n.unit, p.unit);
    setText(n.dir, say(story.dir));
    setText(n.caption, say(story.caption));
    setBadges(n.badges, kinds);
    toggleClass(n.root, "doubtful", isDoubtful(kinds));
  };

  const setFlow = (name: FlowName, w: number) => {
    const f = pic.flows[name];
    const width = lineWidth(w);
    const on = width > 0;
    setAttr(f.g, "data-w", w);
    toggleClass(f.g, "on", on);
    if (!on) return;
    setAttr(f.line, "stroke-width", width);
    setAttr(f.dots, "stroke-width", width + 8);
    f.dots.style.animationDuration = `${dotPeriodS(w)}s`;
    const geo = LAYOUTS[pic.kind].flows[name];
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
    const story = flowStory({
      pvW: pvCh?.value ?? null,
      gridW: gridCh?.value ?? null,
      batteryW: batCh?.value ?? null,
      loadW: loadCh?.value ?? null,
      heatPumpW: hpCh?.value ?? null,
      irradianceWm2: live.value("pv-inverter", "irradianceWm2"),
      socPct: live.value("battery", "socPct"),
      hpHeatW: live.value("heat-pump", "hpHeatW"),
      hpCop: live.value("heat-pump", "hpCop"),
    });
    const f = story.flows;
    for (const name of Object.keys(pic.flows) as FlowName[]) setFlow(name, f[name]);

    setAttr(pic.sunG, "data-sun", story.night ? "night" : "day");
    setText(pic.sunText, story.night ? t("flow.sun.night") : t("flow.sun.day"));

    setNode(pic.nodes.pv, story.pv, badgeKinds(pvCh, conn));
    setNode(pic.nodes.grid, story.grid, badgeKinds(gridCh, conn));
    setNode(pic.nodes.house, story.house, badgeKinds(loadCh, conn));
    setNode(pic.nodes.battery, story.battery, badgeKinds(batCh, conn));
    const soc = live.value("battery", "socPct");
    pic.nodes.battery.root.style.setProperty("--soc", `${Math.max(0, Math.min(100, soc ?? 0))}%`);
    setNode(pic.nodes.heatPump, story.heatPump, badgeKinds(hpCh, conn));

    setText(pic.shareValue, story.share === null ? "–" : `${num(story.share * 100)} %`);
    pic.shareFill.style.width = `${Math.round((story.share ?? 0) * 100)}%`;

    toggleClass(pic.svg, "offline", conn !== "up");
    const sentence = conn !== "up" ? t("flow.headline.offline") : say(story.headline);
    setText(headline, sentence);
    setText(pic.desc, `${sentence} ${t("flow.node.pv")}: ${power(story.pv.shownW ?? 0)}. ${t("flow.node.house")}: ${power(story.house.shownW ?? 0)}.`);
    pic.svg.setAttribute("aria-label", sentence);
  };

  return {
    el,
    update,
    setCompact(on: boolean) {
      if (on === compact) return;
      compact = on;
      applyCompact();
    },
  };
}
