/**
 * uPlot, loaded only when a technician opens the history (the kiosk never pays for it): a line of
 * the average with a band from minimum to maximum per point, times in the screen's language. A hole
 * in the readings is drawn as a hole (a null between its two sides lifts uPlot's pen), and the
 * times an alarm was active or an interlock tripped are shaded over the plot.
 */
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "../../core/dom.ts";
import { lang, t } from "../../i18n/index.ts";
import { dateTime, num } from "../../core/format.ts";
import type { Band, GappedSeries } from "./timeline.ts";

const NL_NAMES = {
  MMMM: ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"],
  MMM: ["jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"],
  WWWW: ["zondag", "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag"],
  WWW: ["zo", "ma", "di", "wo", "do", "vr", "za"],
};

/** The workbench's smallest text (14 px) on the canvas too: uPlot's own default is 12 px. */
const AXIS_FONT = "14px system-ui, sans-serif";

/**
 * 24-hour clock times for a short range (with seconds when the ticks are less than a minute apart,
 * so no two ticks read the same), day and month for a long one (uPlot's own axis says 2:34am).
 */
function axisTime(ms: number, spanMs: number, tickS: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  const hm = `${two(d.getHours())}:${two(d.getMinutes())}`;
  if (tickS < 60) return `${hm}:${two(d.getSeconds())}`;
  if (spanMs <= 36 * 3600_000) return hm;
  return lang() === "nl" ? `${d.getDate()}-${d.getMonth() + 1}` : `${d.getDate()}/${d.getMonth() + 1}`;
}

export interface Chart {
  destroy(): void;
  resize(width: number): void;
}

export function drawChart(container: HTMLElement, series: GappedSeries, bands: ReadonlyArray<Band & { to: number }>, unit: string, width: number): Chart {
  const xs = series.t.map((ms) => ms / 1000);
  const spanMs = xs.length > 1 ? ((xs[xs.length - 1] ?? 0) - (xs[0] ?? 0)) * 1000 : 0;
  const data: uPlot.AlignedData = [xs, series.avg, series.min, series.max];
  const fmtValue = (v: number | null) => (v === null ? "–" : `${num(v, Math.abs(v) >= 100 ? 0 : 1)}${unit ? ` ${unit}` : ""}`);
  const shades = bands.map((b) => h("div", { class: "chart-band", "data-kind": b.kind, "data-severity": b.severity, "data-band": b.id, "aria-hidden": "true" }));
  const place = (u: uPlot) => {
    bands.forEach((b, i) => {
      const el = shades[i];
      if (el === undefined) return;
      const left = Math.max(0, u.valToPos(b.from / 1000, "x"));
      const right = Math.min(u.over.clientWidth, u.valToPos(b.to / 1000, "x"));
      el.style.left = `${left}px`;
      // A band of an instant (a trip reset at once) still shows as a line.
      el.style.width = `${Math.max(3, right - left)}px`;
    });
  };
  const opts: uPlot.Options = {
    width,
    height: 380,
    ...(lang() === "nl" ? { fmtDate: (tpl: string) => uPlot.fmtDate(tpl, NL_NAMES) } : {}),
    scales: { x: { time: true } },
    series: [
      { label: t("history.time"), value: (_u, v) => (v === null ? "–" : dateTime(v * 1000)) },
      { label: t("history.avg"), stroke: "#0072B2", width: 2, spanGaps: false, value: (_u, v) => fmtValue(v) },
      { label: t("history.min"), stroke: "#56B4E9", width: 1, dash: [6, 4], spanGaps: false, value: (_u, v) => fmtValue(v) },
      { label: t("history.max"), stroke: "#D55E00", width: 1, dash: [2, 3], spanGaps: false, value: (_u, v) => fmtValue(v) },
    ],
    bands: [{ series: [3, 2], fill: "rgba(86, 180, 233, 0.18)" }],
    axes: [
      // Room for "10:38:13" at 14 px between ticks.
      { font: AXIS_FONT, space: 90, values: (_u, splits, _axis, _space, incr) => splits.map((s) => axisTime(s * 1000, spanMs, incr)) },
      { font: AXIS_FONT, size: 90, values: (_u, vals) => vals.map((v) => fmtValue(v)) },
    ],
    hooks: { ready: [(u) => u.over.append(...shades), place], setSize: [place], setScale: [(u, key) => key === "x" && place(u)] },
  };
  container.dataset.segments = String(series.segments);
  container.dataset.gaps = String(series.gaps.length);
  container.dataset.bands = String(bands.length);
  const plot = new uPlot(opts, data, container);
  return {
    destroy: () => plot.destroy(),
    resize: (w) => plot.setSize({ width: w, height: 380 }),
  };
}
