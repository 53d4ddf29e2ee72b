/**
 * A simulated Tiny House serial board (the Arduino in the utility cupboard): the serial framing of
 * the contract over the device end of a pty (or one TCP connection where socat is missing), with
 * the same device-side safety as the firmware: safe outputs at start, leases, 3 s without the
 * hub's BEAT -> every relay off. Faults: garbage, bad checksums, a reboot mid-stream, unplug.
 */
import net from "node:net";
import { SerialPort } from "serialport";
import { HUB_HEARTBEAT_TIMEOUT_MS } from "../../firmware-bridge/contract/messages.ts";
import { LineSplitter, SERIAL_PROTOCOL_VERSION, decodeLine, encodeLine, isDecodeError, numberField, type LineType } from "../../firmware-bridge/serial/codec.ts";
import { systemClock, type Clock, type Timer } from "../../hub/src/core/clock.ts";
import type { PtyPair } from "../common/pty-pair.ts";

export interface SerialBoardSimOptions {
  /** One of: a pty pair (the simulator opens its device end), or a TCP port (0 = any). */
  pty?: PtyPair;
  tcpPort?: number;
  clock?: Clock;
  periodMs?: number;
  /** Protocol version to announce (to test a refusal). */
  proto?: number;
}

interface Relay {
  safe: number;
  leaseMs: number;
  value: number;
  lease: Timer | null;
}

const CHANNELS = [
  { ch: "cupboardTempC", unit: "°C", min: -20, max: 80, label: "Temperatuur technische kast" },
  { ch: "rainTankLevelPct", unit: "%", min: 0, max: 100, label: "Niveau regenton" },
  { ch: "doorOpen", unit: "", min: 0, max: 1, label: "Deur technische kast open" },
  { ch: "leak", unit: "", min: 0, max: 1, label: "Lekdetectie kast" },
] as const;

export class SerialBoardSim {
  private port: SerialPort | null = null;
  private server: net.Server | null = null;
  private socket: net.Socket | null = null;
  private seq = 0;
  private boot = 1;
  private welcomed = false;
  private lastBeatAt: number | null = null;
  private readonly timers: Timer[] = [];
  private hubTimer: Timer | null = null;
  private startedAt: number;
  private readonly splitter: LineSplitter;
  readonly relays = new Map<string, Relay>([
    ["lightsEnable", { safe: 0, leaseMs: 10_000, value: 0, lease: null }],
    ["fanEnable", { safe: 0, leaseMs: 10_000, value: 0, lease: null }],
  ]);
  readonly readings: Record<string, number> = { cupboardTempC: 21.5, rainTankLevelPct: 64, doorOpen: 0, leak: 0 };
  readonly faults = { garbage: 0, badChecksum: 0 };
  private readonly clock: Clock;
  private readonly periodMs: number;
  /** Where the hub connects: serial://<path> or tcp://127.0.0.1:<port>. */
  url = "";

  constructor(private readonly options: SerialBoardSimOptions) {
    this.clock = options.clock ?? systemClock;
    this.periodMs = options.periodMs ?? 1000;
    this.startedAt = this.clock.now();
    this.splitter = new LineSplitter((l) => this.onLine(l), () => {});
  }

  async start(): Promise<void> {
    if (this.options.pty !== undefined) {
      await this.openPty(this.options.pty.devicePath);
      this.url = `serial://${this.options.pty.hubPath}?baud=115200`;
    } else {
      this.server = net.createServer((socket) => {
        this.socket?.destroy();
        this.socket = socket;
        socket.setNoDelay(true);
        socket.on("data", (d) => this.splitter.push(d));
        socket.on("error", () => {});
        this.powerUp();
      });
      await new Promise<void>((resolve) => this.server?.listen(this.options.tcpPort ?? 0, "127.0.0.1", () => resolve()));
      const a = this.server.address();
      this.url = `tcp://127.0.0.1:${typeof a === "object" && a !== null ? a.port : 0}`;
    }
    this.timers.push(this.clock.setInterval(() => this.tele(), this.periodMs));
    this.timers.push(this.clock.setInterval(() => this.health(), 10_000));
    this.powerUp();
  }

  async stop(): Promise<void> {
    for (const t of this.timers.splice(0)) t.cancel();
    this.hubTimer?.cancel();
    for (const r of this.relays.values()) r.lease?.cancel();
    await this.closePort();
    this.socket?.destroy();
    await new Promise<void>((resolve) => (this.server === null ? resolve() : this.server.close(() => resolve())));
  }

  /** A reset: boot counter +1, relays safe, sequence from 0, HELLO again. */
  reboot(): void {
    this.boot++;
    this.powerUp();
  }

  /** Our end goes away (with the pty pair, socat too: the hub's port errors like a pulled cable). */
  async unplug(): Promise<void> {
    await this.closePort();
    await this.options.pty?.unplug();
    this.allSafe();
  }

  async replug(): Promise<void> {
    if (this.options.pty === undefined) return;
    await this.options.pty.replug();
    await this.openPty(this.options.pty.devicePath);
    this.powerUp();
  }

  relay(name: string): number {
    return this.relays.get(name)?.value ?? NaN;
  }

  private async openPty(path: string): Promise<void> {
    const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    port.on("data", (d: Buffer) => this.splitter.push(d));
    port.on("error", () => {});
    this.port = port;
  }

  private async closePort(): Promise<void> {
    const port = this.port;
    this.port = null;
    if (port?.isOpen === true) await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  private write(text: string): void {
    if (this.port?.isOpen === true) this.port.write(text);
    else if (this.socket !== null && !this.socket.destroyed) this.socket.write(text);
  }

  private send(type: LineType, fields: ReadonlyArray<readonly [string, string | number]> = []): void {
    if (this.faults.garbage > 0 && Math.random() < this.faults.garbage) this.write("\u00ff\u00fe\u0013garbage\n");
    let line = encodeLine(type, this.seq++, fields);
    if (this.faults.badChecksum > 0 && Math.random() < this.faults.badChecksum) line = `${line.slice(0, -2)}00`;
    this.write(`${line}\n`);
  }

  private powerUp(): void {
    this.seq = 0;
    this.welcomed = false;
    this.startedAt = this.clock.now();
    this.splitter.reset();
    this.allSafe();
    this.hello();
  }

  private hello(): void {
    this.send("HELLO", [
      ["proto", this.options.proto ?? SERIAL_PROTOCOL_VERSION],
      ["model", "TEC-TH-SERIAL-SIM"],
      ["fw", "sim-1.0.0"],
      ["boot", this.boot],
    ]);
    for (const c of CHANNELS) this.send("META", [["ch", c.ch], ["unit", c.unit], ["min", c.min], ["max", c.max], ["period", this.periodMs], ["label", c.label]]);
    for (const [name, r] of this.relays) this.send("META", [["act", name], ["safe", r.safe], ["lease", r.leaseMs], ["min", 0], ["max", 1]]);
    this.send("META", [["end", 1], ["ch", CHANNELS.length], ["act", this.relays.size]]);
  }

  private tele(): void {
    this.readings.cupboardTempC = Math.round((21.5 + Math.sin(this.clock.now() / 60_000) * 2) * 10) / 10;
    this.send("TELE", [["ts", this.clock.now() - this.startedAt], ...Object.entries(this.readings)]);
    // No WELCOME yet: keep introducing ourselves every other second.
    if (!this.welcomed && (this.clock.now() - this.startedAt) % 2000 < this.periodMs) this.hello();
  }

  private health(): void {
    this.send("HEALTH", [["state", "ok"], ["up", Math.round((this.clock.now() - this.startedAt) / 1000)], ["boot", this.boot], ["heap", 812]]);
  }

  private onLine(raw: string): void {
    const line = decodeLine(raw);
    if (isDecodeError(line)) return; // a real board drops what it cannot read
    switch (line.type) {
      case "WHO":
        this.hello();
        return;
      case "WELCOME":
        this.welcomed = true;
        return;
      case "REFUSE":
        this.welcomed = false;
        this.allSafe();
        return;
      case "BEAT":
        this.lastBeatAt = this.clock.now();
        this.hubTimer?.cancel();
        this.hubTimer = this.clock.setTimeout(() => this.allSafe("hub-lost"), HUB_HEARTBEAT_TIMEOUT_MS);
        return;
      case "CMD":
        this.onCommand(line.fields.get("id") ?? "", line.fields.get("act") ?? "", numberField(line, "value"), numberField(line, "lease"));
        return;
      default:
        return;
    }
  }

  private onCommand(id: string, act: string, value: number | undefined, lease: number | undefined): void {
    const r = this.relays.get(act);
    const refuse = (err: string) => this.send("ACK", [["id", id], ["ok", 0], ["err", err]]);
    if (r === undefined) return refuse(`unknown actuator ${act}`);
    if (value === undefined || lease === undefined || value < 0 || value > 1) return refuse(`value ${String(value)} is outside 0..1`);
    const hubAlive = this.welcomed && this.lastBeatAt !== null && this.clock.now() - this.lastBeatAt < HUB_HEARTBEAT_TIMEOUT_MS;
    if (!hubAlive && value !== r.safe) return refuse("hub-lost");
    r.lease?.cancel();
    r.value = value;
    r.lease = this.clock.setTimeout(() => this.set(act, r.safe, "lease"), Math.min(lease, r.leaseMs));
    this.send("ACK", [["id", id], ["ok", 1]]);
  }

  private set(name: string, value: number, why: string): void {
    const r = this.relays.get(name);
    if (r === undefined || r.value === value) return;
    r.value = value;
    r.lease?.cancel();
    r.lease = null;
    this.send("EVENT", [["type", "actuator-safe"], ["detail", `${name}:${why}`]]);
  }

  private allSafe(why = "boot"): void {
    for (const [name, r] of this.relays) {
      if (why === "boot") {
        r.lease?.cancel();
        r.lease = null;
        r.value = r.safe;
      } else {
        this.set(name, r.safe, why);
      }
    }
  }
}
