/**
 * The real Tiny House AVR firmware under simavr, for tests: builds it (firmware-bridge/Makefile),
 * starts firmware-bridge/simavr-bridge (UART0 on a pty, pins and ADC on stdin/stdout) and talks to
 * the board over the pty with serialport, exactly as the hub would over /dev/ttyACM0.
 *
 * Times from the bridge are the emulator's simulated microseconds (`t`), so assertions about
 * leases and heartbeats are made in the board's own time, not in the test machine's.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { SerialPort } from "serialport";
import { decodeLine, encodeLine, isDecodeError, LineSplitter, type LineType, type SerialLine } from "../../firmware-bridge/serial/codec.ts";

const run = promisify(execFile);

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const FIRMWARE_DIR = path.join(ROOT, "firmware-bridge");
export const BUILD_DIR = path.join(FIRMWARE_DIR, "build");
export const HOST_TESTS = path.join(BUILD_DIR, "host/core-tests");
export const ELF = path.join(BUILD_DIR, "avr/tiny_house_board.elf");
export const BRIDGE = path.join(BUILD_DIR, "bridge/tec-simavr-bridge");

/** What the build needs, and the Debian package that brings it (CI installs these with apt-get). */
const REQUIREMENTS: ReadonlyArray<{ what: string; found: () => Promise<boolean>; debian: string }> = [
  { what: "make", found: () => onPath("make"), debian: "make" },
  { what: "g++", found: () => onPath("g++"), debian: "g++" },
  { what: "avr-gcc", found: () => onPath("avr-gcc"), debian: "gcc-avr" },
  { what: "avr-objcopy", found: () => onPath("avr-objcopy"), debian: "binutils-avr" },
  { what: "avr-libc headers", found: () => Promise.resolve(existsSync("/usr/lib/avr/include/avr/wdt.h")), debian: "avr-libc" },
  {
    what: "the Arduino AVR core",
    found: () => Promise.resolve(existsSync("/usr/share/arduino/hardware/arduino/avr/cores/arduino/main.cpp")),
    debian: "arduino-core-avr",
  },
  { what: "simavr headers", found: () => Promise.resolve(existsSync("/usr/include/simavr/sim_avr.h")), debian: "libsimavr-dev" },
];

async function onPath(cmd: string): Promise<boolean> {
  try {
    await run("sh", ["-c", `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

/** Builds host tests, firmware and bridge; fails naming the Debian packages that are missing. */
export async function buildFirmware(): Promise<void> {
  const missing: string[] = [];
  for (const r of REQUIREMENTS) if (!(await r.found())) missing.push(`${r.what} (Debian package ${r.debian})`);
  if (missing.length > 0) {
    throw new Error(`cannot build the board firmware, missing: ${missing.join(", ")}. Install with apt-get install ${REQUIREMENTS.map((r) => r.debian).join(" ")}`);
  }
  try {
    await run("make", ["-C", FIRMWARE_DIR, "-j4", "all"], { maxBuffer: 16 << 20 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`make -C firmware-bridge failed:\n${err.stderr ?? ""}\n${err.stdout ?? ""}\n${err.message}`);
  }
}

/** One line the bridge printed: `<name> <args…> t=<simulated µs>`. */
export interface BridgeEvent {
  name: string;
  args: string[];
  /** Simulated microseconds since the bridge started. */
  t: number;
}

/** Collects items and lets a test wait for the first one, from some index on, that matches. */
class Log<T> {
  readonly items: T[] = [];
  private waiters: Array<() => void> = [];
  private failure: Error | null = null;

  push(item: T): void {
    this.items.push(item);
    for (const w of this.waiters.splice(0)) w();
  }

  fail(err: Error): void {
    this.failure = err;
    for (const w of this.waiters.splice(0)) w();
  }

  async waitFor(match: (item: T) => boolean, what: string, timeoutMs = 15_000, from = 0): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.items.slice(from).find(match);
      if (found !== undefined) return found;
      if (this.failure !== null) throw this.failure;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

export interface Board {
  /** The emulator's events (pins, resets, lines delivered to the UART). */
  readonly events: Log<BridgeEvent>;
  /** Lines the firmware sent, decoded with the hub's codec; undecodable ones as `bad`. */
  readonly lines: Log<SerialLine | { bad: string }>;
  /** A bridge command (`set D4 0`, `adc 0 1042`, `get D7`, `hang`…); resolves with its answer. */
  control(command: string): Promise<BridgeEvent>;
  /** A hub line with the hub's next seq. */
  send(type: LineType, fields?: ReadonlyArray<readonly [string, string | number]>): Promise<void>;
  /** Raw bytes to the board (to send broken lines). */
  sendRaw(text: string): Promise<void>;
  /** Closes and reopens the pty, as a hub does when it reconnects; the hub's seq starts over. */
  reopen(): Promise<void>;
  /** Sends BEAT every second (wall clock, as the hub does) until stopBeats(). */
  startBeats(): void;
  stopBeats(): void;
  close(): Promise<void>;
}

/** Starts the bridge, applies `setup` (inputs, ADC) before the board runs, then opens the pty. */
export async function startBoard(setup: string[] = []): Promise<Board> {
  const child: ChildProcessWithoutNullStreams = spawn(BRIDGE, [ELF], { stdio: ["pipe", "pipe", "pipe"] });
  const events = new Log<BridgeEvent>();
  const lines = new Log<SerialLine | { bad: string }>();
  let stderr = "";
  let ptyPath: string | null = null;
  let pending = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  child.stdout.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const text = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const m = /^(\S+)(?: (.*?))? t=(\d+)$/.exec(text);
      if (text.startsWith("pty ")) ptyPath = text.slice(4);
      if (m !== null) events.push({ name: m[1] ?? "", args: (m[2] ?? "").split(" ").filter((a) => a !== ""), t: Number(m[3]) });
      else events.push({ name: text.split(" ")[0] ?? "", args: text.split(" ").slice(1), t: -1 });
    }
  });
  child.on("exit", (code, signal) => events.fail(new Error(`the bridge exited (${code ?? signal}): ${stderr}`)));
  await events.waitFor((e) => e.name === "pty", "the bridge's pty", 5_000);
  if (ptyPath === null) throw new Error("no pty path");

  let controlFrom = events.items.length;
  const control = async (command: string): Promise<BridgeEvent> => {
    const from = controlFrom;
    const word = command.split(" ")[0] ?? "";
    child.stdin.write(`${command}\n`);
    const answer = await events.waitFor(
      (e) => ((e.name === "ok" || e.name === "error") && e.args[0] === word) || (word === "get" && e.name === "state") || (word === "time" && e.name === "time"),
      `the bridge's answer to "${command}"`,
      5_000,
      from,
    );
    controlFrom = events.items.indexOf(answer) + 1;
    if (answer.name === "error") throw new Error(`bridge: ${answer.args.join(" ")}`);
    return answer;
  };
  for (const c of setup) await control(c);

  const splitter = new LineSplitter(
    (line) => {
      const decoded = decodeLine(line);
      lines.push(isDecodeError(decoded) ? { bad: line } : decoded);
    },
    (bytes) => lines.push({ bad: `overflow of ${bytes} bytes` }),
  );
  const openPort = async (): Promise<SerialPort> => {
    const p = new SerialPort({ path: ptyPath!, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => p.open((err) => (err ? reject(err) : resolve())));
    p.on("data", (chunk: Buffer) => splitter.push(chunk));
    return p;
  };
  const closePort = (p: SerialPort) => new Promise<void>((resolve) => (p.isOpen ? p.close(() => resolve()) : resolve()));
  let port = await openPort();

  let hubSeq = 0;
  const sendRaw = (text: string) =>
    new Promise<void>((resolve, reject) => {
      port.write(text, (err) => (err ? reject(err) : port.drain((e) => (e ? reject(e) : resolve()))));
    });
  const send = (type: LineType, fields: ReadonlyArray<readonly [string, string | number]> = []) => sendRaw(`${encodeLine(type, hubSeq++, fields)}\n`);
  let beats: NodeJS.Timeout | null = null;

  return {
    events,
    lines,
    control,
    send,
    sendRaw,
    async reopen() {
      await closePort(port);
      splitter.reset();
      hubSeq = 0;
      port = await openPort();
    },
    startBeats() {
      if (beats !== null) return;
      void send("BEAT").catch(() => undefined);
      beats = setInterval(() => void send("BEAT").catch(() => undefined), 1000);
    },
    stopBeats() {
      if (beats !== null) clearInterval(beats);
      beats = null;
    },
    async close() {
      if (beats !== null) clearInterval(beats);
      beats = null;
      await closePort(port);
      if (child.exitCode === null) {
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.stdin.end("quit\n");
        const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

export function isLine(item: SerialLine | { bad: string }, type: LineType): item is SerialLine {
  return "type" in item && item.type === type;
}
