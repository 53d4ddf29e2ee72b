/**
 * How guessing a staff PIN or password is kept in check (numbers and defaults: SessionsConfig in
 * config/users.ts). Five wrong PINs from one address used to lock the name out from every
 * address, so a pupil could keep the instructor out; and 250 addresses under per-address limits
 * could still try a 4-digit PIN in minutes. Now:
 *
 * - Per address (clientKey: IPv4, or an IPv6 /64), a backoff: `freeFailures` wrong logins cost
 *   nothing (typos); after each further one the address waits `backoffSeconds`, doubling up to
 *   `maxBackoffSeconds`, and is refused before any hashing meanwhile. Nothing is ever locked per
 *   name, so a stranger's guesses never keep the real person out from another address.
 * - Per account, a guess budget: `guessBudget` wrong secrets within `failureMemoryHours` raise an
 *   alarm for technicians (`login-guessing:<name>`) and guard the account until they age out:
 *   while guarded only addresses with fewer than `freeFailures` failures may try it, so each
 *   further guess costs the attacker a fresh address. A correct secret from a clean address
 *   always works.
 * - A rank for the login queue (auth.ts): an address that logged in lately first (the
 *   instructor's own tablet), then one without failures, then the rest.
 *
 * A good login forgives the failures its address made against that same name (typos), not those
 * against other names, and never the account's budget: the real person logging in does not undo
 * an attacker's progress.
 */
import type { AlarmBook } from "../core/alarms/alarms.ts";
import { HubError } from "../core/errors.ts";
import { text } from "../core/texts/texts.ts";
import type { Logger } from "../core/logger.ts";
import type { SessionsConfig } from "../config/users.ts";
import { clientKey } from "./address.ts";

/** Addresses whose failures are told apart; past this, new failing addresses share one record. */
const MAX_TRACKED_ADDRESSES = 65_536;
const MANY_ADDRESSES = "(many addresses)";
/** Names told apart per address record. */
const MAX_NAMES_PER_ADDRESS = 8;
/** Guess times kept per account; the count never needs more than the budget and a margin. */
const MAX_GUESS_TIMES = 10_000;
/** An address that logged in within this time goes first in the queue. */
const TRUSTED_FOR_MS = 7 * 24 * 3_600_000;
const MAX_TRUSTED = 1024;

/** Queue order, lower first: an address that logged in lately, one without failures, the rest. */
export type LoginRank = 0 | 1 | 2;

export interface LoginGuardContext {
  logger: Logger;
  sessions: SessionsConfig;
  alarms: Pick<AlarmBook, "raise" | "clear">;
}

/** Wrong logins from one address. */
interface AddressRecord {
  failures: number;
  /** Failures per name tried, so that a good login forgives only its own name's typos. */
  byName: Map<string, number>;
  lastFailureAt: number;
  blockedUntil: number;
}

/** Wrong secrets for one account. */
interface AccountGuesses {
  times: number[];
  guarded: boolean;
}

/** The alarm for technicians while an account's guess budget is spent. */
export function guessingAlarm(name: string): string {
  return `login-guessing:${name}`;
}

export class LoginGuard {
  private readonly addresses = new Map<string, AddressRecord>();
  private readonly guesses = new Map<string, AccountGuesses>();
  /** Address -> when it last logged in, oldest first. */
  private readonly trusted = new Map<string, number>();

  constructor(private readonly ctx: LoginGuardContext) {}

  /** clientKey, except that past MAX_TRACKED_ADDRESSES new failing addresses share one record. */
  addressKey(from: string): string {
    const key = clientKey(from);
    return this.addresses.has(key) || this.addresses.size < MAX_TRACKED_ADDRESSES ? key : MANY_ADDRESSES;
  }

  /** Why a login from `address` for `name` is refused before any hashing (RATE_LIMITED, `{ retryAfterS }`), or null. */
  refusal(address: string, name: string, now: number): HubError | null {
    const a = this.live(address, now);
    if (a === undefined) return null;
    if (a.blockedUntil > now) {
      const retryAfterS = Math.ceil((a.blockedUntil - now) / 1000);
      return new HubError("RATE_LIMITED", `too many failed logins from this address; try again in ${retryAfterS} s`, { retryAfterS });
    }
    if (this.guesses.get(name)?.guarded === true && a.failures >= this.ctx.sessions.freeFailures) {
      const retryAfterS = Math.max(1, Math.ceil((a.lastFailureAt + this.memoryMs() - now) / 1000));
      return new HubError("RATE_LIMITED", `too many failed logins from this address; try again in ${Math.ceil(retryAfterS / 60)} min`, { retryAfterS });
    }
    return null;
  }

  /** Counts one wrong login: the address's backoff, and the account's budget if the name is real. */
  failed(address: string, name: string, known: boolean, now: number): void {
    const { freeFailures, backoffSeconds, maxBackoffSeconds } = this.ctx.sessions;
    const a = this.live(address, now) ?? { failures: 0, byName: new Map<string, number>(), lastFailureAt: now, blockedUntil: 0 };
    a.failures += 1;
    a.lastFailureAt = now;
    const nameKey = a.byName.has(name) || a.byName.size < MAX_NAMES_PER_ADDRESS ? name : "";
    a.byName.set(nameKey, (a.byName.get(nameKey) ?? 0) + 1);
    const over = a.failures - freeFailures;
    if (over > 0) a.blockedUntil = now + Math.min(backoffSeconds * 2 ** Math.min(over - 1, 30), maxBackoffSeconds) * 1000;
    this.addresses.set(address, a);
    if (known) this.spend(name, now);
  }

  /** A good login: forgives the address's failures against this name and remembers the address. */
  succeeded(address: string, name: string, now: number): void {
    const a = this.addresses.get(address);
    const mine = a?.byName.get(name);
    if (a !== undefined && mine !== undefined) {
      a.byName.delete(name);
      a.failures -= mine;
      if (a.failures <= 0) this.addresses.delete(address);
      else if (a.failures <= this.ctx.sessions.freeFailures) a.blockedUntil = 0;
    }
    this.trusted.delete(address);
    this.trusted.set(address, now);
    if (this.trusted.size > MAX_TRUSTED) this.trusted.delete(this.trusted.keys().next().value ?? "");
  }

  rank(address: string, now: number): LoginRank {
    if (this.live(address, now) !== undefined) return 2;
    const at = this.trusted.get(address);
    return at !== undefined && now - at <= TRUSTED_FOR_MS ? 0 : 1;
  }

  /** Forgets failures older than the memory, and lifts guards whose guesses have aged out (clearing their alarm). */
  purge(now: number): void {
    const forgetBefore = now - this.memoryMs();
    for (const [key, a] of this.addresses) if (a.blockedUntil <= now && a.lastFailureAt <= forgetBefore) this.addresses.delete(key);
    for (const [name, g] of this.guesses) {
      g.times = g.times.filter((t) => t > forgetBefore);
      if (g.guarded && g.times.length < this.ctx.sessions.guessBudget) {
        g.guarded = false;
        this.ctx.alarms.clear(guessingAlarm(name));
        this.ctx.logger.info({ name }, "account no longer guarded: its wrong logins have aged out");
      }
      if (!g.guarded && g.times.length === 0) this.guesses.delete(name);
    }
    for (const [address, at] of this.trusted) if (now - at > TRUSTED_FOR_MS) this.trusted.delete(address);
  }

  stats(): { trackedFailures: number; guardedAccounts: string[] } {
    return { trackedFailures: this.addresses.size, guardedAccounts: [...this.guesses].filter(([, g]) => g.guarded).map(([name]) => name) };
  }

  private spend(name: string, now: number): void {
    const { guessBudget, failureMemoryHours } = this.ctx.sessions;
    const g = this.guesses.get(name) ?? { times: [], guarded: false };
    const windowStart = now - this.memoryMs();
    g.times = g.times.filter((t) => t > windowStart);
    g.times.push(now);
    if (g.times.length > MAX_GUESS_TIMES) g.times.splice(0, g.times.length - MAX_GUESS_TIMES);
    this.guesses.set(name, g);
    if (g.guarded || g.times.length < guessBudget) return;
    g.guarded = true;
    this.ctx.logger.warn({ name, guesses: g.times.length, hours: failureMemoryHours }, "account guarded: its guess budget is spent");
    this.ctx.alarms.raise(guessingAlarm(name), "warning", "auth", text("alarm.guessing", { name, count: g.times.length, hours: failureMemoryHours }));
  }

  /** The address's record unless it has been forgotten. */
  private live(address: string, now: number): AddressRecord | undefined {
    const a = this.addresses.get(address);
    if (a === undefined) return undefined;
    if (a.blockedUntil <= now && a.lastFailureAt <= now - this.memoryMs()) {
      this.addresses.delete(address);
      return undefined;
    }
    return a;
  }

  private memoryMs(): number {
    return this.ctx.sessions.failureMemoryHours * 3_600_000;
  }
}
