/**
 * A class visit (when the hub offers `visit.start`): the instructor opens it with a label (never
 * children's names), the stations this class may use and how long; robots start only during a
 * visit open to them, and ending it stops every station and returns what was started to safe.
 * The card learns the running visit from the live stream alone (the hub sends it when it starts or
 * ends, wherever that was done): never from the audit log, whose newest rows anyone can add to.
 */
import { holdButton } from "../../components/hold-button.ts";
import { icon } from "../../components/icons.ts";
import { resultLine } from "../../components/notice.ts";
import { runCommand } from "../../core/commands.ts";
import { h, replaceIfChanged, setText } from "../../core/dom.ts";
import { clock, countdown } from "../../core/format.ts";
import type { LiveStore, Visit } from "../../core/live-store.ts";
import { t } from "../../i18n/index.ts";
import { stationName } from "./words.ts";

const DEFAULT_MINUTES = 90;

export function visitCard(live: LiveStore): { el: HTMLElement; update(visit: Visit | null): void } {
  const result = resultLine();

  const label = h("input", { type: "text", maxlength: 80, placeholder: t("visit.labelPlaceholder"), "data-testid": "visit-label" });
  const minutes = h("select", { "data-testid": "visit-minutes" }, [45, 60, 90, 120, 180].map((m) => h("option", { value: m, ...(m === DEFAULT_MINUTES ? { selected: true } : {}) }, t("visit.minutes", { n: m }))));
  const stationBoxes = h("div", { class: "visit-stations" });
  const start = h("button", { type: "submit", class: "btn btn-primary" }, icon("play"), t("visit.start"));
  const form = h(
    "form",
    { class: "visit-form" },
    h("label", { class: "field" }, h("span", null, t("visit.label")), label, h("small", { class: "muted" }, t("visit.noNames"))),
    h("label", { class: "field" }, h("span", null, t("visit.duration")), minutes),
    h("fieldset", { class: "field visit-fieldset" }, h("legend", null, t("visit.stations")), stationBoxes),
    start,
  );
  const summary = h("p", { class: "visit-summary" });
  const end = holdButton({
    label: t("visit.end"),
    icon: "square",
    variant: "warn",
    testId: "visit-end",
    onConfirm: async () => {
      result.pending(t("visit.ending"));
      const reply = await runCommand(live, "visit.end");
      result.show(reply, t("visit.ended"));
    },
  });
  const running = h("div", { class: "visit-running", hidden: true }, h("div", { class: "visit-running-text" }, summary, h("p", { class: "muted" }, t("visit.endExplains"))), end.el);
  const el = h("section", { class: "card visit", "data-testid": "visit" }, h("h2", null, icon("user"), t("visit.title")), form, running, result.el);

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const stations = [...stationBoxes.querySelectorAll<HTMLInputElement>("input:checked")].map((i) => i.value);
    start.disabled = true;
    result.pending(t("visit.starting"));
    void runCommand<Visit>(live, "visit.start", { label: label.value.trim(), stations, minutes: Number(minutes.value) }).then((reply) => {
      start.disabled = false;
      result.show(reply, t("visit.started"));
      if (reply.ok) label.value = "";
    });
  });

  return {
    el,
    update(visit) {
      const active = visit !== null && visit.endsAt > live.now() ? visit : null;
      el.dataset.active = String(active !== null);
      form.hidden = active !== null;
      running.hidden = active === null;
      const ids = live.stations().map((s) => s.id);
      replaceIfChanged(stationBoxes, ids.join("|"), () =>
        ids.length === 0 ? h("span", { class: "muted" }, t("visit.noStations")) : ids.map((id) => h("label", { class: "check" }, h("input", { type: "checkbox", value: id, checked: true }), ` ${stationName(live, id)}`)),
      );
      if (active !== null) {
        const names = active.stations.length > 0 ? active.stations.map((id) => stationName(live, id)).join(", ") : t("visit.noStationsShort");
        setText(summary, t("visit.summary", { label: active.label, by: active.openedBy, since: clock(active.startedAt), left: countdown(active.endsAt - live.now()), stations: names }));
      }
    },
  };
}
