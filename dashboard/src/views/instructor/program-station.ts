/**
 * A station that runs programs (a 3D printer, a robot cell), as a big card: its name, state and
 * why, what it runs and how far along, Start with a program from its approved catalogue
 * (hold-to-confirm: it heats or moves), Pause/Resume and Stop, and each of the hub's reasons when
 * a start is not allowed now, in words (no ids, no raw values: those are the technician's).
 */
import { badge } from "../../components/badge.ts";
import { holdButton } from "../../components/hold-button.ts";
import { icon, type IconName } from "../../components/icons.ts";
import { resultLine } from "../../components/notice.ts";
import { runCommand } from "../../core/commands.ts";
import { h, replaceIfChanged, setText } from "../../core/dom.ts";
import { countdown, num } from "../../core/format.ts";
import type { LiveStore, StationView } from "../../core/live-store.ts";
import { t, tx, type StringKey } from "../../i18n/index.ts";
import type { ProgramStation } from "./stations.ts";
import { blockedLine, plain, startReasons, type Text } from "./words.ts";

const STATE_ICON: Record<string, IconName> = { offline: "cross", connecting: "clock", idle: "check", running: "play", paused: "pause", stopping: "square", faulted: "stop" };
const KNOWN_STATES = new Set(["offline", "connecting", "idle", "running", "paused", "stopping", "faulted"]);
const KNOWN_KINDS = new Set(["printer", "robot"]);

interface Heater {
  actual: number;
  target: number | null;
}

function heaterOf(v: unknown): Heater | null {
  if (typeof v !== "object" || v === null) return null;
  const o = v as Record<string, unknown>;
  return typeof o.actual === "number" ? { actual: o.actual, target: typeof o.target === "number" ? o.target : null } : null;
}

/** States in which a printer's temperatures are live and its targets mean something. */
const TEMPS_SHOWN = new Set(["idle", "running", "paused", "stopping"]);

/**
 * A printer's temperatures in words ("Spuitkop 205 °C, doel 210 °C · Printbed 60 °C"), only while
 * it is connected and not halted: a halted firmware's last targets are not what it does now. The
 * rest of the kind's details (firmware, link statistics, a robot's mode) are the technician's.
 */
function temperatureLine(v: StationView): string {
  if (v.kind !== "printer" || !TEMPS_SHOWN.has(v.state)) return "";
  const one = (key: "station.hotend" | "station.bed", x: Heater | null): string | null => {
    if (x === null) return null;
    const now = `${num(x.actual)} °C`;
    const heating = x.target !== null && x.target > 0 && v.state !== "idle";
    return t(key, { now: heating ? t("station.tempTarget", { now, target: `${num(x.target ?? 0)} °C` }) : now });
  };
  return [one("station.hotend", heaterOf(v.details.hotend)), one("station.bed", heaterOf(v.details.bed))].filter((x) => x !== null).join(" · ");
}

export function programStationCard(live: LiveStore, s: ProgramStation): { el: HTMLElement; update(view: StationView | undefined): void } {
  const result = resultLine();
  const send = async (name: string, params: Record<string, unknown>, okText: string) => {
    result.pending(t("station.sending"));
    const reply = await runCommand(live, name, params);
    result.show(reply, okText);
  };
  const program = h("select", { class: "program-select", "aria-label": t("station.program") });
  const start = holdButton({ label: t("station.start"), icon: "play", variant: "warn", testId: `station-start-${s.id}`, onConfirm: () => send("station.start", { station: s.id, program: program.value }, t("station.started")) });
  const pause = h("button", { type: "button", class: "btn", "data-action": "pause" }, icon("pause"), t("station.pause"));
  const resume = h("button", { type: "button", class: "btn", "data-action": "resume" }, icon("play"), t("station.resume"));
  const stop = h("button", { type: "button", class: "btn btn-stop", "data-action": "stop" }, icon("square"), t("station.stop"));
  pause.addEventListener("click", () => void send("station.pause", { station: s.id }, t("station.paused")));
  resume.addEventListener("click", () => void send("station.resume", { station: s.id }, t("station.resumed")));
  stop.addEventListener("click", () => void send("station.stop", { station: s.id }, t("station.stopped")));

  const stateChip = h("span", { class: "chip station-state" });
  const reason = h("p", { class: "station-reason" });
  const progressFill = h("div", { class: "progress-fill" });
  const progressText = h("span", { class: "progress-text" });
  const progress = h("div", { class: "progress", hidden: true }, h("div", { class: "progress-bar" }, progressFill), progressText);
  const blocked = h("ul", { class: "station-blocked", "data-testid": `station-blocked-${s.id}` });
  const temps = h("p", { class: "station-temps" });
  const sim = h("span", { class: "badges" });
  const kindLabel = KNOWN_KINDS.has(s.kind) ? t(`station.kind.${s.kind}` as StringKey) : s.kind;
  const title = h("span", { class: "station-name" }, s.name);
  const el = h(
    "article",
    { class: "card station station-program", "data-station": s.id, "data-kind": s.kind },
    h("h2", null, icon(s.icon), title, h("span", { class: "station-kind" }, kindLabel), sim, stateChip),
    reason,
    progress,
    temps,
    blocked,
    h("div", { class: "station-controls" }, h("label", { class: "field inline" }, h("span", null, t("station.program")), program), start.el, pause, resume, stop),
    result.el,
  );
  start.el.setAttribute("aria-label", `${t("station.start")}: ${s.name}`);
  stop.setAttribute("aria-label", `${t("station.stop")}: ${s.name}`);

  return {
    el,
    update(v) {
      if (v === undefined) {
        el.dataset.state = "gone";
        setText(stateChip, t("station.stateUnknown"));
        return;
      }
      el.dataset.state = v.state;
      replaceIfChanged(stateChip, `${v.state}`, () => [icon(STATE_ICON[v.state] ?? "clock"), KNOWN_STATES.has(v.state) ? t(`station.state.${v.state}` as StringKey) : v.state]);
      replaceIfChanged(sim, String(v.simulated), () => (v.simulated ? badge("simulated") : null));
      const why = plain(live, tx(v.stateReason));
      const label = (v as StationView & { label?: Text }).label;
      if (label !== undefined) setText(title, tx(label));
      const cat = v.catalogue.join("|");
      replaceIfChanged(program, cat, () => v.catalogue.map((p) => h("option", { value: p }, p)));
      const p = v.progress;
      progress.hidden = p === null;
      if (p !== null) {
        progressFill.style.width = `${Math.max(0, Math.min(100, p.pct))}%`;
        const left = p.timeLeftS !== null ? ` · ${t("station.timeLeft", { time: countdown(p.timeLeftS * 1000) })}` : "";
        const layer = p.layer !== undefined && p.layers !== undefined ? ` · ${t("station.layer", { n: p.layer, of: p.layers })}` : "";
        setText(progressText, `${v.program ?? ""} ${num(p.pct)} %${left}${layer}`);
      }
      setText(temps, temperatureLine(v));
      const idle = v.state === "idle";
      // While it runs, "a program is running" is no news: the reasons are for a station that waits.
      const busy = v.state === "running" || v.state === "paused" || v.state === "stopping";
      const reasons = busy ? [] : startReasons(live, v.startable);
      el.dataset.blocked = String(reasons.length > 0);
      // The state's reason once: not again as the first reason it may not start.
      setText(reason, reasons.includes(why) ? "" : why);
      // One reason in one sentence; several under one "may not start, because:".
      replaceIfChanged(blocked, reasons.join("|"), () =>
        reasons.length === 1
          ? h("li", null, icon("lock"), h("span", null, blockedLine(reasons[0] ?? "")))
          : [reasons.length > 1 ? h("li", { class: "blocked-head" }, t("station.mayNotStartBecause")) : null, ...reasons.map((r) => h("li", null, icon("lock"), h("span", null, r)))],
      );
      start.setDisabled(!idle || !v.startable.ok || v.catalogue.length === 0);
      program.disabled = !idle;
      pause.hidden = v.state !== "running";
      resume.hidden = v.state !== "paused";
      stop.disabled = !(v.state === "running" || v.state === "paused");
    },
  };
}
