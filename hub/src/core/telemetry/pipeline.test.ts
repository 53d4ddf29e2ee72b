import { beforeEach, describe, expect, it } from "vitest";
import type { MetaMessage } from "../../../../firmware-bridge/contract/messages.ts";
import { Bus, type HubEvents } from "../bus.ts";
import { ManualClock } from "../clock.ts";
import { silentLogger } from "../logger.ts";
import { Registry } from "../registry/registry.ts";
import { asDeviceId, type TelemetryBatch } from "../types.ts";
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
