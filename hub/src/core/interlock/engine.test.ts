import { describe, expect, it } from "vitest";
import { InterlockRule, type InterlockRule as Rule } from "../../config/interlocks.ts";
import type { Actor } from "../types.ts";
import { type EngineRule, InterlockEngine } from "./engine.ts";
import type { InputReading, InputView } from "./inputs.ts";

const tech: Actor = { name: "tech", role: "technician" };
const juf: Actor = { name: "juf", role: "instructor" };
const T0 = 1_000_000;

function rule(partial: Record<string, unknown>): Rule {
  return InterlockRule.parse({ name: { nl: "regel", en: "rule" }, reason: { nl: "reden", en: "reason" }, ...partial });
}

/** A tiny world of inputs the test sets directly. */
class World {
  readings = new Map<string, InputReading>();
  set(ref: string, value: number | null, at: number, quality: InputReading["quality"] = "ok", deviceState: InputReading["deviceState"] = "ready") {
    this.readings.set(ref, { value, at, quality, deviceState });
  }
  read = (ref: string) => this.readings.get(ref);
}

const leakRule = rule({ id: "water-leak", when: { type: "equals", input: "water.leak", value: 1 }, forbids: ["water.pumpEnable"], reset: { roles: ["technician"], clearForS: 5 } });

describe("interlock engine", () => {
  it("waits for fresh inputs after a start, then becomes normal", () => {
    const w = new World();
    const e = new InterlockEngine([leakRule], T0);
    expect(e.evaluate(T0, w.read)).toEqual([]);
    expect(e.state("water-leak")?.status).toBe("waiting");
    expect(e.state("water-leak")?.cause?.detail.en).toMatch(/water\.leak is missing/);
    w.set("water.leak", 0, T0 + 100);
    const t = e.evaluate(T0 + 100, w.read);
    expect(t).toMatchObject([{ id: "water-leak", from: "waiting", to: "normal" }]);
  });

  it("trips on the condition, latches, refuses a reset while active and before inputs are fresh long enough, then resets without restarting anything", () => {
    const w = new World();
    const e = new InterlockEngine([leakRule], T0);
    w.set("water.leak", 0, T0);
    e.evaluate(T0, w.read);
    w.set("water.leak", 1, T0 + 1000);
    expect(e.evaluate(T0 + 1000, w.read)).toMatchObject([{ to: "tripped", cause: { kind: "condition", detail: { en: "water.leak = 1" } } }]);
    expect(e.reset("water-leak", tech, T0 + 1500)).toMatchObject({ code: "INTERLOCK_TRIPPED", why: { en: /cause is still there/ } });
    w.set("water.leak", 0, T0 + 2000);
    expect(e.evaluate(T0 + 2000, w.read)).toMatchObject([{ from: "tripped", to: "cleared" }]);
    expect(e.reset("water-leak", tech, T0 + 4000)).toMatchObject({ code: "INTERLOCK_TRIPPED", why: { en: "The readings must stay fine for another 3 s." } });
    expect(e.reset("water-leak", juf, T0 + 8000)).toMatchObject({ code: "FORBIDDEN", why: { nl: "Alleen een technicus mag regel resetten.", en: "Only a technician may reset rule." } });
    expect(e.resetBlocker("water-leak", T0 + 8000)).toBeNull();
    expect(e.reset("water-leak", tech, T0 + 8000)).toBeNull();
    expect(e.state("water-leak")?.status).toBe("normal");
    expect(e.reset("water-leak", tech, T0 + 8001)).toMatchObject({ code: "REQUEST_INVALID" });
  });

  it.each([
    ["stale", "stale", "ready", /water\.leak is stale/],
    ["invalid (NaN, out of range)", "invalid", "ready", /water\.leak is invalid/],
    ["missing", "missing", "ready", /water\.leak is missing/],
    ["from an offline device (last will)", "ok", "offline", /device water is offline/],
    ["from a faulted device", "ok", "fault", /device water reports a fault/],
    ["from a device not heard since a restart", "ok", "unknown", /device water is not available/],
  ] as const)("trips on an input that is %s, never using a last good value", (_name, quality, deviceState, reason) => {
    const w = new World();
    const e = new InterlockEngine([leakRule], T0);
    w.set("water.leak", 0, T0);
    e.evaluate(T0, w.read);
    w.set("water.leak", 0, T0 + 10, quality, deviceState);
    const [t] = e.evaluate(T0 + 10, w.read);
    expect(t).toMatchObject({ to: "tripped", cause: { kind: "input", input: "water.leak" } });
    expect(t?.cause?.detail.en).toMatch(reason);
  });

  it("keeps a threshold tripped inside its hysteresis band", () => {
    const w = new World();
    const e = new InterlockEngine([rule({ id: "dhw", when: { type: "above", input: "water.tankTempC", value: 65, hysteresis: 5 }, latch: false })], T0);
    const at = (v: number, t: number) => {
      w.set("water.tankTempC", v, t);
      return e.evaluate(t, w.read).map((x) => x.to);
    };
    expect(at(60, T0)).toEqual(["normal"]);
    expect(at(65.5, T0 + 1)).toEqual(["tripped"]);
    expect(at(62, T0 + 2)).toEqual([]);
    expect(at(59.9, T0 + 3)).toEqual(["normal"]);
    expect(at(64, T0 + 4)).toEqual([]);
  });

  it("trips only when the condition has held for delayS", () => {
    const w = new World();
    const e = new InterlockEngine(
      [rule({ id: "no-flow", when: { type: "all", of: [{ type: "above", input: "hp.powerW", value: 200 }, { type: "below", input: "hp.flowLpm", value: 2 }] }, delayS: 10 })],
      T0,
    );
    w.set("hp.powerW", 900, T0);
    w.set("hp.flowLpm", 0, T0);
    expect(e.evaluate(T0, w.read).map((t) => t.to)).toEqual(["normal"]);
    expect(e.evaluate(T0 + 9_999, w.read)).toEqual([]);
    const [t] = e.evaluate(T0 + 10_000, w.read);
    expect(t?.to).toBe("tripped");
    expect(t?.cause?.detail.en).toBe("hp.powerW 900 > 200 and hp.flowLpm 0 < 2");
  });

  it("detects a stuck sensor whose readings keep arriving unchanged", () => {
    const w = new World();
    const e = new InterlockEngine([rule({ id: "stuck", when: { type: "stuck", input: "water.tankTempC", forS: 60 } })], T0);
    for (let s = 0; s <= 59; s++) {
      w.set("water.tankTempC", 50 + (s < 5 ? s : 5), T0 + s * 1000);
      expect(e.evaluate(T0 + s * 1000, w.read).filter((t) => t.to === "tripped")).toEqual([]);
    }
    w.set("water.tankTempC", 55, T0 + 65_000);
    expect(e.evaluate(T0 + 65_000, w.read).map((t) => t.to)).toEqual(["tripped"]);
  });

  it("detects a rate of rise", () => {
    const w = new World();
    const e = new InterlockEngine([rule({ id: "rise", when: { type: "rate", input: "battery.batteryTempC", risePerMin: 2, windowS: 60 } })], T0);
    for (let s = 0; s <= 30; s++) {
      w.set("battery.batteryTempC", 25 + s * 0.01, T0 + s * 1000);
      e.evaluate(T0 + s * 1000, w.read);
    }
    expect(e.state("rise")?.status).toBe("normal");
    for (let s = 31; s <= 60; s++) {
      w.set("battery.batteryTempC", 25.3 + (s - 30) * 0.2, T0 + s * 1000);
      e.evaluate(T0 + s * 1000, w.read);
    }
    expect(e.state("rise")?.status).toBe("tripped");
  });

  it("resets one of two trips and leaves the other latched", () => {
    const w = new World();
    const e = new InterlockEngine([leakRule, rule({ id: "soc", when: { type: "below", input: "battery.socPct", value: 10 }, reset: { roles: ["instructor", "technician"], clearForS: 0 } })], T0);
    w.set("water.leak", 1, T0);
    w.set("battery.socPct", 5, T0);
    expect(e.evaluate(T0, w.read).map((t) => `${t.id}:${t.to}`).sort()).toEqual(["soc:tripped", "water-leak:tripped"]);
    w.set("water.leak", 0, T0 + 1000);
    w.set("battery.socPct", 50, T0 + 1000);
    e.evaluate(T0 + 1000, w.read);
    expect(e.reset("soc", juf, T0 + 1000)).toBeNull();
    expect(e.state("soc")?.status).toBe("normal");
    expect(e.state("water-leak")?.status).toBe("cleared");
  });

  it("re-trips a cleared rule when the cause returns, and restarts the clear timer", () => {
    const w = new World();
    const e = new InterlockEngine([leakRule], T0);
    w.set("water.leak", 1, T0);
    e.evaluate(T0, w.read);
    w.set("water.leak", 0, T0 + 1000);
    e.evaluate(T0 + 1000, w.read);
    w.set("water.leak", 1, T0 + 2000);
    expect(e.evaluate(T0 + 2000, w.read)).toMatchObject([{ from: "cleared", to: "tripped", retrigger: true }]);
    w.set("water.leak", 0, T0 + 3000);
    e.evaluate(T0 + 3000, w.read);
    expect(e.reset("water-leak", tech, T0 + 7000)).toMatchObject({ code: "INTERLOCK_TRIPPED" });
    expect(e.reset("water-leak", tech, T0 + 8000)).toBeNull();
  });

  it("restores a latched trip after a restart: it stays latched until reset", () => {
    const w = new World();
    const e = new InterlockEngine([leakRule], T0);
    e.restore("water-leak", { cause: { kind: "condition", detail: { nl: "lek", en: "leak" } }, trippedAt: T0 - 5000 }, T0);
    w.set("water.leak", 0, T0 + 10);
    expect(e.evaluate(T0 + 10, w.read)).toMatchObject([{ from: "tripped", to: "cleared" }]);
    expect(e.state("water-leak")?.cause?.detail.en).toBe("leak");
    expect(e.reset("water-leak", tech, T0 + 6000)).toBeNull();
  });

  it("follows another interlock, and refuses circles and unknown references", () => {
    const w = new World();
    const e = new InterlockEngine([rule({ id: "follow", when: { type: "tripped", interlock: "water-leak" }, latch: false }), leakRule], T0);
    w.set("water.leak", 1, T0);
    expect(e.evaluate(T0, w.read).map((t) => `${t.id}:${t.to}`)).toEqual(["water-leak:tripped", "follow:tripped"]);
    expect(() => new InterlockEngine([rule({ id: "a", when: { type: "tripped", interlock: "b" } }), rule({ id: "b", when: { type: "tripped", interlock: "a" } })], T0)).toThrow(/circle: a -> b -> a/);
    expect(() => new InterlockEngine([rule({ id: "a", when: { type: "tripped", interlock: "zz" } })], T0)).toThrow(/unknown interlock "zz"/);
  });

  it("trips on a manual cause (an emergency stop from a screen) even with no inputs", () => {
    const estop = new InterlockEngine([rule({ id: "estop-like", when: { type: "equals", input: "button.pressed", value: 1 }, reset: { roles: ["instructor", "technician"], clearForS: 0 } })], T0);
    const w = new World();
    w.set("button.pressed", 0, T0);
    estop.evaluate(T0, w.read);
    estop.forceTrip("estop-like", { kind: "manual", detail: { nl: "noodstop via scherm", en: "emergency stop from a screen" } });
    expect(estop.evaluate(T0 + 1, w.read)).toMatchObject([{ to: "tripped", cause: { kind: "manual" } }]);
    expect(estop.evaluate(T0 + 2, w.read)).toMatchObject([{ to: "cleared" }]);
    expect(estop.reset("estop-like", juf, T0 + 2)).toBeNull();
  });

  describe("delayS and resets", () => {
    const hot = () =>
      new InterlockEngine([rule({ id: "hot", when: { type: "above", input: "water.tempC", value: 65, hysteresis: 5 }, delayS: 10, reset: { roles: ["technician"], clearForS: 2 } })], T0);
    const at = (e: InterlockEngine, w: World, v: number, t: number) => {
      w.set("water.tempC", v, T0 + t);
      return e.evaluate(T0 + t, w.read).map((x) => x.to);
    };

    it("refuses a reset while the condition holds again, before its delay has passed: the reset would start the delay over", () => {
      const w = new World();
      const e = hot();
      expect(at(e, w, 70, 0)).toEqual(["normal"]);
      expect(at(e, w, 70, 10_000)).toEqual(["tripped"]);
      expect(at(e, w, 50, 11_000)).toEqual(["cleared"]);
      expect(at(e, w, 66, 20_000)).toEqual([]);
      expect(e.state("hot")).toMatchObject({ status: "cleared", pendingSince: T0 + 20_000 });
      expect(e.reset("hot", tech, T0 + 20_500)).toMatchObject({ code: "INTERLOCK_TRIPPED", why: { en: "The cause is back (for less than the rule's delay so far)." } });
      expect(e.state("hot")?.status).toBe("cleared");
      expect(at(e, w, 66, 30_000)).toEqual(["tripped"]);
    });

    it("starts the clear time over when the condition came back for less than its delay", () => {
      const w = new World();
      const e = hot();
      at(e, w, 70, 0);
      at(e, w, 70, 10_000);
      at(e, w, 50, 11_000);
      at(e, w, 66, 12_000);
      expect(at(e, w, 50, 12_500)).toEqual([]);
      expect(e.reset("hot", tech, T0 + 14_000)).toMatchObject({ code: "INTERLOCK_TRIPPED", why: { en: "The readings must stay fine for another 1 s." } });
      expect(e.reset("hot", tech, T0 + 14_500)).toBeNull();
    });

    it("keeps a rule tripped by a bad input tripped when the input returns with the condition holding, even before its delay", () => {
      const w = new World();
      const e = new InterlockEngine([rule({ id: "hot", when: { type: "above", input: "water.tempC", value: 65, hysteresis: 0 }, delayS: 10, latch: false })], T0);
      at(e, w, 20, 0);
      w.set("water.tempC", 20, T0, "stale");
      expect(e.evaluate(T0 + 1000, w.read)).toMatchObject([{ to: "tripped", cause: { kind: "input" } }]);
      // Not normal (which would allow starts) while it is 70 degrees, just because the delay restarted.
      expect(at(e, w, 70, 2000)).toEqual([]);
      expect(e.state("hot")?.status).toBe("tripped");
      expect(at(e, w, 20, 3000)).toEqual(["normal"]);
    });
  });

  it("a rule tripped from outside its inputs stays tripped while its causeWhile holds or its inputs are bad, then needs a reset", () => {
    const w = new World();
    const e = new InterlockEngine([{ ...rule({ id: "arm-fault", when: { type: "equals", input: "arm.x", value: 1 }, reset: { roles: ["instructor"], clearForS: 1 } }), when: null, causeWhile: { condition: { type: "equals", input: "arm.doorClosed", value: 0 } } }], T0);
    w.set("arm.doorClosed", 0, T0);
    expect(e.evaluate(T0, w.read).map((t) => t.to)).toEqual(["normal"]);
    e.forceTrip("arm-fault", { kind: "manual", detail: { nl: "deur open tijdens programma", en: "door opened during the program" } });
    expect(e.evaluate(T0 + 10, w.read)).toMatchObject([{ to: "tripped", cause: { kind: "manual" } }]);
    expect(e.evaluate(T0 + 20, w.read)).toEqual([]);
    expect(e.state("arm-fault")).toMatchObject({ status: "tripped", holding: { kind: "condition", detail: { en: "arm.doorClosed = 0" } } });
    expect(e.reset("arm-fault", juf, T0 + 20)).toMatchObject({ code: "INTERLOCK_TRIPPED", why: { en: "The cause is still there: arm.doorClosed = 0." } });
    w.set("arm.doorClosed", 1, T0 + 30, "stale");
    e.evaluate(T0 + 30, w.read);
    expect(e.reset("arm-fault", juf, T0 + 30)).toMatchObject({ why: { en: "The cause is still there: reading arm.doorClosed is stale." } });
    w.set("arm.doorClosed", 1, T0 + 40);
    expect(e.evaluate(T0 + 40, w.read)).toMatchObject([{ from: "tripped", to: "cleared" }]);
    w.set("arm.doorClosed", 0, T0 + 50);
    expect(e.evaluate(T0 + 50, w.read)).toMatchObject([{ from: "cleared", to: "tripped", retrigger: true, cause: { detail: { en: "arm.doorClosed = 0" } } }]);
    w.set("arm.doorClosed", 1, T0 + 60);
    e.evaluate(T0 + 60, w.read);
    expect(e.reset("arm-fault", juf, T0 + 1059)).toMatchObject({ code: "INTERLOCK_TRIPPED" });
    expect(e.reset("arm-fault", juf, T0 + 1060)).toBeNull();
    // Without a forced trip the door alone trips nothing: it only keeps a trip.
    w.set("arm.doorClosed", 0, T0 + 2000);
    expect(e.evaluate(T0 + 2000, w.read)).toEqual([]);
  });

  it("counts every trip of a rule, restored ones too, and never counts down (for permit holders)", () => {
    const w = new World();
    const e = new InterlockEngine([rule({ id: "soc", when: { type: "below", input: "battery.socPct", value: 10 }, latch: false }), leakRule], T0);
    e.restore("water-leak", { cause: null, trippedAt: null }, T0);
    w.set("battery.socPct", 50, T0);
    w.set("water.leak", 0, T0);
    e.evaluate(T0, w.read);
    expect([e.trips("soc"), e.trips("water-leak")]).toEqual([0, 1]);
    for (const [i, v] of [5, 50, 5, 50].entries()) {
      w.set("battery.socPct", v, T0 + i + 1);
      e.evaluate(T0 + i + 1, w.read);
    }
    expect(e.state("soc")?.status).toBe("normal");
    expect([e.trips("soc"), e.trips("water-leak"), e.trips("nope")]).toEqual([2, 1, 0]);
  });
});

describe("a reset refused inside the hysteresis band", () => {
  it("quotes the value now and the threshold it must pass, not the value it tripped on", () => {
    const rule: EngineRule = {
      id: "hot",
      name: { nl: "Heet", en: "Hot" },
      reason: { nl: "te heet", en: "too hot" },
      severity: "critical",
      when: { type: "above", input: "water.tempC", value: 65, hysteresis: 5 },
      delayS: 0,
      actions: [],
      latch: true,
      reset: { roles: ["technician"], clearForS: 0 },
      forbids: [],
      escalation: "alarm",
    };
    const engine = new InterlockEngine([rule], 0);
    let v = 70;
    const read: InputView = () => ({ value: v, at: 0, quality: "ok", deviceState: "ready" });
    engine.evaluate(0, read);
    expect(engine.state("hot")?.status).toBe("tripped");
    v = 61;
    engine.evaluate(1000, read);
    const refusal = engine.reset("hot", { name: "t", role: "technician" }, 1000);
    expect(refusal?.why.en).toBe("The cause is still there: water.tempC 61, not yet below 60.");
    expect(engine.state("hot")?.cause?.detail.en).toBe("water.tempC 70 > 65");
  });
});
