/**
 * "Today": what the panels made since midnight (as phone charges), and the day's curve of sun power
 * against what the house used, from the hub's history. A simple picture, not a chart to study.
 */
import type { LiveStore, SimClockView } from "../../core/live-store.ts";
import { apiGet, query } from "../../core/api.ts";
import { badgeKinds, setBadges } from "../../components/badge.ts";
import { icon } from "../../components/icons.ts";
import { h, setText, svg } from "../../core/dom.ts";
import { clock, energy, power } from "../../core/format.ts";
import { t } from "../../i18n/index.ts";
import { hourStepMs, niceTicks, todayWindow } from "./sim-time.ts";
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
/** With a fast simulated day, redraw at least every ten simulated minutes (but not more than every 5 s). */
const refreshMs = (speed: number): number => Math.max(5000, Math.min(REFRESH_MS, 600_000 / speed));

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
  let shown = false;
  /** The simulated clock the chart was drawn for: a jump or a new speed redraws it at once. */
  let clockKey = "";
  const clockKeyOf = (c: SimClockView | null) => (c === null ? "" : `${c.anchorRealMs}/${c.anchorSimMs}/${c.speed}`);
  const restart = () => {
    void load();
    window.clearInterval(timer);
    timer = window.setInterval(() => void load(), refreshMs(live.simClock()?.speed ?? 1));
  };

  let last: { pv: HistoryPoint[]; house: HistoryPoint[]; from: number; to: number } | null = null;

  // Drawn at the size it is shown (a view box in screen pixels), so text is never squeezed.
  // Times on the x axis are shown times: simulated when the installation is (sim-time.ts).
  const draw = (pv: HistoryPoint[], house: HistoryPoint[], from: number, to: number) => {
    last = { pv, house, from, to };
    const W = Math.max(400, Math.round(chart.clientWidth || 1200));
    const H = Math.max(200, Math.round(chart.clientHeight || 400));
    drawnSize = `${chart.clientWidth}x${chart.clientHeight}`;
    chart.setAttribute("viewBox", `0 0 ${W} ${H}`);
    chart.replaceChildren();
    const ticks = niceTicks(Math.max(500, ...pv.map((p) => p.avg), ...house.map((p) => p.avg)));
    const maxW = ticks[ticks.length - 1] ?? 1000;
    const x = (ms: number) => PAD.l + ((ms - from) / Math.max(1, to - from)) * (W - PAD.l - PAD.r);
    const y = (w: number) => H - PAD.b - (Math.max(0, w) / maxW) * (H - PAD.t - PAD.b);
    // Diagonal hatching on the sun's area: it reads without colour too.
    chart.appendChild(
      svg("defs", null, svg("pattern", { id: "hatch-pv", width: 14, height: 14, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" }, svg("rect", { width: 14, height: 14, class: "hatch-bg" }), svg("line", { x1: 0, y1: 0, x2: 0, y2: 14, class: "hatch-line" }))),
    );
    for (const w of ticks) {
      chart.appendChild(svg("line", { class: "grid-line", x1: PAD.l, x2: W - PAD.r, y1: y(w), y2: y(w) }));
      chart.appendChild(svg("text", { class: "axis", x: PAD.l - 12, y: y(w) + 8, "text-anchor": "end" }, power(w)));
    }
    const stepMs = hourStepMs(to - from);
    // On whole local hours (the screen's time zone), not on multiples of UTC.
    const offMs = -new Date(from).getTimezoneOffset() * 60_000;
    for (let ms = Math.ceil((from + offMs) / stepMs) * stepMs - offMs; ms <= to; ms += stepMs) {
      chart.appendChild(svg("text", { class: "axis", x: x(ms), y: H - PAD.b + 40, "text-anchor": "middle" }, clock(ms)));
    }
    if (pv.length > 1) {
      const first = pv[0];
      const end = pv[pv.length - 1];
      if (first !== undefined && end !== undefined) {
        const d = `M${x(first.t)},${y(0)} ${pv.map((p) => `L${x(p.t).toFixed(1)},${y(p.avg).toFixed(1)}`).join(" ")} L${x(end.t)},${y(0)} Z`;
        chart.appendChild(svg("path", { class: "area-pv", d }));
      }
    }
    if (house.length > 1) chart.appendChild(svg("path", { class: "line-house", d: house.map((p, i) => `${i === 0 ? "M" : "L"}${x(p.t).toFixed(1)},${y(p.avg).toFixed(1)}`).join(" ") }));
  };

  const load = async () => {
    if (loading) return;
    loading = true;
    const sim = live.simClock();
    clockKey = clockKeyOf(sim);
    const win = todayWindow(sim, live.now(), startOfDay);
    try {
      const get = (device: string, channel: string) => apiGet<HistoryResult>(`/api/history${query({ device, channel, from: Math.floor(win.fromReal), to: Math.ceil(win.toReal), maxPoints: 300 })}`);
      const [pv, house] = await Promise.all([get("pv-inverter", "pvPowerW"), get("grid-meter", "loadPowerW")]);
      const shown = (pts: HistoryPoint[]) => pts.filter((p) => p.t >= win.fromReal).map((p) => ({ t: win.shown(p.t), avg: p.avg }));
      draw(shown(pv.points), shown(house.points), win.fromShown, win.toShown);
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
      if (shown && !loading && clockKeyOf(live.simClock()) !== clockKey) restart();
    },
    show() {
      shown = true;
      restart();
    },
    hide() {
      shown = false;
      window.clearInterval(timer);
    },
    destroy() {
      window.clearInterval(timer);
      resize.disconnect();
    },
  };
}
