/**
 * A load generator for the device contract: N devices on raw TCP sockets, each with its own MQTT
 * session, publishing pre-encoded telemetry at a controlled rate. Encoding packets with
 * mqtt-packet and writing them in batches keeps the generator cheap, so the hub, not the load
 * generator, is what gets measured (mqtt.js tops out near 100k msg/s on its own).
 */
import net from "node:net";
import { performance } from "node:perf_hooks";
import mqttPacket from "mqtt-packet";

export interface LoadDevice {
  id: string;
  username?: string;
  password?: string;
}

export interface LoadOptions {
  host: string;
  port: number;
  site: string;
  devices: LoadDevice[];
  /**
   * Sequence numbers each device's publish log holds before it grows (default 65,536). Thousands
   * of devices sending a few messages each need far less than 512 KB of log apiece.
   */
  logCapacity?: number;
}

export interface RunResult {
  sent: number;
  elapsedMs: number;
}

/** Growable per-device record of when each sequence number was published (performance.now()). */
export class PublishLog {
  private times: Float64Array;
  constructor(initial = 1 << 16) {
    this.times = new Float64Array(initial);
  }
  set(seq: number, t: number): void {
    if (seq >= this.times.length) {
      const next = new Float64Array(Math.max(this.times.length * 2, seq + 1));
      next.set(this.times);
      this.times = next;
    }
    this.times[seq] = t;
  }
  get(seq: number): number {
    return this.times[seq] ?? Number.NaN;
  }
}

interface Session {
  device: LoadDevice;
  socket: net.Socket;
  topic: string;
  seq: number;
  log: PublishLog;
  template?: Buffer;
}

/** A fixed-size JSON payload and a function that writes one message's numbers into a copy of it. */
export interface TemplateFill {
  template: string;
  patch(packet: Buffer, payloadOffset: number, seq: number, ts: number): void;
}

/**
 * Writes `value` right-aligned into `width` bytes at `offset`, padded with spaces: JSON allows
 * whitespace before a number, so a payload keeps its size and its packet header stays valid.
 */
export function writePadded(buf: Buffer, offset: number, width: number, value: string): void {
  if (value.length > width) throw new RangeError(`${value} does not fit in ${width} characters`);
  buf.fill(0x20, offset, offset + width - value.length);
  buf.write(value, offset + width - value.length, "latin1");
}

const TICK_MS = 2;

export class MqttLoad {
  private sessions: Session[] = [];
  /** The next device in the round-robin. */
  private cursor = 0;

  constructor(private readonly options: LoadOptions) {}

  get logs(): PublishLog[] {
    return this.sessions.map((s) => s.log);
  }

  seqOf(index: number): number {
    return this.sessions[index]?.seq ?? 0;
  }

  /**
   * Connects every device: all at once (a connect storm), or `batch` at a time, each batch once
   * the previous one has its CONNACKs (a fleet that comes up over time).
   */
  async connect(batch = Number.POSITIVE_INFINITY): Promise<void> {
    const devices = this.options.devices;
    const step = Math.max(1, Math.min(batch, devices.length));
    this.sessions = [];
    for (let i = 0; i < devices.length; i += step) this.sessions.push(...(await Promise.all(devices.slice(i, i + step).map((d) => this.open(d)))));
  }

  /** Publishes retained status and meta for every device, as a real device does on connect. */
  async describe(meta: object): Promise<void> {
    for (const s of this.sessions) {
      const base = `tec/${this.options.site}/${s.device.id}`;
      s.socket.write(mqttPacket.generate({ cmd: "publish", topic: `${base}/status`, payload: Buffer.from("online"), qos: 0, retain: true, dup: false }));
      s.socket.write(mqttPacket.generate({ cmd: "publish", topic: `${base}/meta`, payload: Buffer.from(JSON.stringify(meta)), qos: 0, retain: true, dup: false }));
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  /**
   * Publishes `ratePerS` messages per second in total, spread evenly over the devices, for
   * `durationMs`. `payload(seq, ts)` builds each message's JSON; `fill`, if given, instead patches
   * a fixed-size template in place (cheaper: the generator must not be what limits the run).
   * The round-robin carries on where the previous run stopped, so runs in short slices still
   * spread the messages over every device.
   */
  async run(ratePerS: number, durationMs: number, payload: (seq: number, ts: number) => string, fill?: TemplateFill): Promise<RunResult> {
    const start = performance.now();
    let sent = 0;
    const n = this.sessions.length;
    return new Promise<RunResult>((resolve) => {
      const tick = () => {
        const now = performance.now();
        const elapsed = Math.min(now - start, durationMs);
        const due = Math.floor((elapsed / 1000) * ratePerS);
        const wall = Date.now();
        // One write per socket per tick: cork, queue the tick's packets, uncork. Only the sockets
        // this tick writes to: with thousands of devices, touching every socket each tick would
        // cost the generator more than the messages do.
        const corked: Session[] = [];
        while (sent < due && n > 0) {
          // Round-robin over the devices so every device sends at rate / n.
          const s = this.sessions[this.cursor % n];
          if (s === undefined) break;
          this.cursor = (this.cursor + 1) % n;
          if (!s.socket.writableCorked) {
            s.socket.cork();
            corked.push(s);
          }
          this.publish(s, wall, payload, fill);
          sent += 1;
        }
        for (const s of corked) s.socket.uncork();
        if (now - start >= durationMs) {
          resolve({ sent, elapsedMs: now - start });
          return;
        }
        setTimeout(tick, TICK_MS);
      };
      tick();
    });
  }

  /** One telemetry message from every device, now; returns how many were written. */
  once(payload: (seq: number, ts: number) => string, fill?: TemplateFill): number {
    const wall = Date.now();
    for (const s of this.sessions) this.publish(s, wall, payload, fill);
    return this.sessions.length;
  }

  private publish(s: Session, wall: number, payload: (seq: number, ts: number) => string, fill: TemplateFill | undefined): void {
    s.seq += 1;
    let packet: Buffer;
    if (fill !== undefined) {
      s.template ??= mqttPacket.generate({ cmd: "publish", topic: s.topic, payload: Buffer.from(fill.template), qos: 0, retain: false, dup: false });
      packet = Buffer.allocUnsafe(s.template.length);
      s.template.copy(packet);
      fill.patch(packet, s.template.length - fill.template.length, s.seq, wall);
    } else {
      packet = mqttPacket.generate({ cmd: "publish", topic: s.topic, payload: Buffer.from(payload(s.seq, wall)), qos: 0, retain: false, dup: false });
    }
    s.log.set(s.seq, performance.now());
    s.socket.write(packet);
  }

  close(): void {
    for (const s of this.sessions) s.socket.destroy();
    this.sessions = [];
  }

  private open(device: LoadDevice): Promise<Session> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.options.host, port: this.options.port, noDelay: true });
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      socket.on("data", (d) => parser.parse(d));
      socket.once("error", reject);
      parser.on("packet", (p) => {
        if (p.cmd !== "connack") return;
        if (p.returnCode !== 0) {
          reject(new Error(`${device.id}: CONNACK ${p.returnCode ?? "?"}`));
          return;
        }
        socket.off("error", reject);
        socket.on("error", () => {});
        resolve({ device, socket, topic: `tec/${this.options.site}/${device.id}/tele`, seq: 0, log: new PublishLog(this.options.logCapacity) });
      });
      socket.on("connect", () => {
        socket.write(
          mqttPacket.generate({
            cmd: "connect",
            protocolId: "MQTT",
            protocolVersion: 4,
            clean: true,
            clientId: `${device.id}-load`,
            keepalive: 60,
            ...(device.username !== undefined ? { username: device.username } : {}),
            ...(device.password !== undefined ? { password: Buffer.from(device.password) } : {}),
            will: { topic: `tec/${this.options.site}/${device.id}/status`, payload: Buffer.from("offline"), retain: true, qos: 1 },
          }),
        );
      });
    });
  }
}
