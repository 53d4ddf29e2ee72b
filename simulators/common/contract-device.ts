/**
 * A simulated device that speaks the TEC device contract over MQTT 3.1.1 (firmware-bridge/contract),
 * with the device-side safety promise (leases, hub heartbeat) and programmatic fault injection.
 * What it measures comes from a `read()` callback; what it drives is read back with `actuator()`.
 */
import { EventEmitter } from "node:events";
import { connect, type MqttClient } from "mqtt";
import {
  CONTRACT_VERSION,
  type ActuatorSpec,
  type ChannelSpec,
  CommandMessage,
  HUB_HEARTBEAT_TIMEOUT_MS,
  HubHeartbeat,
  MetaMessage,
  describeZodError,
  type AckMessage,
  type DeviceHealthState,
  type EventMessage,
  type HealthMessage,
  type TeleMessage,
} from "../../firmware-bridge/contract/messages.ts";
import { commandTopic, deviceTopic, hubTopic } from "../../firmware-bridge/contract/topics.ts";
import { systemClock, type Clock, type Timer } from "../../hub/src/core/clock.ts";
import { createRng, deriveSeed, type Rng } from "./rng.ts";

/** A channel as announced in the meta, minus `periodMs`: the device's period applies to all. */
export type SimChannel = Omit<ChannelSpec, "periodMs">;
export type SimActuator = ActuatorSpec;

export interface SimDeviceOptions {
  brokerUrl: string;
  site: string;
  id: string;
  password: string;
  model: string;
  /** Default "sim-1.0.0". */
  firmware?: string;
  channels: Record<string, SimChannel>;
  actuators?: Record<string, SimActuator>;
  /** Real milliseconds between telemetry messages (on the clock); also announced in the meta. */
  periodMs: number;
  /**
   * The owner calls `tick()` instead of the device running its own telemetry timer, so several
   * devices can publish readings of the same model step together.
   */
  externalTick?: boolean;
  /** The current readings; called once per telemetry message. */
  read: () => Readonly<Record<string, number>>;
  clock?: Clock;
  seed?: number;
  /** Boot counter of the first start; default 1. */
  boot?: number;
  logger?: (msg: string) => void;
  /** mqtt.js reconnect period after broker loss (real time); default 1000. */
  reconnectPeriodMs?: number;
  /** Time on the clock between the crash and the reconnect of `reboot()`; default 500. */
  rebootDelayMs?: number;
  /** Default 10 000 (the contract's health period). */
  healthPeriodMs?: number;
}

export interface SimFaults {
  /** Probability 0..1 that a telemetry message is not published (its seq is still used up). */
  drop: number;
  /** Every telemetry message is published this much later (on the clock). */
  delayMs: number;
  /** Publish every telemetry message twice with the same seq. */
  duplicate: boolean;
  /** Probability 0..1 that broken bytes are published instead of a telemetry message. */
  garble: number;
  /** A channel whose reading freezes at its first reading after the fault was injected. */
  stuck: string | null;
  /** What the device reports on `health`. */
  health: DeviceHealthState;
}

export type ActuatorReason = "command" | "lease-expired" | "hub-lost" | "boot";

export interface SimDeviceEvents {
  connected: [boot: number];
  disconnected: [];
  heartbeat: [seq: number];
  ack: [actuator: string, ack: AckMessage];
  actuator: [name: string, value: number, reason: ActuatorReason];
}

const NO_FAULTS: Readonly<SimFaults> = { drop: 0, delayMs: 0, duplicate: false, garble: 0, stuck: null, health: "ok" };
type Phase = "idle" | "running" | "down" | "stopped";

export class SimDevice extends EventEmitter<SimDeviceEvents> {
  readonly id: string;
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly log: (msg: string) => void;
  private readonly actuatorSpecs: Record<string, SimActuator>;
  private readonly values = new Map<string, number>();
  private readonly leases = new Map<string, Timer>();
  private readonly pending = new Set<Timer>();
  private readonly overrides = new Map<string, number>();
  private faultState: SimFaults = { ...NO_FAULTS };
  private stuckValue: number | undefined;
  private phase: Phase = "idle";
  private client: MqttClient | null = null;
  private online = false;
  private bootCount: number;
  private bootAtMs = 0;
  private seq = 0;
  private periodic: Timer[] = [];
  private hubTimer: Timer | null = null;
  private rebootTimer: Timer | null = null;
  private lastHeartbeatAt: number | undefined;
  private hubOffline = false;
  private waiter: { resolve: () => void; reject: (e: Error) => void } | null = null;

  /** Validates the description (throws on a bad name or range); does no I/O. */
  constructor(private readonly opts: SimDeviceOptions) {
    super();
    this.id = opts.id;
    this.clock = opts.clock ?? systemClock;
    this.rng = createRng(deriveSeed(opts.seed ?? 1, opts.id));
    this.log = opts.logger ?? (() => {});
    this.actuatorSpecs = opts.actuators ?? {};
    this.bootCount = opts.boot ?? 1;
    MetaMessage.parse(this.meta());
    this.allSafe("boot");
  }

  get boot(): number {
    return this.bootCount;
  }

  /** Connected to the broker with the birth messages sent. */
  get connected(): boolean {
    return this.online;
  }

  /** A heartbeat arrived less than HUB_HEARTBEAT_TIMEOUT_MS ago and the hub did not say offline. */
  get hubAlive(): boolean {
    const last = this.lastHeartbeatAt;
    return last !== undefined && !this.hubOffline && this.clock.now() - last < HUB_HEARTBEAT_TIMEOUT_MS;
  }

  /** The value an actuator drives right now (its safe value when no command holds). */
  actuator(name: string): number {
    const value = this.values.get(name);
    if (value === undefined) throw new RangeError(`${this.id} has no actuator "${name}"`);
    return value;
  }

  /** Connects; resolves once connected with the birth messages out. */
  start(): Promise<void> {
    if (this.phase !== "idle") return Promise.reject(new Error(`${this.id}: start() called twice`));
    return this.powerUp();
  }

  /** Clean shutdown: `offline` retained, then DISCONNECT (no will). Safe to call twice. */
  async stop(): Promise<void> {
    if (this.phase === "stopped") return;
    this.phase = "stopped";
    this.rebootTimer?.cancel();
    this.rebootTimer = null;
    const client = this.client;
    this.client = null;
    this.halt();
    this.waiter?.reject(new Error(`${this.id} stopped`));
    this.waiter = null;
    if (client === null) return;
    if (client.connected) {
      await new Promise<void>((resolve) => {
        client.once("close", () => resolve());
        client.publish(deviceTopic(this.opts.site, this.id, "status"), "offline", { qos: 1, retain: true }, () => resolve());
      });
    }
    await client.endAsync(!client.connected);
  }

  /** Drops the TCP connection without DISCONNECT, so the broker publishes the will; stays down until `restart()`. */
  crash(): void {
    if (this.phase !== "running") return;
    this.phase = "down";
    const client = this.client;
    this.client = null;
    // [MQTT-3.1.2-8] the will is published on abnormal disconnect: end(true) destroys the socket unannounced.
    client?.end(true);
    this.halt();
  }

  /** Powers up again after `crash()`: boot counter +1, seq from 0, actuators safe. */
  restart(): Promise<void> {
    if (this.phase !== "down") return Promise.reject(new Error(`${this.id}: restart() needs a crashed device`));
    this.bootCount += 1;
    return this.powerUp();
  }

  /**
   * Crash, then restart after `rebootDelayMs` on the clock (listen for `connected` to know when it
   * is back). Does nothing unless running: a second click on a control panel is harmless.
   */
  reboot(): void {
    this.crash();
    if (this.phase !== "down" || this.rebootTimer !== null) return;
    this.rebootTimer = this.clock.setTimeout(() => {
      this.rebootTimer = null;
      this.restart().catch((err: unknown) => this.log(`${this.id}: reboot failed: ${err instanceof Error ? err.message : String(err)}`));
    }, this.opts.rebootDelayMs ?? 500);
  }

  inject(faults: Partial<SimFaults>): void {
    const next = { ...this.faultState, ...faults };
    for (const key of ["drop", "garble"] as const) {
      if (!(next[key] >= 0 && next[key] <= 1)) throw new RangeError(`${key} must be a probability 0..1, got ${next[key]}`);
    }
    if (!(next.delayMs >= 0 && Number.isFinite(next.delayMs))) throw new RangeError(`delayMs must be >= 0, got ${next.delayMs}`);
    if (next.stuck !== null && !(next.stuck in this.opts.channels)) throw new RangeError(`${this.id} has no channel "${next.stuck}"`);
    if (next.stuck !== this.faultState.stuck) this.stuckValue = undefined;
    this.faultState = next;
  }

  /** Clears every fault and every override. */
  clearFaults(): void {
    this.faultState = { ...NO_FAULTS };
    this.stuckValue = undefined;
    this.overrides.clear();
  }

  faults(): Readonly<SimFaults> {
    return { ...this.faultState };
  }

  /**
   * Forces a reading until cleared with `null` (or `clearFaults()`). Any name is allowed, so a test
   * can also send an undeclared channel; NaN and Infinity go out as JSON `null`.
   */
  override(channel: string, value: number | null): void {
    if (value === null) this.overrides.delete(channel);
    else this.overrides.set(channel, value);
  }

  /** Publishes one telemetry message now (faults applied); does nothing while not online. */
  tick(): void {
    const client = this.client;
    if (client === null || !this.online) return;
    const tele: TeleMessage = { ts: this.clock.now(), seq: this.seq++, readings: this.sample() };
    const f = this.faultState;
    if (f.drop > 0 && this.rng.chance(f.drop)) return;
    // JSON.stringify writes NaN and Infinity as null, which is what the hub must cope with.
    const json = JSON.stringify(tele);
    const payload = f.garble > 0 && this.rng.chance(f.garble) ? this.garbled(json) : json;
    const send = (): void => {
      if (client !== this.client || !this.online) return;
      const topic = deviceTopic(this.opts.site, this.id, "tele");
      client.publish(topic, payload, { qos: 0 });
      if (f.duplicate) client.publish(topic, payload, { qos: 0 });
    };
    if (f.delayMs <= 0) return send();
    const timer = this.clock.setTimeout(() => {
      this.pending.delete(timer);
      send();
    }, f.delayMs);
    this.pending.add(timer);
  }

  private powerUp(): Promise<void> {
    this.phase = "running";
    this.bootAtMs = this.clock.now();
    this.lastHeartbeatAt = undefined;
    this.hubOffline = false;
    this.allSafe("boot");
    const { site } = this.opts;
    const client = connect(this.opts.brokerUrl, {
      protocolVersion: 4,
      username: this.id,
      password: this.opts.password,
      clientId: `${this.id}-${this.bootCount}`,
      keepalive: 5,
      clean: true,
      resubscribe: false, // subscribed again in onConnect, after every CONNACK
      reconnectPeriod: this.opts.reconnectPeriodMs ?? 1000,
      connectTimeout: 5000,
      will: { topic: deviceTopic(site, this.id, "status"), payload: Buffer.from("offline"), qos: 1, retain: true },
    });
    this.client = client;
    client.on("connect", () => void this.onConnect(client));
    client.on("close", () => this.onClose(client));
    client.on("message", (topic, payload) => {
      if (client === this.client) this.onMessage(topic, payload);
    });
    client.on("error", (err) => {
      this.log(`${this.id}: mqtt error: ${err.message}`);
      if (client === this.client && !this.online && this.waiter !== null) {
        this.waiter.reject(err);
        this.waiter = null;
      }
    });
    return new Promise<void>((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  private async onConnect(client: MqttClient): Promise<void> {
    const { site } = this.opts;
    this.seq = 0;
    // Separate calls: one denied topic must not cost the others (mqtt.js fails a whole SUBSCRIBE).
    for (const topic of [commandTopic(site, this.id, "+"), hubTopic(site, "heartbeat"), hubTopic(site, "status")]) {
      try {
        await client.subscribeAsync(topic, { qos: 1 });
      } catch (err) {
        this.log(`${this.id}: subscribe ${topic} refused: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (client !== this.client || !client.connected) return;
    // Birth order of the contract: status -> meta -> health, then telemetry. Each retained message
    // waits for its PUBACK: aedes stores retained QoS 1 messages before forwarding them, so a QoS 0
    // message sent right behind could overtake them on the way to a subscriber.
    try {
      await client.publishAsync(deviceTopic(site, this.id, "status"), "online", { qos: 1, retain: true });
      await client.publishAsync(deviceTopic(site, this.id, "meta"), JSON.stringify(this.meta()), { qos: 1, retain: true });
    } catch (err) {
      this.log(`${this.id}: birth failed: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    if (client !== this.client || !client.connected) return;
    this.publishHealth();
    this.online = true;
    this.cancelPeriodic();
    this.periodic = [this.clock.setInterval(() => this.publishHealth(), this.opts.healthPeriodMs ?? 10_000)];
    if (this.opts.externalTick !== true) this.periodic.push(this.clock.setInterval(() => this.tick(), this.opts.periodMs));
    this.log(`${this.id}: online (boot ${this.bootCount})`);
    this.emit("connected", this.bootCount);
    this.waiter?.resolve();
    this.waiter = null;
  }

  private onClose(client: MqttClient): void {
    if (client !== this.client) return;
    const was = this.online;
    this.online = false;
    this.cancelPeriodic();
    // Actuators are not touched here: without heartbeats the hub timer drops them within 3 s.
    if (was) this.emit("disconnected");
  }

  private onMessage(topic: string, payload: Buffer): void {
    const { site } = this.opts;
    if (topic === hubTopic(site, "heartbeat")) return this.onHeartbeat(payload);
    if (topic === hubTopic(site, "status")) {
      if (payload.toString() === "offline") {
        this.hubOffline = true;
        this.allSafe("hub-lost");
      }
      return;
    }
    const prefix = commandTopic(site, this.id, "");
    if (topic.startsWith(prefix)) this.onCommand(topic.slice(prefix.length), payload);
  }

  private onHeartbeat(payload: Buffer): void {
    const beat = HubHeartbeat.safeParse(parseJson(payload));
    if (!beat.success) return this.log(`${this.id}: bad heartbeat: ${describeZodError(beat.error)}`);
    this.lastHeartbeatAt = this.clock.now();
    this.hubOffline = false;
    this.hubTimer?.cancel();
    this.hubTimer = this.clock.setTimeout(() => this.allSafe("hub-lost"), HUB_HEARTBEAT_TIMEOUT_MS);
    this.emit("heartbeat", beat.data.seq);
  }

  private onCommand(actuator: string, payload: Buffer): void {
    const raw = parseJson(payload);
    const parsed = CommandMessage.safeParse(raw);
    if (!parsed.success) {
      const id = typeof raw === "object" && raw !== null && "id" in raw ? raw.id : undefined;
      if (typeof id === "string" && id.length > 0 && id.length <= 64) this.ack(actuator, id, `invalid command: ${describeZodError(parsed.error)}`);
      else this.log(`${this.id}: unanswerable command on ${actuator}: ${describeZodError(parsed.error)}`);
      return;
    }
    const cmd = parsed.data;
    const spec = this.actuatorSpecs[actuator];
    if (spec === undefined) return this.ack(actuator, cmd.id, `unknown actuator "${actuator}"`);
    if ((spec.min !== undefined && cmd.value < spec.min) || (spec.max !== undefined && cmd.value > spec.max)) {
      return this.ack(actuator, cmd.id, `value ${cmd.value} is outside ${spec.min ?? "-inf"}..${spec.max ?? "+inf"}`);
    }
    // Without the hub only the safe value is accepted: it is where the actuator already is.
    if (!this.hubAlive && cmd.value !== spec.safe) return this.ack(actuator, cmd.id, "hub heartbeat missing");
    this.leases.get(actuator)?.cancel();
    const leaseMs = Math.min(cmd.leaseMs, spec.leaseMs);
    this.leases.set(actuator, this.clock.setTimeout(() => this.setValue(actuator, spec.safe, "lease-expired"), leaseMs));
    this.setValue(actuator, cmd.value, "command");
    this.ack(actuator, cmd.id);
  }

  private ack(actuator: string, id: string, error?: string): void {
    const ack: AckMessage = error === undefined ? { id, ok: true } : { id, ok: false, error: error.slice(0, 200) };
    this.client?.publish(deviceTopic(this.opts.site, this.id, "ack"), JSON.stringify(ack), { qos: 1 });
    this.emit("ack", actuator, ack);
  }

  private setValue(name: string, value: number, reason: ActuatorReason): void {
    if (this.values.get(name) === value) return;
    this.values.set(name, value);
    if (reason !== "command") this.leases.get(name)?.cancel();
    this.emit("actuator", name, value, reason);
    if (reason === "lease-expired" || reason === "hub-lost") {
      const event: EventMessage = { ts: this.clock.now(), type: "actuator-safe", detail: `${name} -> ${value}: ${reason}` };
      this.client?.publish(deviceTopic(this.opts.site, this.id, "event"), JSON.stringify(event), { qos: 1 });
    }
  }

  private allSafe(reason: ActuatorReason): void {
    for (const [name, spec] of Object.entries(this.actuatorSpecs)) this.setValue(name, spec.safe, reason);
  }

  /** Stops everything that runs on the clock and returns the actuators to safe (power lost). */
  private halt(): void {
    const was = this.online;
    this.online = false;
    this.cancelPeriodic();
    for (const timer of this.leases.values()) timer.cancel();
    this.leases.clear();
    this.hubTimer?.cancel();
    this.hubTimer = null;
    this.lastHeartbeatAt = undefined;
    this.allSafe("boot");
    if (was) this.emit("disconnected");
  }

  /** Telemetry, health and delayed telemetry: everything that belongs to one connection. */
  private cancelPeriodic(): void {
    for (const timer of [...this.periodic, ...this.pending]) timer.cancel();
    this.periodic = [];
    this.pending.clear();
  }

  private meta(): MetaMessage {
    const channels: MetaMessage["channels"] = {};
    for (const [name, ch] of Object.entries(this.opts.channels)) channels[name] = { ...ch, periodMs: this.opts.periodMs };
    return {
      contract: CONTRACT_VERSION,
      model: this.opts.model,
      firmware: this.opts.firmware ?? "sim-1.0.0",
      boot: this.bootCount,
      simulated: true,
      channels,
      actuators: { ...this.actuatorSpecs },
    };
  }

  private publishHealth(): void {
    const health: HealthMessage = {
      state: this.faultState.health,
      uptimeS: Math.max(0, Math.round((this.clock.now() - this.bootAtMs) / 1000)),
      boot: this.bootCount,
      rssiDbm: Math.round(Math.min(-30, Math.max(-95, -58 + 3 * this.rng.normal()))),
      freeHeapB: Math.round(this.rng.between(150_000, 190_000)),
    };
    this.client?.publish(deviceTopic(this.opts.site, this.id, "health"), JSON.stringify(health), { qos: 0 });
  }

  private sample(): Record<string, number> {
    const readings: Record<string, number> = { ...this.opts.read() };
    const stuck = this.faultState.stuck;
    if (stuck !== null) {
      this.stuckValue ??= readings[stuck];
      if (this.stuckValue !== undefined) readings[stuck] = this.stuckValue;
    }
    for (const [name, value] of this.overrides) readings[name] = value;
    return readings;
  }

  /** Either a cut-off JSON text (every proper prefix of an object is invalid) or bytes that are not UTF-8. */
  private garbled(json: string): string | Buffer {
    if (this.rng.chance(0.5)) return json.slice(0, 1 + Math.floor(this.rng.next() * (json.length - 1)));
    return Buffer.from([0xff, 0xfe, 0x00, ...Array.from({ length: 13 }, () => Math.floor(this.rng.next() * 256))]);
  }
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}
