/**
 * The embedded broker's rules about who may connect, decided without sockets: which account owns a
 * client id, how long an address that keeps failing its login waits, whose password is right
 * (plain or an scrypt hash), and budgets for what a client may be sent. Time comes in as `now`.
 *
 * Runs on the broker's worker thread (broker-worker.ts -> broker-core.ts), never on the hub's main
 * thread; the scrypt of a hashed password runs on libuv's thread pool, so not even the broker's own
 * event loop waits for it.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { verifySecret } from "../api/auth.ts";
import { SECRET_HASH_PATTERN } from "../config/users.ts";

/** The hub's own client ids on an external broker (`tec-hub-<site>-<pid>`); nobody else may use them. */
export const HUB_CLIENT_ID_PREFIX = "tec-hub";

/**
 * The device that owns `clientId`: the declared device whose id is the longest prefix of it that ends
 * at the end of the client id or before a `-` (PROTOCOL.md, "Client ids"). So with devices `water`
 * and `water-1` declared, `water`, `water-3` and `water-esp32` belong to `water`, `water-1` and
 * `water-1-7` to `water-1`. Null when no device owns it.
 */
export function clientIdOwner(clientId: string, deviceIds: ReadonlySet<string>): string | null {
  if (deviceIds.has(clientId)) return clientId;
  for (let end = clientId.lastIndexOf("-"); end > 0; end = clientId.lastIndexOf("-", end - 1)) {
    const candidate = clientId.slice(0, end);
    if (deviceIds.has(candidate)) return candidate;
  }
  return null;
}

export type Account = { role: "device"; deviceId: string } | { role: "observer"; username: string };

/**
 * Null if `account` may connect with `clientId`, otherwise why not. A device uses only its own
 * client ids; the observer (read-only tools) uses any id that belongs to no device and is not the
 * hub's, so a stolen or published observer password can never take over a device's session.
 */
export function clientIdRefusal(account: Account, clientId: string, deviceIds: ReadonlySet<string>): { owner: string | null; reason: string } | null {
  const owner = clientId === "" ? null : clientIdOwner(clientId, deviceIds);
  if (account.role === "device") {
    if (owner === account.deviceId) return null;
    if (clientId === "") return { owner: null, reason: `device "${account.deviceId}" must send a client id that starts with "${account.deviceId}"` };
    return owner === null
      ? { owner, reason: `client id "${clientId}" is not one of device "${account.deviceId}"'s (they start with "${account.deviceId}")` }
      : { owner, reason: `client id "${clientId}" belongs to device "${owner}", not to account "${account.deviceId}"` };
  }
  if (owner !== null) return { owner, reason: `client id "${clientId}" belongs to device "${owner}"; observer account "${account.username}" may not use it` };
  if (clientId.startsWith(HUB_CLIENT_ID_PREFIX)) return { owner: null, reason: `client ids starting with "${HUB_CLIENT_ID_PREFIX}" are the hub's own` };
  return null;
}

export interface BackoffOptions {
  /** Wrong logins an address may make before it has to wait. */
  freeFailures: number;
  /** The first wait; each further failure doubles it. */
  baseMs: number;
  maxMs: number;
  /** An address with no failure for this long starts afresh. */
  forgetAfterMs: number;
  /** Addresses remembered at most; the longest-quiet is forgotten first. */
  maxAddresses: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { freeFailures: 3, baseMs: 1000, maxMs: 60_000, forgetAfterMs: 10 * 60_000, maxAddresses: 10_000 };

interface AddressRecord {
  failures: number;
  lastFailureAt: number;
  blockedUntil: number;
}

/**
 * Per-address backoff on failed logins. An address that keeps failing waits 1 s, 2 s, 4 s … up to a
 * minute between attempts; attempts inside the wait are refused without looking at the password,
 * so guessing costs real time, and they do not lengthen the wait, so a device retrying every few
 * seconds with a fixed password gets back in as soon as its wait ends. A success does not clear the
 * address: the observer's password is no secret, and logging in with it must not reset the count of
 * an address guessing at device passwords.
 */
export class LoginBackoff {
  private readonly addresses = new Map<string, AddressRecord>();

  constructor(private readonly options: BackoffOptions = DEFAULT_BACKOFF) {}

  /** Null if `address` may try now, otherwise the ms it still has to wait. */
  waitMs(address: string, now: number): number | null {
    const rec = this.addresses.get(address);
    if (rec === undefined) return null;
    if (now - rec.lastFailureAt > this.options.forgetAfterMs) {
      this.addresses.delete(address);
      return null;
    }
    return rec.blockedUntil > now ? rec.blockedUntil - now : null;
  }

  /** Records a failed login; returns the wait it starts (0 while failures are still free). */
  failed(address: string, now: number): number {
    const { options } = this;
    let rec = this.addresses.get(address);
    if (rec !== undefined && now - rec.lastFailureAt > options.forgetAfterMs) rec = undefined;
    if (rec === undefined) {
      if (this.addresses.size >= options.maxAddresses) this.forgetOldest();
      rec = { failures: 0, lastFailureAt: now, blockedUntil: 0 };
    }
    // Re-inserted so the map stays ordered by last failure (oldest first).
    this.addresses.delete(address);
    this.addresses.set(address, rec);
    rec.failures += 1;
    rec.lastFailureAt = now;
    const over = rec.failures - options.freeFailures;
    const wait = over <= 0 ? 0 : Math.min(options.maxMs, options.baseMs * 2 ** Math.min(over - 1, 30));
    rec.blockedUntil = now + wait;
    return wait;
  }

  /** Addresses currently made to wait. */
  blocked(now: number): number {
    let n = 0;
    for (const rec of this.addresses.values()) if (rec.blockedUntil > now) n += 1;
    return n;
  }

  get size(): number {
    return this.addresses.size;
  }

  private forgetOldest(): void {
    const oldest = this.addresses.keys().next();
    if (oldest.done !== true) this.addresses.delete(oldest.value);
  }
}

/** A token bucket: `ratePerS` on average, bursts up to `burst`. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private ratePerS: number,
    private burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** A new rate (and burst) from now on; tokens already earned are kept up to the new burst. */
  setRate(now: number, ratePerS: number, burst: number): void {
    this.take(now, 0);
    this.ratePerS = ratePerS;
    this.burst = burst;
    this.tokens = Math.min(this.tokens, burst);
  }

  take(now: number, n = 1): boolean {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.ratePerS) / 1000);
      this.last = now;
    }
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }
}

/**
 * MQTT 3.1.1 leaves the keep-alive to the client (0 = off) and gives a server no return code to
 * refuse one ([MQTT-3.1.2-24]; return code 6 does not exist in 3.1.1). The broker therefore accepts
 * every value and treats 0 and anything above `maxS` as `maxS`: a silent client is still dropped,
 * after 1.5 x `maxS`, and its last will fires.
 */
export function effectiveKeepaliveS(requestedS: number, maxS: number): number {
  return requestedS <= 0 || requestedS > maxS ? maxS : requestedS;
}

/**
 * Messages the broker's thread has handed the hub's main thread and the main thread has not yet
 * taken, per device. The main thread takes them in the order they were handed over, so a FIFO of
 * runs says whose they were. Readings beyond the total, or beyond one device's share, are dropped
 * before they cost the main thread anything: a flooding device fills its own share, never another's.
 */
export class HubBacklog {
  /** Runs of messages from one device, oldest first from `head` (a queue without shift()). */
  private runs: Array<{ device: string; n: number }> = [];
  private head = 0;
  private readonly byDevice = new Map<string, number>();
  private count = 0;

  constructor(
    private readonly maxTotal: number,
    private readonly maxPerDevice: number,
  ) {}

  get size(): number {
    return this.count;
  }

  of(device: string): number {
    return this.byDevice.get(device) ?? 0;
  }

  /** Whether a reading from `device` may be handed over now. */
  admits(device: string): boolean {
    return this.count < this.maxTotal && this.of(device) < this.maxPerDevice;
  }

  added(device: string): void {
    const last = this.runs.at(-1);
    if (last !== undefined && this.runs.length > this.head && last.device === device) last.n += 1;
    else this.runs.push({ device, n: 1 });
    this.byDevice.set(device, this.of(device) + 1);
    this.count += 1;
  }

  /** The main thread has handled the next `n` messages. */
  taken(n: number): void {
    let left = Math.min(n, this.count);
    while (left > 0) {
      const run = this.runs[this.head];
      if (run === undefined) break;
      const k = Math.min(left, run.n);
      run.n -= k;
      left -= k;
      this.count -= k;
      const rest = this.of(run.device) - k;
      if (rest > 0) this.byDevice.set(run.device, rest);
      else this.byDevice.delete(run.device);
      if (run.n === 0) this.head += 1;
    }
    // Drop the runs already taken once they are most of the array: amortised O(1) per run.
    if (this.head > 1024 && this.head * 2 > this.runs.length) {
      this.runs = this.runs.slice(this.head);
      this.head = 0;
    }
  }
}

/** True if `plain` matches the scrypt `hash`; never rejects (hub/src/api/auth.ts verifySecret). */
export type SecretVerifier = (plain: string, hash: string) => Promise<boolean>;

/** Whether a configured password is an scrypt hash (`scrypt$<N>$<salt>$<hash>`, as `tec-hub hash-secret` prints). */
export const isSecretHash = (password: string): boolean => SECRET_HASH_PATTERN.test(password);

export interface HashQueueLimits {
  /** Hash checks waiting for their turn, all addresses together; a login beyond is refused as busy, unchecked. */
  maxWaiting: number;
  /** The same for one address: a board connects once at a time, a guesser many times. */
  maxWaitingPerAddress: number;
}

/** Enough for a classroom's boards all starting at once (each hashed once, then cached). */
export const DEFAULT_HASH_QUEUE: HashQueueLimits = { maxWaiting: 64, maxWaitingPerAddress: 2 };

export type CredentialCheck =
  | { ok: true; account: Account }
  /** Wrong user or password; `waitMs` is the wait it started for the address (0 while failures are free). */
  | { ok: false; kind: "wrong"; reason: string; waitMs: number }
  /** The address is waiting after failed logins: refused before any password was looked at. */
  | { ok: false; kind: "throttled"; reason: string; waitMs: number }
  /** Too many hash checks waiting: refused unchecked, not counted as a failure. */
  | { ok: false; kind: "busy"; reason: string };

export interface CredentialStats {
  /** scrypt checks run. */
  hashChecks: number;
  /** Hashed passwords accepted from the cache, without scrypt. */
  cacheHits: number;
  /** Logins refused because too many hash checks were waiting. */
  busy: number;
}

interface QueuedCheck {
  address: string;
  run: () => Promise<void>;
}

/**
 * The broker's accounts (one per mqtt device, and the observer) and the check of a CONNECT's user
 * name and password against them, with the per-address backoff in front.
 *
 * A password in the config is either plain or an scrypt hash. A hashed one costs tens of ms of
 * scrypt, so:
 * - the backoff is asked first, and asked again when a queued check gets its turn, so an address
 *   that keeps guessing is refused without hashing, however many CONNECTs it has in flight;
 * - checks run one at a time (one thread of libuv's pool, whatever arrives), at most
 *   `maxWaiting` wait and at most `maxWaitingPerAddress` from one address; beyond that a login is
 *   refused as busy (the client retries) without being counted as a failure;
 * - a success is remembered per account (the hash and an HMAC of the password under a key of this
 *   process), so a board that reconnects, or reconnects a hundred times in a storm, is checked by
 *   one HMAC instead of scrypt. The cache holds one entry per account, so it cannot grow.
 * Plain passwords are compared at once, in constant time.
 */
export class BrokerAccounts {
  readonly deviceIds: ReadonlySet<string>;
  private readonly passwords: ReadonlyMap<string, string>;
  private readonly observer: { username: string; password: string } | null;
  private readonly cacheKey = randomBytes(32);
  private readonly verified = new Map<string, { hash: string; mac: Buffer }>();
  private readonly queue: QueuedCheck[] = [];
  private readonly waitingBy = new Map<string, number>();
  private running = false;
  private readonly counters: CredentialStats = { hashChecks: 0, cacheHits: 0, busy: 0 };

  constructor(
    accounts: { devices: Iterable<readonly [string, string]>; observer: { username: string; password: string } | null },
    private readonly backoff: LoginBackoff,
    private readonly now: () => number = Date.now,
    private readonly verify: SecretVerifier = verifySecret,
    private readonly limits: HashQueueLimits = DEFAULT_HASH_QUEUE,
  ) {
    this.passwords = new Map(accounts.devices);
    this.deviceIds = new Set(this.passwords.keys());
    this.observer = accounts.observer;
  }

  get stats(): CredentialStats {
    return { ...this.counters };
  }

  /** Hash checks waiting or running. */
  get pending(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  /**
   * The account `username`/`password` logs in as, or why not. Records a failure on `address`'s
   * backoff for a wrong one. Answers at once (no scrypt) for plain passwords, cache hits, unknown
   * users and throttled addresses.
   */
  async check(username: string | undefined, password: Buffer | undefined, address: string): Promise<CredentialCheck> {
    const throttled = this.throttled(address);
    if (throttled !== null) return throttled;
    if (username === undefined || password === undefined) return this.wrong(address, "username and password are required");
    const observer = this.observer;
    let account: Account;
    let expected: string;
    if (observer !== null && username === observer.username) {
      account = { role: "observer", username };
      expected = observer.password;
    } else {
      const stored = this.passwords.get(username);
      if (stored === undefined) return this.wrong(address, `unknown user "${username}"`);
      account = { role: "device", deviceId: username };
      expected = stored;
    }
    const what = account.role === "device" ? `device "${username}"` : `observer "${username}"`;
    if (!isSecretHash(expected)) return safeEqual(expected, password) ? { ok: true, account } : this.wrong(address, `wrong password for ${what}`);

    const mac = createHmac("sha256", this.cacheKey).update(password).digest();
    const known = this.verified.get(username);
    if (known !== undefined && known.hash === expected && timingSafeEqual(known.mac, mac)) {
      this.counters.cacheHits += 1;
      return { ok: true, account };
    }
    const ok = await this.hashed(address, password.toString("utf8"), expected);
    if (typeof ok !== "boolean") return ok;
    if (!ok) return this.wrong(address, `wrong password for ${what}`);
    this.verified.set(username, { hash: expected, mac });
    return { ok: true, account };
  }

  private throttled(address: string): CredentialCheck | null {
    const waitMs = this.backoff.waitMs(address, this.now());
    if (waitMs === null) return null;
    return { ok: false, kind: "throttled", waitMs, reason: `login from ${address} refused unchecked: too many failed logins, wait ${Math.ceil(waitMs / 1000)} s` };
  }

  private wrong(address: string, reason: string): CredentialCheck {
    return { ok: false, kind: "wrong", reason, waitMs: this.backoff.failed(address, this.now()) };
  }

  /** Runs the scrypt check in its turn; a refusal instead if the queue is full or the address got throttled meanwhile. */
  private hashed(address: string, plain: string, hash: string): Promise<boolean | CredentialCheck> {
    const mine = this.waitingBy.get(address) ?? 0;
    if (this.queue.length >= this.limits.maxWaiting || mine >= this.limits.maxWaitingPerAddress) {
      this.counters.busy += 1;
      const reason = mine >= this.limits.maxWaitingPerAddress ? `${mine} logins from ${address} are already being checked` : `${this.queue.length} logins are already waiting to be checked`;
      return Promise.resolve({ ok: false, kind: "busy", reason: `${reason}; try again in a moment` });
    }
    this.waitingBy.set(address, mine + 1);
    return new Promise((resolve) => {
      this.queue.push({
        address,
        run: async () => {
          // Failures from this address while it waited count: a guesser's queued CONNECTs are refused unhashed.
          const throttled = this.throttled(address);
          if (throttled !== null) return resolve(throttled);
          this.counters.hashChecks += 1;
          let ok = false;
          try {
            ok = await this.verify(plain, hash);
          } catch {
            ok = false;
          }
          resolve(ok);
        },
      });
      this.pump();
    });
  }

  private pump(): void {
    if (this.running) return;
    const next = this.queue.shift();
    if (next === undefined) return;
    this.running = true;
    const left = (this.waitingBy.get(next.address) ?? 1) - 1;
    if (left > 0) this.waitingBy.set(next.address, left);
    else this.waitingBy.delete(next.address);
    void next.run().finally(() => {
      this.running = false;
      this.pump();
    });
  }
}

function safeEqual(a: string, b: Buffer): boolean {
  const ab = Buffer.from(a, "utf8");
  return ab.length === b.length && timingSafeEqual(ab, b);
}
