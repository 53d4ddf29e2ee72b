/**
 * Telemetry pipeline: admit -> decode -> validate against the contract and the device's meta ->
 * update the registry -> fan out (storage and live stream listen on the bus). Every refusal carries
 * a reason and is counted on the device; nothing a device sends can throw out of here.
 */
import {
  AckMessage,
  EventMessage,
  HealthMessage,
  MAX_MESSAGE_BYTES,
  MAX_READINGS_PER_MESSAGE,
  MetaMessage,
  StatusPayload,
  TeleMessage,
  describeZodError,
  isTeleEnvelope,
} from "../../../../firmware-bridge/contract/messages.ts";
import type { DeviceTopicKind } from "../../../../firmware-bridge/contract/topics.ts";
import type { Bus } from "../bus.ts";
import type { Clock } from "../clock.ts";
import type { Registry } from "../registry/registry.ts";
import type { DeviceId, RejectCode, TelemetryBatch } from "../types.ts";
import { IntakeLimiter, type IntakeLimits, META_CHANGE_BURST, META_CHANGE_REFILL_MS, TokenBuckets } from "./intake.ts";

/** Channel names a throttled meta's reject names at most (the rest are counted). */
const NAMES_IN_REJECT = 20;

export interface PipelineCounters {
  accepted: number;
  readings: number;
  rejected: number;
  shed: number;
  unknownDevice: number;
}

export interface AckSink {
  ack(deviceId: DeviceId, ack: AckMessage): void;
}

export interface DeviceEventSink {
  deviceEvent(deviceId: DeviceId, event: EventMessage): void;
}

/**
 * Timing of telemetry for the hub's metrics (api/metrics.ts): optional, and only one tele message
 * in INGEST_SAMPLE_EVERY is timed, so the hot path pays a counter and a mask for the rest.
 */
export interface PipelineObserver {
  /** A monotonic time in ms with sub-millisecond resolution (performance.now). */
  now(): number;
  /** A sampled tele message took `ms` from entering the pipeline to its accepted readings handed on. */
  ingested(ms: number): void;
}

/** A power of two: one tele message in this many is timed. */
export const INGEST_SAMPLE_EVERY = 16;

export class TelemetryPipeline {
  readonly counters: PipelineCounters = { accepted: 0, readings: 0, rejected: 0, shed: 0, unknownDevice: 0 };
  /** Unknown device ids seen, with when and how often: shown to technicians. */
  readonly rejectsByCode = new Map<RejectCode, number>();
  readonly unknownDevices = new Map<string, { count: number; lastAt: number }>();
  private readonly limiter: IntakeLimiter;
  private readonly metaChanges: TokenBuckets;
  /** The latest meta refused by the rate limit, per device: applied once the limit allows. */
  private readonly pendingMeta = new Map<DeviceId, MetaMessage>();
  private ackSink: AckSink | null = null;
  private eventSink: DeviceEventSink | null = null;
  private sampleCount = 0;

  constructor(
    private readonly ctx: { clock: Clock; bus: Bus; registry: Registry; observe?: PipelineObserver },
    limits: IntakeLimits,
  ) {
    this.limiter = new IntakeLimiter(ctx.clock, limits, (dropped, windowMs) => {
      ctx.bus.emit("intake:shed", { dropped, windowMs, at: ctx.clock.now() });
    });
    this.metaChanges = new TokenBuckets(ctx.clock, META_CHANGE_BURST, META_CHANGE_REFILL_MS);
  }

  setAckSink(sink: AckSink): void {
    this.ackSink = sink;
  }

  setEventSink(sink: DeviceEventSink): void {
    this.eventSink = sink;
  }

  /**
   * One message from a device, as raw bytes with the kind its carrier says it is. Used by every
   * JSON carrier (MQTT topics today).
   */
  ingestRaw(device: string, kind: DeviceTopicKind, payload: Uint8Array | string): void {
    const t0 = kind === "tele" ? this.sampleStart() : -1;
    if (!this.ctx.registry.has(device)) {
      this.counters.unknownDevice += 1;
      const u = this.unknownDevices.get(device);
      const at = this.ctx.clock.now();
      if (u === undefined) {
        if (this.unknownDevices.size < 100) this.unknownDevices.set(device, { count: 1, lastAt: at });
      } else {
        u.count += 1;
        u.lastAt = at;
      }
      this.reject(null, "unknown-device", `no device "${device}" is declared in the config`);
      return;
    }
    const id = device;
    if (!this.limiter.admit(id)) {
      this.counters.shed += 1;
      this.ctx.registry.countReject(id, "shed", "intake limit exceeded: message shed");
      return;
    }
    const size = typeof payload === "string" ? Buffer.byteLength(payload) : payload.byteLength;
    if (size > MAX_MESSAGE_BYTES) {
      this.reject(id, "oversized", `${kind} message of ${size} bytes exceeds ${MAX_MESSAGE_BYTES}`);
      return;
    }
    const text = typeof payload === "string" ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("utf8");
    if (kind === "status") {
      const parsed = StatusPayload.safeParse(text.trim());
      if (!parsed.success) this.reject(id, "invalid-message", `status must be "online" or "offline", got ${JSON.stringify(text.slice(0, 40))}`);
      else this.ctx.registry.setStatus(id, parsed.data);
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      this.reject(id, "malformed-json", `${kind}: not JSON (${error instanceof Error ? error.message : "parse error"})`);
      return;
    }
    const accepted = this.counters.accepted;
    this.ingest(id, kind, body);
    if (t0 >= 0 && this.counters.accepted !== accepted) this.ctx.observe?.ingested(this.ctx.observe.now() - t0);
  }

  /** The start time of a tele message to time, or -1 (no observer, or not this one's turn). */
  private sampleStart(): number {
    const observe = this.ctx.observe;
    if (observe === undefined) return -1;
    return (this.sampleCount++ & (INGEST_SAMPLE_EVERY - 1)) === 0 ? observe.now() : -1;
  }

  /**
   * A meta the hub's own driver built for a station it runs (a printer, a robot cell): validated like
   * any other, but not subject to the meta-change limit, which is for what devices send. A robot
   * cell declares its axes as it learns them, and must not lose them to a limit meant for floods.
   */
  describe(id: DeviceId, meta: MetaMessage): void {
    const parsed = MetaMessage.safeParse(meta);
    if (!parsed.success) {
      this.reject(id, "invalid-message", `meta: ${describeZodError(parsed.error)}`);
      return;
    }
    this.pendingMeta.delete(id);
    this.ctx.registry.setMeta(id, parsed.data);
  }

  /** One decoded message (any carrier). */
  ingest(id: DeviceId, kind: Exclude<DeviceTopicKind, "status">, body: unknown): void {
    if (kind !== "meta" && this.pendingMeta.has(id)) this.applyPendingMeta(id);
    switch (kind) {
      case "tele":
        this.ingestTele(id, body);
        return;
      case "meta": {
        const parsed = MetaMessage.safeParse(body);
        if (!parsed.success) this.reject(id, "invalid-message", `meta: ${describeZodError(parsed.error)}`);
        else this.ingestMeta(id, parsed.data);
        return;
      }
      case "health": {
        const parsed = HealthMessage.safeParse(body);
        if (!parsed.success) this.reject(id, "invalid-message", `health: ${describeZodError(parsed.error)}`);
        else this.ctx.registry.setHealth(id, parsed.data);
        return;
      }
      case "ack": {
        const parsed = AckMessage.safeParse(body);
        if (!parsed.success) this.reject(id, "invalid-message", `ack: ${describeZodError(parsed.error)}`);
        else this.ackSink?.ack(id, parsed.data);
        return;
      }
      case "event": {
        const parsed = EventMessage.safeParse(body);
        if (!parsed.success) this.reject(id, "invalid-message", `event: ${describeZodError(parsed.error)}`);
        else this.eventSink?.deviceEvent(id, parsed.data);
        return;
      }
    }
  }

  /**
   * A problem found before the pipeline (by a carrier or the broker): counted the same way. `times`
   * counts a burst the carrier merged before reporting it (the broker thread's denials).
   */
  reject(id: DeviceId | null, code: RejectCode, message: string, times = 1): void {
    if (times < 1) return;
    this.counters.rejected += times;
    this.rejectsByCode.set(code, (this.rejectsByCode.get(code) ?? 0) + times);
    if (id !== null) this.ctx.registry.countReject(id, code, message, times);
    this.ctx.bus.emit("telemetry:rejected", { deviceId: id, code, message, at: this.ctx.clock.now() });
  }

  get shed(): number {
    return this.counters.shed;
  }

  /**
   * A meta that declares what the device already declared (a reboot, a retained meta delivered
   * again) is always taken. One that changes its channels or actuators takes a token of the
   * device's meta-change budget; without one it is refused, the device keeps its previous channels,
   * and the latest refused meta waits until the budget allows (at the device's next message).
   */
  private ingestMeta(id: DeviceId, meta: MetaMessage): void {
    const current = this.ctx.registry.record(id)?.meta ?? null;
    if (current !== null && declaration(current) === declaration(meta)) {
      this.pendingMeta.delete(id);
      this.ctx.registry.setMeta(id, meta);
      return;
    }
    if (this.metaChanges.take(id)) {
      this.pendingMeta.delete(id);
      this.ctx.registry.setMeta(id, meta);
      return;
    }
    this.pendingMeta.set(id, meta);
    const kept = current === null ? [] : Object.keys(current.channels);
    const named = kept.length === 0 ? "none yet" : kept.slice(0, NAMES_IN_REJECT).join(", ") + (kept.length > NAMES_IN_REJECT ? ` and ${kept.length - NAMES_IN_REJECT} more` : "");
    const perMinute = Math.round(60_000 / META_CHANGE_REFILL_MS);
    this.reject(
      id,
      "meta-throttled",
      `meta changes the declared channels or actuators more often than ${perMinute} a minute (burst ${META_CHANGE_BURST}): refused, keeping the previous channels (${named}); the latest meta is taken once the limit allows`,
    );
  }

  private applyPendingMeta(id: DeviceId): void {
    const meta = this.pendingMeta.get(id);
    if (meta === undefined || !this.metaChanges.take(id)) return;
    this.pendingMeta.delete(id);
    this.ctx.registry.setMeta(id, meta);
  }

  private ingestTele(id: DeviceId, body: unknown): void {
    let msg: TeleMessage;
    if (isTeleEnvelope(body)) {
      msg = body;
    } else {
      const parsed = TeleMessage.safeParse(body);
      if (!parsed.success) {
        this.reject(id, "invalid-message", `tele: ${describeZodError(parsed.error)}`);
        return;
      }
      msg = parsed.data;
    }
    const { registry, clock, bus } = this.ctx;
    const rec = registry.record(id);
    if (rec === undefined) return;
    if (rec.meta === null) {
      this.reject(id, "no-meta", "tele before meta: the device must publish its retained meta first");
      return;
    }
    const entries = Object.entries(msg.readings);
    if (entries.length > MAX_READINGS_PER_MESSAGE) {
      this.reject(id, "too-many-readings", `tele carries ${entries.length} readings, at most ${MAX_READINGS_PER_MESSAGE} allowed`);
      return;
    }
    if (!registry.checkSequence(rec, msg.seq)) {
      registry.countReject(id, "duplicate", `seq ${msg.seq} already seen (last ${rec.lastSeq ?? "?"})`);
      return;
    }
    const at = clock.now();
    const accepted: Array<readonly [string, number]> = [];
    for (const [channel, value] of entries) {
      const ch = rec.channels.get(channel);
      if (ch === undefined) {
        this.reject(id, "unknown-channel", `reading "${channel}" is not in the device's meta`);
        continue;
      }
      const problem = checkValue(value, ch.spec.min, ch.spec.max, ch.spec.unit);
      if (problem !== null) {
        this.reject(id, problem.code, `${channel}: ${problem.message}`);
        registry.invalidateChannel(rec, channel, problem.message);
        continue;
      }
      accepted.push([channel, value as number]);
    }
    if (accepted.length === 0) return;
    registry.acceptReadings(rec, at, msg.ts, accepted);
    this.counters.accepted += 1;
    this.counters.readings += accepted.length;
    const batch: TelemetryBatch = {
      deviceId: id,
      at,
      deviceTs: msg.ts,
      seq: msg.seq,
      readings: accepted,
      simulated: rec.declared.simulated || rec.meta.simulated === true,
    };
    bus.emit("telemetry:accepted", batch);
  }
}

/** What a meta declares, in a form that compares equal whatever order the device wrote it in. */
function declaration(meta: MetaMessage): string {
  return JSON.stringify([meta.channels, meta.actuators], (_key, value: unknown) =>
    typeof value === "object" && value !== null && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : value,
  );
}

/**
 * JSON cannot carry NaN or Infinity: JavaScript's JSON.stringify writes them as null and some
 * firmware prints "nan". Both are reported as "not a finite number", anything else non-numeric as
 * a wrong type.
 */
function checkValue(value: unknown, min: number, max: number, unit: string): { code: RejectCode; message: string } | null {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return { code: "not-finite", message: "not a finite number" };
    if (value < min || value > max) return { code: "out-of-range", message: `${value} ${unit} is outside ${min}..${max} ${unit}` };
    return null;
  }
  if (value === null || (typeof value === "string" && /^[-+]?(nan|inf(inity)?)$/i.test(value.trim()))) {
    return { code: "not-finite", message: `not a finite number (${JSON.stringify(value)})` };
  }
  return { code: "wrong-type", message: `expected a number, got ${typeof value === "object" ? (Array.isArray(value) ? "an array" : "an object") : typeof value}` };
}
