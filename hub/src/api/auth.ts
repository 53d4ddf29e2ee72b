/**
 * Logins and sessions. Kiosk screens never log in: whoever has no valid session is a kiosk, which
 * sees everything and may command nothing. Instructors log in with a PIN, technicians with a
 * password; both get a random token that the browser sends as `Authorization: Bearer <token>`.
 *
 * Only the Bearer header is read, not a cookie: a cookie is sent by the browser on its own, so it
 * would need CSRF protection on every command and a cookie parser the hub does not have; a header
 * is sent only by our own script. The dashboard keeps the token in sessionStorage.
 */
import { createHash, randomBytes, scrypt, scryptSync, timingSafeEqual, type ScryptOptions } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { AlarmBook } from "../core/alarms/alarms.ts";
import type { Clock, Timer } from "../core/clock.ts";
import { HubError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { Actor, Role } from "../core/types.ts";
import { SECRET_HASH_PATTERN, type SessionsConfig, type UsersConfig } from "../config/users.ts";
import type { ActorOf } from "./guard.ts";
import { guessingAlarm, LoginGuard } from "./login-guard.ts";

/**
 * Node's default scrypt cost (16 MiB, tens of ms). Logins check it on libuv's thread pool, one at
 * a time, so the event loop (and with it interlock evaluation) never waits for a login, and junk
 * logins can take at most one of the two cores.
 */
export const DEFAULT_SCRYPT_COST = 2 ** 14;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
const TOKEN_BYTES = 32;
/** Longer than any token we issue: anything longer is not looked up at all. */
const MAX_TOKEN_CHARS = 128;
const PURGE_EVERY_MS = 60_000;
/** A forgotten tablet per login is fine; a script logging in in a loop must not grow memory. */
const MAX_SESSIONS_PER_USER = 20;
/** Logins waiting for their turn; more at once are refused instead of queued without bound. */
const MAX_WAITING_LOGINS = 16;

const WRONG = "wrong name or PIN/password";

const scryptOptions = (cost: number): ScryptOptions => ({ N: cost, r: SCRYPT_R, p: SCRYPT_P, maxmem: 256 * cost * SCRYPT_R });

// NFC: the same PIN or password typed on a different keyboard gives the same bytes.
function derive(plain: string, salt: Buffer, cost: number, keyBytes: number): Buffer {
  return scryptSync(plain.normalize("NFC"), salt, keyBytes, scryptOptions(cost));
}

function deriveAsync(plain: string, salt: Buffer, cost: number, keyBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(plain.normalize("NFC"), salt, keyBytes, scryptOptions(cost), (error, key) => (error === null ? resolve(key) : reject(error))));
}

/** Hashes a PIN or password as `scrypt$<N>$<salt b64>$<hash b64>`, the form `secretHash` takes in the config. */
export function hashSecret(plain: string, cost: number = DEFAULT_SCRYPT_COST): string {
  const salt = randomBytes(SALT_BYTES);
  const hash = derive(plain, salt, cost, KEY_BYTES);
  return `scrypt$${cost}$${salt.toString("base64")}$${hash.toString("base64")}`;
}

/**
 * True if `plain` matches `hash`; false (never a rejection) for a malformed hash. Constant time in
 * the secret; the hashing runs off the event loop.
 */
export async function verifySecret(plain: string, hash: string): Promise<boolean> {
  const m = SECRET_HASH_PATTERN.exec(hash);
  if (m === null) return false;
  const cost = Number(m[1]);
  const salt = Buffer.from(m[2] ?? "", "base64");
  const expected = Buffer.from(m[3] ?? "", "base64");
  if (!Number.isInteger(Math.log2(cost)) || cost < 2 || cost > 2 ** 20 || expected.length === 0) return false;
  try {
    return timingSafeEqual(await deriveAsync(plain, salt, cost, expected.length), expected);
  } catch {
    return false;
  }
}

/** The token of `Authorization: Bearer <token>`, or undefined. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== "string") return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}

export const kioskActor = (): Actor => ({ name: "kiosk", role: "kiosk" });

export interface AuthContext {
  clock: Clock;
  logger: Logger;
  users: UsersConfig;
  sessions: SessionsConfig;
  /** Where an account that is being guessed is reported, for technicians (login-guard.ts). */
  alarms: Pick<AlarmBook, "raise" | "clear">;
}

export interface LoginResult {
  token: string;
  actor: Actor;
  /** ms since the epoch. */
  expiresAt: number;
}

export interface SessionInfo {
  actor: Actor;
  expiresAt: number;
}

interface Account {
  name: string;
  role: Exclude<Role, "kiosk">;
  hash: string;
}

interface Session {
  name: string;
  role: Role;
  expiresAt: number;
}

interface Waiting {
  name: string;
  secret: string;
  from: string;
  address: string;
  seq: number;
  resolve: (result: LoginResult) => void;
  reject: (error: unknown) => void;
}

/** Logins one address may have waiting or being checked at once (a classroom behind one NAT). */
const MAX_PER_ADDRESS = 4;

/**
 * Logins and sessions. Guessing is kept in check by the LoginGuard (login-guard.ts): backoff per
 * address, a guess budget per account, never a lock on a name alone.
 *
 * The scrypt check runs on the thread pool one at a time (the event loop, and with it the
 * interlocks, never waits for it, and junk logins take at most one of the two cores). At most 16
 * logins wait, at most 4 per address, and the next to run is the one from the best address (the
 * guard's rank: one that logged in lately, then one without failures, then the rest). When the
 * queue is full a better newcomer pushes out the newest of the worst, so junk from many addresses
 * cannot keep a real login waiting or refused once those addresses have failed once; addresses in
 * backoff are refused before they queue.
 */
export class AuthService {
  private readonly accounts = new Map<string, Account>();
  /** Keyed by the SHA-256 of the token, so the table holds nothing a memory dump could replay. */
  private readonly sessions = new Map<string, Session>();
  private readonly guard: LoginGuard;
  /** Checked when the name is unknown, so a wrong name costs as long as a wrong secret. */
  private readonly decoy: string;
  private timer: Timer | null = null;
  private readonly queue: Waiting[] = [];
  private readonly inFlight = new Map<string, number>();
  private running = false;
  private seq = 0;
  private lastPurge: number;

  constructor(private readonly ctx: AuthContext) {
    // Plain secrets (demo config) are hashed here and only the hash is kept; the config object
    // itself stays with its owner. JS strings cannot be wiped, so "not kept" is the best we can do.
    for (const u of ctx.users) {
      const plain = u.role === "instructor" ? u.pin : u.password;
      // The schema demands a secret or a hash; without either the account gets one nobody knows.
      const hash = u.secretHash ?? hashSecret(plain ?? randomBytes(16).toString("hex"));
      this.accounts.set(u.name, { name: u.name, role: u.role, hash });
    }
    this.decoy = hashSecret(randomBytes(16).toString("hex"));
    this.guard = new LoginGuard(ctx);
    this.lastPurge = ctx.clock.now();
  }

  /**
   * Starts purging expired sessions and old failure records every minute. Constructors do no I/O
   * or timers. Guards live in memory only: a guessing alarm left from before a restart is cleared.
   */
  start(): void {
    if (this.timer !== null) return;
    this.timer = this.ctx.clock.setInterval(() => this.purge(), PURGE_EVERY_MS);
    for (const name of this.accounts.keys()) this.ctx.alarms.clear(guessingAlarm(name));
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  /**
   * Checks a name and PIN/password. Rejects with HubError UNAUTHENTICATED (the same message for a
   * wrong name and a wrong secret) or RATE_LIMITED (details: `{ retryAfterS }`) while the address
   * waits out its backoff, while the account is guarded and the address has used its free
   * failures, or while the queue is full of logins from addresses at least as good.
   */
  login(name: string, secret: string, from: string): Promise<LoginResult> {
    const now = this.ctx.clock.now();
    if (now - this.lastPurge >= PURGE_EVERY_MS) this.purge();
    const address = this.guard.addressKey(from);
    const key = normalise(name);
    const refusal = this.guard.refusal(address, key, now);
    if (refusal !== null) {
      // debug: a flood of these is answered cheaply and must not flood the log either (the ledger counts them).
      this.ctx.logger.debug({ name: key, from, retryAfterS: refusal.details }, "login refused before checking");
      return Promise.reject(refusal);
    }
    if ((this.inFlight.get(address) ?? 0) >= MAX_PER_ADDRESS) {
      return Promise.reject(new HubError("RATE_LIMITED", `${MAX_PER_ADDRESS} logins from this address are being checked; try again in 1 s`, { retryAfterS: 1 }));
    }
    if (this.queue.length >= MAX_WAITING_LOGINS) {
      const worst = this.worstWaiting();
      if (worst === undefined || this.guard.rank(worst.address, now) <= this.guard.rank(address, now)) {
        this.ctx.logger.warn({ name: key, from, waiting: this.queue.length }, "login refused: too many at once");
        return Promise.reject(busy());
      }
      this.queue.splice(this.queue.indexOf(worst), 1);
      this.release(worst.address);
      worst.reject(busy());
    }
    return new Promise<LoginResult>((resolve, reject) => {
      this.queue.push({ name, secret, from, address, seq: this.seq++, resolve, reject });
      this.inFlight.set(address, (this.inFlight.get(address) ?? 0) + 1);
      this.pump();
    });
  }

  /** Ends a session; true if there was one. */
  logout(token: string | undefined): boolean {
    if (!isPlausibleToken(token)) return false;
    const key = digest(token);
    const s = this.sessions.get(key);
    if (s === undefined) return false;
    this.sessions.delete(key);
    this.ctx.logger.info({ name: s.name, role: s.role }, "logged out");
    return true;
  }

  /** The session behind a token, or null if there is none or it has expired. */
  session(token: string | undefined): SessionInfo | null {
    if (!isPlausibleToken(token)) return null;
    const key = digest(token);
    const s = this.sessions.get(key);
    if (s === undefined) return null;
    if (this.ctx.clock.now() >= s.expiresAt) {
      this.sessions.delete(key);
      return null;
    }
    return { actor: { name: s.name, role: s.role }, expiresAt: s.expiresAt };
  }

  /** Who is behind a token: a kiosk for no token, an unknown one or an expired one. */
  actorFor(token: string | undefined): Actor {
    return this.session(token)?.actor ?? kioskActor();
  }

  /** For REST routes: the actor behind the request's Bearer token. */
  readonly actorOf: ActorOf = (request) => this.actorFor(bearerToken(request));

  /** What is held in memory, for the hub's health page and to show that it stays bounded. */
  stats(): { sessions: number; trackedFailures: number; guardedAccounts: string[]; waitingLogins: number } {
    return { sessions: this.sessions.size, ...this.guard.stats(), waitingLogins: this.queue.length };
  }

  /** Drops expired sessions and failures older than the memory, and lifts guards whose guesses have aged out. */
  purge(): void {
    const now = this.ctx.clock.now();
    this.lastPurge = now;
    for (const [key, s] of this.sessions) if (now >= s.expiresAt) this.sessions.delete(key);
    this.guard.purge(now);
  }

  /** Runs the best waiting login, one at a time. */
  private pump(): void {
    if (this.running || this.queue.length === 0) return;
    const now = this.ctx.clock.now();
    let best: Waiting | undefined;
    for (const w of this.queue) {
      if (best === undefined) best = w;
      else {
        const d = this.guard.rank(w.address, now) - this.guard.rank(best.address, now);
        if (d < 0 || (d === 0 && w.seq < best.seq)) best = w;
      }
    }
    if (best === undefined) return;
    const w = best;
    this.queue.splice(this.queue.indexOf(w), 1);
    this.running = true;
    void this.attempt(w).then(w.resolve, w.reject).finally(() => {
      this.running = false;
      this.release(w.address);
      this.pump();
    });
  }

  private async attempt(w: Waiting): Promise<LoginResult> {
    const now = this.ctx.clock.now();
    // Tablets capitalise the first letter; names in the config are lower case.
    const key = normalise(w.name);
    // Again: an earlier login from the same address may have failed while this one waited.
    const refusal = this.guard.refusal(w.address, key, now);
    if (refusal !== null) throw refusal;
    const account = this.accounts.get(key);
    // Checked before the name is judged, so an unknown name costs one scrypt like a wrong secret.
    const matches = await verifySecret(w.secret, account?.hash ?? this.decoy);
    if (account === undefined || !matches) {
      this.guard.failed(w.address, key, account !== undefined, now);
      this.ctx.logger.warn({ name: key, from: w.from }, "login failed");
      throw new HubError("UNAUTHENTICATED", WRONG);
    }
    this.guard.succeeded(w.address, key, now);
    // Fixed expiry, not sliding: an instructor's PIN session must end with the visit, even if the
    // tablet stays open and in use; a sliding session on a shared tablet would never end.
    const minutes = account.role === "instructor" ? this.ctx.sessions.instructorMinutes : this.ctx.sessions.technicianMinutes;
    const expiresAt = now + minutes * 60_000;
    const token = randomBytes(TOKEN_BYTES).toString("base64url");
    this.dropOldestIfFull(account.name);
    this.sessions.set(digest(token), { name: account.name, role: account.role, expiresAt });
    this.ctx.logger.info({ name: account.name, role: account.role, from: w.from, expiresAt }, "logged in");
    return { token, actor: { name: account.name, role: account.role }, expiresAt };
  }

  /** The newest of the worst-ranked waiting logins. */
  private worstWaiting(): Waiting | undefined {
    const now = this.ctx.clock.now();
    let worst: Waiting | undefined;
    for (const w of this.queue) {
      if (worst === undefined) worst = w;
      else {
        const d = this.guard.rank(w.address, now) - this.guard.rank(worst.address, now);
        if (d > 0 || (d === 0 && w.seq > worst.seq)) worst = w;
      }
    }
    return worst;
  }

  private release(address: string): void {
    const n = (this.inFlight.get(address) ?? 1) - 1;
    if (n <= 0) this.inFlight.delete(address);
    else this.inFlight.set(address, n);
  }

  private dropOldestIfFull(name: string): void {
    let count = 0;
    let oldest: [string, number] | null = null;
    for (const [key, s] of this.sessions) {
      if (s.name !== name) continue;
      count += 1;
      if (oldest === null || s.expiresAt < oldest[1]) oldest = [key, s.expiresAt];
    }
    if (count >= MAX_SESSIONS_PER_USER && oldest !== null) this.sessions.delete(oldest[0]);
  }
}

function normalise(name: string): string {
  return name.trim().toLowerCase();
}

function busy(): HubError {
  return new HubError("RATE_LIMITED", "too many logins at once; try again in 2 s", { retryAfterS: 2 });
}

function isPlausibleToken(token: string | undefined): token is string {
  return typeof token === "string" && token.length > 0 && token.length <= MAX_TOKEN_CHARS;
}

function digest(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}
