/**
 * The hazard table's rows for failing inputs and devices, as fault injection on the demo's house
 * (house-world.ts: the demo's rules and boards over real MQTT, the hub and the boards on one
 * ManualClock): a board that goes silent, one that sends NaN or an out-of-range value, a board that
 * crashes (dropped socket) or whose cable is pulled (a silent link: only MQTT keep-alives notice),
 * a trip action no device confirms with `escalation: estop`, and a planned hub restart while a
 * rule is latched. Each checks the trip, its timing on the hub's clock, what it did, the way back
 * by a reset, and that the reset restarts nothing.
 */
import { afterEach, describe, expect, it } from "vitest";
import { asDeviceId } from "../../hub/src/core/types.ts";
import { until } from "./harness.ts";
import { bootHouse, DEMO, type House, LEASE_MS, STEP_MS } from "./house-world.ts";

/** The hub's freshness sweep runs every 250 ms (hub/src/main.ts, SWEEP_MS). */
const SWEEP_MS = 250;
const WATER_RULES = ["water-leak", "hot-water-overtemp", "tank-sensor-stuck"];
const WATER_ACTUATORS = ["water.pumpEnable", "water.valveOpen", "water.heaterEnable"];

const statuses = async (w: House, ids: string[]) => Object.fromEntries(await Promise.all(ids.map(async (id) => [id, (await w.rule(id)).status] as const)));
const all = (ids: string[], status: string) => Object.fromEntries(ids.map((id) => [id, status]));

interface BadInput {
  row: string;
  inject(w: House): void;
  repair(w: House): void;
  /** When the rules trip, given the time of the last good reading and of the first bad one. */
  tripsAt(lastGood: number, firstBad: number): { after: number; atMost: number };
  cause: RegExp;
  trips: string[];
  /** Actuators the trips send to safe. */
  safe: string[];
}

const BAD_INPUTS: BadInput[] = [
  {
    row: "stale input (board connected, silent)",
    inject: (w) => w.board("water").inject({ drop: 1 }),
    repair: (w) => w.board("water").clearFaults(),
    // Stale once older than 3 periods, at the next freshness sweep.
    tripsAt: (lastGood) => ({ after: lastGood + 3 * STEP_MS, atMost: lastGood + 3 * STEP_MS + SWEEP_MS }),
    cause: /^reading water\.(leak|tankTempC) is stale$/,
    trips: WATER_RULES,
    safe: WATER_ACTUATORS,
  },
  {
    row: "NaN reading",
    inject: (w) => w.board("water").override("tankTempC", Number.NaN),
    repair: (w) => w.board("water").override("tankTempC", null),
    tripsAt: (_lastGood, firstBad) => ({ after: firstBad - 1, atMost: firstBad }),
    cause: /^reading water\.tankTempC is invalid$/,
    trips: ["hot-water-overtemp", "tank-sensor-stuck"],
    safe: ["water.heaterEnable"],
  },
  {
    row: "out-of-range reading (150 °C from a 0-100 °C sensor)",
    inject: (w) => w.board("water").override("tankTempC", 150),
    repair: (w) => w.board("water").override("tankTempC", null),
    tripsAt: (_lastGood, firstBad) => ({ after: firstBad - 1, atMost: firstBad }),
    cause: /^reading water\.tankTempC is invalid$/,
    trips: ["hot-water-overtemp", "tank-sensor-stuck"],
    safe: ["water.heaterEnable"],
  },
];

describe("hazard table: failing inputs and devices, fault injection on the hub's clock", () => {
  let w: House | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  /** After the cause has gone: every tripped rule resets once its clearForS has passed, and nothing restarts. */
  async function resetAndStayOff(house: House, rules: string[], safe: string[], trippedAt: number): Promise<void> {
    const tech = await house.staff("tech");
    await until(async () => Object.values(await statuses(house, rules)).every((s) => s === "cleared"), 5000, "cleared");
    const clearForS = Math.max(...rules.map((id) => DEMO.interlocks.find((r) => r.id === id)?.reset.clearForS ?? 0));
    for (const id of rules) expect((await tech("interlock.reset", { id })).body).toMatchObject({ ok: false, code: "INTERLOCK_TRIPPED" });
    await house.run(clearForS * 1000);
    for (const id of rules) expect((await tech("interlock.reset", { id })).body).toMatchObject({ ok: true, result: { status: "normal" } });
    await house.run(2 * LEASE_MS);
    for (const ref of safe) {
      expect(house.actuator(ref)).toBe(0);
      expect(house.changes.filter((c) => c.ref === ref && c.at > trippedAt && c.value !== 0)).toEqual([]);
    }
  }

  it.each(BAD_INPUTS.map((r) => [r.row, r] as const))("%s: every rule reading it trips at once (never a last good value), resets once valid readings are back", async (_name, row) => {
    w = await bootHouse();
    const house = w;
    const others = DEMO.interlocks.map((r) => r.id).filter((id) => !row.trips.includes(id));
    const lastGood = house.clock.now();
    row.inject(house);
    await house.step();
    const firstBad = house.clock.now();
    await house.run(4 * STEP_MS);
    expect(await statuses(house, row.trips)).toEqual(all(row.trips, "tripped"));
    expect(await statuses(house, others)).toEqual(all(others, "normal"));
    const views = await Promise.all(row.trips.map((id) => house.rule(id)));
    const window = row.tripsAt(lastGood, firstBad);
    for (const v of views) {
      expect(v.cause?.detail.en).toMatch(row.cause);
      expect(v.trippedAt).toBeGreaterThan(window.after);
      expect(v.trippedAt).toBeLessThanOrEqual(window.atMost);
      expect(house.h.hub.alarms.get(`interlock:${v.id}`)?.active).toBe(true);
    }
    const trippedAt = Math.max(...views.map((v) => v.trippedAt ?? 0));
    for (const ref of row.safe) {
      expect(house.actuator(ref)).toBe(0);
      expect(house.changes.filter((c) => c.ref === ref && c.value === 0 && c.at >= window.after)[0]).toMatchObject({ reason: "command" });
    }
    // While the input is bad, a reset is refused with that reason.
    const refused = await (await house.staff("tech"))("interlock.reset", { id: row.trips[0] });
    expect(!refused.body.ok && refused.body.reason?.en).toMatch(/^The cause is still there: reading water\./);

    row.repair(house);
    await house.step();
    await resetAndStayOff(house, row.trips, row.safe, trippedAt);
  }, 90_000);

  it("device crash (dropped socket): the last will trips its rules at once, with a device-offline alarm; back and reset, nothing restarts", async () => {
    w = await bootHouse();
    const house = w;
    const at = house.clock.now();
    house.board("water").crash();
    // The clock stands still: only the will can have done this.
    await until(() => house.h.hub.registry.view(asDeviceId("water"))?.state === "offline", 5000, "water offline");
    for (const id of WATER_RULES) expect(await house.rule(id)).toMatchObject({ status: "tripped", trippedAt: at, cause: { detail: { en: "device water is offline" } } });
    expect(house.h.hub.alarms.get("device-offline:water")).toMatchObject({ active: true });
    // The board lost power: its actuators are safe on their own.
    for (const ref of WATER_ACTUATORS) expect(house.actuator(ref)).toBe(0);

    await house.board("water").restart();
    await house.step();
    await resetAndStayOff(house, WATER_RULES, WATER_ACTUATORS, at);
    expect(house.h.hub.alarms.get("device-offline:water")?.active).toBe(false);
  }, 90_000);

  it("device crash (silent link, a pulled cable): the broker's keep-alive fires the last will (1.5 x 5 s), its rules trip; mended and reset, nothing restarts", async () => {
    w = await bootHouse({ linked: ["water"] });
    const house = w;
    const link = house.links.get("water");
    if (link === undefined) throw new Error("no link");
    const at = house.clock.now();
    link.silence();
    // The clock stands still, so nothing goes stale: the keep-alive and the will alone trip this.
    await until(() => house.h.hub.registry.view(asDeviceId("water"))?.state === "offline", 15_000, "water offline after the broker's keep-alive");
    for (const id of WATER_RULES) expect(await house.rule(id)).toMatchObject({ status: "tripped", trippedAt: at, cause: { detail: { en: "device water is offline" } } });
    expect(house.h.hub.alarms.get("device-offline:water")).toMatchObject({ active: true });

    link.mend();
    await until(() => house.board("water").connected && house.h.hub.registry.view(asDeviceId("water"))?.status === "online", 20_000, "water back");
    await house.step();
    await resetAndStayOff(house, WATER_RULES, WATER_ACTUATORS, at);
  }, 90_000);

  it("trip action not acknowledged, `escalation: estop`: after the actuator's lease a critical alarm and the emergency stop, everything safe", async () => {
    const rules = DEMO.interlocks.map((r) => (r.id === "water-leak" ? { ...r, escalation: "estop" as const } : r));
    w = await bootHouse({ rules });
    const house = w;
    const others = ["water", "battery", "heat-pump", "climate"].flatMap((d) => Object.keys(house.h.hub.registry.view(asDeviceId(d))?.actuators ?? {}).map((a) => `${d}.${a}`)).filter((ref) => !ref.startsWith("water."));
    // The board is gone: nothing confirms the leak rule's safe values.
    house.board("water").crash();
    await until(async () => (await house.rule("water-leak")).status === "tripped", 5000, "water-leak tripped");
    const trippedAt = house.clock.now();
    await house.run(LEASE_MS - STEP_MS);
    expect(house.h.hub.alarms.get("escalation:water-leak:water.pumpEnable")).toBeUndefined();
    expect((await house.rule("estop")).status).toBe("normal");
    expect(others.map((ref) => house.actuator(ref))).toEqual(others.map(() => 1));
    await house.step();

    expect(house.h.hub.alarms.get("escalation:water-leak:water.pumpEnable")).toMatchObject({ active: true, severity: "critical" });
    const estop = await house.rule("estop");
    // Latched; "cleared" at once, since no button holds it (the demo's button is not in this house).
    expect(estop).toMatchObject({ latched: true, trippedAt: trippedAt + LEASE_MS, cause: { detail: { en: "emergency stop by escalation of water-leak" } } });
    // Every actuator of every other board to safe by a command it acknowledged; nothing held.
    for (const ref of others) {
      expect(house.actuator(ref)).toBe(0);
      expect(house.acks).toContainEqual({ at: trippedAt + LEASE_MS, ref, ok: true });
    }
    expect(house.h.hub.keeper.list()).toEqual([]);
    const escalated = await house.audit("action=interlock.escalated");
    expect(escalated.map((r) => [r.target, r.result])).toContainEqual(["water.pumpEnable", "failed"]);
  }, 90_000);

  it("hub restart while tripped: still latched, the rest waits for fresh inputs, reset only after clearForS, nothing it forbids restarts", async () => {
    w = await bootHouse();
    const house = w;
    house.set({ "water.leak": 1 });
    await house.step();
    const trippedAt = house.clock.now();
    house.set({ "water.leak": 0 });
    await house.step();
    expect((await house.rule("water-leak")).status).toBe("cleared");

    await house.restartHub();
    // Before any reading reaches the new hub: latched, and the others wait for fresh inputs.
    expect(await house.rule("water-leak")).toMatchObject({ status: "tripped", latched: true, trippedAt });
    expect((await house.rule("hot-water-overtemp")).status).toBe("waiting");
    const juf = await house.staff("juf");
    const early = await juf("actuator.start", { device: "water", actuator: "heaterEnable", value: 1 });
    expect(early.body).toMatchObject({ ok: false, code: "INTERLOCK_TRIPPED" });

    // Fresh readings: the leak rule is cleared but still latched, the configured holds it does not
    // forbid come back through their permissives, and the pump and valve stay off.
    await house.step();
    const freshAt = house.clock.now();
    expect(await house.rule("water-leak")).toMatchObject({ status: "cleared", latched: true });
    await house.run(5 * STEP_MS);
    expect(house.actuator("water.heaterEnable")).toBe(1);
    expect(house.actuator("water.pumpEnable")).toBe(0);
    expect(house.actuator("water.valveOpen")).toBe(0);

    const tech = await house.staff("tech");
    expect((await tech("interlock.reset", { id: "water-leak" })).body).toMatchObject({ ok: false, reason: { en: "The readings must stay fine for another 5 s." } });
    await house.run(10_000 - (house.clock.now() - freshAt));
    expect((await tech("interlock.reset", { id: "water-leak" })).body).toMatchObject({ ok: true, result: { status: "normal" } });
    await house.run(2 * LEASE_MS);
    expect(house.actuator("water.pumpEnable")).toBe(0);
    expect(house.actuator("water.valveOpen")).toBe(0);
    expect((await juf("actuator.start", { device: "water", actuator: "pumpEnable", value: 1 })).body.ok).toBe(true);
  }, 90_000);
});
