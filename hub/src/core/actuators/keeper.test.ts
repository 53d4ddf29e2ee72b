import { describe, expect, it } from "vitest";
import { HubError } from "../errors.ts";
import { ESTOP_ID } from "../interlock/service.ts";
import { type Site, MemoryInterlockStore, SITE_RULES, WATER, buildSite, juf, tech, thrown } from "../testing/safety-site.ts";

/** A started site with every device calm and every rule normal; the keeper ticking. */
function started(store?: MemoryInterlockStore): Site {
  const site = buildSite(store !== undefined ? { store } : {});
  site.service.start();
  site.keeper.start();
  site.allCalm();
  return site;
}

const sends = (site: Site, actuator: string) => site.devices.received.filter((c) => c.actuator === actuator);

describe("ActuatorKeeper", () => {
  it("refreshes a held value once a third of its lease has passed, never later and not much sooner", async () => {
    const site = started();
    const t0 = site.clock.now();
    site.keeper.hold(WATER, "pumpEnable", 1);
    await site.calmFor(10_000);
    const at = sends(site, "pumpEnable").map((c) => c.at - t0);
    expect(at[0]).toBe(0);
    expect(sends(site, "pumpEnable").every((c) => c.value === 1 && c.leaseMs === 3000)).toBe(true);
    await site.advance(20);
    const gaps = at.slice(1).map((t, i) => t - (at[i] ?? 0));
    expect(gaps.length).toBeGreaterThanOrEqual(8);
    // Lease 3000 ms: refreshed after 1000 ms, within one tick (250 ms) of it.
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(1000);
      expect(gap).toBeLessThanOrEqual(1250);
    }
    expect(site.keeper.list()).toMatchObject([{ deviceId: WATER, actuator: "pumpEnable", value: 1, status: "held", lastError: null, inFlight: false }]);
  });

  it("retries a refresh that failed at the next tick rather than a third of a lease later", async () => {
    const site = started();
    site.devices.answer.set(WATER, "refuse");
    const t0 = site.clock.now();
    site.keeper.hold(WATER, "pumpEnable", 1);
    await site.calmFor(800);
    expect(sends(site, "pumpEnable").map((c) => c.at - t0)).toEqual([0, 250, 500, 750]);
    expect(site.keeper.list()[0]?.lastError).toMatch(/refused pumpEnable=1: refused by test/);
  });

  type Refusal = [name: string, arrange: (site: Site) => Promise<void>, reason: RegExp, latched: boolean];
  const refusals: Refusal[] = [
    ["its rules wait for fresh inputs", (s) => Promise.resolve(s.reboot("water")), /rule leak: the hub is still waiting for fresh readings\./, false],
    ["its rule tripped", (s) => Promise.resolve(s.tele("water", { leak: 1 })), /^Reason leak\.$/, true],
    ["its rule cleared but not reset", async (s) => (s.tele("water", { leak: 1 }), s.tele("water", { leak: 0 }), await s.calmFor(5000)), /^rule leak has not been reset yet\.$/, true],
    ["a non-latching rule tripped", (s) => Promise.resolve(s.tele("water", { tempC: 1 })), /^Reason cold\.$/, true],
    ["the emergency stop", (s) => Promise.resolve(void s.service.emergencyStop(juf)), /^The emergency stop is active\.$/, true],
  ];

  it.each(refusals)("refuses a start while %s, with the permit's reason, and sends nothing", async (name, arrange, reason, latched) => {
    // Before the first reading: a hub just started. Otherwise a running one.
    const site = name.startsWith("its rules wait") ? buildSite() : started();
    if (name.startsWith("its rules wait")) {
      site.service.start();
      site.keeper.start();
    }
    await arrange(site);
    const permit = site.permits.check(WATER, "pumpEnable", 1);
    if (permit.allowed) throw new Error("expected a refusal");
    expect(permit.latched).toBe(latched);
    expect(permit.reason.en).toMatch(reason);
    // One sentence per rule for staff, `reason` their join; no ids or raw values (those are in the interlock's cause).
    expect(permit.reason.en).toBe(permit.reasons.map((r) => r.en).join(" "));
    expect(permit.reason.en).not.toMatch(/pumpEnable|water\.|=|</);
    const sent = site.commands.asked.filter((c) => c.value !== 0).length;
    const error = thrown(() => site.keeper.hold(WATER, "pumpEnable", 1));
    expect(error).toBeInstanceOf(HubError);
    expect(error).toMatchObject({ code: "INTERLOCK_TRIPPED", reason: permit.reason, message: permit.reason.en });
    await site.advance(1000);
    expect(site.commands.asked.filter((c) => c.value !== 0).length).toBe(sent);
    expect(site.keeper.list()).toEqual([]);
    // The safe value is always allowed.
    expect(thrown(() => site.keeper.hold(WATER, "pumpEnable", 0))).toBeUndefined();
  });

  it("drops a hold when its permit goes, and never resumes it by itself when the permit returns", async () => {
    const site = started();
    site.keeper.hold(WATER, "pumpEnable", 1);
    await site.calmFor(1500);
    // `cold` does not latch and has no action: only the keeper stops the pump (its lease runs out).
    site.tele("water", { tempC: 1 });
    await site.advance(250);
    expect(site.keeper.list()).toEqual([]);
    const lastOn = sends(site, "pumpEnable").at(-1)?.at ?? 0;
    site.tele("water", { tempC: 20 });
    expect(site.service.view("cold")?.status).toBe("normal");
    await site.calmFor(10_000);
    expect(sends(site, "pumpEnable").filter((c) => c.at > lastOn)).toEqual([]);
  });

  it("drops a hold whose rule tripped and was reset between two of its ticks", async () => {
    const site = started();
    site.keeper.hold(WATER, "pumpEnable", 1);
    await site.calmFor(1000);
    // 50 ms of cold water: tripped and back to normal (it does not latch) before the keeper looked.
    site.tele("water", { tempC: 1 });
    await site.advance(50);
    site.tele("water", { tempC: 20 });
    const at = site.clock.now();
    await site.calmFor(5000);
    expect(sends(site, "pumpEnable").filter((c) => c.at > at && c.value === 1)).toEqual([]);
  });

  it("drops a hold whose permit went while its device was offline", async () => {
    // Only `cold`: no rule whose trip action would release the hold for the keeper.
    const site = buildSite({ rules: SITE_RULES.filter((r) => r.id === "cold") });
    site.service.start();
    site.keeper.start();
    site.allCalm();
    site.keeper.hold(WATER, "pumpEnable", 1);
    await site.calmFor(1000);
    site.offline("water");
    expect(site.service.view("cold")?.status).toBe("tripped");
    await site.advance(1000);
    site.online("water");
    site.tele("water", { leak: 0, tempC: 20 });
    expect(site.service.view("cold")?.status).toBe("normal");
    const at = site.clock.now();
    await site.calmFor(5000);
    expect(sends(site, "pumpEnable").filter((c) => c.at >= at && c.value === 1)).toEqual([]);
  });

  it("holdWhenPermitted: waits while the rules wait for fresh inputs, then starts", async () => {
    const site = buildSite();
    site.service.start();
    site.keeper.start();
    site.online("water");
    site.tele("water", { leak: 0, tempC: 20 });
    site.keeper.holdWhenPermitted(WATER, "pumpEnable", 1);
    await site.advance(1000);
    // The e-stop button has not reported yet: the e-stop waits, and so does the hold.
    expect(site.service.view(ESTOP_ID)?.status).toBe("waiting");
    expect(site.keeper.list()).toMatchObject([{ actuator: "pumpEnable", status: "pending" }]);
    expect(sends(site, "pumpEnable")).toEqual([]);
    site.allCalm();
    await site.advance(250);
    expect(site.keeper.list()).toMatchObject([{ actuator: "pumpEnable", status: "held" }]);
    expect(sends(site, "pumpEnable").map((c) => c.value)).toEqual([1]);
  });

  it("holdWhenPermitted: forgotten once a latched trip forbids it, and not started by the reset", async () => {
    const site = buildSite();
    site.service.start();
    site.keeper.start();
    site.online("water");
    site.tele("water", { leak: 1, tempC: 20 });
    site.keeper.holdWhenPermitted(WATER, "pumpEnable", 1);
    site.allCalm();
    await site.advance(250);
    expect(site.keeper.list()).toEqual([]);
    await site.calmFor(3000);
    site.service.reset("leak", tech);
    await site.calmFor(5000);
    expect(sends(site, "pumpEnable").filter((c) => c.value === 1)).toEqual([]);
  });

  it("holdWhenPermitted: forgotten when a latched trip restored after a restart forbids it, even if its device reports only after the reset", async () => {
    const store = new MemoryInterlockStore();
    store.save(ESTOP_ID, { cause: { kind: "manual", detail: { nl: "noodstop door juf", en: "emergency stop by juf" } }, trippedAt: 0 });
    const site = buildSite({ store });
    // As the hub starts: interlocks (the e-stop restored), then the keeper with the config's holds.
    site.service.start();
    site.keeper.start();
    site.keeper.holdWhenPermitted(WATER, "pumpEnable", 1);
    expect(site.service.view(ESTOP_ID)).toMatchObject({ status: "tripped", latched: true });
    site.online("button");
    site.tele("button", { pressed: 0 });
    await site.advance(1000);
    site.service.reset(ESTOP_ID, juf);
    // The water board connects only now.
    site.online("water");
    await site.calmFor(5000);
    expect(sends(site, "pumpEnable").filter((c) => c.value === 1)).toEqual([]);
  });

  it("release stops the refreshes; the device falls back to safe on its own lease", async () => {
    const site = started();
    site.keeper.hold(WATER, "heater", 1);
    await site.calmFor(500);
    expect(site.keeper.release(WATER, "heater")).toMatchObject({ value: 1, status: "held" });
    const n = sends(site, "heater").length;
    await site.calmFor(5000);
    expect(sends(site, "heater")).toHaveLength(n);
  });

  it("stop() stops refreshing; holds stay listed", async () => {
    const site = started();
    site.keeper.hold(WATER, "heater", 1);
    site.keeper.stop();
    const n = sends(site, "heater").length;
    await site.calmFor(5000);
    expect(sends(site, "heater")).toHaveLength(n);
    expect(site.keeper.list()).toHaveLength(1);
  });
});
