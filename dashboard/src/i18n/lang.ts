/** The centre's two languages, Dutch first. */
export type Lang = "nl" | "en";
export type Entry = Record<Lang, string>;
