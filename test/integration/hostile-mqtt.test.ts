/**
 * Issue 10, tried as a hostile or clumsy client on the school network would, against the embedded
 * broker over real TCP: client-id takeover (finding 1), connection and subscription caps, a fan-out
 * that must not reach the hub (finding 2), password guessing (finding 5) and keep-alives MQTT 3.1.1
 * has no refusal for (finding 9). Raw CONNECT packets come from their own source addresses on the
 * loopback network (127.0.0.x), as different machines would.
 */
import net from "node:net";
import mqttPacket from "mqtt-packet";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DeviceView } from "../../hub/src/core/types.ts";
import type { BrokerStats } from "../../hub/src/broker/protocol.ts";
import { bootHarness, connectMqtt, type Harness, SITE, TEST_META, until } from "./harness.ts";

type Ok<T> = { ok: true; result: T };

interface RawConnect {
  username?: string;
  password?: string;
  clientId: string;
  keepalive?: number;
  localAddress?: string;
}

/** One CONNECT over its own socket; resolves with the CONNACK's return code. */
function rawConnect(port: number, c: RawConnect): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "127.0.0.1", port, ...(c.localAddress !== undefined ? { localAddress: c.localAddress } : {}) });
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on("packet", (p) => {
      if (p.cmd === "connack") {
        socket.destroy();
        resolve(p.returnCode ?? -1);
      }
    });
    socket.on("data", (d) => parser.parse(d));
    socket.on("error", reject);
    socket.on("close", () => reject(new Error("closed without a CONNACK")));
    socket.on("connect", () => {
      socket.write(
        mqttPacket.generate({
          cmd: "connect",
          protocolId: "MQTT",
          protocolVersion: 4,
          clean: true,
          clientId: c.clientId,
          keepalive: c.keepalive ?? 5,
          ...(c.username !== undefined ? { username: c.username } : {}),
          ...(c.password !== undefined ? { password: Buffer.from(c.password) } : {}),
        }),
      );
    });
  });
}

async function brokerStats(h: Harness): Promise<BrokerStats> {
  return (await h.get<Ok<{ mqtt: BrokerStats }>>("/api/hub/health")).body.result.mqtt;
}

/** Waits until the broker thread's counters (reported a few times a second) satisfy `pred`. */
function statsUntil(h: Harness, pred: (s: BrokerStats) => boolean, what: string): Promise<BrokerStats> {
  return until(async () => {
    const s = await brokerStats(h);
    return pred(s) ? s : undefined;
  }, 10_000, what);
}

const device = async (h: Harness, id: string) => (await h.get<Ok<DeviceView>>(`/api/devices/${id}`)).body.result;

describe("hostile MQTT clients", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await bootHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it("refuses another account's use of a device's client id: no takeover, no last will, counted and shown (finding 1)", async () => {
    const real = await h.device("dev-a", { clientId: "dev-a-board" });
    await real.describe();
    await real.tele({ powerW: 10, tempC: 20 });
    let closes = 0;
    real.client.on("close", () => (closes += 1));
    const port = h.hub.mqttPort ?? 0;

    // The observer's password is in the README; a device's password is on its board.
    for (let attempt = 0; attempt < 5; attempt++) {
      expect(await rawConnect(port, { username: "observer", password: "observer", clientId: "dev-a-board", localAddress: "127.0.0.2" })).toBe(2);
      expect(await rawConnect(port, { username: "dev-b", password: "pw-dev-b", clientId: "dev-a-board", localAddress: "127.0.0.2" })).toBe(2);
      // A device may not hide under an id nobody owns either.
      expect(await rawConnect(port, { username: "dev-b", password: "pw-dev-b", clientId: "sneaky", localAddress: "127.0.0.2" })).toBe(2);
    }
    await expect(connectMqtt(h.mqttUrl, { username: "observer", password: "observer", clientId: "dev-a" })).rejects.toThrow(/Identifier rejected/i);

    // The real board never noticed: still connected, still online, its will never fired.
    await real.tele({ powerW: 11, tempC: 20 });
    await until(async () => (await device(h, "dev-a")).channels.powerW?.value === 11, 5000, "the board's next reading");
    expect(closes).toBe(0);
    expect(real.client.connected).toBe(true);
    const view = await device(h, "dev-a");
    expect(view.status).toBe("online");
    expect(view.state).toBe("ready");
    const watcher = await h.observer();
    const retained = new Promise<string>((resolve) => watcher.on("message", (_t, p) => resolve(p.toString())));
    await watcher.subscribeAsync(`tec/${SITE}/dev-a/status`);
    expect(await retained).toBe("online");

    // Counted and shown to technicians: the broker's counters and refusals, the device's rejects, an alarm.
    const stats = await statsUntil(h, (s) => s.clientIdRefused >= 16, "client-id refusals counted");
    expect(stats.clientIdRefused).toBe(16);
    const fromObserver = stats.recentRefusals.find((r) => r.code === "client-id-refused" && r.account === "observer");
    expect(fromObserver).toMatchObject({ address: "127.0.0.1", clientId: "dev-a", reason: expect.stringContaining('belongs to device "dev-a"') as unknown });
    expect(stats.recentRefusals.find((r) => r.account === "dev-b" && r.address === "127.0.0.2")).toMatchObject({ count: 10 });
    const rejects = await until(async () => {
      const v = await device(h, "dev-a");
      return (v.rejectsByCode["client-id-refused"] ?? 0) >= 11 ? v : undefined;
    }, 5000, "refusals on dev-a's health");
    // Each round the observer's and dev-b's account's try with dev-a's id, and the observer's once more.
    expect(rejects.rejectsByCode["client-id-refused"]).toBe(11);
    expect(rejects.recentRejects.some((r) => r.code === "client-id-refused" && /observer account "observer" may not use it/.test(r.message))).toBe(true);
    const alarm = h.hub.alarms.list({ open: true }).find((a) => a.key === "mqtt-client-id:dev-a");
    expect(alarm?.message.en).toMatch(/tried to take over Device dev-a's MQTT session/);

    // The same account may take its own session over (a rebooted board reconnecting).
    const again = await h.device("dev-a", { clientId: "dev-a-board" });
    await until(() => closes > 0 || undefined, 5000, "the old session replaced");
    expect(again.client.connected).toBe(true);
  });

  it("caps sessions per account and subscriptions per session", async () => {
    const port = h.hub.mqttPort ?? 0;
    const observers = [];
    for (let i = 0; i < 32; i++) observers.push(await connectMqtt(h.mqttUrl, { username: "observer", password: "observer", clientId: `tool-${i}` }));
    expect(await rawConnect(port, { username: "observer", password: "observer", clientId: "tool-32" })).toBe(3);
    // Reconnecting an existing tool replaces its session and is not refused.
    expect(await rawConnect(port, { username: "observer", password: "observer", clientId: "tool-0" })).toBe(0);

    for (let i = 0; i < 4; i++) await h.device("dev-c", { clientId: `dev-c-${i}` });
    expect(await rawConnect(port, { username: "dev-c", password: "pw-dev-c", clientId: "dev-c-4" })).toBe(3);

    const tool = observers[5];
    const granted = [];
    for (let i = 0; i < 32; i++) granted.push(...(await tool!.subscribeAsync(`tec/${SITE}/x${i}/#`)).map((g) => g.qos));
    expect(granted).toEqual(Array.from({ length: 32 }, () => 0));
    // The 33rd is refused in the SUBACK (0x80), which mqtt.js reports as a failed subscribe.
    await expect(tool!.subscribeAsync(`tec/${SITE}/x32/#`)).rejects.toThrow(/Subscribe error/);
    expect(tool!.connected).toBe(true);
    // Subscribing again to a filter it holds is no new subscription.
    expect((await tool!.subscribeAsync(`tec/${SITE}/x0/#`))[0]?.qos).toBe(0);

    const stats = await statsUntil(h, (s) => s.connectionsRefused >= 2 && s.subscriptionsRefused >= 1, "caps counted");
    expect(stats.connectionsRefused).toBe(2);
    expect(stats.subscriptionsRefused).toBe(1);
    // tool-0's session was replaced by the raw one, which then hung up.
    expect(stats.observerSessions).toBe(31);
    expect(stats.recentRefusals.find((r) => r.code === "connection-refused" && r.account === "observer")?.reason).toMatch(/already has 32 session\(s\), at most 32/);
    for (const o of observers) o.end(true);
  });

  it("makes an address that keeps guessing a device password wait, and lets others in (finding 5)", async () => {
    const port = h.hub.mqttPort ?? 0;
    const dev = await h.device("dev-a");
    await dev.describe();
    await dev.tele({ powerW: 99_999, tempC: 20 });
    await until(async () => ((await device(h, "dev-a")).rejectsByCode["out-of-range"] ?? 0) > 0, 5000, "an out-of-range reject");

    const codes = new Map<number, number>();
    for (let round = 0; round < 40; round++) {
      const batch = await Promise.all(Array.from({ length: 50 }, (_, i) => rawConnect(port, { username: "dev-a", password: `guess-${round}-${i}`, clientId: `dev-a-g${round}-${i}`, localAddress: "127.0.0.2" })));
      for (const c of batch) codes.set(c, (codes.get(c) ?? 0) + 1);
    }
    // Three guesses are checked, then the address waits (1 s, 2 s, 4 s …) and is refused unchecked meanwhile.
    const checked = codes.get(4) ?? 0;
    expect(checked).toBeGreaterThanOrEqual(3);
    expect(checked).toBeLessThan(60);
    expect(codes.get(3)).toBe(2000 - checked);
    expect(codes.get(0)).toBeUndefined();

    // The real device from its own address is not kept out.
    expect(await rawConnect(port, { username: "dev-a", password: "pw-dev-a", clientId: "dev-a-real", localAddress: "127.0.0.3" })).toBe(0);
    const stats = await statsUntil(h, (s) => s.authFailures + s.authThrottled >= 2000, "guesses counted");
    expect(stats.authFailures).toBe(checked);
    expect(stats.addressesBackedOff).toBe(1);
    expect(stats.recentRefusals.find((r) => r.address === "127.0.0.2")?.count).toBe(2000);

    // Summarised on the device: the flood is one line, and what the device did wrong stays in view.
    const view = await until(async () => {
      const v = await device(h, "dev-a");
      return (v.rejectsByCode["auth-failed"] ?? 0) >= 2000 ? v : undefined;
    }, 5000, "auth failures on dev-a");
    expect(view.rejectsByCode["auth-failed"]).toBe(2000);
    expect(view.recentRejects.filter((r) => r.code === "auth-failed").length).toBeLessThanOrEqual(1);
    expect(view.recentRejects.some((r) => r.code === "out-of-range")).toBe(true);
  });

  it("accepts every keep-alive with a standard code and treats 0 and over-long ones as the limit (finding 9)", async () => {
    const port = h.hub.mqttPort ?? 0;
    expect(await rawConnect(port, { username: "dev-b", password: "pw-dev-b", clientId: "dev-b-k0", keepalive: 0 })).toBe(0);
    expect(await rawConnect(port, { username: "dev-b", password: "pw-dev-b", clientId: "dev-b-k120", keepalive: 120 })).toBe(0);
    expect(await rawConnect(port, { username: "dev-b", password: "pw-dev-b", clientId: "dev-b-k65535", keepalive: 65_535 })).toBe(0);
    expect(await rawConnect(port, { username: "dev-b", password: "pw-dev-b", clientId: "dev-b-k30", keepalive: 30 })).toBe(0);
    const stats = await statsUntil(h, (s) => s.keepalivesClamped >= 3, "clamped keep-alives counted");
    expect(stats.keepalivesClamped).toBe(3);
  });
});

describe("broker fan-out (finding 2)", () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it("sends observers only their budget while the hub takes every reading", async () => {
    h = await bootHarness({
      intake: { maxMessagesPerS: 100_000, maxDeviceMessagesPerS: 100_000 },
      broker: { mode: "embedded", host: "127.0.0.1", port: 0, observer: { username: "observer", password: "observer" }, limits: { observerMessagesPerS: 5, observerTotalMessagesPerS: 100 } },
    });
    const flood = await h.device("dev-a");
    await flood.describe();
    const observers = await Promise.all(Array.from({ length: 20 }, () => h.observer()));
    const received = observers.map(() => 0);
    await Promise.all(
      observers.map(async (o, i) => {
        o.on("message", () => (received[i] = (received[i] ?? 0) + 1));
        await o.subscribeAsync("#");
      }),
    );
    const sent = 2000;
    for (let i = 1; i <= sent; i++) flood.client.publish(`tec/${SITE}/dev-a/tele`, JSON.stringify({ ts: Date.now(), seq: i, readings: { powerW: i, tempC: 20 } }), { qos: 0 });
    await flood.client.publishAsync(`tec/${SITE}/dev-a/tele`, JSON.stringify({ ts: Date.now(), seq: sent + 1, readings: { powerW: 4242, tempC: 20 } }), { qos: 1 });

    // The hub's own subscription is not an observer's: every reading reaches it.
    await until(async () => (await device(h, "dev-a")).channels.powerW?.value === 4242, 20_000, "the last reading at the hub");
    expect((await device(h, "dev-a")).counters.readings).toBe(2 * (sent + 1));
    const stats = await statsUntil(h, (s) => s.budgetDropped > 0, "budget drops counted");
    expect(stats.hubDropped).toBe(0);
    // Each observer got its burst and its share, far from all 2,001 readings (plus its retained meta and status).
    for (const n of received) expect(n).toBeLessThan(sent / 2);
    for (const o of observers) o.end(true);
  });
});

describe("the device contract still works through the broker's thread", () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it("carries a retained meta to the hub and a command back to the device", async () => {
    h = await bootHarness();
    const dev = await h.device("dev-b");
    const commands: string[] = [];
    dev.client.on("message", (topic) => commands.push(topic));
    await dev.client.subscribeAsync(`tec/${SITE}/dev-b/cmd/+`);
    await dev.describe({ ...TEST_META, boot: 7 });
    await until(async () => (await device(h, "dev-b")).boot === 7, 5000, "meta at the hub");
    // Nobody acks in this test; only the delivery matters.
    h.hub.commands.send("dev-b" as never, "relay", 1, 2000).catch(() => {});
    await until(() => commands.length > 0 || undefined, 5000, "the command at the device");
    expect(commands[0]).toBe(`tec/${SITE}/dev-b/cmd/relay`);
  });
});
