/**
 * Issue 10, finding 7: 1,500 metas naming 60 new channels each left 99,008 OPC UA nodes behind.
 * A real hub (embedded broker, the hub's OPC UA server on a free port), a real MQTT device
 * re-declaring its channels, and a real node-opcua client browsing the device's folder. The hub
 * runs on a ManualClock, so the meta rate limit's budget moves only when the test says, never with
 * the speed of the machine.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { MqttClient } from "mqtt";
import { AttributeIds, BrowseDirection, type LocalizedText, MessageSecurityMode, type NodeId, OPCUACertificateManager, OPCUAClient, SecurityPolicy, type ClientSession, StatusCodes, makeBrowsePath } from "node-opcua";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MetaMessage } from "../../firmware-bridge/contract/messages.ts";
import { parseConfig } from "../../hub/src/config/load.ts";
import { ManualClock } from "../../hub/src/core/clock.ts";
import { META_CHANGE_BURST, META_CHANGE_REFILL_MS } from "../../hub/src/core/telemetry/intake.ts";
import type { DeviceView } from "../../hub/src/core/types.ts";
import { type Hub, startHub } from "../../hub/src/main.ts";
import { freePort } from "../support/mosquitto.ts";
import { SITE, baseConfig, connectMqtt } from "./harness.ts";

const DEVICE = "churner";
/** The device object's own variables: State, StateReason, Firmware, Simulated. */
const OWN_VARIABLES = ["Firmware", "Simulated", "State", "StateReason"];

/** A meta naming 60 channels of set `n`, as the flood did (and under the 4096-byte message limit). */
function channelSet(n: number, label7?: string): MetaMessage {
  const channels: MetaMessage["channels"] = {};
  for (let i = 0; i < 60; i++) channels[`g${n}c${i}`] = { unit: "W", min: 0, max: 10, periodMs: 1000, ...(label7 !== undefined && i === 7 ? { label: label7 } : {}) };
  return { contract: "1.0", model: "CHURN", firmware: "1", boot: 1, channels, actuators: {} };
}
const names = (n: number) => Array.from({ length: 60 }, (_, i) => `g${n}c${i}`);

describe("the OPC UA address space follows each device's latest meta", () => {
  let dir: string;
  let clock: ManualClock;
  let hub: Hub;
  let device: MqttClient;
  let client: OPCUAClient;
  let session: ClientSession;
  let folder: NodeId;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-opcua-churn-"));
    const port = await freePort();
    const { config } = parseConfig(
      baseConfig(dir, {
        opcua: { enabled: true, host: "127.0.0.1", port, pkiFolder: path.join(dir, "server-pki") },
        devices: [{ kind: "mqtt", id: DEVICE, name: "Churner", password: `pw-${DEVICE}` }],
      }),
    );
    clock = new ManualClock();
    hub = await startHub(config, { clock });
    device = await connectMqtt(`mqtt://127.0.0.1:${hub.mqttPort ?? 0}`, { username: DEVICE, password: `pw-${DEVICE}`, clientId: `${DEVICE}-test` });
    await device.publishAsync(`tec/${SITE}/${DEVICE}/status`, "online", { qos: 1, retain: true });
    client = OPCUAClient.create({
      endpointMustExist: false,
      securityMode: MessageSecurityMode.None,
      securityPolicy: SecurityPolicy.None,
      clientCertificateManager: new OPCUACertificateManager({ rootFolder: path.join(dir, "client-pki"), automaticallyAcceptUnknownCertificate: true }),
      connectionStrategy: { maxRetry: 2, initialDelay: 200 },
    });
    await client.connect(`opc.tcp://127.0.0.1:${port}`);
    session = await client.createSession();
    const r = await session.translateBrowsePath(makeBrowsePath("RootFolder", `/Objects/1:TecHub/1:Devices/1:${DEVICE}`));
    const id = r.targets?.[0]?.targetId;
    if (id === undefined) throw new Error("no device folder");
    folder = id;
  });
  afterAll(async () => {
    await session?.close();
    await client?.disconnect();
    device?.end(true);
    await hub?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Publishes a retained meta as a device does and resolves once the hub took or refused it. */
  const declare = (meta: MetaMessage): Promise<"described" | "meta-throttled"> =>
    new Promise((resolve, reject) => {
      const done = (outcome: "described" | "meta-throttled") => {
        offDescribed();
        offRejected();
        resolve(outcome);
      };
      const offDescribed = hub.bus.on("device:described", "test", (e) => {
        if (e.deviceId === DEVICE) done("described");
      });
      const offRejected = hub.bus.on("telemetry:rejected", "test", (e) => {
        if (e.deviceId === DEVICE) {
          if (e.code === "meta-throttled") done("meta-throttled");
          else reject(new Error(`meta refused: ${e.code} ${e.message}`));
        }
      });
      device.publishAsync(`tec/${SITE}/${DEVICE}/meta`, JSON.stringify(meta), { qos: 1, retain: true }).catch(reject);
    });

  /** The browse names of everything under the device's folder, as a SCADA client sees them. */
  const browseFolder = async (): Promise<string[]> => {
    const result = await session.browse({ nodeId: folder, browseDirection: BrowseDirection.Forward, referenceTypeId: "HierarchicalReferences", includeSubtypes: true, resultMask: 63 });
    expect(result.statusCode).toEqual(StatusCodes.Good);
    expect(result.continuationPoint ?? null).toBeNull();
    return (result.references ?? []).map((ref) => ref.browseName.name ?? "");
  };
  const channelNodes = async () => (await browseFolder()).filter((n) => !OWN_VARIABLES.includes(n)).sort();
  const deviceView = async (): Promise<DeviceView> => {
    const res = await fetch(`http://127.0.0.1:${hub.httpPort}/api/devices/${DEVICE}`);
    return ((await res.json()) as { result: DeviceView }).result;
  };

  it("keeps only the latest channels' nodes while a device re-declares 100 different sets of 60", async () => {
    for (let n = 0; n < 100; n++) {
      expect(await declare(channelSet(n))).toBe("described");
      if (n % 25 === 0 || n === 99) {
        const children = await browseFolder();
        expect(children.filter((c) => OWN_VARIABLES.includes(c)).sort()).toEqual(OWN_VARIABLES);
        expect(children).toHaveLength(OWN_VARIABLES.length + 60);
        expect(await channelNodes()).toEqual(names(n).sort());
      }
      // Slow enough for the meta rate limit: every change is taken.
      clock.advance(META_CHANGE_REFILL_MS);
    }
    // An old channel's node is gone by its path too, not only missing from the listing.
    const gone = await session.translateBrowsePath(makeBrowsePath("RootFolder", `/Objects/1:TecHub/1:Devices/1:${DEVICE}/1:g0c0`));
    expect(gone.statusCode).not.toEqual(StatusCodes.Good);
    const current = await session.translateBrowsePath(makeBrowsePath("RootFolder", `/Objects/1:TecHub/1:Devices/1:${DEVICE}/1:g99c0`));
    expect(current.statusCode).toEqual(StatusCodes.Good);
    // A set declared again after its nodes were removed gets them back.
    expect(await declare(channelSet(0))).toBe("described");
    expect(await channelNodes()).toEqual(names(0).sort());
    expect((await deviceView()).rejectsByCode["meta-throttled"]).toBeUndefined();
  });

  it("rebuilds a channel's node when its label changes", async () => {
    clock.advance(META_CHANGE_BURST * META_CHANGE_REFILL_MS);
    expect(await declare(channelSet(0, "Vermogen"))).toBe("described");
    const node = await session.translateBrowsePath(makeBrowsePath("RootFolder", `/Objects/1:TecHub/1:Devices/1:${DEVICE}/1:g0c7`));
    const id = node.targets?.[0]?.targetId;
    if (id === undefined) throw new Error("no g0c7");
    const displayName = await session.read({ nodeId: id, attributeId: AttributeIds.DisplayName });
    expect((displayName.value.value as LocalizedText).text).toBe("Vermogen");
    expect(await browseFolder()).toHaveLength(OWN_VARIABLES.length + 60);
  });

  it("refuses meta changes beyond the rate limit, counts them, and keeps the previous channels browsable", async () => {
    clock.advance(META_CHANGE_BURST * META_CHANGE_REFILL_MS);
    const outcomes: string[] = [];
    for (let n = 200; n < 230; n++) outcomes.push(await declare(channelSet(n)));
    expect(outcomes.filter((o) => o === "described")).toHaveLength(META_CHANGE_BURST);
    expect(outcomes.filter((o) => o === "meta-throttled")).toHaveLength(30 - META_CHANGE_BURST);
    const kept = 200 + META_CHANGE_BURST - 1;
    expect(await channelNodes()).toEqual(names(kept).sort());
    const view = await deviceView();
    expect(view.rejectsByCode["meta-throttled"]).toBe(30 - META_CHANGE_BURST);
    const line = view.recentRejects.find((r) => r.code === "meta-throttled");
    expect(line?.count).toBe(30 - META_CHANGE_BURST);
    expect(line?.message).toContain(`keeping the previous channels (g${kept}c0, g${kept}c1`);
    expect(Object.keys(view.channels).sort()).toEqual(names(kept).sort());
  });

  it("refuses nothing when the device reboots again and again with the same channels", async () => {
    const before = (await deviceView()).rejectsByCode["meta-throttled"] ?? 0;
    // What the device declares now (the previous test's last accepted set), with a new boot counter each time.
    const current = channelSet(200 + META_CHANGE_BURST - 1);
    for (let boot = 2; boot < 32; boot++) expect(await declare({ ...current, boot })).toBe("described");
    const view = await deviceView();
    expect(view.rejectsByCode["meta-throttled"] ?? 0).toBe(before);
    expect(view.boot).toBe(31);
    expect(await browseFolder()).toHaveLength(OWN_VARIABLES.length + 60);
  });
});
