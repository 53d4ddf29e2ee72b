/**
 * A StandardFirmata board (an Arduino Uno) on the device side of a pty, opened with serialport at
 * 57600 like real hardware, so the hub's johnny-five + firmata-io stack talks to it byte for byte;
 * or StandardFirmataWiFi (an ESP32 or ESP8266) serving one TCP client, where socat is missing.
 *
 * The board boots when the simulator starts (version + firmware banner, `bootDelayMs` after
 * power-up). On a pty the simulator cannot see the host open its end (there is no DTR reset), and
 * the host flushes stale input after opening: a host that opens later misses the banner and asks
 * (firmata.js does so after its `reportVersionTimeout`). Over TCP a connection resets nothing and
 * the banner went to nobody, as with StandardFirmataWiFi: the host asks. `unplug()` is a pulled
 * USB cable or a power cut: our end closes abruptly (socat is killed, given a `pty`, so the hub's
 * port fails as it would; over TCP the connection drops and new ones are refused); `replug()`
 * powers the board up again.
 */
import type { EventEmitter } from "node:events";
import net from "node:net";
import { SerialPort } from "serialport";
import { systemClock, type Clock } from "../../hub/src/core/clock.ts";
import type { PtyPair } from "../common/pty-pair.ts";
import { type FirmataBoardEvents, StandardFirmata } from "./board.ts";

export { FIRMWARE, UNO_CAPABILITIES, type FirmataBoardEvents, type ServoWrite, StandardFirmata } from "./board.ts";

export interface FirmataBoardOptions {
  /** The device side of a pty (or any serial device). Give one of `path`, `pty`, `tcpPort`. */
  path?: string;
  /** A pty pair: the board opens `devicePath`; `unplug()` also kills socat, `replug()` restarts it. */
  pty?: PtyPair;
  /** Serve Firmata over TCP on 127.0.0.1 (0 = any free port), as StandardFirmataWiFi does on 3030. */
  tcpPort?: number;
  clock?: Clock;
  /** Digital input levels at power-up, e.g. a door switch closed from the start: `{ 2: 1 }`. */
  pins?: Readonly<Record<number, 0 | 1>>;
  /** Default 57600, what StandardFirmata's `Firmata.begin` uses. */
  baud?: number;
  /** Servo speed in seconds per 60 degrees (0.1-0.2 for hobby servos); default instantaneous. */
  servoSecondsPer60Deg?: number;
  /** From power-up to the banner, input lost meanwhile (an Uno: 2200-2500 ms); default 0. */
  bootDelayMs?: number;
  logger?: (msg: string) => void;
}

export interface FirmataBoardHandle {
  /** Where a host connects: `serial://<hub path>?baud=57600` (with `pty`), `serial://<path>?baud=…` or `tcp://127.0.0.1:<port>`. */
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
  /** The cable is pulled: our end closes at once (socat goes, given a `pty`; over TCP the connection drops and new ones are refused); the board is unpowered. */
  unplug(): Promise<void>;
  /** Plugged back in: the port reopens and the board boots (servos detached, banner sent). */
  replug(): Promise<void>;
}

export async function startFirmataBoard(opts: FirmataBoardOptions): Promise<FirmataBoardHandle> {
  const given = [opts.path, opts.pty, opts.tcpPort].filter((x) => x !== undefined).length;
  if (given !== 1) throw new Error("startFirmataBoard: give exactly one of path, pty, tcpPort");
  const baud = opts.baud ?? 57600;
  const log = opts.logger ?? (() => {});
  let stopped = false;
  let link: BoardLink | null = null;

  const board = new StandardFirmata({
    clock: opts.clock ?? systemClock,
    ...(opts.pins !== undefined ? { inputs: opts.pins } : {}),
    ...(opts.servoSecondsPer60Deg !== undefined ? { servoSecondsPer60Deg: opts.servoSecondsPer60Deg } : {}),
    ...(opts.bootDelayMs !== undefined ? { bootDelayMs: opts.bootDelayMs } : {}),
    output: (bytes) => link?.write(bytes),
  });
  const wiring = { receive: (chunk: Buffer) => board.receive(chunk), halt: () => board.halt(), log };
  link = opts.tcpPort !== undefined ? await tcpLink(opts.tcpPort, wiring) : await serialLink(opts.pty?.devicePath ?? opts.path ?? "", baud, wiring);
  const l = link;

  board.boot();
  const pty = opts.pty;
  return {
    url: opts.tcpPort !== undefined ? l.url : `serial://${pty?.hubPath ?? opts.path ?? ""}?baud=${baud}`,
    board,
    events: board.events,
    servoAngles: () => board.servoAngles(),
    setDigitalInput: (pin, value) => board.setDigitalInput(pin, value),
    setAnalogInput: (channel, value) => board.setAnalogInput(channel, value),
    get plugged() {
      return l.powered;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      board.halt();
      await l.close();
    },
    async unplug() {
      board.halt();
      await l.close();
      await pty?.unplug();
    },
    async replug() {
      if (stopped) throw new Error("firmata board simulator is stopped");
      await pty?.replug();
      if (!l.powered) await l.open();
      board.boot();
    },
  };
}

interface LinkWiring {
  receive(chunk: Buffer): void;
  /** The link went away under the board (the host end of a pty died): it stops sampling. */
  halt(): void;
  log(msg: string): void;
}

/** The board's end of its link: a serial port, or a TCP server with at most one client. */
interface BoardLink {
  readonly url: string;
  /** True while the board's end is open (the cable is in, the board has power). */
  readonly powered: boolean;
  write(bytes: Buffer): void;
  open(): Promise<void>;
  /** Closes our end at once. Safe to call twice. */
  close(): Promise<void>;
}

async function serialLink(path: string, baud: number, w: LinkWiring): Promise<BoardLink> {
  let port: SerialPort | null = null;
  const link: BoardLink = {
    url: `serial://${path}?baud=${baud}`,
    get powered() {
      return port !== null;
    },
    write(bytes) {
      if (port !== null && port.isOpen) port.write(bytes);
    },
    async open() {
      const p = new SerialPort({ path, baudRate: baud, autoOpen: false });
      await new Promise<void>((resolve, reject) => p.open((err) => (err ? reject(err) : resolve())));
      // A pty keeps bytes nobody read: whatever a host sent before this power-up is gone on a real board.
      await new Promise<void>((resolve) => p.flush(() => resolve()));
      p.on("data", (chunk: Buffer) => {
        if (port === p) w.receive(chunk);
      });
      p.on("error", (err) => w.log(`firmata board: serial error: ${err.message}`));
      p.on("close", () => {
        if (port !== p) return;
        port = null;
        w.halt();
        w.log("firmata board: serial port closed");
      });
      port = p;
    },
    async close() {
      const p = port;
      port = null;
      if (p === null || !p.isOpen) return;
      await new Promise<void>((resolve) => p.close(() => resolve()));
    },
  };
  await link.open();
  return link;
}

/**
 * StandardFirmataWiFi's server: one client at a time. A new connection takes over from the old one
 * (a host that reconnects after a Wi-Fi drop would otherwise wait for the board to notice).
 */
async function tcpLink(wantPort: number, w: LinkWiring): Promise<BoardLink> {
  let server: net.Server | null = null;
  let client: net.Socket | null = null;
  let port = wantPort;
  const link: BoardLink = {
    get url() {
      return `tcp://127.0.0.1:${port}`;
    },
    get powered() {
      return server !== null;
    },
    write(bytes) {
      if (client !== null && !client.destroyed) client.write(bytes);
    },
    async open() {
      const s = net.createServer((socket) => {
        client?.destroy();
        client = socket;
        socket.setNoDelay(true);
        socket.on("data", (chunk) => {
          if (client === socket) w.receive(chunk);
        });
        socket.on("error", () => {});
        socket.on("close", () => {
          if (client === socket) client = null;
        });
      });
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        s.listen(port, "127.0.0.1", () => resolve());
      });
      const a = s.address();
      if (typeof a === "object" && a !== null) port = a.port; // the same port again after a replug
      server = s;
    },
    async close() {
      const s = server;
      server = null;
      client?.destroy();
      client = null;
      if (s !== null) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
  await link.open();
  return link;
}
