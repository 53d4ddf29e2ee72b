/**
 * The hub's own intake limit. A flood (a runaway device, a replayed capture, a benchmark pushed too
 * far) is shed here and reported, before it costs parsing, storage or fan-out. Token buckets on the
 * injected clock: cheap enough for every message. Also the budget of meta changes
 * per device (a token bucket), which the pipeline spends on metas that change what a device declares.
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
  private total: { tokens: number; at: number };
  private readonly perDevice = new Map<string, { tokens: number; at: number }>();
  private shedInWindow = 0;
  private shedTotal = 0;

  constructor(
    private readonly clock: Clock,
    private readonly limits: IntakeLimits,
    /** Called once per window in which something was shed. */
    private readonly onShed: (dropped: number, windowMs: number) => void,
  ) {
    const now = clock.now();
    this.windowStart = now;
    this.total = { tokens: limits.maxMessagesPerS, at: now };
  }

  /**
   * True if the message may go on; false if it is shed. Token buckets holding one second's worth:
   * messages that queued up while the hub itself was busy arrive together, and a device within
   * its rate is not shed for the hub's own stall.
   */
  admit(deviceId: string): boolean {
    const now = this.clock.now();
    if (now - this.windowStart >= 1000) this.roll(now);
    let device = this.perDevice.get(deviceId);
    if (device === undefined) {
      device = { tokens: this.limits.maxDeviceMessagesPerS, at: now };
      this.perDevice.set(deviceId, device);
    }
    refill(device, now, this.limits.maxDeviceMessagesPerS);
    refill(this.total, now, this.limits.maxMessagesPerS);
    if (device.tokens < 1 || this.total.tokens < 1) {
      this.shedInWindow += 1;
      this.shedTotal += 1;
      return false;
    }
    device.tokens -= 1;
    this.total.tokens -= 1;
    return true;
  }

  get shed(): number {
    return this.shedTotal;
  }

  private roll(now: number): void {
    if (this.shedInWindow > 0) this.onShed(this.shedInWindow, now - this.windowStart);
    this.windowStart = now;
    this.shedInWindow = 0;
  }
}

function refill(bucket: { tokens: number; at: number }, now: number, perS: number): void {
  if (now > bucket.at) {
    bucket.tokens = Math.min(perS, bucket.tokens + ((now - bucket.at) * perS) / 1000);
    bucket.at = now;
  }
}

/**
 * How often a device may change what it declares (its channels and actuators). Every change
 * rebuilds the device in the registry and in the OPC UA address space, so a device re-declaring in
 * a loop (a firmware bug, a leaked password) would cost memory and event-loop time the safety loop
 * needs. A reboot or a retained meta delivered again declares the same and costs nothing, so normal
 * use never meets this: a burst of 5 changes, then one every 10 s (6 a minute).
 */
export const META_CHANGE_BURST = 5;
export const META_CHANGE_REFILL_MS = 10_000;

/** One token bucket per key on the injected clock: `burst` at once, then one every `refillMs`. */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly burst: number,
    private readonly refillMs: number,
  ) {}

  /** Takes a token if there is one; false leaves the bucket as it was. */
  take(key: string): boolean {
    const bucket = this.refill(key);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  private refill(key: string): { tokens: number; at: number } {
    const now = this.clock.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + Math.max(0, now - bucket.at) / this.refillMs);
    bucket.at = now;
    return bucket;
  }
}
