/**
 * MQTT over TLS on the embedded broker, and HTTPS for the dashboard: real hubs on loopback ports,
 * the hub's own CA made in each hub's temp data folder, Debian's mosquitto_sub and mqtt.js as the
 * clients. A client that does not trust the CA, and plain MQTT spoken to the TLS port, are refused
 * and counted without touching the interlocks or the plain listener.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import mqttPacket from "mqtt-packet";
import { io as ioClient } from "socket.io-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { BrokerStats } from "../../hub/src/broker/protocol.ts";
import { ensureSelfSignedCerts } from "../../hub/src/broker/tls-certs.ts";
import { parseConfig } from "../../hub/src/config/load.ts";
import { HubError } from "../../hub/src/core/errors.ts";
import { startHub } from "../../hub/src/main.ts";
import type { DeviceView } from "../../hub/src/core/types.ts";
import { freePort } from "../support/mosquitto.ts";
import { baseConfig, bootHarness, connectMqtt, type Harness, SITE, TEST_META, until } from "./harness.ts";

type Ok<T> = { ok: true; result: T };

const OBSERVER = { username: "observer", password: "observer" };

async function brokerStats(h: Harness): Promise<BrokerStats> {
  return (await h.get<Ok<{ mqtt: BrokerStats }>>("/api/hub/health")).body.result.mqtt;
}

const deviceView = async (h: Harness, id: string) => (await h.get<Ok<DeviceView>>(`/api/devices/${id}`)).body.result;

/** Bytes to a port; resolves once the far end has closed the connection. */
function sendAndWaitForClose(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port }, () => socket.write(bytes));
    socket.on("data", () => undefined);
    socket.on("error", () => undefined);
    socket.on("close", () => resolve());
  });
}

const CONNECT = mqttPacket.generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, clientId: "dev-b-plain", keepalive: 5, username: "dev-b", password: Buffer.from("pw-dev-b") });

describe("MQTT over TLS (broker.tls, the hub's own CA)", () => {
  let h: Harness;
  let ca: string;
  let tlsPort: number;
  const children: ChildProcess[] = [];
  const scratch: string[] = [];

  beforeAll(async () => {
    h = await bootHarness({
      broker: { mode: "embedded", host: "127.0.0.1", port: 0, observer: OBSERVER, tls: { port: 0 } },
      devices: ["dev-a", "dev-b"].map((id) => ({ kind: "mqtt" as const, id, name: `Device ${id}`, password: `pw-${id}` })),
    });
    tlsPort = h.hub.mqttTlsPort ?? 0;
    ca = readFileSync(h.hub.mqttCaFile ?? "", "utf8");
  }, 120_000);

  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill("SIGKILL");
  });

  afterAll(async () => {
    await h?.close();
    for (const d of scratch) rmSync(d, { recursive: true, force: true });
  });

  it("listens on its own port next to the plain one, with the CA in the data folder", () => {
    expect(tlsPort).toBeGreaterThan(0);
    expect(h.hub.mqttPort).not.toBeNull();
    expect(tlsPort).not.toBe(h.hub.mqttPort);
    expect(h.hub.mqttCaFile).toBe(path.join(h.dir, "tls", "ca.crt"));
  });

  it("delivers a device's message to the real mosquitto_sub, which trusts only the hub's CA (a)", async () => {
    const board = await connectMqtt(`mqtts://127.0.0.1:${tlsPort}`, { ca, username: "dev-a", password: "pw-dev-a", clientId: "dev-a-board" });
    try {
      const sub = spawn("mosquitto_sub", ["--cafile", h.hub.mqttCaFile ?? "", "-h", "localhost", "-p", String(tlsPort), "-u", OBSERVER.username, "-P", OBSERVER.password, "-i", "tls-watcher", "-t", `tec/${SITE}/+/tele`, "-C", "1", "-v"], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.push(sub);
      let out = "";
      let err = "";
      sub.stdout?.on("data", (d: Buffer) => (out += d.toString()));
      sub.stderr?.on("data", (d: Buffer) => (err += d.toString()));
      const exited = new Promise<number | null>((resolve) => sub.once("exit", (code) => resolve(code)));
      // Published until mosquitto_sub has its one message (it subscribes some time after it starts).
      let seq = 0;
      const code = await until(
        async () => {
          if (sub.exitCode !== null) return { code: sub.exitCode };
          seq += 1;
          await board.publishAsync(`tec/${SITE}/dev-a/tele`, JSON.stringify({ ts: Date.now(), seq, readings: { powerW: 42 } }), { qos: 1 });
          await new Promise((r) => setTimeout(r, 100));
          return undefined;
        },
        60_000,
        "mosquitto_sub to receive a message over TLS",
      );
      expect(code.code, err).toBe(0);
      await exited;
      expect(out).toMatch(new RegExp(`^tec/${SITE}/dev-a/tele \\{"ts":\\d+,"seq":\\d+,"readings":\\{"powerW":42\\}\\}`));
    } finally {
      await board.endAsync();
    }
  }, 120_000);

  it("takes an mqtt.js device's telemetry over mqtts into the registry (b)", async () => {
    const board = await connectMqtt(`mqtts://127.0.0.1:${tlsPort}`, {
      ca,
      username: "dev-a",
      password: "pw-dev-a",
      clientId: "dev-a-esp32",
      will: { topic: `tec/${SITE}/dev-a/status`, payload: Buffer.from("offline"), retain: true, qos: 1 },
    });
    try {
      expect((board.stream as unknown as { encrypted?: boolean }).encrypted).toBe(true);
      await board.publishAsync(`tec/${SITE}/dev-a/status`, "online", { qos: 1, retain: true });
      await board.publishAsync(`tec/${SITE}/dev-a/meta`, JSON.stringify(TEST_META), { qos: 1, retain: true });
      await board.publishAsync(`tec/${SITE}/dev-a/tele`, JSON.stringify({ ts: Date.now(), seq: 100, readings: { powerW: 1234, tempC: 21 } }), { qos: 1 });
      const view = await until(async () => {
        const v = await deviceView(h, "dev-a");
        return v.channels.powerW?.value === 1234 ? v : undefined;
      }, 30_000, "the reading in the registry");
      expect(view.status).toBe("online");
      // The broker's rules apply on this port as on the plain one: a session is bound to its account.
      await expect(connectMqtt(`mqtts://127.0.0.1:${tlsPort}`, { ca, username: "dev-b", password: "pw-dev-b", clientId: "dev-a-thief" })).rejects.toThrow(/Identifier rejected/i);
      await expect(connectMqtt(`mqtts://127.0.0.1:${tlsPort}`, { ca, username: "dev-b", password: "wrong", clientId: "dev-b" })).rejects.toThrow(/Bad username or password/i);
      // The refusal names the real peer address (not the TLS layer's).
      const stats = await until(async () => {
        const s = await brokerStats(h);
        return s.recentRefusals.some((r) => r.code === "client-id-refused" && r.address === "127.0.0.1") ? s : undefined;
      }, 10_000, "the refusal counted");
      expect(stats.clientIdRefused).toBeGreaterThanOrEqual(1);
      // Shown as for the plain port: on the device's health and as an alarm.
      await until(async () => ((await deviceView(h, "dev-a")).rejectsByCode["client-id-refused"] ?? 0) >= 1, 10_000, "the refusal on dev-a's health");
      await until(() => h.hub.alarms.list({ open: true }).some((a) => a.key === "mqtt-client-id:dev-a"), 10_000, "the takeover alarm");
    } finally {
      await board.endAsync();
    }
  }, 120_000);

  it("refuses a client that trusts another CA, and plain MQTT or garbage on the TLS port: counted, interlocks untouched, the plain port unaffected (c)", async () => {
    const before = (await brokerStats(h)).tlsHandshakeFailures;
    const safety = () => h.hub.interlocks.list().map((v) => [v.id, v.status]);
    const alarms = () => h.hub.alarms.list({ open: true }).map((a) => a.key);
    const rejects = async () => Promise.all(["dev-a", "dev-b"].map(async (id) => (await deviceView(h, id)).rejectsByCode));
    const safetyBefore = safety();
    const alarmsBefore = alarms();
    const rejectsBefore = await rejects();
    expect(safetyBefore.length).toBeGreaterThan(0);
    expect(safetyBefore.every(([, status]) => status === "normal")).toBe(true);
    const otherDir = mkdtempSync(path.join(os.tmpdir(), "tec-other-ca-"));
    scratch.push(otherDir);
    const other = await ensureSelfSignedCerts(otherDir, []);

    // A board flashed with another CA: its TLS layer refuses the hub's certificate.
    await expect(connectMqtt(`mqtts://127.0.0.1:${tlsPort}`, { ca: other.ca, username: "dev-a", password: "pw-dev-a", clientId: "dev-a-wrong-ca", connectTimeout: 10_000 })).rejects.toThrow(
      /self[- ]signed|unable to verify|certificate/i,
    );
    // Plain MQTT to the TLS port (a board with TLS switched off but the new port), and garbage.
    await sendAndWaitForClose(tlsPort, CONNECT);
    await sendAndWaitForClose(tlsPort, Buffer.from("GET / HTTP/1.1\r\nHost: hub\r\n\r\n"));

    const stats = await until(async () => {
      const s = await brokerStats(h);
      return s.tlsHandshakeFailures - before >= 3 ? s : undefined;
    }, 30_000, "three handshake failures counted");
    expect(stats.tlsHandshakeFailures - before).toBe(3);

    // Nobody else heard of it: the interlocks stay normal, no alarm, nothing on any device's health.
    expect(safety()).toEqual(safetyBefore);
    expect(alarms()).toEqual(alarmsBefore);
    expect(await rejects()).toEqual(rejectsBefore);

    // The plain listener still serves: a device logs in there and its reading arrives.
    const plain = await h.device("dev-b");
    await plain.describe();
    await plain.tele({ powerW: 77, tempC: 20 });
    await until(async () => (await deviceView(h, "dev-b")).channels.powerW?.value === 77, 30_000, "dev-b's reading over the plain port");
    // And plain MQTT there is still plain MQTT (the same bytes that the TLS port refused).
    expect((await brokerStats(h)).tlsHandshakeFailures - before).toBe(3);
  }, 120_000);
});

describe("TLS only (broker.plain: false) and HTTPS (http.tls)", () => {
  let h: Harness;
  let certs: Awaited<ReturnType<typeof ensureSelfSignedCerts>>;
  let plainPort: number;
  let certDir: string;

  beforeAll(async () => {
    certDir = mkdtempSync(path.join(os.tmpdir(), "tec-https-"));
    certs = await ensureSelfSignedCerts(certDir, []);
    plainPort = await freePort();
    h = await bootHarness({
      http: { host: "127.0.0.1", port: 0, tls: { cert: certs.certFile, key: certs.keyFile, ca: certs.caFile } },
      broker: { mode: "embedded", host: "127.0.0.1", port: plainPort, plain: false, observer: OBSERVER, tls: { port: 0 } },
    });
  }, 120_000);

  afterAll(async () => {
    await h?.close();
    rmSync(certDir, { recursive: true, force: true });
  });

  it("has no plain listener (d)", async () => {
    expect(h.hub.mqttPort).toBeNull();
    expect(h.hub.mqttTlsPort).toBeGreaterThan(0);
    const refused = await new Promise<string>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port: plainPort }, () => {
        s.destroy();
        resolve("connected");
      });
      s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    expect(refused).toBe("ECONNREFUSED");
    const ca = readFileSync(h.hub.mqttCaFile ?? "", "utf8");
    const board = await connectMqtt(`mqtts://127.0.0.1:${h.hub.mqttTlsPort ?? 0}`, { ca, username: "dev-a", password: "pw-dev-a", clientId: "dev-a" });
    await board.endAsync();
  }, 120_000);

  it("serves the API over HTTPS to a client that trusts the CA, and the live stream with it (e)", async () => {
    const get = (p: string, ca: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = https.get({ host: "127.0.0.1", port: h.hub.httpPort, path: p, ca, servername: "localhost" }, (res) => {
          let body = "";
          res.on("data", (d: Buffer) => (body += d.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on("error", reject);
      });
    const health = await get("/api/hub/health", certs.ca);
    expect(health.status).toBe(200);
    const body = JSON.parse(health.body) as Ok<{ mqtt: { description: string } }>;
    expect(body.ok).toBe(true);
    expect(body.result.mqtt.description).toMatch(/no plain port, TLS port \d+/);
    // A client trusting anything else gets no answer.
    const otherDir = mkdtempSync(path.join(os.tmpdir(), "tec-other-ca-"));
    try {
      const other = await ensureSelfSignedCerts(otherDir, []);
      await expect(get("/api/hub/health", other.ca)).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
    // socket.io rides on the same server: the dashboard's live stream over wss.
    const socket = ioClient(`https://127.0.0.1:${h.hub.httpPort}`, { transports: ["websocket"], forceNew: true, reconnection: false, ca: certs.ca, servername: "localhost" } as Parameters<typeof ioClient>[1]);
    try {
      const snapshot = new Promise<unknown>((resolve) => socket.once("snapshot", resolve));
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", () => resolve());
        socket.once("connect_error", reject);
      });
      expect(await snapshot).toBeTruthy();
    } finally {
      socket.close();
    }
  }, 120_000);
});

describe("a TLS listener that cannot start", () => {
  it("names a missing certificate file, and gives the plain port back when the TLS port is taken", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "tec-tls-fail-"));
    const blocker = net.createServer();
    try {
      const missing = path.join(dir, "nope", "server.crt");
      const plainPort = await freePort();
      const files = parseConfig(baseConfig(dir, { broker: { mode: "embedded", host: "127.0.0.1", port: plainPort, observer: null, tls: { port: 0, files: { cert: missing, key: path.join(dir, "server.key") } } } })).config;
      const error = await startHub(files).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HubError);
      expect((error as HubError).code).toBe("CONFIG_INVALID");
      expect((error as HubError).message).toContain(`broker.tls.files.cert: cannot read ${missing}`);

      await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
      const taken = (blocker.address() as net.AddressInfo).port;
      const clash = parseConfig(baseConfig(dir, { broker: { mode: "embedded", host: "127.0.0.1", port: plainPort, observer: null, tls: { port: taken } } })).config;
      await expect(startHub(clash)).rejects.toThrow(/EADDRINUSE|address already in use/);
      // The plain listener, already up when the TLS one failed, was closed with it.
      const probe = net.createServer();
      await new Promise<void>((resolve, reject) => {
        probe.once("error", reject);
        probe.listen(plainPort, "127.0.0.1", resolve);
      });
      await new Promise<void>((resolve) => probe.close(() => resolve()));
    } finally {
      await new Promise<void>((resolve) => (blocker.listening ? blocker.close(() => resolve()) : resolve()));
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
