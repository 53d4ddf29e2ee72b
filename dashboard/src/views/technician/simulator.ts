/**
 * Simulator controls for lessons, shown only while the hub lists `sim.*` commands: a leak on or
 * off, the e-stop button pressed or released, a device crashed, restarted or rebooted. Every reply
 * (and refusal, with the hub's reason) is shown next to the control that asked.
 */
import { icon } from "../../components/icons.ts";
import { resultLine } from "../../components/notice.ts";
import { runCommand } from "../../core/commands.ts";
import type { AppContext } from "../../core/app.ts";
import { h } from "../../core/dom.ts";
import { nameOf, t } from "../../i18n/index.ts";
import type { Tab } from "./tab.ts";

export function simulatorTab(ctx: AppContext, available: ReadonlySet<string>): Tab {
  const { live } = ctx;
  const group = (title: string, note: string, ...controls: HTMLElement[]) => h("section", { class: "sim-group" }, h("h3", null, title), h("p", { class: "muted" }, note), h("div", { class: "sim-controls" }, ...controls));
  const action = (label: string, testId: string, name: string, params: () => Record<string, unknown>, okText: string, cls = "btn") => {
    const result = resultLine();
    const b = h("button", { type: "button", class: cls, "data-testid": testId }, label);
    b.addEventListener("click", () => {
      b.disabled = true;
      result.pending(t("sim.sending"));
      void runCommand(live, name, params()).then((reply) => {
        b.disabled = false;
        result.show(reply, okText);
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
  if (available.has("sim.power")) {
    const device = h("select", { "data-testid": "sim-device" }, (live.snapshot?.devices ?? []).filter((d) => d.simulated).map((d) => h("option", { value: d.id }, nameOf(d.id, d.name))));
    const power = (a: "crash" | "restart" | "reboot") => action(t(`sim.power.${a}`), `sim-${a}`, "sim.power", () => ({ device: device.value, action: a }), t("sim.power.done"), a === "crash" ? "btn btn-warn" : "btn");
    parts.push(group(t("sim.power.title"), t("sim.power.note"), h("label", { class: "field" }, h("span", null, t("sim.device")), device), power("crash"), power("restart"), power("reboot")));
  }
  if (available.has("sim.fault")) {
    const device = h("select", null, (live.snapshot?.devices ?? []).filter((d) => d.simulated).map((d) => h("option", { value: d.id }, nameOf(d.id, d.name))));
    parts.push(
      group(
        t("sim.fault.title"),
        t("sim.fault.note"),
        h("label", { class: "field" }, h("span", null, t("sim.device")), device),
        action(t("sim.fault.garble"), "sim-garble", "sim.fault", () => ({ device: device.value, faults: { garble: 0.3 } }), t("sim.fault.done")),
        action(t("sim.fault.drop"), "sim-drop", "sim.fault", () => ({ device: device.value, faults: { drop: 0.5 } }), t("sim.fault.done")),
        action(t("sim.fault.clear"), "sim-clear", "sim.fault", () => ({ device: device.value, clear: true }), t("sim.fault.cleared")),
      ),
    );
  }
  const el = h("section", { class: "card sim", "data-testid": "simulator" }, h("h2", null, icon("flask"), t("tab.sim")), h("p", { class: "sim-warning" }, icon("warning"), t("sim.warning")), ...parts);
  return { el };
}
