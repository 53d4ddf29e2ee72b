/**
 * uPlot, loaded only when a technician opens the history (the kiosk never pays for it): a line of
 * the average with a band from minimum to maximum per point, times in the screen's language.
 */
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { lang, t } from "../../i18n/index.ts";
import { dateTime, num } from "../../core/format.ts";

export interface ChartPoint {
  t: number;
  avg: number;
  min: number;
  max: number;
}

const NL_NAMES = {
  MMMM: ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"],
  MMM: ["jan", "feb", "mrt", "apr", "mei", "jun", "jul", "aug", "sep", "okt", "nov", "dec"],
  WWWW: ["zondag", "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag"],
  WWW: ["zo", "ma", "di", "wo", "do", "vr", "za"],
};

/** 24-hour clock times for a short range, day and month for a long one (uPlot's own axis says 2:34am). */
function axisTime(ms: number, spanMs: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  const hm = `${two(d.getHours())}:${two(d.getMinutes())}`;
  if (spanMs <= 36 * 3600_000) return hm;
  return lang() === "nl" ? `${d.getDate()}-${d.getMonth() + 1}` : `${d.getDate()}/${d.getMonth() + 1}`;
}

export interface Chart {
  destroy(): void;
  resize(width: number): void;
}

export function drawChart(container: HTMLElement, points: readonly ChartPoint[], unit: string, width: number): Chart {
  const xs = points.map((p) => p.t / 1000);
  const spanMs = points.length > 1 ? (points[points.length - 1]?.t ?? 0) - (points[0]?.t ?? 0) : 0;
  const data: uPlot.AlignedData = [xs, points.map((p) => p.avg), points.map((p) => p.min), points.map((p) => p.max)];
  const fmtValue = (v: number | null) => (v === null ? "–" : `${num(v, Math.abs(v) >= 100 ? 0 : 1)}${unit ? ` ${unit}` : ""}`);
  const opts: uPlot.Options = {
    width,
    height: 380,
    ...(lang() === "nl" ? { fmtDate: (tpl: string) => uPlot.fmtDate(tpl, NL_NAMES) } : {}),
    scales: { x: { time: true } },
    series: [
      { label: t("history.time"), value: (_u, v) => (v === null ? "–" : dateTime(v * 1000)) },
      { label: t("history.avg"), stroke: "#0072B2", width: 2, value: (_u, v) => fmtValue(v) },
      { label: t("history.min"), stroke: "#56B4E9", width: 1, dash: [6, 4], value: (_u, v) => fmtValue(v) },
      { label: t("history.max"), stroke: "#D55E00", width: 1, dash: [2, 3], value: (_u, v) => fmtValue(v) },
    ],
    bands: [{ series: [3, 2], fill: "rgba(86, 180, 233, 0.18)" }],
    axes: [{ values: (_u, splits) => splits.map((s) => axisTime(s * 1000, spanMs)) }, { size: 80, values: (_u, vals) => vals.map((v) => fmtValue(v)) }],
  };
  const plot = new uPlot(opts, data, container);
  return {
    destroy: () => plot.destroy(),
    resize: (w) => plot.setSize({ width: w, height: 380 }),
  };
}
