import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { MetaMessage } from "../../../firmware-bridge/contract/messages.ts";
import { Bus } from "../core/bus.ts";
import { ManualClock } from "../core/clock.ts";
import { silentLogger } from "../core/logger.ts";
import { Registry, type DeclaredDevice } from "../core/registry/registry.ts";
import { asDeviceId } from "../core/types.ts";
import { openDatabase, type Database } from "../storage/db.ts";
import { SqliteHaStore } from "../storage/ha-store.ts";
import { renderValueTemplate, validateDiscovery } from "./discovery-schema.ts";
import { BIRTH_DELAY_MS, BIRTH_JITTER_MS, HomeAssistantDiscovery, REMOVAL_REPEATS_MS, classify, entityName } from "./home-assistant.ts";

const SITE = "demo";

const HOUSE_META: MetaMessage = {
  model: "TEC-SIM-BAT",
  firmware: "2.1.0",
  boot: 1,
  channels: {
    batteryPowerW: { unit: "W", min: -6000, max: 6000, periodMs: 1000, label: "Accuvermogen" },
    socPct: { unit: "%", min: 0, max: 100, periodMs: 1000, label: "Laadtoestand accu" },
    batteryTempC: { unit: "°C", min: -20, max: 80, periodMs: 1000 },
    importWh: { unit: "Wh", min: 0, max: 1e9, periodMs: 5000 },
    co2Ppm: { unit: "ppm", min: 300, max: 5000, periodMs: 1000 },
    flowLpm: { unit: "L/min", min: 0, max: 40, periodMs: 1000 },
    irradianceWm2: { unit: "W/m2", min: 0, max: 1400, periodMs: 1000 },
    leak: { unit: "", min: 0, max: 1, periodMs: 500 },
    tankLevelPct: { unit: "%", min: 0, max: 100, periodMs: 1000 },
  },
  actuators: {},
};

const DECLARED: DeclaredDevice[] = [
  { id: asDeviceId("battery"), kind: "mqtt", name: "Thuisaccu", simulated: true },
  { id: asDeviceId("water"), kind: "mqtt", name: "Water", simulated: true },
  { id: asDeviceId("tech-cupboard"), kind: "serial", name: "Technische kast", simulated: true },
  { id: asDeviceId("printer-1"), kind: "printer", name: "Printer 1", simulated: true },
];

interface Published {
  topic: string;
  payload: string;
  retain: boolean;
}

function fakeLink() {
  const published: Published[] = [];
  const handlers: Array<{ filter: string; fn: (topic: string, payload: Buffer) => void }> = [];
  const connection: Array<(up: boolean) => void> = [];
  return {
    published,
    link: {
      publish(topic: string, payload: string | Buffer, options: { retain?: boolean } = {}) {
        published.push({ topic, payload: payload.toString(), retain: options.retain === true });
      },
      subscribe(filter: string, fn: (topic: string, payload: Buffer) => void) {
        handlers.push({ filter, fn });
        return Promise.resolve();
      },
      onConnection(fn: (up: boolean) => void) {
        connection.push(fn);
      },
    },
    deliver(topic: string, payload: string) {
      for (const h of handlers) if (h.filter === topic) h.fn(topic, Buffer.from(payload));
    },
    reconnect() {
      for (const fn of connection) fn(true);
    },
  };
}

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function setup(options: { declared?: DeclaredDevice[]; db?: Database; clock?: ManualClock; prefix?: string } = {}) {
  const clock = options.clock ?? new ManualClock();
  const bus = new Bus(silentLogger);
  const registry = new Registry({ clock, bus }, options.declared ?? DECLARED);
  let db = options.db;
  if (db === undefined) {
    const dir = mkdtempSync(path.join(os.tmpdir(), "tec-ha-"));
    dirs.push(dir);
    db = openDatabase(path.join(dir, "hub.db"));
  }
  const fake = fakeLink();
  const ha = new HomeAssistantDiscovery({ clock, logger: silentLogger, bus, registry, link: fake.link, site: SITE, siteName: "Technicampus", prefix: options.prefix ?? "homeassistant", version: "0.2.0", store: new SqliteHaStore(db, { clock }), random: () => 0.5 });
  return { clock, bus, registry, fake, ha, db };
}

const byTopic = (list: Published[]) => new Map(list.map((p) => [p.topic, p]));

describe("Home Assistant discovery", () => {
  it("announces every channel of every MQTT device and the hub, retained, each valid by HA's documented fields", async () => {
    const { registry, fake, ha } = setup();
    registry.setMeta(asDeviceId("battery"), HOUSE_META);
    registry.setMeta(asDeviceId("tech-cupboard"), { ...HOUSE_META, model: "SERIAL" });
    await ha.start();

    const seen = byTopic(fake.published);
    expect(seen.size).toBe(Object.keys(HOUSE_META.channels).length + 1);
    const uniqueIds = new Set<string>();
    for (const p of fake.published) {
      expect(p.retain).toBe(true);
      const { config, nodeId, objectId } = validateDiscovery(p.topic, p.payload);
      uniqueIds.add(String(config.unique_id));
      if (p.topic.includes("/sensor/")) {
        expect(nodeId).toBe("tec_demo_battery");
        expect(config.unique_id).toBe(`tec_demo_battery_${objectId}`);
        expect(config.state_topic).toBe("tec/demo/battery/tele");
        expect(config.availability_mode).toBe("all");
        expect(config.availability).toEqual([
          { topic: "tec/demo/_hub/status", payload_available: "online", payload_not_available: "offline" },
          { topic: "tec/demo/battery/status", payload_available: "online", payload_not_available: "offline" },
        ]);
        expect(config.device).toEqual({ identifiers: ["tec_demo_battery"], name: "Thuisaccu", manufacturer: "TEC Hub", model: "TEC-SIM-BAT", sw_version: "2.1.0", via_device: "tec_demo" });
      }
    }
    expect(uniqueIds.size).toBe(seen.size);
    // Serial boards, printers and robots have no readings on the broker: not announced.
    expect([...seen.keys()].some((t) => t.includes("tech-cupboard") || t.includes("printer"))).toBe(false);

    const cfg = (ch: string) => JSON.parse(seen.get(`homeassistant/sensor/tec_demo_battery/${ch}/config`)?.payload ?? "{}") as Record<string, unknown>;
    expect(cfg("batteryPowerW")).toMatchObject({ device_class: "power", unit_of_measurement: "W", state_class: "measurement", name: "Accuvermogen", default_entity_id: "sensor.tec_demo_battery_battery_power_w", expire_after: 3 });
    expect(cfg("socPct")).toMatchObject({ device_class: "battery", unit_of_measurement: "%" });
    expect(cfg("batteryTempC")).toMatchObject({ device_class: "temperature", unit_of_measurement: "°C", name: "batteryTempC" });
    expect(cfg("importWh")).toMatchObject({ device_class: "energy", state_class: "total_increasing", expire_after: 15 });
    expect(cfg("co2Ppm")).toMatchObject({ device_class: "carbon_dioxide", unit_of_measurement: "ppm" });
    expect(cfg("flowLpm")).toMatchObject({ device_class: "volume_flow_rate", unit_of_measurement: "L/min" });
    expect(cfg("irradianceWm2")).toMatchObject({ device_class: "irradiance", unit_of_measurement: "W/m²" });
    expect(cfg("leak").device_class).toBeUndefined();
    expect(cfg("leak").unit_of_measurement).toBeUndefined();
    expect(cfg("tankLevelPct").device_class).toBeUndefined();

    // The value template takes the reading out of a tele message; a message without it renders ''.
    expect(renderValueTemplate(String(cfg("socPct").value_template), JSON.stringify({ ts: 1, seq: 2, readings: { socPct: 57.5, leak: 0 } }))).toBe("57.5");
    expect(renderValueTemplate(String(cfg("importWh").value_template), JSON.stringify({ ts: 1, seq: 2, readings: { socPct: 57.5 } }))).toBe("");

    const hub = JSON.parse(seen.get("homeassistant/binary_sensor/tec_demo/online/config")?.payload ?? "{}") as Record<string, unknown>;
    expect(hub).toMatchObject({ state_topic: "tec/demo/_hub/status", payload_on: "online", payload_off: "offline", device_class: "connectivity", unique_id: "tec_demo_online" });
    expect(ha.topics()).toEqual([...seen.keys()].sort());
  });

  it("the schema refuses what HA would refuse (so the test above can fail)", () => {
    const good = { name: "P", unique_id: "u", state_topic: "tec/s/d/tele", device_class: "power", unit_of_measurement: "W", state_class: "measurement" };
    expect(() => validateDiscovery("homeassistant/sensor/n/o/config", JSON.stringify(good))).not.toThrow();
    expect(() => validateDiscovery("homeassistant/sensor/n/o/config", JSON.stringify({ ...good, unit_of_measurement: "Wh" }))).toThrow(/not valid together/);
    expect(() => validateDiscovery("homeassistant/sensor/n/o/config", JSON.stringify({ ...good, state_class: "total_increasing" }))).toThrow(/impossible/);
    expect(() => validateDiscovery("homeassistant/sensor/n/o/config", JSON.stringify({ ...good, object_id: "o" }))).toThrow();
    expect(() => validateDiscovery("homeassistant/sensor/n/o/config", JSON.stringify({ ...good, device_class: "irradiance", unit_of_measurement: "W/m2" }))).toThrow(/not valid together/);
    expect(() => validateDiscovery("homeassistant/sensor/n.x/o/config", JSON.stringify(good))).toThrow(/not a discovery/);
    expect(() => validateDiscovery("homeassistant/sensor/n/o/config", JSON.stringify({ ...good, availability: [{ topic: "a" }], availability_topic: "b" }))).toThrow(/together/);
  });

  it("re-announces on a meta change: a removed channel gets an empty retained config, unchanged ones are not re-sent", async () => {
    const { registry, fake, ha } = setup();
    registry.setMeta(asDeviceId("battery"), HOUSE_META);
    await ha.start();
    fake.published.length = 0;

    const { co2Ppm: _gone, ...rest } = HOUSE_META.channels;
    registry.setMeta(asDeviceId("battery"), { ...HOUSE_META, channels: { ...rest, cellVoltV: { unit: "V", min: 0, max: 5, periodMs: 1000 } } });
    const topics = fake.published.map((p) => p.topic).sort();
    expect(topics).toEqual(["homeassistant/sensor/tec_demo_battery/cellVoltV/config", "homeassistant/sensor/tec_demo_battery/co2Ppm/config"]);
    const removal = fake.published.find((p) => p.topic.endsWith("/co2Ppm/config"));
    expect(removal).toEqual({ topic: "homeassistant/sensor/tec_demo_battery/co2Ppm/config", payload: "", retain: true });
    expect(validateDiscovery(topics[0] ?? "", fake.published.find((p) => p.topic.endsWith("/cellVoltV/config"))?.payload ?? "").config.device_class).toBe("voltage");

    // The same meta again (a reboot): nothing to tell HA. A new firmware: every config changes.
    fake.published.length = 0;
    registry.setMeta(asDeviceId("battery"), { ...HOUSE_META, boot: 2, channels: { ...rest, cellVoltV: { unit: "V", min: 0, max: 5, periodMs: 1000 } } });
    expect(fake.published).toEqual([]);
    registry.setMeta(asDeviceId("battery"), { ...HOUSE_META, firmware: "2.2.0", boot: 3, channels: { ...rest, cellVoltV: { unit: "V", min: 0, max: 5, periodMs: 1000 } } });
    expect(fake.published.length).toBe(Object.keys(rest).length + 1);
    expect(fake.published.every((p) => (JSON.parse(p.payload) as { device: { sw_version: string } }).device.sw_version === "2.2.0")).toBe(true);
  });

  it("sends every config again a few seconds after Home Assistant's birth message, once for a burst of them", async () => {
    const { registry, fake, ha, clock } = setup({ prefix: "ha-test" });
    registry.setMeta(asDeviceId("battery"), HOUSE_META);
    await ha.start();
    const all = fake.published.length;
    fake.published.length = 0;

    fake.deliver("ha-test/status", "offline");
    fake.deliver("ha-test/status", "online");
    fake.deliver("ha-test/status", "online");
    clock.advance(BIRTH_DELAY_MS);
    expect(fake.published).toEqual([]);
    clock.advance(BIRTH_JITTER_MS);
    expect(fake.published.length).toBe(all);
    expect(fake.published.every((p) => p.topic.startsWith("ha-test/") && p.retain)).toBe(true);

    // A broker that lost its retained messages (the embedded one's thread restarted) is told again at once.
    fake.published.length = 0;
    fake.reconnect();
    expect(fake.published.length).toBe(all);
    ha.stop();
    fake.deliver("ha-test/status", "online");
    clock.advance(BIRTH_DELAY_MS + BIRTH_JITTER_MS);
    expect(fake.published.length).toBe(all);
  });

  it("remembers what it announced across a restart: a device gone from the config has its entities removed", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "tec-ha-"));
    dirs.push(dir);
    const file = path.join(dir, "hub.db");
    const clock = new ManualClock();

    const db1 = openDatabase(file);
    const first = setup({ db: db1, clock });
    first.registry.setMeta(asDeviceId("battery"), HOUSE_META);
    first.registry.setMeta(asDeviceId("water"), { ...HOUSE_META, model: "TEC-SIM-WATER", channels: { leak: { unit: "", min: 0, max: 1, periodMs: 500 } } });
    await first.ha.start();
    const waterTopic = "homeassistant/sensor/tec_demo_water/leak/config";
    expect(first.ha.topics()).toContain(waterTopic);
    first.ha.stop();
    db1.close();

    // Restart: "water" left the config; "battery" has not described itself yet (nothing restored).
    // A restart in the middle of the repeats keeps them going (the record holds the removal).
    const dbMid = openDatabase(file);
    const mid = setup({ db: dbMid, clock, declared: DECLARED.filter((d) => d.id !== "water") });
    await mid.ha.start();
    mid.ha.stop();
    dbMid.close();

    const db2 = openDatabase(file);
    const second = setup({ db: db2, clock, declared: DECLARED.filter((d) => d.id !== "water") });
    await second.ha.start();
    const seen = byTopic(second.fake.published);
    expect(seen.get(waterTopic)).toEqual({ topic: waterTopic, payload: "", retain: true });
    // The battery's entities are announced again as they were, from the record.
    expect(validateDiscovery("homeassistant/sensor/tec_demo_battery/socPct/config", seen.get("homeassistant/sensor/tec_demo_battery/socPct/config")?.payload ?? "").config.device_class).toBe("battery");
    expect(second.ha.topics()).not.toContain(waterTopic);
    // HA (on the embedded broker, reconnecting while the hub starts) may have missed it: it is sent again.
    const removals = () => second.fake.published.filter((p) => p.topic === waterTopic).length;
    expect(removals()).toBe(1);
    second.clock.advance(REMOVAL_REPEATS_MS[0] ?? 0);
    expect(removals()).toBe(2);
    second.clock.advance(REMOVAL_REPEATS_MS.at(-1) ?? 0);
    expect(removals()).toBe(REMOVAL_REPEATS_MS.length + 1);
    expect(second.fake.published.filter((p) => p.payload === "").every((p) => p.topic === waterTopic)).toBe(true);
    second.ha.stop();
    db2.close();

    // And once done, the removal is forgotten: a third start does not clear it again.
    const db3 = openDatabase(file);
    const third = setup({ db: db3, clock, declared: DECLARED.filter((d) => d.id !== "water") });
    await third.ha.start();
    expect(third.fake.published.some((p) => p.topic === waterTopic)).toBe(false);
    third.ha.stop();
    db3.close();
  });

  it("names and classes", () => {
    expect(entityName("Thuisaccu laadtoestand", "Thuisaccu")).toBe("laadtoestand");
    expect(entityName("Thuisaccu", "Thuisaccu")).toBeNull();
    expect(classify("tempC", "C")).toEqual({ unit: "°C", deviceClass: "temperature", stateClass: "measurement" });
    expect(classify("humidityPct", "%").deviceClass).toBe("humidity");
    expect(classify("vocPpm", "ppm").deviceClass).toBeNull();
  });
});
