import { describe, expect, it } from "vitest";
import { ManualClock } from "../../hub/src/core/clock.ts";
import { LinePacer } from "./line-pacer.ts";

describe("LinePacer", () => {
  it("delivers each chunk when its last byte would have crossed a 115200 baud 8N1 line", () => {
    const clock = new ManualClock();
    const got: { at: number; text: string }[] = [];
    const t0 = clock.now();
    const pacer = new LinePacer(clock, 115200, (b) => got.push({ at: clock.now() - t0, text: b.toString() }));
    expect(pacer.bytesPerSecond).toBe(11520);
    pacer.push(Buffer.alloc(1152, "a")); // 100 ms of line time
    pacer.push(Buffer.from("ok\n")); // queued behind it
    clock.advance(99);
    expect(got).toEqual([]);
    clock.advance(1);
    expect(got.map((g) => g.at)).toEqual([100]);
    clock.advance(1);
    expect(got.map((g) => g.text.length)).toEqual([1152, 3]);
    expect(got[1]?.at).toBeCloseTo(100 + 3 / 11.52, 3);
    expect(pacer.bytesDelivered).toBe(1155);
  });

  it("does not bank idle time: a chunk after a pause takes its own time again", () => {
    const clock = new ManualClock();
    const got: number[] = [];
    const pacer = new LinePacer(clock, 9600, () => got.push(clock.now()));
    clock.advance(10_000);
    const start = clock.now();
    pacer.push(Buffer.alloc(96)); // 100 ms at 960 bytes/s
    clock.advance(100);
    expect(got).toEqual([start + 100]);
  });

  it("drops what is in flight when cleared", () => {
    const clock = new ManualClock();
    const got: Buffer[] = [];
    const pacer = new LinePacer(clock, 115200, (b) => got.push(b));
    pacer.push(Buffer.alloc(100));
    pacer.clear();
    clock.advance(1000);
    expect(got).toEqual([]);
    expect(() => new LinePacer(clock, 0, () => {})).toThrow(/baud/);
  });
});
