/**
 * Holds bytes back for as long as they would take on a real UART. A pty or a TCP socket moves bytes
 * as fast as the machine can; a printer's serial line at 115200 baud 8N1 moves 10 bits per byte,
 * 11,520 bytes/s. Throughput and latency figures measured against the simulator are only honest if
 * both directions are paced like this.
 *
 * Each chunk is delivered once its last byte would have arrived; the schedule is kept in absolute
 * clock time, so late timers never make the line faster than the baud rate (nor drift slower).
 */
import type { Clock, Timer } from "../../hub/src/core/clock.ts";

/** Start bit, 8 data bits, stop bit. */
export const BITS_PER_BYTE_8N1 = 10;

export class LinePacer {
  readonly bytesPerSecond: number;
  private freeAtMs = 0;
  private pending: { at: number; bytes: Buffer }[] = [];
  private timer: Timer | null = null;
  private delivered = 0;

  constructor(
    private readonly clock: Clock,
    baud: number,
    private readonly deliver: (bytes: Buffer) => void,
  ) {
    if (!(baud > 0)) throw new Error(`baud must be positive, got ${baud}`);
    this.bytesPerSecond = baud / BITS_PER_BYTE_8N1;
  }

  /** Bytes handed on so far. */
  get bytesDelivered(): number {
    return this.delivered;
  }

  /** When the line will be idle again (clock ms). */
  get busyUntilMs(): number {
    return Math.max(this.clock.now(), this.freeAtMs);
  }

  push(bytes: Buffer): void {
    if (bytes.length === 0) return;
    const start = this.busyUntilMs;
    this.freeAtMs = start + (bytes.length * 1000) / this.bytesPerSecond;
    this.pending.push({ at: this.freeAtMs, bytes });
    this.arm();
  }

  /** Drops everything not yet delivered (the cable was pulled). */
  clear(): void {
    this.timer?.cancel();
    this.timer = null;
    this.pending = [];
    this.freeAtMs = 0;
  }

  private arm(): void {
    if (this.timer !== null) return;
    const head = this.pending[0];
    if (head === undefined) return;
    this.timer = this.clock.setTimeout(() => this.flush(), Math.max(0, head.at - this.clock.now()));
  }

  private flush(): void {
    this.timer = null;
    const now = this.clock.now();
    const due: Buffer[] = [];
    while (this.pending.length > 0 && (this.pending[0]?.at ?? Infinity) <= now) {
      const next = this.pending.shift();
      if (next !== undefined) due.push(next.bytes);
    }
    if (due.length > 0) {
      const bytes = due.length === 1 ? (due[0] ?? Buffer.alloc(0)) : Buffer.concat(due);
      this.delivered += bytes.length;
      this.deliver(bytes);
    }
    this.arm();
  }
}
