/**
 * Time behind an interface, so every timeout, watchdog, lease and rate can be driven by a test.
 * `now()` is wall-clock milliseconds since the epoch (what is stored and shown); timers are relative.
 */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  setInterval(fn: () => void, ms: number): Timer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, ms);
    handle.unref?.();
    return { cancel: () => clearTimeout(handle) };
  },
  setInterval(fn, ms) {
    const handle = setInterval(fn, ms);
    handle.unref?.();
    return { cancel: () => clearInterval(handle) };
  },
};

interface Scheduled {
  at: number;
  seq: number;
  fn: () => void;
  everyMs?: number;
  cancelled: boolean;
}

/** A clock that moves only when a test calls `advance`. Timers fire in time order. */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private queue: Scheduled[] = [];

  constructor(startMs = Date.UTC(2026, 10, 2, 9, 0, 0)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.schedule({ at: this.current + Math.max(0, ms), seq: this.seq++, fn, cancelled: false });
  }

  setInterval(fn: () => void, ms: number): Timer {
    const everyMs = Math.max(1, ms);
    return this.schedule({ at: this.current + everyMs, seq: this.seq++, fn, everyMs, cancelled: false });
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      this.queue = this.queue.filter((s) => !s.cancelled);
      this.queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.queue[0];
      if (next === undefined || next.at > target) break;
      this.current = next.at;
      if (next.everyMs !== undefined) {
        next.at += next.everyMs;
        next.seq = this.seq++;
      } else {
        next.cancelled = true;
      }
      next.fn();
    }
    this.current = target;
  }

  set(ms: number): void {
    this.current = ms;
  }

  private schedule(s: Scheduled): Timer {
    this.queue.push(s);
    return { cancel: () => void (s.cancelled = true) };
  }
}
