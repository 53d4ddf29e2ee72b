/**
 * The serial framing of the device contract (PROTOCOL.md, "Serial framing"): readable lines
 * `TYPE seq=<n> key=value …*XX` with an NMEA-style XOR checksum. Shared by the hub's serial-board
 * adapter, the serial board simulator and the tests; the boards' C++ core implements the same.
 */

export const SERIAL_PROTOCOL_VERSION = 1;
export const MAX_LINE = 240;

export const BOARD_TYPES = ["HELLO", "META", "TELE", "HEALTH", "ACK", "EVENT"] as const;
export const HUB_TYPES = ["WHO", "WELCOME", "REFUSE", "BEAT", "CMD"] as const;
export type LineType = (typeof BOARD_TYPES)[number] | (typeof HUB_TYPES)[number];
const TYPES: ReadonlySet<string> = new Set<string>([...BOARD_TYPES, ...HUB_TYPES]);

export interface SerialLine {
  type: LineType;
  seq: number;
  /** Fields in order, values percent-decoded. */
  fields: Map<string, string>;
}

export type DecodeError = { code: "too-long" | "no-checksum" | "bad-checksum" | "bad-type" | "bad-field" | "no-seq"; message: string };

/** XOR of the bytes, as two upper-case hex digits. */
export function lineChecksum(body: string): string {
  let cs = 0;
  for (let i = 0; i < body.length; i++) cs ^= body.charCodeAt(i) & 0xff;
  return cs.toString(16).toUpperCase().padStart(2, "0");
}

/** Spaces, `%`, `=`, `*` and anything outside printable ASCII, as UTF-8 bytes (`°` -> `%C2%B0`): lines stay ASCII. */
const NEEDS_ESCAPE = /[^\x21-\x7e]|[%=*]/gu;

export function encodeText(text: string): string {
  return text.replace(NEEDS_ESCAPE, (c) =>
    [...Buffer.from(c, "utf8")].map((b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`).join(""),
  );
}

export function decodeText(text: string): string {
  if (!text.includes("%")) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    // A stray % from a board: keep the text as it came.
    return text;
  }
}

/** One line, without the newline. Numbers are written in plain decimal. */
export function encodeLine(type: LineType, seq: number, fields: ReadonlyArray<readonly [string, string | number]> = []): string {
  const parts = [type, `seq=${seq}`, ...fields.map(([k, v]) => `${k}=${typeof v === "number" ? formatNumber(v) : encodeText(v)}`)];
  const body = parts.join(" ");
  return `${body}*${lineChecksum(body)}`;
}

export function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  // At most six significant decimals, no exponent: what a board's dtostrf would print.
  return String(Number(v.toFixed(6)));
}

export function decodeLine(raw: string): SerialLine | DecodeError {
  const line = raw.replace(/\r$/, "");
  if (line.length > MAX_LINE) return { code: "too-long", message: `line of ${line.length} characters, at most ${MAX_LINE}` };
  const star = line.lastIndexOf("*");
  if (star < 0 || star !== line.length - 3) return { code: "no-checksum", message: `no *XX checksum at the end of ${JSON.stringify(line.slice(0, 40))}` };
  const body = line.slice(0, star);
  const given = line.slice(star + 1).toUpperCase();
  const expected = lineChecksum(body);
  if (given !== expected) return { code: "bad-checksum", message: `checksum ${given}, expected ${expected}` };
  const [type, ...rest] = body.split(" ");
  if (type === undefined || !TYPES.has(type)) return { code: "bad-type", message: `unknown line type ${JSON.stringify(type?.slice(0, 12) ?? "")}` };
  const fields = new Map<string, string>();
  for (const part of rest) {
    const eq = part.indexOf("=");
    if (eq <= 0) return { code: "bad-field", message: `field ${JSON.stringify(part.slice(0, 24))} is not key=value` };
    fields.set(part.slice(0, eq), decodeText(part.slice(eq + 1)));
  }
  const seqText = fields.get("seq");
  const seq = seqText === undefined ? NaN : Number(seqText);
  if (!Number.isSafeInteger(seq) || seq < 0) return { code: "no-seq", message: `line ${type} has no valid seq` };
  fields.delete("seq");
  return { type: type as LineType, seq, fields };
}

export function isDecodeError(x: SerialLine | DecodeError): x is DecodeError {
  return "code" in x;
}

/** A field as a finite number, or undefined. */
export function numberField(line: SerialLine, key: string): number | undefined {
  const v = line.fields.get(key);
  if (v === undefined || v.trim() === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** Splits incoming bytes into lines; a line longer than the limit is dropped and reported. */
export class LineSplitter {
  private buffer = "";
  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: (bytes: number) => void,
  ) {}

  push(chunk: Buffer | string): void {
    this.buffer += typeof chunk === "string" ? chunk : chunk.toString("latin1");
    let nl: number;
    while ((nl = this.buffer.indexOf("\n")) >= 0) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, "");
      this.buffer = this.buffer.slice(nl + 1);
      if (line !== "") this.onLine(line);
    }
    if (this.buffer.length > MAX_LINE * 2) {
      this.onOverflow(this.buffer.length);
      this.buffer = "";
    }
  }

  reset(): void {
    this.buffer = "";
  }
}
