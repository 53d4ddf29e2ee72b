/**
 * One harness for the integration suites: boots a real hub (embedded aedes broker on a real TCP
 * port, fastify + socket.io on another, SQLite in a temp folder) and hands the test real clients:
 * MQTT devices, the observer, socket.io dashboards, REST.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { io as ioClient, type Socket } from "socket.io-client";
import type { MetaMessage } from "../../firmware-bridge/contract/messages.ts";
import type { LiveFrame, LiveSnapshot } from "../../hub/src/api/live-protocol.ts";
import { parseConfig } from "../../hub/src/config/load.ts";
import type { HubConfig, HubConfigInput } from "../../hub/src/config/schema.ts";
import type { Clock } from "../../hub/src/core/clock.ts";
import { startHub, type Hub, type HubOptions } from "../../hub/src/main.ts";

export const SITE = "test-site";

export const DEVICES = ["dev-a", "dev-b", "dev-c"] as const;

export const TEST_META: MetaMessage = {
  contract: "1.0",
  model: "TEST-BOARD",
  firmware: "1.2.3",
  boot: 1,
  channels: {
    powerW: { unit: "W", min: 0, max: 5000, periodMs: 500, label: "Vermogen" },
    tempC: { unit: "C", min: -20, max: 90, periodMs: 500 },
  },
  actuators: { relay: { safe: 0, leaseMs: 2000 } },
};

export function baseConfig(dir: string, overrides: Partial<HubConfigInput> = {}): HubConfigInput {
  return {
    site: SITE,
    siteName: "Test site",
    demo: true,
    http: { host: "127.0.0.1", port: 0 },
    broker: { mode: "embedded", host: "127.0.0.1", port: 0, observer: { username: "observer", password: "observer" } },
    storage: { path: path.join(dir, "hub.db"), flushMs: 100 },
    live: { maxFramesPerS: 20 },
    devices: DEVICES.map((id) => ({ kind: "mqtt" as const, id, name: `Device ${id}`, password: `pw-${id}` })),
    simulators: { tinyHouse: { enabled: false } },
    opcua: { enabled: false },
    ...overrides,
  };
}

export interface Harness {
  hub: Hub;
  config: Readonly<HubConfig>;
  dir: string;
  httpUrl: string;
  mqttUrl: string;
  /** A real MQTT client logged in as a device (birth and will on the status topic). */
  device(id: string, options?: Partial<IClientOptions>): Promise<TestDevice>;
  observer(): Promise<MqttClient>;
  live(): Promise<LiveClient>;
  get<T = unknown>(url: string): Promise<{ status: number; body: T }>;
  /** Stops the hub (as on Ctrl-C) and keeps the folder, for restart tests. */
  stopHub(): Promise<void>;
  /** Starts a new hub on the same folder and the same ports. */
  restartHub(): Promise<void>;
  close(): Promise<void>;
}

export interface TestDevice {
  client: MqttClient;
  id: string;
  seq: number;
  publish(kind: string, payload: string | Buffer | object, retain?: boolean): Promise<void>;
  describe(meta?: MetaMessage): Promise<void>;
  tele(readings: Record<string, unknown>, seq?: number): Promise<void>;
  /** Drops the TCP connection without DISCONNECT, as a crash or a pulled cable would. */
  crash(): void;
  end(): Promise<void>;
}

export interface LiveClient {
  socket: Socket;
  snapshot: Promise<LiveSnapshot>;
  frames: LiveFrame[];
  /** Resolves with the first frame that satisfies `pred`. */
  waitFor(pred: (f: LiveFrame) => boolean, timeoutMs?: number): Promise<LiveFrame>;
  close(): void;
}

export async function until<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function connectMqtt(url: string, options: IClientOptions): Promise<MqttClient> {
  const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000, ...options });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", (e) => reject(e));
  });
  return client;
}

/**
 * `options.clock`: the hub's clock (a ManualClock lets a test drive delays, leases and freshness);
 * the system clock by default. A restarted hub keeps the same clock.
 */
export async function bootHarness(overrides: Partial<HubConfigInput> = {}, options: { clock?: Clock } = {}): Promise<Harness> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tec-hub-test-"));
  const { config } = parseConfig(baseConfig(dir, overrides));
  const hubOptions: HubOptions = options.clock === undefined ? {} : { clock: options.clock };
  let hub = await startHub(config, hubOptions);
  const open: Array<{ end: () => unknown }> = [];
  let stopped = false;

  const h: Harness = {
    get hub() {
      return hub;
    },
    config,
    dir,
    get httpUrl() {
      return `http://127.0.0.1:${hub.httpPort}`;
    },
    get mqttUrl() {
      return `mqtt://127.0.0.1:${hub.mqttPort ?? 0}`;
    },
    async device(id, options = {}) {
      const status = `tec/${SITE}/${id}/status`;
      const client = await connectMqtt(h.mqttUrl, {
        username: id,
        password: `pw-${id}`,
        clientId: `${id}-${Math.random().toString(16).slice(2)}`,
        keepalive: 5,
        will: { topic: status, payload: Buffer.from("offline"), retain: true, qos: 1 },
        ...options,
      });
      open.push({ end: () => client.end(true) });
      const dev: TestDevice = {
        client,
        id,
        seq: 0,
        async publish(kind, payload, retain = false) {
          const body = typeof payload === "string" || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload);
          await client.publishAsync(`tec/${SITE}/${id}/${kind}`, body, { qos: 1, retain });
        },
        async describe(meta = TEST_META) {
          await dev.publish("status", "online", true);
          await dev.publish("meta", meta, true);
        },
        async tele(readings, seq) {
          dev.seq = seq ?? dev.seq + 1;
          await dev.publish("tele", { ts: Date.now(), seq: dev.seq, readings });
        },
        crash() {
          client.stream.destroy();
        },
        async end() {
          await client.endAsync();
        },
      };
      return dev;
    },
    async observer() {
      const client = await connectMqtt(h.mqttUrl, { username: "observer", password: "observer", clientId: `observer-${Math.random().toString(16).slice(2)}` });
      open.push({ end: () => client.end(true) });
      return client;
    },
    async live() {
      const socket = ioClient(h.httpUrl, { transports: ["websocket"], forceNew: true, reconnection: false });
      // Listen for the snapshot before anything arrives: it follows the connect at once.
      const snapshot = new Promise<LiveSnapshot>((resolve) => socket.once("snapshot", resolve));
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", () => resolve());
        socket.once("connect_error", reject);
      });
      open.push({ end: () => socket.close() });
      const frames: LiveFrame[] = [];
      const waiters: Array<{ pred: (f: LiveFrame) => boolean; resolve: (f: LiveFrame) => void }> = [];
      socket.on("frame", (f: LiveFrame) => {
        frames.push(f);
        for (const w of [...waiters]) {
          if (w.pred(f)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(f);
          }
        }
      });
      return {
        socket,
        snapshot,
        frames,
        waitFor(pred, timeoutMs = 5000) {
          const found = frames.find(pred);
          if (found !== undefined) return Promise.resolve(found);
          return new Promise<LiveFrame>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error("no matching live frame")), timeoutMs);
            waiters.push({
              pred,
              resolve: (f) => {
                clearTimeout(timer);
                resolve(f);
              },
            });
          });
        },
        close: () => socket.close(),
      };
    },
    async get<T>(url: string) {
      const res = await fetch(`${h.httpUrl}${url}`);
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, body: body as T };
    },
    async stopHub() {
      for (const o of open.splice(0)) o.end();
      if (!stopped) await hub.stop();
      stopped = true;
    },
    async restartHub() {
      // Same ports, so devices reconnect on their own as they would to a restarted hub.
      const again: HubConfig = { ...config, http: { ...config.http, port: hub.httpPort }, broker: { ...config.broker, port: hub.mqttPort ?? config.broker.port } };
      await h.stopHub();
      hub = await startHub(again, hubOptions);
      stopped = false;
    },
    async close() {
      await h.stopHub();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}
