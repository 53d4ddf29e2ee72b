/**
 * G-code line framing as Marlin reads it (src/gcode/queue.cpp, src/gcode/parser.cpp): line numbers,
 * the XOR checksum, and the split of a command into its letter, number and parameters.
 * Strings here are latin1: one character per byte, as the firmware sees the wire.
 */

/** XOR of every byte of `text` (Marlin and OctoPrint: over everything before the `*`). */
export function checksum(text: string): number {
  let cs = 0;
  for (let i = 0; i < text.length; i++) cs ^= text.charCodeAt(i) & 0xff;
  return cs;
}

/** The host's framing: `N<n> <command>*<checksum>` (without the newline). */
export function frameLine(lineNumber: number, command: string): string {
  const body = `N${lineNumber} ${command}`;
  return `${body}*${checksum(body)}`;
}

/** C's strtol on a decimal: leading spaces, an optional sign, digits; NaN when there are none. */
export function strtol(text: string): number {
  const m = /^\s*([-+]?\d+)/.exec(text);
  return m?.[1] === undefined ? Number.NaN : Number.parseInt(m[1], 10);
}

export interface ParsedCommand {
  /** G, M or T; "?" when the line starts with anything else. */
  letter: "G" | "M" | "T" | "?";
  code: number;
  /** The command as Marlin quotes it in `Unknown command: "…"`: no N prefix, no checksum. */
  text: string;
  /** Everything after the command word, trimmed (M117/M118 take it as a string). */
  rest: string;
  params: ReadonlyMap<string, number>;
  /** Letters present without a number (`G28 X`). */
  flags: ReadonlySet<string>;
}

/** Strips the `N<n>` prefix and the `*<checksum>` suffix, then splits the command (Marlin parser.parse). */
export function parseCommand(line: string): ParsedCommand {
  let p = line.replace(/^\s+/, "");
  const n = /^N[-\d]*\s*/.exec(p);
  if (n !== null) p = p.slice(n[0].length);
  const star = p.indexOf("*");
  if (star >= 0) p = p.slice(0, star);
  const text = p.replace(/\s+$/, "");
  const head = /^([GMT])\s*(\d+)(?:\.\d+)?/.exec(text);
  if (head === null) {
    return { letter: "?", code: -1, text, rest: "", params: new Map(), flags: new Set() };
  }
  const rest = text.slice(head[0].length).trim();
  const params = new Map<string, number>();
  const flags = new Set<string>();
  for (const m of rest.matchAll(/([A-Z])\s*([-+]?(?:\d+\.?\d*|\.\d+))?/g)) {
    const letter = m[1];
    if (letter === undefined) continue;
    if (m[2] === undefined) flags.add(letter);
    else params.set(letter, Number.parseFloat(m[2]));
  }
  return { letter: head[1] as "G" | "M" | "T", code: Number.parseInt(head[2] ?? "0", 10), text, rest, params, flags };
}

/** True if the parameter letter appears, with or without a value. */
export function seen(cmd: ParsedCommand, letter: string): boolean {
  return cmd.params.has(letter) || cmd.flags.has(letter);
}

/**
 * What Marlin's emergency parser reacts to as soon as a line's bytes arrive (feature/e_parser.h):
 * an optional `N<n>` then `M108`, `M112` or `M410`, with anything after (e.g. a checksum).
 */
export function emergencyCommand(line: string): "M108" | "M112" | "M410" | null {
  const m = /^ *(?:N[-\d ]*)?M *(108|112|410)(?!\d)/.exec(line);
  if (m === null) return null;
  return `M${m[1]}` as "M108" | "M112" | "M410";
}
