/** Every string on screen, Dutch first. */
export type Lang = "nl" | "en";

const strings = {
  connecting: { nl: "Verbinden…", en: "Connecting…" },
  connected: { nl: "Live", en: "Live" },
  disconnected: { nl: "Geen verbinding met de hub", en: "No connection to the hub" },
  switchLang: { nl: "English", en: "Nederlands" },
  sun: { nl: "Zon", en: "Sun" },
  house: { nl: "Huis gebruikt", en: "House uses" },
  gridImport: { nl: "Van het net", en: "From the grid" },
  gridExport: { nl: "Naar het net", en: "To the grid" },
  batteryCharge: { nl: "Accu laadt", en: "Battery charging" },
  batteryDischarge: { nl: "Accu levert", en: "Battery supplying" },
  batteryIdle: { nl: "Accu rust", en: "Battery idle" },
  devices: { nl: "Apparaten", en: "Devices" },
  simulated: { nl: "simulatie", en: "simulated" },
  stale: { nl: "verouderd", en: "stale" },
  invalid: { nl: "ongeldig", en: "invalid" },
  missing: { nl: "nog geen waarde", en: "no value yet" },
  lastSeen: { nl: "laatst gezien", en: "last seen" },
  never: { nl: "nooit", en: "never" },
  secondsAgo: { nl: "{n} s geleden", en: "{n} s ago" },
  minutesAgo: { nl: "{n} min geleden", en: "{n} min ago" },
  "state.unknown": { nl: "onbekend", en: "unknown" },
  "state.init": { nl: "opstarten", en: "starting" },
  "state.ready": { nl: "in orde", en: "ready" },
  "state.degraded": { nl: "verstoord", en: "degraded" },
  "state.stale": { nl: "verouderd", en: "stale" },
  "state.offline": { nl: "offline", en: "offline" },
  "state.fault": { nl: "storing", en: "fault" },
} as const satisfies Record<string, Record<Lang, string>>;

export type StringKey = keyof typeof strings;

let current: Lang = (localStorage.getItem("tec-lang") as Lang | null) ?? "nl";

export function lang(): Lang {
  return current;
}

export function setLang(next: Lang): void {
  current = next;
  localStorage.setItem("tec-lang", next);
  document.documentElement.lang = next;
}

export function t(key: StringKey, vars: Record<string, string | number> = {}): string {
  let s: string = strings[key][current];
  for (const [k, v] of Object.entries(vars)) s = s.replace(`{${k}}`, String(v));
  return s;
}
