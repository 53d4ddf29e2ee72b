/**
 * The printer simulator on a real transport: the Marlin engine (marlin.ts) bound to the device side
 * of a pty (opened with serialport, like real hardware) or to one TCP connection on 127.0.0.1 (for
 * machines without socat). Both directions are paced to the baud rate (line-pacer.ts).
 *
 * Connecting resets the firmware on TCP (like the DTR reset of an Arduino-based board), so the host
 * sees `start`. On a pty the simulator cannot see the host open its end, and serialport flushes
 * unread input on open: a host that opens after the simulator started misses the banner, like a
 * board without auto-reset. It must then say hello (`M110 N0`) and wait for `ok`.
 */
import { createServer, type Server, type Socket } from "node:net";
import { SerialPort } from "serialport";
import { systemClock, type Clock } from "../../hub/src/core/clock.ts";
import type { PtyPair } from "../common/pty-pair.ts";
import { LinePacer } from "./line-pacer.ts";
import { MarlinFirmware, type MarlinOptions } from "./marlin.ts";

export interface PrinterSimOptions {
  /** Device side of a pty (or any serial device). One of `path`, `pty`, `tcpPort`. */
  path?: string;
  /**
   * A pty pair: the simulator opens `devicePath`, and `unplug()` also kills socat so the hub side
   * fails like a pulled cable (with only `path`, unplugging leaves the hub hearing silence).
   */
  pty?: PtyPair;
  /** Serve one TCP connection on 127.0.0.1 at this port (0 = any free port; see `handle.url`). */
  tcpPort?: number;
  /** Default 115200. */
  baud?: number;
  /** Motion, homing and dwell speed-up; default 1 (real time). */
  speedFactor?: number;
  /** Heater physics and thermal timer speed-up; default 1. */
  heatFactor?: number;
  clock?: Clock;
  /** M115 MACHINE_TYPE; default "TEC Sim Printer". */
  name?: string;
  seed?: number;
  /** Further firmware options (noise, boot delay, planner size …). */
  firmware?: Omit<MarlinOptions, "output" | "clock" | "speedFactor" | "heatFactor" | "seed" | "machineType" | "onDisconnect">;
  logger?: (msg: string) => void;
}

export interface PrinterSimHandle {
  firmware: MarlinFirmware;
  /** Where a host connects: `serial://<hub path>` (pty), `serial://<path>`, or `tcp://127.0.0.1:<port>`. */
  url: string;
  /** The TCP port actually listened on (TCP mode only). */
  tcpPort: number | null;
  /** Powers the printer off and closes the transport. Safe to call twice. */
  stop(): Promise<void>;
  /** Our end goes away abruptly (and socat too, given a `pty`); the firmware keeps running. */
  unplug(): Promise<void>;
  /** Back again: the transport reopens and the firmware resets (banner, line numbers from 0). */
  replug(): Promise<void>;
}

export async function startPrinterSim(opts: PrinterSimOptions): Promise<PrinterSimHandle> {
  const modes = [opts.path, opts.pty, opts.tcpPort].filter((m) => m !== undefined).length;
  if (modes !== 1) throw new Error("startPrinterSim: give exactly one of path, pty, tcpPort");
  const clock = opts.clock ?? systemClock;
  const baud = opts.baud ?? 115200;
  const log = opts.logger ?? (() => {});
  const name = opts.name ?? "TEC Sim Printer";
  let sink: ((bytes: Buffer) => void) | null = null;
  const tx = new LinePacer(clock, baud, (bytes) => sink?.(bytes));
  let handle: PrinterSimHandle | null = null;
  const firmware = new MarlinFirmware({
    bootGarbage: true,
    ...opts.firmware,
    output: (bytes) => tx.push(bytes),
    clock,
    speedFactor: opts.speedFactor ?? 1,
    heatFactor: opts.heatFactor ?? 1,
    seed: opts.seed ?? 1,
    machineType: name,
    onDisconnect: () => {
      log(`${name}: injected disconnect`);
      void handle?.unplug();
    },
  });
  // A pty carries no DTR, so the auto-reset USB printers do when a host opens the port cannot
  // happen by itself: a halted firmware that hears a host's hello (`M110 N0`) after a pause of a
  // second or more resets, as the real board would have when the host reopened the port.
  let lastRxAt = 0;
  const rx = new LinePacer(clock, baud, (bytes) => {
    const now = clock.now();
    const state = firmware.snapshot().state;
    if ((state === "killed" || state === "stopped") && now - lastRxAt >= 1000 && /M110 N0/.test(bytes.toString("latin1"))) {
      log(`${name}: host reopened the port after a halt: reset (DTR)`);
      firmware.reset();
    }
    lastRxAt = now;
    firmware.receive(bytes);
  });
  const link: Link = { firmware, tx, rx, log, name, setSink: (s) => (sink = s) };
  handle = opts.tcpPort !== undefined ? await serveTcp(link, opts.tcpPort) : await openSerial(link, opts.pty?.devicePath ?? opts.path ?? "", baud, opts.pty);
  return handle;
}

interface Link {
  firmware: MarlinFirmware;
  tx: LinePacer;
  rx: LinePacer;
  log: (msg: string) => void;
  name: string;
  setSink(sink: ((bytes: Buffer) => void) | null): void;
}

async function openSerial(link: Link, path: string, baud: number, pty: PtyPair | undefined): Promise<PrinterSimHandle> {
  const { firmware, tx, rx, log, name } = link;
  let port: SerialPort | null = null;
  let stopped = false;

  const open = async (): Promise<void> => {
    const p = new SerialPort({ path, baudRate: baud, autoOpen: false });
    await new Promise<void>((resolve, reject) => p.open((err) => (err ? reject(err) : resolve())));
    p.on("data", (chunk: Buffer) => rx.push(chunk));
    p.on("error", (err) => log(`${name}: serial error: ${err.message}`));
    p.on("close", () => {
      if (port === p) {
        port = null;
        drop();
        log(`${name}: serial port closed`);
      }
    });
    port = p;
    link.setSink((bytes) => {
      if (port === p && p.isOpen) p.write(bytes);
    });
  };
  const drop = (): void => {
    link.setSink(null);
    tx.clear();
    rx.clear();
  };
  const close = async (): Promise<void> => {
    const p = port;
    port = null;
    drop();
    if (p === null || !p.isOpen) return;
    await new Promise<void>((resolve) => p.close(() => resolve()));
  };

  await open();
  // Whoever unplugs the pair, our end goes first (a port left reading a dead pty spins).
  const unsubscribe = pty?.beforeUnplug(close);
  firmware.start();
  return {
    firmware,
    url: `serial://${pty?.hubPath ?? path}`,
    tcpPort: null,
    async stop() {
      if (stopped) return;
      stopped = true;
      unsubscribe?.();
      firmware.stop();
      await close();
    },
    async unplug() {
      await close();
      await pty?.unplug();
    },
    async replug() {
      if (stopped) throw new Error("printer simulator is stopped");
      await pty?.replug();
      if (port === null) await open();
      firmware.reset();
    },
  };
}

async function serveTcp(link: Link, requestedPort: number): Promise<PrinterSimHandle> {
  const { firmware, tx, rx, log, name } = link;
  let active: Socket | null = null;
  let server: Server | null = null;
  let listeningPort = requestedPort;
  let stopped = false;

  const drop = (): void => {
    link.setSink(null);
    tx.clear();
    rx.clear();
  };
  const onConnection = (socket: Socket): void => {
    if (active !== null) {
      // A serial port has one user at a time.
      log(`${name}: second connection refused`);
      socket.destroy();
      return;
    }
    active = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => rx.push(chunk));
    socket.on("error", (err) => log(`${name}: tcp error: ${err.message}`));
    socket.on("close", () => {
      if (active === socket) {
        active = null;
        drop();
      }
    });
    link.setSink((bytes) => {
      if (active === socket && !socket.destroyed) socket.write(bytes);
    });
    firmware.reset(); // opening the port resets the board (DTR), so the host sees `start`
  };
  const listen = async (): Promise<void> => {
    const s = createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(listeningPort, "127.0.0.1", () => {
        s.off("error", reject);
        resolve();
      });
    });
    const address = s.address();
    if (address !== null && typeof address === "object") listeningPort = address.port;
    server = s;
  };
  const close = async (): Promise<void> => {
    const s = server;
    server = null;
    active?.destroy();
    active = null;
    drop();
    if (s !== null) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  firmware.start();
  return {
    firmware,
    url: `tcp://127.0.0.1:${listeningPort}`,
    tcpPort: listeningPort,
    async stop() {
      if (stopped) return;
      stopped = true;
      firmware.stop();
      await close();
    },
    unplug: close,
    async replug() {
      if (stopped) throw new Error("printer simulator is stopped");
      if (server === null) await listen();
    },
  };
}
