/**
 * The technician's workbench (`#/technician/<tab>`, password login, a desk): device health,
 * alarms, interlocks (with the screens registered for the e-stop without a login), the audit log,
 * history charts, the hub's own health and, while simulators run, their controls for lessons. The
 * emergency stop stays on screen on every tab.
 */
import type { AppContext, Unmount } from "../../core/app.ts";
import { alarmPanel, isOpen } from "../../components/alarms.ts";
import { icon, type IconName } from "../../components/icons.ts";
import { interlockPanel } from "../../components/interlocks.ts";
import { loginForm } from "../../components/login.ts";
import { staffShell } from "../../components/shell.ts";
import { apiGet } from "../../core/api.ts";
import { h, setText } from "../../core/dom.ts";
import { href } from "../../core/router.ts";
import { logout, onSessionChange, session } from "../../core/session.ts";
import { t, type StringKey } from "../../i18n/index.ts";
import { auditTab } from "./audit.ts";
import { devicesTab } from "./devices.ts";
import { historyTab } from "./history.ts";
import { hubHealthTab } from "./hub-health.ts";
import { simulatorTab } from "./simulator.ts";
import { poll, type Tab } from "./tab.ts";
import { terminalsPanel } from "./terminals.ts";

const TABS = ["devices", "alarms", "interlocks", "audit", "history", "hub", "sim"] as const;
type TabId = (typeof TABS)[number];
const TAB_ICON: Record<TabId, IconName> = { devices: "cpu", alarms: "bell", interlocks: "shield", audit: "list", history: "chart", hub: "bolt", sim: "flask" };

export function technicianView(root: HTMLElement, ctx: AppContext): Unmount {
  const shell = staffShell(root, ctx, "technician");
  let inner: Unmount | null = null;
  let shown: "login" | "wrong-role" | "workbench" | null = null;
  const render = () => {
    const s = session();
    // Logging in again before the session ends (the shell's warning) keeps the tab as it is.
    if (s !== null && s.role === "technician" && shown === "workbench") return;
    inner?.();
    inner = null;
    if (s === null) {
      shown = "login";
      shell.main.replaceChildren(loginForm("technician"));
    } else if (s.role !== "technician") {
      shown = "wrong-role";
      const out = h("button", { type: "button", class: "btn btn-primary" }, icon("logout"), t("tech.switchUser"));
      out.addEventListener("click", () => void logout());
      shell.main.replaceChildren(h("section", { class: "card login", "data-testid": "wrong-role" }, h("h2", null, icon("lock"), t("tech.onlyTechnicians")), h("p", null, t("tech.loggedInAs", { name: s.name, role: t(`role.${s.role}`) })), out));
    } else {
      shown = "workbench";
      inner = workbench(shell.main, ctx);
    }
  };
  render();
  const unsession = onSessionChange(render);
  return () => {
    unsession();
    inner?.();
    shell.destroy();
  };
}

function workbench(main: HTMLElement, ctx: AppContext): Unmount {
  const { live } = ctx;
  const wanted = (ctx.route.rest[0] ?? "devices") as TabId;
  let simCommands = new Set<string>();
  const counts: Partial<Record<TabId, HTMLElement>> = {};
  const nav = h("nav", { class: "tabs", "aria-label": t("tech.tabs") });
  const holder = h("div", { class: "tab-body" });
  main.replaceChildren(nav, holder);

  const tabLink = (id: TabId) => {
    const count = h("span", { class: "count" });
    counts[id] = count;
    return h("a", { href: href("technician", id), class: "tab", "data-tab": id, ...(id === current ? { "aria-current": "page" } : {}) }, icon(TAB_ICON[id]), t(`tab.${id}` as StringKey), count);
  };

  const current: TabId = TABS.includes(wanted) ? wanted : "devices";
  let tab: Tab | null = null;
  // Alarms and interlocks are also counted on their tab titles while another tab is open.
  const alarms = alarmPanel(live, { openOnly: false });
  const interlocks = interlockPanel(live);

  const build = (id: TabId): Tab => {
    switch (id) {
      case "devices":
        return devicesTab(ctx);
      case "alarms": {
        const stop = poll(() => alarms.refresh(), 5000);
        return { el: alarms.el, update: () => alarms.update(), destroy: stop };
      }
      case "interlocks": {
        const stop = poll(async () => {
          try {
            live.mergeInterlocks(await apiGet("/api/interlocks"));
          } catch {
            // The live stream still carries every change of state.
          }
        }, 2000);
        const terminals = terminalsPanel(live);
        return {
          el: h("div", { class: "tab-stack" }, interlocks.el, terminals.el),
          update: () => {
            interlocks.update();
            terminals.update();
          },
          destroy: () => {
            stop();
            terminals.destroy();
          },
        };
      }
      case "audit":
        return auditTab(ctx);
      case "history":
        return historyTab(ctx);
      case "hub":
        return hubHealthTab(ctx);
      case "sim":
        return simulatorTab(ctx, simCommands);
    }
  };

  const renderNav = () => nav.replaceChildren(...TABS.filter((id) => id !== "sim" || simCommands.size > 0).map(tabLink));
  const open = () => {
    tab?.destroy?.();
    tab = build(current);
    holder.replaceChildren(tab.el);
    tab.update?.();
  };

  const update = () => {
    tab?.update?.();
    const openAlarms = [...live.alarmsSeen.values()].filter(isOpen).length;
    const tripped = live.interlocks().filter((i) => i.status !== "normal").length;
    const notReady = (live.snapshot?.devices ?? []).filter((d) => d.state !== "ready").length;
    setText(counts.alarms, openAlarms > 0 ? String(openAlarms) : "");
    setText(counts.interlocks, tripped > 0 ? String(tripped) : "");
    setText(counts.devices, notReady > 0 ? String(notReady) : "");
  };

  renderNav();
  open();
  void apiGet<Array<{ name: string }>>("/api/commands")
    .then((list) => {
      simCommands = new Set(list.map((c) => c.name).filter((n) => n.startsWith("sim.")));
      renderNav();
      if (current === "sim") open();
      update();
    })
    .catch(() => undefined);
  const unsubscribe = live.subscribe(update);
  update();
  return () => {
    unsubscribe();
    tab?.destroy?.();
  };
}
