/**
 * A typed facade over johnny-five 2.1 and firmata-io 2.3 (neither ships types): the few things the
 * arm needs, behind explicit interfaces, so nothing `any` leaks into the adapter.
 *
 * The bytes travel over a `ByteLink` (transports/byte-link.ts): a serial port by path (a
 * /dev/serial/by-id link too) or by USB vendor/product/serial number, or a TCP socket to
 * StandardFirmataWiFi. firmata.js takes a transport object (the link, below), johnny-five takes the
 * firmata.js instance as its io and says when the handshake is done. Library gotchas handled here:
 * - `Board` registers a SIGINT handler that exits the process unless `sigint: false`.
 * - `Board` emits "error" (an Error, and a log record before it) when "ready" does not follow
 *   "connect" within `timeout`, and firmata.js emits "error" on its io before "ready"; an emitter
 *   "error" with no listener throws, so both always have one, even after we drop them.
 * - Both keep real timers (`reportVersionTimeout`, the board's connect timeout) that the injected
 *   clock cannot drive. The handshake deadline is ours, on the clock; johnny-five's is set far
 *   beyond it, and both real timers are cleared when a session closes.
 * - johnny-five keeps every Board it makes in a module-level list (`Board.cache`) for components
 *   that find their board by index: a closed session takes its board out of that list, or each
 *   reconnect would keep a dead board with its io, its buffers and its port.
 * - johnny-five's `Servo` keeps every servo it ever made in a private module-level Map, which only
 *   its test mode can clear; each would hold its board, io and port forever. So servos are driven
 *   with firmata.js's own SERVO_CONFIG and analog write, mapped from degrees as johnny-five does.
 */
import { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import { SerialPort } from "serialport";
import type { Clock, Timer } from "../../core/clock.ts";
import { HubError } from "../../core/errors.ts";
import { type ByteLink, type LinkSpec, createByteLink, describeSpec } from "../../transports/byte-link.ts";

/** What firmata.js (firmata-io) offers that we use. */
interface FirmataIo {
  readonly MODES: Readonly<{ INPUT: number; OUTPUT: number; SERVO: number }>;
  readonly pins: ReadonlyArray<{ readonly supportedModes: readonly number[] }>;
  readonly firmware: { readonly name?: string; readonly version?: { readonly major: number; readonly minor: number } };
  readonly version: { readonly major?: number; readonly minor?: number };
  /** True once a REPORT_VERSION came in: the board speaks Firmata. */
  readonly versionReceived: boolean;
  reportVersionTimeoutId?: ReturnType<typeof setTimeout>;
  pinMode(pin: number, mode: number): void;
  digitalRead(pin: number, fn: (value: number) => void): void;
  servoConfig(pin: number, minUs: number, maxUs: number): void;
  /** An analog write: StandardFirmata's Servo takes values of 544 and more as microseconds. */
  servoWrite(pin: number, value: number): void;
  reportVersion(fn: () => void): void;
  queryFirmware(fn: () => void): void;
  on(event: "error", fn: (error: Error) => void): unknown;
  removeAllListeners(): unknown;
}
/** What firmata.js needs of a transport: "open" and "data" events, and `write`. */
interface FirmataTransport extends EventEmitter {
  write(data: Buffer, callback: () => void): void;
}
type FirmataConstructor = new (transport: FirmataTransport, options: { reportVersionTimeout: number }) => FirmataIo;
type FirmataIoModule = (transport: typeof SerialPort) => FirmataConstructor;

/** A johnny-five log record ("error" is emitted with one of these as well as with Errors). */
interface FiveLogEvent {
  message?: string;
}
interface FiveBoard {
  timer: ReturnType<typeof setTimeout> | null;
  once(event: "ready", fn: () => void): unknown;
  on(event: "error", fn: (error: Error | FiveLogEvent) => void): unknown;
  removeAllListeners(): unknown;
}
interface FiveModule {
  Board: {
    new (options: { io: FirmataIo; repl: false; debug: false; sigint: false; timeout: number }): FiveBoard;
    /** Every Board not yet taken out again (johnny-five's own registry). */
    readonly cache: FiveBoard[];
  };
}

const require = createRequire(import.meta.url);
const five = require("johnny-five") as FiveModule;
const Firmata = (require("firmata-io") as FirmataIoModule)(SerialPort);

/**
 * The servo pulse range we configure (SERVO_CONFIG) and map degrees onto: 0 deg = 600 us,
 * 180 deg = 2400 us, 10 us per degree. Explicit, because johnny-five's default mapping (600-2400)
 * and the Arduino Servo library's default attach range (544-2400) disagree by a few degrees.
 */
export const SERVO_PWM_RANGE_US: [number, number] = [600, 2400];

/** Degrees to whole microseconds, truncated, exactly as johnny-five's `Fn.map(...) | 0` does. */
export function servoPulseUs(degrees: number): number {
  const [minUs, maxUs] = SERVO_PWM_RANGE_US;
  return ((degrees * (maxUs - minUs)) / 180 + minUs) | 0;
}

/**
 * johnny-five's own connect timeout, a real timer outside the clock: far beyond any handshake
 * deadline of ours, so ours always decides (and both go when the session closes).
 */
const FIVE_TIMEOUT_MS = 3_600_000;

export interface FirmataBoardLinkOptions {
  /** Where the board is: a serial port (by path or USB id) or TCP (StandardFirmataWiFi). */
  link: LinkSpec;
  /** The handshake deadline runs on this clock. */
  clock: Clock;
  /** From the start (opening the port, connecting) to Firmata "ready": past it the attempt fails. */
  handshakeTimeoutMs: number;
  /** firmata.js asks for the version after this long without one (its default, 5000 ms, is slow). */
  reportVersionTimeoutMs: number;
  /** Ask for version and firmware as soon as the link is open, instead of waiting for a banner. */
  eagerHandshake: boolean;
}

export interface ServoOutput {
  /** Commands an angle (clamped to the range given at attach); the board moves at once. */
  to(degrees: number): void;
}

export type PinModeName = "INPUT" | "SERVO";

/** One open, handshaken connection to a Firmata board. */
export interface FirmataBoardSession {
  /** "StandardFirmata.ino 2.5", as the board reports it. */
  readonly firmware: string;
  supportsMode(pin: number, mode: PinModeName): boolean;
  /**
   * Attaches a servo (SERVO_CONFIG) and writes `startDeg` in the same write: the Servo library
   * starts the pulse train at its last pulse width (1500 us = 90 deg after power-up), but only at
   * the channel's slot in its 20 ms frame, and the write is in place by then, so the servo's first
   * pulse is `startDeg`. (StandardFirmata takes a servo write only once the pin is in SERVO mode.)
   */
  attachServo(pin: number, rangeDeg: readonly [number, number], startDeg: number): ServoOutput;
  /** Whatever `fn` writes goes out as one write: one burst on the wire, all joints together. */
  burst(fn: () => void): void;
  /** Makes the pin a digital input and reports it now and on every change. */
  watchDigital(pin: number, fn: (value: 0 | 1) => void): void;
  /** REPORT_VERSION round trip: `fn` runs when the board answers. */
  ping(fn: () => void): void;
  /** The link went away on its own (unplugged, the socket closed, an I/O error). Called once. */
  onLost(fn: (reason: string) => void): void;
  /** Closes on purpose (no onLost). Safe to call twice. */
  close(): Promise<void>;
}

const noop = (): void => {};
const messageOf = (e: Error | FiveLogEvent | null | undefined): string => (e instanceof Error ? e.message : (e?.message ?? "unknown error"));

/**
 * The link as firmata.js sees it. Writes go straight to the link, except inside `burst`, where
 * they are gathered and sent as one: firmata.js writes every message on its own.
 */
function firmataTransport(link: ByteLink): FirmataTransport & { burst(fn: () => void): void } {
  const transport = new EventEmitter() as FirmataTransport & { burst(fn: () => void): void };
  let gathered: Array<{ data: Buffer; done: () => void }> | null = null;
  // A write to a link that has gone fails; firmata.js only counts its pending writes.
  const send = (data: Buffer, done: () => void): void => void link.write(data).then(done, done);
  transport.write = (data, done) => {
    if (gathered !== null) gathered.push({ data, done });
    else send(data, done);
  };
  transport.burst = (fn) => {
    if (gathered !== null) return fn();
    gathered = [];
    try {
      fn();
    } finally {
      const writes = gathered;
      gathered = null;
      if (writes.length > 0) send(Buffer.concat(writes.map((w) => w.data)), () => writes.forEach((w) => w.done()));
    }
  };
  return transport;
}

/** What the handshake had got when its deadline passed. */
export interface HandshakeProgress {
  /** Bytes received since the link opened. */
  bytes: number;
  /** The Firmata protocol version, once the board sent one. */
  version: { major?: number; minor?: number } | null;
}

/** The DEVICE_TIMEOUT error of a handshake that did not finish: what it means, in plain words. */
export function handshakeTimeoutError(link: LinkSpec, handshakeTimeoutMs: number, got: HandshakeProgress): HubError {
  const head = `no Firmata answer from ${describeSpec(link)} within ${handshakeTimeoutMs / 1000} s`;
  const baud = link.kind === "tcp" ? null : link.baud;
  let why: string;
  if (got.version !== null) {
    why = `it sent its Firmata version (${got.version.major ?? "?"}.${got.version.minor ?? "?"}) but not the rest of the handshake (firmware name, pin capabilities): a board still starting up, or a Firmata sketch that does not answer those queries`;
  } else if (got.bytes > 0) {
    why = `${got.bytes} bytes came back, none of them Firmata: ${baud !== null ? `is the baud rate right (StandardFirmata uses 57600, this link ${baud}), or is` : "is"} another sketch running instead of StandardFirmata?`;
  } else if (link.kind === "tcp") {
    why = "nothing came back: is StandardFirmataWiFi running on that board (port 3030 unless changed), and is this its address?";
  } else {
    why = `nothing came back: is StandardFirmata uploaded to the board, is the baud rate right (StandardFirmata uses 57600, this link ${baud}), and is this the right port?`;
  }
  return new HubError("DEVICE_TIMEOUT", `${head}: ${why}`, { handshakeTimeoutMs, bytes: got.bytes });
}

/**
 * Opens the link and waits for the Firmata handshake; rejects with HubError TRANSPORT_FAILED
 * (cannot open), TRANSPORT_CLOSED (gone during the handshake) or DEVICE_TIMEOUT (no Firmata
 * answer in time, saying what that usually means).
 */
export function openFirmataBoard(o: FirmataBoardLinkOptions): Promise<FirmataBoardSession> {
  const where = describeSpec(o.link);
  const link = createByteLink(o.link);
  const lostFns: Array<(reason: string) => void> = [];
  let transport: ReturnType<typeof firmataTransport> | null = null;
  let io: FirmataIo | null = null;
  let board: FiveBoard | null = null;
  let bytes = 0;
  let deadline: Timer | null = null;
  let closing = false;
  let lost = false;

  link.onData((chunk) => {
    bytes += chunk.length;
    transport?.emit("data", chunk);
  });

  const close = async (): Promise<void> => {
    closing = true;
    deadline?.cancel();
    if (board !== null) {
      if (board.timer !== null) clearTimeout(board.timer);
      board.removeAllListeners();
      board.on("error", noop);
      const cache = five.Board.cache;
      const i = cache.indexOf(board);
      if (i >= 0) cache.splice(i, 1);
    }
    if (io !== null) {
      if (io.reportVersionTimeoutId !== undefined) clearTimeout(io.reportVersionTimeoutId);
      io.removeAllListeners();
      io.on("error", noop);
    }
    transport?.removeAllListeners();
    await link.close();
  };

  const session = (firmata: FirmataIo, t: ReturnType<typeof firmataTransport>): FirmataBoardSession => ({
    get firmware() {
      const fw = firmata.firmware;
      return `${fw.name ?? "?"} ${fw.version?.major ?? "?"}.${fw.version?.minor ?? "?"}`;
    },
    supportsMode: (pin, mode) => firmata.pins[pin]?.supportedModes.includes(firmata.MODES[mode]) ?? false,
    attachServo(pin, [minDeg, maxDeg], startDeg) {
      let lastUs: number | null = null;
      const write = (degrees: number): void => {
        const us = servoPulseUs(Math.min(maxDeg, Math.max(minDeg, degrees)));
        if (us === lastUs) return; // the board already has it
        lastUs = us;
        firmata.servoWrite(pin, us);
      };
      t.burst(() => {
        firmata.servoConfig(pin, ...SERVO_PWM_RANGE_US);
        write(startDeg);
      });
      return { to: write };
    },
    burst: (fn) => t.burst(fn),
    watchDigital(pin, fn) {
      firmata.pinMode(pin, firmata.MODES.INPUT);
      firmata.digitalRead(pin, (value) => fn(value === 1 ? 1 : 0));
    },
    ping: (fn) => firmata.reportVersion(fn),
    onLost: (fn) => void lostFns.push(fn),
    close,
  });

  return new Promise<FirmataBoardSession>((resolve, reject) => {
    let settled = false;
    const fail = (error: HubError): void => {
      if (settled) return;
      settled = true;
      void close().then(() => reject(error));
    };
    deadline = o.clock.setTimeout(() => {
      const version = io?.versionReceived === true ? io.version : null;
      fail(handshakeTimeoutError(o.link, o.handshakeTimeoutMs, { bytes, version }));
    }, o.handshakeTimeoutMs);
    link.onLost((reason) => {
      if (closing) return;
      if (!settled) return fail(new HubError("TRANSPORT_CLOSED", `${where} closed during the Firmata handshake: ${reason}`));
      if (lost) return;
      lost = true;
      void close().then(() => {
        for (const fn of lostFns) fn(reason);
      });
    });
    link.open().then(
      () => {
        if (settled) return void link.close(); // the deadline passed while it was opening
        const t = firmataTransport(link);
        const firmata = new Firmata(t, { reportVersionTimeout: o.reportVersionTimeoutMs });
        firmata.on("error", noop); // link errors also close the link, which is what we act on
        const fiveBoard = new five.Board({ io: firmata, repl: false, debug: false, sigint: false, timeout: FIVE_TIMEOUT_MS });
        transport = t;
        io = firmata;
        board = fiveBoard;
        fiveBoard.once("ready", () => {
          if (settled) return;
          settled = true;
          deadline?.cancel();
          resolve(session(firmata, t));
        });
        fiveBoard.on("error", (e) => fail(new HubError("DEVICE_TIMEOUT", `no Firmata handshake with ${where}: ${messageOf(e)}`)));
        t.emit("open");
        // A board that does not reset on open (StandardFirmataWiFi over TCP, a pty, a Leonardo, an
        // Uno with the reset cut) sent its banner long ago or never; firmata.js alone would wait
        // reportVersionTimeout before asking. An Uno that does reset ignores this while its
        // bootloader runs and announces itself once booted (firmata.js listens once).
        if (o.eagerHandshake) {
          firmata.reportVersion(noop);
          firmata.queryFirmware(noop);
        }
      },
      (error: unknown) => fail(error instanceof HubError ? error : new HubError("TRANSPORT_FAILED", `cannot open ${where}: ${error instanceof Error ? error.message : String(error)}`)),
    );
  });
}
