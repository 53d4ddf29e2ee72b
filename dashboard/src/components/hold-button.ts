/**
 * Hold-to-confirm for dangerous actions (resetting an interlock or the e-stop, starting a heater):
 * press and hold for 1.5 s while a ring fills; letting go early cancels. Works with a mouse, a
 * finger and the keyboard (hold Enter or Space). Unlike a confirm dialog it cannot race the
 * command: nothing is sent until the hold completes, and it is sent exactly once.
 *
 * A hand has to feel it (issue 12): while held, the whole button fills from the left and says
 * "Blijf vasthouden"; a press let go too early says so in full size ("Te kort: blijf vasthouden")
 * with the button outlined, for a few seconds, not as an underline on small print.
 */
import { h, setText, svg } from "../core/dom.ts";
import { num } from "../core/format.ts";
import { t } from "../i18n/index.ts";
import { icon, type IconName } from "./icons.ts";

export const HOLD_MS = 1500;
/** How long "too short" stays on the button after an early release. */
const NUDGE_MS = 4000;
const RING_R = 15;
const RING_C = 2 * Math.PI * RING_R;

export interface HoldButton {
  el: HTMLButtonElement;
  setDisabled(disabled: boolean): void;
  /** Shows the action in progress (after the hold): no second hold until it is done. */
  setBusy(busy: boolean): void;
}

export interface HoldOptions {
  label: string;
  icon?: IconName;
  variant?: "danger" | "primary" | "warn";
  holdMs?: number;
  onConfirm: () => void | Promise<void>;
  testId?: string;
}

export function holdButton(opts: HoldOptions): HoldButton {
  const holdMs = opts.holdMs ?? HOLD_MS;
  const ring = svg("circle", { class: "hold-ring-fill", cx: 18, cy: 18, r: RING_R, "stroke-dasharray": RING_C.toFixed(1), "stroke-dashoffset": RING_C.toFixed(1) });
  const seconds = num(holdMs / 1000, 1);
  const idleHint = t("hold.hint", { s: seconds });
  const hint = h("span", { class: "hold-hint" }, idleHint);
  const el = h(
    "button",
    { type: "button", class: `btn hold-btn btn-${opts.variant ?? "primary"}`, "data-hold": "idle", ...(opts.testId ? { "data-testid": opts.testId } : {}) },
    h("span", { class: "hold-fill", "aria-hidden": "true" }),
    svg("svg", { class: "hold-ring", viewBox: "0 0 36 36", width: 36, height: 36, "aria-hidden": "true" }, svg("circle", { class: "hold-ring-track", cx: 18, cy: 18, r: RING_R }), ring),
    opts.icon ? icon(opts.icon) : null,
    h("span", { class: "hold-text" }, h("span", { class: "hold-label" }, opts.label), hint),
  );
  el.setAttribute("aria-description", t("hold.aria", { s: seconds }));

  let startedAt: number | null = null;
  let raf = 0;
  let busy = false;
  // The click that ends a completed hold is part of that hold, not a new (too short) press.
  let swallowClick = false;
  let nudgeTimer = 0;

  const paint = (fraction: number) => {
    const f = Math.min(1, Math.max(0, fraction));
    ring.setAttribute("stroke-dashoffset", (RING_C * (1 - f)).toFixed(1));
    el.style.setProperty("--hold", f.toFixed(3));
  };

  /** The button's state, and the words under its label that go with it. */
  const show = (state: "idle" | "holding" | "cancelled" | "done") => {
    el.dataset.hold = state;
    window.clearTimeout(nudgeTimer);
    setText(hint, state === "holding" ? t("hold.keepHolding") : state === "cancelled" ? t("hold.tooShort") : idleHint);
    // An early release says so for a while, then the button is as it was.
    if (state === "cancelled") {
      nudgeTimer = window.setTimeout(() => {
        if (el.dataset.hold === "cancelled") show("idle");
      }, NUDGE_MS);
    }
  };

  const reset = (state: "idle" | "cancelled") => {
    startedAt = null;
    cancelAnimationFrame(raf);
    paint(0);
    show(state);
  };

  const tick = () => {
    if (startedAt === null) return;
    const fraction = (performance.now() - startedAt) / holdMs;
    paint(fraction);
    if (fraction >= 1) {
      startedAt = null;
      show("done");
      swallowClick = true;
      busy = true;
      el.setAttribute("aria-busy", "true");
      void Promise.resolve(opts.onConfirm()).finally(() => {
        busy = false;
        el.removeAttribute("aria-busy");
        paint(0);
        if (el.dataset.hold === "done") show("idle");
      });
      return;
    }
    raf = requestAnimationFrame(tick);
  };

  const start = () => {
    if (el.disabled || busy || startedAt !== null) return;
    swallowClick = false;
    startedAt = performance.now();
    show("holding");
    raf = requestAnimationFrame(tick);
  };
  const release = () => {
    if (startedAt !== null) reset("cancelled");
  };

  el.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    el.setPointerCapture(e.pointerId);
    start();
  });
  el.addEventListener("pointerup", release);
  el.addEventListener("pointercancel", release);
  el.addEventListener("lostpointercapture", release);
  el.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" && e.key !== " ") return;
    e.preventDefault();
    if (!e.repeat) start();
  });
  el.addEventListener("keyup", (e) => {
    if (e.key === "Enter" || e.key === " ") release();
  });
  el.addEventListener("blur", release);
  // A plain click (or a screen reader's activation) never acts: it only says how to confirm.
  el.addEventListener("click", (e) => {
    e.preventDefault();
    if (swallowClick) {
      swallowClick = false;
      return;
    }
    if (startedAt === null && el.dataset.hold !== "done") show("cancelled");
  });
  el.addEventListener("contextmenu", (e) => e.preventDefault());

  return {
    el,
    setDisabled(disabled) {
      if (el.disabled !== disabled) el.disabled = disabled;
      if (disabled) release();
    },
    setBusy(b) {
      busy = b;
    },
  };
}
