/**
 * The device registry: every declared device, what it said about itself, how fresh each of its
 * channels is and how healthy its link looks. Pure: driven by the telemetry pipeline and the
 * adapters' events, and by `sweep(now)` on the injected clock for freshness.
 */
import type { ChannelSpec, HealthMessage, MetaMessage } from "../../../../firmware-bridge/contract/messages.ts";
import type { Bus } from "../bus.ts";
import type { Clock } from "../clock.ts";
import { list, text, verbatim } from "../texts/texts.ts";
import type {
  ChannelQuality,
  ChannelValue,
  DeviceCounters,
  DeviceId,
  DeviceKind,
  DeviceState,
  DeviceView,
  RejectCode,
  RejectRecord,
  Text,
} from "../types.ts";

/** A channel is stale once it has not reported for this many periods. */
export const STALE_AFTER_PERIODS = 3;
/** Lines of recent rejects kept per device (see countReject). */
export const RECENT_REJECTS = 20;
/** Lines one reject code may take of those, however many different reasons it gives. */
export const REJECT_LINES_PER_CODE = 3;
/**
 * Codes about a connection or a repeat rather than about what a message said: their reasons differ
 * only in circumstance (an address, a wait, a topic tried), and they are what floods are made of,
 * so each takes one line whatever its reason.
 */
const ONE_LINE_CODES: ReadonlySet<RejectCode> = new Set<RejectCode>(["auth-failed", "client-id-refused", "connection-refused", "acl-denied", "duplicate", "shed", "meta-throttled"]);
/**
 * Sequence numbers remembered behind the latest one: a seq seen among the last this many is a
 * duplicate (an MQTT QoS 1 re-send). Anything further back, or not seen, is the sequence starting
 * again. 32 so the record fits in one 32-bit mask.
 */
export const SEQ_DUPLICATE_WINDOW = 32;
/**
 * A forward jump in seq is a gap (messages lost on the way) as long as the device could have sent
 * that many: SEQ_JUMP_ALLOWANCE plus SEQ_MAX_RATE_PER_S for every second since its last accepted
 * message. Shed messages use up sequence numbers too, so the rate is twice the default per-device
 * intake limit (5,000/s). Beyond that it is a jump: a glitch or a forged seq, counted once, never
 * as millions of missed messages.
 */
export const SEQ_JUMP_ALLOWANCE = 1000;
export const SEQ_MAX_RATE_PER_S = 10_000;
const RATE_WINDOW_MS = 5000;

export interface DeclaredDevice {
  id: DeviceId;
  kind: DeviceKind;
  name: string;
  simulated: boolean;
  /** Its name in both languages (the config's `name` and `nameEn`); without it, `name` in both. */
  label?: Text;
  /** Names of its channels and actuators in both languages (the config's `labels`), by their own name. */
  labels?: Readonly<Record<string, Text>>;
  /** How the hub talks to it, where devices of its kind differ (a printer: `marlin`, `bambu-lan` …). */
  protocol?: string;
}

/** What survives a hub restart about a device. */
export interface PersistedDevice {
  id: DeviceId;
  state: DeviceState;
  lastSeen: number | null;
  meta: MetaMessage | null;
  counters: DeviceCounters;
}

interface MutableChannel {
  spec: ChannelSpec;
  value: number | null;
  at: number | null;
  deviceTs: number | null;
  quality: ChannelQuality;
  reason?: string;
}

export interface DeviceRecord {
  readonly declared: DeclaredDevice;
  state: DeviceState;
  stateSince: number;
  stateReason: string;
  /** The state's reason for people, in both languages (`stateReason` is the technician's English, for logs). */
  stateText: Text;
  status: "online" | "offline" | null;
  lastSeen: number | null;
  meta: MetaMessage | null;
  metaAt: number | null;
  health: HealthMessage | null;
  channels: Map<string, MutableChannel>;
  lastSeq: number | null;
  /** Hub time of the message that set lastSeq. */
  lastSeqAt: number | null;
  /** Bit i: seq lastSeq - i was accepted (i < SEQ_DUPLICATE_WINDOW). */
  seqSeen: number;
  counters: DeviceCounters;
  rejectsByCode: Map<RejectCode, number>;
  recentRejects: RejectRecord[];
  windowStart: number;
  windowCount: number;
  ratePerS: number;
  lastKnownState: DeviceState | null;
}

/** A reject's reason with its numbers taken out, so repeats that differ only in those merge. */
const reasonShape = (message: string): string => message.replace(/\d+/g, "#");

function startSequence(rec: DeviceRecord, seq: number, now: number): void {
  rec.lastSeq = seq;
  rec.lastSeqAt = now;
  rec.seqSeen = 1;
}

function forgetSequence(rec: DeviceRecord): void {
  rec.lastSeq = null;
  rec.lastSeqAt = null;
  rec.seqSeen = 0;
}

const zeroCounters = (): DeviceCounters => ({
  messages: 0,
  readings: 0,
  rejects: 0,
  duplicates: 0,
  gaps: 0,
  missedMessages: 0,
  seqJumps: 0,
  seqRestarts: 0,
  reboots: 0,
  shed: 0,
});

/** Until a device is heard from again it keeps the state it had when the hub stopped. */
const persistedOf = (r: DeviceRecord): PersistedDevice => ({
  id: r.declared.id,
  state: r.state === "unknown" && r.lastKnownState !== null ? r.lastKnownState : r.state,
  lastSeen: r.lastSeen,
  meta: r.meta,
  counters: { ...r.counters },
});

export class Registry {
  private readonly devices = new Map<DeviceId, DeviceRecord>();

  constructor(
    private readonly ctx: { clock: Clock; bus: Bus },
    declared: readonly DeclaredDevice[],
  ) {
    const now = ctx.clock.now();
    for (const d of declared) {
      this.devices.set(d.id, {
        declared: d,
        state: "unknown",
        stateSince: now,
        stateReason: "nothing heard since the hub started",
        stateText: text("device.state.unknown"),
        status: null,
        lastSeen: null,
        meta: null,
        metaAt: null,
        health: null,
        channels: new Map(),
        lastSeq: null,
        lastSeqAt: null,
        seqSeen: 0,
        counters: zeroCounters(),
        rejectsByCode: new Map(),
        recentRejects: [],
        windowStart: now,
        windowCount: 0,
        ratePerS: 0,
        lastKnownState: null,
      });
    }
  }

  has(id: string): id is DeviceId {
    return this.devices.has(id as DeviceId);
  }

  /** A device's name in both languages; an unknown id as it is. */
  label(id: DeviceId | string): Text {
    const d = this.devices.get(id as DeviceId)?.declared;
    return d === undefined ? verbatim(id) : (d.label ?? verbatim(d.name));
  }

  /**
   * A channel's or actuator's name in both languages: the config's `labels`, else the label the
   * device declares (in one language, shown in both), else its own name.
   */
  partLabel(id: DeviceId | string, part: string): Text {
    const rec = this.devices.get(id as DeviceId);
    const configured = rec?.declared.labels?.[part];
    if (configured !== undefined) return configured;
    const declared = rec?.meta?.channels[part]?.label ?? rec?.meta?.actuators[part]?.label;
    return verbatim(declared ?? part);
  }

  /** The live record, for the core's own modules (the telemetry pipeline). Never hand it out. */
  record(id: DeviceId): DeviceRecord | undefined {
    return this.devices.get(id);
  }

  ids(): DeviceId[] {
    return [...this.devices.keys()];
  }

  /** Brings back what the hub knew before it stopped. Counters continue; states start unknown. */
  restore(saved: readonly PersistedDevice[]): void {
    for (const s of saved) {
      const rec = this.devices.get(s.id);
      if (rec === undefined) continue;
      rec.lastKnownState = s.state;
      rec.lastSeen = s.lastSeen;
      rec.counters = { ...zeroCounters(), ...s.counters };
      if (s.meta !== null) this.applyMeta(rec, s.meta, false);
    }
  }

  snapshot(): PersistedDevice[] {
    return [...this.devices.values()].map(persistedOf);
  }

  /** One device's entry of `snapshot()`: the device store saves only the devices that changed. */
  persisted(id: DeviceId): PersistedDevice | undefined {
    const rec = this.devices.get(id);
    return rec === undefined ? undefined : persistedOf(rec);
  }

  setStatus(id: DeviceId, status: "online" | "offline"): void {
    const rec = this.devices.get(id);
    if (rec === undefined) return;
    const now = this.ctx.clock.now();
    rec.status = status;
    rec.lastKnownState = null;
    if (status === "online") {
      rec.lastSeen = now;
    } else {
      // Sparkplug: on death every value of the device is stale, stamped with the hub's time.
      for (const [name, ch] of rec.channels) this.setQuality(rec, name, ch, ch.value === null ? "missing" : "stale", "device offline");
    }
    this.derive(rec, status === "offline" ? "device went offline (status or last will)" : "device came online");
  }

  /** Accepts a validated meta. A changed boot counter means the device rebooted. */
  setMeta(id: DeviceId, meta: MetaMessage): void {
    const rec = this.devices.get(id);
    if (rec === undefined) return;
    const rebooted = rec.meta !== null && rec.meta.boot !== meta.boot;
    if (rebooted) {
      rec.counters.reboots += 1;
      forgetSequence(rec);
    }
    this.applyMeta(rec, meta, rebooted);
    rec.lastKnownState = null;
    this.derive(rec, rebooted ? `device rebooted (boot ${meta.boot})` : "device described itself");
    this.ctx.bus.emit("device:described", { deviceId: id, meta, rebooted, at: this.ctx.clock.now() });
  }

  setHealth(id: DeviceId, health: HealthMessage): void {
    const rec = this.devices.get(id);
    if (rec === undefined) return;
    const now = this.ctx.clock.now();
    if (rec.meta !== null && health.boot !== rec.meta.boot && rec.health?.boot !== health.boot) {
      // A reboot seen on health before the new meta arrives: forget the sequence.
      forgetSequence(rec);
    }
    rec.health = health;
    rec.lastSeen = now;
    this.countMessage(rec, now);
    if (rec.status === null) rec.status = "online";
    this.derive(rec, health.state === "fault" ? `device reports a fault${health.detail ? `: ${health.detail}` : ""}` : "health report");
  }

  /** Records accepted readings; the pipeline has already validated them. */
  acceptReadings(rec: DeviceRecord, at: number, deviceTs: number, readings: ReadonlyArray<readonly [string, number]>): void {
    rec.lastSeen = at;
    if (rec.status === null) rec.status = "online";
    this.countMessage(rec, at);
    rec.counters.readings += readings.length;
    for (const [name, value] of readings) {
      const ch = rec.channels.get(name);
      if (ch === undefined) continue;
      ch.value = value;
      ch.at = at;
      ch.deviceTs = deviceTs;
      if (ch.quality !== "ok") this.setQuality(rec, name, ch, "ok", undefined);
    }
    if (rec.state !== "ready") this.derive(rec, "telemetry");
  }

  /** A reading was refused: the channel is invalid until a valid one arrives (never last-good). */
  invalidateChannel(rec: DeviceRecord, channel: string, reason: string): void {
    const ch = rec.channels.get(channel);
    if (ch === undefined) return;
    this.setQuality(rec, channel, ch, "invalid", reason);
    this.derive(rec, `channel ${channel} invalid: ${reason}`);
  }

  /** Counts `times` refusals of one kind (a carrier may report a burst of them at once). */
  countReject(id: DeviceId, code: RejectCode, message: string, times = 1): void {
    const rec = this.devices.get(id);
    if (rec === undefined || times < 1) return;
    const at = this.ctx.clock.now();
    if (code === "duplicate") rec.counters.duplicates += times;
    else if (code === "shed") rec.counters.shed += times;
    else rec.counters.rejects += times;
    rec.rejectsByCode.set(code, (rec.rejectsByCode.get(code) ?? 0) + times);
    // Newest first. A reject counts up on the line of its code (ONE_LINE_CODES), or of its code and
    // reason (numbers aside: values, line numbers), so a flood (2,000 failed logins, a shed burst)
    // never pushes the other kinds out. Content codes keep their reasons apart: a serial board's
    // "protocol 2 refused" must not vanish under the "META before HELLO" lines that follow it. Such
    // a code takes at most REJECT_LINES_PER_CODE lines; a further reason merges into its oldest.
    // Records are replaced, never changed, because views handed out earlier share them.
    const list = rec.recentRejects;
    let i = list[0]?.code === code && (list[0].message === message || ONE_LINE_CODES.has(code)) ? 0 : -1;
    if (i === -1) {
      const shape = ONE_LINE_CODES.has(code) ? null : reasonShape(message);
      let sameCode = 0;
      for (let j = 0; j < list.length && i === -1; j++) {
        const line = list[j];
        if (line?.code !== code) continue;
        sameCode += 1;
        if (shape === null || reasonShape(line.message) === shape || sameCode === REJECT_LINES_PER_CODE) i = j;
      }
    }
    const previous = i === -1 ? undefined : list.splice(i, 1)[0];
    list.unshift({ at, code, message, count: (previous?.count ?? 0) + times, firstAt: previous?.firstAt ?? at });
    if (list.length > RECENT_REJECTS) list.length = RECENT_REJECTS;
  }

  /**
   * Sequence bookkeeping (PROTOCOL.md, tele): returns false only for a duplicate, a seq accepted
   * among the last SEQ_DUPLICATE_WINDOW. A bad seq must never cost the device its next honest
   * messages: a forward jump is accepted (a gap, or a jump if it is more than the device could have
   * sent), and a seq that goes back further than the window, or to one not seen, or to 0 (every
   * connect starts there) starts the sequence again.
   */
  checkSequence(rec: DeviceRecord, seq: number): boolean {
    const now = this.ctx.clock.now();
    const last = rec.lastSeq;
    if (last === null) {
      startSequence(rec, seq, now);
      return true;
    }
    if (seq > last) {
      const skipped = seq - last - 1;
      if (skipped > 0) {
        const elapsedMs = rec.lastSeqAt === null ? 0 : Math.max(0, now - rec.lastSeqAt);
        if (skipped <= SEQ_JUMP_ALLOWANCE + (elapsedMs * SEQ_MAX_RATE_PER_S) / 1000) {
          rec.counters.gaps += 1;
          rec.counters.missedMessages += skipped;
        } else {
          rec.counters.seqJumps += 1;
        }
      }
      const shift = seq - last;
      rec.seqSeen = shift >= SEQ_DUPLICATE_WINDOW ? 1 : ((rec.seqSeen << shift) | 1) >>> 0;
      rec.lastSeq = seq;
      rec.lastSeqAt = now;
      return true;
    }
    const back = last - seq;
    if (seq !== 0 && back < SEQ_DUPLICATE_WINDOW && ((rec.seqSeen >>> back) & 1) === 1) return false;
    rec.counters.seqRestarts += 1;
    startSequence(rec, seq, now);
    return true;
  }

  /** Lines or messages a carrier with its own numbering (a serial line) saw go missing. */
  countGap(id: DeviceId, missed: number): void {
    const rec = this.devices.get(id);
    if (rec === undefined || missed <= 0) return;
    rec.counters.gaps += 1;
    rec.counters.missedMessages += missed;
  }

  /** Freshness and message rates; call a few times a second from the clock. */
  sweep(): void {
    const now = this.ctx.clock.now();
    for (const rec of this.devices.values()) {
      if (now - rec.windowStart >= RATE_WINDOW_MS) {
        rec.ratePerS = (rec.windowCount * 1000) / (now - rec.windowStart);
        rec.windowStart = now;
        rec.windowCount = 0;
      }
      if (rec.meta === null || rec.status === "offline") continue;
      let changed = false;
      for (const [name, ch] of rec.channels) {
        const limit = ch.spec.periodMs * STALE_AFTER_PERIODS;
        if (ch.quality === "ok" && ch.at !== null && now - ch.at > limit) {
          this.setQuality(rec, name, ch, "stale", `no reading for ${Math.round((now - ch.at) / 1000)} s (period ${ch.spec.periodMs} ms)`);
          changed = true;
        } else if (ch.quality === "missing" && ch.at === null && rec.metaAt !== null && now - rec.metaAt > limit && rec.state === "init") {
          changed = true;
        }
      }
      if (changed) this.derive(rec, "freshness");
    }
  }

  view(id: DeviceId): DeviceView | undefined {
    const rec = this.devices.get(id);
    return rec === undefined ? undefined : this.toView(rec);
  }

  /** How many devices are in each state, without building their views (the hub's health asks often). */
  stateCounts(): Partial<Record<DeviceState, number>> {
    const counts: Partial<Record<DeviceState, number>> = {};
    for (const rec of this.devices.values()) counts[rec.state] = (counts[rec.state] ?? 0) + 1;
    return counts;
  }

  list(): DeviceView[] {
    return [...this.devices.values()].map((r) => this.toView(r));
  }

  private applyMeta(rec: DeviceRecord, meta: MetaMessage, rebooted: boolean): void {
    const old = rec.channels;
    rec.meta = meta;
    rec.metaAt = this.ctx.clock.now();
    rec.channels = new Map();
    for (const [name, spec] of Object.entries(meta.channels)) {
      const prev = old.get(name);
      // After a reboot the old values are not the device's current ones.
      const keep = prev !== undefined && !rebooted;
      rec.channels.set(name, {
        spec,
        value: keep ? prev.value : null,
        at: keep ? prev.at : null,
        deviceTs: keep ? prev.deviceTs : null,
        quality: keep ? prev.quality : "missing",
        ...(keep && prev.reason !== undefined ? { reason: prev.reason } : {}),
      });
    }
  }

  private setQuality(rec: DeviceRecord, name: string, ch: MutableChannel, quality: ChannelQuality, reason: string | undefined): void {
    const previous = ch.quality;
    ch.quality = quality;
    if (reason === undefined) delete ch.reason;
    else ch.reason = reason;
    if (previous !== quality) {
      this.ctx.bus.emit("channel:changed", { deviceId: rec.declared.id, channel: name, quality, previous, at: this.ctx.clock.now() });
    }
  }

  private countMessage(rec: DeviceRecord, _at: number): void {
    rec.counters.messages += 1;
    rec.windowCount += 1;
  }

  private derive(rec: DeviceRecord, reason: string): void {
    const now = this.ctx.clock.now();
    let next: DeviceState;
    let why = reason;
    let said: Text;
    const names = (channels: string[]) => list(channels.map((c) => this.partLabel(rec.declared.id, c)));
    if (rec.status === "offline") {
      next = "offline";
      said = text("device.state.offline");
    } else if (rec.health?.state === "fault") {
      next = "fault";
      said = text("device.state.fault");
    } else if (rec.status === null && rec.meta === null) {
      next = "unknown";
      said = text("device.state.unknown");
    } else if (rec.meta === null) {
      next = "init";
      why = "online, waiting for meta";
      said = text("device.state.initMeta");
    } else {
      const qualities = [...rec.channels.values()];
      const stale = qualities.filter((c) => c.quality === "stale");
      const invalid = qualities.filter((c) => c.quality === "invalid");
      const missing = qualities.filter((c) => c.quality === "missing");
      const limitPassed = (c: MutableChannel) => rec.metaAt !== null && now - rec.metaAt > c.spec.periodMs * STALE_AFTER_PERIODS;
      if (stale.length > 0 || missing.some(limitPassed)) {
        next = "stale";
        const stale = [...rec.channels.entries()].filter(([, c]) => c.quality === "stale" || (c.quality === "missing" && limitPassed(c))).map(([n]) => n);
        why = `stale: ${stale.join(", ")}`;
        said = text("device.state.stale", { channels: names(stale) });
      } else if (missing.length > 0) {
        next = "init";
        why = "waiting for the first reading of every channel";
        said = text("device.state.init");
      } else if (invalid.length > 0 || rec.health?.state === "degraded") {
        next = "degraded";
        const bad = [...rec.channels.entries()].filter(([, c]) => c.quality === "invalid");
        why = bad.length > 0 ? `invalid: ${bad.map(([n, c]) => `${n} (${c.reason ?? "invalid"})`).join(", ")}` : `device reports degraded${rec.health?.detail ? `: ${rec.health.detail}` : ""}`;
        said = bad.length > 0 ? text("device.state.invalid", { channels: names(bad.map(([n]) => n)) }) : text("device.state.degraded");
      } else {
        next = "ready";
        why = "every channel fresh and valid";
        said = text("device.state.ready");
      }
    }
    if (next === rec.state) return;
    const previous = rec.state;
    rec.state = next;
    rec.stateSince = now;
    rec.stateReason = why;
    rec.stateText = said;
    this.ctx.bus.emit("device:changed", { deviceId: rec.declared.id, state: next, previous, reason: why, at: now });
  }

  private toView(rec: DeviceRecord): DeviceView {
    const channels: DeviceView["channels"] = {};
    for (const [name, ch] of rec.channels) {
      const value: ChannelValue = { value: ch.value, at: ch.at, deviceTs: ch.deviceTs, quality: ch.quality, ...(ch.reason !== undefined ? { reason: ch.reason } : {}) };
      channels[name] = { ...value, unit: ch.spec.unit, min: ch.spec.min, max: ch.spec.max, periodMs: ch.spec.periodMs, ...(ch.spec.label !== undefined ? { label: ch.spec.label } : {}) };
    }
    return {
      id: rec.declared.id,
      kind: rec.declared.kind,
      name: rec.declared.name,
      simulated: rec.declared.simulated || rec.meta?.simulated === true,
      ...(rec.declared.protocol !== undefined ? { protocol: rec.declared.protocol } : {}),
      state: rec.state,
      stateSince: rec.stateSince,
      stateReason: rec.stateReason,
      stateText: rec.stateText,
      label: rec.declared.label ?? verbatim(rec.declared.name),
      status: rec.status,
      lastSeen: rec.lastSeen,
      messageRatePerS: Math.round(rec.ratePerS * 10) / 10,
      model: rec.meta?.model ?? null,
      firmware: rec.meta?.firmware ?? null,
      boot: rec.meta?.boot ?? null,
      health: rec.health,
      counters: { ...rec.counters },
      rejectsByCode: Object.fromEntries(rec.rejectsByCode),
      recentRejects: [...rec.recentRejects],
      channels,
      actuators: rec.meta?.actuators ?? {},
      lastKnownState: rec.lastKnownState,
    };
  }
}
