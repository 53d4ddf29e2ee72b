/**
 * The Tiny House on the console as ONE group (issue 12): nine actuator rows are not the class's
 * task, so they sit behind a disclosure whose one-line summary says what matters without opening
 * it: how many parts, and which are let go, refused or may not start ("Tiny House: 9 onderdelen,
 * alles normaal · 7 aan"). Opened, it shows every device's actuators with Start and Stop as before.
 * Whether it is open is kept for as long as the page lives (a language switch re-mounts the view).
 */
import { icon } from "../../components/icons.ts";
import { h, replaceIfChanged, setText } from "../../core/dom.ts";
import type { LiveStore } from "../../core/live-store.ts";
import { t, type StringKey } from "../../i18n/index.ts";
import { actuatorRow, type ActuatorRow } from "./actuator-row.ts";
import { actuatorStatus, type ActuatorStatus } from "./actuator-state.ts";
import { deviceTitle, type ActuatorItem, type ActuatorStation } from "./stations.ts";
import { plain } from "./words.ts";

let keptOpen = false;

/** At most this many names in the summary, then "and N more". */
const MAX_NAMES = 3;

/** The summary line from each row's status: pure, so it says exactly what the rows say. */
export function houseSummary(rows: ReadonlyArray<{ name: string; status: ActuatorStatus }>): { text: string; attention: boolean } {
  const names = (list: typeof rows) => {
    const shown = list.slice(0, MAX_NAMES).map((r) => r.name);
    return list.length > MAX_NAMES ? `${shown.join(", ")} ${t("house.more", { n: list.length - MAX_NAMES })}` : shown.join(", ");
  };
  const blocked = rows.filter((r) => r.status.blocked.length > 0);
  const dropped = rows.filter((r) => r.status.status === "dropped" && r.status.blocked.length === 0);
  const refused = rows.filter((r) => r.status.status === "refused" && r.status.blocked.length === 0);
  const on = rows.filter((r) => r.status.status === "held").length;
  const parts: string[] = [t("house.count", { n: rows.length })];
  const problems: Array<[StringKey, typeof rows]> = [
    ["house.blocked", blocked],
    ["house.dropped", dropped],
    ["house.refused", refused],
  ];
  const attention = problems.some(([, list]) => list.length > 0);
  if (!attention) parts.push(t("house.allNormal"));
  for (const [key, list] of problems) if (list.length > 0) parts.push(t(key, { names: names(list) }));
  parts.push(t("house.on", { n: on }));
  return { text: parts.join(" · "), attention };
}

export interface HouseGroup {
  el: HTMLDetailsElement;
  update(station: ActuatorStation | null): void;
}

export function houseGroup(live: LiveStore): HouseGroup {
  const rows = new Map<string, { item: ActuatorItem; row: ActuatorRow }>();
  const summaryText = h("span", { class: "house-summary", "data-testid": "house-summary" });
  const body = h("div", { class: "station-groups" });
  const summary = h(
    "summary",
    { class: "house-head", "data-testid": "house-toggle" },
    icon("house"),
    h("span", { class: "house-title" }, t("station.tinyHouse")),
    summaryText,
    h("span", { class: "house-open-hint" }, h("span", { class: "when-closed" }, t("house.show")), h("span", { class: "when-open" }, t("house.hide"))),
  );
  const el = h("details", { class: "card station house", "data-station": "tiny-house", "data-kind": "tiny-house", "data-testid": "tiny-house" }, summary, body);
  el.open = keptOpen;
  el.addEventListener("toggle", () => {
    keptOpen = el.open;
  });

  const build = (station: ActuatorStation) => {
    rows.clear();
    return station.groups.map((g) => {
      const list = h("ul", { class: "actuators" });
      for (const item of g.items) {
        const row = actuatorRow(live, item);
        rows.set(`${item.device}.${item.actuator}`, { item, row });
        list.appendChild(row.el);
      }
      return h("section", { class: "device-group", "data-device": g.device }, h("h3", null, h("span", { class: "dev-name" }, deviceTitle(live, g.device)), h("span", { class: "chip dev-state" })), list);
    });
  };

  return {
    el,
    update(station) {
      el.hidden = station === null;
      if (station === null) return;
      const shape = station.groups.map((g) => `${g.device}(${g.items.map((i) => i.actuator).join(",")})`).join(";");
      replaceIfChanged(body, shape, () => build(station));
      const ils = live.interlocks();
      const say = (text: string) => plain(live, text);
      const statuses: Array<{ name: string; status: ActuatorStatus }> = [];
      for (const g of station.groups) {
        const state = live.device(g.device)?.state ?? "unknown";
        const chip = body.querySelector(`[data-device="${g.device}"] .dev-state`);
        setText(chip, t(`state.${state}` as "state.ready"));
        chip?.setAttribute("data-state", state);
      }
      for (const [ref, { item, row }] of rows) {
        const status = actuatorStatus(ref, live.actuator(ref), ils, say);
        row.update(status);
        statuses.push({ name: item.name, status });
      }
      const s = houseSummary(statuses);
      setText(summaryText, s.text);
      el.dataset.attention = String(s.attention);
    },
  };
}
