/**
 * The instructor's console (`#/instructor`, PIN login, a tablet): every station with what it is
 * doing and what stops it, start and stop, the interlocks with hold-to-confirm reset, the open
 * alarms, and the emergency stop that is always on screen.
 */
import type { AppContext, Unmount } from "../../core/app.ts";
import { alarmPanel } from "../../components/alarms.ts";
import { icon } from "../../components/icons.ts";
import { interlockPanel } from "../../components/interlocks.ts";
import { loginForm } from "../../components/login.ts";
import { errorText } from "../../components/notice.ts";
import { staffShell } from "../../components/shell.ts";
import { apiGet } from "../../core/api.ts";
import { h, replaceIfChanged, setText } from "../../core/dom.ts";
import { onSessionChange, session, token } from "../../core/session.ts";
import { lang, t, tx } from "../../i18n/index.ts";
import { actuatorRow, type ActuatorRow } from "./actuator-row.ts";
import { actuatorStatus, lastCommandsFromAudit, type AuditRecord, type LastCommand } from "./actuator-state.ts";
import { programStationCard } from "./program-station.ts";
import { deviceTitle, stationsFrom, type DeviceInfo, type Station } from "./stations.ts";
import { visitCard, type VisitInfo } from "./visit.ts";

const DEVICES_EVERY_MS = 10_000;
const AUDIT_EVERY_MS = 4000;
const VISIT_EVERY_MS = 4000;
const INTERLOCKS_EVERY_MS = 3000;

export function instructorView(root: HTMLElement, ctx: AppContext): Unmount {
  const shell = staffShell(root, ctx, "instructor");
  let inner: Unmount | null = null;
  const render = () => {
    inner?.();
    inner = null;
    const s = session();
    if (s === null) {
      shell.main.replaceChildren(loginForm("instructor"));
      return;
    }
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
  let devices: DeviceInfo[] = [];
  let audit: AuditRecord[] = [];
  // The running visit as the hub says (GET /api/visit), and when that was asked.
  let visitNow: VisitInfo | null = null;
  let visitAt = 0;
  const local = new Map<string, LastCommand>();
  const rows = new Map<string, ActuatorRow>();
  const programCards = new Map<string, ReturnType<typeof programStationCard>>();

  const estopBanner = h("section", { class: "estop-banner", hidden: true, role: "alert", "data-testid": "estop-banner" }, icon("stop"), h("div", null, h("strong", null, t("estop.bannerTitle")), h("p", { class: "estop-banner-text" })));
  const stationsEl = h("div", { class: "stations", "data-testid": "stations" });
  const loadStatus = h("p", { class: "load-status", role: "status" });
  const interlocks = interlockPanel(live);
  const alarms = alarmPanel(live, { openOnly: true });
  const visit = visitCard(live, () => void loadVisit());
  visit.el.hidden = true;
  main.replaceChildren(
    estopBanner,
    h("div", { class: "columns" }, h("div", { class: "col-main" }, visit.el, h("h2", { class: "section-title" }, icon("play"), t("station.title")), loadStatus, stationsEl), h("div", { class: "col-side" }, interlocks.el, alarms.el)),
  );

  const lastFor = (ref: string): LastCommand | null => {
    const fromAudit = lastCommandsFromAudit(audit).get(ref) ?? null;
    const mine = local.get(ref) ?? null;
    if (mine === null) return fromAudit;
    if (fromAudit === null) return mine;
    return mine.at >= fromAudit.at ? mine : fromAudit;
  };

  const stationCard = (s: Station): HTMLElement => {
    if (s.type === "program") {
      const card = programStationCard(live, s);
      programCards.set(s.id, card);
      return card.el;
    }
    const groups = h("div", { class: "station-groups" });
    const card = h("article", { class: "card station", "data-station": s.id, "data-kind": s.kind }, h("h2", null, icon(s.icon), s.name), groups);
    for (const g of s.groups) {
      const dev = devices.find((d) => d.id === g.device);
      const list = h("ul", { class: "actuators" });
      for (const item of g.items) {
        const ref = `${item.device}.${item.actuator}`;
        const row = actuatorRow(live, item, (r, cmd) => {
          local.set(r, cmd);
          void loadAudit();
          update();
        });
        rows.set(ref, row);
        list.appendChild(row.el);
      }
      groups.appendChild(h("section", { class: "device-group", "data-device": g.device }, h("h3", null, h("span", { class: "dev-name" }, deviceTitle(dev, g.device)), h("span", { class: "chip dev-state" })), list));
    }
    return card;
  };

  let stations: Station[] = [];
  const update = () => {
    for (const [id, card] of programCards) card.update(live.stations().find((v) => v.id === id));
    for (const s of stations) {
      if (s.type !== "actuators") continue;
      for (const g of s.groups) {
        const state = live.device(g.device)?.state ?? devices.find((d) => d.id === g.device)?.state ?? "unknown";
        const chip = stationsEl.querySelector(`[data-device="${g.device}"] .dev-state`);
        setText(chip, t(`state.${state}` as "state.ready"));
        chip?.setAttribute("data-state", state);
        for (const item of g.items) {
          const ref = `${item.device}.${item.actuator}`;
          rows.get(ref)?.update(actuatorStatus(ref, lastFor(ref), audit, live.interlocks()));
        }
      }
    }
    const estop = live.interlocks().find((i) => i.id === "estop");
    const active = estop !== undefined && estop.status !== "normal";
    estopBanner.hidden = !active;
    if (active) setText(estopBanner.querySelector(".estop-banner-text"), `${estop.cause ? tx(estop.cause.detail) : ""} · ${estop.status === "cleared" ? t("estop.bannerCleared") : t("estop.bannerHow")}`);
    interlocks.update();
    alarms.update();
    if (!visit.el.hidden) visit.update(visitNow, visitAt);
  };

  const loadDevices = async () => {
    try {
      devices = await apiGet<DeviceInfo[]>("/api/devices");
      const next = stationsFrom(live, devices);
      // Rebuild the cards only when the set of stations or actuators changes; rows keep their state.
      const shape = next.map((s) => `${s.id}:${s.type === "actuators" ? s.groups.map((g) => `${g.device}(${g.items.map((i) => i.actuator).join(",")})`).join(";") : s.kind}`).join("|");
      replaceIfChanged(stationsEl, `${lang()}:${shape}`, () => {
        rows.clear();
        programCards.clear();
        return next.length === 0 ? h("p", { class: "muted" }, t("station.none")) : next.map(stationCard);
      });
      stations = next;
      setText(loadStatus, "");
      update();
    } catch (error) {
      setText(loadStatus, `${t("load.failed")}: ${errorText(error)}`);
    }
  };
  const loadAudit = async () => {
    try {
      const page = await apiGet<{ records: AuditRecord[] }>("/api/audit?limit=300", token());
      audit = page.records;
      update();
    } catch (error) {
      setText(loadStatus, `${t("load.failed")}: ${errorText(error)}`);
    }
  };
  const loadVisit = async () => {
    try {
      const asked = live.now();
      visitNow = await apiGet<VisitInfo | null>("/api/visit");
      visitAt = asked;
      update();
    } catch {
      // Kept as it was; the next poll tries again.
    }
  };
  const loadInterlocks = async () => {
    try {
      live.mergeInterlocks(await apiGet("/api/interlocks"));
    } catch {
      // The live stream still carries every change of state.
    }
  };

  void loadDevices();
  void loadAudit();
  void loadVisit();
  // Class visits exist only on hubs that offer them.
  void apiGet<Array<{ name: string }>>("/api/commands")
    .then((list) => {
      visit.el.hidden = !list.some((c) => c.name === "visit.start");
      update();
    })
    .catch(() => undefined);
  void alarms.refresh();
  const timers = [
    window.setInterval(() => void loadDevices(), DEVICES_EVERY_MS),
    window.setInterval(() => void loadAudit(), AUDIT_EVERY_MS),
    window.setInterval(() => void loadVisit(), VISIT_EVERY_MS),
    window.setInterval(() => void loadInterlocks(), INTERLOCKS_EVERY_MS),
  ];
  const unsubscribe = live.subscribe(update);
  update();
  return () => {
    unsubscribe();
    for (const id of timers) window.clearInterval(id);
  };
}
