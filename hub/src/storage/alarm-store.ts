/**
 * The alarm book across restarts: one row per alarm key, the alarm as JSON. Rows are checked on
 * the way back in (an older hub or a bad write may have left them): a row that does not parse is
 * skipped, counted and logged, so one bad row cannot keep the hub, and its interlocks, from starting.
 */
import type BetterSqlite3 from "better-sqlite3";
import { z } from "zod";
import type { Alarm, AlarmStore } from "../core/alarms/alarms.ts";
import { HubError } from "../core/errors.ts";
import { silentLogger, type Logger } from "../core/logger.ts";
import type { Database } from "./db.ts";

/** How long a cleared and acknowledged alarm is kept: a month of history for the alarm list. */
export const ALARM_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

// Shape, not business rules: an alarm with a fractional time is still an alarm worth keeping.
const time = z.number().nonnegative();

/**
 * Mirrors `Alarm` (checked at compile time below). Not `.strict()`: a field a newer hub added does
 * not make an alarm invalid, and dropping an unacknowledged alarm would be worse than ignoring it.
 */
export const AlarmSchema = z.object({
  key: z.string().min(1),
  severity: z.enum(["info", "warning", "critical"]),
  source: z.string(),
  message: z.object({ nl: z.string(), en: z.string() }),
  active: z.boolean(),
  acknowledged: z.boolean(),
  firstAt: time,
  lastAt: time,
  count: z.number().int().nonnegative(),
  clearedAt: time.nullable(),
  ackedBy: z.string().nullable(),
  ackedAt: time.nullable(),
  comment: z.string().nullable(),
});

// Fails to compile when Alarm and the schema drift apart, in either direction.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMirrorsAlarm: Same<z.infer<typeof AlarmSchema>, Alarm> = true;
void schemaMirrorsAlarm;

interface AlarmRow {
  key: string;
  json: string;
}

export class SqliteAlarmStore implements AlarmStore {
  private upsert: BetterSqlite3.Statement<[string, string, number]> | undefined;
  private skippedRows = 0;

  /** No I/O here: statements are prepared on first use. */
  constructor(
    private readonly db: Database,
    private readonly ctx: { logger?: Logger } = {},
  ) {}

  /** Rows `load` has skipped because they did not parse, since this store was made. */
  get skipped(): number {
    return this.skippedRows;
  }

  /** Inserts or replaces the alarm with its key; committed when it returns. Throws HubError STORAGE_FAILED. */
  save(alarm: Alarm): void {
    try {
      this.upsert ??= this.db.prepare<[string, string, number]>(
        `INSERT INTO alarms (key, json, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at`,
      );
      this.upsert.run(alarm.key, JSON.stringify(alarm), changedAt(alarm));
    } catch (error) {
      throw new HubError("STORAGE_FAILED", `cannot save alarm "${alarm.key}": ${messageOf(error)}`);
    }
  }

  /** Every alarm that parses, by key; the others are skipped, counted in `skipped` and logged. */
  load(): Alarm[] {
    const alarms: Alarm[] = [];
    for (const row of this.rows("SELECT key, json FROM alarms ORDER BY key")) {
      const alarm = parseRow(row);
      if (typeof alarm === "string") {
        this.skippedRows++;
        (this.ctx.logger ?? silentLogger).warn({ key: row.key, problem: alarm }, "stored alarm skipped");
      } else {
        alarms.push(alarm);
      }
    }
    return alarms;
  }

  /**
   * Deletes alarms that are cleared and acknowledged and have not changed for `olderThanMs` before
   * `now`; returns how many. Active or unacknowledged alarms are never pruned, however old, and
   * neither are rows that do not parse (they are evidence of a fault). Throws HubError STORAGE_FAILED.
   */
  prune(olderThanMs: number, now: number): number {
    const cutoff = now - olderThanMs;
    try {
      return this.db.transaction(() => {
        const del = this.db.prepare<[string, number]>("DELETE FROM alarms WHERE key = ? AND updated_at < ?");
        let deleted = 0;
        for (const row of this.db.prepare<[number], AlarmRow>("SELECT key, json FROM alarms WHERE updated_at < ?").all(cutoff)) {
          const alarm = parseRow(row);
          if (typeof alarm !== "string" && !alarm.active && alarm.acknowledged) deleted += del.run(row.key, cutoff).changes;
        }
        return deleted;
      }).immediate();
    } catch (error) {
      throw new HubError("STORAGE_FAILED", `cannot prune alarms: ${messageOf(error)}`);
    }
  }

  private rows(sql: string): AlarmRow[] {
    try {
      return this.db.prepare<[], AlarmRow>(sql).all();
    } catch (error) {
      throw new HubError("STORAGE_FAILED", `cannot read alarms: ${messageOf(error)}`);
    }
  }
}

/** The alarm's latest change: raised, re-raised, cleared or acknowledged. */
function changedAt(alarm: Alarm): number {
  return Math.max(alarm.lastAt, alarm.clearedAt ?? 0, alarm.ackedAt ?? 0);
}

/** The alarm, or what is wrong with the row. */
function parseRow(row: AlarmRow): Alarm | string {
  let raw: unknown;
  try {
    raw = JSON.parse(row.json);
  } catch (error) {
    return `not JSON: ${messageOf(error)}`;
  }
  const parsed = AlarmSchema.safeParse(raw);
  if (!parsed.success) return parsed.error.issues.map((i) => `${i.path.join(".") || "(alarm)"}: ${i.message}`).join("; ");
  if (parsed.data.key !== row.key) return `holds alarm "${parsed.data.key}" under key "${row.key}"`;
  return parsed.data;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
