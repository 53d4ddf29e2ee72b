/**
 * For the language tests: which of the dashboard dictionary's Dutch texts are on a page shown in
 * English. Texts with placeholders, and words that are the same in both languages, are left out.
 */
import type { Page } from "playwright-core";
import { STRINGS } from "../../dashboard/src/i18n/strings.ts";

const DUTCH_ONLY = Object.values(STRINGS)
  .filter((e) => e.nl !== e.en && !/\{\w+\}/.test(e.nl) && e.nl.length > 3)
  .map((e) => e.nl);

/** `names`: people's login names on screen ("begeleider" is a name there, not a word to translate). */
export async function dutchLeft(page: Page, names: readonly string[] = ["begeleider", "technicus"]): Promise<string[]> {
  let text = await page.locator("body").innerText();
  for (const n of names) text = text.split(n).join("");
  // Whole words only: "alle" is Dutch, but it is also inside English words such as "installed".
  const escape = (d: string) => d.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return DUTCH_ONLY.filter((d) => new RegExp(`(^|[^\\p{L}])${escape(d)}($|[^\\p{L}])`, "u").test(text));
}
