import { describe, expect, it } from "vitest";
import type { HeldActuator } from "../core/actuators/keeper.ts";
import type { DeviceId } from "../core/types.ts";
import type { LatestInvocation } from "./commands.ts";
import { ActuatorBoard } from "./live-actuators.ts";
import type { InterlockView } from "./live-protocol.ts";

const SPEC = { safe: 0, leaseMs: 3000 };

const hold = (ref: string, value = 1, status: HeldActuator["status"] = "held"): HeldActuator => {
  const [deviceId, actuator] = ref.split(".") as [string, string];
  return { deviceId: deviceId as DeviceId, actuator, value, status, lastSentAt: null, lastAckAt: null, lastError: null, inFlight: false };
};

// Only what the board reads is filled in; the rest of a view is the interlock service's business.
const interlock = (id: string, status: InterlockView["status"], forbids: string[]): InterlockView => {
  const view: Partial<InterlockView> = {
    id,
    name: { nl: id === "estop" ? "Noodstop" : "Lekkage", en: id === "estop" ? "Emergency stop" : "Leak" },
    severity: "critical",
    status,
    latched: status !== "normal",
    since: 0,
    trippedAt: status === "normal" ? null : 0,
    cause: status === "normal" ? null : { kind: "manual", detail: { nl: "door juf", en: "by juf" } },
    reason: { nl: "pomp uit: lekkage", en: "pump off: leak" },
    kiosk: null,
    resetBlocked: null,
    resetRoles: ["instructor"],
    forbids,
    inputs: [],
  };
  return view as InterlockView;
};

const order = (command: "actuator.start" | "actuator.stop", at: number): LatestInvocation => ({ command, at, by: "juf", result: command === "actuator.stop" ? "pending" : "ok", code: null, message: null, reason: null });

function board(opts: { orders?: Record<string, LatestInvocation>; interlocks?: InterlockView[] } = {}) {
  const b = new ActuatorBoard({ order: (ref) => opts.orders?.[ref], interlocks: () => opts.interlocks ?? [] });
  b.describe("water", { pumpEnable: SPEC, heaterEnable: SPEC });
  return b;
}

interface Case {
  what: string;
  orders: Record<string, LatestInvocation>;
  interlocks: InterlockView[];
  state: string;
  released: unknown;
}

describe("ActuatorBoard", () => {
  it.each<Case>([
    {
      what: "a stop asked for after the hold began is a stop, not a release",
      orders: { "water.pumpEnable": order("actuator.stop", 150) },
      interlocks: [interlock("estop", "tripped", ["*"])],
      state: "off",
      released: null,
    },
    {
      what: "a hold gone while the e-stop forbids everything: released by the e-stop, with its cause",
      orders: { "water.pumpEnable": order("actuator.start", 50) },
      interlocks: [interlock("water-leak", "tripped", ["water.pumpEnable"]), interlock("estop", "tripped", ["*"])],
      state: "released",
      released: { at: 200, interlock: "estop", why: { nl: "De noodstop is actief.", en: "The emergency stop is active." } },
    },
    {
      what: "a hold gone while an interlock forbidding it is tripped: released by that interlock",
      orders: {},
      interlocks: [interlock("water-leak", "tripped", ["water.pumpEnable"]), interlock("other", "tripped", ["water.heaterEnable"])],
      state: "released",
      released: { at: 200, interlock: "water-leak", why: { nl: "Pomp uit: lekkage.", en: "Pump off: leak." } },
    },
    {
      what: "a stop from before the hold began does not explain its end",
      orders: { "water.pumpEnable": order("actuator.stop", 50) },
      interlocks: [],
      state: "released",
      released: { at: 200, interlock: null, why: { nl: "De hub houdt hem niet meer aan.", en: "The hub no longer holds it." } },
    },
  ])("$what", ({ orders, interlocks, state, released }) => {
    const b = board({ orders, interlocks });
    b.observe([hold("water.pumpEnable")], 100);
    b.observe([], 200);
    expect(b.views().find((v) => v.ref === "water.pumpEnable")).toMatchObject({ state, value: null, released });
  });

  it("puts a hold that ends after the visit ended down to the visit", () => {
    const b = board();
    b.observe([hold("water.pumpEnable")], 100);
    b.visitEnded(150);
    b.observe([], 200);
    expect(b.views()[0]?.released).toEqual({ at: 200, interlock: null, why: { nl: "Het bezoek is afgelopen.", en: "The visit ended." } });
  });

  it("forgets a release once the actuator is held again", () => {
    const b = board({ interlocks: [interlock("estop", "tripped", ["*"])] });
    b.observe([hold("water.pumpEnable")], 100);
    b.observe([], 200);
    b.observe([hold("water.pumpEnable", 1, "pending")], 300);
    expect(b.views()[0]).toMatchObject({ state: "pending", value: 1, released: null });
  });

  it("lists devices in the registry's order, whatever order they describe themselves in", () => {
    const b = new ActuatorBoard({ order: () => undefined, interlocks: () => [] });
    b.order(["climate", "water", "battery"]);
    b.describe("battery", { chargeEnable: SPEC });
    b.describe("water", { pumpEnable: SPEC, heaterEnable: SPEC });
    b.describe("stranger", { relay: SPEC });
    b.describe("climate", { ventilationEnable: SPEC });
    expect(b.views().map((v) => v.ref)).toEqual(["climate.ventilationEnable", "water.pumpEnable", "water.heaterEnable", "battery.chargeEnable", "stranger.relay"]);
  });

  it("reports each change once, a new spec as a change, and what a device no longer declares", () => {
    const orders: Record<string, LatestInvocation> = {};
    const b = board({ orders });
    expect(b.changes().changed.map((v) => v.ref)).toEqual(["water.pumpEnable", "water.heaterEnable"]);
    expect(b.hasChanges()).toBe(false);
    b.observe([hold("water.heaterEnable")], 100);
    expect(b.hasChanges()).toBe(true);
    expect(b.changes().changed.map((v) => v.ref)).toEqual(["water.heaterEnable"]);
    orders["water.pumpEnable"] = order("actuator.start", 120);
    expect(b.changes().changed.map((v) => v.ref)).toEqual(["water.pumpEnable"]);
    expect(b.hasChanges()).toBe(false);
    b.describe("water", { pumpEnable: { ...SPEC, leaseMs: 5000 } });
    expect(b.changes()).toMatchObject({ changed: [{ ref: "water.pumpEnable", spec: { leaseMs: 5000 } }], gone: ["water.heaterEnable"] });
    expect(b.views().map((v) => v.ref)).toEqual(["water.pumpEnable"]);
  });
});
