import { describe, expect, it } from "vitest";
import type { Clock } from "../clock.ts";
import { FreshnessSweeper } from "./sweeper.ts";

/** A clock whose interval is fired by hand, so a stall (time passing without the timer firing) can be staged. */
function stagedClock() {
  let now = 1_000_000;
  let fire: (() => void) | null = null;
  const clock: Clock = {
    now: () => now,
    setTimeout: () => ({ cancel: () => {} }),
    setInterval: (fn) => {
      fire = fn;
      return { cancel: () => (fire = null) };
    },
  };
  return {
    clock,
    /** Time passes by `ms` and the interval fires once (late, if `ms` is more than its period). */
    tickAfter(ms: number) {
      now += ms;
      fire?.();
    },
  };
}

describe("freshness sweep after a stall", () => {
  it("sweeps at once on time, and after waiting I/O when the hub was stalled", () => {
    const c = stagedClock();
    const log: string[] = [];
    const io: Array<() => void> = [];
    const stalls: number[] = [];
    const sweeper = new FreshnessSweeper({ clock: c.clock, sweep: () => log.push("sweep"), afterIo: (fn) => io.push(fn), stalled: (ms) => stalls.push(ms) }, 250);
    sweeper.start();
    c.tickAfter(250);
    c.tickAfter(260);
    expect(log).toEqual(["sweep", "sweep"]);

    // Two seconds without a turn of the loop: the readings that came in meanwhile are read first.
    c.tickAfter(2000);
    expect(log).toEqual(["sweep", "sweep"]);
    expect(stalls).toEqual([1750]);
    log.push("waiting readings read");
    io.shift()?.();
    expect(log).toEqual(["sweep", "sweep", "waiting readings read", "sweep"]);
    expect(sweeper.stalls).toBe(1);
    expect(sweeper.longestStallMs).toBe(1750);

    // Back on time: straight away again.
    c.tickAfter(250);
    expect(log.at(-1)).toBe("sweep");
    expect(io).toHaveLength(0);
  });

  it("does not sweep after it was stopped", () => {
    const c = stagedClock();
    const io: Array<() => void> = [];
    let sweeps = 0;
    const sweeper = new FreshnessSweeper({ clock: c.clock, sweep: () => (sweeps += 1), afterIo: (fn) => io.push(fn) }, 250);
    sweeper.start();
    c.tickAfter(5000);
    sweeper.stop();
    io.shift()?.();
    expect(sweeps).toBe(0);
  });
});
