/**
 * First dashboard page: the Tiny House's live values with units and health badges. The full
 * kiosk / instructor / technician dashboard builds on this (issue 7).
 */
import { io } from "socket.io-client";
import type { LiveChannel, LiveDevice, LiveFrame, LiveSnapshot } from "../../hub/src/api/live-protocol.ts";
import { lang, setLang, t, type StringKey } from "./i18n.ts";
import "./style.css";

interface State {
  snapshot: LiveSnapshot | null;
  /** Hub time minus local time, so ages stay right on a screen whose clock is off. */
  skewMs: number;
  connected: boolean;
}

const state: State = { snapshot: null, skewMs: 0, connected: false };
const app = document.getElementById("app") as HTMLElement;
const conn = document.getElementById("conn") as HTMLElement;
const langButton = document.getElementById("lang") as HTMLButtonElement;
const siteTitle = document.getElementById("site") as HTMLElement;

const socket = io({ transports: ["websocket"] });
socket.on("connect", () => {
  state.connected = true;
  render();
});
socket.on("disconnect", () => {
  state.connected = false;
  render();
});
socket.on("snapshot", (snap: LiveSnapshot) => {
  state.snapshot = snap;
  state.skewMs = snap.t - Date.now();
  render();
});
socket.on("frame", (frame: LiveFrame) => {
  const snap = state.snapshot;
  if (snap === null) return;
  state.skewMs = frame.t - Date.now();
  const byId = new Map(snap.devices.map((d) => [d.id, d]));
  for (const v of frame.values) {
    const ch = byId.get(v.d)?.channels[v.c];
    if (ch === undefined) continue;
    ch.value = v.v;
    ch.at = v.at;
    ch.quality = v.quality;
    ch.prov = v.prov;
  }
  for (const d of frame.devices) {
    const dev = byId.get(d.id);
    if (dev === undefined) continue;
    dev.state = d.state;
    dev.stateReason = d.stateReason;
    dev.lastSeen = d.lastSeen;
  }
  render();
});

langButton.addEventListener("click", () => {
  setLang(lang() === "nl" ? "en" : "nl");
  render();
});
setLang(lang());
setInterval(render, 1000);

function channel(id: string, name: string): LiveChannel | undefined {
  return state.snapshot?.devices.find((d) => d.id === id)?.channels[name];
}

const fmt = (n: number, digits = 0) => n.toLocaleString(lang() === "nl" ? "nl-NL" : "en-GB", { maximumFractionDigits: digits, minimumFractionDigits: digits });

const UNIT_SHOWN: Record<string, string> = { C: "°C", Pct: "%" };

function formatValue(c: LiveChannel): string {
  if (c.value === null) return "–";
  const unit = UNIT_SHOWN[c.unit] ?? c.unit;
  const abs = Math.abs(c.value);
  if (c.unit === "W" && abs >= 1000) return `${fmt(c.value / 1000, 2)} kW`;
  const digits = c.unit === "W" || c.unit === "ppm" || c.unit === "Wh" ? 0 : 1;
  return `${fmt(c.value, digits)}${unit ? ` ${unit}` : ""}`;
}

function badge(c: LiveChannel): string {
  if (c.quality === "missing") return `<span class="badge missing">${t("missing")}</span>`;
  if (c.quality === "invalid") return `<span class="badge stale">${t("invalid")}</span>`;
  if (c.prov === "stale") return `<span class="badge stale">${t("stale")}</span>`;
  if (c.prov === "simulated") return `<span class="badge sim">${t("simulated")}</span>`;
  return "";
}

function ago(at: number | null): string {
  if (at === null) return t("never");
  const s = Math.max(0, Math.round((Date.now() + state.skewMs - at) / 1000));
  return s < 120 ? t("secondsAgo", { n: s }) : t("minutesAgo", { n: Math.round(s / 60) });
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function tile(label: string, c: LiveChannel | undefined, cls: string, value?: number): string {
  const shown = c === undefined ? "–" : formatValue(value !== undefined ? { ...c, value } : c);
  return `<div class="tile ${cls}" data-quality="${c?.quality ?? "missing"}"><div class="tile-label">${esc(label)}</div><div class="tile-value">${shown}</div>${c ? badge(c) : ""}</div>`;
}

function summary(): string {
  const pv = channel("pv-inverter", "pvPowerW");
  const load = channel("grid-meter", "loadPowerW");
  const grid = channel("grid-meter", "gridPowerW");
  const bat = channel("battery", "batteryPowerW");
  const soc = channel("battery", "socPct");
  const g = grid?.value ?? 0;
  const b = bat?.value ?? 0;
  const gridLabel = g < 0 ? t("gridExport") : t("gridImport");
  const batLabel = Math.abs(b) < 20 ? t("batteryIdle") : b < 0 ? t("batteryCharge") : t("batteryDischarge");
  return `<section class="summary">
    ${tile(t("sun"), pv, "sun")}
    ${tile(t("house"), load, "house")}
    ${tile(gridLabel, grid, "grid", Math.abs(g))}
    ${tile(`${batLabel}${soc?.value != null ? ` · ${fmt(soc.value)} %` : ""}`, bat, "battery", Math.abs(b))}
  </section>`;
}

function deviceCard(d: LiveDevice): string {
  const rows = Object.entries(d.channels)
    .map(
      ([name, c]) =>
        `<tr data-channel="${esc(name)}" data-quality="${c.quality}"><th>${esc(c.label ?? name)}</th><td class="num">${formatValue(c)}</td><td>${badge(c)}</td></tr>`,
    )
    .join("");
  return `<article class="device" data-device="${esc(d.id)}" data-state="${d.state}">
    <header><h3>${esc(d.name)}</h3><span class="state state-${d.state}" title="${esc(d.stateReason)}">${t(`state.${d.state}` as StringKey)}</span></header>
    <p class="meta">${t("lastSeen")}: ${ago(d.lastSeen)}</p>
    <table>${rows}</table>
  </article>`;
}

function render(): void {
  conn.dataset.state = state.connected ? "up" : "down";
  conn.textContent = state.connected ? t("connected") : state.snapshot === null ? t("connecting") : t("disconnected");
  langButton.textContent = t("switchLang");
  const snap = state.snapshot;
  if (snap === null) return;
  siteTitle.textContent = snap.siteName;
  app.innerHTML = `${summary()}<h2>${t("devices")}</h2><section class="devices">${snap.devices.map(deviceCard).join("")}</section>`;
}
