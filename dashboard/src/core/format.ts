/** Numbers, powers, times and durations in the language on screen. */
import { lang, t } from "../i18n/index.ts";

const locale = (): string => (lang() === "nl" ? "nl-NL" : "en-GB");

export function num(n: number, digits = 0): string {
  return n.toLocaleString(locale(), { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** 850 W, 2,4 kW: one decimal above a kilowatt is what a pupil can read from across the room. */
export function powerParts(w: number): { value: string; unit: string } {
  const abs = Math.abs(w);
  if (abs >= 1000) return { value: num(w / 1000, abs >= 10_000 ? 0 : 1), unit: "kW" };
  return { value: num(Math.round(w)), unit: "W" };
}

export function power(w: number): string {
  const p = powerParts(w);
  return `${p.value} ${p.unit}`;
}

export function energy(wh: number): string {
  if (Math.abs(wh) >= 1000) return `${num(wh / 1000, 1)} kWh`;
  return `${num(wh)} Wh`;
}

/** A channel value with its unit, as a technician reads it. */
export function valueWithUnit(v: number | null, unit: string): string {
  if (v === null) return "–";
  if (unit === "W") return power(v);
  if (unit === "Wh") return energy(v);
  const digits = Number.isInteger(v) ? 0 : Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return unit === "" ? num(v, digits) : `${num(v, digits)} ${unit}`;
}

export function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" });
}

export function clockSeconds(ms: number): string {
  return new Date(ms).toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function dateTime(ms: number): string {
  return new Date(ms).toLocaleString(locale(), { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/** "12 s ago", "4 min ago", "3 h ago" relative to `now` (hub time). */
export function ago(at: number | null, now: number): string {
  if (at === null) return t("time.never");
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 120) return t("time.secondsAgo", { n: s });
  if (s < 7200) return t("time.minutesAgo", { n: Math.round(s / 60) });
  if (s < 172_800) return t("time.hoursAgo", { n: Math.round(s / 3600) });
  return t("time.daysAgo", { n: Math.round(s / 86_400) });
}

/** 1:59:12 or 4:05: a countdown. */
export function countdown(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hh = Math.floor(total / 3600);
  const mm = Math.floor((total % 3600) / 60);
  const ss = total % 60;
  const two = (n: number) => String(n).padStart(2, "0");
  return hh > 0 ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`;
}

export function uptime(s: number): string {
  if (s < 120) return t("time.seconds", { n: s });
  if (s < 7200) return t("time.minutes", { n: Math.round(s / 60) });
  if (s < 172_800) return t("time.hours", { n: num(s / 3600, 1) });
  return t("time.days", { n: num(s / 86_400, 1) });
}

/** Epoch milliseconds between 2001 and 2286: a moment, never a count worth showing raw. */
export function isEpochMs(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 1e12 && v < 1e13;
}

/**
 * One value of a record's details as a person reads it: moments as local date and time (never
 * `expiresAt=1796203457679`), text as it is, anything else as JSON.
 */
export function detailValue(key: string, v: unknown): string {
  if (isEpochMs(v) || (typeof v === "number" && /At$/.test(key) && v > 0)) return dateTime(v);
  if (typeof v === "string") return v;
  return JSON.stringify(v) ?? "";
}

/** Firmware names that say nothing: shown as "–" so a real name elsewhere is not contradicted. */
const NO_FIRMWARE = new Set(["", "unknown", "?", "n/a"]);

/**
 * The one firmware name for a device: the first candidate that names something (a printer's meta
 * may say "unknown" from before M115 answered while its station already knows "Marlin 2.1.2.1").
 */
export function firmwareName(...candidates: Array<string | null | undefined>): string {
  for (const c of candidates) if (typeof c === "string" && !NO_FIRMWARE.has(c.trim().toLowerCase())) return c.trim();
  return "–";
}

/** Model and firmware on one line: "TEC-SIM-WATER · sim-1.0.0". */
export function modelFirmware(model: string | null | undefined, ...firmware: Array<string | null | undefined>): string {
  return `${firmwareName(model)} · ${firmwareName(...firmware)}`;
}

/**
 * What an audit record is, for its colour and word: a command's result (ok, refused, failed), or a
 * happening the hub recorded itself (an interlock tripping is not a command that succeeded).
 */
export type AuditKind = "ok" | "refused" | "failed" | "trip" | "cleared" | "event";

export function auditKind(r: { action: string; result: "ok" | "refused" | "failed"; actor: { role: string } }): AuditKind {
  if (r.action === "interlock.tripped") return "trip";
  if (r.action === "interlock.cleared") return "cleared";
  if (r.result !== "ok") return r.result;
  return r.actor.role === "system" || r.actor.role === "device" ? "event" : "ok";
}
