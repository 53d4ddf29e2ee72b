import { once } from "node:events";
import { createServer, type AddressInfo, type Server } from "node:net";
import { Aedes, type Client } from "aedes";
import { connectAsync, type MqttClient } from "mqtt";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AckMessage, EventMessage, HealthMessage, MetaMessage, TeleMessage } from "../../firmware-bridge/contract/messages.ts";
import { ManualClock } from "../../hub/src/core/clock.ts";
import { SimDevice, type SimDeviceOptions } from "./contract-device.ts";

const SITE = "t1";
const PERIOD_MS = 1000;

interface Received {
  topic: string;
  payload: Buffer;
}

/** Everything a subscriber of `tec/<site>/#` sees, in arrival order, with a way to wait for the next match. */
class Recorder {
  readonly all: Received[] = [];
  private waiters: { match: (m: Received) => boolean; resolve: (m: Received) => void }[] = [];

  constructor(client: MqttClient) {
    client.on("message", (topic, payload) => {
      const m = { topic, payload: Buffer.from(payload) };
      this.all.push(m);
      this.waiters = this.waiters.filter((w) => (w.match(m) ? (w.resolve(m), false) : true));
    });
  }

  /** The next message (arriving after this call) on `tec/t1/<suffix>` that passes `match`. */
  next(suffix: string, match: (m: Received) => boolean = () => true): Promise<Received> {
    return new Promise((resolve) => {
      this.waiters.push({ match: (m) => m.topic === `tec/${SITE}/${suffix}` && match(m), resolve });
    });
  }

  on(suffix: string): Received[] {
    return this.all.filter((m) => m.topic === `tec/${SITE}/${suffix}`);
  }
}

function json(m: Received): unknown {
  return JSON.parse(m.payload.toString()) as unknown;
}

function tele(m: Received): TeleMessage {
  return TeleMessage.parse(json(m));
}

let broker: Aedes;
let server: Server;
let url: string;
let hub: MqttClient;
let rec: Recorder;
let clock: ManualClock;
let devices: SimDevice[];
let counter: number;
let brokerClients: Set<Client>;

beforeEach(async () => {
  broker = await Aedes.createBroker();
  brokerClients = new Set();
  broker.on("client", (c) => brokerClients.add(c));
  broker.on("clientDisconnect", (c) => brokerClients.delete(c));
  server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub = await connectAsync(url, { protocolVersion: 4, clientId: "test-hub", reconnectPeriod: 0 });
  await hub.subscribeAsync(`tec/${SITE}/#`, { qos: 1 });
  rec = new Recorder(hub);
  clock = new ManualClock();
  devices = [];
  counter = 0;
});

afterEach(async () => {
  await Promise.all(devices.map((d) => d.stop()));
  await hub.endAsync(true);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await new Promise<void>((resolve) => broker.close(() => resolve()));
});

function makeDevice(extra: Partial<SimDeviceOptions> = {}): SimDevice {
  const device = new SimDevice({
    brokerUrl: url,
    site: SITE,
    id: "dev",
    password: "pw",
    model: "TEC-SIM-TEST",
    channels: { tempC: { unit: "°C", min: -20, max: 80, label: "Temperatuur" }, levelPct: { unit: "%", min: 0, max: 100 } },
    actuators: {
      relay: { safe: 0, leaseMs: 10_000, min: 0, max: 1, label: "Relais" },
      shortRelay: { safe: 0, leaseMs: 1500, min: 0, max: 1 },
    },
    periodMs: PERIOD_MS,
    read: () => ({ tempC: 20 + counter++, levelPct: 50 }),
    clock,
    seed: 7,
    rebootDelayMs: 500,
    ...extra,
  });
  devices.push(device);
  return device;
}

async function heartbeat(device: SimDevice, seq = 0): Promise<void> {
  const seen = once(device, "heartbeat");
  await hub.publishAsync(`tec/${SITE}/_hub/heartbeat`, JSON.stringify({ ts: clock.now(), seq }));
  await seen;
}

async function command(actuator: string, value: number, leaseMs = 10_000, id = `c-${actuator}-${value}-${leaseMs}`): Promise<AckMessage> {
  const ack = rec.next("dev/ack", (m) => AckMessage.parse(json(m)).id === id);
  await hub.publishAsync(`tec/${SITE}/dev/cmd/${actuator}`, JSON.stringify({ id, value, leaseMs }));
  return AckMessage.parse(json(await ack));
}

/** Advances one period and returns the telemetry message that tick produced. */
async function tick(): Promise<TeleMessage> {
  const next = rec.next("dev/tele");
  clock.advance(PERIOD_MS);
  return tele(await next);
}

describe("SimDevice birth and telemetry", () => {
  it("publishes status, meta and health in order, then telemetry with increasing seq", async () => {
    const device = makeDevice();
    await device.start();
    const first = await tick();
    const second = await tick();
    const third = await tick();
    expect([first.seq, second.seq, third.seq]).toEqual([0, 1, 2]);
    expect(first.readings).toEqual({ tempC: 20, levelPct: 50 });
    expect(first.ts).toBe(clock.now() - 2 * PERIOD_MS);

    const order = rec.all.map((m) => m.topic.split("/")[3]);
    expect(order.slice(0, 4)).toEqual(["status", "meta", "health", "tele"]);
    expect(rec.on("dev/status")[0]?.payload.toString()).toBe("online");
    const meta = MetaMessage.parse(json(rec.on("dev/meta")[0] ?? { topic: "", payload: Buffer.from("null") }));
    expect(meta).toMatchObject({ model: "TEC-SIM-TEST", firmware: "sim-1.0.0", boot: 1, simulated: true });
    expect(meta.channels.tempC).toEqual({ unit: "°C", min: -20, max: 80, label: "Temperatuur", periodMs: PERIOD_MS });
    expect(meta.actuators.relay).toEqual({ safe: 0, leaseMs: 10_000, min: 0, max: 1, label: "Relais" });
    const health = HealthMessage.parse(json(rec.on("dev/health")[0] ?? { topic: "", payload: Buffer.from("null") }));
    expect(health).toMatchObject({ state: "ok", boot: 1 });
  });

  it("keeps status and meta retained for a late subscriber", async () => {
    const device = makeDevice();
    await device.start();
    const late = await connectAsync(url, { protocolVersion: 4, clientId: "late", reconnectPeriod: 0 });
    const lateRec = new Recorder(late);
    const meta = lateRec.next("dev/meta");
    const status = lateRec.next("dev/status");
    await late.subscribeAsync(`tec/${SITE}/dev/+`);
    expect((await status).payload.toString()).toBe("online");
    expect(MetaMessage.parse(json(await meta)).boot).toBe(1);
    await late.endAsync(true);
  });
});

describe("SimDevice shutdown", () => {
  it("fires the last will 'offline' when it crashes", async () => {
    const device = makeDevice();
    await device.start();
    const offline = rec.next("dev/status", (m) => m.payload.toString() === "offline");
    device.crash();
    expect((await offline).payload.toString()).toBe("offline");
    expect(device.connected).toBe(false);
  });

  it("publishes 'offline' itself on stop() and disconnects", async () => {
    const device = makeDevice();
    await device.start();
    const offline = rec.next("dev/status", (m) => m.payload.toString() === "offline");
    const gone = once(broker, "clientDisconnect");
    await device.stop();
    await offline;
    await gone;
    await device.stop(); // twice is fine
  });

  it("reconnects after the connection is lost and sends its birth again, seq from 0, same boot", async () => {
    const device = makeDevice({ reconnectPeriodMs: 50 });
    await device.start();
    await tick();
    await tick();
    const conn = [...brokerClients.values()].find((c) => c.id === "dev-1");
    expect(conn).toBeDefined();
    const will = rec.next("dev/status", (m) => m.payload.toString() === "offline");
    const online = rec.next("dev/status", (m) => m.payload.toString() === "online");
    const meta = rec.next("dev/meta");
    const reconnected = once(device, "connected");
    conn?.conn.destroy();
    await will;
    await online;
    expect(MetaMessage.parse(json(await meta)).boot).toBe(1);
    await reconnected;
    expect((await tick()).seq).toBe(0);
  });

  it("reboot() increments the boot counter, restarts seq and returns actuators to safe", async () => {
    const device = makeDevice();
    await device.start();
    await heartbeat(device);
    expect((await command("relay", 1)).ok).toBe(true);
    await tick();
    await tick();
    const will = rec.next("dev/status", (m) => m.payload.toString() === "offline");
    const meta = rec.next("dev/meta", (m) => MetaMessage.parse(json(m)).boot === 2);
    const back = once(device, "connected");
    device.reboot();
    device.reboot(); // a second click while down changes nothing
    expect(device.actuator("relay")).toBe(0);
    await will;
    clock.advance(499);
    expect(device.connected).toBe(false);
    clock.advance(1);
    expect(await back).toEqual([2]);
    await meta;
    expect(device.boot).toBe(2);
    expect((await tick()).seq).toBe(0);
    expect((await command("relay", 1)).error).toBe("hub heartbeat missing");
  });
});

describe("SimDevice commands and safety", () => {
  it("refuses commands before any heartbeat", async () => {
    const device = makeDevice();
    await device.start();
    const ack = await command("relay", 1);
    expect(ack).toEqual({ id: "c-relay-1-10000", ok: false, error: "hub heartbeat missing" });
    expect(device.actuator("relay")).toBe(0);
  });

  it("acks and applies a command, then returns to safe when the lease runs out", async () => {
    const device = makeDevice();
    await device.start();
    await heartbeat(device);
    expect(await command("relay", 1, 2000)).toEqual({ id: "c-relay-1-2000", ok: true });
    expect(device.actuator("relay")).toBe(1);
    const event = rec.next("dev/event");
    clock.advance(1999);
    expect(device.actuator("relay")).toBe(1);
    clock.advance(1);
    expect(device.actuator("relay")).toBe(0);
    expect(EventMessage.parse(json(await event))).toMatchObject({ type: "actuator-safe" });
  });

  it("caps the lease at the actuator's declared leaseMs", async () => {
    const device = makeDevice();
    await device.start();
    await heartbeat(device);
    expect((await command("shortRelay", 1, 60_000)).ok).toBe(true);
    clock.advance(1499);
    expect(device.actuator("shortRelay")).toBe(1);
    clock.advance(1);
    expect(device.actuator("shortRelay")).toBe(0);
  });

  it("returns to safe 3 s after the last heartbeat and refuses commands until heartbeats resume", async () => {
    const device = makeDevice();
    await device.start();
    await heartbeat(device);
    clock.advance(1000);
    await heartbeat(device, 1);
    expect((await command("relay", 1, 10_000)).ok).toBe(true);
    clock.advance(2999);
    expect(device.actuator("relay")).toBe(1);
    expect(device.hubAlive).toBe(true);
    clock.advance(1);
    expect(device.actuator("relay")).toBe(0);
    expect(device.hubAlive).toBe(false);
    expect((await command("relay", 1, 10_000, "again")).error).toBe("hub heartbeat missing");
    await heartbeat(device, 2);
    expect((await command("relay", 1, 10_000, "resumed")).ok).toBe(true);
  });

  it("returns to safe at once when the hub status says offline", async () => {
    const device = makeDevice();
    await device.start();
    await heartbeat(device);
    expect((await command("relay", 1)).ok).toBe(true);
    const safe = once(device, "actuator");
    await hub.publishAsync(`tec/${SITE}/_hub/status`, "offline", { retain: true, qos: 1 });
    expect(await safe).toEqual(["relay", 0, "hub-lost"]);
    expect((await command("relay", 1, 10_000, "after-offline")).error).toBe("hub heartbeat missing");
    await hub.publishAsync(`tec/${SITE}/_hub/status`, "", { retain: true, qos: 1 }); // clear the retained message
  });

  it("refuses an unknown actuator, an out-of-range value and a malformed command with a reason", async () => {
    const device = makeDevice();
    await device.start();
    await heartbeat(device);
    expect(await command("pump", 1)).toMatchObject({ ok: false, error: 'unknown actuator "pump"' });
    expect(await command("relay", 5)).toMatchObject({ ok: false, error: "value 5 is outside 0..1" });
    const bad = rec.next("dev/ack");
    await hub.publishAsync(`tec/${SITE}/dev/cmd/relay`, JSON.stringify({ id: "bad", value: "on", leaseMs: 1000 }));
    const ack = AckMessage.parse(json(await bad));
    expect(ack.ok).toBe(false);
    expect(ack.error).toMatch(/^invalid command: value/);
    expect(device.actuator("relay")).toBe(0);
  });
});

describe("SimDevice fault injection", () => {
  it("drop: skipped messages leave a gap in seq", async () => {
    const device = makeDevice();
    await device.start();
    expect((await tick()).seq).toBe(0);
    device.inject({ drop: 1 });
    clock.advance(3 * PERIOD_MS);
    device.clearFaults();
    expect((await tick()).seq).toBe(4);
    expect(rec.on("dev/tele").map((m) => tele(m).seq)).toEqual([0, 4]);
  });

  it("duplicate: each message arrives twice with the same seq", async () => {
    const device = makeDevice();
    await device.start();
    device.inject({ duplicate: true });
    clock.advance(PERIOD_MS);
    await command("relay", 1); // an ack as a sentinel: anything published before it arrives first
    expect(rec.on("dev/tele").map((m) => tele(m).seq)).toEqual([0, 0]);
  });

  it("garble: the payload is not a valid telemetry message", async () => {
    const device = makeDevice();
    await device.start();
    device.inject({ garble: 1 });
    for (let i = 0; i < 4; i++) {
      const next = rec.next("dev/tele");
      clock.advance(PERIOD_MS);
      const m = await next;
      expect(() => tele(m)).toThrow();
    }
  });

  it("delayMs: telemetry comes out later, after messages sent meanwhile", async () => {
    const device = makeDevice();
    await device.start();
    device.inject({ delayMs: 5000 });
    clock.advance(PERIOD_MS);
    await command("relay", 1); // an ack as a sentinel: anything published before it arrives first
    expect(rec.on("dev/tele")).toHaveLength(0);
    const late = rec.next("dev/tele");
    clock.advance(5000);
    expect(tele(await late).seq).toBe(0);
  });

  it("stuck: a channel freezes while the others move", async () => {
    const device = makeDevice({ read: () => ({ tempC: 20 + counter, levelPct: 50 + counter++ }) });
    await device.start();
    expect((await tick()).readings).toEqual({ tempC: 20, levelPct: 50 });
    device.inject({ stuck: "tempC" });
    expect((await tick()).readings).toEqual({ tempC: 21, levelPct: 51 });
    expect((await tick()).readings).toEqual({ tempC: 21, levelPct: 52 });
    expect(() => device.inject({ stuck: "nope" })).toThrow(/no channel "nope"/);
  });

  it("override: a forced value, out of range or NaN (sent as null), until cleared", async () => {
    const device = makeDevice();
    await device.start();
    device.override("levelPct", 250);
    device.override("tempC", Number.NaN);
    expect((await tick()).readings).toEqual({ tempC: null, levelPct: 250 });
    device.override("tempC", null);
    expect((await tick()).readings).toEqual({ tempC: 21, levelPct: 250 });
    device.clearFaults();
    expect((await tick()).readings).toEqual({ tempC: 22, levelPct: 50 });
  });

  it("health: the injected state is reported", async () => {
    const device = makeDevice({ healthPeriodMs: 10_000 });
    await device.start();
    device.inject({ health: "degraded" });
    const next = rec.next("dev/health", (m) => HealthMessage.parse(json(m)).state === "degraded");
    clock.advance(10_000);
    expect(HealthMessage.parse(json(await next))).toMatchObject({ state: "degraded", boot: 1, uptimeS: 10 });
  });

  it("rejects impossible fault settings", () => {
    const device = makeDevice();
    expect(() => device.inject({ drop: 1.5 })).toThrow(RangeError);
    expect(() => device.inject({ delayMs: -1 })).toThrow(RangeError);
  });
});
