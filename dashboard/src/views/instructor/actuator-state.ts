/**
 * What the screen says about an actuator, from the hub's own account of it in the live stream:
 * whether the hub holds it, the last start or stop staff asked for (who, when, the hub's answer),
 * and why the hub let go of it if nobody stopped it. Interlocks that are not normal and forbid the
 * actuator block a start; their reasons are shown, in words: the raw reading that tripped a rule
 * ("water.leak = 1") is the technician's. Nothing here reads the audit log: its newest rows are
 * whatever was done last, anywhere, by anyone.
 */
import type { ActuatorView, InterlockView } from "../../core/live-store.ts";
import { refusalText } from "../../components/notice.ts";
import { clock } from "../../core/format.ts";
import { t, tx } from "../../i18n/index.ts";

export type HoldStatus = "held" | "pending" | "stopped" | "dropped" | "refused" | "off";

export interface ActuatorStatus {
  status: HoldStatus;
  /** One line: the last start or stop and its answer, then what happened since. */
  last: string;
  /** The reasons a start is forbidden now; empty: it may start. */
  blocked: string[];
}

/** Interlocks that forbid `ref` (device.actuator) and are not normal. */
export function blockers(ref: string, interlocks: readonly InterlockView[]): InterlockView[] {
  return interlocks.filter((il) => il.status !== "normal" && (il.forbids.includes(ref) || il.forbids.includes("*")));
}

export function blockText(il: InterlockView): string {
  if (il.status === "waiting") return t("block.waiting", { name: tx(il.name) });
  if (il.status === "cleared") return t("block.notReset", { name: tx(il.name) });
  return tx(il.reason);
}

/** `say`: how a hub sentence is said on this screen (ids as names, no raw values). */
export function actuatorStatus(ref: string, view: ActuatorView | undefined, interlocks: readonly InterlockView[], say: (text: string) => string = (s) => s): ActuatorStatus {
  const blocked = [...new Set(blockers(ref, interlocks).map(blockText))];
  if (view === undefined) return { status: "off", last: t("actuator.noCommand"), blocked };
  const { order, released } = view;
  const refused = order !== null && (order.result === "refused" || order.result === "failed");
  // A release after the last order is news; one before it is history the order replaced.
  const releasedSince = released !== null && (order === null || released.at >= order.at) ? released : null;
  const status: HoldStatus =
    view.state === "held" || view.state === "pending"
      ? view.state
      : refused && releasedSince === null
        ? "refused"
        : view.state === "released"
          ? "dropped"
          : order?.command === "actuator.stop"
            ? "stopped"
            : "off";
  const parts: string[] = [];
  if (order === null) {
    parts.push(view.state === "off" ? t("actuator.noCommand") : t("actuator.fromConfig"));
  } else {
    const by = { by: order.by, time: clock(order.at) };
    parts.push(order.command === "actuator.stop" ? t("actuator.lastStop", by) : t("actuator.lastStart", by));
    // The hub's reason when it gave one; its raw message ("refused by water: …") is the technician's.
    if (refused) parts.push(`${t("actuator.wasRefused")}: ${order.reason ? say(tx(order.reason)) : refusalText({ code: order.code ?? "", message: "" })}`);
  }
  if (releasedSince !== null && view.state === "released") parts.push(t("actuator.droppedBy", { why: say(tx(releasedSince.why)) }));
  if (view.error !== null) parts.push(t("actuator.refreshFailed"));
  return { status, last: parts.join(" · "), blocked };
}
