/**
 * Byte links to one device: a serial port (by path, or found by USB vendor/product/serial number),
 * or a TCP socket (a simulator on a machine without ptys, a serial-to-network bridge). Only this
 * folder knows the difference; adapters speak to a `ByteLink` and read `serial:///dev/ttyACM0?baud=115200`
 * or `tcp://127.0.0.1:5001` from the config.
 */
import net from "node:net";
import { SerialPort } from "serialport";
import { HubError } from "../core/errors.ts";

export type LinkSpec =
  | { kind: "serial"; path: string; baud: number }
  | { kind: "serial-usb"; vendorId: string; productId: string; serialNumber?: string; baud: number }
  | { kind: "tcp"; host: string; port: number };

/**
 * `serial:///dev/ttyACM0?baud=115200`, `serial://?vid=2c99&pid=0002&serial=CZPX1234&baud=115200`,
 * `tcp://127.0.0.1:5001`. Errors name what is wrong.
 */
export function parseLinkUrl(url: string): LinkSpec {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new HubError("CONFIG_INVALID", `"${url}" is not a transport URL (serial:///dev/ttyACM0?baud=115200 or tcp://host:port)`);
  }
  if (u.protocol === "tcp:") {
    const port = Number(u.port);
    if (u.hostname === "" || !Number.isInteger(port) || port <= 0) throw new HubError("CONFIG_INVALID", `"${url}": tcp needs a host and a port`);
    return { kind: "tcp", host: u.hostname, port };
  }
  if (u.protocol !== "serial:") throw new HubError("CONFIG_INVALID", `"${url}": unknown transport "${u.protocol}" (serial: or tcp:)`);
  const baudText = u.searchParams.get("baud") ?? "115200";
  const baud = Number(baudText);
  if (!Number.isInteger(baud) || baud < 300 || baud > 4_000_000) throw new HubError("CONFIG_INVALID", `"${url}": baud ${baudText} is not a baud rate`);
  const vid = u.searchParams.get("vid");
  const pid = u.searchParams.get("pid");
  if (vid !== null || pid !== null) {
    if (vid === null || pid === null || !/^[0-9a-f]{4}$/i.test(vid) || !/^[0-9a-f]{4}$/i.test(pid)) {
      throw new HubError("CONFIG_INVALID", `"${url}": vid and pid must both be given as 4 hex digits`);
    }
    const serialNumber = u.searchParams.get("serial");
    return { kind: "serial-usb", vendorId: vid.toLowerCase(), productId: pid.toLowerCase(), ...(serialNumber !== null ? { serialNumber } : {}), baud };
  }
  const path = decodeURIComponent(u.pathname);
  if (path === "" || path === "/") throw new HubError("CONFIG_INVALID", `"${url}": serial needs a device path or vid and pid`);
  return { kind: "serial", path, baud };
}

export interface ByteLink {
  readonly description: string;
  readonly isOpen: boolean;
  /** Opens the link; rejects with HubError TRANSPORT_FAILED naming the reason. */
  open(): Promise<void>;
  write(data: string | Buffer): Promise<void>;
  /** Closes on purpose (no close event). Safe to call twice. */
  close(): Promise<void>;
  onData(fn: (chunk: Buffer) => void): void;
  /** The link went away on its own: unplugged, the far end closed, an I/O error. */
  onLost(fn: (reason: string) => void): void;
}

export function describeSpec(spec: LinkSpec): string {
  switch (spec.kind) {
    case "serial":
      return `serial ${spec.path} @ ${spec.baud}`;
    case "serial-usb":
      return `USB serial ${spec.vendorId}:${spec.productId}${spec.serialNumber !== undefined ? ` #${spec.serialNumber}` : ""} @ ${spec.baud}`;
    case "tcp":
      return `tcp ${spec.host}:${spec.port}`;
  }
}

/** Finds the port of a USB device by vendor, product and (optionally) serial number. */
export async function findUsbPort(spec: Extract<LinkSpec, { kind: "serial-usb" }>): Promise<string> {
  const ports = await SerialPort.list();
  const match = ports.find(
    (p) => p.vendorId?.toLowerCase() === spec.vendorId && p.productId?.toLowerCase() === spec.productId && (spec.serialNumber === undefined || p.serialNumber === spec.serialNumber),
  );
  if (match === undefined) throw new HubError("TRANSPORT_FAILED", `no USB serial device ${describeSpec(spec)} is plugged in`);
  return match.path;
}

abstract class BaseLink implements ByteLink {
  protected dataFns: Array<(chunk: Buffer) => void> = [];
  protected lostFns: Array<(reason: string) => void> = [];
  protected closing = false;

  constructor(readonly description: string) {}

  abstract get isOpen(): boolean;
  abstract open(): Promise<void>;
  abstract write(data: string | Buffer): Promise<void>;
  abstract close(): Promise<void>;

  onData(fn: (chunk: Buffer) => void): void {
    this.dataFns.push(fn);
  }

  onLost(fn: (reason: string) => void): void {
    this.lostFns.push(fn);
  }

  protected data(chunk: Buffer): void {
    for (const fn of this.dataFns) fn(chunk);
  }

  protected lost(reason: string): void {
    if (this.closing) return;
    for (const fn of this.lostFns) fn(reason);
  }
}

class SerialLink extends BaseLink {
  private port: SerialPort | null = null;

  constructor(private readonly spec: Extract<LinkSpec, { kind: "serial" | "serial-usb" }>) {
    super(describeSpec(spec));
  }

  get isOpen(): boolean {
    return this.port?.isOpen ?? false;
  }

  async open(): Promise<void> {
    this.closing = false;
    const path = this.spec.kind === "serial" ? this.spec.path : await findUsbPort(this.spec);
    const port = new SerialPort({ path, baudRate: this.spec.baud, autoOpen: false });
    await new Promise<void>((resolve, reject) => {
      port.open((error) => (error ? reject(new HubError("TRANSPORT_FAILED", `cannot open ${path}: ${error.message}`)) : resolve()));
    });
    // A pty (and a USB CDC port after a replug) can hold stale bytes: start clean.
    await new Promise<void>((resolve) => port.flush(() => resolve()));
    port.on("data", (chunk: Buffer) => this.data(chunk));
    port.on("close", (error: Error | null) => {
      this.port = null;
      this.lost(error?.message ?? "port closed");
    });
    port.on("error", (error: Error) => this.lost(error.message));
    this.port = port;
  }

  async write(data: string | Buffer): Promise<void> {
    const port = this.port;
    if (port === null || !port.isOpen) throw new HubError("TRANSPORT_CLOSED", `${this.description} is not open`);
    await new Promise<void>((resolve, reject) => {
      port.write(data, (error) => (error ? reject(new HubError("TRANSPORT_FAILED", `write to ${this.description} failed: ${error.message}`)) : resolve()));
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    const port = this.port;
    this.port = null;
    if (port === null || !port.isOpen) return;
    await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}

class TcpLink extends BaseLink {
  private socket: net.Socket | null = null;

  constructor(private readonly spec: Extract<LinkSpec, { kind: "tcp" }>) {
    super(describeSpec(spec));
  }

  get isOpen(): boolean {
    return this.socket !== null && !this.socket.destroyed;
  }

  async open(): Promise<void> {
    this.closing = false;
    const socket = net.connect({ host: this.spec.host, port: this.spec.port, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("error", (e) => reject(new HubError("TRANSPORT_FAILED", `cannot connect to ${this.description}: ${e.message}`)));
    });
    socket.on("data", (chunk) => this.data(chunk));
    socket.on("error", () => {});
    socket.on("close", () => {
      this.socket = null;
      this.lost("connection closed");
    });
    this.socket = socket;
  }

  async write(data: string | Buffer): Promise<void> {
    const socket = this.socket;
    if (socket === null || socket.destroyed) throw new HubError("TRANSPORT_CLOSED", `${this.description} is not open`);
    await new Promise<void>((resolve, reject) => socket.write(data, (e) => (e ? reject(new HubError("TRANSPORT_FAILED", e.message)) : resolve())));
  }

  close(): Promise<void> {
    this.closing = true;
    this.socket?.destroy();
    this.socket = null;
    return Promise.resolve();
  }
}

export function createByteLink(spec: LinkSpec): ByteLink {
  return spec.kind === "tcp" ? new TcpLink(spec) : new SerialLink(spec);
}
