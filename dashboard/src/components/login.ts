/**
 * Logging in: name and PIN (instructors, on a tablet) or password (technicians). Shows why the
 * previous session ended and the server's reason for a refused login (wrong PIN, locked out).
 */
import { ApiError } from "../core/api.ts";
import { h, setText } from "../core/dom.ts";
import { lastEndReason, login, type StaffRole } from "../core/session.ts";
import { t } from "../i18n/index.ts";
import { icon } from "./icons.ts";
import { refusalText } from "./notice.ts";

export function loginForm(role: StaffRole): HTMLElement {
  const isPin = role === "instructor";
  // The error under the fields describes both (read out with them, not only when it appears).
  const name = h("input", { id: "login-name", name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false", "aria-describedby": "login-error" });
  const secret = h("input", {
    id: "login-secret",
    name: isPin ? "pin" : "password",
    type: "password",
    required: true,
    autocomplete: isPin ? "off" : "current-password",
    "aria-describedby": "login-error",
    ...(isPin ? { inputmode: "numeric" } : {}),
  });
  const error = h("p", { class: "login-error", id: "login-error", role: "alert" });
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-large" }, icon("user"), t("login.submit"));
  const ended = lastEndReason();
  const form = h(
    "form",
    { class: "login card", "data-testid": "login", novalidate: true },
    h("h2", null, icon("lock"), isPin ? t("login.titleInstructor") : t("login.titleTechnician")),
    ended !== null ? h("p", { class: "login-ended", role: "status" }, t("login.sessionEnded"), ended ? ` (${t("refusal.hubSays")}: ${ended})` : "") : null,
    h("label", { for: "login-name" }, t("login.name")),
    name,
    h("label", { for: "login-secret" }, isPin ? t("login.pin") : t("login.password")),
    secret,
    error,
    submit,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (name.value.trim() === "" || secret.value === "") {
      setText(error, t("login.fillBoth"));
      return;
    }
    submit.disabled = true;
    setText(error, "");
    login(name.value.trim(), secret.value).then(
      () => undefined,
      (err: unknown) => {
        submit.disabled = false;
        secret.value = "";
        // A refused login is not an expired session: say what it is, then the hub's words.
        if (err instanceof ApiError && err.code === "UNAUTHENTICATED") setText(error, `${t("login.wrong")} (${t("refusal.hubSays")}: ${err.message})`);
        else setText(error, err instanceof ApiError ? refusalText(err) : String(err));
        secret.focus();
      },
    );
  });
  queueMicrotask(() => name.focus());
  return form;
}
