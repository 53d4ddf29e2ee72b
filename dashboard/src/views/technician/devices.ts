/**
 * Device health for technicians: state and why, last seen, message rate, rejected messages and
 * why, firmware, boot count, reboots, signal; a row opens to the channels and the recent rejects.
 *
 * "Last seen" is the age of the device's last telemetry, from the live stream's channel times on
 * the hub's clock, counted up every second: a healthy 1 Hz device reads "1 s ago", a stale one
 * grows. (The device's own `lastSeen` arrives on the stream only when its state changes.)
 */
import type { DeviceView } from "../../../../hub/src/core/types.ts";
import { badge } from "../../components/badge.ts";
import { icon, type IconName } from "../../components/icons.ts";
import { errorText } from "../../components/notice.ts";
import { apiGet } from "../../core/api.ts";
import type { AppContext } from "../../core/app.ts";
import { h, replaceIfChanged, setAttr, setText, syncList } from "../../core/dom.ts";
import { ago, clockSeconds, modelFirmware, num, uptime, valueWithUnit } from "../../core/format.ts";
import type { LiveDevice } from "../../core/live-store.ts";
import { lang, nameOf, t, tx } from "../../i18n/index.ts";
import { poll, type Tab } from "./tab.ts";
import { lastTelemetryAt } from "./timeline.ts";

/**
 * Why the device is in its state, in the screen's language (the hub says it in both); the raw
 * reason, with channel names, stays in the row's title for the technician who wants it.
 */
function stateWhy(live: LiveDevice | undefined, d: DeviceView): { text: string; raw: string } {
  const raw = live?.stateReason ?? d.stateReason;
  return { text: tx(live?.stateText ?? d.stateText) || raw, raw };
}

const STATE_ICON: Record<DeviceView["state"], IconName> = { ready: "check", init: "clock", unknown: "clock", degraded: "warning", stale: "clock", offline: "cross", fault: "stop" };

export function stateChip(state: DeviceView["state"]): HTMLElement {
  return h("span", { class: "chip state-chip", "data-state": state }, icon(STATE_ICON[state]), t(`state.${state}`));
}

function signal(rssi: number | undefined): HTMLElement | string {
  if (rssi === undefined) return "–";
  const q = rssi >= -60 ? "good" : rssi >= -75 ? "fair" : "weak";
  return h("span", { class: `signal signal-${q}` }, icon("signal"), `${rssi} dBm · ${t(`signal.${q}`)}`);
}

/** One line of recent rejects (newest first); a reject repeated again and again says how often and since when. */
function rejectLine(r: DeviceView["recentRejects"][number]): HTMLElement {
  const repeats = r.count > 1 ? h("strong", { class: "reject-count", "data-count": r.count }, ` ${t("dev.rejectRepeats", { count: r.count, first: clockSeconds(r.firstAt) })}`) : null;
  return h("li", { "data-code": r.code }, h("span", { class: "mono" }, clockSeconds(r.at)), " ", h("code", null, r.code), repeats, " ", r.message);
}

function detail(d: DeviceView, live: LiveDevice | undefined, now: number): HTMLElement {
  const channels = Object.entries(d.channels).map(([name, c]) => {
    // The live stream's value and time where it has them: fresher than the last REST poll.
    const l = live?.channels[name];
    const quality = l?.quality ?? c.quality;
    return h("tr", { "data-channel": name, "data-quality": quality }, h("td", null, h("code", null, name)), h("td", null, nameOf(`${d.id}.${name}`, c.label)), h("td", { class: "num" }, valueWithUnit(l?.value ?? c.value, c.unit)), h("td", null, t(`quality.${quality}`)), h("td", null, ago(l?.at ?? c.at, now)));
  });
  const rejects = d.recentRejects.length === 0 ? h("p", { class: "muted" }, t("dev.noRejects")) : h("ul", { class: "rejects" }, d.recentRejects.map(rejectLine));
  const c = d.counters;
  return h(
    "div",
    { class: "dev-detail" },
    h(
      "div",
      { class: "dev-detail-cols" },
      h("div", null, h("h4", null, t("dev.channels")), h("table", { class: "mini" }, h("thead", null, h("tr", null, h("th", null, t("dev.channel")), h("th", null, t("dev.label")), h("th", null, t("dev.value")), h("th", null, t("dev.quality")), h("th", null, t("dev.age")))), h("tbody", null, channels))),
      h(
        "div",
        null,
        h("h4", null, t("dev.recentRejects")),
        rejects,
        h("h4", null, t("dev.counters")),
        h("p", { class: "mono" }, t("dev.countersLine", { messages: c.messages, readings: c.readings, duplicates: c.duplicates, gaps: c.gaps, missed: c.missedMessages, jumps: c.seqJumps, restarts: c.seqRestarts, shed: c.shed })),
        d.health ? h("p", null, `${t("dev.health")}: ${d.health.state} · ${t("dev.uptime")} ${uptime(d.health.uptimeS)}${d.health.freeHeapB !== undefined ? ` · ${t("dev.freeHeap")} ${num(d.health.freeHeapB / 1024)} kB` : ""}`) : null,
      ),
    ),
  );
}

export function devicesTab(ctx: AppContext): Tab {
  const tbodyHolder = h("table", { class: "table devices-table", "data-testid": "device-table" });
  const head = h(
    "thead",
    null,
    h("tr", null, ...(["device", "state", "lastSeen", "rate", "rejects", "firmware", "boot", "signal", ""] as const).map((k) => h("th", { scope: "col" }, k === "" ? "" : t(`dev.col.${k}`)))),
  );
  tbodyHolder.appendChild(head);
  const status = h("p", { class: "load-status", role: "status" });
  const el = h("section", { class: "card" }, h("h2", null, icon("cpu"), t("tab.devices")), status, h("div", { class: "table-wrap" }, tbodyHolder));
  let devices: DeviceView[] = [];
  const open = new Set<string>();

  const create = (d: DeviceView): HTMLElement => {
    const toggle = h("button", { type: "button", class: "btn btn-quiet btn-small dev-toggle", "aria-expanded": "false" }, t("dev.details"));
    toggle.addEventListener("click", () => {
      if (open.has(d.id)) open.delete(d.id);
      else open.add(d.id);
      render();
    });
    const tb = h("tbody", { "data-device": d.id }, h("tr", { class: "dev-row" }, ...Array.from({ length: 8 }, (_, i) => h("td", i === 2 ? { class: "dev-seen" } : null)), h("td", null, toggle)), h("tr", { class: "dev-detail-row", hidden: true }, h("td", { colspan: 9 })));
    return tb;
  };

  const update = (tb: HTMLElement, d: DeviceView) => {
    const now = ctx.live.now();
    const live = ctx.live.device(d.id);
    const state = live?.state ?? d.state;
    const reason = stateWhy(live, d);
    const cells = tb.querySelectorAll<HTMLTableCellElement>(".dev-row > td");
    tb.dataset.state = state;
    replaceIfChanged(cells[0] as HTMLElement, `${lang()}:${d.name}:${d.simulated}`, () => [h("strong", null, nameOf(d.id, d.name)), h("div", null, h("code", null, d.id)), d.simulated ? h("div", null, badge("simulated")) : null]);
    replaceIfChanged(cells[1] as HTMLElement, `${lang()}:${state}:${reason.text}:${reason.raw}`, () => [stateChip(state), h("div", { class: "muted small state-why", title: reason.raw }, reason.text)]);
    const seen = live !== undefined ? lastTelemetryAt(live) : d.lastSeen;
    setText(cells[2], ago(seen, now));
    setAttr(cells[2], "data-age-s", seen === null ? null : Math.max(0, Math.round((now - seen) / 1000)));
    setText(cells[3], num(d.messageRatePerS, 1));
    const codes = Object.entries(d.rejectsByCode).map(([code, n]) => `${code} ×${n}`);
    const c = d.counters;
    replaceIfChanged(cells[4] as HTMLElement, `${lang()}:${c.rejects}:${codes.join()}:${c.duplicates}:${c.gaps}:${c.seqJumps}:${c.seqRestarts}`, () => [
      h("strong", { "data-rejects": c.rejects }, String(c.rejects)),
      codes.length > 0 ? h("div", { class: "small" }, codes.join(", ")) : null,
      c.duplicates + c.gaps > 0 ? h("div", { class: "small muted" }, t("dev.dupGaps", { dup: c.duplicates, gaps: c.gaps })) : null,
      c.seqJumps + c.seqRestarts > 0 ? h("div", { class: "small muted", "data-seq": `${c.seqJumps}:${c.seqRestarts}` }, t("dev.seqLine", { jumps: c.seqJumps, restarts: c.seqRestarts })) : null,
    ]);
    const station = ctx.live.stations().find((s) => s.id === d.id);
    const stationFirmware = station?.details.firmware;
    // Model and firmware each kept whole ("sim-1.0.0" never broken at its hyphen).
    const [model, firmware] = modelFirmware(d.model, d.firmware, typeof stationFirmware === "string" ? stationFirmware : null).split(" · ");
    // A printer's protocol (how the hub talks to it: marlin, bambu-lan, prusalink …) under its model.
    const protocol = typeof station?.details.protocol === "string" ? station.details.protocol : null;
    replaceIfChanged(cells[5] as HTMLElement, `${model}:${firmware}:${protocol ?? ""}`, () => [
      h("span", { class: "nowrap" }, model),
      " · ",
      h("span", { class: "nowrap" }, firmware),
      protocol !== null ? h("div", { class: "small muted", "data-protocol": protocol }, protocol) : null,
    ]);
    setText(cells[6], t("dev.bootLine", { boot: d.boot ?? "–", reboots: d.counters.reboots }));
    replaceIfChanged(cells[7] as HTMLElement, `${lang()}:${d.health?.rssiDbm ?? ""}`, () => signal(d.health?.rssiDbm));
    const isOpen = open.has(d.id);
    const detailRow = tb.querySelector(".dev-detail-row") as HTMLElement;
    detailRow.hidden = !isOpen;
    const toggle = tb.querySelector(".dev-toggle");
    setAttr(toggle, "aria-expanded", String(isOpen));
    // Twelve buttons called "Details" say nothing to a screen reader: each names its device.
    setAttr(toggle, "aria-label", t("dev.detailsOf", { name: nameOf(d.id, d.name) }));
    if (isOpen) (detailRow.firstElementChild as HTMLElement).replaceChildren(detail(d, live, now));
  };

  function render(): void {
    syncList(tbodyHolder, devices, (d) => d.id, create, update, head);
  }

  const stop = poll(async () => {
    try {
      devices = await apiGet<DeviceView[]>("/api/devices");
      setText(status, "");
      render();
    } catch (error) {
      setText(status, `${t("load.failed")}: ${errorText(error)}`);
    }
  }, 2000);
  // Ages count up between frames too.
  const tick = window.setInterval(render, 1000);
  return {
    el,
    update: render,
    destroy() {
      stop();
      window.clearInterval(tick);
    },
  };
}
