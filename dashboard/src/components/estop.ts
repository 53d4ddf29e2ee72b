/**
 * The emergency stop, on every staff screen: fixed in a corner, large, red on yellow like the
 * physical button, one press, no confirmation (a confirm dialog "negates the purpose of an
 * emergency stop"). It acts on press (pointer down, key down), not on release, and says at once
 * whether the hub took it; if not, it tells the person to use the physical button.
 *
 * It looks and works the same with or without a login (issue 11, finding 5): with a session it is
 * that person's command; without one (the login screen, a session that ended, an instructor locked
 * out) it goes to `POST /api/estop` with this screen's terminal token, which the hub accepts from a
 * registered terminal or from its own machine. Under the button the screen says which applies here.
 */
import { type Reply, ApiError, apiPost } from "../core/api.ts";
import type { LiveStore } from "../core/live-store.ts";
import { runCommand } from "../core/commands.ts";
import { h, setAttr, setText } from "../core/dom.ts";
import { session } from "../core/session.ts";
import { checkTerminal, ensureTerminalChecked, onTerminalChange, storedTerminal, terminalHeaders, terminalStatus } from "../core/terminal.ts";
import { t, tx } from "../i18n/index.ts";
import { icon } from "./icons.ts";
import { refusalText } from "./notice.ts";

/** The e-stop without a session: as this screen (its terminal token, or the hub's own machine). */
async function estopAsScreen(): Promise<Reply<unknown>> {
  try {
    return { ok: true, result: await apiPost<unknown>("/api/estop", {}, null, terminalHeaders()) };
  } catch (error) {
    if (error instanceof ApiError) return { ok: false, code: error.code, message: error.message, ...(error.reason ? { reason: error.reason } : {}) };
    return { ok: false, code: "NETWORK", message: error instanceof Error ? error.message : String(error) };
  }
}

/** Whether this screen's e-stop works without a login, as the hub said at start. */
function modeOf(): { mode: "terminal" | "hub" | "login" | "unknown"; text: string } {
  const s = terminalStatus();
  if (s === null) return { mode: "unknown", text: "" };
  if (s.terminal !== null) return { mode: "terminal", text: t("estop.mode.terminal", { name: s.terminal.name }) };
  if (s.hubMachine) return { mode: "hub", text: t("estop.mode.hubMachine") };
  return { mode: "login", text: t("estop.mode.login") };
}

/**
 * A pointer press and the click that follows it are one press. Only that click is ignored: a new
 * press is never swallowed, however soon after the last one (the e-stop may have been reset since).
 */
const SAME_PRESS_MS = 1500;

export function mountEstop(parent: HTMLElement, live: LiveStore): () => void {
  const status = h("div", { class: "estop-status", role: "status", "aria-live": "assertive" });
  const button = h(
    "button",
    { type: "button", class: "estop-btn", "data-testid": "estop", "aria-describedby": "estop-status" },
    icon("hand", "estop-icon"),
    h("span", { class: "estop-label" }, t("estop.button")),
  );
  status.id = "estop-status";
  const mode = h("p", { class: "estop-mode", "data-testid": "estop-mode" });
  const root = h("div", { class: "estop", "data-state": "idle" }, button, status, mode);
  parent.appendChild(root);
  const showMode = () => {
    const m = modeOf();
    mode.dataset.mode = m.mode;
    setText(mode, m.text);
  };
  showMode();
  const unterminal = onTerminalChange(showMode);
  ensureTerminalChecked();

  let lastPointerAt = -Infinity;
  let sending = false;

  const press = async () => {
    const now = performance.now();
    // One already on its way to the hub says all a second one would.
    if (sending) return;
    sending = true;
    root.dataset.state = "sending";
    setText(status, t("estop.sending"));
    let reply: Reply<unknown>;
    if (session() !== null) {
      reply = await runCommand(live, "estop.trigger");
      // The hub no longer takes the session (runCommand has ended it here): press again as this screen.
      if (!reply.ok && reply.code === "UNAUTHENTICATED") reply = await estopAsScreen();
    } else {
      reply = await estopAsScreen();
    }
    sending = false;
    // The time from the press to the hub's answer, for the tests to report.
    setAttr(root, "data-latency-ms", Math.round(performance.now() - now));
    if (reply.ok) {
      root.dataset.state = "sent";
      setText(status, t("estop.sent"));
    } else {
      root.dataset.state = "failed";
      const why = refusalText(reply);
      setText(status, `${t("estop.failed")} ${why}${/[.!?]$/.test(why) ? "" : "."} ${t("estop.usePhysical")}`);
      // A refused token may have been revoked since the start: say what this screen is now.
      if (storedTerminal() !== null) void checkTerminal();
    }
  };

  button.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    lastPointerAt = performance.now();
    void press();
  });
  button.addEventListener("keydown", (e) => {
    if ((e.key === "Enter" || e.key === " ") && !e.repeat) {
      e.preventDefault();
      void press();
    }
  });
  // Fallback for anything that only clicks (assistive technology, a test driver); the click that
  // ends a pointer press is that press.
  button.addEventListener("click", () => {
    if (performance.now() - lastPointerAt < SAME_PRESS_MS) {
      lastPointerAt = -Infinity;
      return;
    }
    void press();
  });

  const update = () => {
    const estop = live.interlocks().find((i) => i.id === "estop");
    const active = estop !== undefined && estop.status !== "normal";
    root.classList.toggle("estop-active", active);
    if (active && root.dataset.state !== "sending" && root.dataset.state !== "failed") {
      root.dataset.state = "active";
      setText(status, `${t("estop.active")}${estop.cause ? ` · ${tx(estop.cause.detail)}` : ""}`);
    } else if (!active && root.dataset.state === "active") {
      root.dataset.state = "idle";
      setText(status, "");
    }
  };
  update();
  const unsubscribe = live.subscribe(update);
  return () => {
    unsubscribe();
    unterminal();
    root.remove();
  };
}
