/**
 * The pupils' kiosk (`#/`, no login): big, Dutch first, readable from across the room. Views
 * rotate for a TV (the energy flow, the house inside, today), and rotation pauses while an
 * interlock is being explained. `#/?view=flow|house|today` pins one view, `?rotate=30` sets the
 * seconds per view (`off`: no rotation), `&lang=en` picks English, `&idle=60` the seconds without
 * input after which a visitor's language choice is undone. Rotation pauses while anything is tripped.
 */
import type { AppContext, Unmount } from "../../core/app.ts";
import { badge } from "../../components/badge.ts";
import { icon } from "../../components/icons.ts";
import { connectionBadge, langButton } from "../../components/shell.ts";
import { h, setText, syncList } from "../../core/dom.ts";
import { clock } from "../../core/format.ts";
import { lang, setLang, t, type StringKey } from "../../i18n/index.ts";
import { energyFlowView } from "./energy-flow.ts";
import { houseView } from "./house.ts";
import { todayView } from "./today.ts";
import { shownNow } from "./sim-time.ts";
import { whyPanel } from "./why.ts";

const ROTATE_MS = 20_000;
/** A kiosk left alone this long goes home: its own language (Dutch, or the URL's `lang`) and the rotation. */
export const IDLE_HOME_MS = 60_000;
const MIN_ROTATE_MS = 2000;
const VIEWS = ["flow", "house", "today"] as const;
type KioskViewName = (typeof VIEWS)[number];
const TITLES: Record<KioskViewName, StringKey> = { flow: "kiosk.view.flow", house: "kiosk.view.house", today: "kiosk.view.today" };

export function kioskView(root: HTMLElement, ctx: AppContext): Unmount {
  const { live, route } = ctx;
  const pinnedParam = route.query.get("view");
  const pinned = VIEWS.find((v) => v === pinnedParam) ?? null;
  const rotateParam = route.query.get("rotate");
  const rotate = rotateParam !== "off" && pinned === null;
  const rotateMs = rotateParam !== null && Number.isFinite(Number(rotateParam)) ? Math.max(MIN_ROTATE_MS, Number(rotateParam) * 1000) : ROTATE_MS;

  const flow = energyFlowView(live);
  const house = houseView(live);
  const today = todayView(live);
  const views: Record<KioskViewName, { el: HTMLElement; update(): void; show?(): void; hide?(): void }> = { flow, house, today };
  const why = whyPanel(live);

  const title = h("h1", { class: "kiosk-title", "data-testid": "kiosk-title" });
  const time = h("span", { class: "kiosk-clock" });
  const site = h("span", { class: "kiosk-site" });
  const conn = connectionBadge(ctx);
  const header = h(
    "header",
    { class: "kiosk-top" },
    h("div", { class: "kiosk-brand" }, icon("house"), h("div", null, h("strong", null, t("kiosk.brand")), site)),
    title,
    h("div", { class: "top-right" }, time, conn.el, langButton()),
  );
  const dots = h("ol", { class: "rotation", "aria-label": t("kiosk.rotation") });
  const paused = h("span", { class: "rotation-paused" });
  const footer = h(
    "footer",
    { class: "kiosk-foot" },
    h("div", { class: "badge-legend" }, badge("simulated"), h("span", null, t("kiosk.legend.simulated")), badge("stale"), h("span", null, t("kiosk.legend.stale"))),
    h("div", { class: "rotation-wrap" }, paused, dots),
  );
  // The explanation takes the right-hand column while it is shown; the view keeps the rest.
  const stage = h("main", { class: "kiosk-stage" }, h("div", { class: "kiosk-views" }, flow.el, house.el, today.el), why.el);
  root.className = "kiosk";
  root.replaceChildren(header, stage, footer);

  // A visitor's language stays while they use the kiosk; after an idle minute it is the kiosk's own again.
  const homeLang = route.query.get("lang") === "en" ? "en" : "nl";
  const idleMs = Number(route.query.get("idle")) > 0 ? Number(route.query.get("idle")) * 1000 : IDLE_HOME_MS;
  let lastInput = Date.now();
  const touched = () => {
    lastInput = Date.now();
  };
  const inputs = ["pointerdown", "keydown", "touchstart", "wheel"] as const;
  for (const ev of inputs) window.addEventListener(ev, touched, { passive: true });

  let current: KioskViewName = pinned ?? "flow";
  let lastSwitch = Date.now();
  let explaining = false;

  const show = (name: KioskViewName) => {
    const before = current;
    current = name;
    lastSwitch = Date.now();
    for (const v of VIEWS) views[v].el.hidden = v !== name;
    if (before !== name) views[before].hide?.();
    views[name].show?.();
    root.dataset.kioskView = name;
    setText(title, t(TITLES[name]));
    update();
  };

  const update = () => {
    conn.update();
    setText(site, live.snapshot?.siteName ?? "");
    setText(time, clock(shownNow(live.simClock(), live.now())));
    explaining = why.update();
    root.dataset.explaining = String(explaining);
    flow.setCompact(explaining);
    views[current].update();
    syncList(
      dots,
      VIEWS.map((v) => ({ v, on: v === current })),
      (x) => x.v,
      (x) => h("li", { "data-dot": x.v }, h("span", { class: "dot" }), h("span", { class: "dot-label" }, t(TITLES[x.v]))),
      (li, x) => li.classList.toggle("on", x.on),
    );
    setText(paused, explaining && rotate ? t("kiosk.paused") : "");
  };

  const tick = () => {
    setText(time, clock(shownNow(live.simClock(), live.now())));
    if (Date.now() - lastInput >= idleMs && lang() !== homeLang) {
      lastInput = Date.now();
      setLang(homeLang); // remounts the kiosk: rotation from the start, the "why?" panel as the live data says
      return;
    }
    if (!rotate || explaining) {
      // Start the next view's full time after the explanation is gone.
      if (explaining) lastSwitch = Date.now();
      return;
    }
    if (Date.now() - lastSwitch >= rotateMs) show(VIEWS[(VIEWS.indexOf(current) + 1) % VIEWS.length] ?? "flow");
  };

  show(current);
  const unsubscribe = live.subscribe(update);
  const timer = window.setInterval(tick, 500);
  return () => {
    unsubscribe();
    window.clearInterval(timer);
    for (const ev of inputs) window.removeEventListener(ev, touched);
    views[current].hide?.();
    today.destroy();
  };
}
