/**
 * The hub's log output: JSON lines for a service manager (journald, Docker, a log shipper), one
 * readable line per record on a terminal. Chosen by `TEC_LOG_FORMAT=json|pretty`, else: JSON when
 * stdout is not a terminal or systemd started the process (it sets INVOCATION_ID and
 * JOURNAL_STREAM), readable text otherwise.
 *
 * The readable form is a small formatter of pino's own lines rather than pino-pretty (13 packages
 * for one line format); it writes synchronously, so a log line is never split by the banner or the
 * banner by a log line.
 */
import { Writable } from "node:stream";
import { pino } from "pino";

export type LogFormat = "json" | "pretty";

export function logFormat(env: NodeJS.ProcessEnv = process.env, isTty = process.stdout.isTTY === true): LogFormat {
  const forced = env.TEC_LOG_FORMAT;
  if (forced === "json" || forced === "pretty") return forced;
  if (env.INVOCATION_ID !== undefined || env.JOURNAL_STREAM !== undefined) return "json";
  return isTty ? "pretty" : "json";
}

const LEVELS: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO ", 40: "WARN ", 50: "ERROR", 60: "FATAL" };
const COLOURS: Record<number, string> = { 40: "\u001b[33m", 50: "\u001b[31m", 60: "\u001b[31m" };
/** Fields every record has, or that the readable line shows in its own place. */
const SHOWN = new Set(["level", "time", "msg", "pid", "hostname", "module"]);

/** One pino JSON line as one readable line: `14:03:07 WARN  interlocks: interlock tripped interlock=door cause="..."`. */
export function formatLine(json: string, colour = false): string {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level = typeof r.level === "number" ? r.level : 30;
  const time = typeof r.time === "number" ? new Date(r.time).toISOString().slice(11, 19) : "--:--:--";
  const where = typeof r.module === "string" ? `${r.module}: ` : "";
  const extra = Object.entries(r)
    .filter(([k]) => !SHOWN.has(k))
    .map(([k, v]) => {
      if (k === "err" && typeof v === "object" && v !== null && "message" in v) return `err="${String((v).message)}"`;
      const s = typeof v === "string" ? v : JSON.stringify(v);
      return `${k}=${typeof v === "string" && /\s/.test(s) ? JSON.stringify(s) : s}`;
    })
    .join(" ");
  const name = LEVELS[level] ?? String(level);
  const tag = colour && COLOURS[level] !== undefined ? `${COLOURS[level]}${name}\u001b[0m` : name;
  return `${time} ${tag} ${where}${typeof r.msg === "string" ? r.msg : ""}${extra.length > 0 ? ` ${extra}` : ""}`;
}

/** A writable that turns pino's lines into readable ones on `out` (synchronously for a terminal or file). */
export function prettyStream(out: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout): Writable {
  const colour = out.isTTY === true && process.env.NO_COLOR === undefined;
  let pending = "";
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      pending += chunk.toString("utf8");
      let nl = pending.indexOf("\n");
      let text = "";
      while (nl >= 0) {
        text += `${formatLine(pending.slice(0, nl), colour)}\n`;
        pending = pending.slice(nl + 1);
        nl = pending.indexOf("\n");
      }
      if (text.length > 0) out.write(text);
      done();
    },
  });
}

export function createLogger(format: LogFormat, level = process.env.TEC_LOG_LEVEL ?? "info"): pino.Logger {
  if (format === "json") return pino({ level, base: undefined });
  return pino({ level, base: undefined }, prettyStream());
}
