/**
 * The hazard table's rows for the Tiny House rules, as fault injection: the rules exactly as
 * config/demo.yaml declares them, the real hub (embedded broker on a TCP port, REST, SQLite, the
 * audit log) on an injected ManualClock, and the demo's boards as real MQTT devices with the
 * firmware's leases and heartbeat watch on the same clock (house-world.ts). Each row drives its
 * input across the threshold and back across the hysteresis band, and checks what the table says:
 * the action (the actuators to safe through the one command path, acknowledged), the latch, the
 * reset condition (refused while the cause is there and before `clearForS`, from the wrong role;
 * accepted after), that the reset restarts nothing, and the alarm. Delays, `clearForS` and leases
 * are driven on the clock, never waited for.
 */
import { afterEach, describe, expect, it } from "vitest";
import { bootHouse, type House, LEASE_MS, STEP_MS } from "./house-world.ts";

type Role = "instructor" | "technician";

interface LatchedRow {
  /** The row's cause, as the table names it. */
  row: string;
  rule: string;
  severity: "critical" | "warning";
  /** Readings that come close, or hold for less than the delay: they must not trip. */
  nearMiss(w: House): Promise<void>;
  cause(w: House): void;
  /** How long the cause must last before the rule trips, from its first reading. */
  afterS: number;
  detail: RegExp;
  /** Readings back inside the hysteresis band: the cause is still active. */
  band?(w: House): void;
  clear(w: House): void;
  clearForS: number;
  roles: Role[];
  /** The trip's actions: these go to safe, and may not start again until a reset. */
  safe: string[];
  /** Held actuators the rule leaves alone. */
  untouched: string[];
}

const set = (readings: Record<string, number>) => (w: House) => w.set(readings);

/** Holds `readings` for `ms` of the clock, then returns to `after`. */
const hold = async (w: House, readings: Record<string, number>, ms: number, after: Record<string, number>): Promise<void> => {
  w.set(readings);
  await w.run(ms);
  w.set(after);
  await w.step();
};

const LATCHED: LatchedRow[] = [
  {
    row: "water leak",
    rule: "water-leak",
    severity: "critical",
    nearMiss: (w) => w.run(5000),
    cause: set({ "water.leak": 1 }),
    afterS: 0,
    detail: /^water\.leak = 1$/,
    clear: set({ "water.leak": 0 }),
    clearForS: 10,
    roles: ["technician"],
    safe: ["water.pumpEnable", "water.valveOpen"],
    untouched: ["water.heaterEnable", "heat-pump.compressorEnable"],
  },
  {
    row: "hot water above 65 °C",
    rule: "hot-water-overtemp",
    severity: "critical",
    nearMiss: (w) => hold(w, { "water.tankTempC": 64.9 }, 10_000, { "water.tankTempC": 55 }),
    cause: set({ "water.tankTempC": 66 }),
    afterS: 0,
    detail: /^water\.tankTempC 66(\.01)? > 65$/,
    // Below the threshold, above 65 - 5: still too hot.
    band: set({ "water.tankTempC": 61 }),
    clear: set({ "water.tankTempC": 59 }),
    clearForS: 5,
    roles: ["technician"],
    safe: ["water.heaterEnable"],
    untouched: ["water.pumpEnable", "water.valveOpen"],
  },
  {
    row: "stuck tank sensor",
    rule: "tank-sensor-stuck",
    severity: "warning",
    // A value that changes at every reading never trips.
    nearMiss: (w) => w.run(20_000),
    cause: (w) => w.board("water").inject({ stuck: "tankTempC" }),
    afterS: 300,
    detail: /^water\.tankTempC stuck at 55(\.01)? for 300 s$/,
    clear: (w) => w.board("water").clearFaults(),
    clearForS: 5,
    roles: ["technician"],
    safe: ["water.heaterEnable"],
    untouched: ["water.pumpEnable"],
  },
  {
    row: "battery above 45 °C",
    rule: "battery-overtemp",
    severity: "critical",
    nearMiss: (w) => hold(w, { "battery.batteryTempC": 44.9 }, 10_000, { "battery.batteryTempC": 25 }),
    cause: set({ "battery.batteryTempC": 46 }),
    afterS: 0,
    detail: /^battery\.batteryTempC 46 > 45$/,
    band: set({ "battery.batteryTempC": 43 }),
    clear: set({ "battery.batteryTempC": 41.9 }),
    clearForS: 5,
    roles: ["technician"],
    safe: ["battery.chargeEnable"],
    untouched: ["battery.dischargeEnable"],
  },
  {
    row: "heat pump without water flow",
    rule: "heat-pump-no-flow",
    severity: "critical",
    async nearMiss(w) {
      const running = { "heat-pump.hpPowerW": 1500, "heat-pump.hpFlowLpm": 12 };
      // Little flow, but enough; no flow while the compressor is idle; no flow for less than 10 s.
      await hold(w, { "heat-pump.hpPowerW": 1500, "heat-pump.hpFlowLpm": 2.5 }, 15_000, running);
      await hold(w, { "heat-pump.hpPowerW": 150, "heat-pump.hpFlowLpm": 0 }, 15_000, running);
      await hold(w, { "heat-pump.hpPowerW": 1500, "heat-pump.hpFlowLpm": 1 }, 10_000 - STEP_MS, running);
    },
    cause: set({ "heat-pump.hpPowerW": 1500, "heat-pump.hpFlowLpm": 1 }),
    afterS: 10,
    detail: /^heat-pump\.hpPowerW 1500 > 200 and heat-pump\.hpFlowLpm 1 < 2$/,
    clear: set({ "heat-pump.hpFlowLpm": 12 }),
    clearForS: 5,
    roles: ["technician"],
    safe: ["heat-pump.compressorEnable"],
    untouched: ["water.heaterEnable", "climate.ventilationEnable"],
  },
  {
    row: "grid import above the connection (8 kW)",
    rule: "grid-overload",
    severity: "warning",
    async nearMiss(w) {
      const normal = { "grid-meter.gridPowerW": 2000 };
      // Just under the connection for long; a kettle's peak above it for less than 30 s.
      await hold(w, { "grid-meter.gridPowerW": 7900 }, 40_000, normal);
      await hold(w, { "grid-meter.gridPowerW": 9500 }, 30_000 - STEP_MS, normal);
    },
    cause: set({ "grid-meter.gridPowerW": 9000 }),
    afterS: 30,
    detail: /^grid-meter\.gridPowerW 9000 > 8000$/,
    // Below 8 kW, above 8 - 1 kW: still too much.
    band: set({ "grid-meter.gridPowerW": 7500 }),
    clear: set({ "grid-meter.gridPowerW": 6900 }),
    clearForS: 30,
    roles: ["instructor", "technician"],
    safe: ["water.heaterEnable", "heat-pump.compressorEnable"],
    untouched: ["water.pumpEnable", "battery.chargeEnable"],
  },
];

describe("hazard table: the demo's house rules, fault injection on the hub's clock", () => {
  let w: House | undefined;
  afterEach(async () => {
    await w?.close();
    w = undefined;
  });

  it.each(LATCHED.map((r) => [r.row, r] as const))("%s: trips, acts, latches; reset only once the cause is gone and only by its roles; restarts nothing", async (_name, row) => {
    w = await bootHouse();
    const house = w;
    const juf = await house.staff("juf");
    const tech = await house.staff("tech");
    const resetter = row.roles.includes("technician") ? tech : juf;
    const story: string[] = [];
    const reset = async (who = resetter) => {
      const r = await who("interlock.reset", { id: row.rule });
      story.push(`interlock.reset:${r.body.ok ? "ok" : "refused"}`);
      return r;
    };
    const allOn = (refs: string[]) => refs.map((ref) => [ref, house.actuator(ref)]);
    const on = (refs: string[]) => refs.map((ref) => [ref, 1]);
    expect((await house.rule(row.rule)).resetRoles).toEqual(row.roles);

    // Close, but not across: nothing trips, nothing stops.
    await row.nearMiss(house);
    expect((await house.rule(row.rule)).status).toBe("normal");
    expect(allOn([...row.safe, ...row.untouched])).toEqual(on([...row.safe, ...row.untouched]));
    expect(house.h.hub.alarms.get(`interlock:${row.rule}`)).toBeUndefined();

    // Across the threshold. A delay counts from the first reading that shows the cause.
    const confirmedBefore = house.h.hub.interlocks.enforcer.counters.confirmed;
    row.cause(house);
    await house.step();
    const from = house.clock.now();
    if (row.afterS > 0) {
      await house.run(row.afterS * 1000 - STEP_MS);
      expect((await house.rule(row.rule)).status).toBe("normal");
      expect(allOn(row.safe)).toEqual(on(row.safe));
      await house.step();
    }
    const trippedAt = from + row.afterS * 1000;
    const tripped = await house.rule(row.rule);
    expect(tripped).toMatchObject({ status: "tripped", latched: true, trippedAt });
    expect(tripped.cause?.detail.en).toMatch(row.detail);

    // The action: each actuator to safe by a command the board acknowledged, at the trip itself
    // (not by its lease running out), and no longer held; the rest of the house runs on.
    for (const ref of row.safe) {
      expect(house.actuator(ref)).toBe(0);
      expect(house.changes.filter((c) => c.ref === ref && c.at >= trippedAt)).toEqual([{ at: trippedAt, ref, value: 0, reason: "command" }]);
      expect(house.acks.filter((a) => a.ref === ref && a.at === trippedAt)).toContainEqual({ at: trippedAt, ref, ok: true });
      expect(house.h.hub.keeper.list().map((k) => `${k.deviceId}.${k.actuator}`)).not.toContain(ref);
    }
    expect(house.h.hub.interlocks.enforcer.status()).toEqual([]);
    expect(house.h.hub.interlocks.enforcer.counters.confirmed - confirmedBefore).toBe(row.safe.length);
    expect(allOn(row.untouched)).toEqual(on(row.untouched));
    const alarm = house.h.hub.alarms.get(`interlock:${row.rule}`);
    expect(alarm).toMatchObject({ active: true, severity: row.severity });
    expect(alarm?.message.en).toContain(tripped.reason.en);
    for (const ref of row.safe) {
      const [device, actuator] = ref.split(".");
      const start = await juf("actuator.start", { device, actuator, value: 1 });
      expect(start.body).toMatchObject({ ok: false, code: "INTERLOCK_TRIPPED" });
      expect(!start.body.ok && start.body.reason?.en).toContain(tripped.reason.en);
    }

    // The cause stays (or is back inside the hysteresis band only): latched, reset refused.
    row.band?.(house);
    await house.run((row.clearForS + 1) * 1000);
    expect((await house.rule(row.rule)).status).toBe("tripped");
    const active = await reset();
    expect(active.status).toBe(409);
    expect(active.body).toMatchObject({ ok: false, code: "INTERLOCK_TRIPPED" });
    expect(!active.body.ok && active.body.reason?.en).toMatch(/^The cause is still there: /);

    // The cause has gone: cleared, but still latched; a reset waits for clearForS of fresh inputs.
    row.clear(house);
    await house.step();
    expect(await house.rule(row.rule)).toMatchObject({ status: "cleared", latched: true });
    expect(house.h.hub.alarms.get(`interlock:${row.rule}`)?.active).toBe(false);
    const early = await reset();
    expect(early.body).toMatchObject({ ok: false, code: "INTERLOCK_TRIPPED", reason: { en: `The readings must stay fine for another ${row.clearForS} s.` } });
    if (!row.roles.includes("instructor")) {
      const wrongRole = await reset(juf);
      expect(wrongRole.status).toBe(403);
      expect(wrongRole.body).toMatchObject({ ok: false, code: "FORBIDDEN" });
    }
    await house.run(row.clearForS * 1000 - STEP_MS);
    const almost = await reset();
    expect(almost.body).toMatchObject({ ok: false, reason: { en: "The readings must stay fine for another 1 s." } });
    await house.step();
    const accepted = await reset();
    expect(accepted.body).toMatchObject({ ok: true, result: { status: "normal" } });

    // A reset restarts nothing: past two leases, what the trip stopped is still off and not held.
    await house.run(2 * LEASE_MS);
    for (const ref of row.safe) {
      expect(house.actuator(ref)).toBe(0);
      expect(house.changes.filter((c) => c.ref === ref && c.at > trippedAt)).toEqual([]);
      expect(house.h.hub.keeper.list().map((k) => `${k.deviceId}.${k.actuator}`)).not.toContain(ref);
    }
    // Until someone starts it, and the start passes its permissives.
    for (const ref of row.safe) {
      const [device, actuator] = ref.split(".");
      expect((await juf("actuator.start", { device, actuator, value: 1 })).body.ok).toBe(true);
      expect(house.actuator(ref)).toBe(1);
    }

    expect(await house.story(row.rule)).toEqual(["interlock.tripped:ok", story[0], "interlock.cleared:ok", ...story.slice(1)]);
    expect(story.at(-1)).toBe("interlock.reset:ok");
    // Minutes of the hub's clock: hundreds of steps, each a round trip over MQTT.
  }, 120_000);

  it("battery under 10 %: discharging blocked; the operating limit clears itself at 15 % and restarts nothing", async () => {
    w = await bootHouse();
    const house = w;
    const juf = await house.staff("juf");
    await hold(house, { "battery.socPct": 10.5 }, 5000, { "battery.socPct": 10.5 });
    expect((await house.rule("battery-low")).status).toBe("normal");
    expect(house.actuator("battery.dischargeEnable")).toBe(1);

    house.set({ "battery.socPct": 9 });
    await house.step();
    const trippedAt = house.clock.now();
    const tripped = await house.rule("battery-low");
    expect(tripped).toMatchObject({ status: "tripped", latched: false, trippedAt, cause: { detail: { en: "battery.socPct 9 < 10" } } });
    expect(house.changes.filter((c) => c.ref === "battery.dischargeEnable" && c.at >= trippedAt)).toEqual([{ at: trippedAt, ref: "battery.dischargeEnable", value: 0, reason: "command" }]);
    expect(house.acks).toContainEqual({ at: trippedAt, ref: "battery.dischargeEnable", ok: true });
    expect(house.actuator("battery.chargeEnable")).toBe(1);
    expect(house.h.hub.alarms.get("interlock:battery-low")).toMatchObject({ active: true, severity: "info" });
    expect((await juf("actuator.start", { device: "battery", actuator: "dischargeEnable", value: 1 })).body).toMatchObject({ ok: false, code: "INTERLOCK_TRIPPED" });

    // Inside the band (10 + 5): still blocked.
    house.set({ "battery.socPct": 14 });
    await house.run(10_000);
    expect((await house.rule("battery-low")).status).toBe("tripped");

    // Recovered: normal without a reset; there is nothing to reset.
    house.set({ "battery.socPct": 15.5 });
    await house.step();
    expect(await house.rule("battery-low")).toMatchObject({ status: "normal", latched: false });
    expect(house.h.hub.alarms.get("interlock:battery-low")?.active).toBe(false);
    const reset = await (await house.staff("tech"))("interlock.reset", { id: "battery-low" });
    expect(reset.body).toMatchObject({ ok: false, code: "REQUEST_INVALID", reason: { en: "There is nothing to reset." } });

    // Clearing restarts nothing either.
    await house.run(2 * LEASE_MS);
    expect(house.actuator("battery.dischargeEnable")).toBe(0);
    expect(house.changes.filter((c) => c.ref === "battery.dischargeEnable" && c.at > trippedAt)).toEqual([]);
    expect((await juf("actuator.start", { device: "battery", actuator: "dischargeEnable", value: 1 })).body.ok).toBe(true);
    expect(house.actuator("battery.dischargeEnable")).toBe(1);
    expect(await house.story("battery-low")).toEqual(["interlock.tripped:ok", "interlock.cleared:ok", "interlock.reset:refused"]);
  }, 120_000);

  it("CO₂ above 1500 ppm with the ventilation off for 60 s: an alarm only, which clears itself", async () => {
    w = await bootHouse();
    const house = w;
    const holdsBefore = house.h.hub.keeper.list().length;
    const changesBefore = house.changes.length;

    // Stuffy but ventilated, or still but fresh: never.
    await hold(house, { "climate.co2Ppm": 1600, "climate.ventilationPct": 40 }, 70_000, { "climate.co2Ppm": 800, "climate.ventilationPct": 40 });
    await hold(house, { "climate.co2Ppm": 1200, "climate.ventilationPct": 0 }, 70_000, { "climate.co2Ppm": 800, "climate.ventilationPct": 40 });
    expect((await house.rule("co2-no-ventilation")).status).toBe("normal");

    // Both, for 60 s.
    house.set({ "climate.co2Ppm": 1600, "climate.ventilationPct": 0 });
    await house.step();
    const from = house.clock.now();
    await house.run(60_000 - STEP_MS);
    expect((await house.rule("co2-no-ventilation")).status).toBe("normal");
    expect(house.h.hub.alarms.get("interlock:co2-no-ventilation")).toBeUndefined();
    await house.step();
    const tripped = await house.rule("co2-no-ventilation");
    expect(tripped).toMatchObject({ status: "tripped", latched: false, trippedAt: from + 60_000, forbids: [], cause: { detail: { en: "climate.co2Ppm 1600 > 1500 and climate.ventilationPct 0 < 5" } } });
    const alarm = house.h.hub.alarms.get("interlock:co2-no-ventilation");
    expect(alarm).toMatchObject({ active: true, severity: "warning" });
    expect(alarm?.message.en).toContain("CO₂ above 1500 ppm with the ventilation off");
    // An alarm only: no actuator moved, every hold is still held.
    expect(house.changes.length).toBe(changesBefore);
    expect(house.h.hub.keeper.list().length).toBe(holdsBefore);

    // Back inside the band (1500 - 100): still on. Below it: clears itself, nothing to reset.
    house.set({ "climate.co2Ppm": 1450 });
    await house.run(10_000);
    expect((await house.rule("co2-no-ventilation")).status).toBe("tripped");
    house.set({ "climate.co2Ppm": 1390 });
    await house.step();
    expect((await house.rule("co2-no-ventilation")).status).toBe("normal");
    expect(house.h.hub.alarms.get("interlock:co2-no-ventilation")?.active).toBe(false);
    expect((await (await house.staff("tech"))("interlock.reset", { id: "co2-no-ventilation" })).body).toMatchObject({ ok: false, code: "REQUEST_INVALID", reason: { en: "There is nothing to reset." } });

    // Again, and this time the ventilation goes on: that clears it too.
    house.set({ "climate.co2Ppm": 1600 });
    await house.step();
    await house.run(60_000);
    expect((await house.rule("co2-no-ventilation")).status).toBe("tripped");
    expect(house.h.hub.alarms.get("interlock:co2-no-ventilation")).toMatchObject({ active: true, count: 2 });
    house.set({ "climate.ventilationPct": 40 });
    await house.step();
    expect((await house.rule("co2-no-ventilation")).status).toBe("normal");
    expect(house.changes.length).toBe(changesBefore);
    expect(await house.story("co2-no-ventilation")).toEqual(["interlock.tripped:ok", "interlock.cleared:ok", "interlock.reset:refused", "interlock.tripped:ok", "interlock.cleared:ok"]);
  }, 120_000);
});
