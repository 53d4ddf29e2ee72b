/**
 * "Waarom staat dit stil?": whenever an interlock is not normal, the kiosk explains it in the
 * rule's child-friendly words (its `kiosk` text, else its reason), names the machines it stopped
 * ("printer 2", "de robotcel"), and says what happens next (story.ts decides that sentence from the
 * same live data: what stays off, what the house still uses).
 */
import type { InterlockView, LiveStore } from "../../core/live-store.ts";
import { icon } from "../../components/icons.ts";
import { sortInterlocks } from "../../components/interlocks.ts";
import { h, replaceIfChanged, setText, syncList } from "../../core/dom.ts";
import { lang, t, tx } from "../../i18n/index.ts";
import { say } from "./say.ts";
import { shownNow } from "./sim-time.ts";
import { whyNext } from "./story.ts";

/** At most this many explanations at once: each stays readable from across the room. */
const MAX_SHOWN = 2;

/** A station's name as a pupil says it: "printer 2" in a Dutch sentence, "Printer 2" in English. */
function plainName(name: string): string {
  return lang() === "nl" && !/^[A-Z0-9]{2,}/.test(name) ? name.charAt(0).toLowerCase() + name.slice(1) : name;
}

export function whyPanel(live: LiveStore): { el: HTMLElement; update(): boolean } {
  const list = h("ul", { class: "why-list" });
  const el = h(
    "section",
    { class: "why", "data-testid": "why", role: "alert", hidden: true },
    h("h2", null, icon("hand", "why-icon"), t("why.title")),
    list,
  );

  /** The stations an interlock stopped: those it forbids, or all of them for the e-stop. */
  const stopped = (il: InterlockView): string[] => {
    const stations = live.stations();
    const hit = il.id === "estop" ? stations : stations.filter((s) => il.forbids.some((f) => f === s.id || f.startsWith(`${s.id}.`)));
    return hit.map((s) => plainName(s.name));
  };

  const create = (): HTMLElement => h("li", { class: "why-item" }, h("span", { class: "why-item-icon" }), h("p", { class: "why-text" }), h("p", { class: "why-next" }), h("p", { class: "why-stopped" }));
  // "Sinds 12:40" in the clock's time: simulated when the kiosk's clock is.
  const update = (row: HTMLElement, il: InterlockView) => {
    row.dataset.interlock = il.id;
    row.dataset.status = il.status;
    replaceIfChanged(row.querySelector(".why-item-icon") as HTMLElement, `${il.id}:${il.status}`, () => icon(il.id === "estop" ? "stop" : il.status === "waiting" ? "clock" : "warning"));
    const text = il.status === "waiting" ? t("why.waiting") : il.id === "estop" ? t("why.estopTitle") : tx(il.kiosk) || tx(il.reason);
    setText(row.querySelector(".why-text"), text);
    const names = il.status === "waiting" ? [] : stopped(il);
    setText(row.querySelector(".why-stopped"), names.length === 0 ? "" : t("why.stopped", { what: names.join(", ") }));
    const leftOff = live.actuators().filter((a) => a.state === "released" && a.released?.interlock === il.id).length;
    const next = whyNext({ id: il.id, status: il.status, latched: il.latched, leftOff, loadW: live.value("grid-meter", "loadPowerW"), trippedAt: shownNow(live.simClock(), il.trippedAt ?? il.since) });
    setText(row.querySelector(".why-next"), next.map(say).join(" "));
  };

  return {
    el,
    update() {
      const abnormal = sortInterlocks(live.interlocks()).filter((i) => i.status !== "normal");
      // Many rules wait for fresh readings at the same time (the hub just started): say it once.
      const waiting = abnormal.filter((i) => i.status === "waiting");
      const shown = [...abnormal.filter((i) => i.status !== "waiting"), ...waiting.slice(0, 1)].slice(0, MAX_SHOWN);
      syncList(list, shown, (i) => `${lang()}:${i.status === "waiting" ? "waiting" : i.id}`, create, update);
      const visible = shown.length > 0;
      el.hidden = !visible;
      el.dataset.kind = shown.some((i) => i.id === "estop") ? "estop" : shown.every((i) => i.status === "waiting") ? "waiting" : "trip";
      return visible;
    },
  };
}
