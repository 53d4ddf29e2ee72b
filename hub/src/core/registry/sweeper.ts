/**
 * Runs the registry's freshness sweep on the clock, and never blames devices for the hub's own
 * stall. When the hub's event loop was blocked (a long GC, a burst of work, a stopped VM), the
 * messages devices sent meanwhile are waiting, unread, in the broker thread's port and the serial
 * ports. Timers run before I/O in each turn of the event loop, so a sweep fired straight after a
 * stall would judge channels stale whose readings are already here. After a stall the sweep is
 * therefore put after the next I/O phase (`afterIo`, setImmediate in the hub), which reads them
 * first. Only one turn is given: a hub that stays overloaded still judges, and fails safe.
 */
import type { Clock, Timer } from "../clock.ts";

/** A gap of this many sweep periods between two sweeps means the hub itself was stalled. */
export const STALL_PERIODS = 3;

export interface SweeperContext {
  clock: Clock;
  sweep: () => void;
  /** Runs `fn` after the event loop has read the I/O that is waiting. */
  afterIo: (fn: () => void) => void;
  /** Told about each stall, with its length. */
  stalled?: (ms: number) => void;
}

export class FreshnessSweeper {
  private timer: Timer | null = null;
  private last = 0;
  stalls = 0;
  longestStallMs = 0;

  constructor(
    private readonly ctx: SweeperContext,
    private readonly periodMs: number,
  ) {}

  start(): void {
    this.last = this.ctx.clock.now();
    this.timer ??= this.ctx.clock.setInterval(() => this.tick(), this.periodMs);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
  }

  private tick(): void {
    const now = this.ctx.clock.now();
    const gap = now - this.last;
    this.last = now;
    if (gap <= this.periodMs * STALL_PERIODS) {
      this.ctx.sweep();
      return;
    }
    this.stalls += 1;
    this.longestStallMs = Math.max(this.longestStallMs, gap - this.periodMs);
    this.ctx.stalled?.(gap - this.periodMs);
    this.ctx.afterIo(() => {
      if (this.timer !== null) this.ctx.sweep();
    });
  }
}
