/** Renders the story's sentences in the language on screen (numbers, powers and times formatted here only). */
import { clock, num, power } from "../../core/format.ts";
import { t } from "../../i18n/index.ts";
import type { Said } from "./story.ts";

export function say(s: Said | null): string {
  if (s === null) return "";
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.vars ?? {})) {
    if (typeof v === "object") vars[k] = say(v);
    else if (typeof v === "string") vars[k] = v;
    else if (k === "time") vars[k] = clock(v);
    else if (k.endsWith("W")) vars[k] = power(v);
    else vars[k] = num(v, Number.isInteger(v) ? 0 : 1);
  }
  return t(s.key, vars);
}
