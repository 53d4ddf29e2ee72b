/**
 * The hub's own OPC UA server, read by an OPC UA client of our own over real TCP: the Tiny House's
 * PV power by its plain name, device state, an interlock's state; and nothing can be written.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { AttributeIds, DataType, MessageSecurityMode, OPCUACertificateManager, OPCUAClient, SecurityPolicy, type ClientSession, StatusCodes, makeBrowsePath } from "node-opcua";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/mosquitto.ts";
import { bootHarness, type Harness, until } from "./harness.ts";

describe("the hub's OPC UA server", () => {
  let h: Harness;
  let pki: string;
  let client: OPCUAClient;
  let session: ClientSession;

  beforeAll(async () => {
    pki = mkdtempSync(path.join(os.tmpdir(), "tec-opcua-client-"));
    const port = await freePort();
    h = await bootHarness({
      opcua: { enabled: true, host: "127.0.0.1", port, pkiFolder: path.join(pki, "server") },
      devices: [{ kind: "mqtt", id: "pv-inverter", name: "Zonnepanelen", password: "pw-pv-inverter" }],
      interlocks: [{ id: "pv-hot", name: { nl: "PV heet", en: "PV hot" }, reason: { nl: "te heet", en: "too hot" }, when: { type: "above", input: "pv-inverter.pvPowerW", value: 3900 } }],
    });
    client = OPCUAClient.create({
      endpointMustExist: false,
      securityMode: MessageSecurityMode.None,
      securityPolicy: SecurityPolicy.None,
      clientCertificateManager: new OPCUACertificateManager({ rootFolder: path.join(pki, "client"), automaticallyAcceptUnknownCertificate: true }),
      connectionStrategy: { maxRetry: 2, initialDelay: 200 },
    });
    await client.connect(`opc.tcp://127.0.0.1:${port}`);
    session = await client.createSession();
  });
  afterAll(async () => {
    await session?.close();
    await client?.disconnect();
    await h?.close();
    rmSync(pki, { recursive: true, force: true });
  });

  const nodeOf = async (browsePath: string) => {
    const r = await session.translateBrowsePath(makeBrowsePath("RootFolder", browsePath));
    expect(r.statusCode).toEqual(StatusCodes.Good);
    const id = r.targets?.[0]?.targetId;
    if (id === undefined) throw new Error(`no node at ${browsePath}`);
    return id;
  };

  it("serves the PV power by its plain name, with freshness as the status", async () => {
    const dev = await h.device("pv-inverter", { password: "pw-pv-inverter" });
    await dev.describe({ model: "PV", firmware: "1", boot: 1, channels: { pvPowerW: { unit: "W", min: 0, max: 4000, periodMs: 500, label: "Zonnepanelen vermogen" } }, actuators: {} });
    await dev.tele({ pvPowerW: 2345.5 });
    await until(async () => (await h.get<{ result: { state: string } }>("/api/devices/pv-inverter")).body.result.state === "ready");
    // The device described itself after the server started: its variables appear as it does.
    const node = await until(async () => {
      const r = await session.translateBrowsePath(makeBrowsePath("RootFolder", "/Objects/1:TecHub/1:Devices/1:pv-inverter/1:pvPowerW"));
      return r.targets?.[0]?.targetId;
    }, 5000, "pvPowerW node");
    const value = await session.read({ nodeId: node, attributeId: AttributeIds.Value });
    expect(value.statusCode).toEqual(StatusCodes.Good);
    expect(value.value.dataType).toBe(DataType.Double);
    expect(value.value.value).toBe(2345.5);
    const state = await session.read({ nodeId: await nodeOf("/Objects/1:TecHub/1:Devices/1:pv-inverter/1:State"), attributeId: AttributeIds.Value });
    expect(state.value.value).toBe("ready");

    // Stale after three periods: still readable, but no longer Good.
    await until(async () => (await session.read({ nodeId: node, attributeId: AttributeIds.Value })).statusCode.equals(StatusCodes.UncertainLastUsableValue), 5000, "stale status");
  });

  it("serves interlock states", async () => {
    const status = await session.read({ nodeId: await nodeOf("/Objects/1:TecHub/1:Interlocks/1:pv-hot/1:Status"), attributeId: AttributeIds.Value });
    expect(["normal", "waiting", "tripped", "cleared"]).toContain(status.value.value);
    const estop = await session.read({ nodeId: await nodeOf("/Objects/1:TecHub/1:Interlocks/1:estop/1:Latched"), attributeId: AttributeIds.Value });
    expect(estop.value.value).toBe(false);
  });

  it("refuses every write", async () => {
    const node = await nodeOf("/Objects/1:TecHub/1:Interlocks/1:estop/1:Status");
    const result = await session.write({ nodeId: node, attributeId: AttributeIds.Value, value: { value: { dataType: DataType.String, value: "normal" } } });
    expect(result.isGood()).toBe(false);
  });
});
