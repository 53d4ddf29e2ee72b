/**
 * When the device registry is saved. A device's state and meta are written soon after they change
 * (one write for every change within `promptMs`); its counters and last-seen time change with every
 * message, so they go in a periodic pass every `periodMs`: a `kill -9` loses at most that much of
 * them, and a clean stop writes everything. Each pass looks at every device and the store writes
 * only those whose persisted fields changed, a slice of `sliceDevices` devices per turn of the
 * event loop, so even a fleet that all changed never holds up telemetry for more than one small
 * transaction (about 5 µs a row on the bench machine: 250 rows, a millisecond or two). A slice
 * never waits for the write lock on this thread: while the history worker commits, it is tried
 * again a little later (waiting would stall the event loop for as long as that commit takes).
 *
 * Why a pass compares rather than the registry flagging each change: counters change in many
 * places on the hot path (sequence checks, rejects, readings), and a flag forgotten in any of them
 * would lose data silently; comparing a dozen fields per device every few seconds cannot forget.
 */
import type { Bus } from "../core/bus.ts";
import type { Clock, Timer } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { PersistedDevice } from "../core/registry/registry.ts";
import type { DeviceId } from "../core/types.ts";
import type { DeviceStore } from "./device-store.ts";

/** Where the saver reads devices from: the registry. */
export interface PersistedSource {
  ids(): DeviceId[];
  persisted(id: DeviceId): PersistedDevice | undefined;
}

export interface DeviceSaverOptions {
  /** A state or meta change is written at most this long after it happened. */
  promptMs: number;
  /** Every other change (counters, last seen) at most this long after it happened. */
  periodMs: number;
  /** Devices looked at (and at most written) per transaction. */
  sliceDevices: number;
}

export const DEVICE_SAVER_DEFAULTS: Readonly<DeviceSaverOptions> = { promptMs: 1000, periodMs: 5000, sliceDevices: 250 };

/** A slice that found the database busy is tried again after this long. */
const BUSY_RETRY_MS = 25;
/** After this many busy tries in a row a slice waits for the lock (busy_timeout): progress over smoothness. */
const BUSY_TRIES = 40;

export interface DeviceSaverStats {
  /** Rows written since start. */
  rows: number;
  /** Transactions run (slices that found something to write). */
  writes: number;
  /** The longest of them, ms on this thread (the final write at stop not included). */
  longestWriteMs: number;
  /** Slices put off because another connection held the write lock. */
  busy: number;
  failures: number;
}

export class DeviceSaver {
  /** Devices to look at, in order; a Set so a device queued twice is looked at once. */
  private readonly queue = new Set<DeviceId>();
  private readonly changed = new Set<DeviceId>();
  private promptTimer: Timer | null = null;
  private sliceTimer: Timer | null = null;
  private periodTimer: Timer | null = null;
  private readonly unsubscribe: Array<() => void> = [];
  private readonly counters: DeviceSaverStats = { rows: 0, writes: 0, longestWriteMs: 0, busy: 0, failures: 0 };
  private busyTries = 0;

  /** No I/O here: nothing is written before `start`. */
  constructor(
    private readonly ctx: { clock: Clock; bus: Bus; registry: PersistedSource; store: DeviceStore; logger: Logger },
    private readonly options: Readonly<DeviceSaverOptions> = DEVICE_SAVER_DEFAULTS,
  ) {}

  get stats(): Readonly<DeviceSaverStats> {
    return this.counters;
  }

  start(): void {
    const { bus, clock } = this.ctx;
    this.unsubscribe.push(
      bus.on("device:changed", "device-store", (e) => this.soon(e.deviceId)),
      bus.on("device:described", "device-store", (e) => this.soon(e.deviceId)),
    );
    this.periodTimer = clock.setInterval(() => this.pass(), this.options.periodMs);
  }

  /** Writes everything that changed, in one transaction, and stops. Safe to call twice. */
  stop(): void {
    for (const u of this.unsubscribe.splice(0)) u();
    for (const t of [this.promptTimer, this.sliceTimer, this.periodTimer]) t?.cancel();
    this.promptTimer = this.sliceTimer = this.periodTimer = null;
    this.changed.clear();
    this.queue.clear();
    const ids = this.ctx.registry.ids();
    const t0 = performance.now();
    const rows = this.write(ids, true);
    this.ctx.logger.info({ ...this.counters, devices: ids.length, finalRows: rows, finalMs: Math.round(performance.now() - t0) }, "device registry saved");
  }

  private soon(id: DeviceId): void {
    this.changed.add(id);
    this.promptTimer ??= this.ctx.clock.setTimeout(() => {
      this.promptTimer = null;
      for (const c of this.changed) this.queue.add(c);
      this.changed.clear();
      this.drain();
    }, this.options.promptMs);
  }

  private pass(): void {
    for (const id of this.ctx.registry.ids()) this.queue.add(id);
    this.drain();
  }

  /** Writes one slice now and schedules the next, so I/O and telemetry run in between. */
  private drain(): void {
    if (this.sliceTimer !== null) return; // a drain is already under way; it will reach these too
    const slice: DeviceId[] = [];
    for (const id of this.queue) {
      if (slice.length >= this.options.sliceDevices) break;
      slice.push(id);
    }
    const t0 = performance.now();
    const rows = this.write(slice, this.busyTries >= BUSY_TRIES);
    if (rows === null) {
      // The slice stays first in the queue.
      this.counters.busy += 1;
      this.busyTries += 1;
      this.next(BUSY_RETRY_MS);
      return;
    }
    this.busyTries = 0;
    if (rows > 0) this.counters.longestWriteMs = Math.max(this.counters.longestWriteMs, performance.now() - t0);
    for (const id of slice) this.queue.delete(id);
    if (this.queue.size > 0) this.next(0);
  }

  private next(ms: number): void {
    this.sliceTimer = this.ctx.clock.setTimeout(() => {
      this.sliceTimer = null;
      this.drain();
    }, ms);
  }

  /**
   * Saves what changed of `ids`; returns the rows written, or null if the database was busy and
   * `wait` is false. Never throws: a failure is logged and counted, and the rows stay changed.
   */
  private write(ids: readonly DeviceId[], wait: boolean): number | null {
    const devices: PersistedDevice[] = [];
    for (const id of ids) {
      const d = this.ctx.registry.persisted(id);
      if (d !== undefined) devices.push(d);
    }
    try {
      const rows = wait ? this.ctx.store.save(devices) : this.ctx.store.trySave(devices);
      if (rows !== null && rows > 0) {
        this.counters.rows += rows;
        this.counters.writes += 1;
      }
      return rows;
    } catch (error) {
      // The store still counts these rows as changed: the next pass writes them.
      this.counters.failures += 1;
      this.ctx.logger.error({ err: error, devices: devices.length }, "saving the device registry failed");
      return 0;
    }
  }
}
