/**
 * The live stream over socket.io: a snapshot on connect, then coalesced frames at a bounded rate,
 * whatever the input rate. One frame is built and encoded per tick for every dashboard in step;
 * a dashboard that falls behind is moved aside, skips frames, and gets a fresh snapshot once its
 * socket has drained, so one slow tablet never holds up the others or grows the hub's memory.
 *
 * A station's `startable` is worked out from the interlocks, the visit and its device, none of
 * which is the station itself: every change of one of those re-sends the stations it can touch,
 * or a console keeps showing "may not start" after the reset that allowed it.
 */
import type { Server, Socket } from "socket.io";
import type { Bus } from "../core/bus.ts";
import type { Clock, Timer } from "../core/clock.ts";
import type { Registry } from "../core/registry/registry.ts";
import type { ChannelQuality, DeviceId, Provenance } from "../core/types.ts";
import { ActuatorBoard } from "./live-actuators.ts";
import type { LatestInvocation } from "./commands.ts";
import { type Alarm, type HeldActuator, type InterlockView, LIVE_EVENTS, type LiveDevice, type LiveDeviceChange, type LiveFrame, type LiveSnapshot, type LiveValue, type SimClockView, type StationView, type Visit } from "./live-protocol.ts";

const IN_STEP = "live";
const BEHIND = "behind";

/** Where the live stream reads interlocks and alarms (absent in tests of telemetry alone). */
export interface SafetySource {
  interlocks(): InterlockView[];
  interlock(id: string): InterlockView | undefined;
  openAlarms(): Alarm[];
  alarm(key: string): Alarm | undefined;
  stations(): StationView[];
  station(id: string): StationView | undefined;
  holds(): HeldActuator[];
  visit(): Visit | null;
  /** The last `actuator.start` or `actuator.stop` staff asked of `device.actuator` (who, when, the answer). */
  actuatorOrder(ref: string): Readonly<LatestInvocation> | undefined;
}

/**
 * Interlocks that are not normal are re-sent this often, so a reset's countdown stays current on
 * screens; the stations with them, whose reasons not to start quote the interlocks.
 */
const NOT_NORMAL_EVERY_MS = 1000;

export interface LiveOptions {
  site: string;
  siteName: string;
  maxFramesPerS: number;
  maxClientBacklogFrames: number;
  /** Readings per second the frames carry at most: with many devices, frames come less often and coalesce more. */
  maxValuesPerS: number;
}

type Pending = [value: number, at: number, ts: number];

export function provenance(quality: ChannelQuality, simulated: boolean): Provenance {
  if (quality !== "ok") return "stale";
  return simulated ? "simulated" : "live";
}

export class LiveStream {
  private io: Server | null = null;
  private timer: Timer | null = null;
  private frameNo = 0;
  private readonly dirtyValues = new Map<DeviceId, Map<string, Pending | null>>();
  /** Channels in dirtyValues, counted as they are added. */
  private dirtyValueCount = 0;
  private lastFrameAt = 0;
  private readonly dirtyDevices = new Set<DeviceId>();
  private readonly dirtyInterlocks = new Set<string>();
  private readonly dirtyAlarms = new Set<string>();
  private readonly dirtyStations = new Set<string>();
  /** Something every station's `startable` depends on changed (an interlock, the visit). */
  private allStationsDirty = false;
  private readonly actuators = new ActuatorBoard({ order: (ref) => this.safety.actuatorOrder(ref), interlocks: () => this.safety.interlocks(), label: (d, a) => this.ctx.registry.partLabel(d, a) });
  private holds: HeldActuator[] = [];
  private holdsKey = "";
  private holdsChanged = false;
  private visitKey = "";
  private visitChanged = false;
  private simClockKey = "";
  private simClockChanged = false;
  private lastNotNormalAt = 0;
  private readonly unsubscribe: Array<() => void> = [];
  /** Frames emitted to each socket since its transport last drained: its backlog. */
  private readonly undrained = new WeakMap<Socket, number>();
  readonly counters = { frames: 0, skippedForSlowClients: 0, snapshots: 0 };

  /** `safety`: where interlocks, alarms, stations, holds and the visit are read (built before the stream). */
  constructor(
    /** `simClock`: the simulated installation's clock, if the demo runs one (streamed as it changes). */
    private readonly ctx: { clock: Clock; bus: Bus; registry: Registry; simClock?: () => SimClockView | null },
    private readonly options: LiveOptions,
    private readonly safety: SafetySource,
  ) {}

  attach(io: Server): void {
    this.io = io;
    io.on("connection", (socket) => {
      this.undrained.set(socket, 0);
      socket.conn.on("drain", () => this.undrained.set(socket, 0));
      void socket.join(IN_STEP);
      this.sendSnapshot(socket);
    });
  }

  start(): void {
    const { bus, registry } = this.ctx;
    this.actuators.order(registry.ids());
    for (const id of registry.ids()) this.actuators.describe(id, registry.record(id)?.meta?.actuators ?? {});
    this.unsubscribe.push(
      bus.on("telemetry:accepted", "live", (batch) => {
        let channels = this.dirtyValues.get(batch.deviceId);
        if (channels === undefined) {
          channels = new Map();
          this.dirtyValues.set(batch.deviceId, channels);
        }
        for (const [channel, value] of batch.readings) {
          if (!channels.has(channel)) this.dirtyValueCount += 1;
          channels.set(channel, [value, batch.at, batch.deviceTs]);
        }
      }),
      bus.on("channel:changed", "live", (e) => {
        let channels = this.dirtyValues.get(e.deviceId);
        if (channels === undefined) {
          channels = new Map();
          this.dirtyValues.set(e.deviceId, channels);
        }
        // A quality change alone: send the channel with its current value and new provenance.
        if (!channels.has(e.channel)) {
          channels.set(e.channel, null);
          this.dirtyValueCount += 1;
        }
      }),
      bus.on("device:changed", "live", (e) => {
        this.dirtyDevices.add(e.deviceId);
        // A station's own device (a printer, a robot) going offline or coming back; other ids are skipped when the frame is built.
        this.dirtyStations.add(e.deviceId);
      }),
      bus.on("device:described", "live", (e) => {
        this.actuators.describe(e.deviceId, e.meta.actuators);
      }),
      bus.on("interlock:changed", "live", (e) => {
        this.dirtyInterlocks.add(e.id);
        // Stations are few; which of them the interlock forbids is for the stations to say.
        this.allStationsDirty = true;
      }),
      bus.on("alarm:changed", "live", (a) => {
        this.dirtyAlarms.add(a.key);
      }),
      bus.on("station:changed", "live", (e) => {
        this.dirtyStations.add(e.id);
      }),
    );
    this.timer = this.ctx.clock.setInterval(() => this.tick(), Math.round(1000 / this.options.maxFramesPerS));
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
    for (const u of this.unsubscribe.splice(0)) u();
  }

  get clients(): number {
    return this.io?.engine.clientsCount ?? 0;
  }

  snapshot(): LiveSnapshot {
    const t = this.ctx.clock.now();
    const devices: LiveDevice[] = this.ctx.registry.list().map((d) => ({
      id: d.id,
      name: d.name,
      label: d.label,
      kind: d.kind,
      simulated: d.simulated,
      state: d.state,
      stateReason: d.stateReason,
      stateText: d.stateText,
      lastSeen: d.lastSeen,
      channels: Object.fromEntries(
        Object.entries(d.channels).map(([name, c]) => [
          name,
          {
            value: c.value,
            unit: c.unit,
            min: c.min,
            max: c.max,
            ...(c.label !== undefined ? { label: c.label } : {}),
            at: c.at,
            ageMs: c.at === null ? null : t - c.at,
            quality: c.quality,
            prov: provenance(c.quality, d.simulated),
          },
        ]),
      ),
    }));
    return {
      t,
      site: this.options.site,
      siteName: this.options.siteName,
      devices,
      interlocks: this.safety.interlocks(),
      alarms: this.safety.openAlarms(),
      stations: this.safety.stations(),
      holds: this.safety.holds(),
      actuators: this.actuators.views(),
      visit: this.safety.visit(),
      simClock: this.ctx.simClock?.() ?? null,
    };
  }

  private sendSnapshot(socket: Socket): void {
    this.counters.snapshots += 1;
    socket.emit(LIVE_EVENTS.snapshot, this.snapshot());
  }

  /**
   * Every tick, whether anyone watches or not: the holds and the visit (they have no events; they
   * change rarely and compare cheaply), and which holds the hub let go of, and why, which is only
   * known at the moment they go.
   */
  private observeSafety(): void {
    const now = this.ctx.clock.now();
    const holds = this.safety.holds();
    const holdsKey = holds.map((h) => `${h.deviceId}/${h.actuator}=${h.value}:${h.status}:${h.lastError ?? ""}`).join(",");
    if (holdsKey !== this.holdsKey) {
      this.holdsKey = holdsKey;
      this.holdsChanged = true;
    }
    this.holds = holds;
    const visitKey = this.safety.visit()?.id ?? "";
    if (visitKey !== this.visitKey) {
      if (this.visitKey !== "") this.actuators.visitEnded(now);
      this.visitKey = visitKey;
      this.visitChanged = true;
      // A visit decides which stations may start.
      this.allStationsDirty = true;
    }
    this.actuators.observe(holds, now);
    const sim = this.ctx.simClock?.() ?? null;
    const simKey = sim === null ? "" : `${sim.anchorRealMs}/${sim.anchorSimMs}/${sim.speed}`;
    if (simKey !== this.simClockKey) {
      this.simClockKey = simKey;
      this.simClockChanged = true;
    }
    if (now - this.lastNotNormalAt >= NOT_NORMAL_EVERY_MS) {
      this.lastNotNormalAt = now;
      let notNormal = false;
      for (const i of this.safety.interlocks()) {
        if (i.status === "normal") continue;
        this.dirtyInterlocks.add(i.id);
        notNormal = true;
      }
      if (notNormal) this.allStationsDirty = true;
    }
  }

  private stationsDirty(): boolean {
    return this.allStationsDirty || this.dirtyStations.size > 0;
  }

  /** Builds the frame of what changed since the last tick, or null if nothing did. */
  private buildFrame(): LiveFrame | null {
    const actuatorsChanged = this.actuators.hasChanges();
    if (this.dirtyValues.size === 0 && this.dirtyDevices.size === 0 && this.dirtyInterlocks.size === 0 && this.dirtyAlarms.size === 0 && !this.stationsDirty() && !this.holdsChanged && !this.visitChanged && !actuatorsChanged && !this.simClockChanged) return null;
    const t = this.ctx.clock.now();
    const values: LiveValue[] = [];
    for (const [deviceId, channels] of this.dirtyValues) {
      const rec = this.ctx.registry.record(deviceId);
      if (rec === undefined) continue;
      const simulated = rec.declared.simulated || rec.meta?.simulated === true;
      for (const [c, pending] of channels) {
        const ch = rec.channels.get(c);
        if (ch === undefined) continue;
        const v = pending?.[0] ?? ch.value;
        const at = pending?.[1] ?? ch.at;
        const ts = pending?.[2] ?? ch.deviceTs;
        values.push({ d: deviceId, c, v, at, ts, ageMs: at === null ? null : t - at, quality: ch.quality, prov: provenance(ch.quality, simulated) });
      }
    }
    const devices: LiveDeviceChange[] = [];
    for (const id of this.dirtyDevices) {
      const rec = this.ctx.registry.record(id);
      if (rec !== undefined) devices.push({ id, state: rec.state, stateReason: rec.stateReason, stateText: rec.stateText, lastSeen: rec.lastSeen });
    }
    const interlocks = [...this.dirtyInterlocks].map((id) => this.safety.interlock(id)).filter((v): v is InterlockView => v !== undefined);
    const alarms = [...this.dirtyAlarms].map((key) => this.safety.alarm(key)).filter((a): a is Alarm => a !== undefined);
    const stations = this.allStationsDirty ? this.safety.stations() : [...this.dirtyStations].map((id) => this.safety.station(id)).filter((v): v is StationView => v !== undefined);
    const holds = this.holdsChanged ? { holds: this.holds } : {};
    const visit = this.visitChanged ? { visit: this.safety.visit() } : {};
    const simClock = this.simClockChanged ? { simClock: this.ctx.simClock?.() ?? null } : {};
    const { changed, gone } = actuatorsChanged ? this.actuators.changes() : { changed: [], gone: [] };
    const actuators = { ...(changed.length > 0 ? { actuators: changed } : {}), ...(gone.length > 0 ? { actuatorsGone: gone } : {}) };
    this.clearDirty();
    return { t, n: ++this.frameNo, values, devices, interlocks, alarms, stations, ...holds, ...actuators, ...visit, ...simClock };
  }

  private clearDirty(): void {
    this.dirtyValues.clear();
    this.dirtyValueCount = 0;
    this.dirtyDevices.clear();
    this.dirtyInterlocks.clear();
    this.dirtyAlarms.clear();
    this.dirtyStations.clear();
    this.allStationsDirty = false;
    this.holdsChanged = false;
    this.visitChanged = false;
    this.simClockChanged = false;
  }

  /**
   * With thousands of devices a frame at every tick would carry thousands of readings, many times a
   * second, and building and encoding them would take the main thread from the interlocks. Frames of
   * readings alone then wait until they fit `maxValuesPerS` (at least one a second); anything about
   * safety (a device's state, an interlock, an alarm, a station) goes out at the next tick.
   */
  private waitForMoreValues(): boolean {
    if (this.dirtyValueCount === 0) return false;
    if (this.dirtyDevices.size > 0 || this.dirtyInterlocks.size > 0 || this.dirtyAlarms.size > 0 || this.stationsDirty() || this.holdsChanged || this.visitChanged || this.actuators.hasChanges()) return false;
    const sinceMs = this.ctx.clock.now() - this.lastFrameAt;
    return sinceMs < 1000 && sinceMs < (this.dirtyValueCount * 1000) / this.options.maxValuesPerS;
  }

  private tick(): void {
    this.observeSafety();
    const io = this.io;
    if (io === null) return;
    if (io.engine.clientsCount === 0) {
      // Nobody watching: drop the accumulated changes, a new client starts from a snapshot anyway.
      this.clearDirty();
      return;
    }
    // Slow consumers step aside; those that have drained come back with a snapshot.
    for (const socket of io.of("/").sockets.values()) {
      const queued = this.undrained.get(socket) ?? 0;
      const behind = socket.rooms.has(BEHIND);
      if (!behind && queued > this.options.maxClientBacklogFrames) {
        void socket.leave(IN_STEP);
        void socket.join(BEHIND);
        this.counters.skippedForSlowClients += 1;
      } else if (behind && queued === 0) {
        void socket.leave(BEHIND);
        void socket.join(IN_STEP);
        this.sendSnapshot(socket);
      }
    }
    if (this.waitForMoreValues()) return;
    const frame = this.buildFrame();
    if (frame === null) return;
    this.lastFrameAt = this.ctx.clock.now();
    this.counters.frames += 1;
    for (const socket of io.of("/").sockets.values()) {
      if (socket.rooms.has(IN_STEP)) this.undrained.set(socket, (this.undrained.get(socket) ?? 0) + 1);
    }
    io.to(IN_STEP).emit(LIVE_EVENTS.frame, frame);
  }
}
