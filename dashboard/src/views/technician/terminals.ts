/**
 * E-stop terminals (issue 11, finding 5): the screens whose on-screen e-stop works with nobody
 * logged in. A technician registers THIS screen (the tablet by the stations) with a name; the hub
 * answers a token once and this screen keeps it (core/terminal.ts). The list shows every registered
 * screen with when the hub last heard from it, and revokes one: its e-stop then needs a login.
 */
import type { EstopTerminal } from "../../../../hub/src/api/estop-terminals.ts";
import { icon } from "../../components/icons.ts";
import { errorText, resultLine } from "../../components/notice.ts";
import { apiGet } from "../../core/api.ts";
import type { LiveStore } from "../../core/live-store.ts";
import { runCommand } from "../../core/commands.ts";
import { h, setText, syncList } from "../../core/dom.ts";
import { ago, dateTime } from "../../core/format.ts";
import { token } from "../../core/session.ts";
import { checkTerminal, forgetTerminal, onTerminalChange, rememberTerminal, storedTerminal, terminalStatus } from "../../core/terminal.ts";
import { lang, t } from "../../i18n/index.ts";

export interface TerminalsPanel {
  el: HTMLElement;
  update(): void;
  destroy(): void;
}

export function terminalsPanel(live: LiveStore): TerminalsPanel {
  const self = h("p", { class: "terminal-self", "data-testid": "terminal-self" });
  const name = h("input", { type: "text", maxlength: 60, required: true, placeholder: t("terminal.namePlaceholder"), "data-testid": "terminal-name" });
  const register = h("button", { type: "submit", class: "btn btn-primary", "data-testid": "terminal-register" }, icon("plug"), t("terminal.register"));
  const form = h("form", { class: "terminal-form", novalidate: true }, h("label", { class: "field" }, h("span", null, t("terminal.name")), name), register);
  const result = resultLine();
  const status = h("p", { class: "load-status", role: "status" });
  const body = h("tbody");
  const table = h(
    "table",
    { class: "table terminal-table", "data-testid": "terminal-list" },
    h("thead", null, h("tr", null, [t("terminal.col.name"), t("terminal.col.registered"), t("terminal.col.lastSeen"), t("terminal.col.state"), ""].map((c) => h("th", { scope: "col" }, c)))),
    body,
  );
  const none = h("p", { class: "muted" }, t("terminal.none"));
  const el = h(
    "section",
    { class: "card terminals", "data-testid": "terminals" },
    h("h2", null, icon("hand"), t("terminal.title")),
    h("p", { class: "muted" }, t("terminal.intro")),
    self,
    form,
    result.el,
    status,
    none,
    h("div", { class: "table-wrap" }, table),
  );
  let list: EstopTerminal[] = [];
  let estopSince = -1;

  const showSelf = () => {
    const s = terminalStatus();
    const mine = storedTerminal();
    const registered = s?.terminal ?? null;
    self.dataset.registered = String(registered !== null);
    setText(self, registered !== null ? t("terminal.selfRegistered", { name: registered.name }) : s?.hubMachine ? t("terminal.selfHubMachine") : s === null && mine !== null ? t("terminal.selfUnknown", { name: mine.name }) : t("terminal.selfNot"));
    form.hidden = registered !== null;
  };

  const createRow = (term: EstopTerminal): HTMLElement => {
    const revoke = h("button", { type: "button", class: "btn btn-stop", "data-testid": `terminal-revoke-${term.id}` }, icon("cross"), t("terminal.revoke"));
    const line = resultLine();
    revoke.addEventListener("click", () => {
      revoke.disabled = true;
      line.pending(t("terminal.revoking"));
      void runCommand(live, "terminal.revoke", { id: term.id }).then(async (reply) => {
        revoke.disabled = false;
        line.show(reply, t("terminal.revoked"));
        // This very screen: its token is worth nothing now.
        if (reply.ok && storedTerminal()?.id === term.id) forgetTerminal();
        await Promise.all([refresh(), checkTerminal()]);
      });
    });
    return h(
      "tr",
      { "data-terminal": term.id },
      h("td", { class: "term-name" }),
      h("td", { class: "term-registered" }),
      h("td", { class: "term-seen" }),
      h("td", { class: "term-state" }),
      h("td", { class: "term-actions" }, revoke, line.el),
    );
  };

  const updateRow = (row: HTMLElement, term: EstopTerminal) => {
    const now = live.now();
    const revoked = term.revokedAt !== null;
    row.dataset.revoked = String(revoked);
    const thisScreen = storedTerminal()?.id === term.id;
    setText(row.querySelector(".term-name"), thisScreen ? `${term.name} (${t("terminal.thisScreen")})` : term.name);
    setText(row.querySelector(".term-registered"), t("terminal.registeredBy", { by: term.createdBy, time: dateTime(term.createdAt) }));
    setText(row.querySelector(".term-seen"), term.lastUsedAt === null ? t("time.never") : `${dateTime(term.lastUsedAt)} (${ago(term.lastUsedAt, now)})`);
    setText(row.querySelector(".term-state"), revoked ? t("terminal.revokedAt", { time: dateTime(term.revokedAt ?? 0) }) : t("terminal.active"));
    const button = row.querySelector<HTMLButtonElement>(`[data-testid="terminal-revoke-${term.id}"]`);
    if (button !== null) button.hidden = revoked;
  };

  const render = () => {
    // Active screens first, newest registration first within each group.
    const sorted = [...list].sort((a, b) => Number(a.revokedAt !== null) - Number(b.revokedAt !== null) || b.createdAt - a.createdAt);
    syncList(body, sorted, (x) => `${lang()}:${x.id}`, createRow, updateRow);
    table.hidden = list.length === 0;
    none.hidden = list.length > 0;
  };

  async function refresh(): Promise<void> {
    try {
      list = await apiGet<EstopTerminal[]>("/api/terminals", token());
      setText(status, "");
    } catch (error) {
      setText(status, `${t("load.failed")}: ${errorText(error)}`);
    }
    render();
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const wanted = name.value.trim();
    if (wanted === "") {
      setText(status, t("terminal.nameNeeded"));
      return;
    }
    setText(status, "");
    register.disabled = true;
    result.pending(t("terminal.registering"));
    void runCommand<{ terminal: EstopTerminal; token: string }>(live, "terminal.register", { name: wanted }).then(async (reply) => {
      register.disabled = false;
      // The token is shown once, to this screen only: kept, never put on the page.
      if (reply.ok) {
        await rememberTerminal({ id: reply.result.terminal.id, name: reply.result.terminal.name, token: reply.result.token });
        name.value = "";
      }
      result.show(reply, t("terminal.registered"));
      await refresh();
    });
  });

  showSelf();
  const unterminal = onTerminalChange(() => {
    showSelf();
    render();
  });
  void refresh();
  void checkTerminal();

  return {
    el,
    update() {
      // A press from a terminal is its latest use: ask again when the e-stop trips.
      const estop = live.interlocks().find((i) => i.id === "estop");
      const since = estop?.trippedAt ?? 0;
      if (estopSince !== -1 && since !== estopSince) void refresh();
      estopSince = since;
    },
    destroy: unterminal,
  };
}
