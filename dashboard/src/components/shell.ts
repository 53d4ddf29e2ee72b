/**
 * The frame of the staff screens: site, navigation, connection, who is logged in and for how much
 * longer, language, and the emergency stop (always there, whatever the view shows).
 */
import type { AppContext } from "../core/app.ts";
import { h, setText } from "../core/dom.ts";
import { countdown } from "../core/format.ts";
import { href } from "../core/router.ts";
import { expire, logout, onSessionChange, session } from "../core/session.ts";
import { lang, setLang, t } from "../i18n/index.ts";
import { mountEstop } from "./estop.ts";
import { icon } from "./icons.ts";
import { SESSION_WARN_MS, sessionWarning } from "./session-warning.ts";

export interface StaffShell {
  main: HTMLElement;
  destroy(): void;
}

export function connectionBadge(ctx: AppContext): { el: HTMLElement; update(): void } {
  const text = h("span");
  // A status: a screen reader hears it when the hub is lost or back.
  const el = h("span", { class: "conn", "data-testid": "conn", role: "status" }, text);
  return {
    el,
    update() {
      const c = ctx.live.conn;
      el.dataset.state = c;
      setText(text, c === "up" ? t("conn.up") : c === "connecting" ? t("conn.connecting") : t("conn.down"));
    },
  };
}

export function langButton(): HTMLButtonElement {
  const b = h("button", { type: "button", class: "lang-btn", "data-testid": "lang", lang: lang() === "nl" ? "en" : "nl" }, icon("globe"), t("lang.switch"));
  b.addEventListener("click", () => setLang(lang() === "nl" ? "en" : "nl"));
  return b;
}

/**
 * "Skip to content", the first stop of the Tab key. The routes live in the hash, so following
 * `#main` would leave the screen: the link moves focus itself (and keeps `href` so it is a link).
 */
export function skipLink(target: HTMLElement): HTMLAnchorElement {
  const a = h("a", { href: "#main", class: "skip-link", "data-testid": "skip-link" }, t("shell.skipToContent"));
  a.addEventListener("click", (e) => {
    e.preventDefault();
    target.focus();
  });
  return a;
}

export function staffShell(root: HTMLElement, ctx: AppContext, active: "instructor" | "technician"): StaffShell {
  const conn = connectionBadge(ctx);
  const who = h("span", { class: "who" });
  const left = h("span", { class: "countdown", "data-testid": "session-left" });
  const out = h("button", { type: "button", class: "btn btn-quiet", "data-testid": "logout" }, icon("logout"), t("session.logout"));
  out.addEventListener("click", () => void logout());
  const sessionBox = h("div", { class: "session-box" }, icon("user"), who, left, out);
  const nav = h(
    "nav",
    { class: "staff-nav", "aria-label": t("nav.label") },
    h("a", { href: href(""), class: "nav-link" }, icon("sun"), t("nav.kiosk")),
    h("a", { href: href("instructor"), class: "nav-link", ...(active === "instructor" ? { "aria-current": "page" } : {}) }, icon("play"), t("nav.instructor")),
    h("a", { href: href("technician"), class: "nav-link", ...(active === "technician" ? { "aria-current": "page" } : {}) }, icon("wrench"), t("nav.technician")),
  );
  const site = h("span", { class: "site" });
  const header = h(
    "header",
    { class: "staff-top" },
    h("div", { class: "brand" }, icon("bolt"), h("strong", null, "TEC Hub"), site),
    nav,
    h("div", { class: "top-right" }, conn.el, sessionBox, langButton()),
  );
  // tabindex -1: the skip link can move focus there, Tab itself never stops on it.
  const main = h("main", { class: `staff-main skip-target view-${active}`, id: "main", tabindex: -1 });
  const warning = sessionWarning();
  root.replaceChildren(skipLink(main), header, warning.el, main);
  // The tab and a screen reader's first words say which screen this is; the kiosk's own goes back after.
  const titleBefore = document.title;
  document.title = `${t(active === "instructor" ? "nav.instructor" : "nav.technician")} · TEC Hub`;
  root.className = "staff";
  const unmountEstop = mountEstop(root, ctx.live);

  const tick = () => {
    conn.update();
    setText(site, ctx.live.snapshot?.siteName ?? "");
    const s = session();
    sessionBox.hidden = s === null;
    if (s === null) {
      warning.update(null, 0);
      return;
    }
    setText(who, `${s.name} · ${t(`role.${s.role}`)}`);
    const remaining = s.expiresAt - ctx.live.now();
    if (remaining <= 0) {
      expire("");
      return;
    }
    setText(left, t("session.left", { time: countdown(remaining) }));
    left.classList.toggle("warn", remaining <= SESSION_WARN_MS);
    warning.update(s, remaining);
  };
  tick();
  const timer = window.setInterval(tick, 1000);
  const unsubscribe = ctx.live.subscribe(tick);
  const unsession = onSessionChange(tick);
  return {
    main,
    destroy() {
      window.clearInterval(timer);
      unsubscribe();
      unsession();
      unmountEstop();
      document.title = titleBefore;
    },
  };
}
