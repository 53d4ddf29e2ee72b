/**
 * The hub's own intake limit. A flood (a runaway device, a replayed capture, a benchmark pushed too
 * far) is shed here and reported, before it costs parsing, storage or fan-out. Fixed one-second
 * windows on the injected clock: cheap enough for every message.
 */
import type { Clock } from "../clock.ts";

export interface IntakeLimits {
  /** Messages per second the hub takes in from all devices together. */
  maxMessagesPerS: number;
  /** Messages per second one device may send before its surplus is shed. */
  maxDeviceMessagesPerS: number;
}

export class IntakeLimiter {
  private windowStart: number;
  private total = 0;
  private readonly perDevice = new Map<string, number>();
  private shedInWindow = 0;
  private shedTotal = 0;

  constructor(
    private readonly clock: Clock,
    private readonly limits: IntakeLimits,
    /** Called once per window in which something was shed. */
    private readonly onShed: (dropped: number, windowMs: number) => void,
  ) {
    this.windowStart = clock.now();
  }

  /** True if the message may go on; false if it is shed. */
  admit(deviceId: string): boolean {
    const now = this.clock.now();
    if (now - this.windowStart >= 1000) this.roll(now);
    const n = (this.perDevice.get(deviceId) ?? 0) + 1;
    this.perDevice.set(deviceId, n);
    this.total += 1;
    if (n > this.limits.maxDeviceMessagesPerS || this.total > this.limits.maxMessagesPerS) {
      this.shedInWindow += 1;
      this.shedTotal += 1;
      return false;
    }
    return true;
  }

  get shed(): number {
    return this.shedTotal;
  }

  private roll(now: number): void {
    if (this.shedInWindow > 0) this.onShed(this.shedInWindow, now - this.windowStart);
    this.windowStart = now;
    this.total = 0;
    this.shedInWindow = 0;
    this.perDevice.clear();
  }
}
