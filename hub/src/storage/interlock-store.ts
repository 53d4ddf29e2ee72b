/**
 * Latched interlock states across restarts: a trip latched before a crash must still hold the
 * actuators safe after it, until someone resets it. One row per interlock, its state as JSON; the
 * interlock code owns the shape and validates what `load` returns.
 */
import type BetterSqlite3 from "better-sqlite3";
import type { Clock } from "../core/clock.ts";
import { HubError } from "../core/errors.ts";
import { silentLogger, type Logger } from "../core/logger.ts";
import type { Database } from "./db.ts";

export interface StoredInterlockState {
  id: string;
  /** Parsed JSON, not yet checked: the caller validates its shape. */
  state: unknown;
}

export class SqliteInterlockStore {
  private upsert: BetterSqlite3.Statement<[string, string, number]> | undefined;
  private del: BetterSqlite3.Statement<[string]> | undefined;
  private skippedRows = 0;

  /** No I/O here: statements are prepared on first use. */
  constructor(
    private readonly db: Database,
    private readonly ctx: { clock: Pick<Clock, "now">; logger?: Logger },
  ) {}

  /** Rows `load` has skipped because they were not JSON, since this store was made. */
  get skipped(): number {
    return this.skippedRows;
  }

  /**
   * Inserts or replaces the state of interlock `id`; committed when it returns. Throws HubError
   * STORAGE_FAILED if it was not, or if `state` has no JSON form (undefined, a function, a cycle).
   */
  save(id: string, state: unknown): void {
    try {
      const json = JSON.stringify(state) as string | undefined;
      if (json === undefined) throw new Error("the state has no JSON form");
      this.upsert ??= this.db.prepare<[string, string, number]>(
        `INSERT INTO interlock_state (id, json, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET json = excluded.json, updated_at = excluded.updated_at`,
      );
      this.upsert.run(id, json, this.ctx.clock.now());
    } catch (error) {
      throw new HubError("STORAGE_FAILED", `cannot save the state of interlock "${id}": ${messageOf(error)}`);
    }
  }

  /** Forgets interlock `id` (reset, or no longer configured); no error if it was not stored. */
  remove(id: string): void {
    try {
      this.del ??= this.db.prepare<[string]>("DELETE FROM interlock_state WHERE id = ?");
      this.del.run(id);
    } catch (error) {
      throw new HubError("STORAGE_FAILED", `cannot remove the state of interlock "${id}": ${messageOf(error)}`);
    }
  }

  /** Every stored state, by id. A row that is not JSON is skipped, counted in `skipped` and logged. */
  load(): StoredInterlockState[] {
    let rows: { id: string; json: string }[];
    try {
      rows = this.db.prepare<[], { id: string; json: string }>("SELECT id, json FROM interlock_state ORDER BY id").all();
    } catch (error) {
      throw new HubError("STORAGE_FAILED", `cannot read interlock states: ${messageOf(error)}`);
    }
    const states: StoredInterlockState[] = [];
    for (const row of rows) {
      try {
        states.push({ id: row.id, state: JSON.parse(row.json) as unknown });
      } catch (error) {
        this.skippedRows++;
        (this.ctx.logger ?? silentLogger).warn({ id: row.id, problem: messageOf(error) }, "stored interlock state skipped: not JSON");
      }
    }
    return states;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
