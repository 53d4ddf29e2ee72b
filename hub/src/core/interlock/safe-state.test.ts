import { describe, expect, it } from "vitest";
import { silentLogger } from "../logger.ts";
import { WATER, buildSite } from "../testing/safety-site.ts";
import { asDeviceId, type DeviceId } from "../types.ts";
import { type Escalation, SafeStateEnforcer } from "./safe-state.ts";

/** An enforcer of its own on the site's real registry, command service and keeper; the water board online, nothing tripped. */
function setup() {
  const site = buildSite({ rules: [] });
  site.service.start();
  site.allCalm();
  const escalations: Escalation[] = [];
  const confirmed: Array<{ deviceId: DeviceId; actuator: string; rules: string[]; latencyMs: number }> = [];
  const enforcer = new SafeStateEnforcer(
    { clock: site.clock, registry: site.registry, commands: site.commands, keeper: site.keeper, logger: silentLogger },
    (e) => escalations.push(e),
    (deviceId, actuator, rules, latencyMs) => confirmed.push({ deviceId, actuator, rules, latencyMs }),
  );
  const sent = (actuator: string) => site.devices.received.filter((c) => c.actuator === actuator).map((c) => [c.at - t0, c.value]);
  const t0 = site.clock.now();
  return { site, enforcer, escalations, confirmed, sent, t0 };
}

describe("SafeStateEnforcer", () => {
  it("sends the declared safe value once and is done when the device acknowledges it", async () => {
    const { site, enforcer, confirmed, sent } = setup();
    site.keeper.hold(WATER, "pumpEnable", 1);
    enforcer.ensureSafe("leak", WATER, "pumpEnable");
    // Never held again on its own account.
    expect(site.keeper.list()).toEqual([]);
    expect(enforcer.status()).toMatchObject([{ deviceId: WATER, actuator: "pumpEnable", rules: ["leak"], attempts: 1, escalated: false }]);
    await site.advance(100);
    expect(sent("pumpEnable")).toEqual([
      [0, 1],
      [0, 0],
    ]);
    expect(confirmed).toEqual([{ deviceId: WATER, actuator: "pumpEnable", rules: ["leak"], latencyMs: 10 }]);
    expect(enforcer.status()).toEqual([]);
    expect(enforcer.counters).toEqual({ confirmed: 1, escalations: 0 });
  });

  it.each([
    ["silent", "did not acknowledge pumpEnable=0 within 1000 ms", [0, 1500, 3000]],
    ["refuse", "refused pumpEnable=0: refused by test", [0, 510, 1020, 1530, 2040, 2550, 3060]],
  ] as const)("retries a device that is %s every half second until it acknowledges, and escalates once after the lease", async (answer, error, attempts) => {
    const { site, enforcer, escalations, confirmed, sent } = setup();
    site.devices.answer.set(WATER, answer);
    enforcer.ensureSafe("leak", WATER, "pumpEnable");
    await site.calmFor(2990);
    expect(escalations).toEqual([]);
    await site.calmFor(200);
    // The lease is 3000 ms: after it the device has fallen back to safe on its own, or something is wrong.
    expect(escalations).toEqual([{ ruleId: "leak", deviceId: WATER, actuator: "pumpEnable", lastError: expect.stringContaining(error) as unknown }]);
    expect(sent("pumpEnable").map(([at]) => at)).toEqual(attempts);
    expect(enforcer.status()).toMatchObject([{ escalated: true, attempts: attempts.length }]);
    // It keeps trying, escalates no more, and is done at the first acknowledgement.
    site.devices.answer.set(WATER, "ack");
    await site.calmFor(2000);
    expect(escalations).toHaveLength(1);
    expect(confirmed).toMatchObject([{ rules: ["leak"] }]);
    expect(enforcer.status()).toEqual([]);
    expect(enforcer.counters).toEqual({ confirmed: 1, escalations: 1 });
  });

  it("escalates without sending for a device that has not declared the actuator, and retries until it does", async () => {
    const { site, enforcer, escalations } = setup();
    enforcer.ensureSafe("leak", WATER, "valve");
    enforcer.ensureSafe("leak", asDeviceId("ghost"), "pumpEnable");
    await site.calmFor(11_000);
    expect(site.devices.received).toEqual([]);
    // Without a declared lease the default of 10 s applies.
    expect(escalations.map((e) => `${e.deviceId}.${e.actuator}: ${e.lastError}`).sort()).toEqual([
      "ghost.pumpEnable: device ghost has not declared actuator pumpEnable: its own safe default applies",
      "water.valve: device water has not declared actuator valve: its own safe default applies",
    ]);
  });

  it("a second trip for the same actuator joins the one under way: one command stream, every rule escalated and confirmed", async () => {
    const { site, enforcer, escalations, confirmed, sent } = setup();
    site.devices.answer.set(WATER, "silent");
    enforcer.ensureSafe("leak", WATER, "pumpEnable");
    await site.calmFor(1000);
    enforcer.ensureSafe("estop", WATER, "pumpEnable");
    expect(enforcer.status()).toMatchObject([{ rules: ["leak", "estop"], attempts: 1 }]);
    await site.calmFor(2100);
    expect(sent("pumpEnable").map(([at]) => at)).toEqual([0, 1500, 3000]);
    expect(escalations.map((e) => e.ruleId)).toEqual(["leak", "estop"]);
    site.devices.answer.set(WATER, "ack");
    await site.calmFor(2000);
    expect(confirmed).toMatchObject([{ rules: ["leak", "estop"] }]);
  });

  it("the emergency stop puts every declared actuator of every device safe and drops every hold", async () => {
    const { site, enforcer, sent } = setup();
    site.keeper.hold(WATER, "heater", 1);
    expect(enforcer.ensureAllSafe("estop")).toBe(2);
    expect(site.keeper.list()).toEqual([]);
    await site.advance(100);
    expect(sent("heater")).toEqual([
      [0, 1],
      [0, 0],
    ]);
    expect(sent("pumpEnable")).toEqual([[0, 0]]);
  });

  it("stop() ends every retry: nothing more is sent, escalated or confirmed, even if an acknowledgement arrives", async () => {
    const { site, enforcer, escalations, confirmed } = setup();
    site.devices.ackDelayMs = 300;
    enforcer.ensureSafe("leak", WATER, "pumpEnable");
    site.devices.answer.set(WATER, "refuse");
    enforcer.ensureSafe("hot", WATER, "heater");
    await site.advance(100);
    enforcer.stop();
    expect(enforcer.status()).toEqual([]);
    const sent = site.devices.received.length;
    await site.calmFor(12_000);
    expect(site.devices.received.length).toBe(sent);
    expect([escalations, confirmed]).toEqual([[], []]);
  });
});
