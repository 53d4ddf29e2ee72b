/**
 * Refusals to clients without a session, counted instead of audited one by one.
 *
 * Anyone on the school network can reach the hub without logging in (a kiosk screen, a pupil's
 * phone). Auditing each refused request with a preview of its body let 8 threads of junk POSTs
 * write 500 rows a second and push the instructor console's records out of view. So a refusal to a
 * client without a session (a command it may not call, a wrong PIN, a login refused in backoff)
 * is counted here per address and per minute, and written as one `kiosk.refused` row per address
 * and minute with the count, what was asked and which names were tried: never a body, params or
 * a secret. Staff sessions are audited one by one as before (commands.ts).
 *
 * Each address may be refused `perAddressPerMinute` times a minute; further requests are answered
 * RATE_LIMITED until the minute ends (they are still counted). At most `maxAddresses` addresses
 * are told apart per minute; the rest share one row, so a minute writes a bounded number of rows.
 * Rows are written when their minute ends (a timer on the clock, or the next refusal), and on
 * stop(): a kill -9 loses at most the current minute's counts, never a staff record.
 */
import type { AuditEntry, AuditLog } from "../core/audit.ts";
import type { Clock, Timer } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { clientKey } from "./address.ts";

export const REFUSAL_ACTION = "kiosk.refused";
/** The row for every address beyond `maxAddresses` in one minute. */
export const OTHER_ADDRESSES = "(other addresses)";
const MINUTE_MS = 60_000;
/** Distinct actions and names kept per row; the rest are counted under "(other)". */
const MAX_KINDS = 16;
const KIND_MAX_CHARS = 80;

export interface RefusalLedgerOptions {
  /** Refusals answered as such per address and minute; more are answered RATE_LIMITED. Default 30. */
  perAddressPerMinute?: number;
  /** Addresses told apart per minute; the rest share one row. Default 1000. */
  maxAddresses?: number;
}

export interface RefusalContext {
  clock: Clock;
  audit: AuditLog;
  logger: Logger;
}

export interface RefusalNote {
  /** A name the client tried to log in as (never the secret). */
  name?: string;
}

/** Whether the address is over its budget, and when the budget renews. */
export interface RefusalVerdict {
  limited: boolean;
  retryAfterS: number;
}

interface Bucket {
  from: string;
  count: number;
  overLimit: number;
  firstAt: number;
  lastAt: number;
  actions: Map<string, number>;
  names: Map<string, number>;
}

export class RefusalLedger {
  private minute: number;
  private readonly buckets = new Map<string, Bucket>();
  private timer: Timer | null = null;
  private rows = 0;
  private readonly perAddress: number;
  private readonly maxAddresses: number;

  /** No I/O and no timers here. */
  constructor(
    private readonly ctx: RefusalContext,
    options: RefusalLedgerOptions = {},
  ) {
    this.minute = minuteOf(ctx.clock.now());
    this.perAddress = options.perAddressPerMinute ?? 30;
    this.maxAddresses = options.maxAddresses ?? 1000;
  }

  /** Writes each minute's rows when it ends. */
  start(): void {
    if (this.timer === null) this.schedule();
  }

  /** Writes what has been counted so far, the running minute included. Safe to call twice. */
  stop(): void {
    this.timer?.cancel();
    this.timer = null;
    this.write();
  }

  /**
   * Counts one refusal to a client without a session. `action` is what was asked
   * (`alarm.acknowledge`, `session.login`). The verdict says whether the address has gone over
   * its budget for this minute: the caller then answers RATE_LIMITED instead.
   */
  note(from: string | undefined, action: string, extra: RefusalNote = {}): RefusalVerdict {
    const now = this.ctx.clock.now();
    this.roll(now);
    let key = clientKey(from);
    if (!this.buckets.has(key) && this.buckets.size >= this.maxAddresses) key = OTHER_ADDRESSES;
    let b = this.buckets.get(key);
    if (b === undefined) {
      b = { from: key, count: 0, overLimit: 0, firstAt: now, lastAt: now, actions: new Map(), names: new Map() };
      this.buckets.set(key, b);
    }
    b.count += 1;
    b.lastAt = now;
    bump(b.actions, action);
    if (extra.name !== undefined) bump(b.names, extra.name);
    // The shared row is not one client: its budget is that of every address it stands for.
    const budget = key === OTHER_ADDRESSES ? this.perAddress * this.maxAddresses : this.perAddress;
    const limited = b.count > budget;
    if (limited) b.overLimit += 1;
    return { limited, retryAfterS: Math.max(1, Math.ceil((this.minute + MINUTE_MS - now) / 1000)) };
  }

  /** For the hub's health page and to show that it stays bounded. */
  stats(): { addresses: number; rowsWritten: number } {
    return { addresses: this.buckets.size, rowsWritten: this.rows };
  }

  private schedule(): void {
    const now = this.ctx.clock.now();
    this.timer = this.ctx.clock.setTimeout(() => {
      this.roll(this.ctx.clock.now());
      this.schedule();
    }, minuteOf(now) + MINUTE_MS - now);
  }

  /** Writes the rows of a minute that has ended. */
  private roll(now: number): void {
    const minute = minuteOf(now);
    if (minute === this.minute) return;
    this.write();
    this.minute = minute;
  }

  private write(): void {
    for (const b of this.buckets.values()) {
      try {
        this.ctx.audit.append(rowOf(b, this.minute, this.perAddress));
        this.rows += 1;
      } catch (error) {
        // Counts of refusals to strangers are worth a log line, not a failed request.
        this.ctx.logger.error({ err: error, from: b.from, count: b.count }, "refusal counts not recorded");
      }
    }
    this.buckets.clear();
  }
}

function rowOf(b: Bucket, minute: number, perAddress: number): AuditEntry {
  const actions = [...b.actions].map(([a, n]) => `${a} ×${n}`).join(", ");
  const over = b.overLimit > 0 ? `, ${b.overLimit} of them over the limit of ${perAddress} a minute` : "";
  return {
    at: b.firstAt,
    actor: { name: "kiosk", role: "kiosk" },
    action: REFUSAL_ACTION,
    target: b.from,
    result: "refused",
    reason: `${b.count} request(s) without a session refused in the minute from ${new Date(minute).toISOString()}${over}: ${actions}`,
    details: {
      from: b.from,
      count: b.count,
      overLimit: b.overLimit,
      minute,
      firstAt: b.firstAt,
      lastAt: b.lastAt,
      actions: Object.fromEntries(b.actions),
      ...(b.names.size > 0 ? { names: Object.fromEntries(b.names) } : {}),
    },
  };
}

function bump(counts: Map<string, number>, kind: string): void {
  let k = kind.length > KIND_MAX_CHARS ? `${kind.slice(0, KIND_MAX_CHARS)}…` : kind;
  if (!counts.has(k) && counts.size >= MAX_KINDS) k = "(other)";
  counts.set(k, (counts.get(k) ?? 0) + 1);
}

function minuteOf(t: number): number {
  return Math.floor(t / MINUTE_MS) * MINUTE_MS;
}
