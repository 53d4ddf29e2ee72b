/**
 * The hub as a client of an external broker: a real Mosquitto started by the test.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeviceView } from "../../hub/src/core/types.ts";
import { asDeviceId } from "../../hub/src/core/types.ts";
import { startMosquitto, type Mosquitto } from "../support/mosquitto.ts";
import { bootHarness, connectMqtt, type Harness, SITE, TEST_META, until } from "./harness.ts";

type Ok<T> = { ok: true; result: T };

describe("external broker mode (Mosquitto)", () => {
  let mosquitto: Mosquitto;
  let h: Harness;

  beforeAll(async () => {
    mosquitto = await startMosquitto();
    h = await bootHarness({ broker: { mode: "external", url: mosquitto.url } });
  });
  afterAll(async () => {
    await h?.close();
    await mosquitto?.stop();
  });

  it("takes telemetry from a device on Mosquitto and commands it back", async () => {
    const device = await connectMqtt(mosquitto.url, {
      clientId: "dev-a-ext",
      will: { topic: `tec/${SITE}/dev-a/status`, payload: Buffer.from("offline"), retain: true, qos: 1 },
    });
    device.on("message", (topic, payload) => {
      if (topic === `tec/${SITE}/dev-a/cmd/relay`) {
        const cmd = JSON.parse(payload.toString()) as { id: string };
        device.publish(`tec/${SITE}/dev-a/ack`, JSON.stringify({ id: cmd.id, ok: true }));
      }
    });
    await device.subscribeAsync(`tec/${SITE}/dev-a/cmd/+`);
    await device.publishAsync(`tec/${SITE}/dev-a/status`, "online", { retain: true, qos: 1 });
    await device.publishAsync(`tec/${SITE}/dev-a/meta`, JSON.stringify(TEST_META), { retain: true, qos: 1 });
    await device.publishAsync(`tec/${SITE}/dev-a/tele`, JSON.stringify({ ts: Date.now(), seq: 1, readings: { powerW: 321, tempC: 19 } }));
    const view = await until(async () => {
      const r = await h.get<Ok<DeviceView>>("/api/devices/dev-a");
      return r.body.result.state === "ready" ? r.body.result : undefined;
    });
    expect(view.channels.powerW?.value).toBe(321);

    const result = await h.hub.commands.send(asDeviceId("dev-a"), "relay", 1);
    expect(result).toMatchObject({ actuator: "relay", value: 1 });

    device.stream.destroy();
    await until(async () => (await h.get<Ok<DeviceView>>("/api/devices/dev-a")).body.result.state === "offline", 5000, "offline via Mosquitto's last will");
  });

  it("runs its client of Mosquitto on a thread of its own; the link follows the broker down and back, and readings flow again", async () => {
    type Health = Ok<{ mqtt: { mode: string; connected: boolean; description: string; hubDropped: number } }>;
    const mqtt = async () => (await h.get<Health>("/api/hub/health")).body.result.mqtt;
    expect(await mqtt()).toMatchObject({ mode: "external", connected: true, description: `external broker ${mosquitto.url}, own thread`, hubDropped: 0 });
    // Mosquitto killed (no goodbye) and back on the same port 3 s later.
    const restarted = mosquitto.restart(3000);
    await until(async () => !(await mqtt()).connected, 3000, "the link down while Mosquitto is away");
    await restarted;
    await until(async () => (await mqtt()).connected, 10_000, "the link up again");
    // The hub subscribed again by itself: a reading sent now arrives.
    const device = await connectMqtt(mosquitto.url, { clientId: "dev-a-after-restart" });
    await device.publishAsync(`tec/${SITE}/dev-a/status`, "online", { retain: true, qos: 1 });
    await device.publishAsync(`tec/${SITE}/dev-a/meta`, JSON.stringify(TEST_META), { retain: true, qos: 1 });
    let seq = 100;
    await until(async () => {
      await device.publishAsync(`tec/${SITE}/dev-a/tele`, JSON.stringify({ ts: Date.now(), seq: seq++, readings: { powerW: 654, tempC: 20 } }));
      return (await h.get<Ok<DeviceView>>("/api/devices/dev-a")).body.result.channels.powerW?.value === 654;
    }, 10_000, "a reading through the restarted broker");
    await device.endAsync();
  });

  it("publishes the hub's retained status and heartbeat through Mosquitto, and offline on stop", async () => {
    const watcher = await connectMqtt(mosquitto.url, { clientId: "watcher" });
    const seen: string[] = [];
    watcher.on("message", (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
    await watcher.subscribeAsync(`tec/${SITE}/_hub/#`);
    await until(() => seen.includes(`tec/${SITE}/_hub/status online`), 3000, "retained hub status");
    await until(() => seen.some((s) => s.startsWith(`tec/${SITE}/_hub/heartbeat`)), 3000, "heartbeat");
    const health = await h.get<Ok<{ mqtt: { mode: string; connected: boolean } }>>("/api/hub/health");
    expect(health.body.result.mqtt).toMatchObject({ mode: "external", connected: true });
    await h.stopHub();
    await until(() => seen.includes(`tec/${SITE}/_hub/status offline`), 3000, "hub offline on stop");
    await watcher.endAsync();
  });
});
