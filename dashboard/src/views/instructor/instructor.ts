/**
 * The instructor's console (`#/instructor`, PIN login, a tablet): every station with what it is
 * doing and what stops it, start and stop, the interlocks with hold-to-confirm reset, the open
 * alarms, what a stop left off with one hold-to-confirm "installation back on", and the emergency
 * stop that is always on screen.
 *
 * The class's task first (issue 12): the visit, then the stations as big cards in the visit's
 * order, then the Tiny House as one collapsed group. Safety comes before all of it but takes one
 * calm line while every rule is normal; only rules that are not normal are listed, with their reset.
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
import { h, setText, syncList } from "../../core/dom.ts";
import { onSessionChange, session } from "../../core/session.ts";
import { t, tx } from "../../i18n/index.ts";
import { houseGroup } from "./house.ts";
import { installationPanel } from "./installation.ts";
import { programStationCard } from "./program-station.ts";
import { stationsFrom, type ActuatorStation, type ProgramStation } from "./stations.ts";
import { visitCard } from "./visit.ts";
import { plain, refName } from "./words.ts";

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
  const programCards = new Map<string, ReturnType<typeof programStationCard>>();

  const estopBanner = h("section", { class: "estop-banner", hidden: true, role: "alert", "data-testid": "estop-banner" }, icon("stop"), h("div", null, h("strong", null, t("estop.bannerTitle")), h("p", { class: "estop-banner-text" })));
  const cards = h("div", { class: "station-cards" });
  const house = houseGroup(live);
  const stationsEl = h("div", { class: "stations", "data-testid": "stations" }, cards, house.el);
  const loadStatus = h("p", { class: "load-status", role: "status" });
  const noStations = h("p", { class: "muted", hidden: true }, t("station.none"));
  const interlocks = interlockPanel(live, { abnormalOnly: true, names: (ref) => refName(live, ref), say: (text) => plain(live, text) });
  const alarms = alarmPanel(live, { openOnly: true, people: true });
  const visit = visitCard(live);
  visit.el.hidden = true;
  const installation = installationPanel(live);
  main.replaceChildren(
    h(
      "div",
      { class: "console" },
      estopBanner,
      installation.el,
      interlocks.el,
      visit.el,
      h("section", { class: "console-stations", "aria-labelledby": "stations-title" }, h("h2", { class: "section-title", id: "stations-title" }, icon("play"), t("station.title")), loadStatus, noStations, stationsEl),
      alarms.el,
    ),
  );

  const createCard = (s: ProgramStation): HTMLElement => {
    const card = programStationCard(live, s);
    programCards.set(s.id, card);
    return card.el;
  };

  const update = () => {
    setText(loadStatus, live.snapshot === null ? t("load.loading") : "");
    const stations = live.snapshot === null ? [] : stationsFrom(live);
    const programs = stations.filter((s): s is ProgramStation => s.type === "program");
    // Cards are made once per station and moved when the visit's order changes: a result line or
    // a program chosen in a card survives.
    syncList(cards, programs, (s) => s.id, createCard, (el, s) => programCards.get(s.id)?.update(live.stations().find((v) => v.id === s.id)));
    for (const id of [...programCards.keys()]) if (!programs.some((s) => s.id === id)) programCards.delete(id);
    const tiny = stations.find((s): s is ActuatorStation => s.type === "actuators") ?? null;
    house.update(tiny);
    noStations.hidden = live.snapshot === null || stations.length > 0;
    const visiting = new Set(live.visit()?.stations ?? []);
    for (const [id, card] of programCards) card.el.dataset.inVisit = String(visiting.has(id));

    const ils = live.interlocks();
    const estop = ils.find((i) => i.id === "estop");
    const active = estop !== undefined && estop.status !== "normal";
    estopBanner.hidden = !active;
    if (active) {
      // Who pressed it ("noodstop door begeleider") in words; a raw reading is the technician's.
      const who = estop.cause ? plain(live, tx(estop.cause.detail)) : "";
      const how = estop.status === "cleared" ? t("estop.bannerCleared") : t("estop.bannerHow");
      setText(estopBanner.querySelector(".estop-banner-text"), who !== "" ? `${who} · ${how}` : how);
    }
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
