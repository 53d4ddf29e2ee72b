/**
 * The audit log in SQLite: who did what to what, with what result and why. A safety record, so it
 * is append-only in the database itself (triggers refuse UPDATE, DELETE and a replacing INSERT,
 * see migration 3) and every entry is one autocommitted INSERT on the connection it was given:
 * once `append` returns, the row is in the WAL and survives a kill -9 of the process.
 */
import type BetterSqlite3 from "better-sqlite3";
import type { AuditEntry, AuditLog, AuditRecord, AuditResult } from "../core/audit.ts";
import { HubError } from "../core/errors.ts";
import type { Actor } from "../core/types.ts";
import type { Database } from "./db.ts";

/** Longest stored reason, in characters, marker included. */
export const AUDIT_REASON_MAX_CHARS = 500;
/** Largest stored details, as UTF-8 JSON bytes; larger details keep a preview (see `boundDetails`). */
export const AUDIT_DETAILS_MAX_BYTES = 8 * 1024;
/** Longest stored actor name, action or target, in characters: these are names, not prose. */
export const AUDIT_NAME_MAX_CHARS = 200;
export const AUDIT_QUERY_DEFAULT_LIMIT = 200;
export const AUDIT_QUERY_MAX_LIMIT = 5000;
/** Appended to a shortened text, so a reader knows there was more. */
export const TRUNCATION_MARKER = "…[truncated]";

export interface AuditFilter {
  /** Earliest `at`, ms since the epoch, inclusive. */
  from?: number;
  /** Latest `at`, ms since the epoch, inclusive. */
  to?: number;
  /** The actor's name, exactly. */
  actor?: string;
  role?: Actor["role"];
  /** The action exactly, or a prefix ending in `*`: `interlock.*` (a lone `*` matches every action). */
  action?: string;
  target?: string;
  result?: AuditResult;
  /** Records per page: default 200, at most 5000. */
  limit?: number;
  /** Paging, newest first: only records older than this (the previous page's `nextBeforeSeq`). */
  beforeSeq?: number;
}

export interface AuditPage {
  /** Newest first. */
  records: AuditRecord[];
  /** Pass as `beforeSeq` for the next, older page; null when no older record matches. */
  nextBeforeSeq: number | null;
}

interface AuditRow {
  seq: number;
  at: number;
  actor: string;
  role: string;
  action: string;
  target: string;
  result: string;
  reason: string | null;
  details: string | null;
}

type InsertParams = [number, string, string, string, string, string, string | null, string | null];

const COLUMNS = "seq, at, actor, role, action, target, result, reason, details";

export class SqliteAuditLog implements AuditLog {
  private insert: BetterSqlite3.Statement<InsertParams> | undefined;

  /** No I/O here: the insert is prepared on first use. */
  constructor(private readonly db: Database) {}

  /**
   * Commits the entry and returns its seq. Oversized texts are shortened with a marker, never
   * refused. Throws HubError STORAGE_FAILED when the row could not be committed: the caller must
   * then not report the action as done.
   */
  append(entry: AuditEntry): number {
    try {
      if (!Number.isFinite(entry.at)) throw new Error(`its time is not a finite number (${String(entry.at)})`);
      const params: InsertParams = [
        Math.trunc(entry.at),
        cut(entry.actor.name, AUDIT_NAME_MAX_CHARS),
        entry.actor.role,
        cut(entry.action, AUDIT_NAME_MAX_CHARS),
        cut(entry.target, AUDIT_NAME_MAX_CHARS),
        entry.result,
        entry.reason === undefined ? null : cut(entry.reason, AUDIT_REASON_MAX_CHARS),
        boundDetails(entry.details),
      ];
      this.insert ??= this.db.prepare<InsertParams>(
        "INSERT INTO audit (at, actor, role, action, target, result, reason, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      );
      // Autocommit: run() returns after the commit, and WAL + synchronous=NORMAL keeps a commit
      // through a process crash. Callers must not wrap append in a transaction they may roll back.
      return Number(this.insert.run(...params).lastInsertRowid);
    } catch (error) {
      throw new HubError(
        "STORAGE_FAILED",
        `audit entry "${String(entry.action)}" on "${String(entry.target)}" by ${String(entry.actor?.name)} was not recorded: ${messageOf(error)}`,
      );
    }
  }

  /** Matching records, newest first, one page at a time. Throws HubError STORAGE_FAILED. */
  query(filter: AuditFilter = {}): AuditPage {
    const where: string[] = [];
    const params: (string | number)[] = [];
    const add = (clause: string, ...values: (string | number)[]) => {
      where.push(clause);
      params.push(...values);
    };
    if (filter.from !== undefined) add("at >= ?", filter.from);
    if (filter.to !== undefined) add("at <= ?", filter.to);
    if (filter.actor !== undefined) add("actor = ?", filter.actor);
    if (filter.role !== undefined) add("role = ?", filter.role);
    if (filter.action !== undefined) {
      if (filter.action.endsWith("*")) {
        const prefix = filter.action.slice(0, -1);
        // Not LIKE: `_` and `%` are common in names, and LIKE is case-insensitive. The lower
        // bound lets the index narrow the scan; substr (which counts code points) decides.
        if (prefix !== "") add("action >= ? AND substr(action, 1, ?) = ?", prefix, [...prefix].length, prefix);
      } else {
        add("action = ?", filter.action);
      }
    }
    if (filter.target !== undefined) add("target = ?", filter.target);
    if (filter.result !== undefined) add("result = ?", filter.result);
    if (filter.beforeSeq !== undefined) add("seq < ?", filter.beforeSeq);
    const limit = pageSize(filter.limit);
    const sql = `SELECT ${COLUMNS} FROM audit ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq DESC LIMIT ?`;
    let rows: AuditRow[];
    try {
      // One row more than asked tells whether an older page exists.
      rows = this.db.prepare<(string | number)[], AuditRow>(sql).all(...params, limit + 1);
    } catch (error) {
      throw new HubError("STORAGE_FAILED", `cannot read the audit log: ${messageOf(error)}`);
    }
    const records = rows.slice(0, limit).map(toRecord);
    const last = records[records.length - 1];
    return { records, nextBeforeSeq: rows.length > limit && last !== undefined ? last.seq : null };
  }
}

const CSV_HEADER = "seq,time,actor,role,action,target,result,reason,details";

/**
 * RFC 4180 CSV (CRLF line ends, time as ISO 8601 UTC, details as compact JSON). A field is quoted
 * when it holds a comma, a quote or a line break, and also a `;`, `|` or tab: a Dutch Excel splits
 * cells on `;`, other imports on `|` or tab, and all of them keep a quoted field whole. A field a
 * spreadsheet would run as a formula gets a leading `'` (OWASP "CSV injection"): these files are
 * opened in Excel and LibreOffice.
 */
export function toCsv(records: readonly AuditRecord[]): string {
  const lines = [CSV_HEADER];
  for (const r of records) {
    const fields = [
      String(r.seq),
      isoTime(r.at),
      r.actor.name,
      r.actor.role,
      r.action,
      r.target,
      r.result,
      r.reason ?? "",
      r.details === undefined ? "" : JSON.stringify(r.details),
    ];
    lines.push(fields.map(csvField).join(","));
  }
  return `${lines.join("\r\n")}\r\n`;
}

/**
 * What a spreadsheet skips before it decides a cell is a formula: white space of any kind (NBSP,
 * the ideographic space), invisible format characters (zero-width space and joiners, the BOM),
 * control characters (NUL), and `;` or `|`, which an import with that separator turns into a cell
 * boundary (`;=1+1` is an empty cell and a formula there).
 */
const SKIPPED_BY_SPREADSHEETS = /^[\p{White_Space}\p{Cc}\p{Cf};|]+/u;
// =, +, -, @ as OWASP lists them (tab, CR and LF are skipped above), and the full-width forms
// some spreadsheet locales read as their ASCII twins.
const FORMULA_START = /^[=+\-@\uFF1D\uFF0B\uFF0D\uFF20]/;
// Control characters a spreadsheet trims count too: a field that is nothing but them is defused.
const CONTROL_START = /^[\t\r\n]/;
const NEEDS_QUOTES = /[",;|\t\r\n]/;

/** Whether a spreadsheet would read `value` as a formula once it has skipped what it skips. */
export function isFormulaLike(value: string): boolean {
  return CONTROL_START.test(value) || FORMULA_START.test(value.replace(SKIPPED_BY_SPREADSHEETS, ""));
}

function csvField(value: string): string {
  const safe = isFormulaLike(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

function isoTime(at: number): string {
  const date = new Date(at);
  return Number.isNaN(date.getTime()) ? String(at) : date.toISOString();
}

function pageSize(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return AUDIT_QUERY_DEFAULT_LIMIT;
  return Math.min(AUDIT_QUERY_MAX_LIMIT, Math.max(1, Math.trunc(limit)));
}

/** At most `max` characters, the marker included; never splits a surrogate pair. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${sliceChars(text, max - TRUNCATION_MARKER.length)}${TRUNCATION_MARKER}`;
}

function sliceChars(text: string, n: number): string {
  const head = text.slice(0, Math.max(0, n));
  const lastCode = head.charCodeAt(head.length - 1);
  return lastCode >= 0xd800 && lastCode <= 0xdbff ? head.slice(0, -1) : head;
}

/**
 * The details as JSON of at most AUDIT_DETAILS_MAX_BYTES. Larger details become
 * `{ _truncated: true, _bytes, _preview }` with the start of their JSON text; details that cannot
 * be serialised (a cycle, a BigInt) become `{ _unserialisable: why }`. The entry is kept either way.
 */
export function boundDetails(details: Record<string, unknown> | undefined): string | null {
  if (details === undefined) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(details); // undefined if a toJSON returns undefined
  } catch (error) {
    text = JSON.stringify({ _unserialisable: cut(messageOf(error), AUDIT_REASON_MAX_CHARS) });
  }
  if (text === undefined) return null;
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes <= AUDIT_DETAILS_MAX_BYTES) return text;
  const wrap = (keep: number) => JSON.stringify({ _truncated: true, _bytes: bytes, _preview: `${sliceChars(text, keep)}${TRUNCATION_MARKER}` });
  // The longest preview that fits: escaping and multi-byte characters make its size uneven, so
  // search (13 rounds of at most 8 KB each) rather than guess.
  let fits = 0;
  let tooLong = Math.min(text.length, AUDIT_DETAILS_MAX_BYTES) + 1;
  while (tooLong - fits > 1) {
    const mid = Math.floor((fits + tooLong) / 2);
    if (Buffer.byteLength(wrap(mid), "utf8") <= AUDIT_DETAILS_MAX_BYTES) fits = mid;
    else tooLong = mid;
  }
  return wrap(fits);
}

function toRecord(row: AuditRow): AuditRecord {
  const record: AuditRecord = {
    seq: row.seq,
    at: row.at,
    // Only append writes rows, and it takes typed actors and results (the CHECK guards result);
    // role has no CHECK so that a new role needs no rebuild of an append-only table.
    actor: { name: row.actor, role: row.role as Actor["role"] },
    action: row.action,
    target: row.target,
    result: row.result as AuditResult,
  };
  if (row.reason !== null) record.reason = row.reason;
  if (row.details !== null) record.details = parseDetails(row.details);
  return record;
}

function parseDetails(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
    return { _value: value };
  } catch {
    return { _unparsable: text };
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
