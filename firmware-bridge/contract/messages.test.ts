import { describe, expect, it } from "vitest";
import { TeleMessage, isTeleEnvelope } from "./messages.ts";

// The fast envelope check must never accept what the schema refuses, and should accept what it accepts.
const cases: unknown[] = [
  { ts: 1, seq: 0, readings: {} },
  { ts: 1764300000123, seq: 42, readings: { a: 1, b: "x", c: null } },
  { ts: 0, seq: 0, readings: { ["x".repeat(48)]: 1 } },
  { ts: 0, seq: 0, readings: { ["x".repeat(49)]: 1 } },
  { ts: -1, seq: 0, readings: {} },
  { ts: 1.5, seq: 0, readings: {} },
  { ts: 1, seq: -1, readings: {} },
  { ts: 1, seq: 2 ** 60, readings: {} },
  { ts: "1", seq: 0, readings: {} },
  { ts: 1, seq: 0 },
  { ts: 1, seq: 0, readings: [] },
  { ts: 1, seq: 0, readings: null },
  { ts: 1, seq: 0, readings: {}, extra: true },
  { ts: 1, seq: 0, readings: {}, ts2: 1 },
  { seq: 0, readings: {} },
  [],
  null,
  "tele",
  42,
  JSON.parse('{"ts":1,"seq":1,"readings":{"__proto__":{"x":1}}}') as unknown,
  Object.assign(Object.create({ inherited: 1 }) as object, { ts: 1, seq: 1, readings: {} }),
  { ts: Number.NaN, seq: 1, readings: {} },
  { ts: Infinity, seq: 1, readings: {} },
];

describe("isTeleEnvelope agrees with TeleMessage", () => {
  it.each(cases.map((c, i) => [i, c]))("case %i", (_i, body) => {
    const schema = TeleMessage.safeParse(body).success;
    const fast = isTeleEnvelope(body);
    if (fast) expect(schema).toBe(true);
    // Every plain, valid envelope takes the fast path.
    if (schema && Object.getPrototypeOf(body) === Object.prototype) expect(fast).toBe(true);
  });
});
