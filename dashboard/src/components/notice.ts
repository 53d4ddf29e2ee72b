/**
 * How a refusal or failure reads on screen: the hub's own reason in the language on screen when it
 * sends one in both, else a short explanation of its code followed by the hub's words. A refusal
 * is never hidden or turned into a generic "error".
 */
import type { Reply } from "../core/api.ts";
import { h, setText } from "../core/dom.ts";
import { t, tx, type StringKey } from "../i18n/index.ts";
import { icon } from "./icons.ts";

const CODE_KEYS: Record<string, StringKey> = {
  UNAUTHENTICATED: "refusal.UNAUTHENTICATED",
  FORBIDDEN: "refusal.FORBIDDEN",
  INTERLOCK_TRIPPED: "refusal.INTERLOCK_TRIPPED",
  REQUEST_INVALID: "refusal.REQUEST_INVALID",
  NOT_FOUND: "refusal.NOT_FOUND",
  RATE_LIMITED: "refusal.RATE_LIMITED",
  DEVICE_TIMEOUT: "refusal.DEVICE_TIMEOUT",
  DEVICE_OFFLINE: "refusal.DEVICE_OFFLINE",
  DEVICE_REFUSED: "refusal.DEVICE_REFUSED",
  NETWORK: "refusal.NETWORK",
  STORAGE_FAILED: "refusal.STORAGE_FAILED",
};

export function refusalText(reply: { code: string; message: string; reason?: { nl: string; en: string } | undefined }): string {
  if (reply.reason) return tx(reply.reason);
  const key = CODE_KEYS[reply.code];
  const what = key !== undefined ? t(key) : t("refusal.other", { code: reply.code });
  return reply.message ? `${what} (${t("refusal.hubSays")}: ${reply.message})` : what;
}

/** A line under an action that shows how it went; `data-result` is ok | refused | pending. */
export function resultLine(): { el: HTMLElement; pending(text: string): void; show(reply: Reply<unknown>, okText: string): void; clear(): void } {
  const text = h("span", { class: "result-text" });
  const el = h("div", { class: "result", role: "status", "aria-live": "polite", "data-result": "none" }, text);
  return {
    el,
    pending(s) {
      el.dataset.result = "pending";
      el.querySelector(".icon")?.remove();
      setText(text, s);
    },
    show(reply, okText) {
      el.dataset.result = reply.ok ? "ok" : "refused";
      el.querySelector(".icon")?.remove();
      el.prepend(icon(reply.ok ? "check" : "warning"));
      setText(text, reply.ok ? okText : `${t("refusal.refused")}: ${refusalText(reply)}`);
      if (!reply.ok) el.dataset.code = reply.code;
    },
    clear() {
      el.dataset.result = "none";
      el.querySelector(".icon")?.remove();
      setText(text, "");
    },
  };
}

/** Any error from a request, as the screen says it. */
export function errorText(error: unknown): string {
  if (typeof error === "object" && error !== null && "code" in error && "message" in error) {
    const e = error as { code: unknown; message: unknown; reason?: { nl: string; en: string } };
    if (typeof e.code === "string" && typeof e.message === "string") return refusalText({ code: e.code, message: e.message, reason: e.reason });
  }
  return error instanceof Error ? error.message : String(error);
}
