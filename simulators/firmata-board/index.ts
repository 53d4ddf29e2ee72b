/**
 * A StandardFirmata board (an Arduino Uno) on the device side of a pty, opened with serialport at
 * 57600 like real hardware, so the hub's johnny-five + firmata-io stack talks to it byte for byte.
 *
 * The board boots when the simulator starts (version + firmware banner). On a pty the simulator
 * cannot see the host open its end (there is no DTR reset), and the host flushes stale input after
 * opening: a host that opens later misses the banner and asks (firmata.js does so after its
 * `reportVersionTimeout`). `unplug()` is a pulled USB cable: our end closes abruptly (and socat is
 * killed, given a `pty`, so the hub's port fails as it would); `replug()` powers the board up again.
 */
import type { EventEmitter } from "node:events";
import { SerialPort } from "serialport";
import { systemClock, type Clock } from "../../hub/src/core/clock.ts";
import type { PtyPair } from "../common/pty-pair.ts";
import { type FirmataBoardEvents, StandardFirmata } from "./board.ts";

export { FIRMWARE, UNO_CAPABILITIES, type FirmataBoardEvents, type ServoWrite, StandardFirmata } from "./board.ts";

export interface FirmataBoardOptions {
  /** The device side of a pty (or any serial device). Give this or `pty`. */
  path?: string;
  /** A pty pair: the board opens `devicePath`; `unplug()` also kills socat, `replug()` restarts it. */
  pty?: PtyPair;
  clock?: Clock;
  /** Digital input levels at power-up, e.g. a door switch closed from the start: `{ 2: 1 }`. */
  pins?: Readonly<Record<number, 0 | 1>>;
  /** Default 57600, what StandardFirmata's `Firmata.begin` uses. */
  baud?: number;
  /** Servo speed in seconds per 60 degrees (0.1-0.2 for hobby servos); default instantaneous. */
  servoSecondsPer60Deg?: number;
  logger?: (msg: string) => void;
}

export interface FirmataBoardHandle {
  /** Where a host connects: `serial://<hub path>?baud=57600` (with `pty`) or `serial://<path>?baud=…`. */
  readonly url: string;
  readonly board: StandardFirmata;
  /** `servo` for every attach and servo write, `digitalWrite`, `reset`. */
  readonly events: EventEmitter<FirmataBoardEvents>;
  /** Horn angles (pin -> degrees) of every servo attached since the start. */
  servoAngles(): Record<number, number>;
  /** A switch on a digital input: reported to the host if the pin is an input and its port reports. */
  setDigitalInput(pin: number, value: 0 | 1 | boolean): void;
  setAnalogInput(channel: number, value: number): void;
  readonly plugged: boolean;
  /** Powers off and closes the port. Safe to call twice. */
  stop(): Promise<void>;
  /** The cable is pulled: our end closes at once (and socat goes, given a `pty`); the board is unpowered. */
  unplug(): Promise<void>;
  /** Plugged back in: the port reopens and the board boots (servos detached, banner sent). */
  replug(): Promise<void>;
}

export async function startFirmataBoard(opts: FirmataBoardOptions): Promise<FirmataBoardHandle> {
  if ((opts.path === undefined) === (opts.pty === undefined)) throw new Error("startFirmataBoard: give exactly one of path, pty");
  const path = opts.pty?.devicePath ?? opts.path ?? "";
  const baud = opts.baud ?? 57600;
  const log = opts.logger ?? (() => {});
  let port: SerialPort | null = null;
  let stopped = false;

  const board = new StandardFirmata({
    clock: opts.clock ?? systemClock,
    ...(opts.pins !== undefined ? { inputs: opts.pins } : {}),
    ...(opts.servoSecondsPer60Deg !== undefined ? { servoSecondsPer60Deg: opts.servoSecondsPer60Deg } : {}),
    output: (bytes) => {
      const p = port;
      if (p !== null && p.isOpen) p.write(bytes);
    },
  });

  const open = async (): Promise<void> => {
    const p = new SerialPort({ path, baudRate: baud, autoOpen: false });
    await new Promise<void>((resolve, reject) => p.open((err) => (err ? reject(err) : resolve())));
    // A pty keeps bytes nobody read: whatever a host sent before this power-up is gone on a real board.
    await new Promise<void>((resolve) => p.flush(() => resolve()));
    p.on("data", (chunk: Buffer) => {
      if (port === p) board.receive(chunk);
    });
    p.on("error", (err) => log(`firmata board: serial error: ${err.message}`));
    p.on("close", () => {
      if (port !== p) return;
      port = null;
      board.halt();
      log("firmata board: serial port closed");
    });
    port = p;
  };
  const close = async (): Promise<void> => {
    const p = port;
    port = null;
    board.halt();
    if (p === null || !p.isOpen) return;
    await new Promise<void>((resolve) => p.close(() => resolve()));
  };

  await open();
  board.boot();
  const pty = opts.pty;
  return {
    url: `serial://${pty?.hubPath ?? path}?baud=${baud}`,
    board,
    events: board.events,
    servoAngles: () => board.servoAngles(),
    setDigitalInput: (pin, value) => board.setDigitalInput(pin, value),
    setAnalogInput: (channel, value) => board.setAnalogInput(channel, value),
    get plugged() {
      return port !== null;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await close();
    },
    async unplug() {
      await close();
      await pty?.unplug();
    },
    async replug() {
      if (stopped) throw new Error("firmata board simulator is stopped");
      await pty?.replug();
      if (port === null) await open();
      board.boot();
    },
  };
}
