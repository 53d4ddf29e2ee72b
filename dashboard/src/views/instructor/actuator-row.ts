/**
 * One actuator on the instructor's screen: its name (never its id), what the hub is doing with it
 * (from the live stream), a reading that shows it at work, why it may not start (each blocking
 * interlock's reason), and Start (hold-to-confirm for a heater) and Stop, with the hub's reply
 * underneath.
 */
import type { LiveStore } from "../../core/live-store.ts";
import type { Reply } from "../../core/api.ts";
import { badgeKinds, setBadges } from "../../components/badge.ts";
import { holdButton } from "../../components/hold-button.ts";
import { icon } from "../../components/icons.ts";
import { resultLine } from "../../components/notice.ts";
import { runCommand } from "../../core/commands.ts";
import { h, replaceIfChanged, setText } from "../../core/dom.ts";
import { valueWithUnit } from "../../core/format.ts";
import { nameOf, t } from "../../i18n/index.ts";
import { blockedLine } from "./words.ts";
import type { ActuatorStatus } from "./actuator-state.ts";
import type { ActuatorItem } from "./stations.ts";

export interface ActuatorRow {
  el: HTMLElement;
  update(status: ActuatorStatus): void;
}

export function actuatorRow(live: LiveStore, item: ActuatorItem): ActuatorRow {
  const ref = `${item.device}.${item.actuator}`;
  const result = resultLine();
  let busy = false;

  const send = async (action: "start" | "stop") => {
    busy = true;
    sync();
    result.pending(action === "start" ? t("actuator.starting") : t("actuator.stopping"));
    const params = action === "start" ? { device: item.device, actuator: item.actuator, value: 1 } : { device: item.device, actuator: item.actuator };
    const reply: Reply<unknown> = await runCommand(live, `actuator.${action}`, params);
    busy = false;
    result.show(reply, action === "start" ? t("actuator.started") : t("actuator.stopped"));
    sync();
  };

  const startPlain = h("button", { type: "button", class: "btn btn-primary", "data-action": "start" }, icon("play"), t("actuator.start"));
  startPlain.addEventListener("click", () => void send("start"));
  const startHold = holdButton({ label: t("actuator.startHold"), icon: "play", variant: "warn", testId: `start-${ref}`, onConfirm: () => send("start") });
  startHold.el.dataset.action = "start";
  const start = item.holdToStart ? startHold.el : startPlain;
  const stop = h("button", { type: "button", class: "btn btn-stop", "data-action": "stop" }, icon("square"), t("actuator.stop"));
  stop.addEventListener("click", () => void send("stop"));
  // Nine rows of "Start" and "Stop": each names what it starts for a screen reader.
  for (const b of [startPlain, startHold.el]) b.setAttribute("aria-label", `${t("actuator.start")}: ${item.name}`);
  stop.setAttribute("aria-label", `${t("actuator.stop")}: ${item.name}`);

  const chip = h("span", { class: "chip hold-status" });
  const lastLine = h("p", { class: "act-last" });
  const evidence = h("p", { class: "act-evidence" });
  const evidenceBadges = h("span", { class: "badges" });
  const blocked = h("ul", { class: "act-blocked", "data-testid": `blocked-${ref}` });
  const el = h(
    "li",
    { class: "actuator", "data-actuator": ref },
    h("div", { class: "act-head" }, h("strong", { class: "act-name" }, item.name), chip),
    lastLine,
    h("div", { class: "act-evidence-wrap" }, evidence, evidenceBadges),
    blocked,
    h("div", { class: "act-buttons" }, start, stop),
    result.el,
  );
  let lastStatus: ActuatorStatus | null = null;

  function sync(): void {
    const s = lastStatus;
    const blockedNow = s !== null && s.blocked.length > 0;
    if (item.holdToStart) startHold.setDisabled(busy || blockedNow);
    else startPlain.disabled = busy || blockedNow;
    stop.disabled = busy;
  }

  return {
    el,
    update(s) {
      // A reply about a start that the hub has since let go of would mislead: clear it.
      if (s.status === "dropped" && lastStatus?.status !== "dropped") result.clear();
      lastStatus = s;
      el.dataset.status = s.status;
      el.dataset.blocked = String(s.blocked.length > 0);
      setText(chip, t(`hold.status.${s.status}`));
      setText(lastLine, s.last);
      if (item.evidence !== null) {
        const ch = live.channel(item.evidence.device, item.evidence.channel);
        setText(evidence, `${t("actuator.reading")}: ${nameOf(`${item.evidence.device}.${item.evidence.channel}`, ch?.label)} ${valueWithUnit(ch?.value ?? null, ch?.unit ?? "")}`);
        setBadges(evidenceBadges, badgeKinds(ch, live.conn));
      }
      replaceIfChanged(blocked, s.blocked.join("|"), () => s.blocked.map((b) => h("li", null, icon("lock"), h("span", null, blockedLine(b)))));
      sync();
    },
  };
}
