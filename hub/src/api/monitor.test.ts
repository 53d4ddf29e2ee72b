import { describe, expect, it } from "vitest";
import { loopDelayMs } from "./monitor.ts";

describe("event-loop delay", () => {
  it.each([
    [10.2e6, 0.2],
    [10e6, 0],
    [9.7e6, 0],
    [35e6, 25],
  ])("an interval of %d ns between the histogram's ticks is a delay of %d ms", (ns, ms) => {
    expect(loopDelayMs(ns)).toBe(ms);
  });

});
