/**
 * The interlocks for staff: what tripped, why (the rule's reason and the specific cause), what it
 * forbids, and a hold-to-confirm reset for those this person's role may reset, with the hub's
 * reason when a reset would be refused now. A reset restarts nothing; the screen says so.
 *
 * The technician's workbench lists every rule, normal ones included, with the raw cause
 * ("water.leak = 1"). The instructor's console (`abnormalOnly`) lists only the rules that are not
 * normal, in words (no raw cause, what it forbids by name), and otherwise one calm line.
 */
import type { InterlockView, LiveStore } from "../core/live-store.ts";
import { runCommand } from "../core/commands.ts";
import { h, replaceIfChanged, setText, syncList } from "../core/dom.ts";
import { ago, clockSeconds } from "../core/format.ts";
import { session } from "../core/session.ts";
import { lang, nameOf, t, tx, type StringKey } from "../i18n/index.ts";
import { holdButton } from "./hold-button.ts";
import { icon, type IconName } from "./icons.ts";
import { resultLine } from "./notice.ts";

const STATUS_ICON: Record<InterlockView["status"], IconName> = { normal: "check", tripped: "stop", cleared: "lock", waiting: "clock" };
/** How long the console keeps a rule it reset in its list (normal again), with the reset's answer. */
const KEEP_AFTER_RESET_MS = 30_000;
const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 } as const;

export function sortInterlocks(list: readonly InterlockView[]): InterlockView[] {
  const rank = (i: InterlockView) => (i.id === "estop" && i.status !== "normal" ? -1 : i.status === "normal" ? 10 : i.status === "waiting" ? 5 : 0);
  return [...list].sort((a, b) => rank(a) - rank(b) || SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || a.id.localeCompare(b.id));
}

/** "water.pumpEnable" as a person reads it. */
export function actuatorName(ref: string): string {
  if (ref === "*") return t("interlock.everything");
  return nameOf(ref, undefined);
}

export interface InterlockPanelOptions {
  /**
   * The console: only rules that are not normal (one calm line when all are), no raw cause, what
   * a rule forbids said by `names`.
   */
  abnormalOnly?: boolean;
  names?: (ref: string) => string;
  /** How a hub sentence is said on this screen (the console leaves raw readings out). */
  say?: (text: string) => string;
}

function statusKey(i: InterlockView): StringKey {
  return `interlock.status.${i.status}`;
}

export function interlockPanel(live: LiveStore, opts: InterlockPanelOptions = {}): { el: HTMLElement; update(): void } {
  const abnormalOnly = opts.abnormalOnly === true;
  const nameFor = opts.names ?? actuatorName;
  const say = opts.say ?? ((text: string) => text);
  const list = h("ul", { class: "interlock-list", "data-testid": "interlocks" });
  const calm = h("p", { class: "il-calm", hidden: true, "data-testid": "interlocks-calm" }, icon("check"), t("interlock.allNormal"));
  const el = abnormalOnly
    ? h("section", { class: "card interlocks interlocks-console", "data-testid": "safety" }, h("h2", null, icon("shield"), t("interlock.titleConsole")), calm, list)
    : h("section", { class: "card interlocks" }, h("h2", null, icon("shield"), t("interlock.title")), list);

  /** Rules reset from this screen, and when: listed on the console for a while after, to say how it went. */
  const resetHere = new Map<string, number>();
  const create = (il: InterlockView): HTMLElement => {
    const result = resultLine();
    const reset = holdButton({
      label: il.id === "estop" ? t("interlock.resetEstop") : t("interlock.reset"),
      icon: "refresh",
      variant: "warn",
      testId: `reset-${il.id}`,
      onConfirm: async () => {
        result.pending(t("interlock.resetting"));
        const reply = await runCommand(live, "interlock.reset", { id: il.id });
        result.show(reply, t("interlock.resetDone"));
        // The console lists only rules that are not normal: the one just reset stays a while, with its answer.
        if (reply.ok) resetHere.set(il.id, live.now());
      },
    });
    const row = h(
      "li",
      { class: "interlock", "data-interlock": il.id },
      h("div", { class: "il-head" }, h("span", { class: "il-title" }, h("span", { class: "il-icon" }), h("strong", { class: "il-name" })), h("span", { class: "chip il-status" }), h("span", { class: "il-sev" })),
      h("p", { class: "il-reason" }),
      h("p", { class: "il-cause" }),
      h("p", { class: "il-forbids" }),
      h("p", { class: "il-blocked" }),
      h("div", { class: "il-actions" }, reset.el, h("span", { class: "il-roles" })),
      result.el,
    );
    (row as HTMLElement & { __reset?: typeof reset }).__reset = reset;
    return row;
  };

  const updateRow = (row: HTMLElement, il: InterlockView) => {
    const reset = (row as HTMLElement & { __reset?: ReturnType<typeof holdButton> }).__reset;
    row.dataset.status = il.status;
    row.dataset.severity = il.severity;
    replaceIfChanged(row.querySelector(".il-icon") as HTMLElement, il.status, () => icon(STATUS_ICON[il.status]));
    setText(row.querySelector(".il-name"), tx(il.name));
    setText(row.querySelector(".il-status"), t(statusKey(il)));
    setText(row.querySelector(".il-sev"), t(`severity.${il.severity}`));
    const abnormal = il.status !== "normal";
    setText(row.querySelector(".il-reason"), abnormal ? say(tx(il.reason)) : "");
    const since = abnormal ? ` · ${t("interlock.since", { time: clockSeconds(il.trippedAt ?? il.since), ago: ago(il.trippedAt ?? il.since, live.now()) })}` : "";
    // The raw cause ("water.leak = 1") is the technician's; the console says since when only.
    const cause = abnormalOnly ? (abnormal ? t("interlock.sinceLine", { time: clockSeconds(il.trippedAt ?? il.since), ago: ago(il.trippedAt ?? il.since, live.now()) }) : "") : il.cause && abnormal ? `${t("interlock.cause")}: ${tx(il.cause.detail)}${since}` : "";
    setText(row.querySelector(".il-cause"), cause);
    setText(row.querySelector(".il-forbids"), abnormal && il.forbids.length > 0 ? `${t("interlock.forbids")}: ${[...new Set(il.forbids.map(nameFor))].join(", ")}` : "");
    const blocked = row.querySelector(".il-blocked") as HTMLElement;
    // Where the hub cannot see the cause go (a halted printer firmware), it says what a reset does instead.
    const effect = il.status === "cleared" && il.resetEffect ? `${t("interlock.resetEffect")}: ${say(tx(il.resetEffect))}` : "";
    setText(blocked, abnormal && il.resetBlocked ? `${t("interlock.resetBlocked")}: ${say(tx(il.resetBlocked))}` : effect);
    const me = session();
    const mayReset = me !== null && il.resetRoles.includes(me.role);
    const latched = il.status === "tripped" || il.status === "cleared";
    const showReset = latched && il.latched;
    (row.querySelector(".il-actions") as HTMLElement).hidden = !showReset;
    reset?.el.toggleAttribute("hidden", !mayReset);
    setText(row.querySelector(".il-roles"), showReset && !mayReset ? t("interlock.onlyRoles", { roles: il.resetRoles.map((r) => t(r === "technician" ? "role.technician" : "role.instructor")).join(` ${t("word.or")} `) }) : showReset ? t("interlock.restartsNothing") : "");
  };

  return {
    el,
    update() {
      const all = sortInterlocks(live.interlocks());
      const now = live.now();
      for (const [id, at] of resetHere) if (now - at > KEEP_AFTER_RESET_MS) resetHere.delete(id);
      const items = abnormalOnly ? all.filter((i) => i.status !== "normal" || resetHere.has(i.id)) : all;
      syncList(list, items, (i) => `${lang()}:${i.id}`, create, updateRow);
      if (abnormalOnly) {
        const quiet = items.every((i) => i.status === "normal") && live.snapshot !== null;
        calm.hidden = !quiet;
        list.hidden = items.length === 0;
        el.dataset.calm = String(quiet);
      }
    },
  };
}
