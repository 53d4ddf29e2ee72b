/**
 * What a stop left off (issue 11, finding 4). After an emergency stop or a trip the Tiny House's
 * configured holds (the config's `hold:`: ventilation on, the pump, the heat pump) stay off, and a
 * reset restarts nothing. This card lists each that is off, by its name, with why it cannot come
 * back yet in the hub's words (`GET /api/installation`), and one hold-to-confirm "Installatie weer
 * aan" (`installation.restore`): the hub starts each through its permissives and says what came
 * back and what it refused, and why. Nothing here starts anything by itself.
 *
 * The list is asked for again when the live stream's actuators, interlocks or device states change
 * (what decides whether a hold is on or may come back), never on a timer. The card is hidden while
 * every configured hold is on, except to show the outcome of a restore until it is closed.
 */
import type { InstallationItem, RestoreResult } from "../../../../hub/src/core/actuators/installation.ts";
import { holdButton } from "../../components/hold-button.ts";
import { icon } from "../../components/icons.ts";
import { errorText, resultLine } from "../../components/notice.ts";
import { apiGet } from "../../core/api.ts";
import { runCommand } from "../../core/commands.ts";
import { h, replaceIfChanged, setText, syncList } from "../../core/dom.ts";
import type { LiveStore } from "../../core/live-store.ts";
import { token } from "../../core/session.ts";
import { lang, nameOf, t, tx } from "../../i18n/index.ts";
import { plain } from "./words.ts";

interface Hold {
  deviceId: string;
  actuator: string;
}

const refOf = (c: Hold): string => `${c.deviceId}.${c.actuator}`;

export interface InstallationPanel {
  el: HTMLElement;
  update(): void;
}

export function installationPanel(live: LiveStore): InstallationPanel {
  let items: InstallationItem[] | null = null;
  let restore: RestoreResult | null = null;
  let loadError = "";
  let inFlight = false;
  let again = false;
  let lastKey = "";

  const labelOf = (c: Hold): string => {
    const item = items?.find((i) => i.deviceId === c.deviceId && i.actuator === c.actuator);
    return nameOf(refOf(c), item?.label ?? live.actuator(refOf(c))?.spec.label ?? undefined);
  };

  /**
   * The hub's reason in plain words. Its permit reasons start with the id ("water.pumpEnable mag
   * niet starten: Noodstop is nog niet gereset"): the card names the hold already, so only the why
   * is said; any other mention of the id is said as its name.
   */
  const reasonFor = (c: Hold, reason: { nl: string; en: string }): string => {
    const text = tx(reason);
    const ref = refOf(c);
    const colon = text.indexOf(": ");
    if (text.startsWith(`${ref} `) && colon > 0) return plain(live, text.slice(colon + 2).split(ref).join(labelOf(c)));
    return plain(live, text.split(ref).join(labelOf(c)));
  };

  const title = h("span", { class: "install-title" });
  const intro = h("p", { class: "muted" }, t("installation.intro"));
  const list = h("ul", { class: "install-groups", "data-testid": "installation-items" });
  const allOn = h("p", { class: "install-all-on", hidden: true }, icon("check"), t("installation.allOn"));
  const status = h("p", { class: "load-status", role: "status" });
  const note = h("p", { class: "install-note" });
  const outcome = h("div", { class: "install-outcome", "data-testid": "installation-outcome", role: "status", "aria-live": "polite" });
  const result = resultLine();
  const close = h("button", { type: "button", class: "btn btn-quiet", hidden: true, "data-testid": "installation-close" }, icon("cross"), t("installation.close"));
  const button = holdButton({
    label: t("installation.restore"),
    icon: "play",
    variant: "primary",
    testId: "installation-restore",
    onConfirm: async () => {
      result.pending(t("installation.restoring"));
      const reply = await runCommand<RestoreResult>(live, "installation.restore");
      if (reply.ok) {
        restore = reply.result;
        result.clear();
      } else {
        result.show(reply, "");
      }
      render();
      await refresh();
    },
  });
  const actions = h("div", { class: "install-actions" }, button.el, close);
  const el = h(
    "section",
    { class: "card installation", hidden: true, "data-testid": "installation" },
    h("h2", null, icon("bolt"), title),
    intro,
    status,
    list,
    allOn,
    outcome,
    result.el,
    actions,
    note,
  );
  close.addEventListener("click", () => {
    restore = null;
    result.clear();
    render();
  });

  /**
   * Holds that share what switched them off and why they cannot come back are one group: after an
   * e-stop that is every hold, and the reason is said once, not eight times.
   */
  interface Group {
    released: string;
    why: string;
    may: boolean;
    pending: boolean;
    items: InstallationItem[];
  }
  const groupsOf = (shown: readonly InstallationItem[]): Array<[string, Group]> => {
    const groups = new Map<string, Group>();
    for (const item of shown) {
      // What let go of it, as the live stream says (the e-stop, a trip, the end of a visit).
      const rel = item.state === "off" ? (live.actuator(refOf(item))?.released ?? null) : null;
      const released = rel !== null ? t("installation.switchedOffBy", { why: plain(live, tx(rel.why)) }) : "";
      const pending = item.state === "pending";
      const why = pending ? t("installation.pendingWhy") : item.blocked !== null ? t("installation.blocked", { why: reasonFor(item, item.blocked) }) : t("installation.mayReturn");
      const key = `${released}|${why}`;
      const g = groups.get(key) ?? { released, why, may: !pending && item.blocked === null, pending, items: [] };
      g.items.push(item);
      groups.set(key, g);
    }
    return [...groups];
  };

  const createGroup = (): HTMLElement =>
    h("li", { class: "install-group" }, h("p", { class: "install-released" }), h("p", { class: "install-why" }), h("ul", { class: "install-names" }));

  const updateGroup = (row: HTMLElement, [, g]: [string, Group]) => {
    row.dataset.may = String(g.may);
    row.dataset.pending = String(g.pending);
    setText(row.querySelector(".install-released"), g.released);
    setText(row.querySelector(".install-why"), g.why);
    const names = row.querySelector(".install-names") as HTMLElement;
    replaceIfChanged(names, g.items.map((i) => `${refOf(i)}:${i.state}:${labelOf(i)}`).join("|"), () =>
      g.items.map((i) => h("li", { class: "install-item", "data-hold": refOf(i), "data-state": i.state }, h("span", { class: "install-name" }, labelOf(i)))),
    );
  };

  const renderOutcome = () => {
    const r = restore;
    replaceIfChanged(outcome, r === null ? "" : `${lang()}:${JSON.stringify(r)}`, () => {
      if (r === null) return null;
      const lines: HTMLElement[] = [];
      if (r.restored.length > 0) lines.push(h("li", { "data-result": "restored" }, icon("check"), h("span", null, `${t("installation.restored")}: ${r.restored.map(labelOf).join(", ")}`)));
      for (const c of r.refused) lines.push(h("li", { "data-result": "refused", "data-hold": refOf(c) }, icon("warning"), h("span", null, `${t("installation.refused", { name: labelOf(c) })}: ${reasonFor(c, c.reason)}`)));
      if (r.restored.length === 0 && r.refused.length === 0) lines.push(h("li", { "data-result": "nothing" }, icon("check"), h("span", null, t("installation.nothingToDo"))));
      return h("ul", { class: "install-result" }, lines);
    });
  };

  function render(): void {
    setText(status, loadError);
    const notOn = (items ?? []).filter((i) => i.state !== "held");
    const anyOff = notOn.some((i) => i.state === "off");
    // Holds that wait for their permissives at start-up are on their way, not switched off.
    el.hidden = !anyOff && restore === null && loadError === "";
    syncList(list, groupsOf(anyOff ? notOn : []), ([key]) => `${lang()}:${key}`, createGroup, updateGroup);
    const done = restore !== null && notOn.length === 0;
    allOn.hidden = !done;
    el.dataset.done = String(done);
    setText(title, done ? t("installation.titleDone") : t("installation.title"));
    intro.hidden = done;
    const mayReturn = notOn.some((i) => i.state === "off" && i.blocked === null);
    button.el.hidden = !anyOff;
    button.setDisabled(!mayReturn);
    setText(note, anyOff && !mayReturn ? t("installation.noneYet") : "");
    close.hidden = restore === null;
    renderOutcome();
  }

  async function refresh(): Promise<void> {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    try {
      const next = await apiGet<InstallationItem[]>("/api/installation", token());
      // A hold that was on and is off again: a new stop. The last restore's outcome is history.
      if (restore !== null && items !== null && next.some((n) => n.state === "off" && items?.find((o) => refOf(o) === refOf(n))?.state !== "off")) restore = null;
      items = next;
      loadError = "";
    } catch (error) {
      loadError = `${t("load.failed")}: ${errorText(error)}`;
    } finally {
      inFlight = false;
    }
    render();
    if (again) {
      again = false;
      await refresh();
    }
  }

  return {
    el,
    update() {
      // Only what decides whether a configured hold is on, or may come back.
      const key = [
        live.actuators().map((a) => `${a.ref}:${a.state}:${a.value ?? "-"}`).join(","),
        live.interlocks().map((i) => `${i.id}:${i.status}`).join(","),
        (live.snapshot?.devices ?? []).map((d) => `${d.id}:${d.state}`).join(","),
      ].join("|");
      if (live.snapshot === null || key === lastKey) return;
      lastKey = key;
      void refresh();
    },
  };
}
