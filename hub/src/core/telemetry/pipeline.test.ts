import { beforeEach, describe, expect, it } from "vitest";
import type { MetaMessage } from "../../../../firmware-bridge/contract/messages.ts";
import { Bus, type HubEvents } from "../bus.ts";
import { ManualClock } from "../clock.ts";
import { silentLogger } from "../logger.ts";
import { Registry, SEQ_DUPLICATE_WINDOW, SEQ_JUMP_ALLOWANCE, SEQ_MAX_RATE_PER_S } from "../registry/registry.ts";
import { asDeviceId, type DeviceCounters, type TelemetryBatch } from "../types.ts";
import { META_CHANGE_BURST, META_CHANGE_REFILL_MS } from "./intake.ts";
import { TelemetryPipeline } from "./pipeline.ts";

const meta: MetaMessage = {
  model: "TEST",
  firmware: "1.0.0",
  boot: 1,
  channels: {
    pvPowerW: { unit: "W", min: 0, max: 4000, periodMs: 1000 },
    socPct: { unit: "%", min: 0, max: 100, periodMs: 1000 },
  },
  actuators: { pumpEnable: { safe: 0, leaseMs: 5000 } },
};

const PV = asDeviceId("pv");

function setup(limits = { maxMessagesPerS: 1000, maxDeviceMessagesPerS: 100 }) {
  const clock = new ManualClock();
  const bus = new Bus(silentLogger);
  const registry = new Registry({ clock, bus }, [{ id: PV, kind: "mqtt", name: "PV", simulated: false }]);
  const pipeline = new TelemetryPipeline({ clock, bus, registry }, limits);
  const accepted: TelemetryBatch[] = [];
  const rejected: Array<HubEvents["telemetry:rejected"]> = [];
  bus.on("telemetry:accepted", "test", (b) => accepted.push(b));
  bus.on("telemetry:rejected", "test", (r) => rejected.push(r));
  return { clock, bus, registry, pipeline, accepted, rejected };
}

const tele = (seq: number, readings: Record<string, unknown>) => JSON.stringify({ ts: 1, seq, readings });

describe("telemetry pipeline", () => {
  let s: ReturnType<typeof setup>;
  beforeEach(() => {
    s = setup();
    s.pipeline.ingestRaw("pv", "status", "online");
    s.pipeline.ingestRaw("pv", "meta", JSON.stringify(meta));
  });

  it("accepts valid readings, updates the registry and fans out one immutable batch", () => {
    s.pipeline.ingestRaw("pv", "tele", tele(0, { pvPowerW: 1200, socPct: 55 }));
    expect(s.accepted).toHaveLength(1);
    expect(s.accepted[0]?.readings).toEqual([
      ["pvPowerW", 1200],
      ["socPct", 55],
    ]);
    const view = s.registry.view(PV);
    expect(view?.channels.pvPowerW?.value).toBe(1200);
    expect(view?.state).toBe("ready");
    expect(view?.counters.messages).toBeGreaterThanOrEqual(1);
  });

  // One row per class of bad input: what was sent, the reject code, and words the reason must contain.
  const bad: Array<[string, string | Uint8Array, string, RegExp, "tele" | "meta" | "health" | "status"]> = [
    ["oversized", JSON.stringify({ ts: 1, seq: 1, readings: { pvPowerW: 1, pad: "x".repeat(5000) } }), "oversized", /exceeds 4096/, "tele"],
    ["not JSON", "{ts:1,", "malformed-json", /not JSON/, "tele"],
    ["binary garbage", new Uint8Array([0xff, 0x00, 0x80, 0x7b]), "malformed-json", /not JSON/, "tele"],
    ["wrong envelope", JSON.stringify({ ts: "now", seq: 1, readings: {} }), "invalid-message", /ts/, "tele"],
    ["extra key", JSON.stringify({ ts: 1, seq: 1, readings: {}, hack: true }), "invalid-message", /hack/, "tele"],
    ["unknown channel", tele(1, { fooW: 3 }), "unknown-channel", /fooW/, "tele"],
    ["string value", tele(1, { pvPowerW: "12" }), "wrong-type", /expected a number/, "tele"],
    ["object value", tele(1, { pvPowerW: { v: 1 } }), "wrong-type", /object/, "tele"],
    ["NaN as null", tele(1, { pvPowerW: null }), "not-finite", /finite/, "tele"],
    ["NaN as text", tele(1, { pvPowerW: "nan" }), "not-finite", /finite/, "tele"],
    ["out of range", tele(1, { socPct: 140 }), "out-of-range", /140 % is outside 0\.\.100/, "tele"],
    ["bad meta", JSON.stringify({ model: "x" }), "invalid-message", /meta: /, "meta"],
    ["bad health", JSON.stringify({ state: "great", uptimeS: 1, boot: 1 }), "invalid-message", /health: state/, "health"],
    ["bad status", "maybe", "invalid-message", /online.*offline/, "status"],
  ];

  it.each(bad)("rejects %s with a reason, counts it on the device, and keeps going", (_name, payload, code, reason, kind) => {
    s.pipeline.ingestRaw("pv", kind, payload);
    expect(s.rejected.at(-1)?.code).toBe(code);
    expect(s.rejected.at(-1)?.message).toMatch(reason);
    const view = s.registry.view(PV);
    expect(view?.rejectsByCode[code as keyof typeof view.rejectsByCode]).toBe(1);
    expect(view?.recentRejects[0]?.message).toMatch(reason);
    // The pipeline still works after the bad input.
    s.pipeline.ingestRaw("pv", "tele", tele(5, { pvPowerW: 10, socPct: 10 }));
    expect(s.accepted.at(-1)?.seq).toBe(5);
  });

  it("marks a channel invalid after a refused reading rather than keeping the last good value", () => {
    s.pipeline.ingestRaw("pv", "tele", tele(1, { pvPowerW: 100, socPct: 50 }));
    s.pipeline.ingestRaw("pv", "tele", tele(2, { socPct: -5 }));
    const view = s.registry.view(PV);
    expect(view?.channels.socPct?.quality).toBe("invalid");
    expect(view?.state).toBe("degraded");
    expect(view?.stateReason).toMatch(/socPct/);
  });

  it("keeps the valid readings of a message with one bad reading", () => {
    s.pipeline.ingestRaw("pv", "tele", tele(1, { pvPowerW: 100, socPct: 500 }));
    expect(s.accepted.at(-1)?.readings).toEqual([["pvPowerW", 100]]);
  });

  it("rejects telemetry from a device not in the config and remembers who tried", () => {
    s.pipeline.ingestRaw("intruder", "tele", tele(1, { pvPowerW: 1 }));
    expect(s.rejected.at(-1)).toMatchObject({ deviceId: null, code: "unknown-device" });
    expect(s.pipeline.unknownDevices.get("intruder")?.count).toBe(1);
  });

  it("rejects telemetry before meta", () => {
    const fresh = setup();
    fresh.pipeline.ingestRaw("pv", "tele", tele(1, { pvPowerW: 1 }));
    expect(fresh.rejected.at(-1)?.code).toBe("no-meta");
  });

  it("counts duplicates and sequence gaps", () => {
    s.pipeline.ingestRaw("pv", "tele", tele(1, { pvPowerW: 1 }));
    s.pipeline.ingestRaw("pv", "tele", tele(1, { pvPowerW: 1 }));
    s.pipeline.ingestRaw("pv", "tele", tele(5, { pvPowerW: 1 }));
    const view = s.registry.view(PV);
    expect(view?.counters.duplicates).toBe(1);
    expect(view?.counters.gaps).toBe(1);
    expect(view?.counters.missedMessages).toBe(3);
    expect(s.accepted.map((b) => b.seq)).toEqual([1, 5]);
  });

  it("treats a new boot counter as a reboot: sequence restarts, values forgotten", () => {
    s.pipeline.ingestRaw("pv", "tele", tele(7, { pvPowerW: 1, socPct: 1 }));
    s.pipeline.ingestRaw("pv", "meta", JSON.stringify({ ...meta, boot: 2 }));
    const view = s.registry.view(PV);
    expect(view?.counters.reboots).toBe(1);
    expect(view?.channels.pvPowerW?.quality).toBe("missing");
    s.pipeline.ingestRaw("pv", "tele", tele(3, { pvPowerW: 2 }));
    expect(s.accepted.at(-1)?.seq).toBe(3);
  });

  it("sheds a flood above the intake limit and reports it once per window", () => {
    const f = setup({ maxMessagesPerS: 1000, maxDeviceMessagesPerS: 10 });
    const shed: number[] = [];
    f.bus.on("intake:shed", "test", (e) => shed.push(e.dropped));
    f.pipeline.ingestRaw("pv", "meta", JSON.stringify(meta));
    for (let i = 0; i < 50; i++) f.pipeline.ingestRaw("pv", "tele", tele(i, { pvPowerW: i }));
    expect(f.pipeline.counters.shed).toBeGreaterThan(30);
    expect(f.registry.view(PV)?.counters.shed).toBe(f.pipeline.counters.shed);
    f.clock.advance(1000);
    f.pipeline.ingestRaw("pv", "tele", tele(100, { pvPowerW: 1 }));
    expect(shed).toEqual([f.pipeline.counters.shed]);
    expect(f.accepted.at(-1)?.seq).toBe(100);
  });

  it("does not shed a device within its rate when the hub's own stall bunches its messages", () => {
    const f = setup({ maxMessagesPerS: 1000, maxDeviceMessagesPerS: 10 });
    f.pipeline.ingestRaw("pv", "meta", JSON.stringify(meta));
    let seq = 0;
    // 8 a second, evenly, for three seconds.
    for (let i = 0; i < 24; i++) {
      f.clock.advance(125);
      f.pipeline.ingestRaw("pv", "tele", tele(++seq, { pvPowerW: seq }));
    }
    // The hub was busy for a second: the device's next 8 messages arrive at once, then it goes on.
    f.clock.advance(1000);
    for (let i = 0; i < 8; i++) f.pipeline.ingestRaw("pv", "tele", tele(++seq, { pvPowerW: seq }));
    for (let i = 0; i < 16; i++) {
      f.clock.advance(125);
      f.pipeline.ingestRaw("pv", "tele", tele(++seq, { pvPowerW: seq }));
    }
    expect(f.pipeline.counters.shed).toBe(0);
    expect(f.accepted.at(-1)?.seq).toBe(seq);
  });
});

describe("registry freshness", () => {
  it("goes stale after 3 periods without a reading, and offline on the last will", () => {
    const s = setup();
    s.pipeline.ingestRaw("pv", "status", "online");
    s.pipeline.ingestRaw("pv", "meta", JSON.stringify(meta));
    s.pipeline.ingestRaw("pv", "tele", tele(1, { pvPowerW: 1, socPct: 2 }));
    expect(s.registry.view(PV)?.state).toBe("ready");
    s.clock.advance(2999);
    s.registry.sweep();
    expect(s.registry.view(PV)?.state).toBe("ready");
    s.clock.advance(2);
    s.registry.sweep();
    expect(s.registry.view(PV)?.state).toBe("stale");
    expect(s.registry.view(PV)?.channels.pvPowerW?.quality).toBe("stale");
    s.pipeline.ingestRaw("pv", "tele", tele(2, { pvPowerW: 1, socPct: 2 }));
    expect(s.registry.view(PV)?.state).toBe("ready");
    s.pipeline.ingestRaw("pv", "status", "offline");
    expect(s.registry.view(PV)?.state).toBe("offline");
    expect(s.registry.view(PV)?.channels.socPct?.quality).toBe("stale");
  });

  it("reports a device that never sends a channel as stale once its period has passed thrice", () => {
    const s = setup();
    s.pipeline.ingestRaw("pv", "status", "online");
    s.pipeline.ingestRaw("pv", "meta", JSON.stringify(meta));
    s.pipeline.ingestRaw("pv", "tele", tele(1, { pvPowerW: 1 }));
    expect(s.registry.view(PV)?.state).toBe("init");
    s.clock.advance(3500);
    s.registry.sweep();
    expect(s.registry.view(PV)?.state).toBe("stale");
    expect(s.registry.view(PV)?.stateReason).toMatch(/socPct/);
  });

  it("restores known devices with their last state after a restart", () => {
    const s = setup();
    s.pipeline.ingestRaw("pv", "status", "online");
    s.pipeline.ingestRaw("pv", "meta", JSON.stringify(meta));
    s.pipeline.ingestRaw("pv", "tele", tele(1, { pvPowerW: 1, socPct: 2 }));
    const saved = s.registry.snapshot();
    const again = setup();
    again.registry.restore(saved);
    const view = again.registry.view(PV);
    expect(view?.state).toBe("unknown");
    expect(view?.lastKnownState).toBe("ready");
    expect(view?.model).toBe("TEST");
    expect(view?.counters.messages).toBe(saved[0]?.counters.messages);
  });
});

describe("tele sequence numbers (PROTOCOL.md, tele: seq)", () => {
  /** One step: a seq as the device sends it, or a pause on the hub's clock before the next one. */
  type Step = number | { waitMs: number };
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  const seqCounters = (c: DeviceCounters | undefined) => ({ duplicates: c?.duplicates, gaps: c?.gaps, missedMessages: c?.missedMessages, seqJumps: c?.seqJumps, seqRestarts: c?.seqRestarts });
  const none = { duplicates: 0, gaps: 0, missedMessages: 0, seqJumps: 0, seqRestarts: 0 };

  // What the device sends, which seqs the hub takes, and the device's sequence counters after.
  const rows: Array<[string, Step[], number[], Partial<ReturnType<typeof seqCounters>>]> = [
    ["the field case: one poisoned seq, then the device's honest 207, 208", [205, 206, 10_004_999, 207, 208], [205, 206, 10_004_999, 207, 208], { seqJumps: 1, seqRestarts: 1 }],
    ["a firmware glitch a little ahead, then the honest sequence at once", [100, 101, 115, 102, 103], [100, 101, 115, 102, 103], { gaps: 1, missedMessages: 13, seqRestarts: 1 }],
    ["a glitch far behind, then the honest sequence", [300, 301, 2, 302, 303], [300, 301, 2, 302, 303], { seqRestarts: 1, gaps: 1, missedMessages: 299 }],
    ["an MQTT QoS 1 re-send of the same seq is a duplicate", [1, 2, 3, 3], [1, 2, 3], { duplicates: 1 }],
    ["re-sends of earlier seqs inside the window are duplicates", [1, 2, 3, 4, 2, 1, 5], [1, 2, 3, 4, 5], { duplicates: 2 }],
    ["a re-send of the poisoned seq is still a duplicate", [7, 10_004_999, 10_004_999, 8], [7, 10_004_999, 8], { duplicates: 1, seqJumps: 1, seqRestarts: 1 }],
    [
      `the oldest seq the window remembers (${SEQ_DUPLICATE_WINDOW - 1} back) is a duplicate`,
      [...range(0, 40), 40 - (SEQ_DUPLICATE_WINDOW - 1)],
      range(0, 40),
      { duplicates: 1 },
    ],
    [`${SEQ_DUPLICATE_WINDOW} back is past the window: the sequence starts again`, [...range(0, 40), 40 - SEQ_DUPLICATE_WINDOW], [...range(0, 40), 40 - SEQ_DUPLICATE_WINDOW], { seqRestarts: 1 }],
    ["a reconnect starts again at 0", [40, 41, 0, 1, 2], [40, 41, 0, 1, 2], { seqRestarts: 1 }],
    ["a restart without a new meta (back by more than the window)", [500, 501, 3, 4], [500, 501, 3, 4], { seqRestarts: 1 }],
    ["lost messages are a gap", [10, 11, 15], [10, 11, 15], { gaps: 1, missedMessages: 3 }],
    [`a gap of ${SEQ_JUMP_ALLOWANCE} at once is still one the device could have sent`, [10, 11 + SEQ_JUMP_ALLOWANCE], [10, 11 + SEQ_JUMP_ALLOWANCE], { gaps: 1, missedMessages: SEQ_JUMP_ALLOWANCE }],
    [`one more at once is a jump, not ${SEQ_JUMP_ALLOWANCE + 1} missed messages`, [10, 12 + SEQ_JUMP_ALLOWANCE], [10, 12 + SEQ_JUMP_ALLOWANCE], { seqJumps: 1 }],
    [
      "a large gap after a long silence is a gap (the device may have sent that many)",
      [10, { waitMs: 60_000 }, 11 + SEQ_JUMP_ALLOWANCE + 60 * SEQ_MAX_RATE_PER_S],
      [10, 11 + SEQ_JUMP_ALLOWANCE + 60 * SEQ_MAX_RATE_PER_S],
      { gaps: 1, missedMessages: SEQ_JUMP_ALLOWANCE + 60 * SEQ_MAX_RATE_PER_S },
    ],
    ["the poisoned seq after 40 s of silence is still a jump", [206, { waitMs: 40_000 }, 10_004_999, 207], [206, 10_004_999, 207], { seqJumps: 1, seqRestarts: 1 }],
  ];

  it.each(rows)("%s", (_name, steps, accepted, counters) => {
    const s = setup();
    s.pipeline.ingestRaw("pv", "status", "online");
    s.pipeline.ingestRaw("pv", "meta", JSON.stringify(meta));
    for (const step of steps) {
      if (typeof step === "number") s.pipeline.ingestRaw("pv", "tele", tele(step, { pvPowerW: step % 4000 }));
      else s.clock.advance(step.waitMs);
    }
    expect(s.accepted.map((b) => b.seq)).toEqual(accepted);
    expect(seqCounters(s.registry.view(PV)?.counters)).toEqual({ ...none, ...counters });
    // The honest message after whatever came before is the device's current value.
    const lastSent = steps.filter((x): x is number => typeof x === "number").at(-1);
    if (lastSent !== undefined && accepted.at(-1) === lastSent) expect(s.registry.view(PV)?.channels.pvPowerW?.value).toBe(lastSent % 4000);
  });

  it("names the duplicate and the last seq in the reject, and keeps its readings out", () => {
    const s = setup();
    s.pipeline.ingestRaw("pv", "meta", JSON.stringify(meta));
    s.pipeline.ingestRaw("pv", "tele", tele(208, { pvPowerW: 1 }));
    s.pipeline.ingestRaw("pv", "tele", tele(208, { pvPowerW: 2 }));
    const view = s.registry.view(PV);
    expect(view?.recentRejects[0]).toMatchObject({ code: "duplicate", message: "seq 208 already seen (last 208)" });
    expect(view?.channels.pvPowerW?.value).toBe(1);
  });

  it("forgets the sequence on a reboot (new boot counter): no restart counted, nothing refused", () => {
    const s = setup();
    s.pipeline.ingestRaw("pv", "meta", JSON.stringify(meta));
    s.pipeline.ingestRaw("pv", "tele", tele(3, { pvPowerW: 1 }));
    s.pipeline.ingestRaw("pv", "meta", JSON.stringify({ ...meta, boot: 2 }));
    s.pipeline.ingestRaw("pv", "tele", tele(3, { pvPowerW: 2 }));
    s.pipeline.ingestRaw("pv", "tele", tele(4, { pvPowerW: 3 }));
    expect(s.accepted.map((b) => b.seq)).toEqual([3, 3, 4]);
    expect(s.registry.view(PV)?.counters).toMatchObject({ reboots: 1, duplicates: 0, seqRestarts: 0 });
  });
});

describe("meta changes are rate-limited per device", () => {
  /** A meta declaring a different set of channels each time, as the flood of issue 10 did. */
  const churn = (n: number, channels = 60): MetaMessage => ({
    ...meta,
    channels: Object.fromEntries(Array.from({ length: channels }, (_, i) => [`g${n}c${i}`, { unit: "W", min: 0, max: 10, periodMs: 1000 }])),
  });
  const described = (s: ReturnType<typeof setup>) => {
    const seen: number[] = [];
    s.bus.on("device:described", "test", (e) => seen.push(e.meta.boot));
    return seen;
  };
  const channelNames = (s: ReturnType<typeof setup>) => Object.keys(s.registry.view(PV)?.channels ?? {});

  it("takes a burst of changes, then refuses more, counts them and keeps the previous channels", () => {
    const s = setup();
    const seen = described(s);
    for (let n = 0; n < 40; n++) s.pipeline.ingestRaw("pv", "meta", JSON.stringify({ ...churn(n), boot: n }));
    expect(seen).toEqual(Array.from({ length: META_CHANGE_BURST }, (_, n) => n));
    const view = s.registry.view(PV);
    expect(view?.rejectsByCode["meta-throttled"]).toBe(40 - META_CHANGE_BURST);
    expect(s.rejected.filter((r) => r.code === "meta-throttled")).toHaveLength(40 - META_CHANGE_BURST);
    const kept = `g${META_CHANGE_BURST - 1}c`;
    expect(channelNames(s).every((c) => c.startsWith(kept))).toBe(true);
    expect(channelNames(s)).toHaveLength(60);
    // The reject names what the device keeps, and merges into one line however many there were.
    expect(view?.recentRejects[0]).toMatchObject({ code: "meta-throttled", count: 40 - META_CHANGE_BURST });
    expect(view?.recentRejects[0]?.message).toMatch(new RegExp(`keeping the previous channels \\(${kept}0, ${kept}1, .* and 40 more\\)`));
    // The previous channels still take readings; the refused meta's do not.
    s.pipeline.ingestRaw("pv", "tele", tele(1, { [`${kept}3`]: 5 }));
    expect(s.accepted.at(-1)?.readings).toEqual([[`${kept}3`, 5]]);
  });

  it("applies the latest refused meta at the device's next message once the limit allows", () => {
    const s = setup();
    for (let n = 0; n < 10; n++) s.pipeline.ingestRaw("pv", "meta", JSON.stringify(churn(n, 3)));
    const last = META_CHANGE_BURST - 1;
    expect(channelNames(s)).toEqual([`g${last}c0`, `g${last}c1`, `g${last}c2`]);
    s.clock.advance(META_CHANGE_REFILL_MS - 1);
    s.pipeline.ingestRaw("pv", "tele", tele(1, { g9c0: 1 }));
    expect(s.rejected.at(-1)?.code).toBe("unknown-channel");
    s.clock.advance(1);
    s.pipeline.ingestRaw("pv", "tele", tele(2, { g9c0: 2 }));
    expect(channelNames(s)).toEqual(["g9c0", "g9c1", "g9c2"]);
    expect(s.accepted.at(-1)?.readings).toEqual([["g9c0", 2]]);
  });

  it("takes one change every refill period for as long as the device keeps it up", () => {
    const s = setup();
    const seen = described(s);
    for (let n = 0; n < 100; n++) {
      s.pipeline.ingestRaw("pv", "meta", JSON.stringify({ ...churn(n, 2), boot: n }));
      s.clock.advance(META_CHANGE_REFILL_MS);
    }
    expect(seen).toHaveLength(100);
    expect(s.registry.view(PV)?.rejectsByCode["meta-throttled"]).toBeUndefined();
  });

  it("does not limit the metas the hub's own station drivers build (a robot cell learning its axes)", () => {
    const s = setup();
    s.pipeline.ingestRaw("pv", "status", "online");
    for (let axes = 1; axes <= 12; axes++) {
      const channels = Object.fromEntries(Array.from({ length: axes }, (_, i) => [`axis${i + 1}Deg`, { unit: "°", min: -720, max: 720, periodMs: 1000 }]));
      s.pipeline.describe(PV, { model: "robot", firmware: "-", boot: 1, channels, actuators: {} });
    }
    const view = s.registry.view(PV);
    expect(Object.keys(view?.channels ?? {})).toHaveLength(12);
    expect(view?.rejectsByCode["meta-throttled"]).toBeUndefined();
    s.pipeline.ingestRaw("pv", "tele", tele(1, { axis12Deg: 90 }));
    expect(s.registry.view(PV)?.channels.axis12Deg?.value).toBe(90);
  });

  it("never limits a meta that declares the same (reboots, retained re-deliveries, reordered keys)", () => {
    const s = setup({ maxMessagesPerS: 10_000, maxDeviceMessagesPerS: 10_000 });
    const seen = described(s);
    const reordered: MetaMessage = { ...meta, channels: { socPct: meta.channels.socPct!, pvPowerW: meta.channels.pvPowerW! } };
    for (let boot = 1; boot <= 200; boot++) s.pipeline.ingestRaw("pv", "meta", JSON.stringify(boot % 2 === 0 ? { ...reordered, boot } : { ...meta, boot }));
    expect(seen).toHaveLength(200);
    const view = s.registry.view(PV);
    expect(view?.counters.reboots).toBe(199);
    expect(view?.rejectsByCode["meta-throttled"]).toBeUndefined();
    // And a device that used up its budget on changes still gets its reboots through. (Its first
    // meta took a token: it declared something where there was nothing.)
    for (let n = 0; n < META_CHANGE_BURST + 3; n++) s.pipeline.ingestRaw("pv", "meta", JSON.stringify(churn(n, 2)));
    expect(s.registry.view(PV)?.rejectsByCode["meta-throttled"]).toBe(4);
    const current = s.registry.record(PV)?.meta;
    if (current === null || current === undefined) throw new Error("no meta");
    s.pipeline.ingestRaw("pv", "meta", JSON.stringify({ ...current, boot: 999 }));
    expect(s.registry.view(PV)).toMatchObject({ boot: 999, rejectsByCode: { "meta-throttled": 4 } });
  });

  it("keeps one device's budget its own", () => {
    const clock = new ManualClock();
    const bus = new Bus(silentLogger);
    const other = asDeviceId("other");
    const registry = new Registry({ clock, bus }, [
      { id: PV, kind: "mqtt", name: "PV", simulated: false },
      { id: other, kind: "mqtt", name: "Other", simulated: false },
    ]);
    const pipeline = new TelemetryPipeline({ clock, bus, registry }, { maxMessagesPerS: 1000, maxDeviceMessagesPerS: 100 });
    for (let n = 0; n < 20; n++) pipeline.ingestRaw("pv", "meta", JSON.stringify(churn(n, 2)));
    pipeline.ingestRaw("other", "meta", JSON.stringify(churn(100, 2)));
    expect(Object.keys(registry.view(other)?.channels ?? {})).toEqual(["g100c0", "g100c1"]);
    expect(registry.view(other)?.rejectsByCode["meta-throttled"]).toBeUndefined();
  });
});

describe("recent rejects stay readable under a flood", () => {
  it("merges 2,000 failed logins into one line with a count, and keeps every other kind in view", () => {
    const s = setup();
    s.pipeline.ingestRaw("pv", "meta", JSON.stringify(meta));
    const start = s.clock.now();
    s.pipeline.ingestRaw("pv", "tele", tele(1, { socPct: 140 }));
    s.clock.advance(1000);
    // What the broker reports for each refused CONNECT (its onDenied hook calls pipeline.reject).
    for (let i = 0; i < 2000; i++) {
      s.pipeline.reject(PV, "auth-failed", `wrong password for device "pv" (attempt ${i + 1})`);
      if (i === 1000) s.pipeline.ingestRaw("pv", "tele", "{ts:");
      s.clock.advance(10);
    }
    for (const code of ["client-id-refused", "connection-refused", "acl-denied"] as const) {
      for (let i = 0; i < 500; i++) s.pipeline.reject(PV, code, `${code} ${i}`);
    }
    s.pipeline.ingestRaw("pv", "tele", tele(1, { pvPowerW: 1 }));
    const view = s.registry.view(PV);
    expect(view?.recentRejects.map((r) => [r.code, r.count])).toEqual([
      ["duplicate", 1],
      ["acl-denied", 500],
      ["connection-refused", 500],
      ["client-id-refused", 500],
      ["auth-failed", 2000],
      ["malformed-json", 1],
      ["out-of-range", 1],
    ]);
    const auth = view?.recentRejects.find((r) => r.code === "auth-failed");
    expect(auth).toMatchObject({ firstAt: start + 1000, at: start + 1000 + 1999 * 10, message: 'wrong password for device "pv" (attempt 2000)' });
    expect(view?.recentRejects.find((r) => r.code === "out-of-range")).toMatchObject({ count: 1, at: start, firstAt: start });
    expect(view?.rejectsByCode).toMatchObject({ "auth-failed": 2000, "acl-denied": 500, "out-of-range": 1 });
    // Whatever the broker says about each login (a wrong password, an address waiting out its
    // backoff), failed logins stay one line.
    s.pipeline.reject(PV, "auth-failed", "login from 10.0.0.9 refused unchecked: too many failed logins, wait 4 s");
    s.pipeline.reject(PV, "acl-denied", "may not publish to tec/test-site/other/tele");
    s.pipeline.reject(PV, "auth-failed", 'wrong password for device "pv" (from 10.0.0.9; it now waits 8 s) (12 times)', 12);
    const after = s.registry.view(PV)?.recentRejects ?? [];
    expect(after.filter((r) => r.code === "auth-failed").map((r) => r.count)).toEqual([2013]);
    expect(after.filter((r) => r.code === "acl-denied").map((r) => r.count)).toEqual([501]);
    expect(after).toHaveLength(7);
    expect(view?.counters.rejects).toBe(2000 + 1500 + 2);
    expect(view?.counters.duplicates).toBe(1);
  });

  it("keeps one line per code and reason, newest first: a repeat moves its line to the top", () => {
    const s = setup();
    const codes = ["oversized", "malformed-json", "invalid-message", "bad-topic", "no-meta", "unknown-channel", "wrong-type", "not-finite", "out-of-range", "too-many-readings", "duplicate", "bad-line", "acl-denied", "auth-failed", "client-id-refused", "connection-refused", "meta-throttled", "shed"] as const;
    const start = s.clock.now();
    for (const [i, code] of codes.entries()) {
      s.pipeline.reject(PV, code, `reason #${i}`);
      s.clock.advance(1);
    }
    // The same reason but for its numbers: the same line.
    s.pipeline.reject(PV, "oversized", "reason #99");
    const lines = s.registry.view(PV)?.recentRejects ?? [];
    expect(lines.map((r) => r.code)).toEqual(["oversized", ...codes.slice(1).reverse()]);
    expect(lines[0]).toMatchObject({ count: 2, message: "reason #99", firstAt: start, at: start + codes.length });
    expect(lines.slice(1).every((r) => r.count === 1 && r.firstAt === r.at)).toBe(true);
  });

  it("keeps a code's different reasons apart, at most 3 lines a code, so a cause is not hidden by what follows it", () => {
    const s = setup();
    // A serial board refused for its protocol, then its META lines refused because no HELLO was taken.
    s.pipeline.reject(PV, "bad-line", "board speaks protocol 2, the hub 1: refused");
    for (let i = 0; i < 50; i++) s.pipeline.reject(PV, "bad-line", "META before HELLO");
    s.pipeline.reject(PV, "out-of-range", "socPct: 140 % is outside 0..100 %");
    let lines = s.registry.view(PV)?.recentRejects ?? [];
    expect(lines.map((r) => [r.code, r.count, r.message])).toEqual([
      ["out-of-range", 1, "socPct: 140 % is outside 0..100 %"],
      ["bad-line", 50, "META before HELLO"],
      ["bad-line", 1, "board speaks protocol 2, the hub 1: refused"],
    ]);
    // A code giving ever new reasons still takes at most 3 lines: the further ones merge into its oldest.
    for (let i = 0; i < 30; i++) s.pipeline.reject(PV, "unknown-channel", `reading "${String.fromCharCode(97 + (i % 26))}x" is not in the device's meta`);
    lines = s.registry.view(PV)?.recentRejects ?? [];
    const unknown = lines.filter((r) => r.code === "unknown-channel");
    expect(unknown).toHaveLength(3);
    expect(unknown.reduce((n, r) => n + r.count, 0)).toBe(30);
    expect(lines.map((r) => r.code).filter((c) => c !== "unknown-channel")).toEqual(["out-of-range", "bad-line", "bad-line"]);
  });

  it("counts a burst the broker merged before reporting it as that many rejects on one line", () => {
    const s = setup();
    s.pipeline.reject(PV, "auth-failed", "wrong password (from 10.0.0.7)", 1);
    s.pipeline.reject(PV, "auth-failed", "wrong password (from 10.0.0.8)", 49);
    s.pipeline.reject(PV, "auth-failed", "nothing", 0);
    const view = s.registry.view(PV);
    expect(view?.recentRejects).toMatchObject([{ code: "auth-failed", count: 50, message: "wrong password (from 10.0.0.8)" }]);
    expect(view?.rejectsByCode["auth-failed"]).toBe(50);
    expect(view?.counters.rejects).toBe(50);
    expect(s.pipeline.counters.rejected).toBe(50);
    expect(s.pipeline.rejectsByCode.get("auth-failed")).toBe(50);
  });

  it("collapses a shed flood into one line as before, now with its count", () => {
    const f = setup({ maxMessagesPerS: 1000, maxDeviceMessagesPerS: 10 });
    f.pipeline.ingestRaw("pv", "meta", JSON.stringify(meta));
    for (let i = 0; i < 50; i++) f.pipeline.ingestRaw("pv", "tele", tele(i, { pvPowerW: i }));
    const view = f.registry.view(PV);
    const shed = view?.recentRejects.filter((r) => r.code === "shed") ?? [];
    expect(shed).toHaveLength(1);
    expect(shed[0]?.count).toBe(view?.counters.shed);
    expect(shed[0]?.message).toMatch(/intake limit/);
  });
});
