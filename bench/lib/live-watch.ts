/**
 * A dashboard for benchmarks: one socket.io client on the hub's live stream that keeps every
 * device's state from the snapshot and the frames, and hands each received value to the suite (to
 * measure latency). Watching the stream costs nothing extra on the hub: it is what a screen does,
 * and it saves polling /api/devices, which builds a full view of every device per request.
 */
import { performance } from "node:perf_hooks";
import { io as ioClient, type Socket } from "socket.io-client";
import type { LiveFrame, LiveSnapshot } from "../../hub/src/api/live-protocol.ts";
import type { DeviceState } from "../../hub/src/core/types.ts";

/**
 * Called for every value in every frame: `receivedAt` is performance.now() at the frame's arrival,
 * `wallMs` Date.now() then; `atMs` is when the hub received the value and `tsMs` the device's own
 * timestamp (wall-clock ms; on one machine they split the latency into to-the-hub and after it).
 */
export type OnValue = (deviceId: string, channel: string, value: number | null, receivedAt: number, wallMs: number, atMs: number | null, tsMs: number | null) => void;

export class LiveWatch {
  private readonly states = new Map<string, DeviceState>();
  private readonly counts = new Map<DeviceState, number>();
  private waiters: Array<{ state: DeviceState; count: number; resolve: (at: number) => void }> = [];
  private onValue: OnValue | null = null;
  frames = 0;
  snapshots = 0;

  private constructor(private readonly socket: Socket) {
    socket.on("snapshot", (s: LiveSnapshot) => {
      this.snapshots += 1;
      for (const d of s.devices) this.set(d.id, d.state);
      this.settle();
    });
    socket.on("frame", (f: LiveFrame) => {
      const at = performance.now();
      const wall = Date.now();
      this.frames += 1;
      if (this.onValue !== null) for (const v of f.values) this.onValue(v.d, v.c, v.v, at, wall, v.at, v.ts);
      for (const d of f.devices) this.set(d.id, d.state);
      if (f.devices.length > 0) this.settle();
    });
  }

  /** Connects and waits for the first snapshot. */
  static async open(httpUrl: string): Promise<LiveWatch> {
    const socket = ioClient(httpUrl, { transports: ["websocket"], forceNew: true, reconnection: false });
    const watch = new LiveWatch(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("snapshot", () => resolve());
      socket.once("connect_error", reject);
    });
    return watch;
  }

  values(fn: OnValue | null): void {
    this.onValue = fn;
  }

  count(state: DeviceState): number {
    return this.counts.get(state) ?? 0;
  }

  /** Resolves with performance.now() of the frame that brought `count` devices to `state`. */
  until(state: DeviceState, count: number, timeoutMs: number): Promise<number | null> {
    if (this.count(state) >= count) return Promise.resolve(performance.now());
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(null);
      }, timeoutMs);
      const waiter = {
        state,
        count,
        resolve: (at: number) => {
          clearTimeout(timer);
          resolve(at);
        },
      };
      this.waiters.push(waiter);
    });
  }

  close(): void {
    this.socket.close();
  }

  private set(id: string, state: DeviceState): void {
    const previous = this.states.get(id);
    if (previous === state) return;
    if (previous !== undefined) this.counts.set(previous, (this.counts.get(previous) ?? 0) - 1);
    this.counts.set(state, (this.counts.get(state) ?? 0) + 1);
    this.states.set(id, state);
  }

  private settle(): void {
    if (this.waiters.length === 0) return;
    const now = performance.now();
    this.waiters = this.waiters.filter((w) => {
      if (this.count(w.state) < w.count) return true;
      w.resolve(now);
      return false;
    });
  }
}
