/**
 * History charts: any device's channel over the last hour, 24 hours, 7 or 30 days, from
 * `/api/history` at the resolution the hub picks (raw, 1-minute or 15-minute, folded to fit).
 * Holes in the readings stay holes; the times an alarm about the device was active or an
 * interlock it feeds (or that switches it off) was tripped are shaded, from `/api/alarms` and the
 * audit log's `interlock.*` records, and listed below the chart in words.
 */
import { errorText } from "../../components/notice.ts";
import { icon } from "../../components/icons.ts";
import { apiGet, query } from "../../core/api.ts";
import type { AppContext } from "../../core/app.ts";
import { h, setText } from "../../core/dom.ts";
import { dateTime } from "../../core/format.ts";
import { token } from "../../core/session.ts";
import { nameOf, t, tx, type StringKey } from "../../i18n/index.ts";
import type { Alarm } from "../../../../hub/src/api/live-protocol.ts";
import type { AuditRecord } from "../../../../hub/src/core/audit.ts";
import type { Chart } from "./chart.ts";
import type { Tab } from "./tab.ts";
import { alarmBands, clipBands, interlocksOf, tripBands, withGaps, type Band, type SeriesPoint } from "./timeline.ts";

const RANGES: Array<{ id: string; ms: number; key: StringKey }> = [
  { id: "1h", ms: 3600_000, key: "history.range.1h" },
  { id: "24h", ms: 86_400_000, key: "history.range.24h" },
  { id: "7d", ms: 7 * 86_400_000, key: "history.range.7d" },
  { id: "30d", ms: 30 * 86_400_000, key: "history.range.30d" },
];

interface HistoryResult {
  resolution: string;
  bucketMs: number | null;
  points: SeriesPoint[];
}

/** The alarms and trips around the chart; a screen without them still draws the readings. */
async function bandsFor(deviceId: string, from: number, to: number, interlocks: Parameters<typeof tripBands>[1]): Promise<{ bands: Array<Band & { to: number }>; alarms: Alarm[] }> {
  const [alarms, audit] = await Promise.all([
    apiGet<Alarm[]>("/api/alarms", token()).catch(() => [] as Alarm[]),
    apiGet<{ records: AuditRecord[] }>(`/api/audit${query({ action: "interlock.*", from, to, limit: 1000 })}`, token()).catch(() => ({ records: [] as AuditRecord[] })),
  ]);
  const trips = tripBands(audit.records, interlocks, interlocksOf(deviceId, interlocks));
  return { bands: clipBands([...alarmBands(alarms, deviceId), ...trips], from, to), alarms };
}

export function historyTab(ctx: AppContext): Tab {
  const { live } = ctx;
  const device = h("select", { name: "device", "data-testid": "history-device" });
  const channel = h("select", { name: "channel", "data-testid": "history-channel" });
  const ranges = h("div", { class: "segmented", role: "group", "aria-label": t("history.range") });
  let range = RANGES[0] ?? { id: "1h", ms: 3600_000, key: "history.range.1h" };
  for (const r of RANGES) {
    const b = h("button", { type: "button", class: "btn", "data-range": r.id, "aria-pressed": String(r === range) }, t(r.key));
    b.addEventListener("click", () => {
      range = r;
      for (const x of ranges.querySelectorAll("button")) x.setAttribute("aria-pressed", String(x === b));
      void load();
    });
    ranges.appendChild(b);
  }
  const reload = h("button", { type: "button", class: "btn btn-quiet" }, icon("refresh"), t("history.reload"));
  reload.addEventListener("click", () => void load());
  const status = h("p", { class: "load-status", role: "status", "data-testid": "history-status" });
  const plotEl = h("div", { class: "chart", "data-testid": "history-chart" });
  const legend = h("ul", { class: "chart-events", "data-testid": "history-events" });
  const el = h(
    "section",
    { class: "card" },
    h("h2", null, icon("chart"), t("tab.history")),
    h("div", { class: "filters" }, h("label", { class: "field" }, h("span", null, t("history.device")), device), h("label", { class: "field" }, h("span", null, t("history.channel")), channel), ranges, reload),
    status,
    plotEl,
    legend,
  );

  let chart: Chart | null = null;
  let seq = 0;

  const fillDevices = () => {
    const devs = live.snapshot?.devices ?? [];
    if (device.options.length === devs.length) return;
    device.replaceChildren(...devs.map((d) => h("option", { value: d.id }, nameOf(d.id, d.name))));
    if (devs.some((d) => d.id === "pv-inverter")) device.value = "pv-inverter";
    fillChannels();
  };
  const fillChannels = () => {
    const d = live.device(device.value);
    const names = Object.keys(d?.channels ?? {});
    channel.replaceChildren(...names.map((c) => h("option", { value: c }, `${c} · ${nameOf(`${device.value}.${c}`, d?.channels[c]?.label)}`)));
    void load();
  };
  device.addEventListener("change", fillChannels);
  channel.addEventListener("change", () => void load());

  async function load(): Promise<void> {
    if (device.value === "" || channel.value === "") return;
    const my = ++seq;
    const to = live.now();
    const from = to - range.ms;
    setText(status, t("load.loading"));
    try {
      const [r, { bands, alarms }, lib] = await Promise.all([
        apiGet<HistoryResult>(`/api/history${query({ device: device.value, channel: channel.value, from, to, maxPoints: 600 })}`),
        bandsFor(device.value, from, to, live.interlocks()),
        import("./chart.ts"),
      ]);
      if (my !== seq) return;
      chart?.destroy();
      chart = null;
      plotEl.replaceChildren();
      const unit = live.channel(device.value, channel.value)?.unit ?? "";
      el.dataset.points = String(r.points.length);
      legend.replaceChildren(...bands.map((b) => bandLine(b, alarms)));
      if (r.points.length === 0) {
        setText(status, t("history.none"));
        return;
      }
      const series = withGaps(r.points, r.resolution, r.bucketMs);
      chart = lib.drawChart(plotEl, series, bands, unit, Math.max(320, plotEl.clientWidth || 900));
      const info = t("history.info", { n: r.points.length, res: r.resolution, bucket: r.bucketMs === null ? "–" : `${Math.round(r.bucketMs / 1000)} s` });
      setText(status, series.gaps.length > 0 ? `${info} · ${t("history.gaps", { n: series.gaps.length })}` : info);
    } catch (error) {
      if (my === seq) setText(status, `${t("load.failed")}: ${errorText(error)}`);
    }
  }

  function bandLine(b: Band & { to: number }, alarms: readonly Alarm[]): HTMLElement {
    const il = live.interlocks().find((i) => i.id === b.id);
    const alarm = alarms.find((a) => a.key === b.id);
    const what = b.kind === "trip" ? t("history.band.trip", { name: il !== undefined ? tx(il.name) : b.id }) : t("history.band.alarm", { name: alarm !== undefined ? tx(alarm.message) : b.id });
    return h("li", { "data-kind": b.kind, "data-band": b.id }, h("span", { class: "band-swatch", "data-kind": b.kind, "aria-hidden": "true" }), `${what}: ${t("history.band.span", { from: dateTime(b.from), to: dateTime(b.to) })}`);
  }

  const onResize = () => chart?.resize(Math.max(320, plotEl.clientWidth));
  window.addEventListener("resize", onResize);
  fillDevices();
  return {
    el,
    update: fillDevices,
    destroy() {
      window.removeEventListener("resize", onResize);
      chart?.destroy();
    },
  };
}
