/**
 * Issue 15: one contract table of (account, action, topic) -> allowed/refused, run against the
 * hub's embedded broker and against a real Mosquitto 2.0 started with the files
 * `tec-hub broker-config` writes, with the hub connected to it in external mode.
 *
 * Outcomes are effects, not packets, because the two brokers refuse in different ways: the embedded
 * broker closes a device that publishes out of bounds and refuses a subscription in the SUBACK,
 * Mosquitto drops the message silently and grants every SUBACK but never delivers what the ACL
 * forbids. So "allowed" means the message arrived (or the session connected, or was replaced), and
 * "refused" means it did not. A refused message is known not to have arrived once the receiver has
 * been sent two of the hub's heartbeats (1 Hz) published after the attempt was over: a broker
 * delivers to one session in order.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { MqttClient } from "mqtt";
import mqttPacket from "mqtt-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run as brokerConfig } from "../../hub/src/cli/broker-config.ts";
import type { HubConfigInput } from "../../hub/src/config/schema.ts";
import { asDeviceId, type DeviceView } from "../../hub/src/core/types.ts";
import { freePort } from "../support/mosquitto.ts";
import { baseConfig, bootHarness, connectMqtt, type Harness, SITE, TEST_META, until } from "./harness.ts";

type Ok<T> = { ok: true; result: T };
type Outcome = "allowed" | "refused";

const HEARTBEAT = `tec/${SITE}/_hub/heartbeat`;
const HUB_ACCOUNT = { username: "hub", password: "pw-hub" };
const OBSERVER = { username: "observer", password: "observer" };
const PASSWORDS: Record<string, string> = { "dev-a": "pw-dev-a", "dev-b": "pw-dev-b", "dev-c": "pw-dev-c", observer: "observer", hub: "pw-hub" };
const t = (device: string, kind: string) => `tec/${SITE}/${device}/${kind}`;

interface Received {
  topic: string;
  payload: string;
}

/** A client with everything it was sent, in order. */
interface Session {
  client: MqttClient;
  got: Received[];
  closed: Promise<void>;
  isClosed: () => boolean;
}

/** One broker under test, with the hub running on it and two long-lived sessions. */
interface Target {
  name: string;
  url: string;
  port: number;
  h: Harness;
  /** dev-a, described and online, acknowledging its commands; subscribed to its commands and the hub's heartbeat. */
  victim: Session;
  /** The observer, subscribed to `tec/#`. */
  watcher: Session;
  sessions: Session[];
}

async function session(target: Pick<Target, "url" | "sessions">, username: string, clientId: string, options: { will?: boolean } = {}): Promise<Session> {
  const client = await connectMqtt(target.url, {
    username,
    password: PASSWORDS[username] ?? "",
    clientId,
    keepalive: 30,
    ...(options.will === true ? { will: { topic: t(username, "status"), payload: Buffer.from("offline"), retain: true, qos: 1 } } : {}),
  });
  const got: Received[] = [];
  client.on("message", (topic, payload) => got.push({ topic, payload: payload.toString() }));
  let closed = false;
  const s: Session = { client, got, closed: new Promise<void>((resolve) => client.once("close", () => resolve())), isClosed: () => closed };
  void s.closed.then(() => (closed = true));
  target.sessions.push(s);
  return s;
}

const heartbeats = (s: Session) => s.got.filter((m) => m.topic === HEARTBEAT).length;
const count = (s: Session, topic: string) => s.got.filter((m) => m.topic === topic).length;

/** Waits until `s` has been sent two heartbeats more than it had: whatever was published before has reached it by then. */
async function settle(s: Session): Promise<void> {
  const n = heartbeats(s);
  await until(() => heartbeats(s) >= n + 2, 20_000, "two more heartbeats");
}

/** A QoS 1 publish, over once it is acknowledged or the broker closed the connection. */
async function attempt(s: Session, topic: string, payload: string, retain = false): Promise<void> {
  await Promise.race([s.client.publishAsync(topic, payload, { qos: 1, retain }).catch(() => undefined), s.closed]);
}

/** Whether `s` is still connected: a QoS 1 publish to its own health topic is acknowledged. */
async function alive(s: Session, device: string): Promise<boolean> {
  if (s.isClosed()) return false;
  const r = await Promise.race([s.client.publishAsync(t(device, "health"), "{}", { qos: 1 }).then(() => true, () => false), s.closed.then(() => false)]);
  return r && !s.isClosed();
}

/** One CONNECT over its own socket; resolves with the CONNACK's return code. */
function rawConnect(port: number, c: { username?: string; password?: string; clientId: string; localAddress?: string }): Promise<number> {
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
    // Mosquitto closes an unauthorised CONNECT after its CONNACK; a close without one is a refusal too.
    socket.on("close", () => resolve(-1));
    socket.on("connect", () => {
      socket.write(
        mqttPacket.generate({
          cmd: "connect",
          protocolId: "MQTT",
          protocolVersion: 4,
          clean: true,
          clientId: c.clientId,
          keepalive: 30,
          ...(c.username !== undefined ? { username: c.username } : {}),
          ...(c.password !== undefined ? { password: Buffer.from(c.password) } : {}),
        }),
      );
    });
  });
}

let rowSeq = 0;

/** `who` publishes `topic`; allowed if `witness` (subscribed to it) received it. */
async function publishRow(target: Target, who: string, topic: string, payload: string, witness: "watcher" | "victim", retain = false): Promise<Outcome> {
  const w = target[witness];
  const actor = await session(target, who, `${who}-pub-${++rowSeq}`);
  const before = count(w, topic);
  await attempt(actor, topic, payload, retain);
  if (count(w, topic) === before) await settle(w);
  const outcome = count(w, topic) > before ? "allowed" : "refused";
  actor.client.end(true);
  return outcome;
}

/** `who` subscribes `filter`; then dev-a's reading (or the hub's command to dev-a) is sent: allowed if `who` received it. */
async function subscribeRow(target: Target, who: string, filter: string, trigger: "tele" | "cmd"): Promise<Outcome> {
  const actor = await session(target, who, `${who}-sub-${++rowSeq}`);
  await actor.client.subscribeAsync(HEARTBEAT, { qos: 0 });
  await actor.client.subscribeAsync(filter, { qos: 1 }).catch(() => undefined);
  let topic: string;
  if (trigger === "tele") {
    topic = t("dev-a", "tele");
    await attempt(target.victim, topic, JSON.stringify({ ts: Date.now(), seq: ++rowSeq, readings: { powerW: 5, tempC: 20 } }));
  } else {
    topic = t("dev-a", "cmd/relay");
    const before = count(target.victim, topic);
    await target.h.hub.commands.send(asDeviceId("dev-a"), "relay", 1);
    expect(count(target.victim, topic)).toBeGreaterThan(before);
  }
  if (count(actor, topic) === 0) await settle(actor);
  const outcome = count(actor, topic) > 0 ? "allowed" : "refused";
  actor.client.end(true);
  return outcome;
}

/** Another account's CONNECT with dev-a's client id: "allowed" would be a takeover (dev-a's session closed). */
async function takeoverRow(target: Target, who: string, password: string): Promise<Outcome> {
  const code = await rawConnect(target.port, { username: who, password, clientId: "dev-a" });
  const survived = await alive(target.victim, "dev-a");
  // The embedded broker refuses the CONNECT (2, identifier rejected); Mosquitto accepts it under the account's own name.
  expect([0, 2]).toContain(code);
  return survived ? "refused" : "allowed";
}

interface Row {
  what: string;
  expected: Outcome;
  run: (target: Target) => Promise<Outcome>;
}

const ROWS: Row[] = [
  // Logging in.
  { what: "a device connects with its own account", expected: "allowed", run: async (x) => ((await rawConnect(x.port, { username: "dev-b", password: "pw-dev-b", clientId: "dev-b-boot" })) === 0 ? "allowed" : "refused") },
  { what: "an unknown account connects", expected: "refused", run: async (x) => ((await rawConnect(x.port, { username: "intruder", password: "pw", clientId: "intruder", localAddress: "127.0.0.2" })) === 0 ? "allowed" : "refused") },
  { what: "a device connects with a wrong password", expected: "refused", run: async (x) => ((await rawConnect(x.port, { username: "dev-b", password: "wrong", clientId: "dev-b", localAddress: "127.0.0.3" })) === 0 ? "allowed" : "refused") },
  { what: "a client connects without user name", expected: "refused", run: async (x) => ((await rawConnect(x.port, { clientId: "anonymous", localAddress: "127.0.0.4" })) === 0 ? "allowed" : "refused") },
  // A device publishes.
  { what: "a device publishes its own status (retained)", expected: "allowed", run: (x) => publishRow(x, "dev-b", t("dev-b", "status"), "online", "watcher", true) },
  { what: "a device publishes its own meta (retained)", expected: "allowed", run: (x) => publishRow(x, "dev-b", t("dev-b", "meta"), JSON.stringify(TEST_META), "watcher", true) },
  { what: "a device publishes its own tele", expected: "allowed", run: (x) => publishRow(x, "dev-b", t("dev-b", "tele"), JSON.stringify({ ts: Date.now(), seq: 1, readings: { powerW: 1, tempC: 20 } }), "watcher") },
  { what: "a device publishes its own ack", expected: "allowed", run: (x) => publishRow(x, "dev-b", t("dev-b", "ack"), JSON.stringify({ id: "nothing", ok: true }), "watcher") },
  { what: "a device publishes another device's tele", expected: "refused", run: (x) => publishRow(x, "dev-b", t("dev-a", "tele"), JSON.stringify({ ts: Date.now(), seq: 99, readings: { powerW: 4999, tempC: 20 } }), "watcher") },
  { what: "a device publishes another device's status", expected: "refused", run: (x) => publishRow(x, "dev-b", t("dev-a", "status"), "offline", "watcher") },
  { what: "a device publishes a kind PROTOCOL.md does not have", expected: "refused", run: (x) => publishRow(x, "dev-b", t("dev-b", "debug"), "{}", "watcher") },
  { what: "a device publishes as the hub", expected: "refused", run: (x) => publishRow(x, "dev-b", t("_hub", "status"), "offline", "watcher") },
  { what: "a device commands another device", expected: "refused", run: (x) => publishRow(x, "dev-b", t("dev-a", "cmd/relay"), JSON.stringify({ id: "x", value: 1, leaseMs: 2000 }), "victim") },
  // Subscriptions, by what they deliver.
  {
    what: "a device receives its own commands, sent by the hub",
    expected: "allowed",
    run: async (x) => {
      const before = count(x.victim, t("dev-a", "cmd/relay"));
      await x.h.hub.commands.send(asDeviceId("dev-a"), "relay", 1).catch(() => undefined);
      return count(x.victim, t("dev-a", "cmd/relay")) > before ? "allowed" : "refused";
    },
  },
  { what: "a device subscribes to another device's commands", expected: "refused", run: (x) => subscribeRow(x, "dev-b", t("dev-a", "cmd/+"), "cmd") },
  { what: "a device subscribes to another device's tele", expected: "refused", run: (x) => subscribeRow(x, "dev-b", t("dev-a", "tele"), "tele") },
  { what: "a device subscribes to tec/#", expected: "refused", run: (x) => subscribeRow(x, "dev-b", "tec/#", "tele") },
  { what: "a device receives the hub's heartbeat", expected: "allowed", run: (x) => Promise.resolve(heartbeats(x.victim) > 0 ? "allowed" : "refused") },
  { what: "the observer subscribes to # and sees readings", expected: "allowed", run: (x) => subscribeRow(x, "observer", "#", "tele") },
  { what: "the observer sees commands", expected: "allowed", run: (x) => subscribeRow(x, "observer", `tec/${SITE}/+/cmd/#`, "cmd") },
  // The observer never writes (these replace the watcher's session on Mosquitto: they come last but the takeovers).
  { what: "the observer publishes a command", expected: "refused", run: (x) => publishRow(x, "observer", t("dev-a", "cmd/relay"), JSON.stringify({ id: "x", value: 1, leaseMs: 2000 }), "victim") },
  { what: "the observer publishes a reading", expected: "refused", run: (x) => publishRow(x, "observer", t("dev-a", "tele"), "{}", "victim") },
  // Client ids (PROTOCOL.md "Client ids"): nobody but dev-a's account can replace dev-a's session.
  { what: "another device takes over a device's client id", expected: "refused", run: (x) => takeoverRow(x, "dev-b", "pw-dev-b") },
  { what: "the observer takes over a device's client id", expected: "refused", run: (x) => takeoverRow(x, "observer", "observer") },
  {
    what: "a device's own account replaces its session (a rebooted board)",
    expected: "allowed",
    run: async (x) => {
      const first = await session(x, "dev-b", "dev-b-board");
      await session(x, "dev-b", "dev-b-board");
      try {
        await until(() => first.isClosed() || undefined, 10_000, "the first session replaced");
        return "allowed";
      } catch {
        return "refused";
      }
    },
  },
];

async function describeVictim(target: Pick<Target, "url" | "sessions" | "h">): Promise<Session> {
  const victim = await session(target, "dev-a", "dev-a", { will: true });
  victim.client.on("message", (topic, payload) => {
    if (topic === t("dev-a", "cmd/relay")) {
      const cmd = JSON.parse(payload.toString()) as { id: string };
      victim.client.publish(t("dev-a", "ack"), JSON.stringify({ id: cmd.id, ok: true }), { qos: 1 });
    }
  });
  await victim.client.subscribeAsync([t("dev-a", "cmd/+"), HEARTBEAT], { qos: 1 });
  await victim.client.publishAsync(t("dev-a", "status"), "online", { retain: true, qos: 1 });
  await victim.client.publishAsync(t("dev-a", "meta"), JSON.stringify(TEST_META), { retain: true, qos: 1 });
  await victim.client.publishAsync(t("dev-a", "tele"), JSON.stringify({ ts: Date.now(), seq: 1, readings: { powerW: 1, tempC: 20 } }), { qos: 0 });
  await until(async () => (await target.h.get<Ok<DeviceView>>("/api/devices/dev-a")).body.result.state === "ready" || undefined, 20_000, "dev-a ready on the hub");
  return victim;
}

async function runTable(target: Target): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const row of ROWS) out[row.what] = await row.run(target);
  return out;
}

const expected = Object.fromEntries(ROWS.map((r) => [r.what, r.expected]));

interface RunningMosquitto {
  proc: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

async function startGeneratedMosquitto(conf: string, port: number): Promise<RunningMosquitto> {
  const proc = spawn("mosquitto", ["-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  proc.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  proc.stdout?.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  await until(
    () =>
      gone ||
      new Promise<boolean>((resolve) => {
        const c = net.connect(port, "127.0.0.1");
        c.once("connect", () => {
          c.destroy();
          resolve(true);
        });
        c.once("error", () => resolve(false));
      }),
    30_000,
    `mosquitto listening on ${port}`,
  );
  if (gone) throw new Error(`mosquitto -c ${conf} exited at start:\n${stderr}`);
  return { proc, stderr: () => stderr, exited };
}

describe("the broker contract on both brokers (issue 15)", () => {
  const results: Record<string, Record<string, string>> = {};

  describe("embedded aedes", () => {
    let target: Target;
    beforeAll(async () => {
      const h = await bootHarness();
      const base = { url: h.mqttUrl, port: h.hub.mqttPort ?? 0, sessions: [] as Session[], h };
      const victim = await describeVictim(base);
      const watcher = await session(base, "observer", "watcher");
      await watcher.client.subscribeAsync("tec/#", { qos: 1 });
      target = { name: "embedded", ...base, victim, watcher };
    }, 120_000);
    afterAll(async () => {
      for (const s of target?.sessions ?? []) s.client.end(true);
      await target?.h.close();
    });

    it("gives every row of the table its expected outcome", async () => {
      results.embedded = await runTable(target);
      expect(results.embedded).toEqual(expected);
    }, 180_000);
  });

  describe("Mosquitto 2.0 with the files broker-config writes", () => {
    let target: Target;
    let mosquitto: RunningMosquitto;
    let dir: string;
    let mosqDir: string;
    let printed = "";
    beforeAll(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), "tec-contract-"));
      // Mosquitto started as root (CI) reads its files as the mosquitto user: it must reach the folder.
      chmodSync(dir, 0o755);
      mosqDir = path.join(dir, "mosquitto");
      const port = await freePort();
      const overrides: Partial<HubConfigInput> = { broker: { mode: "external", url: `mqtt://127.0.0.1:${port}`, host: "127.0.0.1", observer: OBSERVER, hub: HUB_ACCOUNT } };
      const configFile = path.join(dir, "hub.yaml");
      writeFileSync(configFile, JSON.stringify(baseConfig(dir, overrides)));
      const log = console.log;
      console.log = (...a: unknown[]) => void (printed += `${a.join(" ")}\n`);
      try {
        expect(await brokerConfig(["--mosquitto", mosqDir, "--config", configFile])).toBe(0);
      } finally {
        console.log = log;
      }
      mosquitto = await startGeneratedMosquitto(path.join(mosqDir, "mosquitto.conf"), port);
      const h = await bootHarness(overrides);
      const base = { url: `mqtt://127.0.0.1:${port}`, port, sessions: [] as Session[], h };
      await until(async () => (await h.get<Ok<{ mqtt: { connected: boolean } }>>("/api/hub/health")).body.result.mqtt.connected || undefined, 30_000, "the hub connected to Mosquitto with its account");
      const victim = await describeVictim(base);
      const watcher = await session(base, "observer", "watcher");
      await watcher.client.subscribeAsync("tec/#", { qos: 1 });
      target = { name: "mosquitto", ...base, victim, watcher };
    }, 120_000);
    afterAll(async () => {
      for (const s of target?.sessions ?? []) s.client.end(true);
      await target?.h.close();
      if (mosquitto !== undefined) {
        mosquitto.proc.kill("SIGTERM");
        await mosquitto.exited;
      }
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    });

    it("starts cleanly with the generated files, and writing them again changes nothing", async () => {
      expect(mosquitto.proc.exitCode).toBeNull();
      expect(mosquitto.stderr()).toMatch(/Opening ipv4 listen socket on port/);
      expect(mosquitto.stderr()).not.toMatch(/error|warning/i);
      expect(printed).toMatch(/wrote .*mosquitto\.conf/);
      const before = ["mosquitto.conf", "password_file", "acl_file"].map((f) => readFileSync(path.join(mosqDir, f), "utf8"));
      expect(before[1]).not.toMatch(/pw-dev-a|pw-hub/);
      printed = "";
      const log = console.log;
      console.log = (...a: unknown[]) => void (printed += `${a.join(" ")}\n`);
      try {
        expect(await brokerConfig(["--mosquitto", mosqDir, "--config", path.join(dir, "hub.yaml")])).toBe(0);
      } finally {
        console.log = log;
      }
      expect(printed.match(/unchanged/g)).toHaveLength(3);
      expect(["mosquitto.conf", "password_file", "acl_file"].map((f) => readFileSync(path.join(mosqDir, f), "utf8"))).toEqual(before);
      expect(existsSync(path.join(dir, "hub.yaml"))).toBe(true);
    }, 60_000);

    it("gives every row of the table the same outcome as the embedded broker", async () => {
      results.mosquitto = await runTable(target);
      expect(results.mosquitto).toEqual(expected);
      if (results.embedded !== undefined) expect(results.mosquitto).toEqual(results.embedded);
    }, 180_000);
  });
});
