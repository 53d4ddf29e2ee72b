/**
 * Human words on the instructor's console (issue 12): names, never ids; reasons as sentences,
 * never raw values. The hub gives every station, device and actuator a `label` ({nl, en}) and a
 * station's refusals as separate sentences (`startable.reasons`); a hub from before that sends
 * only a name and one joined `reason` with ids in it ("printer-2.start mag niet starten: ...
 * (enclosures.printer2DoorOpen = 1)"). Both are handled here, in one place, so the cards do not
 * each guess. Raw values (a firmware's last error, a robot's mode number) are the technician's.
 */
import type { LiveStore } from "../../core/live-store.ts";
import { nameOf, t, tx } from "../../i18n/index.ts";
import { NAMES } from "../../i18n/names.ts";

export interface Text {
  nl: string;
  en: string;
}

/** A station's, device's or actuator's name: its bilingual label when the hub sends one (a hub from before labels does not). */
export function labelOf(x: object | undefined, id: string, name: string | undefined): string {
  const label: unknown = x !== undefined && "label" in x ? x.label : undefined;
  if (typeof label === "object" && label !== null && "nl" in label && "en" in label) {
    const l = label as Text;
    // A label that is only the id again ("fanEnable": nobody named it) is no name: the dictionary may have one.
    const isId = l.nl === id || l.nl === id.slice(id.lastIndexOf(".") + 1);
    // One the hub has in one language only (nl = en) gives way to the dictionary's English name.
    const untranslated = l.nl === l.en && NAMES[id] !== undefined;
    if (!isId && !untranslated) return tx(l);
    if (!isId) return nameOf(id, l.nl);
  }
  return nameOf(id, typeof label === "string" ? label : name);
}

export function stationName(live: LiveStore, id: string): string {
  const s = live.stations().find((v) => v.id === id);
  return labelOf(s, id, s?.name);
}

/** "water.pumpEnable", "printer-2.start", "*" as a person reads them. */
export function refName(live: LiveStore, ref: string): string {
  if (ref === "*") return t("interlock.everything");
  const station = live.stations().find((s) => ref === `${s.id}.start` || ref === s.id);
  if (station !== undefined) return stationName(live, station.id);
  const a = live.actuator(ref);
  if (a !== undefined) return labelOf(a, ref, a.spec.label ?? undefined);
  const d = live.device(ref);
  if (d !== undefined) return labelOf(d, ref, d.name);
  return nameOf(ref, undefined);
}

const RAW_VALUE = /\s*\((?:[\w-]+\.)+[\w-]+\s*[=<>!]+[^)]*\)/g;
const RAW_ONLY = /^\s*(?:[\w-]+\.)+[\w-]+\s*[=<>!]+[^;:]*$/;
/** "De oorzaak is er nog: water.leak = 1." -> "De oorzaak is er nog." */
const RAW_TAIL = /:\s*(?:[\w-]+\.)+[\w-]+\s*[=<>!]+\s*[^\s;]+?\.?$/;
const MAY_NOT_START = /^(.*?)\s+(?:mag niet starten|may not start):\s+/i;

/**
 * A hub sentence as the console says it: raw readings in brackets ("(water.leak = 1)") left out,
 * a leading "<id> mag niet starten:" (the card names the station already) left out, and any id
 * the text still mentions said as its name.
 */
export function plain(live: LiveStore, text: string): string {
  // A text that is nothing but a reading ("estop-button.pressed = 1") says nothing here.
  if (RAW_ONLY.test(text)) return "";
  let s = text.replace(RAW_VALUE, "").replace(RAW_TAIL, ".");
  const lead = MAY_NOT_START.exec(s);
  // Only an id ("printer-2.start", "water.pumpEnable"): a name ("Robotcel mag niet starten: …") is a sentence.
  if (lead !== null && /^[\w-]+(\.[\w-]+)+$|^\w+-[\w-]+$/.test(lead[1] ?? "")) s = s.slice(lead[0].length);
  const ids = [...live.stations().map((v) => v.id), ...live.actuators().map((a) => a.ref)].sort((a, b) => b.length - a.length);
  for (const id of ids) if (s.includes(id)) s = s.split(`${id}.start`).join(refName(live, `${id}.start`)).split(id).join(refName(live, id));
  return s.trim();
}

/** Says "may not start" already: it needs no prefix. */
export function saysMayNotStart(text: string): boolean {
  return /mag niet starten|may not start/i.test(text);
}

/** Why a station may not start, one sentence each: the hub's `reasons` when sent, else its one `reason` split. */
export function startReasons(live: LiveStore, startable: { ok: boolean; reason?: Text; reasons?: Text[] }): string[] {
  if (startable.ok) return [];
  const list = startable.reasons !== undefined && startable.reasons.length > 0 ? startable.reasons.map(tx) : tx(startable.reason).split("; ");
  const out = list.map((r) => plain(live, r)).filter((r) => r !== "");
  return [...new Set(out)];
}

/** The line shown for each reason: "Mag niet starten: …" unless the sentence says so itself. */
export function blockedLine(reason: string): string {
  return saysMayNotStart(reason) ? reason : `${t("actuator.mayNotStart")}: ${reason}`;
}
