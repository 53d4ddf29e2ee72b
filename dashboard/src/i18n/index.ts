/**
 * Dutch first, English by a switch. `t(key)` for the dashboard's own words (one dictionary,
 * strings.ts); `tx(text)` for texts the hub sends in both languages (reasons, interlock names).
 */
import { NAMES } from "./names.ts";
import { STRINGS, type Lang, type StringKey } from "./strings.ts";

export type { Lang, StringKey };

const STORAGE_KEY = "tec-lang";

function stored(): Lang {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    return v === "en" ? "en" : "nl";
  } catch {
    return "nl";
  }
}

let current: Lang = stored();
const listeners = new Set<(l: Lang) => void>();

export function lang(): Lang {
  return current;
}

export function setLang(next: Lang): void {
  const changed = next !== current;
  current = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // A kiosk browser without storage still switches for this page.
  }
  document.documentElement.lang = next;
  if (changed) for (const fn of listeners) fn(next);
}

export function onLangChange(fn: (l: Lang) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** A dictionary string with `{name}` placeholders filled in. */
export function t(key: StringKey, vars: Record<string, string | number> = {}): string {
  let s: string = STRINGS[key][current];
  for (const [k, v] of Object.entries(vars)) s = s.split(`{${k}}`).join(String(v));
  return s;
}

/** A text from the hub in both languages. */
export function tx(text: { nl: string; en: string } | null | undefined): string {
  if (!text) return "";
  return text[current] || text.nl;
}

/**
 * A name the hub only has in Dutch (device names and labels come from the config and the devices'
 * meta): the dictionary's English name for the Tiny House's known ids, else the hub's own text.
 */
export function nameOf(id: string, fromHub: string | undefined): string {
  if (current === "en") {
    const known = NAMES[id];
    if (known !== undefined) return known.en;
  }
  return fromHub ?? NAMES[id]?.nl ?? id;
}
