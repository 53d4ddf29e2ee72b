/**
 * The badge on every value that is not a fresh, real measurement: simulated, stale (too old, or
 * the hub is out of reach), invalid, or not there yet. Icon and word, never colour alone.
 */
import type { ConnState, LiveChannel } from "../core/live-store.ts";
import { h, replaceIfChanged } from "../core/dom.ts";
import { lang, t } from "../i18n/index.ts";
import { icon, type IconName } from "./icons.ts";

export type BadgeKind = "simulated" | "stale" | "invalid" | "missing";

export function badgeKinds(ch: LiveChannel | undefined, conn: ConnState, deviceSimulated = false): BadgeKind[] {
  if (ch === undefined || ch.quality === "missing" || ch.value === null) return ["missing"];
  const kinds: BadgeKind[] = [];
  if (ch.quality === "invalid") kinds.push("invalid");
  else if (ch.prov === "stale" || ch.quality === "stale" || conn !== "up") kinds.push("stale");
  if (ch.prov === "simulated" || deviceSimulated) kinds.push("simulated");
  return kinds;
}

const ICON: Record<BadgeKind, IconName> = { simulated: "flask", stale: "clock", invalid: "warning", missing: "clock" };

export function badge(kind: BadgeKind): HTMLElement {
  return h("span", { class: `badge badge-${kind}`, "data-badge": kind }, icon(ICON[kind]), t(`badge.${kind}`));
}

/** Keeps a badge holder showing these kinds, touching the DOM only when they change. */
export function setBadges(holder: Element, kinds: readonly BadgeKind[]): void {
  replaceIfChanged(holder, `${lang()}:${kinds.join(",")}`, () => kinds.map(badge));
  holder.setAttribute("data-badges", kinds.join(" "));
}

/** True if a value should be shown greyed: not a fresh reading. */
export function isDoubtful(kinds: readonly BadgeKind[]): boolean {
  return kinds.some((k) => k !== "simulated");
}
