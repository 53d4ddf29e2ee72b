/**
 * The store lock with real files in a temp folder: one holder at a time, a clear refusal naming
 * the file and the holder, and a lock left by a process that is gone taken over.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HubError } from "../core/errors.ts";
import { silentLogger } from "../core/logger.ts";
import { acquireStoreLock, lockPathOf, readLock } from "./store-lock.ts";

describe("store lock", () => {
  let dir: string;
  let db: string;
  beforeEach(() => {
    dir = mkdtempSync(join(os.tmpdir(), "tec-lock-"));
    db = join(dir, "hub.db");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const refusal = (purpose = "hub"): HubError => {
    try {
      acquireStoreLock(db, { purpose });
    } catch (error) {
      return error as HubError;
    }
    throw new Error("the lock was taken twice");
  };

  it("writes who holds it, refuses a second holder naming the file and the pid, and is free again once released", () => {
    const lock = acquireStoreLock(db, { purpose: "hub" });
    expect(lock.path).toBe(`${db}.lock`);
    expect(readLock(db)).toMatchObject({ pid: process.pid, hostname: os.hostname(), purpose: "hub" });
    const error = refusal("restore");
    expect(error).toBeInstanceOf(HubError);
    expect(error.code).toBe("STORAGE_FAILED");
    expect(error.message).toContain(`database ${db} is in use by another TEC Hub, pid ${process.pid}`);
    expect(error.message).toContain(`lock file ${db}.lock`);
    lock.release();
    lock.release(); // twice is fine
    expect(existsSync(lockPathOf(db))).toBe(false);
    const again = acquireStoreLock(db, { purpose: "restore" });
    expect(refusal().message).toContain("is in use by a restore (tec-hub restore)");
    again.release();
  });

  it("takes over a lock whose process is gone, and says so in the log", () => {
    // A real process that has exited: its pid is free.
    const gone = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    const pid = Number(gone.stdout);
    writeFileSync(lockPathOf(db), JSON.stringify({ pid, hostname: os.hostname(), startedAt: Date.now() - 1000, purpose: "hub", token: "old" }));
    const warned: string[] = [];
    const lock = acquireStoreLock(db, { purpose: "hub", logger: { ...silentLogger, warn: (_o, m) => warned.push(m ?? "") } });
    expect(readLock(db)?.pid).toBe(process.pid);
    expect(warned).toEqual(["taking over a stale lock on the database"]);
    lock.release();
  });

  it("takes over a lock taken before this machine started, or one naming this process that it does not hold", () => {
    const old = { pid: 1, hostname: os.hostname(), startedAt: Date.now() - os.uptime() * 1000 - 3_600_000, purpose: "hub", token: "boot" };
    writeFileSync(lockPathOf(db), JSON.stringify(old));
    acquireStoreLock(db, { purpose: "hub" }).release();
    writeFileSync(lockPathOf(db), JSON.stringify({ ...old, pid: process.pid, startedAt: Date.now() }));
    acquireStoreLock(db, { purpose: "hub" }).release();
  });

  it("never takes over a lock of a live process, one from another host, or a file it cannot read as a lock", () => {
    // pid 1 runs on every machine (init); a live pid of another user answers EPERM, which counts as alive.
    writeFileSync(lockPathOf(db), JSON.stringify({ pid: 1, hostname: os.hostname(), startedAt: Date.now(), purpose: "hub", token: "x" }));
    expect(refusal().message).toContain("pid 1,");
    writeFileSync(lockPathOf(db), JSON.stringify({ pid: 999_999_999, hostname: "other-box", startedAt: Date.now(), purpose: "hub", token: "x" }));
    expect(refusal().message).toContain("pid 999999999 on host other-box");
    writeFileSync(lockPathOf(db), "something else\n");
    expect(refusal().message).toContain("is not a TEC Hub lock");
    // An empty one is what a crash between create and write would leave (we never do): stale.
    writeFileSync(lockPathOf(db), "");
    acquireStoreLock(db, { purpose: "hub" }).release();
  });

  it("release leaves a lock that is no longer its own", () => {
    const lock = acquireStoreLock(db, { purpose: "hub" });
    const theirs = JSON.stringify({ pid: 1, hostname: os.hostname(), startedAt: Date.now(), purpose: "hub", token: "theirs" });
    writeFileSync(lockPathOf(db), theirs);
    lock.release();
    expect(readFileSync(lockPathOf(db), "utf8")).toBe(theirs);
  });

  it("needs no lock for an in-memory database", () => {
    acquireStoreLock(":memory:", { purpose: "hub" }).release();
    acquireStoreLock(":memory:", { purpose: "hub" }).release();
  });
});
