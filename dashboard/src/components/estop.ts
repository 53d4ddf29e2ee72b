/**
 * The emergency stop, on every staff screen: fixed in a corner, large, red on yellow like the
 * physical button, one press, no confirmation (a confirm dialog "negates the purpose of an
 * emergency stop"). It acts on press (pointer down, key down), not on release, and says at once
 * whether the hub took it; if not, it tells the person to use the physical button.
 */
import type { LiveStore } from "../core/live-store.ts";
import { runCommand } from "../core/commands.ts";
import { h, setAttr, setText } from "../core/dom.ts";
import { t, tx } from "../i18n/index.ts";
import { icon } from "./icons.ts";
import { refusalText } from "./notice.ts";

/** A press and the click that follows it are one press. */
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
  const root = h("div", { class: "estop", "data-state": "idle" }, button, status);
  parent.appendChild(root);

  let lastPressAt = -Infinity;
  let sending = false;

  const press = async () => {
    const now = performance.now();
    // The click after a press is the same press; a press after a failure is a new try.
    if (sending || (now - lastPressAt < SAME_PRESS_MS && root.dataset.state !== "failed")) return;
    lastPressAt = now;
    sending = true;
    root.dataset.state = "sending";
    setText(status, t("estop.sending"));
    const reply = await runCommand(live, "estop.trigger");
    sending = false;
    // The time from the press to the hub's answer, for the tests to report.
    setAttr(root, "data-latency-ms", Math.round(performance.now() - now));
    if (reply.ok) {
      root.dataset.state = "sent";
      setText(status, t("estop.sent"));
    } else {
      root.dataset.state = "failed";
      setText(status, `${t("estop.failed")} ${refusalText(reply)} ${t("estop.usePhysical")}`);
    }
  };

  button.addEventListener("pointerdown", (e) => {
    if (e.button === 0) void press();
  });
  button.addEventListener("keydown", (e) => {
    if ((e.key === "Enter" || e.key === " ") && !e.repeat) {
      e.preventDefault();
      void press();
    }
  });
  // Fallback for anything that only clicks (assistive technology, a test driver).
  button.addEventListener("click", () => void press());

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
    root.remove();
  };
}
