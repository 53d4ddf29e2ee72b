import { describe, expect, it } from "vitest";
import { HubError } from "../errors.ts";
import { type Site, BUTTON, CELL, FakeStation, MemoryInterlockStore, WATER, buildSite, engineRule, equals, juf, tech, thrown } from "../testing/safety-site.ts";
import { timeOfDay } from "../texts/texts.ts";
import type { Actor } from "../types.ts";
import { ESTOP_ID } from "./service.ts";

/** A started site with calm readings and every rule normal; the pump and heater held on. */
async function running(store?: MemoryInterlockStore) {
  const cell = new FakeStation("cell", ["cell-fault"]);
  const site = buildSite({ stations: [cell], ...(store !== undefined ? { store } : {}) });
  site.stations.start();
  site.service.start();
  site.keeper.start();
  site.allCalm();
  await site.advance(100);
  site.keeper.hold(WATER, "pumpEnable", 1);
  site.keeper.hold(WATER, "heater", 1);
  await site.advance(100);
  return { site, cell };
}

const statuses = (site: Site) => Object.fromEntries(site.service.list().map((v) => [v.id, v.status]));
const sentTo = (site: Site, actuator: string) => site.devices.received.filter((c) => c.actuator === actuator).map((c) => c.value);

describe("InterlockService", () => {
  it("waits for fresh inputs after a start: everything its rules forbid is refused meanwhile, nothing latches", () => {
    const site = buildSite();
    site.service.start();
    expect(statuses(site)).toEqual({ estop: "waiting", leak: "waiting", hot: "waiting", cold: "waiting", "cell-fault": "normal" });
    expect(site.service.check(WATER, "pumpEnable", 1)).toMatchObject({ allowed: false, latched: false, reason: { en: /^Emergency stop: the hub is still waiting for fresh readings\./ } });
    expect(site.store.rows.size).toBe(0);
    site.allCalm();
    expect(statuses(site)).toEqual({ estop: "normal", leak: "normal", hot: "normal", cold: "normal", "cell-fault": "normal" });
    expect(site.service.check(WATER, "pumpEnable", 1)).toEqual({ allowed: true });
  });

  it("on a trip: the safe value through the command path, the hold dropped, an alarm, an audit entry, a retained publish and the latched state stored", async () => {
    const { site } = await running();
    expect(sentTo(site, "pumpEnable")).toEqual([1]);
    site.tele("water", { leak: 1 });
    const view = site.service.view("leak");
    expect(view).toMatchObject({ status: "tripped", latched: true, cause: { kind: "condition", detail: { en: "water.leak = 1" } }, resetBlocked: { en: /cause is still there: water\.leak = 1/ } });
    // The safe value goes out at once, through the one command path, and is acknowledged.
    expect(site.commands.asked.at(-1)).toMatchObject({ deviceId: WATER, actuator: "pumpEnable", value: 0 });
    await site.advance(50);
    expect(site.service.enforcer.status()).toEqual([]);
    expect(site.service.enforcer.counters.confirmed).toBe(1);
    expect(site.keeper.list().map((h) => h.actuator)).toEqual(["heater"]);
    expect(site.alarms.get("interlock:leak")).toMatchObject({ active: true, severity: "warning", message: { en: "reason leak: water.leak = 1" } });
    expect(site.audit.entries.filter((e) => e.target === "leak")).toMatchObject([
      { action: "interlock.tripped", actor: { name: "hub", role: "system" }, result: "ok", reason: "water.leak = 1", details: { from: "normal", to: "tripped", retrigger: false } },
    ]);
    expect(site.published.filter((p) => p.topic === "tec/test/_hub/interlock/leak").at(-1)?.payload).toMatchObject({ state: "tripped", latched: true, cause: { en: "water.leak = 1" } });
    expect(site.store.rows.get("leak")).toMatchObject({ cause: { kind: "condition", detail: { en: "water.leak = 1" } }, trippedAt: site.clock.now() - 50 });
    // The other rules are untouched; the heater keeps being refreshed.
    expect(statuses(site)).toMatchObject({ estop: "normal", hot: "normal", cold: "normal" });
    const heaterBefore = sentTo(site, "heater").length;
    await site.calmFor(2000);
    expect(sentTo(site, "heater").length).toBeGreaterThan(heaterBefore);
    expect(sentTo(site, "pumpEnable")).toEqual([1, 0]);
  });

  it("sends a station its trip action through the station registry", async () => {
    const { site, cell } = await running();
    site.service.trip("cell-fault", { nl: "robot in storing", en: "robot faulted" });
    expect(cell.acted).toEqual(["estop"]);
    expect(site.service.view("cell-fault")).toMatchObject({ status: "tripped", cause: { kind: "manual", detail: { en: "robot faulted" } } });
    expect(site.stations.verdict("cell")).toMatchObject({ ok: false, reason: { en: /cell\.start may not start: reason cell-fault \(robot faulted\)/ } });
  });

  it("restores a latched trip after a restart and keeps it until it is reset; an unlatched one is not stored", async () => {
    const store = new MemoryInterlockStore();
    const first = await running(store);
    first.site.tele("water", { leak: 1, tempC: 0 });
    expect(statuses(first.site)).toMatchObject({ leak: "tripped", cold: "tripped" });
    expect([...store.rows.keys()]).toEqual(["leak"]);
    first.site.service.stop();

    // A new hub on the same store: the leak is latched before a single reading has arrived.
    const second = buildSite({ store });
    second.service.start();
    expect(second.service.view("leak")).toMatchObject({ status: "tripped", latched: true, cause: { detail: { en: "water.leak = 1" } } });
    expect(second.service.view("cold")?.status).toBe("waiting");
    expect(second.service.check(WATER, "pumpEnable", 1)).toMatchObject({ allowed: false, latched: true });
    second.allCalm();
    expect(second.service.view("leak")?.status).toBe("cleared");
    await second.calmFor(3000);
    expect(second.service.reset("leak", tech).status).toBe("normal");
    expect(store.rows.size).toBe(0);
  });

  /** The leak stays wet, reported every second. */
  const leakFor = (ms: number) => async (s: Site) => {
    for (let t = 0; t < ms; t += 1000) {
      await s.advance(1000);
      s.tele("water", { leak: 1 });
    }
  };
  type ResetCase = [name: string, arrange: (site: Site) => Promise<void>, actor: Actor, expected: { code: string; en: RegExp } | "accepted"];
  const resetCases: ResetCase[] = [
    ["while the cause is present", leakFor(5000), tech, { code: "INTERLOCK_TRIPPED", en: /The cause is still there: water\.leak = 1/ }],
    ["while an input is stale", async (s) => (s.tele("water", { leak: 0 }), await s.advance(3500)), tech, { code: "INTERLOCK_TRIPPED", en: /The cause is still there: reading water\.leak is stale/ }],
    ["before clearForS has passed", async (s) => (s.tele("water", { leak: 0 }), await s.calmFor(2500)), tech, { code: "INTERLOCK_TRIPPED", en: /the readings must stay fine for another 1 s/ }],
    ["after clearForS, but from a role the rule does not name", async (s) => (s.tele("water", { leak: 0 }), await s.calmFor(3000)), juf, { code: "FORBIDDEN", en: /only technician may reset rule leak/ }],
    ["when the cause came back meanwhile", async (s) => (s.tele("water", { leak: 0 }), await s.calmFor(2000), s.tele("water", { leak: 1 }), s.tele("water", { leak: 0 }), await s.calmFor(2000)), tech, { code: "INTERLOCK_TRIPPED", en: /another 1 s/ }],
    ["when the input went stale meanwhile", async (s) => (s.tele("water", { leak: 0 }), await s.advance(3500), s.tele("water", { leak: 0 }), await s.calmFor(2500)), tech, { code: "INTERLOCK_TRIPPED", en: /another 1 s/ }],
    ["after clearForS from a listed role", async (s) => (s.tele("water", { leak: 0 }), await s.calmFor(3000)), tech, "accepted"],
  ];

  it.each(resetCases)("a reset %s", async (_name, arrange, actor, expected) => {
    const { site, cell } = await running();
    site.tele("water", { leak: 1 });
    await arrange(site);
    const sent = site.commands.asked.length;
    const error = thrown(() => site.service.reset("leak", actor));
    await site.advance(0);
    // Whatever the answer, a reset sends nothing and starts nothing.
    expect(site.commands.asked.length).toBe(sent);
    expect(cell.started).toEqual([]);
    if (expected === "accepted") {
      expect(error).toBeUndefined();
      expect(site.service.view("leak")).toMatchObject({ status: "normal", latched: false, cause: null });
      expect(site.store.rows.has("leak")).toBe(false);
      expect(site.alarms.get("interlock:leak")?.active).toBe(false);
      expect(site.published.at(-1)).toMatchObject({ topic: "tec/test/_hub/interlock/leak", payload: { state: "normal", latched: false } });
      // The person's reset is audited by the command that asked for it; the hub audits only its own doing.
      expect(site.audit.entries.filter((e) => e.target === "leak").map((e) => e.action)).toEqual(["interlock.tripped", "interlock.cleared"]);
      // The pump stays off: a reset restarts nothing, and the dropped hold does not come back.
      await site.calmFor(3000);
      expect(sentTo(site, "pumpEnable")).toEqual([1, 0]);
      expect(site.keeper.list().map((h) => h.actuator)).toEqual(["heater"]);
    } else {
      expect(error).toBeInstanceOf(HubError);
      expect(error).toMatchObject({ code: expected.code, reason: { en: expected.en } });
      expect(site.service.view("leak")?.status).not.toBe("normal");
      expect(site.store.rows.has("leak")).toBe(true);
    }
  });

  it("the emergency stop: every actuator safe, every station stopped, latched; reset by an instructor once the button is released", async () => {
    const { site, cell } = await running();
    const view = site.service.emergencyStop(juf);
    expect(view).toMatchObject({ id: ESTOP_ID, status: "tripped", cause: { kind: "manual", detail: { en: "emergency stop by juf" } } });
    expect(site.keeper.list()).toEqual([]);
    expect(cell.acted).toEqual(["estop"]);
    await site.advance(200);
    expect(sentTo(site, "pumpEnable").at(-1)).toBe(0);
    expect(sentTo(site, "heater").at(-1)).toBe(0);
    // A manual stop has no cause left to see: cleared at the next evaluation, reset at once.
    expect(site.service.view(ESTOP_ID)?.status).toBe("cleared");
    site.tele("button", { pressed: 1 });
    expect(thrown(() => site.service.reset(ESTOP_ID, juf))).toMatchObject({ code: "INTERLOCK_TRIPPED", reason: { en: /button\.pressed = 1/ } });
    site.tele("button", { pressed: 0 });
    expect(site.service.reset(ESTOP_ID, juf).status).toBe("normal");
    expect(thrown(() => site.keeper.hold(WATER, "pumpEnable", 1))).toBeUndefined();
  });

  it("a lost e-stop button is a pressed one", async () => {
    const { site } = await running();
    site.offline("button");
    expect(site.service.view(ESTOP_ID)).toMatchObject({ status: "tripped", cause: { kind: "input", input: "button.pressed", detail: { en: "device button is offline" } } });
    expect(site.registry.view(BUTTON)?.state).toBe("offline");
  });

  it("escalates a trip action the device does not confirm within its lease, and for an estop-escalating rule stops everything", async () => {
    const site = buildSite({ rules: [engineRule({ id: "leak", when: equals("water.leak", 1), actions: [{ type: "safe", actuator: "water.pumpEnable" }], escalation: "estop" })] });
    site.service.start();
    site.allCalm();
    site.devices.answer.set(WATER, "silent");
    site.tele("water", { leak: 1 });
    await site.calmFor(2900);
    expect(site.alarms.get("escalation:leak:water.pumpEnable")).toBeUndefined();
    expect(site.service.view(ESTOP_ID)?.status).toBe("normal");
    await site.calmFor(1100);
    expect(site.alarms.get("escalation:leak:water.pumpEnable")).toMatchObject({ active: true, severity: "critical", message: { en: /does not confirm its safe state \(device water did not acknowledge pumpEnable=0 within 1000 ms\)/ } });
    expect(site.audit.entries.find((e) => e.action === "interlock.escalated")).toMatchObject({ target: "water.pumpEnable", result: "failed", details: { interlock: "leak" } });
    expect(site.service.view(ESTOP_ID)).toMatchObject({ status: expect.stringMatching(/tripped|cleared/) as unknown, cause: { detail: { en: "emergency stop by escalation of leak" } } });
  });

  it("stop() freezes it: nothing evaluated, tripped or stored after it, but the e-stop's actions still run", async () => {
    const { site, cell } = await running();
    site.tele("water", { leak: 1 });
    const writes = site.store.writes;
    const published = site.published.length;
    const audited = site.audit.entries.length;
    site.service.stop();
    // The hub's own disconnects during a planned stop latch nothing.
    site.offline("water");
    site.tele("water", { leak: 0 });
    site.offline("button");
    await site.advance(5000);
    expect(statuses(site)).toMatchObject({ estop: "normal", leak: "tripped", hot: "normal", cold: "normal" });
    expect([site.store.writes, site.published.length, site.audit.entries.length]).toEqual([writes, published, audited]);
    // The water board is back for a moment: the e-stop still puts it safe and stops the stations.
    site.online("water");
    const asked = site.commands.asked.length;
    site.service.emergencyStop(juf);
    expect(site.commands.asked.slice(asked).map((c) => `${c.actuator}=${c.value}`).sort()).toEqual(["heater=0", "pumpEnable=0"]);
    expect(cell.acted).toContain("estop");
    expect(site.service.view(ESTOP_ID)?.status).toBe("normal");
    expect(site.store.writes).toBe(writes);
  });

  it("a station's trip from outside its inputs stays tripped while its causeWhile holds, and while that input is missing", async () => {
    const { site } = await running();
    site.tele("cell", { doorClosed: 0 });
    site.service.trip("cell-fault", { nl: "deur open", en: "door opened" });
    await site.advance(200);
    expect(site.service.view("cell-fault")).toMatchObject({ status: "tripped", resetBlocked: { en: "The cause is still there: cell.doorClosed = 0." } });
    site.reboot("cell");
    await site.advance(200);
    expect(site.service.view("cell-fault")).toMatchObject({ status: "tripped", resetBlocked: { en: "The cause is still there: reading cell.doorClosed is missing." } });
    site.tele("cell", { doorClosed: 1 });
    expect(site.service.view("cell-fault")?.status).toBe("cleared");
    expect(thrown(() => site.service.reset("cell-fault", juf))).toMatchObject({ code: "INTERLOCK_TRIPPED", reason: { en: /another 1 s/ } });
    await site.calmFor(1000);
    expect(site.service.reset("cell-fault", juf).status).toBe("normal");
    expect(site.registry.view(CELL)?.state).toBe("ready");
  });

  it("a reset of an unknown rule or of a normal one says so", async () => {
    const { site } = await running();
    expect(thrown(() => site.service.reset("nope", tech))).toMatchObject({ code: "NOT_FOUND" });
    expect(thrown(() => site.service.reset("leak", tech))).toMatchObject({ code: "REQUEST_INVALID", reason: { en: "There is nothing to reset." } });
  });
});

describe("a trip's alarm says what actually happened", () => {
  /** Time passes; the button and the cell keep reporting, the water board only if `water` is set. */
  async function quietWater(site: Site, ms: number): Promise<void> {
    for (let left = ms; left > 0; left -= 250) {
      await site.advance(250);
      site.tele("button", { pressed: 0 });
      site.tele("cell", { doorClosed: 1 });
    }
  }

  type Row = [name: string, arrange: (site: Site) => Promise<number | null>, want: (since: string) => { nl: string; en: string }];
  const rows: Row[] = [
    [
      "its condition held: the rule's reason and what held",
      (s) => Promise.resolve((s.tele("water", { leak: 1 }), null)),
      () => ({ nl: "reden leak: water.leak = 1", en: "reason leak: water.leak = 1" }),
    ],
    [
      "a reading went stale: that, and since when; not the rule's threshold text",
      async (s) => {
        const lastAt = s.clock.now();
        s.tele("water", { leak: 0, tempC: 20 });
        await quietWater(s, 4000);
        return lastAt;
      },
      (since) => ({
        nl: `leak: geen verse meting sinds ${since}. Daarom staat "regel leak" voor de zekerheid aan.`,
        en: `leak: no fresh reading since ${since}. So "rule leak" is on to be safe.`,
      }),
    ],
    [
      "no reading since the device restarted",
      (s) => Promise.resolve((s.reboot("water"), null)),
      () => ({ nl: `leak: nog geen meting ontvangen. Daarom staat "regel leak" voor de zekerheid aan.`, en: `leak: no reading received yet. So "rule leak" is on to be safe.` }),
    ],
    [
      "an invalid reading",
      (s) => Promise.resolve((s.tele("water", { leak: 7, tempC: 20 }), null)),
      () => ({ nl: `leak: de laatste meting was ongeldig. Daarom staat "regel leak" voor de zekerheid aan.`, en: `leak: the last reading was invalid. So "rule leak" is on to be safe.` }),
    ],
    [
      "its device went offline",
      (s) => Promise.resolve((s.offline("water"), null)),
      () => ({ nl: `water is niet bereikbaar, dus leak is onbekend. Daarom staat "regel leak" voor de zekerheid aan.`, en: `water cannot be reached, so leak is unknown. So "rule leak" is on to be safe.` }),
    ],
  ];

  it.each(rows)("%s", async (_name, arrange, want) => {
    const { site } = await running();
    const lastAt = await arrange(site);
    await site.advance(100);
    expect(site.service.view("leak")?.status).toBe("tripped");
    const since = lastAt === null ? "" : timeOfDay(lastAt);
    expect(site.alarms.get("interlock:leak")?.message).toEqual(want(since));
  });

  it("uses the names the config gives a device and its channels, in each language", async () => {
    const site = buildSite({
      devices: [{ id: "water", label: { nl: "Waterkast", en: "Water board" }, labels: { leak: { nl: "Lekmelder", en: "Leak sensor" } } }, { id: "button" }, { id: "cell" }],
    });
    site.service.start();
    site.allCalm();
    await site.advance(100);
    site.offline("water");
    await site.advance(100);
    expect(site.alarms.get("interlock:leak")?.message).toEqual({
      nl: `Waterkast is niet bereikbaar, dus Lekmelder is onbekend. Daarom staat "regel leak" voor de zekerheid aan.`,
      en: `Water board cannot be reached, so Leak sensor is unknown. So "rule leak" is on to be safe.`,
    });
  });
});
