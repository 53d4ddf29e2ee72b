import { createServer, type AddressInfo, type Server } from "node:net";
import { Aedes, type AuthenticateError } from "aedes";
import { connectAsync, type MqttClient } from "mqtt";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AckMessage, MetaMessage, TeleMessage } from "../../firmware-bridge/contract/messages.ts";
import { ManualClock, systemClock, type Clock, type Timer } from "../../hub/src/core/clock.ts";
import { TINY_HOUSE_DEVICES, TINY_HOUSE_DEVICE_IDS, controlsFrom } from "./devices.ts";
import { startTinyHouse, type TinyHouseHandle } from "./index.ts";

const SITE = "th";
const PERIOD_MS = 1000;
const PASSWORDS = Object.fromEntries(TINY_HOUSE_DEVICE_IDS.map((id) => [id, `pw-${id}`]));

let broker: Aedes;
let server: Server;
let url: string;
let hub: MqttClient;
let messages: { topic: string; payload: string }[];
let handle: TinyHouseHandle | null;

beforeEach(async () => {
  broker = await Aedes.createBroker();
  // Devices log in with their id and password, as on the hub's embedded broker.
  broker.authenticate = (client, username, password, done) => {
    const ok = username === "observer" || (username !== undefined && password?.toString() === PASSWORDS[username]);
    if (ok) return done(null, true);
    const error: AuthenticateError = Object.assign(new Error("bad username or password"), { returnCode: 4 as const });
    done(error, false);
  };
  server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub = await connectAsync(url, { protocolVersion: 4, clientId: "observer", username: "observer", reconnectPeriod: 0 });
  messages = [];
  hub.on("message", (topic, payload) => messages.push({ topic, payload: payload.toString() }));
  await hub.subscribeAsync(`tec/${SITE}/#`, { qos: 1 });
  handle = null;
});

afterEach(async () => {
  await handle?.stop();
  await hub.endAsync(true);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await new Promise<void>((resolve) => broker.close(() => resolve()));
});

/** The system clock, counting the timers that are still live (scheduled and not cancelled or fired). */
class TrackingClock implements Clock {
  readonly live = new Set<object>();
  now(): number {
    return systemClock.now();
  }
  setTimeout(fn: () => void, ms: number): Timer {
    const token = {};
    this.live.add(token);
    const timer = systemClock.setTimeout(() => {
      this.live.delete(token);
      fn();
    }, ms);
    return { cancel: () => (this.live.delete(token), timer.cancel()) };
  }
  setInterval(fn: () => void, ms: number): Timer {
    const token = {};
    this.live.add(token);
    const timer = systemClock.setInterval(fn, ms);
    return { cancel: () => (this.live.delete(token), timer.cancel()) };
  }
}

/** Resolves once `check` passes; checked now and on every message and every client leaving the broker. */
function until(check: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const test = (): void => {
      if (!check()) return;
      hub.off("message", test);
      broker.off("clientDisconnect", test);
      resolve();
    };
    hub.on("message", test);
    broker.on("clientDisconnect", test);
    test();
  });
}

function teleOf(device: string): TeleMessage[] {
  return messages.filter((m) => m.topic === `tec/${SITE}/${device}/tele`).map((m) => TeleMessage.parse(JSON.parse(m.payload)));
}

describe("startTinyHouse", () => {
  it("brings six devices online with meta, then telemetry of one model step from all of them", async () => {
    const clock = new ManualClock(Date.UTC(2026, 5, 21, 10, 0));
    handle = await startTinyHouse({ brokerUrl: url, site: SITE, passwords: PASSWORDS, speed: 60, seed: 42, periodMs: PERIOD_MS, clock });
    expect([...handle.devices.keys()].sort()).toEqual([...TINY_HOUSE_DEVICE_IDS].sort());

    await until(() => TINY_HOUSE_DEVICE_IDS.every((id) => messages.some((m) => m.topic === `tec/${SITE}/${id}/meta`)));
    for (const def of TINY_HOUSE_DEVICES) {
      const raw = messages.find((m) => m.topic === `tec/${SITE}/${def.id}/meta`)?.payload ?? "null";
      const meta = MetaMessage.parse(JSON.parse(raw));
      expect(meta).toMatchObject({ model: def.model, firmware: "sim-1.0.0", boot: 1, simulated: true });
      expect(Object.keys(meta.channels).sort()).toEqual(Object.keys(def.channels).sort());
      expect(Object.keys(meta.actuators).sort()).toEqual(Object.keys(def.actuators).sort());
      for (const spec of [...Object.values(meta.channels), ...Object.values(meta.actuators)]) expect(spec.label).toMatch(/\S/);
      for (const spec of Object.values(meta.channels)) expect(spec.periodMs).toBe(PERIOD_MS);
    }

    for (let i = 1; i <= 3; i++) {
      clock.advance(PERIOD_MS);
      await until(() => TINY_HOUSE_DEVICE_IDS.every((id) => teleOf(id).length === i));
    }
    for (const def of TINY_HOUSE_DEVICES) {
      const tele = teleOf(def.id);
      expect(tele.map((t) => t.seq)).toEqual([0, 1, 2]);
      for (const t of tele) {
        expect(Object.keys(t.readings).sort()).toEqual(Object.keys(def.channels).sort());
        for (const [name, value] of Object.entries(t.readings)) {
          const ch = def.channels[name];
          expect(typeof value).toBe("number");
          expect(value).toBeGreaterThanOrEqual(ch?.min ?? Number.NaN);
          expect(value).toBeLessThanOrEqual(ch?.max ?? Number.NaN);
        }
      }
    }
    // The balance holds across three devices for the same timestamp.
    for (let i = 0; i < 3; i++) {
      const pv = teleOf("pv-inverter")[i];
      const battery = teleOf("battery")[i];
      const grid = teleOf("grid-meter")[i];
      expect(pv?.ts).toBe(grid?.ts);
      expect(battery?.ts).toBe(grid?.ts);
      const r = { ...pv?.readings, ...battery?.readings, ...grid?.readings };
      expect(Number(r.pvPowerW) + Number(r.gridPowerW) + Number(r.batteryPowerW)).toBe(r.loadPowerW);
    }
    expect(Number(teleOf("pv-inverter")[2]?.readings.pvPowerW)).toBeGreaterThan(0); // June, noon-ish
    expect(handle.model.state.timeMs).toBe(Date.UTC(2026, 5, 21, 10, 3)); // 3 s real at 60x
  });

  it("lets the hub drive the local control through an acknowledged command", async () => {
    const clock = new ManualClock(Date.UTC(2026, 5, 21, 10, 0));
    handle = await startTinyHouse({ brokerUrl: url, site: SITE, passwords: PASSWORDS, speed: 60, seed: 42, periodMs: PERIOD_MS, clock });
    const battery = handle.devices.get("battery");
    const beat = new Promise((resolve) => battery?.once("heartbeat", resolve));
    await hub.publishAsync(`tec/${SITE}/_hub/heartbeat`, JSON.stringify({ ts: clock.now(), seq: 0 }));
    await beat;
    await hub.publishAsync(`tec/${SITE}/battery/cmd/chargeEnable`, JSON.stringify({ id: "c1", value: 1, leaseMs: 5000 }));
    await until(() => messages.some((m) => m.topic === `tec/${SITE}/battery/ack`));
    const ack = AckMessage.parse(JSON.parse(messages.find((m) => m.topic === `tec/${SITE}/battery/ack`)?.payload ?? "null"));
    expect(ack).toEqual({ id: "c1", ok: true });
    expect(controlsFrom(handle.devices)).toMatchObject({ chargeEnable: true, dischargeEnable: false });
    clock.advance(PERIOD_MS);
    expect(handle.model.state.batteryPowerW).toBeLessThanOrEqual(0);
    clock.advance(3000); // heartbeat gone: safe again
    expect(controlsFrom(handle.devices).chargeEnable).toBe(false);
  });

  it("stop() publishes offline for every device and leaves no sockets or timers behind", async () => {
    const sockets = (): number => process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length;
    const socketsBefore = sockets();
    const clock = new TrackingClock();
    handle = await startTinyHouse({ brokerUrl: url, site: SITE, passwords: PASSWORDS, speed: 60, seed: 1, periodMs: 100, clock });
    await until(() => TINY_HOUSE_DEVICE_IDS.every((id) => teleOf(id).length > 0));
    expect(clock.live.size).toBeGreaterThan(0);
    expect(sockets()).toBeGreaterThan(socketsBefore);
    const gone = until(() => TINY_HOUSE_DEVICE_IDS.every((id) => messages.some((m) => m.topic === `tec/${SITE}/${id}/status` && m.payload === "offline")));
    await handle.stop();
    await gone;
    await handle.stop(); // twice is fine
    for (const device of handle.devices.values()) expect(device.connected).toBe(false);
    expect(clock.live.size).toBe(0);
    await until(() => broker.connectedClients === 1); // the observer only
    await new Promise((resolve) => setImmediate(resolve));
    expect(sockets()).toBe(socketsBefore);
  });

  it("rejects when the broker refuses a password, and leaves nothing running", async () => {
    const sockets = (): number => process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length;
    const socketsBefore = sockets();
    const start = startTinyHouse({ brokerUrl: url, site: SITE, passwords: { ...PASSWORDS, water: "wrong" }, speed: 60, seed: 1, periodMs: PERIOD_MS, clock: new ManualClock() });
    await expect(start).rejects.toThrow(/Bad username or password|Not authorized/i);
    await until(() => broker.connectedClients === 1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sockets()).toBe(socketsBefore);
  });
});
