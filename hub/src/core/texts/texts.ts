/**
 * Filling the hub's dictionary (strings.ts) and putting texts together. A placeholder takes a
 * string or number (the same in both languages: a program's name, a count) or a `Text` (its own
 * words per language: a device's name, another sentence).
 */
import type { Text } from "../types.ts";
import { HUB_STRINGS, type HubTextKey } from "./strings.ts";

export { HUB_STRINGS, type HubTextKey };

export type TextArg = string | number | Text;
type Lang = keyof Text;

function fill(template: string, args: Readonly<Record<string, TextArg>>, lang: Lang): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const v = args[name];
    if (v === undefined) return whole;
    return typeof v === "object" ? v[lang] : String(v);
  });
}

/** The dictionary's text for `key`, its placeholders filled in each language. */
export function text(key: HubTextKey, args: Readonly<Record<string, TextArg>> = {}): Text {
  const entry = HUB_STRINGS[key];
  return { nl: fill(entry.nl, args, "nl"), en: fill(entry.en, args, "en") };
}

/** A word or value that is the same in both languages (a name without a translation, a raw reading). */
export function verbatim(s: string): Text {
  return { nl: s, en: s };
}

/** A name from the config: its English form if it has one, else the Dutch one in both. */
export function bilingualName(nl: string, en?: string): Text {
  return { nl, en: en ?? nl };
}

/** Separate sentences after one another. */
export function sentences(texts: readonly Text[]): Text {
  return { nl: texts.map((t) => t.nl).join(" "), en: texts.map((t) => t.en).join(" ") };
}

/** Items joined with a separator (`"; "`, `", "`) in both languages. */
export function joined(texts: readonly Text[], separator: string): Text {
  return { nl: texts.map((t) => t.nl).join(separator), en: texts.map((t) => t.en).join(separator) };
}

/** "a, b and c" / "a, b en c": `word` is "word.and" or "word.or". */
export function list(texts: readonly Text[], word: "word.and" | "word.or" = "word.and"): Text {
  const w = HUB_STRINGS[word];
  const one = (lang: Lang) => {
    const items = texts.map((t) => t[lang]);
    if (items.length <= 1) return items.join("");
    return `${items.slice(0, -1).join(", ")} ${w[lang]} ${items.at(-1) ?? ""}`;
  };
  return { nl: one("nl"), en: one("en") };
}

/** A text with a raw detail for technicians after it in brackets: "heating failed (Printer halted. kill() called!)". */
export function withDetail(t: Text, detail: string): Text {
  return sentences([t, verbatim(`(${detail})`)]);
}

/** As a sentence: a capital first and a full stop at the end, unless it already ends in one. */
export function asSentence(t: Text): Text {
  const one = (s: string) => {
    const trimmed = s.trim();
    if (trimmed === "") return trimmed;
    const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
    return /[.!?]$/.test(capital) ? capital : `${capital}.`;
  };
  return { nl: one(t.nl), en: one(t.en) };
}

/** A time of day on the hub's clock as people read it, "12:03" (the hub's local time zone). */
export function timeOfDay(at: number): string {
  const d = new Date(at);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}
