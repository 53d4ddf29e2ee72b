/**
 * Home Assistant MQTT discovery end to end: a real hub with the integration on, real mqtt.js
 * clients in Home Assistant's place (the observer account on the embedded broker; a watcher on a
 * real Mosquitto for the restart, since the embedded broker's retained messages end with the hub).
 * Every config received is validated against the fields Home Assistant documents
 * (hub/src/integrations/discovery-schema.ts).
 */
import { rmSync } from "node:fs";
import type { MqttClient } from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../hub/src/config/load.ts";
import { renderValueTemplate, validateDiscovery } from "../../hub/src/integrations/discovery-schema.ts";
import { startHub, type Hub } from "../../hub/src/main.ts";
import { startMosquitto, type Mosquitto } from "../support/mosquitto.ts";
import { baseConfig, bootHarness, connectMqtt, type Harness, SITE, TEST_META, until } from "./harness.ts";

interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

function record(client: MqttClient): Received[] {
  const got: Received[] = [];
  client.on("message", (topic, payload, packet) => got.push({ topic, payload: payload.toString(), retain: packet.retain }));
  return got;
}

const INTEGRATION = { integrations: { homeAssistant: { enabled: true } } };

describe("Home Assistant discovery (integration)", () => {
  let h: Harness | undefined;
  let mosquitto: Mosquitto | undefined;
  let extra: Hub | undefined;
  const clients: MqttClient[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.end(true);
    await extra?.stop();
    extra = undefined;
    await h?.close();
    h = undefined;
    await mosquitto?.stop();
    mosquitto = undefined;
  });

  it("publishes retained configs an observer receives, valid by HA's documented fields, bound to the device's status", async () => {
    h = await bootHarness(INTEGRATION);
    const dev = await h.device("dev-a");
    await dev.describe(TEST_META);
    await until(() => h?.hub.registry.view("dev-a" as never)?.model !== null, 30_000, "dev-a described");

    // Home Assistant's side: the read-only observer account, subscribed after the configs went out.
    const ha = await h.observer();
    const got = record(ha);
    await ha.subscribeAsync("homeassistant/#", { qos: 1 });
    const want = ["homeassistant/sensor/tec_test-site_dev-a/powerW/config", "homeassistant/sensor/tec_test-site_dev-a/tempC/config", "homeassistant/binary_sensor/tec_test-site/online/config"];
    await until(() => want.every((t) => got.some((g) => g.topic === t)), 30_000, "the retained configs");

    const configs = new Map<string, Record<string, unknown>>();
    for (const g of got) {
      expect(g.retain, g.topic).toBe(true);
      configs.set(g.topic, validateDiscovery(g.topic, g.payload).config);
    }
    // Devices in the config that never described themselves have nothing to announce yet.
    expect([...configs.keys()].some((t) => t.includes("dev-b"))).toBe(false);
    const power = configs.get(want[0] ?? "") ?? {};
    expect(power).toMatchObject({ unique_id: "tec_test-site_dev-a_powerW", state_topic: `tec/${SITE}/dev-a/tele`, device_class: "power", unit_of_measurement: "W", state_class: "measurement", availability_mode: "all", name: "Vermogen" });
    // The harness's "C" is HA's "°C".
    expect(configs.get(want[1] ?? "")).toMatchObject({ device_class: "temperature", unit_of_measurement: "°C" });
    expect((power.device as Record<string, unknown>).via_device).toBe("tec_test-site");

    // The state topic carries the reading the template takes out.
    const availability = power.availability as Array<{ topic: string; payload_available: string; payload_not_available: string }>;
    await ha.subscribeAsync([String(power.state_topic), ...availability.map((a) => a.topic)], { qos: 1 });
    await until(() => availability.every((a) => got.some((g) => g.topic === a.topic && g.payload === a.payload_available)), 30_000, "both availability topics online (retained)");
    await dev.tele({ powerW: 1234, tempC: 21.5 });
    const tele = await until(() => got.find((g) => g.topic === power.state_topic), 30_000, "a tele message");
    expect(renderValueTemplate(String(power.value_template), tele.payload)).toBe("1234");

    // The device drops off (no goodbye): its last will is what the availability points at.
    const deviceStatus = availability.find((a) => a.topic.endsWith("/dev-a/status"));
    expect(deviceStatus).toBeDefined();
    dev.crash();
    await until(() => got.some((g) => g.topic === deviceStatus?.topic && g.payload === deviceStatus.payload_not_available), 60_000, "dev-a offline on its status topic");
  }, 180_000);

  it("on the embedded broker, Home Assistant reconnecting after the restart still gets the removal (it is repeated)", async () => {
    h = await bootHarness(INTEGRATION);
    const dir = h.dir;
    for (const id of ["dev-a", "dev-b"]) {
      const dev = await h.device(id);
      await dev.describe(TEST_META);
    }
    await until(() => h?.hub.registry.view("dev-b" as never)?.model !== null && h?.hub.registry.view("dev-a" as never)?.model !== null, 30_000, "both described");
    const ports = { http: h.hub.httpPort, mqtt: h.hub.mqttPort ?? 0 };
    await h.stopHub();

    const base = baseConfig(dir, { ...INTEGRATION, devices: [{ kind: "mqtt", id: "dev-a", name: "Device dev-a", password: "pw-dev-a" }] });
    const { config } = parseConfig({ ...base, http: { host: "127.0.0.1", port: ports.http }, broker: { mode: "embedded", host: "127.0.0.1", port: ports.mqtt, observer: { username: "observer", password: "observer" } } });
    extra = await startHub(config);
    // Home Assistant comes back a moment after the hub (the first removal went out before it did).
    const ha = await connectMqtt(`mqtt://127.0.0.1:${ports.mqtt}`, { username: "observer", password: "observer", clientId: "ha-after-restart" });
    clients.push(ha);
    const got = record(ha);
    await ha.subscribeAsync("homeassistant/#", { qos: 1 });
    const devB = "homeassistant/sensor/tec_test-site_dev-b/powerW/config";
    await until(() => got.some((g) => g.topic === devB && g.payload === ""), 60_000, "the repeated removal of dev-b");
    expect(got.some((g) => g.topic.includes("dev-b") && g.payload !== "")).toBe(false);
  }, 180_000);

  it("after a restart without a device in the config, its entities get an empty retained config", async () => {
    mosquitto = await startMosquitto();
    const external = { ...INTEGRATION, broker: { mode: "external" as const, url: mosquitto.url } };
    h = await bootHarness(external);
    const dir = h.dir;
    // Home Assistant's place: a watcher on the same (persistent) broker, subscribed throughout.
    const watcher = await connectMqtt(mosquitto.url, { clientId: "ha-watcher" });
    clients.push(watcher);
    const got = record(watcher);
    await watcher.subscribeAsync("homeassistant/#", { qos: 1 });

    for (const id of ["dev-a", "dev-b"]) {
      const dev = await connectMqtt(mosquitto.url, { clientId: `${id}-1`, will: { topic: `tec/${SITE}/${id}/status`, payload: Buffer.from("offline"), retain: true, qos: 1 } });
      clients.push(dev);
      await dev.publishAsync(`tec/${SITE}/${id}/status`, "online", { qos: 1, retain: true });
      await dev.publishAsync(`tec/${SITE}/${id}/meta`, JSON.stringify(TEST_META), { qos: 1, retain: true });
    }
    const devB = ["homeassistant/sensor/tec_test-site_dev-b/powerW/config", "homeassistant/sensor/tec_test-site_dev-b/tempC/config"];
    await until(() => devB.every((t) => got.some((g) => g.topic === t && g.payload !== "")), 30_000, "dev-b's configs");
    for (const g of got) validateDiscovery(g.topic, g.payload);

    // Stop the hub; start it again on the same database with dev-b gone from the config.
    await h.stopHub();
    got.length = 0;
    const { config } = parseConfig(baseConfig(dir, { ...external, devices: [{ kind: "mqtt", id: "dev-a", name: "Device dev-a", password: "pw-dev-a" }] }));
    extra = await startHub(config);
    await until(() => devB.every((t) => got.some((g) => g.topic === t && g.payload === "")), 30_000, "empty configs for dev-b");
    // dev-a is announced again as it was.
    await until(() => got.some((g) => g.topic === "homeassistant/sensor/tec_test-site_dev-a/powerW/config" && g.payload !== ""), 30_000, "dev-a's configs again");
    for (const g of got.filter((x) => x.payload !== "")) validateDiscovery(g.topic, g.payload);
    // And the broker keeps no retained config for dev-b: a new subscriber sees none.
    const late = await connectMqtt(mosquitto.url, { clientId: "ha-late" });
    clients.push(late);
    const lateGot = record(late);
    await late.subscribeAsync("homeassistant/#", { qos: 1 });
    await until(() => lateGot.some((g) => g.topic.includes("dev-a")), 30_000, "retained dev-a configs");
    expect(lateGot.some((g) => g.topic.includes("dev-b"))).toBe(false);
    await extra.stop();
    extra = undefined;
    rmSync(dir, { recursive: true, force: true });
  }, 180_000);
});
