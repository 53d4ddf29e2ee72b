/**
 * "Waarom staat dit stil?": whenever an interlock is not normal, the kiosk explains it in the
 * rule's child-friendly words (its `kiosk` text, else its reason), and what happens next.
 */
import type { InterlockView, LiveStore } from "../../core/live-store.ts";
import { icon } from "../../components/icons.ts";
import { sortInterlocks } from "../../components/interlocks.ts";
import { h, replaceIfChanged, setText, syncList } from "../../core/dom.ts";
import { clock } from "../../core/format.ts";
import { lang, t, tx } from "../../i18n/index.ts";

export function whyPanel(live: LiveStore): { el: HTMLElement; update(): boolean } {
  const list = h("ul", { class: "why-list" });
  const el = h(
    "section",
    { class: "why", "data-testid": "why", role: "alert", hidden: true },
    h("h2", null, icon("hand", "why-icon"), t("why.title")),
    list,
  );

  const create = (): HTMLElement => h("li", { class: "why-item" }, h("span", { class: "why-item-icon" }), h("p", { class: "why-text" }), h("p", { class: "why-next" }));
  const update = (row: HTMLElement, il: InterlockView) => {
    row.dataset.interlock = il.id;
    row.dataset.status = il.status;
    replaceIfChanged(row.querySelector(".why-item-icon") as HTMLElement, `${il.id}:${il.status}`, () => icon(il.id === "estop" ? "stop" : il.status === "waiting" ? "clock" : "warning"));
    const text = il.status === "waiting" ? t("why.waiting") : tx(il.kiosk) || tx(il.reason);
    setText(row.querySelector(".why-text"), text);
    const next =
      il.status === "cleared"
        ? il.id === "estop"
          ? t("why.estopCleared")
          : t("why.cleared")
        : il.status === "tripped" && il.latched
          ? t("why.latched", { time: clock(il.trippedAt ?? il.since) })
          : il.status === "tripped"
            ? t("why.selfClearing")
            : "";
    setText(row.querySelector(".why-next"), next);
  };

  return {
    el,
    update() {
      const abnormal = sortInterlocks(live.interlocks()).filter((i) => i.status !== "normal");
      // Many rules wait for fresh readings at the same time (the hub just started): say it once.
      const waiting = abnormal.filter((i) => i.status === "waiting");
      const shown = [...abnormal.filter((i) => i.status !== "waiting"), ...waiting.slice(0, 1)].slice(0, 3);
      syncList(list, shown, (i) => `${lang()}:${i.status === "waiting" ? "waiting" : i.id}`, create, update);
      const visible = shown.length > 0;
      el.hidden = !visible;
      el.dataset.kind = shown.some((i) => i.id === "estop") ? "estop" : shown.every((i) => i.status === "waiting") ? "waiting" : "trip";
      return visible;
    },
  };
}
