/**
 * The warning before a session ends (issue 11, finding 5): from a quarter of an hour before the
 * hub's `expiresAt`, a banner under the header with the time left and a way to log in again on the
 * spot (the PIN or password only: the name is this session's), so a visit never loses its screen
 * halfway through a sentence. The e-stop does not depend on it: it works without a login too.
 */
import { ApiError } from "../core/api.ts";
import { h, setText } from "../core/dom.ts";
import { countdown } from "../core/format.ts";
import { renew, type Session } from "../core/session.ts";
import { t } from "../i18n/index.ts";
import { icon } from "./icons.ts";
import { refusalText } from "./notice.ts";

/** From this long before the end the banner shows. */
export const SESSION_WARN_MS = 15 * 60_000;

export interface SessionWarning {
  el: HTMLElement;
  /** `remainingMs`: hub time to the session's end. */
  update(s: Session | null, remainingMs: number): void;
}

export function sessionWarning(): SessionWarning {
  const title = h("strong", { class: "session-warn-title" });
  const secret = h("input", { type: "password", class: "session-warn-secret", autocomplete: "off", required: true, "data-testid": "session-warn-secret", "aria-describedby": "session-warn-error" });
  const secretLabel = h("label", null, h("span", { class: "session-warn-label" }), secret);
  const error = h("p", { class: "login-error", id: "session-warn-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, icon("user"), t("login.submit"));
  const form = h("form", { class: "session-warn-form", hidden: true, novalidate: true }, secretLabel, submit, error);
  const again = h("button", { type: "button", class: "btn btn-primary", "data-testid": "session-warn-again" }, icon("user"), t("session.again"));
  const el = h(
    "section",
    { class: "session-warn", hidden: true, "data-testid": "session-warning", "aria-label": t("session.warnLabel") },
    icon("clock"),
    h("div", { class: "session-warn-body" }, title, h("p", null, t("session.warnText")), again, form),
  );
  let current: Session | null = null;

  again.addEventListener("click", () => {
    form.hidden = false;
    again.hidden = true;
    secret.focus();
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (current === null) return;
    if (secret.value === "") {
      setText(error, t("session.fillSecret"));
      return;
    }
    submit.disabled = true;
    setText(error, "");
    renew(secret.value).then(
      () => {
        submit.disabled = false;
        secret.value = "";
        form.hidden = true;
        again.hidden = false;
      },
      (err: unknown) => {
        submit.disabled = false;
        secret.value = "";
        if (err instanceof ApiError && err.code === "UNAUTHENTICATED") setText(error, `${t("login.wrong")} (${t("refusal.hubSays")}: ${err.message})`);
        else setText(error, err instanceof ApiError ? refusalText(err) : String(err));
        secret.focus();
      },
    );
  });

  return {
    el,
    update(s, remainingMs) {
      current = s;
      const show = s !== null && remainingMs > 0 && remainingMs <= SESSION_WARN_MS;
      if (el.hidden === show) el.hidden = !show;
      if (!show || s === null) {
        form.hidden = true;
        again.hidden = false;
        setText(error, "");
        return;
      }
      setText(title, t("session.warnTitle", { time: countdown(remainingMs) }));
      setText(secretLabel.querySelector(".session-warn-label"), s.role === "instructor" ? t("login.pin") : t("login.password"));
      if (s.role === "instructor") secret.setAttribute("inputmode", "numeric");
      else secret.removeAttribute("inputmode");
    },
  };
}
