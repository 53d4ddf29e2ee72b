/**
 * A station that runs programs (a 3D printer, a robot cell): its state and why, what it runs and
 * how far along, Start with a program from its approved catalogue (hold-to-confirm: it heats or
 * moves), Pause/Resume and Stop, and the hub's reason when a start is not allowed now.
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

const STATE_ICON: Record<string, IconName> = { offline: "cross", connecting: "clock", idle: "check", running: "play", paused: "pause", stopping: "square", faulted: "stop" };
const KNOWN_STATES = new Set(["offline", "connecting", "idle", "running", "paused", "stopping", "faulted"]);
const KNOWN_KINDS = new Set(["printer", "robot"]);

/** Kind-specific details, one line each: numbers and words, and small objects as key=value. */
function detailLines(details: Record<string, unknown>): string[] {
  const out: string[] = [];
  const show = (v: unknown): string | null => {
    if (v === null || v === undefined) return null;
    if (typeof v === "number") return num(v, Number.isInteger(v) ? 0 : 1);
    if (typeof v === "string" || typeof v === "boolean") return String(v);
    return null;
  };
  for (const [k, v] of Object.entries(details)) {
    const direct = show(v);
    if (direct !== null) out.push(`${k}: ${direct}`);
    else if (typeof v === "object" && v !== null && !Array.isArray(v)) {
      const parts = Object.entries(v as Record<string, unknown>)
        .map(([k2, v2]) => [k2, show(v2)] as const)
        .filter((x): x is readonly [string, string] => x[1] !== null);
      if (parts.length > 0 && parts.length <= 4) out.push(`${k}: ${parts.map(([a, b]) => `${a} ${b}`).join(", ")}`);
    }
    if (out.length >= 6) break;
  }
  return out;
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
  const blocked = h("p", { class: "act-blocked-line", "data-testid": `station-blocked-${s.id}` });
  const details = h("ul", { class: "station-details" });
  const sim = h("span", { class: "badges" });
  const kindLabel = KNOWN_KINDS.has(s.kind) ? t(`station.kind.${s.kind}` as StringKey) : s.kind;
  const el = h(
    "article",
    { class: "card station station-program", "data-station": s.id, "data-kind": s.kind },
    h("h2", null, icon(s.icon), h("span", null, s.name), h("span", { class: "station-kind" }, kindLabel), sim, stateChip),
    reason,
    progress,
    details,
    blocked,
    h("div", { class: "act-buttons" }, h("label", { class: "field inline" }, h("span", null, t("station.program")), program), start.el, pause, resume, stop),
    result.el,
  );

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
      setText(reason, tx(v.stateReason));
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
      replaceIfChanged(details, JSON.stringify(detailLines(v.details)), () => detailLines(v.details).map((l) => h("li", null, l)));
      const idle = v.state === "idle";
      setText(blocked, v.startable.ok ? "" : `${t("actuator.mayNotStart")}: ${tx(v.startable.reason)}`);
      start.setDisabled(!idle || !v.startable.ok || v.catalogue.length === 0);
      program.disabled = !idle;
      pause.hidden = v.state !== "running";
      resume.hidden = v.state !== "paused";
      stop.disabled = !(v.state === "running" || v.state === "paused");
    },
  };
}
