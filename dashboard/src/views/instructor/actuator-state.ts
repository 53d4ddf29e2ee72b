/**
 * What the screen can say about an actuator. The hub does not (yet) publish which actuators it
 * holds, and the device's actual state is not in its telemetry, so this is worked out from what is
 * on record: the last start or stop (the audit log, and this screen's own replies), and the trips
 * and emergency stops since, which make the hub let go of a hold. Interlocks that are not normal
 * and forbid the actuator block a start; their reasons are shown.
 */
import type { InterlockView } from "../../core/live-store.ts";
import { t, tx } from "../../i18n/index.ts";

export interface AuditRecord {
  seq: number;
  at: number;
  actor: { name: string; role: string };
  action: string;
  target: string;
  result: "ok" | "refused" | "failed";
  reason?: string;
  details?: Record<string, unknown>;
}

export interface LastCommand {
  action: "start" | "stop";
  at: number;
  by: string;
  result: "ok" | "refused" | "failed";
  /** Shown as is: the bilingual reason already picked for the screen, or the hub's message. */
  reason: string | null;
}

export type HoldStatus = "held" | "stopped" | "dropped" | "refused" | "unknown";

export interface ActuatorStatus {
  status: HoldStatus;
  last: LastCommand | null;
  /** Why the hub let go of it (a trip or the emergency stop after the start). */
  droppedBy: string | null;
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
  return il.cause ? `${tx(il.reason)} (${tx(il.cause.detail)})` : tx(il.reason);
}

/** The newest start/stop per target from audit records (newest first). */
export function lastCommandsFromAudit(records: readonly AuditRecord[]): Map<string, LastCommand> {
  const out = new Map<string, LastCommand>();
  for (const r of records) {
    if (r.action !== "actuator.start" && r.action !== "actuator.stop") continue;
    if (out.has(r.target)) continue;
    out.set(r.target, { action: r.action === "actuator.start" ? "start" : "stop", at: r.at, by: r.actor.name, result: r.result, reason: r.reason ?? null });
  }
  return out;
}

/**
 * Whether something after `since` made the hub drop its holds on `ref`: an interlock forbidding it
 * tripped, or an emergency stop (from a screen, or a button through the estop interlock).
 */
export function droppedSince(ref: string, since: number, records: readonly AuditRecord[], interlocks: readonly InterlockView[]): string | null {
  const byId = new Map(interlocks.map((il) => [il.id, il]));
  for (const r of records) {
    if (r.at < since) break;
    if (r.result !== "ok") continue;
    if (r.action === "estop.trigger") return t("block.estopBy", { name: r.actor.name });
    if (r.action === "interlock.tripped") {
      const il = byId.get(r.target);
      if (il !== undefined && (il.forbids.includes(ref) || il.forbids.includes("*"))) return tx(il.name);
    }
  }
  // A trip still standing that began after the start says the same, even if the log page missed it.
  for (const il of blockers(ref, interlocks)) {
    if (il.trippedAt !== null && il.trippedAt >= since) return tx(il.name);
  }
  return null;
}

export function actuatorStatus(ref: string, last: LastCommand | null, records: readonly AuditRecord[], interlocks: readonly InterlockView[]): ActuatorStatus {
  const blocked = blockers(ref, interlocks).map(blockText);
  if (last === null) return { status: "unknown", last, droppedBy: null, blocked };
  if (last.result !== "ok") return { status: "refused", last, droppedBy: null, blocked };
  if (last.action === "stop") return { status: "stopped", last, droppedBy: null, blocked };
  const droppedBy = droppedSince(ref, last.at, records, interlocks);
  return { status: droppedBy === null ? "held" : "dropped", last, droppedBy, blocked };
}
