/**
 * What the Home Assistant integration announced: one row per retained discovery config topic. The
 * embedded broker keeps retained messages in memory only, so after a restart this table is the
 * only record of which entities Home Assistant knows and which must be cleared (migration 8).
 */
import type BetterSqlite3 from "better-sqlite3";
import type { Clock } from "../core/clock.ts";
import { HubError } from "../core/errors.ts";
import type { Database } from "./db.ts";
import type { AnnouncementStore, Announcement } from "../integrations/home-assistant.ts";

export class SqliteHaStore implements AnnouncementStore {
  private upsert: BetterSqlite3.Statement<[string, string, string, number]> | undefined;
  private del: BetterSqlite3.Statement<[string]> | undefined;

  /** No I/O here: statements are prepared on first use. */
  constructor(
    private readonly db: Database,
    private readonly ctx: { clock: Pick<Clock, "now"> },
  ) {}

  load(): Announcement[] {
    try {
      return this.db.prepare<[], Announcement>("SELECT topic, device, payload FROM ha_discovery ORDER BY topic").all();
    } catch (error) {
      throw new HubError("STORAGE_FAILED", `cannot read the Home Assistant announcements: ${messageOf(error)}`);
    }
  }

  save(a: Announcement): void {
    try {
      this.upsert ??= this.db.prepare<[string, string, string, number]>(
        `INSERT INTO ha_discovery (topic, device, payload, announced_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (topic) DO UPDATE SET device = excluded.device, payload = excluded.payload, announced_at = excluded.announced_at`,
      );
      this.upsert.run(a.topic, a.device, a.payload, this.ctx.clock.now());
    } catch (error) {
      throw new HubError("STORAGE_FAILED", `cannot save the Home Assistant announcement ${a.topic}: ${messageOf(error)}`);
    }
  }

  remove(topic: string): void {
    try {
      this.del ??= this.db.prepare<[string]>("DELETE FROM ha_discovery WHERE topic = ?");
      this.del.run(topic);
    } catch (error) {
      throw new HubError("STORAGE_FAILED", `cannot remove the Home Assistant announcement ${topic}: ${messageOf(error)}`);
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
