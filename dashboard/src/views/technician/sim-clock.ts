/**
 * The simulated Tiny House's clock for lessons: run the day at 1x, 60x or 600x, jump to the
 * morning or to noon, and see the simulated time of day (the kiosk shows the same). Uses the
 * technician's `sim.clock` command; mounted by the simulator tab.
 */
import type { AppContext } from "../../core/app.ts";
import type { SimClockView } from "../../core/live-store.ts";
import { resultLine } from "../../components/notice.ts";
import { icon } from "../../components/icons.ts";
import { runCommand } from "../../core/commands.ts";
import { h, setText, toggleClass } from "../../core/dom.ts";
import { clock, num } from "../../core/format.ts";
import { t } from "../../i18n/index.ts";
import { shownNow } from "../kiosk/sim-time.ts";

const SPEEDS = [1, 60, 600] as const;
const MORNING_HOUR = 7;
const NOON_HOUR = 12;

export function simClockPanel(ctx: AppContext): { el: HTMLElement; update(): void } {
  const { live } = ctx;
  const now = h("strong", { class: "sim-clock-now", "data-testid": "sim-clock-now" }, "–");
  const speedNow = h("span", { class: "sim-clock-speed" });
  const result = resultLine();
  const buttons: HTMLButtonElement[] = [];

  const send = (params: { speed?: number; jumpToHour?: number }, okText: string) => {
    for (const b of buttons) b.disabled = true;
    result.pending(t("simclock.sending"));
    void runCommand<SimClockView | null>(live, "sim.clock", params).then((reply) => {
      for (const b of buttons) b.disabled = false;
      result.show(reply, okText);
    });
  };
  const button = (label: string, testId: string, onClick: () => void, ariaPressed?: boolean) => {
    const b = h("button", { type: "button", class: "btn", "data-testid": testId, ...(ariaPressed !== undefined ? { "aria-pressed": String(ariaPressed) } : {}) }, label);
    b.addEventListener("click", onClick);
    buttons.push(b);
    return b;
  };
  const speedButtons = SPEEDS.map((speed) => {
    const b = button(t("simclock.speed", { n: num(speed) }), `sim-clock-speed-${speed}`, () => send({ speed }, t("simclock.speedSet", { n: num(speed) })), false);
    b.dataset.speed = String(speed);
    return b;
  });
  const morning = button(t("simclock.jumpMorning"), "sim-clock-morning", () => send({ jumpToHour: MORNING_HOUR }, t("simclock.jumped")));
  const noon = button(t("simclock.jumpNoon"), "sim-clock-noon", () => send({ jumpToHour: NOON_HOUR }, t("simclock.jumped")));

  const el = h(
    "section",
    { class: "sim-group sim-clock", "data-testid": "sim-clock" },
    h("h3", null, icon("clock"), t("simclock.title")),
    h("p", { class: "muted" }, t("simclock.note")),
    h("p", null, t("simclock.now"), " ", now, " ", speedNow),
    h("div", { class: "sim-controls", role: "group", "aria-label": t("simclock.speedLabel") }, ...speedButtons),
    h("div", { class: "sim-controls" }, morning, noon),
    result.el,
  );

  return {
    el,
    update() {
      const c = live.simClock();
      el.hidden = c === null && live.snapshot !== null;
      setText(now, c === null ? "–" : clock(shownNow(c, live.now())));
      setText(speedNow, c === null ? "" : t("simclock.running", { n: num(c.speed) }));
      for (const b of speedButtons) {
        const on = c !== null && Number(b.dataset.speed) === c.speed;
        b.setAttribute("aria-pressed", String(on));
        toggleClass(b, "btn-primary", on);
      }
    },
  };
}
