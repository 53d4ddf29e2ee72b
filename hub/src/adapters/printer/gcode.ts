/**
 * The Marlin host protocol's text, as OctoPrint and Printrun speak it: framing outgoing lines with
 * line numbers and checksums, and classifying what the firmware says back. Pure and table-tested.
 */

/** XOR of every byte of `N<n> <cmd>`, written in decimal (Marlin, OctoPrint `_do_send_with_checksum`). */
export function checksum(text: string): number {
  let cs = 0;
  for (let i = 0; i < text.length; i++) cs ^= text.charCodeAt(i) & 0xff;
  return cs;
}

/** `N<n> <cmd>*<checksum>` without the newline. */
export function frame(lineNumber: number, command: string): string {
  const body = `N${lineNumber} ${command}`;
  return `${body}*${checksum(body)}`;
}

/** A G-code line without its comment and surrounding space; "" for a comment or blank line. */
export function stripComment(line: string): string {
  const semi = line.indexOf(";");
  return (semi >= 0 ? line.slice(0, semi) : line).trim();
}

/** The command word of a line: `G1`, `M104`, `T0`; "" if none. */
export function commandWord(command: string): string {
  const m = /^([GMT]\d+)/i.exec(command.trim());
  return m?.[1]?.toUpperCase() ?? "";
}

export interface HeaterReading {
  actual: number;
  target: number | null;
}

export interface TemperatureReport {
  hotend: HeaterReading | null;
  bed: HeaterReading | null;
  /** Heater PWM 0..1 where the firmware reports it (`@:` hotend, `B@:` bed; Marlin AVR scale 0..127). */
  hotendPower: number | null;
  bedPower: number | null;
}

const TEMP_RE = /(?:^|\s)(T\d*|B|C|[A-Z]):\s*(-?\d+(?:\.\d+)?)(?:\s*\/\s*(-?\d+(?:\.\d+)?))?/g;

/**
 * Parses `ok T:210.00 /210.00 B:60.00 /60.00 @:127 B@:0` and the auto-report without `ok`.
 * OctoPrint's canonicalisation: `T` alone is the current tool; with `T0` present, `T` is dropped.
 */
export function parseTemperatures(line: string): TemperatureReport | null {
  if (!/(^|\s)(T\d*|B):/.test(line)) return null;
  const seen = new Map<string, HeaterReading>();
  for (const m of line.matchAll(TEMP_RE)) {
    const key = m[1] ?? "";
    const actual = Number(m[2]);
    const target = m[3] !== undefined ? Number(m[3]) : null;
    if (!Number.isFinite(actual)) continue;
    seen.set(key, { actual, target });
  }
  const hotend = seen.get("T0") ?? seen.get("T") ?? null;
  const bed = seen.get("B") ?? null;
  const power = (re: RegExp): number | null => {
    const m = re.exec(line);
    if (m?.[1] === undefined) return null;
    const raw = Number(m[1]);
    return Number.isFinite(raw) ? Math.min(1, Math.max(0, raw / 127)) : null;
  };
  if (hotend === null && bed === null) return null;
  return { hotend, bed, hotendPower: power(/(?:^|\s)@:\s*(\d+)/), bedPower: power(/B@:\s*(\d+)/) };
}

/** `FIRMWARE_NAME:Marlin 2.1.2.1 (sim) SOURCE_CODE_URL:… PROTOCOL_VERSION:1.0 MACHINE_TYPE:…` (OctoPrint `parse_firmware_line`). */
export function parseFirmwareLine(line: string): Record<string, string> | null {
  if (!line.includes("FIRMWARE_NAME:")) return null;
  const result: Record<string, string> = {};
  const keys = [...line.matchAll(/(?:^|\s+)([A-Z][A-Z0-9_]*):/g)];
  keys.forEach((k, i) => {
    const start = (k.index ?? 0) + k[0].length;
    const end = keys[i + 1]?.index ?? line.length;
    result[k[1] ?? ""] = line.slice(start, end).trim();
  });
  return result;
}

/** `Cap:AUTOREPORT_TEMP:1` -> ["AUTOREPORT_TEMP", true]. */
export function parseCapability(line: string): [string, boolean] | null {
  const m = /^Cap:([A-Z0-9_]+):([01])\s*$/.exec(line.trim());
  return m === null ? null : [m[1] ?? "", m[2] === "1"];
}

export type HaltKind = "thermal-runaway" | "heating-failed" | "mintemp" | "maxtemp" | "killed" | "fatal";

export type FirmwareLine =
  | { kind: "ok"; rest: string }
  | { kind: "resend"; line: number }
  | { kind: "busy"; what: string }
  | { kind: "wait" }
  | { kind: "start" }
  | { kind: "halt"; halt: HaltKind; message: string }
  /** Line-number and checksum errors: a `Resend:` follows, nothing else to do. */
  | { kind: "comm-error"; message: string }
  | { kind: "error"; message: string }
  | { kind: "temperature"; report: TemperatureReport }
  | { kind: "firmware"; info: Record<string, string> }
  | { kind: "capability"; name: string; enabled: boolean }
  | { kind: "action"; action: string }
  | { kind: "echo"; text: string }
  | { kind: "other"; text: string };

const HALTS: Array<[RegExp, HaltKind]> = [
  [/thermal runaway/i, "thermal-runaway"],
  [/heating failed/i, "heating-failed"],
  [/mintemp/i, "mintemp"],
  [/maxtemp/i, "maxtemp"],
  [/kill\(\) called|printer halted|emergency shutdown|killed|KILL caused/i, "killed"],
];
const COMM_ERRORS = /line number|linenumber|checksum|no line number|expected line|format error/i;

/** What one line from the firmware means (OctoPrint `_handle_errors`, Marlin language.h). */
export function classifyLine(raw: string): FirmwareLine {
  const line = raw.replace(/\r$/, "").trim();
  if (line.startsWith("ok")) return { kind: "ok", rest: line.slice(2).trim() };
  const resend = /^(?:resend|rs)[: ]\s*(?:N:?)?(\d+)/i.exec(line);
  if (resend?.[1] !== undefined) return { kind: "resend", line: Number(resend[1]) };
  if (/^(echo:)?\s*busy:/i.test(line)) return { kind: "busy", what: line.replace(/^(echo:)?\s*busy:\s*/i, "") };
  if (line === "wait") return { kind: "wait" };
  if (line === "start") return { kind: "start" };
  if (/^(Error:|!!|fatal:)/i.test(line) || /EMERGENCY SHUTDOWN/i.test(line)) {
    const message = line.replace(/^(Error:|!!|fatal:)\s*/i, "");
    for (const [re, halt] of HALTS) if (re.test(message) || re.test(line)) return { kind: "halt", halt, message };
    if (/^fatal:/i.test(line)) return { kind: "halt", halt: "fatal", message };
    if (COMM_ERRORS.test(message)) return { kind: "comm-error", message };
    return { kind: "error", message };
  }
  if (line.startsWith("//action:")) return { kind: "action", action: line.slice("//action:".length).trim() };
  const firmware = parseFirmwareLine(line);
  if (firmware !== null) return { kind: "firmware", info: firmware };
  const cap = parseCapability(line);
  if (cap !== null) return { kind: "capability", name: cap[0], enabled: cap[1] };
  const temps = parseTemperatures(line);
  if (temps !== null) return { kind: "temperature", report: temps };
  if (line.startsWith("echo:")) return { kind: "echo", text: line.slice(5).trim() };
  return { kind: "other", text: line };
}

/** Commands that legitimately take long without an `ok` (OctoPrint `longRunningCommands`). */
export const LONG_RUNNING = new Set(["G4", "G28", "G29", "G30", "G32", "M400", "M226", "M600", "M109", "M190", "M191"]);
/** Commands that set a heater target: refused on firmware without thermal protection. */
export const HEATING = new Set(["M104", "M109", "M140", "M190", "M141", "M191"]);

/** The `S` value of a heating command (0 when absent). */
export function heatingTarget(command: string): number {
  const m = /\s[SR](-?\d+(?:\.\d+)?)/i.exec(` ${command}`);
  return m?.[1] !== undefined ? Number(m[1]) : 0;
}
