/**
 * Alarms for staff, those needing attention first (active or not yet acknowledged), each with its
 * severity (icon and word), message, how often and since when, and who acknowledged it, when and
 * with what comment. Acknowledging takes an optional comment and goes on the audit record.
 */
import type { Alarm, LiveStore } from "../core/live-store.ts";
import { apiGet } from "../core/api.ts";
import { runCommand } from "../core/commands.ts";
import { h, replaceIfChanged, setText, syncList } from "../core/dom.ts";
import { dateTime } from "../core/format.ts";
import { token } from "../core/session.ts";
import { lang, nameOf, t, tx } from "../i18n/index.ts";
import { icon, type IconName } from "./icons.ts";
import { errorText, resultLine } from "./notice.ts";

const SEVERITY_ICON: Record<Alarm["severity"], IconName> = { critical: "stop", warning: "warning", info: "bell" };
const RANK = { critical: 0, warning: 1, info: 2 } as const;

/** When an alarm last changed: raised again, cleared or acknowledged. */
const version = (a: Alarm): number => Math.max(a.lastAt, a.clearedAt ?? 0, a.ackedAt ?? 0);

export const isOpen = (a: Alarm): boolean => a.active || !a.acknowledged;

export function sortAlarms(list: Iterable<Alarm>): Alarm[] {
  return [...list].sort((a, b) => Number(isOpen(b)) - Number(isOpen(a)) || RANK[a.severity] - RANK[b.severity] || b.lastAt - a.lastAt);
}

/**
 * `people`: the instructor's console, which names what an alarm is about and says what happened
 * without ids or raw values (`water.leak = 1` stays with the technician, who sees both).
 */
export function alarmPanel(live: LiveStore, opts: { openOnly: boolean; people?: boolean }): { el: HTMLElement; update(): void; refresh(): Promise<void> } {
  const people = opts.people === true;
  const rule = (a: Alarm) => (a.key.startsWith("interlock:") ? live.interlocks().find((i) => i.id === a.source) : undefined);
  /** What the alarm is about, by name: an interlock's name, a device's label, else (staff) its id. */
  const about = (a: Alarm): string => {
    const il = live.interlocks().find((i) => i.id === a.source);
    const d = live.device(a.source);
    const name = il !== undefined ? tx(il.name) : d !== undefined ? (d.label !== undefined ? tx(d.label) : nameOf(d.id, d.name)) : null;
    if (people) return name ?? "";
    return name === null || name === a.source ? a.source : `${name} (${a.source})`;
  };
  /** A trip on the rule's own condition reads "{reason}: {raw detail}": people get the reason alone. */
  const message = (a: Alarm): string => {
    const said = tx(a.message);
    const il = people ? rule(a) : undefined;
    const reason = il === undefined ? "" : tx(il.reason);
    return reason !== "" && said.startsWith(`${reason}: `) ? reason : said;
  };
  const list = h("ul", { class: "alarm-list", "data-testid": "alarms" });
  const empty = h("p", { class: "muted alarm-empty" });
  const status = h("p", { class: "load-status", role: "status" });
  const count = h("span", { class: "count" });
  const el = h("section", { class: "card alarms" }, h("h2", null, icon("bell"), t("alarm.title"), count), status, empty, list);
  let fromRest = new Map<string, Alarm>();

  const create = (a: Alarm): HTMLElement => {
    // Every alarm has a "Bevestigen" button and a comment field: each is described by its own
    // alarm's message, so a screen reader says which alarm it acknowledges.
    const msgId = `alarm-msg-${a.key.replace(/[^A-Za-z0-9_-]/g, "-")}`;
    const comment = h("input", { class: "ack-comment", type: "text", maxlength: 500, placeholder: t("alarm.commentPlaceholder"), "aria-label": t("alarm.comment"), "aria-describedby": msgId });
    const button = h("button", { type: "submit", class: "btn btn-primary", "aria-describedby": msgId }, icon("check"), t("alarm.acknowledge"));
    const result = resultLine();
    const form = h("form", { class: "ack-form" }, comment, button);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      button.disabled = true;
      result.pending(t("alarm.acknowledging"));
      const text = comment.value.trim();
      void runCommand<Alarm>(live, "alarm.acknowledge", text === "" ? { key: a.key } : { key: a.key, comment: text }).then((reply) => {
        button.disabled = false;
        result.show(reply, t("alarm.acknowledged"));
        if (reply.ok) {
          fromRest.set(reply.result.key, reply.result);
          live.alarmsSeen.set(reply.result.key, reply.result);
          update();
        }
      });
    });
    return h(
      "li",
      { class: "alarm", "data-alarm": a.key },
      h("div", { class: "alarm-head" }, h("span", { class: "sev-icon" }), h("span", { class: "sev" }), h("strong", { class: "alarm-msg", id: msgId }), h("span", { class: "chip alarm-state" })),
      h("p", { class: "alarm-meta" }),
      h("p", { class: "alarm-ack" }),
      form,
      result.el,
    );
  };

  const updateRow = (row: HTMLElement, a: Alarm) => {
    row.dataset.severity = a.severity;
    row.dataset.open = String(isOpen(a));
    row.dataset.acknowledged = String(a.acknowledged);
    replaceIfChanged(row.querySelector(".sev-icon") as HTMLElement, a.severity, () => icon(SEVERITY_ICON[a.severity]));
    setText(row.querySelector(".sev"), t(`severity.${a.severity}`));
    setText(row.querySelector(".alarm-msg"), message(a));
    setText(row.querySelector(".alarm-state"), a.active ? t("alarm.active") : t("alarm.cleared"));
    const times = a.count > 1 ? ` · ${t("alarm.count", { n: a.count })}` : "";
    const what = about(a);
    setText(row.querySelector(".alarm-meta"), `${what === "" ? "" : `${what} · `}${t("alarm.first", { time: dateTime(a.firstAt) })}${a.lastAt !== a.firstAt ? ` · ${t("alarm.last", { time: dateTime(a.lastAt) })}` : ""}${times}${a.clearedAt ? ` · ${t("alarm.clearedAt", { time: dateTime(a.clearedAt) })}` : ""}`);
    setText(
      row.querySelector(".alarm-ack"),
      a.acknowledged ? `${t("alarm.ackedBy", { name: a.ackedBy ?? "?", time: a.ackedAt ? dateTime(a.ackedAt) : "" })}${a.comment ? ` · “${a.comment}”` : ""}` : t("alarm.notAcked"),
    );
    (row.querySelector(".ack-form") as HTMLElement).hidden = a.acknowledged;
  };

  function update(): void {
    const merged = new Map(fromRest);
    // The live stream and the last REST page each have some alarms; keep the newer version of each.
    for (const a of live.alarmsSeen.values()) {
      const r = merged.get(a.key);
      if (r === undefined || version(a) >= version(r)) merged.set(a.key, a);
    }
    const all = sortAlarms(merged.values()).filter((a) => !opts.openOnly || isOpen(a));
    const open = all.filter(isOpen).length;
    setText(count, open > 0 ? String(open) : "");
    setText(empty, all.length === 0 ? (opts.openOnly ? t("alarm.noneOpen") : t("alarm.none")) : "");
    syncList(list, all, (a) => `${lang()}:${a.key}`, create, updateRow);
  }

  return {
    el,
    update,
    async refresh() {
      try {
        const all = await apiGet<Alarm[]>(`/api/alarms${opts.openOnly ? "?open=true" : ""}`, token());
        fromRest = new Map(all.map((a) => [a.key, a]));
        setText(status, "");
        update();
      } catch (error) {
        setText(status, `${t("load.failed")}: ${errorText(error)}`);
      }
    },
  };
}
