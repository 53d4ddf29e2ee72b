/**
 * A pair of connected pseudo-terminals made by socat, so a simulator can sit on one end of a serial
 * line and the hub's real serial code on the other, exactly as with a USB printer or board.
 *
 *   socat -d -d pty,raw,echo=0,link=<tmp>/hub pty,raw,echo=0,link=<tmp>/dev
 *
 * Each test needs a fresh pair: a pty keeps bytes that nobody has read yet, so a pair shared
 * between tests leaks one test's replies into the next. (Opening a side with serialport flushes
 * its input once, but not bytes that arrive between two tests while the port is open.)
 *
 * Unplugging: killing socat makes the ends fail like a pulled USB cable: the link paths vanish
 * until `replug()` starts socat again on the same paths (new ptys behind them, like a device coming
 * back as the same /dev/ttyACM0). What serialport 13 on the hub end then does (see the test):
 * - a pending read may notice the hang-up: `close` with an error whose `disconnected` is true;
 * - or it may spin on zero-byte reads and report nothing (serialport/bindings-cpp#162, the same
 *   as with a real USB adapter on Linux), so a driver must not wait for `close` alone;
 * - the next write fails with EIO: an `error` event and/or a `close` with `disconnected`.
 * The hub end notices nothing if the device end was never opened. Closing only the device end
 * does not unplug anything: socat keeps running and the hub end simply hears nothing more.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PtyPair {
  /** The end the hub opens (its "serial port"). */
  hubPath: string;
  /** The end the simulator opens (the "device"). */
  devicePath: string;
  /** True while socat runs (between open/replug and unplug/close). */
  readonly plugged: boolean;
  /** Kills socat: both ends see a hang-up, the link paths disappear. Safe to call twice. */
  unplug(): Promise<void>;
  /**
   * Runs `listener` (awaited) just before socat is killed, so a simulator can close the device end
   * first: a serialport left reading a hung-up pty may spin on zero-byte reads. Returns an unsubscribe.
   */
  beforeUnplug(listener: () => void | Promise<void>): () => void;
  /** Starts socat again on the same link paths; resolves once both exist. */
  replug(): Promise<void>;
  /** Kills socat and removes the temporary directory. Safe to call twice. */
  close(): Promise<void>;
}

export interface PtyPairOptions {
  /** How long to wait for socat to create both links; default 5000 ms. */
  timeoutMs?: number;
  /** The socat executable; default "socat" from PATH. */
  socat?: string;
}

export const SOCAT_MISSING = "socat not found: apt-get install socat";

const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGTERM");
});

export async function openPtyPair(opts: PtyPairOptions = {}): Promise<PtyPair> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  const socat = opts.socat ?? "socat";
  const dir = await mkdtemp(join(tmpdir(), "tec-pty-"));
  const hubPath = join(dir, "hub");
  const devicePath = join(dir, "dev");
  let proc: ChildProcess | null = null;
  let closed = false;
  const listeners = new Set<() => void | Promise<void>>();

  const start = async (): Promise<void> => {
    const child = await spawnSocat(socat, hubPath, devicePath, timeoutMs);
    proc = child;
    child.once("exit", () => {
      if (proc === child) proc = null; // socat died on its own
    });
  };
  const kill = async (): Promise<void> => {
    if (proc === null) return;
    for (const listener of [...listeners]) await listener();
    const child = proc;
    proc = null;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    await exited;
  };

  try {
    await start();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    hubPath,
    devicePath,
    get plugged() {
      return proc !== null;
    },
    unplug: kill,
    beforeUnplug(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async replug() {
      if (closed) throw new Error("pty pair is closed");
      if (proc !== null) return;
      await start();
    },
    async close() {
      if (closed) return;
      closed = true;
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function spawnSocat(socat: string, hubPath: string, devicePath: string, timeoutMs: number): Promise<ChildProcess> {
  const child = spawn(socat, ["-d", "-d", `pty,raw,echo=0,link=${hubPath}`, `pty,raw,echo=0,link=${devicePath}`], {
    stdio: ["ignore", "ignore", "pipe"],
    // Its own process group: Ctrl-C in the terminal signals the whole foreground group, and a
    // socat gone before the hub's planned stop would pull the simulated cables first (the hub
    // would see boards vanish and latch their trips). (Ignoring SIGINT is no help: socat installs
    // its own handler.) The hub closes it in order; `exit` below kills any left.
    detached: true,
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    if (stderr.length < 4000) stderr += chunk; // enough for an error message
  });
  // Never leave a socat behind when the process ends without close() (a test runner timing out).
  live.add(child);
  child.once("exit", () => live.delete(child));
  child.once("error", () => live.delete(child));
  return await new Promise<ChildProcess>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      clearInterval(poll);
      clearTimeout(timer);
      if (err === null) resolve(child);
      else {
        if (child.exitCode === null) child.kill("SIGKILL");
        reject(err);
      }
    };
    child.once("error", (err: NodeJS.ErrnoException) => {
      finish(err.code === "ENOENT" ? new Error(SOCAT_MISSING) : err);
    });
    child.once("exit", (code, signal) => {
      finish(new Error(`socat exited (${code ?? signal}) before the ptys were ready: ${stderr.trim()}`));
    });
    const poll = setInterval(() => {
      if (existsSync(hubPath) && existsSync(devicePath)) finish(null);
    }, 10);
    const timer = setTimeout(() => {
      finish(new Error(`socat did not create ${hubPath} and ${devicePath} within ${timeoutMs} ms: ${stderr.trim()}`));
    }, timeoutMs);
  });
}
