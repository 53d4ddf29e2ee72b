/**
 * The emergency stop: from a screen (API and socket.io), from the MQTT button, and from a button
 * the hub no longer hears. Every actuator goes safe, everything is forbidden, it stays latched
 * until a reset once the cause is gone, and the reset starts nothing.
 */
import { io as ioClient } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import type { Reply } from "../../hub/src/core/errors.ts";
import type { LiveFrame } from "../../hub/src/api/live-protocol.ts";
import { type Harness, until } from "./harness.ts";
import { bootSafety, interlock, type Plant, staff } from "./safety-world.ts";

describe("emergency stop", () => {
  let h: Harness | undefined;
  let plant: Plant | undefined;
  afterEach(async () => {
    await plant?.stop();
    await h?.close();
    h = undefined;
    plant = undefined;
  });

  const allSafe = (p: Plant) => p.water.actuator("pumpEnable") === 0 && p.water.actuator("valveOpen") === 0 && p.water.actuator("heaterEnable") === 0 && p.battery.actuator("dischargeEnable") === 0;

  it("from an instructor's screen during a running demo: everything safe, latched, explained live; reset starts nothing", async () => {
    ({ h, plant } = await bootSafety());
    const live = await h.live();
    const juf = await staff(h, "juf");
    const r = await juf("estop.trigger");
    expect(r.body).toMatchObject({ ok: true, result: { id: "estop", status: "tripped" } });
    await until(() => allSafe(plant!), 5000, "every actuator safe");
    const frame = await live.waitFor((f: LiveFrame) => f.interlocks.some((i) => i.id === "estop" && i.status !== "normal"));
    const estop = frame.interlocks.find((i) => i.id === "estop");
    expect(estop?.kiosk?.nl).toMatch(/noodstop/);
    expect(estop?.cause?.detail).toEqual({ nl: "noodstop door juf", en: "emergency stop by juf" });
    // Nothing may start while it is latched, and the refusal says why.
    const start = await juf("actuator.start", { device: "battery", actuator: "dischargeEnable", value: 1 });
    expect(start.body).toMatchObject({ ok: false, code: "INTERLOCK_TRIPPED" });
    expect(!start.body.ok && start.body.reason?.en).toMatch(/^The emergency stop (is active|has not been released yet)\.$/);
    expect(h.hub.alarms.get("interlock:estop")).toMatchObject({ severity: "critical", acknowledged: false });

    const reset = await juf("interlock.reset", { id: "estop" });
    expect(reset.body.ok).toBe(true);
    await new Promise((res) => setTimeout(res, 2500));
    expect(allSafe(plant)).toBe(true);
    expect(h.hub.keeper.list()).toEqual([]);
  });

  it("from the MQTT button: held while pressed, reset refused until it is released", async () => {
    ({ h, plant } = await bootSafety());
    const tech = await staff(h, "tech");
    plant.button.press();
    await until(async () => (await interlock(h!, "estop")).status === "tripped", 5000, "e-stop by button");
    await until(() => allSafe(plant!), 5000, "every actuator safe");
    const refused = await tech("interlock.reset", { id: "estop" });
    expect(refused.body).toMatchObject({ ok: false, code: "INTERLOCK_TRIPPED", reason: { en: "The cause is still there: estop-button.pressed = 1." } });
    plant.button.release();
    await until(async () => (await interlock(h!, "estop")).status === "cleared", 5000, "released");
    expect((await tech("interlock.reset", { id: "estop" })).body.ok).toBe(true);
  });

  it("from a button the hub no longer hears: a lost button is a pressed one", async () => {
    ({ h, plant } = await bootSafety());
    plant.button.device.crash();
    await until(async () => (await interlock(h!, "estop")).status === "tripped", 5000, "e-stop by lost button");
    expect((await interlock(h, "estop")).cause?.detail.en).toBe("device estop-button is offline");
    await until(() => allSafe(plant!), 5000, "every actuator safe");
  });

  it("over socket.io with the same rules as REST: a kiosk is refused, an instructor is not", async () => {
    ({ h, plant } = await bootSafety());
    const ask = (token: string | undefined) =>
      new Promise<Reply<unknown>>((resolve, reject) => {
        const socket = ioClient(h!.httpUrl, { transports: ["websocket"], forceNew: true, reconnection: false, ...(token !== undefined ? { auth: { token } } : {}) });
        socket.on("connect_error", reject);
        socket.emit("command", { name: "estop.trigger", params: {} }, (reply: Reply<unknown>) => {
          socket.close();
          resolve(reply);
        });
      });
    expect(await ask(undefined)).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
    expect((await interlock(h, "estop")).status).toBe("normal");
    const login = (await (await fetch(`${h.httpUrl}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "juf", secret: "1234" }) })).json()) as { result: { token: string } };
    expect(await ask(login.result.token)).toMatchObject({ ok: true });
    await until(() => allSafe(plant!), 5000, "every actuator safe");
  });
});
