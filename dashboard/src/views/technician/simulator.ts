/**
 * Simulator controls for lessons, shown only while the hub lists `sim.*` commands: a leak on or
 * off, the e-stop button pressed or released, every station's guard door opened or closed, a
 * device crashed, restarted or rebooted, its messages garbled or dropped, one of its sensors stuck;
 * and the faults active now, per device. Every reply (and refusal, with the hub's reason) is shown
 * next to the control that asked.
 */
import { icon } from "../../components/icons.ts";
import { resultLine } from "../../components/notice.ts";
import type { Reply } from "../../core/api.ts";
import { runCommand } from "../../core/commands.ts";
import type { AppContext } from "../../core/app.ts";
import { h, setText } from "../../core/dom.ts";
import { num } from "../../core/format.ts";
import { nameOf, t } from "../../i18n/index.ts";
import { simClockPanel } from "./sim-clock.ts";
import type { Tab } from "./tab.ts";

/** What `sim.faults` answers per device (simulators/common/contract-device.ts SimFaults). */
interface SimFaults {
  drop: number;
  delayMs: number;
  duplicate: boolean;
  garble: number;
  stuck: string | null;
  health: string;
}

/** The faults of one device in words; empty when it runs as it should. */
export function faultWords(deviceId: string, f: SimFaults, label?: (channel: string) => string | undefined): string[] {
  const words: string[] = [];
  if (f.drop > 0) words.push(t("sim.faults.drop", { pct: num(f.drop * 100) }));
  if (f.garble > 0) words.push(t("sim.faults.garble", { pct: num(f.garble * 100) }));
  if (f.delayMs > 0) words.push(t("sim.faults.delay", { ms: num(f.delayMs) }));
  if (f.duplicate) words.push(t("sim.faults.duplicate"));
  if (f.stuck !== null) words.push(t("sim.faults.stuck", { channel: `${nameOf(`${deviceId}.${f.stuck}`, label?.(f.stuck))} (${f.stuck})` }));
  if (f.health !== "ok") words.push(t("sim.faults.health", { health: f.health }));
  return words;
}

export function simulatorTab(ctx: AppContext, available: ReadonlySet<string>): Tab {
  const { live } = ctx;
  const simulated = () => (live.snapshot?.devices ?? []).filter((d) => d.simulated);
  const deviceSelect = (testId: string) => h("select", { "data-testid": testId }, simulated().map((d) => h("option", { value: d.id }, nameOf(d.id, d.name))));
  const group = (title: string, note: string, ...controls: HTMLElement[]) => h("section", { class: "sim-group" }, h("h3", null, title), h("p", { class: "muted" }, note), h("div", { class: "sim-controls" }, ...controls));
  const action = (label: string, testId: string, name: string, params: () => Record<string, unknown>, okText: string | ((reply: Reply<unknown>) => string), cls = "btn", ariaLabel?: string) => {
    const result = resultLine();
    const b = h("button", { type: "button", class: cls, "data-testid": testId, ...(ariaLabel !== undefined ? { "aria-label": ariaLabel } : {}) }, label);
    b.addEventListener("click", () => {
      b.disabled = true;
      result.pending(t("sim.sending"));
      void runCommand(live, name, params()).then((reply) => {
        b.disabled = false;
        result.show(reply, typeof okText === "string" ? okText : okText(reply));
        if (name === "sim.fault" || name === "sim.power") void refreshFaults();
      });
    });
    return h("div", { class: "sim-action" }, b, result.el);
  };

  const parts: HTMLElement[] = [];
  if (available.has("sim.leak")) {
    parts.push(group(t("sim.leak.title"), t("sim.leak.note"), action(t("sim.leak.on"), "sim-leak-on", "sim.leak", () => ({ on: true }), t("sim.leak.onDone"), "btn btn-warn"), action(t("sim.leak.off"), "sim-leak-off", "sim.leak", () => ({ on: false }), t("sim.leak.offDone"))));
  }
  if (available.has("sim.estopButton")) {
    parts.push(group(t("sim.button.title"), t("sim.button.note"), action(t("sim.button.press"), "sim-button-press", "sim.estopButton", () => ({ pressed: true }), t("sim.button.pressed"), "btn btn-warn"), action(t("sim.button.release"), "sim-button-release", "sim.estopButton", () => ({ pressed: false }), t("sim.button.released"))));
  }
  if (available.has("sim.door")) {
    // Every station's guard door: a printer's enclosure, the robot cell's door, the arm's door switch.
    const rows = live.stations().map((st) =>
      h(
        "div",
        { class: "sim-door", "data-station": st.id },
        h("strong", { class: "sim-door-name" }, st.name),
        action(t("sim.door.open"), `sim-door-open-${st.id}`, "sim.door", () => ({ station: st.id, open: true }), t("sim.door.opened", { name: st.name }), "btn btn-warn", t("sim.door.openOf", { name: st.name })),
        action(t("sim.door.close"), `sim-door-close-${st.id}`, "sim.door", () => ({ station: st.id, open: false }), t("sim.door.closed", { name: st.name }), "btn", t("sim.door.closeOf", { name: st.name })),
      ),
    );
    parts.push(h("section", { class: "sim-group sim-doors", "data-testid": "sim-doors" }, h("h3", null, t("sim.door.title")), h("p", { class: "muted" }, t("sim.door.note")), rows.length > 0 ? rows : h("p", { class: "muted" }, t("sim.door.none"))));
  }
  if (available.has("sim.power")) {
    const device = deviceSelect("sim-device");
    const power = (a: "crash" | "restart" | "reboot") => action(t(`sim.power.${a}`), `sim-${a}`, "sim.power", () => ({ device: device.value, action: a }), t("sim.power.done"), a === "crash" ? "btn btn-warn" : "btn");
    parts.push(group(t("sim.power.title"), t("sim.power.note"), h("label", { class: "field" }, h("span", null, t("sim.device")), device), power("crash"), power("restart"), power("reboot")));
  }
  if (available.has("sim.fault")) {
    const device = deviceSelect("sim-fault-device");
    const channel = h("select", { "data-testid": "sim-stuck-channel" });
    const fillChannels = () => {
      const d = live.device(device.value);
      channel.replaceChildren(...Object.entries(d?.channels ?? {}).map(([c, ch]) => h("option", { value: c }, `${nameOf(`${device.value}.${c}`, ch.label)} (${c})`)));
    };
    device.addEventListener("change", fillChannels);
    fillChannels();
    parts.push(
      group(
        t("sim.fault.title"),
        t("sim.fault.note"),
        h("label", { class: "field" }, h("span", null, t("sim.device")), device),
        action(t("sim.fault.garble"), "sim-garble", "sim.fault", () => ({ device: device.value, faults: { garble: 0.3 } }), t("sim.fault.done")),
        action(t("sim.fault.drop"), "sim-drop", "sim.fault", () => ({ device: device.value, faults: { drop: 0.5 } }), t("sim.fault.done")),
        action(t("sim.fault.clear"), "sim-clear", "sim.fault", () => ({ device: device.value, clear: true }), t("sim.fault.cleared")),
      ),
      group(
        t("sim.stuck.title"),
        t("sim.stuck.note"),
        h("label", { class: "field" }, h("span", null, t("sim.stuck.channel")), channel),
        action(t("sim.stuck.on"), "sim-stuck-on", "sim.fault", () => ({ device: device.value, faults: { stuck: channel.value } }), () => t("sim.stuck.onDone", { channel: channel.selectedOptions[0]?.textContent ?? channel.value }), "btn btn-warn"),
        action(t("sim.stuck.off"), "sim-stuck-off", "sim.fault", () => ({ device: device.value, faults: { stuck: null } }), t("sim.stuck.offDone")),
      ),
    );
  }

  // The faults active now, per device: asked when the tab opens and after every change made here.
  const faultList = h("ul", { class: "sim-fault-list", "data-testid": "sim-faults" });
  const faultStatus = h("p", { class: "muted", role: "status" });
  async function refreshFaults(): Promise<void> {
    if (!available.has("sim.faults")) return;
    const reply = await runCommand<Record<string, SimFaults>>(live, "sim.faults");
    if (!reply.ok) {
      setText(faultStatus, `${t("load.failed")}: ${reply.message}`);
      return;
    }
    const active = Object.entries(reply.result).flatMap(([id, f]) => {
      const words = faultWords(id, f, (c) => live.channel(id, c)?.label);
      return words.length > 0 ? [h("li", { "data-device": id }, h("strong", null, nameOf(id, live.device(id)?.name)), `: ${words.join(", ")}`)] : [];
    });
    faultList.replaceChildren(...active);
    setText(faultStatus, active.length === 0 ? t("sim.faults.none") : "");
  }
  if (available.has("sim.faults")) {
    parts.unshift(h("section", { class: "sim-group sim-active", "data-testid": "sim-active" }, h("h3", null, t("sim.faults.title")), faultStatus, faultList));
    void refreshFaults();
  }

  // The simulated day's clock comes first: lessons start by picking a time of day.
  const simClock = available.has("sim.clock") ? simClockPanel(ctx) : null;
  if (simClock !== null) parts.unshift(simClock.el);
  // The simulated time of day moves between live frames (60x: a minute a second).
  const ticker = simClock === null ? 0 : window.setInterval(() => simClock.update(), 1000);

  const el = h("section", { class: "card sim", "data-testid": "simulator" }, h("h2", null, icon("flask"), t("tab.sim")), h("p", { class: "sim-warning" }, icon("warning"), t("sim.warning")), ...parts);
  return {
    el,
    update: () => simClock?.update(),
    destroy: () => window.clearInterval(ticker),
  };
}
