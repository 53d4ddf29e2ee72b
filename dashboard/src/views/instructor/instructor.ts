/**
 * The instructor's console (`#/instructor`, PIN login, a tablet): every station with what it is
 * doing and what stops it, start and stop, the interlocks with hold-to-confirm reset, the open
 * alarms, what a stop left off with one hold-to-confirm "installation back on", and the emergency
 * stop that is always on screen.
 *
 * Stations, actuators, holds, interlocks and the visit come from the live stream only, one source
 * of truth: a screen that mixed it with REST polls and the audit log kept "may not start" up after
 * the reset that allowed the start, and lost the visit when refused commands filled the log.
 */
import type { AppContext, Unmount } from "../../core/app.ts";
import { alarmPanel } from "../../components/alarms.ts";
import { icon } from "../../components/icons.ts";
import { interlockPanel } from "../../components/interlocks.ts";
import { loginForm } from "../../components/login.ts";
import { staffShell } from "../../components/shell.ts";
import { apiGet } from "../../core/api.ts";
import { h, replaceIfChanged, setText } from "../../core/dom.ts";
import { onSessionChange, session } from "../../core/session.ts";
import { lang, t, tx } from "../../i18n/index.ts";
import { actuatorRow, type ActuatorRow } from "./actuator-row.ts";
import { actuatorStatus } from "./actuator-state.ts";
import { installationPanel } from "./installation.ts";
import { programStationCard } from "./program-station.ts";
import { deviceTitle, stationsFrom, type Station } from "./stations.ts";
import { visitCard } from "./visit.ts";

export function instructorView(root: HTMLElement, ctx: AppContext): Unmount {
  const shell = staffShell(root, ctx, "instructor");
  let inner: Unmount | null = null;
  let shown: "login" | "console" | null = null;
  const render = () => {
    const s = session();
    // Logging in again before the session ends (the shell's warning) keeps the console as it is.
    if (s !== null && shown === "console") return;
    inner?.();
    inner = null;
    if (s === null) {
      shown = "login";
      shell.main.replaceChildren(loginForm("instructor"));
      return;
    }
    shown = "console";
    inner = consoleView(shell.main, ctx);
  };
  render();
  const unsession = onSessionChange(render);
  return () => {
    unsession();
    inner?.();
    shell.destroy();
  };
}

function consoleView(main: HTMLElement, ctx: AppContext): Unmount {
  const { live } = ctx;
  const rows = new Map<string, ActuatorRow>();
  const programCards = new Map<string, ReturnType<typeof programStationCard>>();

  const estopBanner = h("section", { class: "estop-banner", hidden: true, role: "alert", "data-testid": "estop-banner" }, icon("stop"), h("div", null, h("strong", null, t("estop.bannerTitle")), h("p", { class: "estop-banner-text" })));
  const stationsEl = h("div", { class: "stations", "data-testid": "stations" });
  const loadStatus = h("p", { class: "load-status", role: "status" });
  const interlocks = interlockPanel(live);
  const alarms = alarmPanel(live, { openOnly: true });
  const visit = visitCard(live);
  visit.el.hidden = true;
  const installation = installationPanel(live);
  main.replaceChildren(
    estopBanner,
    installation.el,
    h("div", { class: "columns" }, h("div", { class: "col-main" }, visit.el, h("h2", { class: "section-title" }, icon("play"), t("station.title")), loadStatus, stationsEl), h("div", { class: "col-side" }, interlocks.el, alarms.el)),
  );

  const stationCard = (s: Station): HTMLElement => {
    if (s.type === "program") {
      const card = programStationCard(live, s);
      programCards.set(s.id, card);
      return card.el;
    }
    const groups = h("div", { class: "station-groups" });
    const card = h("article", { class: "card station", "data-station": s.id, "data-kind": s.kind }, h("h2", null, icon(s.icon), s.name), groups);
    for (const g of s.groups) {
      const list = h("ul", { class: "actuators" });
      for (const item of g.items) {
        const row = actuatorRow(live, item);
        rows.set(`${item.device}.${item.actuator}`, row);
        list.appendChild(row.el);
      }
      groups.appendChild(h("section", { class: "device-group", "data-device": g.device }, h("h3", null, h("span", { class: "dev-name" }, deviceTitle(live, g.device)), h("span", { class: "chip dev-state" })), list));
    }
    return card;
  };

  let stations: Station[] = [];
  /** Rebuilds the cards only when the set of stations or actuators changes; rows keep their state. */
  const layout = () => {
    const next = stationsFrom(live);
    const shape = next.map((s) => `${s.id}:${s.type === "actuators" ? s.groups.map((g) => `${g.device}(${g.items.map((i) => i.actuator).join(",")})`).join(";") : s.kind}`).join("|");
    replaceIfChanged(stationsEl, `${lang()}:${live.snapshot === null ? "-" : shape}`, () => {
      rows.clear();
      programCards.clear();
      if (live.snapshot === null) return null;
      return next.length === 0 ? h("p", { class: "muted" }, t("station.none")) : next.map(stationCard);
    });
    stations = next;
  };

  const update = () => {
    setText(loadStatus, live.snapshot === null ? t("load.loading") : "");
    layout();
    for (const [id, card] of programCards) card.update(live.stations().find((v) => v.id === id));
    const ils = live.interlocks();
    for (const s of stations) {
      if (s.type !== "actuators") continue;
      for (const g of s.groups) {
        const state = live.device(g.device)?.state ?? "unknown";
        const chip = stationsEl.querySelector(`[data-device="${g.device}"] .dev-state`);
        setText(chip, t(`state.${state}` as "state.ready"));
        chip?.setAttribute("data-state", state);
        for (const item of g.items) {
          const ref = `${item.device}.${item.actuator}`;
          const view = live.actuator(ref);
          rows.get(ref)?.update(actuatorStatus(ref, view, ils));
        }
      }
    }
    const estop = ils.find((i) => i.id === "estop");
    const active = estop !== undefined && estop.status !== "normal";
    estopBanner.hidden = !active;
    if (active) setText(estopBanner.querySelector(".estop-banner-text"), `${estop.cause ? tx(estop.cause.detail) : ""} · ${estop.status === "cleared" ? t("estop.bannerCleared") : t("estop.bannerHow")}`);
    interlocks.update();
    alarms.update();
    installation.update();
    if (!visit.el.hidden) visit.update(live.visit());
  };

  // Class visits exist only on hubs that offer them.
  void apiGet<Array<{ name: string }>>("/api/commands")
    .then((list) => {
      visit.el.hidden = !list.some((c) => c.name === "visit.start");
      update();
    })
    .catch(() => undefined);
  void alarms.refresh();
  const unsubscribe = live.subscribe(update);
  update();
  return () => {
    unsubscribe();
  };
}
