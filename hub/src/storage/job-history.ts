/**
 * The stations' job history: what ran, who started it, how far it got and why it ended.
 */
import { HubError } from "../core/errors.ts";
import type { Database } from "./db.ts";

export interface JobRecord {
  id: number;
  station: string;
  program: string;
  actor: string;
  startedAt: number;
  endedAt: number | null;
  state: string;
  reason: string | null;
  progressPct: number;
  elapsedS: number;
}

interface Row {
  id: number;
  station: string;
  program: string;
  actor: string;
  started_at: number;
  ended_at: number | null;
  state: string;
  reason: string | null;
  progress_pct: number;
  elapsed_s: number;
}

export class JobHistory {
  constructor(private readonly db: Database) {}

  add(job: Omit<JobRecord, "id">): number {
    try {
      const r = this.db
        .prepare("INSERT INTO station_jobs (station, program, actor, started_at, ended_at, state, reason, progress_pct, elapsed_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .run(job.station, job.program, job.actor, job.startedAt, job.endedAt, job.state, job.reason?.slice(0, 500) ?? null, job.progressPct, job.elapsedS);
      return Number(r.lastInsertRowid);
    } catch (error) {
      throw new HubError("STORAGE_FAILED", `cannot record the job ${job.program} on ${job.station}: ${(error as Error).message}`);
    }
  }

  list(filter: { station?: string; limit?: number } = {}): JobRecord[] {
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), 1000);
    const rows =
      filter.station === undefined
        ? this.db.prepare<[number], Row>("SELECT * FROM station_jobs ORDER BY id DESC LIMIT ?").all(limit)
        : this.db.prepare<[string, number], Row>("SELECT * FROM station_jobs WHERE station = ? ORDER BY id DESC LIMIT ?").all(filter.station, limit);
    return rows.map((r) => ({
      id: r.id,
      station: r.station,
      program: r.program,
      actor: r.actor,
      startedAt: r.started_at,
      endedAt: r.ended_at,
      state: r.state,
      reason: r.reason,
      progressPct: r.progress_pct,
      elapsedS: r.elapsed_s,
    }));
  }
}
