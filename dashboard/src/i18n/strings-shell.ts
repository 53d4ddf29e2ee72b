/** Part of the one dictionary (see strings.ts): the frame every screen shares (skip link, navigation, focus and accessibility words). */
import type { Entry } from "./lang.ts";

export const SHELL_STRINGS = {
  "shell.skipToContent": { nl: "Naar de inhoud", en: "Skip to content" },
} as const satisfies Record<string, Entry>;
