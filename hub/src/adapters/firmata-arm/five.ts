/**
 * A typed facade over johnny-five 2.1 and firmata-io 2.3 (neither ships types): the few things the
 * arm needs, behind explicit interfaces, so nothing `any` leaks into the adapter.
 *
 * The serial port is ours (serialport 13, which firmata.js would construct with a v8-era signature):
 * firmata.js takes a transport object (the port behind a flush gate, below), johnny-five takes the
 * firmata.js instance as its io. Library gotchas handled here:
 * - `Board` registers a SIGINT handler that exits the process unless `sigint: false`.
 * - `Board` emits "error" (an Error, and a log record before it) when "ready" does not follow
 *   "connect" within `timeout`, and firmata.js emits "error" on its io before "ready"; an emitter
 *   "error" with no listener throws, so both always have one, even after we drop them.
 * - Both keep real timers (`reportVersionTimeout`, the board's connect timeout) that the injected
 *   clock cannot drive; they are cleared when a session is closed.
 * - johnny-five keeps every Board it ever made in a module-level list, so each reconnect leaves a
 *   small dead Board behind (a few kB; a school day has a handful of reconnects).
 */
import { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import { SerialPort } from "serialport";
import { HubError } from "../../core/errors.ts";

/** What firmata.js (firmata-io) offers that we use. */
interface FirmataIo {
  readonly MODES: Readonly<{ INPUT: number; OUTPUT: number; SERVO: number }>;
  readonly pins: ReadonlyArray<{ readonly supportedModes: readonly number[] }>;
  readonly firmware: { readonly name?: string; readonly version?: { readonly major: number; readonly minor: number } };
  reportVersionTimeoutId?: ReturnType<typeof setTimeout>;
  pinMode(pin: number, mode: number): void;
  digitalRead(pin: number, fn: (value: number) => void): void;
  reportVersion(fn: () => void): void;
  queryFirmware(fn: () => void): void;
  on(event: "error", fn: (error: Error) => void): unknown;
  removeAllListeners(): unknown;
}
/** What firmata.js needs of a transport: these four events and `write`. */
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
interface FiveServo {
  to(degrees: number): unknown;
}
interface FiveModule {
  Board: new (options: { io: FirmataIo; repl: false; debug: false; sigint: false; timeout: number }) => FiveBoard;
  Servo: new (options: { pin: number; board: FiveBoard; pwmRange: [number, number]; range: [number, number] }) => FiveServo;
}

const require = createRequire(import.meta.url);
const five = require("johnny-five") as FiveModule;
const Firmata = (require("firmata-io") as FirmataIoModule)(SerialPort);

/**
 * The servo pulse range we configure (SERVO_CONFIG) and johnny-five maps degrees onto: 0 deg = 600 us,
 * 180 deg = 2400 us, 10 us per degree. Explicit, because johnny-five's default mapping (600-2400)
 * and the Arduino Servo library's default attach range (544-2400) disagree by a few degrees.
 */
export const SERVO_PWM_RANGE_US: [number, number] = [600, 2400];

export interface FirmataBoardLinkOptions {
  path: string;
  baud: number;
  /** firmata.js asks for the version after this long without one (its default, 5000 ms, is slow). */
  reportVersionTimeoutMs: number;
  /** johnny-five gives up when "ready" does not follow the port opening within this. */
  readyTimeoutMs: number;
  /** Ask for version and firmware as soon as the port is open, instead of waiting for a banner. */
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
  /** Attaches a servo (SERVO_CONFIG): the Servo library starts pulsing at once, at its last pulse width. */
  attachServo(pin: number, rangeDeg: readonly [number, number]): ServoOutput;
  /** Makes the pin a digital input and reports it now and on every change. */
  watchDigital(pin: number, fn: (value: 0 | 1) => void): void;
  /** REPORT_VERSION round trip: `fn` runs when the board answers. */
  ping(fn: () => void): void;
  /** The port went away on its own (unplugged, I/O error). Called once. */
  onLost(fn: (reason: string) => void): void;
  /** Closes on purpose (no onLost). Safe to call twice. */
  close(): Promise<void>;
}

const noop = (): void => {};
const messageOf = (e: Error | FiveLogEvent | null | undefined): string => (e instanceof Error ? e.message : (e?.message ?? "unknown error"));

/**
 * The serial port as firmata.js sees it: "open" only once stale input has been flushed, and no data
 * before that. Handing firmata.js the port itself lets it read a half-flushed boot banner and write
 * its capability query just before the flush (TCIOFLUSH) throws that query away: the handshake then
 * waits for an answer to a question that was never sent.
 */
function flushedTransport(port: SerialPort): FirmataTransport & { open(done: (error: Error | null) => void): void } {
  const transport = new EventEmitter() as FirmataTransport & { open(done: (error: Error | null) => void): void };
  let flushed = false;
  port.on("data", (chunk: Buffer) => {
    if (flushed) transport.emit("data", chunk);
  });
  port.on("close", (error: Error | null) => transport.emit("close", error));
  port.on("error", (error: Error) => transport.emit("error", error));
  transport.write = (data, callback) => void port.write(data, callback);
  transport.open = (done) =>
    port.open((error) => {
      if (error) return done(error);
      port.flush(() => {
        flushed = true;
        transport.emit("open");
        done(null);
      });
    });
  return transport;
}

/** Opens the port and waits for the Firmata handshake; rejects with HubError TRANSPORT_FAILED or DEVICE_TIMEOUT. */
export function openFirmataBoard(options: FirmataBoardLinkOptions): Promise<FirmataBoardSession> {
  const port = new SerialPort({ path: options.path, baudRate: options.baud, autoOpen: false });
  const transport = flushedTransport(port);
  const io = new Firmata(transport, { reportVersionTimeout: options.reportVersionTimeoutMs });
  io.on("error", noop); // port errors also close the port, which is what we act on
  const board = new five.Board({ io, repl: false, debug: false, sigint: false, timeout: options.readyTimeoutMs });
  const lostFns: Array<(reason: string) => void> = [];
  let closing = false;
  let lost = false;

  const close = async (): Promise<void> => {
    closing = true;
    if (board.timer !== null) clearTimeout(board.timer);
    if (io.reportVersionTimeoutId !== undefined) clearTimeout(io.reportVersionTimeoutId);
    board.removeAllListeners();
    board.on("error", noop);
    io.removeAllListeners();
    io.on("error", noop);
    if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  };

  const session: FirmataBoardSession = {
    get firmware() {
      const fw = io.firmware;
      return `${fw.name ?? "?"} ${fw.version?.major ?? "?"}.${fw.version?.minor ?? "?"}`;
    },
    supportsMode: (pin, mode) => io.pins[pin]?.supportedModes.includes(io.MODES[mode]) ?? false,
    attachServo(pin, [minDeg, maxDeg]) {
      const servo = new five.Servo({ pin, board, pwmRange: [...SERVO_PWM_RANGE_US], range: [minDeg, maxDeg] });
      return { to: (degrees) => void servo.to(degrees) };
    },
    watchDigital(pin, fn) {
      io.pinMode(pin, io.MODES.INPUT);
      io.digitalRead(pin, (value) => fn(value === 1 ? 1 : 0));
    },
    ping: (fn) => io.reportVersion(fn),
    onLost: (fn) => void lostFns.push(fn),
    close,
  };

  return new Promise<FirmataBoardSession>((resolve, reject) => {
    let settled = false;
    const fail = (error: HubError): void => {
      if (settled) return;
      settled = true;
      void close().then(() => reject(error));
    };
    board.once("ready", () => {
      if (settled) return;
      settled = true;
      resolve(session);
    });
    board.on("error", (e) => fail(new HubError("DEVICE_TIMEOUT", `no Firmata handshake on ${options.path}: ${messageOf(e)}`)));
    port.on("close", (e: Error | null) => {
      if (closing) return;
      if (!settled) return fail(new HubError("TRANSPORT_CLOSED", `${options.path} closed during the Firmata handshake`));
      if (lost) return;
      lost = true;
      const reason = messageOf(e ?? new Error("port closed"));
      void close().then(() => {
        for (const fn of lostFns) fn(reason);
      });
    });
    transport.open((e) => {
      if (e) return fail(new HubError("TRANSPORT_FAILED", `cannot open ${options.path}: ${e.message}`));
      // A board that does not reset on open (a pty, a Leonardo, an Uno with the reset cut) sent its
      // banner long ago; firmata.js alone would wait reportVersionTimeout before asking. An Uno that
      // does reset answers once booted, and a second answer is harmless (firmata.js listens once).
      if (options.eagerHandshake) {
        io.reportVersion(noop);
        io.queryFirmware(noop);
      }
    });
  });
}
