/**
 * One process at a time on a database: the hub holds `<db>.lock` while it runs, and
 * `tec-hub restore` holds it while it swaps the file, so a restore never pulls the database out
 * from under a running hub and a hub never starts on a half-restored one.
 *
 * The lock file holds who has it (pid, host, since when, for what) as JSON. It is written to a
 * temporary name first and then hard-linked into place: link(2) fails with EEXIST if the lock
 * exists (as O_EXCL would) and the lock appears with its whole contents, so a reader never sees
 * an empty lock. A lock whose owner is gone (same host, and its pid is not running, or it was
 * taken before this machine booted, or it names this process but this process does not hold
 * it: a container's hub is pid 1 on every start) is stale, taken over and logged. A lock taken on
 * another host (a database on a network share) is never judged stale: it has to be removed by hand.
 */
import { randomBytes } from "node:crypto";
import { linkSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import { resolve } from "node:path";
import { HubError } from "../core/errors.ts";
import { silentLogger, type Logger } from "../core/logger.ts";

export interface LockOwner {
  pid: number;
  hostname: string;
  /** ms since the epoch. */
  startedAt: number;
  /** What holds it: "hub", "restore". */
  purpose: string;
  /** Random: tells this holder's lock from a later one with the same pid. */
  token: string;
}

export interface StoreLock {
  /** The lock file. */
  readonly path: string;
  readonly owner: LockOwner;
  /** Removes the lock file if it is still this holder's. Safe to call twice. */
  release(): void;
}

/** Lock files this process holds, so that a lock naming this pid can be told from a stale one. */
const heldHere = new Set<string>();

export function lockPathOf(dbPath: string): string {
  return `${resolve(dbPath)}.lock`;
}

/** The lock's owner as the file says, or null if there is no lock file or it cannot be read as one. */
export function readLock(dbPath: string): LockOwner | null {
  return parseOwner(readText(lockPathOf(dbPath)));
}

/**
 * Takes the lock on `dbPath` or throws HubError STORAGE_FAILED naming the lock file and its
 * holder. `":memory:"` needs no lock.
 */
export function acquireStoreLock(dbPath: string, options: { purpose: string; logger?: Logger; now?: () => number }): StoreLock {
  const logger = options.logger ?? silentLogger;
  const owner: LockOwner = {
    pid: process.pid,
    hostname: os.hostname(),
    startedAt: (options.now ?? Date.now)(),
    purpose: options.purpose,
    token: randomBytes(8).toString("hex"),
  };
  if (dbPath === ":memory:" || dbPath === "") return { path: "", owner, release: () => undefined };
  const lockPath = lockPathOf(dbPath);
  const body = `${JSON.stringify(owner)}\n`;
  // A few rounds: a stale lock taken over, or a lock that went away between two looks.
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(lockPath, body)) {
      heldHere.add(lockPath);
      let released = false;
      return {
        path: lockPath,
        owner,
        release() {
          if (released) return;
          released = true;
          heldHere.delete(lockPath);
          // Only our own lock: a hand-removed and re-taken lock belongs to someone else now.
          if (parseOwner(readText(lockPath))?.token === owner.token) unlinkQuietly(lockPath);
        },
      };
    }
    const text = readText(lockPath);
    if (text === null) continue; // gone in between: try again
    const other = parseOwner(text);
    const why = staleReason(lockPath, other, text);
    if (why === null) throw lockedError(dbPath, lockPath, other);
    // Read again right before removing it, so a lock someone took meanwhile is not removed.
    if (readText(lockPath) !== text) continue;
    logger.warn({ lockFile: lockPath, previous: other, why }, "taking over a stale lock on the database");
    unlinkQuietly(lockPath);
  }
  throw new HubError("STORAGE_FAILED", `cannot take the lock ${lockPath} on ${dbPath}: it keeps changing (another process is starting on it?)`);
}

function tryCreate(lockPath: string, body: string): boolean {
  const temp = `${lockPath}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    writeFileSync(temp, body, { flag: "wx", mode: 0o644 });
  } catch (error) {
    throw new HubError("STORAGE_FAILED", `cannot write the lock file ${lockPath}: ${(error as Error).message}`);
  }
  try {
    linkSync(temp, lockPath);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw new HubError("STORAGE_FAILED", `cannot take the lock file ${lockPath}: ${(error as Error).message}`);
  } finally {
    unlinkQuietly(temp);
  }
}

/** Why the lock is stale, or null if its owner may still be running. */
function staleReason(lockPath: string, other: LockOwner | null, text: string): string | null {
  // Not ours in any shape we write (we write whole files): a leftover of something else; a person must look.
  if (other === null) return text.trim() === "" ? "the lock file is empty" : null;
  if (other.hostname !== os.hostname()) return null;
  if (other.pid === process.pid) return heldHere.has(lockPath) ? null : "it names this process, which does not hold it (an earlier run with the same pid)";
  const bootedAt = Date.now() - os.uptime() * 1000;
  if (other.startedAt < bootedAt - 60_000) return "it was taken before this machine started";
  if (!alive(other.pid)) return `process ${other.pid} is not running`;
  return null;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function lockedError(dbPath: string, lockPath: string, other: LockOwner | null): HubError {
  if (other === null) {
    return new HubError("STORAGE_FAILED", `database ${dbPath} is locked: the lock file ${lockPath} exists but is not a TEC Hub lock. Remove it by hand if no hub runs on this database.`);
  }
  const what = other.purpose === "restore" ? "a restore (tec-hub restore)" : "another TEC Hub";
  const since = new Date(other.startedAt).toISOString();
  const where = other.hostname === os.hostname() ? `pid ${other.pid}` : `pid ${other.pid} on host ${other.hostname}`;
  return new HubError(
    "STORAGE_FAILED",
    `database ${dbPath} is in use by ${what}, ${where}, since ${since} (lock file ${lockPath}). Stop it first; if it is surely not running, remove the lock file.`,
  );
}

function parseOwner(text: string | null): LockOwner | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as Partial<LockOwner>;
    if (typeof v.pid !== "number" || typeof v.hostname !== "string" || typeof v.startedAt !== "number" || typeof v.token !== "string") return null;
    return { pid: v.pid, hostname: v.hostname, startedAt: v.startedAt, purpose: typeof v.purpose === "string" ? v.purpose : "hub", token: v.token };
  } catch {
    return null;
  }
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}
