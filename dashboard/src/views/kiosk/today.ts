/**
 * "Today": what the panels made since midnight (as phone charges), and the day's curve of sun power
 * against what the house used, from the hub's history. A simple picture, not a chart to study.
 */
import type { LiveStore } from "../../core/live-store.ts";
import { apiGet, query } from "../../core/api.ts";
import { badgeKinds, setBadges } from "../../components/badge.ts";
import { icon } from "../../components/icons.ts";
import { h, setText, svg } from "../../core/dom.ts";
import { energy, power } from "../../core/format.ts";
import { t } from "../../i18n/index.ts";
import { phoneCharges } from "./words.ts";

interface HistoryPoint {
  t: number;
  avg: number;
}
interface HistoryResult {
  points: HistoryPoint[];
}

const PAD = { l: 120, r: 24, t: 24, b: 64 };
const REFRESH_MS = 60_000;

function startOfDay(ms: number): number {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export function todayView(live: LiveStore): { el: HTMLElement; update(): void; show(): void; hide(): void; destroy(): void } {
  const big = h("div", { class: "today-big" }, "–");
  const badges = h("div", { class: "badges" });
  const phones = h("p", { class: "today-phones" });
  const chart = svg("svg", { class: "today-chart", role: "img", "aria-label": t("today.chartLabel") });
  const status = h("p", { class: "today-status" });
  const legend = h(
    "ul",
    { class: "today-legend" },
    h("li", { class: "today-legend-pv" }, h("span", { class: "swatch swatch-pv" }), icon("sun"), t("today.legend.pv")),
    h("li", { class: "today-legend-house" }, h("span", { class: "swatch swatch-house" }), icon("house"), t("today.legend.house")),
  );
  const el = h(
    "section",
    { class: "kiosk-view view-today", "data-view": "today" },
    h("p", { class: "flow-headline" }, t("today.headline")),
    h("div", { class: "today-top" }, h("div", { class: "today-card" }, h("h3", null, icon("panel"), t("today.made")), big, phones, badges), h("div", { class: "today-chart-wrap" }, chart, legend, status)),
  );

  let timer = 0;
  let loading = false;

  let last: { pv: HistoryPoint[]; house: HistoryPoint[]; from: number; to: number } | null = null;

  // Drawn at the size it is shown (a view box in screen pixels), so text is never squeezed.
  const draw = (pv: HistoryPoint[], house: HistoryPoint[], dayStart: number, to: number) => {
    last = { pv, house, from: dayStart, to };
    const W = Math.max(400, Math.round(chart.clientWidth || 1200));
    const H = Math.max(200, Math.round(chart.clientHeight || 400));
    drawnSize = `${chart.clientWidth}x${chart.clientHeight}`;
    chart.setAttribute("viewBox", `0 0 ${W} ${H}`);
    // A hub that started after midnight has nothing before: begin at the first reading's hour.
    const firstT = Math.min(pv[0]?.t ?? to, house[0]?.t ?? to);
    const from = Math.max(dayStart, Math.floor(firstT / 3600_000) * 3600_000);
    chart.replaceChildren();
    const maxW = Math.max(1000, ...pv.map((p) => p.avg), ...house.map((p) => p.avg));
    const x = (ms: number) => PAD.l + ((ms - from) / Math.max(1, to - from)) * (W - PAD.l - PAD.r);
    const y = (w: number) => H - PAD.b - (Math.max(0, w) / maxW) * (H - PAD.t - PAD.b);
    // Diagonal hatching on the sun's area: it reads without colour too.
    chart.appendChild(
      svg("defs", null, svg("pattern", { id: "hatch-pv", width: 14, height: 14, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" }, svg("rect", { width: 14, height: 14, class: "hatch-bg" }), svg("line", { x1: 0, y1: 0, x2: 0, y2: 14, class: "hatch-line" }))),
    );
    for (let k = 0; k <= 4; k++) {
      const w = (maxW * k) / 4;
      chart.appendChild(svg("line", { class: "grid-line", x1: PAD.l, x2: W - PAD.r, y1: y(w), y2: y(w) }));
      chart.appendChild(svg("text", { class: "axis", x: PAD.l - 12, y: y(w) + 8, "text-anchor": "end" }, power(w)));
    }
    const span = to - from;
    const stepMs = span > 12 * 3600_000 ? 3 * 3600_000 : span > 3 * 3600_000 ? 3600_000 : span > 3600_000 ? 1800_000 : 600_000;
    for (let ms = Math.ceil(from / stepMs) * stepMs; ms <= to; ms += stepMs) {
      const d = new Date(ms);
      chart.appendChild(svg("text", { class: "axis", x: x(ms), y: H - PAD.b + 40, "text-anchor": "middle" }, `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`));
    }
    if (pv.length > 1) {
      const first = pv[0];
      const last = pv[pv.length - 1];
      if (first !== undefined && last !== undefined) {
        const d = `M${x(first.t)},${y(0)} ${pv.map((p) => `L${x(p.t).toFixed(1)},${y(p.avg).toFixed(1)}`).join(" ")} L${x(last.t)},${y(0)} Z`;
        chart.appendChild(svg("path", { class: "area-pv", d }));
      }
    }
    if (house.length > 1) chart.appendChild(svg("path", { class: "line-house", d: house.map((p, i) => `${i === 0 ? "M" : "L"}${x(p.t).toFixed(1)},${y(p.avg).toFixed(1)}`).join(" ") }));
  };

  const load = async () => {
    if (loading) return;
    loading = true;
    const to = live.now();
    const from = Math.min(startOfDay(to), to - 3600_000);
    try {
      const get = (device: string, channel: string) => apiGet<HistoryResult>(`/api/history${query({ device, channel, from, to, maxPoints: 300 })}`);
      const [pv, house] = await Promise.all([get("pv-inverter", "pvPowerW"), get("grid-meter", "loadPowerW")]);
      draw(pv.points, house.points, from, to);
      setText(status, pv.points.length === 0 ? t("today.noData") : "");
    } catch {
      setText(status, t("today.unavailable"));
    } finally {
      loading = false;
    }
  };

  // Redraw when the chart's box changes (a window resize, the explanation panel opening).
  let drawnSize = "";
  const resize = new ResizeObserver(() => {
    const size = `${chart.clientWidth}x${chart.clientHeight}`;
    if (last !== null && !el.hidden && size !== drawnSize) draw(last.pv, last.house, last.from, last.to);
  });
  resize.observe(chart);

  return {
    el,
    update() {
      const ch = live.channel("pv-inverter", "pvEnergyTodayWh");
      setText(big, ch?.value === null || ch === undefined ? "–" : energy(ch.value));
      setText(phones, ch?.value ? phoneCharges(ch.value) : "");
      setBadges(badges, badgeKinds(ch, live.conn));
    },
    show() {
      void load();
      window.clearInterval(timer);
      timer = window.setInterval(() => void load(), REFRESH_MS);
    },
    hide() {
      window.clearInterval(timer);
    },
    destroy() {
      window.clearInterval(timer);
      resize.disconnect();
    },
  };
}
