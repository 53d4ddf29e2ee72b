/**
 * Fault injection, one test per row of the hazard table in the README: the real hub, real MQTT,
 * simulated boards with device-side leases, real sessions and the real audit log.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Alarm } from "../../hub/src/core/alarms/alarms.ts";
import type { AuditRecord } from "../../hub/src/core/audit.ts";
import { until } from "./harness.ts";
import type { Harness } from "./harness.ts";
import { bootSafety, interlock, type Plant, staff } from "./safety-world.ts";

type Ok<T> = { ok: true; result: T };

/** The audit log as a technician reads it over REST. */
async function audit(h: Harness, query = ""): Promise<AuditRecord[]> {
  const login = (await (await fetch(`${h.httpUrl}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "tech", secret: "technician" }) })).json()) as Ok<{ token: string }>;
  const r = await fetch(`${h.httpUrl}/api/audit?limit=500${query}`, { headers: { authorization: `Bearer ${login.result.token}` } });
  return ((await r.json()) as Ok<{ records: AuditRecord[] }>).result.records;
}

describe("hazard table: fault injection", () => {
  let h: Harness | undefined;
  let plant: Plant | undefined;
  afterEach(async () => {
    await plant?.stop();
    await h?.close();
    h = undefined;
    plant = undefined;
  });

  it("leak: pump off and valve closed, latched with a reason; reset refused while leaking; reset restarts nothing; all audited", async () => {
    ({ h, plant } = await bootSafety());
    const tech = await staff(h, "tech");
    const juf = await staff(h, "juf");
    plant.readings.leak = 1;
    await until(() => plant!.water.actuator("pumpEnable") === 0 && plant!.water.actuator("valveOpen") === 0, 5000, "pump and valve safe");
    const tripped = await interlock(h, "water-leak");
    expect(tripped).toMatchObject({ status: "tripped", latched: true, reason: { nl: "Pomp uit en kraan dicht: lekkage gedetecteerd", en: "Pump off and valve closed: leak detected" } });
    expect(tripped.cause?.detail.en).toBe("water.leak = 1");

    // Refused while the cause is active, with the reason in both languages.
    const refused = await tech("interlock.reset", { id: "water-leak" });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ ok: false, code: "INTERLOCK_TRIPPED", reason: { en: "The cause is still there: water.leak = 1.", nl: "De oorzaak is er nog: water.leak = 1." } });
    // A start is refused too, and says why.
    const start = await juf("actuator.start", { device: "water", actuator: "pumpEnable", value: 1 });
    expect(start.body).toMatchObject({ ok: false, code: "INTERLOCK_TRIPPED" });
    expect(!start.body.ok && start.body.reason?.nl).toBe("Pomp uit en kraan dicht: lekkage gedetecteerd.");
    // Only a technician may reset this one.
    const wrongRole = await juf("interlock.reset", { id: "water-leak" });
    expect(wrongRole.body).toMatchObject({ ok: false, code: "FORBIDDEN" });

    plant.readings.leak = 0;
    await until(async () => (await interlock(h!, "water-leak")).status === "cleared", 5000, "cleared");
    await until(async () => (await interlock(h!, "water-leak")).resetBlocked === null, 5000, "inputs fresh for clearForS");
    const reset = await tech("interlock.reset", { id: "water-leak" });
    expect(reset.body).toMatchObject({ ok: true, result: { status: "normal" } });

    // A reset restarts nothing: the pump stays off (past several lease periods) until someone starts it.
    await new Promise((r) => setTimeout(r, 2500));
    expect(plant.water.actuator("pumpEnable")).toBe(0);
    expect(h.hub.keeper.list().some((k) => k.actuator === "pumpEnable")).toBe(false);
    const started = await juf("actuator.start", { device: "water", actuator: "pumpEnable", value: 1 });
    expect(started.body.ok).toBe(true);
    expect(plant.water.actuator("pumpEnable")).toBe(1);

    const log = await audit(h, "&target=water-leak");
    const story = log.map((r) => `${r.action}:${r.result}`).reverse();
    expect(story).toEqual(["interlock.tripped:ok", "interlock.reset:refused", "interlock.reset:refused", "interlock.cleared:ok", "interlock.reset:ok"]);
    expect(log.find((r) => r.action === "interlock.reset" && r.result === "ok")?.actor).toEqual({ name: "tech", role: "technician" });
    const starts = await audit(h, "&action=actuator.start");
    expect(starts.map((r) => r.result)).toEqual(["ok", "refused"]);
  });

  it("stale input: a board that stops reporting trips its rules (never a last good value)", async () => {
    ({ h, plant } = await bootSafety());
    plant.water.inject({ drop: 1 });
    await until(async () => (await interlock(h!, "water-leak")).status === "tripped", 5000, "tripped on stale");
    const v = await interlock(h, "water-leak");
    expect(v.cause).toMatchObject({ kind: "input", detail: { en: expect.stringMatching(/water\.(leak|tankTempC) is stale/) as unknown } });
    await until(() => plant!.water.actuator("pumpEnable") === 0, 5000, "pump safe");
  });

  it("NaN: an invalid reading trips the rules that read it", async () => {
    ({ h, plant } = await bootSafety());
    plant.readings.tankTempC = Number.NaN;
    await until(async () => (await interlock(h!, "tank-stuck")).status === "tripped", 5000, "tripped on NaN");
    expect((await interlock(h, "tank-stuck")).cause?.detail.en).toBe("reading water.tankTempC is invalid");
    await until(() => plant!.water.actuator("heaterEnable") === 0, 5000, "heater safe");
  });

  it("stuck sensor: a value that stops changing trips its rule", async () => {
    ({ h, plant } = await bootSafety());
    plant.water.inject({ stuck: "tankTempC" });
    await until(async () => (await interlock(h!, "tank-stuck")).status === "tripped", 6000, "tripped on stuck");
    expect((await interlock(h, "tank-stuck")).cause?.detail.en).toMatch(/water\.tankTempC stuck at [\d.]+ for [2-9] s/);
    await until(() => plant!.water.actuator("heaterEnable") === 0, 5000, "heater safe");
    // The leak rule reads the same board but not that channel: it is untouched.
    expect((await interlock(h, "water-leak")).status).toBe("normal");
  });

  it("device crash (last will): its rules trip at once and an alarm says the device is offline", async () => {
    ({ h, plant } = await bootSafety());
    plant.water.crash();
    await until(async () => (await interlock(h!, "water-leak")).status === "tripped", 5000, "tripped on crash");
    expect((await interlock(h, "water-leak")).cause?.detail).toEqual({ nl: "apparaat water is offline", en: "device water is offline" });
    const alarms = h.hub.alarms.list({ open: true }).map((a: Alarm) => a.key);
    expect(alarms).toEqual(expect.arrayContaining(["interlock:water-leak", "device-offline:water"]));
    // The board itself goes safe: without the hub's heartbeat... here it simply lost power.
    expect(plant.water.actuator("pumpEnable")).toBe(0);
  });

  it("two trips, one reset: the other stays latched; MQTT carries each interlock's state; alarms are acknowledged with a comment", async () => {
    ({ h, plant } = await bootSafety());
    const tech = await staff(h, "tech");
    const observer = await h.observer();
    const retained = new Map<string, { state: string; latched: boolean; cause: { en: string } | null }>();
    observer.on("message", (topic, payload) => retained.set(topic, JSON.parse(payload.toString()) as { state: string; latched: boolean; cause: { en: string } | null }));
    await observer.subscribeAsync("tec/test-site/_hub/interlock/+");
    plant.readings.leak = 1;
    plant.readings.socPct = 5;
    await until(async () => (await interlock(h!, "water-leak")).status === "tripped" && (await interlock(h!, "battery-low")).status === "tripped", 5000, "both tripped");
    plant.readings.socPct = 50;
    await until(async () => (await interlock(h!, "battery-low")).status === "cleared", 5000, "battery cleared");
    expect((await tech("interlock.reset", { id: "battery-low" })).body.ok).toBe(true);
    expect((await interlock(h, "battery-low")).status).toBe("normal");
    expect((await interlock(h, "water-leak")).status).toBe("tripped");
    await until(() => retained.get("tec/test-site/_hub/interlock/water-leak")?.state === "tripped" && retained.get("tec/test-site/_hub/interlock/battery-low")?.state === "normal", 3000, "retained interlock states");
    expect(retained.get("tec/test-site/_hub/interlock/water-leak")).toMatchObject({ latched: true, cause: { en: "water.leak = 1" } });

    // One alarm per cause; a technician acknowledges it with a comment, and the audit log has it.
    const ack = await tech("alarm.acknowledge", { key: "interlock:water-leak", comment: "lek onder het aanrecht, loodgieter gebeld" });
    expect(ack.body).toMatchObject({ ok: true, result: { acknowledged: true, ackedBy: "tech", comment: "lek onder het aanrecht, loodgieter gebeld" } });
    const again = await tech("alarm.acknowledge", { key: "interlock:water-leak" });
    expect(again.body).toMatchObject({ ok: false, code: "REQUEST_INVALID" });
    const log = await audit(h, "&action=alarm.acknowledge");
    expect(log.map((r) => r.result)).toEqual(["refused", "ok"]);
    expect(log[1]?.details).toMatchObject({ params: { comment: "lek onder het aanrecht, loodgieter gebeld" } });
  });

  it("hub restart while tripped: the trip is still latched afterwards and needs a reset", async () => {
    ({ h, plant } = await bootSafety());
    plant.readings.leak = 1;
    await until(async () => (await interlock(h!, "water-leak")).status === "tripped", 5000, "tripped");
    plant.readings.leak = 0;
    // The boards keep running and reconnect to the restarted hub by themselves.
    await h.restartHub();
    const after = await interlock(h, "water-leak");
    expect(["tripped", "cleared"]).toContain(after.status);
    expect(after.latched).toBe(true);
    await until(async () => (await interlock(h!, "water-leak")).status === "cleared", 5000, "cleared after restart");
    // Nothing it forbids started by itself after the restart.
    await new Promise((r) => setTimeout(r, 2500));
    expect(plant.water.actuator("pumpEnable")).toBe(0);
    expect((await interlock(h, "water-leak")).status).toBe("cleared");
    // The rest of the plant did start (its rules are normal once inputs are fresh).
    await until(() => plant!.water.actuator("heaterEnable") === 1, 5000, "heater held again");
  });

  it("a trip action the device never acknowledges escalates to an alarm", async () => {
    ({ h, plant } = await bootSafety({
      interlocks: [
        {
          id: "mute-trip",
          name: { nl: "Stil bord", en: "Mute board" },
          reason: { nl: "Relais uit", en: "Relay off" },
          when: { type: "equals", input: "mute.alarmIn", value: 1 },
          actions: [{ type: "safe", actuator: "mute.relay" }],
        },
      ],
    }));
    // A board that describes a relay but never answers commands.
    const mute = await h.device("mute", { password: "pw-mute" });
    await mute.describe({ model: "MUTE", firmware: "1", boot: 1, channels: { alarmIn: { unit: "", min: 0, max: 1, periodMs: 500 } }, actuators: { relay: { safe: 0, leaseMs: 1000 } } });
    const feed = setInterval(() => void mute.tele({ alarmIn: 1 }), 200);
    try {
      const alarm = await until(() => h!.hub.alarms.get("escalation:mute-trip:mute.relay"), 10_000, "escalation alarm");
      expect(alarm).toMatchObject({ severity: "critical", active: true });
      expect(alarm.message.en).toMatch(/does not confirm its safe state/);
      const log = await audit(h, "&action=interlock.escalated");
      expect(log[0]).toMatchObject({ target: "mute.relay", result: "failed" });
    } finally {
      clearInterval(feed);
    }
  });

  it("roles are enforced by the server: a kiosk cannot command, an instructor cannot reset a technician's rule", async () => {
    ({ h, plant } = await bootSafety());
    const kiosk = await fetch(`${h.httpUrl}/api/commands/estop.trigger`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(kiosk.status).toBe(401);
    plant.readings.leak = 1;
    await until(async () => (await interlock(h!, "water-leak")).status === "tripped", 5000, "tripped");
    plant.readings.leak = 0;
    await until(async () => (await interlock(h!, "water-leak")).resetBlocked === null, 5000, "resettable");
    const juf = await staff(h, "juf");
    const r = await juf("interlock.reset", { id: "water-leak" });
    expect(r.status).toBe(403);
    expect(!r.body.ok && r.body.reason?.nl).toBe("Alleen een technicus mag Lekkage resetten.");
  });
});
