/**
 * The hub's own health: ingest rate, rejects and shed load, MQTT clients, live clients, event-loop
 * lag, memory and the history store, with a short trend of the key figures since the tab opened.
 */
import type { HubHealth } from "../../../../hub/src/api/monitor.ts";
import { errorText } from "../../components/notice.ts";
import { icon, type IconName } from "../../components/icons.ts";
import { apiGet } from "../../core/api.ts";
import type { AppContext } from "../../core/app.ts";
import { h, setText, svg } from "../../core/dom.ts";
import { dateTime, num, uptime } from "../../core/format.ts";
import { t, type StringKey } from "../../i18n/index.ts";
import { poll, type Tab } from "./tab.ts";

const TREND = 90;

function sparkline(values: readonly number[]): SVGSVGElement {
  const w = 180;
  const hgt = 40;
  const max = Math.max(1e-9, ...values);
  const d = values.map((v, i) => `${i === 0 ? "M" : "L"}${((i / Math.max(1, TREND - 1)) * w).toFixed(1)},${(hgt - (v / max) * (hgt - 4) - 2).toFixed(1)}`).join(" ");
  return svg("svg", { class: "spark", viewBox: `0 0 ${w} ${hgt}`, width: w, height: hgt, "aria-hidden": "true" }, svg("path", { d }));
}

export function hubHealthTab(_ctx: AppContext): Tab {
  const grid = h("div", { class: "metric-grid", "data-testid": "hub-health" });
  const status = h("p", { class: "load-status", role: "status" });
  const el = h("section", { class: "card" }, h("h2", null, icon("cpu"), t("tab.hub")), status, grid);
  const trend = { rate: [] as number[], lag: [] as number[], rss: [] as number[] };

  const card = (id: string, ic: IconName, title: StringKey, rows: Array<[StringKey, string]>, spark?: number[]) =>
    h(
      "article",
      { class: "metric", "data-metric": id },
      h("h3", null, icon(ic), t(title)),
      spark && spark.length > 1 ? sparkline(spark) : null,
      h("dl", null, rows.map(([k, v]) => [h("dt", null, t(k)), h("dd", null, v)])),
    );

  /** Who was refused at the broker, merged by kind, account and address, newest first. */
  const refusals = (hh: HubHealth) =>
    h(
      "article",
      { class: "metric metric-wide", "data-metric": "refusals" },
      h("h3", null, icon("plug"), t("hub.refusals")),
      h(
        "dl",
        { class: "dl-columns" },
        (
          [
            ["hub.authFailures", hh.mqtt.authFailures],
            ["hub.authThrottled", hh.mqtt.authThrottled],
            ["hub.addressesBackedOff", hh.mqtt.addressesBackedOff],
            ["hub.clientIdRefused", hh.mqtt.clientIdRefused],
            ["hub.connectionsRefused", hh.mqtt.connectionsRefused],
            ["hub.subscriptionsRefused", hh.mqtt.subscriptionsRefused],
            ["hub.aclDenials", hh.mqtt.aclDenials],
            ["hub.keepalivesClamped", hh.mqtt.keepalivesClamped],
          ] as Array<[StringKey, number]>
        ).map(([k, v]) => h("div", null, h("dt", null, t(k)), h("dd", null, num(v)))),
      ),
      hh.mqtt.recentRefusals.length === 0
        ? h("p", null, t("hub.noRefusals"))
        : h(
            "ul",
            { class: "refusals" },
            hh.mqtt.recentRefusals.map((r) =>
              h(
                "li",
                { "data-code": r.code },
                h("strong", null, `${r.code}${r.count > 1 ? ` ×${num(r.count)}` : ""}`),
                ` ${r.account ?? "?"} (${r.clientId || "–"}) ${t("hub.refusalFrom")} ${r.address}, ${dateTime(r.lastAt)}: `,
                h("span", null, r.reason),
              ),
            ),
          ),
    );

  const render = (hh: HubHealth) => {
    const push = (arr: number[], v: number) => {
      arr.push(v);
      if (arr.length > TREND) arr.shift();
    };
    push(trend.rate, hh.ingest.messagesPerS);
    push(trend.lag, hh.eventLoop.p99Ms);
    push(trend.rss, hh.memory.rssMB);
    const codes = Object.entries(hh.ingest.rejectsByCode).map(([c, n]) => `${c} ×${n}`).join(", ") || "–";
    const unknown = hh.ingest.unknownDevices.map((u) => `${u.id} ×${u.count}`).join(", ") || "–";
    const hist = hh.history;
    const n = (k: string) => (hist[k] === null || hist[k] === undefined ? "–" : num(hist[k] ?? 0, 0));
    grid.replaceChildren(
      card("hub", "bolt", "hub.hub", [
        ["hub.version", hh.version],
        ["hub.uptime", uptime(hh.uptimeS)],
        ["hub.started", dateTime(hh.startedAt)],
      ]),
      card("ingest", "signal", "hub.ingest", [
        ["hub.messagesPerS", num(hh.ingest.messagesPerS, 1)],
        ["hub.readingsPerS", num(hh.ingest.readingsPerS, 1)],
        ["hub.rejectsPerS", num(hh.ingest.rejectsPerS, 1)],
        ["hub.shedPerS", num(hh.ingest.shedPerS, 1)],
        ["hub.totalAccepted", num(hh.ingest.totals.accepted)],
        ["hub.totalRejected", num(hh.ingest.totals.rejected)],
        ["hub.totalShed", num(hh.ingest.totals.shed)],
        ["hub.rejectsByCode", codes],
        ["hub.unknownDevices", unknown],
      ], trend.rate),
      card("mqtt", "plug", "hub.mqtt", [
        ["hub.mqttMode", hh.mqtt.description],
        ["hub.connected", hh.mqtt.connected ? t("word.yes") : t("word.no")],
        ["hub.clients", String(hh.mqtt.clients)],
        ["hub.sessions", `${hh.mqtt.deviceSessions} / ${hh.mqtt.observerSessions}`],
        ["hub.forwardDropped", num(hh.mqtt.forwardDropped)],
        ["hub.budgetDropped", num(hh.mqtt.budgetDropped)],
        ["hub.hubDropped", num(hh.mqtt.hubDropped)],
        ["hub.brokerLoop", `${num(hh.mqtt.loopDelayP99Ms, 1)} ms / ${hh.mqtt.threadRestarts}`],
      ]),
      refusals(hh),
      card("live", "globe", "hub.live", [
        ["hub.liveClients", String(hh.live.clients)],
        ["hub.frames", num(hh.live.frames)],
        ["hub.skipped", String(hh.live.skippedForSlowClients)],
      ]),
      card("loop", "clock", "hub.eventLoop", [
        ["hub.p50", `${num(hh.eventLoop.p50Ms, 1)} ms`],
        ["hub.p99", `${num(hh.eventLoop.p99Ms, 1)} ms`],
        ["hub.max", `${num(hh.eventLoop.maxMs, 1)} ms`],
      ], trend.lag),
      card("memory", "cpu", "hub.memory", [
        ["hub.rss", `${num(hh.memory.rssMB)} MB`],
        ["hub.heap", `${num(hh.memory.heapUsedMB)} MB`],
      ], trend.rss),
      card("history", "chart", "hub.history", [
        ["hub.buffered", n("bufferedSamples")],
        ["hub.flushed", n("flushedSamples")],
        ["hub.dropped", `${n("droppedSamples")} / ${n("lostSamples")}`],
        ["hub.flushes", `${n("flushes")} / ${n("failedFlushes")}`],
        ["hub.workerRestarts", n("workerRestarts")],
        ["hub.dbSize", hist.dbBytes === null || hist.dbBytes === undefined ? "–" : `${num(hist.dbBytes / 1_048_576, 1)} MB`],
      ]),
      card("devices", "list", "hub.devices", Object.entries(hh.devices).map(([state, count]) => [`state.${state}` as StringKey, String(count)])),
    );
  };

  const stop = poll(async () => {
    try {
      render(await apiGet<HubHealth>("/api/hub/health"));
      setText(status, "");
    } catch (error) {
      setText(status, `${t("load.failed")}: ${errorText(error)}`);
    }
  }, 2000);
  return { el, destroy: stop };
}
