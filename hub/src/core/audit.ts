/**
 * The audit log as the core sees it: append-only, and an entry is committed before `append`
 * returns, so an action is never reported done without its record (a kill -9 loses no entry).
 */
import type { Actor } from "./types.ts";

export type AuditResult = "ok" | "refused" | "failed";

export interface AuditEntry {
  at: number;
  actor: Actor;
  /** What was done, as a command or event name: `interlock.reset`, `interlock.tripped`, `estop.trigger`. */
  action: string;
  /** What it was done to: `water-leak`, `water.pumpEnable`, `*`. */
  target: string;
  result: AuditResult;
  /** Why it was refused or failed, or what caused it, in plain words (English; Dutch in details). */
  reason?: string;
  details?: Record<string, unknown>;
}

export interface AuditRecord extends AuditEntry {
  seq: number;
}

export interface AuditLog {
  /** Commits the entry and returns its sequence number; throws HubError STORAGE_FAILED if it could not. */
  append(entry: AuditEntry): number;
}
