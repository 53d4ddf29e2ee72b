/**
 * The simulator over real OPC UA TCP, with node-opcua's own client: what the hub's adapter will do.
 * One server for the whole file (start-up is about a second); each test leaves the cell reset.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AttributeIds,
  ClientMonitoredItem,
  ClientSubscription,
  constructEventFilter,
  DataType,
  makeBrowsePath,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  StatusCodes,
  TimestampsToReturn,
  type ClientSession,
  type DataValue,
  type Variant,
} from "node-opcua";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { OperationalMode } from "./cell.ts";
import { freePort } from "./fault-proxy.ts";
import { CELL_NAMESPACE_INDEX, CELL_NAMESPACE_URIS, cellPaths, DEFAULT_CELL_PATHS, startRobotCell, type RobotCellHandle } from "./server.ts";

const P = DEFAULT_CELL_PATHS;

/** Every path string in DEFAULT_CELL_PATHS, flattened. */
function allPaths(): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === "object" && v !== null) Object.values(v).forEach(walk);
  };
  walk(P);
  return out;
}

/** Resolves when `check` holds, polling every 20 ms; rejects after `ms` with `what`. */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("cellPaths", () => {
  it("builds the paths of a cell with other names", () => {
    const p = cellPaths("CellB", "R1");
    expect(p.emergencyStop).toBe("/2:DeviceSet/5:CellB/4:SafetyStates/5:SafetyState/2:ParameterSet/4:EmergencyStop");
    expect(p.axisPositions[5]).toBe("/2:DeviceSet/5:CellB/4:MotionDevices/5:R1/4:Axes/5:Axis6/2:ParameterSet/4:ActualPosition");
    expect(p.programs.startProgram).toBe("/2:DeviceSet/5:CellB/5:Programs/5:StartProgram");
    expect(DEFAULT_CELL_PATHS.operationalMode).toBe("/2:DeviceSet/5:SimCell/4:SafetyStates/5:SafetyState/2:ParameterSet/4:OperationalMode");
  });
});

describe("robot cell over OPC UA", () => {
  let dir: string;
  let handle: RobotCellHandle;
  let client: OPCUAClient;
  let session: ClientSession;
  const ids = new Map<string, string>();

  const id = (path: string): string => {
    const nodeId = ids.get(path);
    if (nodeId === undefined) throw new Error(`path not resolved: ${path}`);
    return nodeId;
  };
  const read = async (path: string): Promise<DataValue> => session.read({ nodeId: id(path), attributeId: AttributeIds.Value });
  const call = async (method: string, inputArguments: Variant[] | { dataType: DataType; value: string | number }[] = []) => {
    const r = await session.call({ objectId: id(P.programs.object), methodId: id(method), inputArguments });
    return { status: r.statusCode, result: r.outputArguments?.[0]?.value as unknown };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "robot-cell-"));
    handle = await startRobotCell({ port: await freePort(), certificateFolder: join(dir, "server") });
    client = OPCUAClient.create({
      applicationName: "robot-cell-test",
      clientCertificateManager: new OPCUACertificateManager({ rootFolder: join(dir, "client-pki"), automaticallyAcceptUnknownCertificate: true }),
      securityMode: MessageSecurityMode.None,
      securityPolicy: SecurityPolicy.None,
      connectionStrategy: { initialDelay: 100, maxDelay: 500, maxRetry: 50 },
      keepSessionAlive: true,
    });
    await client.connect(handle.endpointUrl);
    session = await client.createSession();
    const paths = allPaths();
    const results = await session.translateBrowsePath(paths.map((p) => makeBrowsePath("ObjectsFolder", p)));
    results.forEach((r, i) => {
      const target = r.targets?.[0]?.targetId;
      if (r.statusCode === StatusCodes.Good && target !== undefined) ids.set(paths[i] ?? "", target.toString());
    });
  });

  afterAll(async () => {
    await session?.close().catch(() => {});
    await client?.disconnect();
    await handle?.stop();
    await handle?.stop(); // twice is safe
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    const c = handle.cell;
    c.stopProgram();
    c.releaseEmergencyStop();
    c.closeDoor();
    c.resetFault();
    c.setMode(OperationalMode.AUTOMATIC_EXTERNAL);
    c.setSpeedOverride(100);
  });

  it("serves every default browse path, in the namespaces the paths assume", async () => {
    expect(allPaths().filter((p) => !ids.has(p))).toEqual([]);
    expect(allPaths().length).toBe(1 + 6 + 6 + 4 + 1 + 12);
    const namespaces = (await session.readNamespaceArray());
    for (const key of ["di", "robotics", "cell"] as const) expect(namespaces[CELL_NAMESPACE_INDEX[key]]).toBe(CELL_NAMESPACE_URIS[key]);
    const typeDef = await session.browse({ nodeId: id(P.cell), referenceTypeId: "HasTypeDefinition", resultMask: 63 });
    expect(typeDef.references?.[0]?.browseName.toString()).toBe(`${CELL_NAMESPACE_INDEX.robotics}:MotionDeviceSystemType`);
    const mode = await read(P.operationalMode);
    expect(mode.value.dataType).toBe(DataType.Int32);
    expect(mode.value.value).toBe(OperationalMode.AUTOMATIC_EXTERNAL);
    expect((await read(P.programs.programList)).value.value).toEqual(["pick-and-place", "wave", "draw-square", "fast-sweep"]);
    expect((await read(P.emergencyStop)).value.value).toBe(false);
    expect((await read(P.programs.doorClosed)).value.value).toBe(true);
  });

  it("loads, starts and stops a program; axis positions move while it runs", async () => {
    expect(await call(P.programs.loadProgram, [{ dataType: DataType.String, value: "wave" }])).toEqual({ status: StatusCodes.Good, result: "" });
    expect((await read(P.programs.loadedProgram)).value.value).toBe("wave");
    expect(await call(P.programs.startProgram)).toEqual({ status: StatusCodes.Good, result: "" });
    expect((await read(P.programs.programState)).value.value).toBe("running");
    const positions = async (): Promise<number[]> =>
      (await session.read(P.axisPositions.map((p) => ({ nodeId: id(p), attributeId: AttributeIds.Value })))).map((d) => d.value.value as number);
    const before = await positions();
    await until(() => handle.cell.snapshot().axesDeg[4] !== before[4], 2000, "the arm to move");
    await new Promise((r) => setTimeout(r, 150));
    const after = await positions();
    expect(after).not.toEqual(before);
    expect(after[4]).toBeLessThan(before[4] ?? 0); // wave raises the arm: A5 goes from 60 towards -30
    expect(await call(P.programs.stopProgram)).toEqual({ status: StatusCodes.Good, result: "" });
    expect((await read(P.programs.programState)).value.value).toBe("stopped");
  });

  it("refuses with a Bad status and the reason as the String result", async () => {
    expect(await call(P.programs.loadProgram, [{ dataType: DataType.String, value: "dance" }])).toEqual({
      status: StatusCodes.BadInvalidArgument,
      result: 'unknown program "dance"',
    });
    await call(P.programs.loadProgram, [{ dataType: DataType.String, value: "wave" }]);
    handle.cell.pressEmergencyStop();
    const start = await call(P.programs.startProgram);
    expect(start.status).toBe(StatusCodes.BadInvalidState);
    expect(start.result).toMatch(/emergency stop active/);
    expect((await call(P.programs.resetFault)).result).toMatch(/still pressed/);
    handle.cell.releaseEmergencyStop();
    expect(await call(P.programs.resetFault)).toEqual({ status: StatusCodes.Good, result: "" });
    expect((await call(P.programs.setSpeedOverride, [{ dataType: DataType.Double, value: 150 }])).status).toBe(StatusCodes.BadInvalidArgument);
    expect((await call(P.programs.setSpeedOverride, [{ dataType: DataType.Double, value: 40 }])).status).toBe(StatusCodes.Good);
    expect((await read(P.speedOverride)).value.value).toBe(40);
  });

  it("a subscription on EmergencyStop sees it change, and an OffNormal alarm event is raised", async () => {
    const subscription = ClientSubscription.create(session, {
      requestedPublishingInterval: 100,
      requestedMaxKeepAliveCount: 20,
      publishingEnabled: true,
    });
    try {
      const values: boolean[] = [];
      const item = ClientMonitoredItem.create(
        subscription,
        { nodeId: id(P.emergencyStop), attributeId: AttributeIds.Value },
        { samplingInterval: 100, queueSize: 10, discardOldest: true },
        TimestampsToReturn.Both,
      );
      item.on("changed", (d: DataValue) => values.push(d.value.value as boolean));
      const events: Variant[][] = [];
      const alarms = ClientMonitoredItem.create(
        subscription,
        { nodeId: "i=2253", attributeId: AttributeIds.EventNotifier },
        { queueSize: 100, filter: constructEventFilter(["SourceName", "Message", "Severity", "ActiveState.Id"]) },
      );
      alarms.on("changed", (fields: Variant[]) => events.push(fields));
      await until(() => values.length > 0, 2000, "the initial value");
      expect(values).toEqual([false]);

      handle.cell.pressEmergencyStop();
      await until(() => values.includes(true), 1000, "EmergencyStop = true within a second");
      await until(
        () => events.some((e) => e[0]?.value === "EmergencyStop" && e[3]?.value === true),
        2000,
        "an active EmergencyStop alarm event",
      );
      const event = events.find((e) => e[0]?.value === "EmergencyStop" && e[3]?.value === true);
      expect(String((event?.[1]?.value as { text?: string } | undefined)?.text)).toBe("Emergency stop active");
      expect(event?.[2]?.value).toBe(1000);

      handle.cell.openDoor();
      await until(() => events.some((e) => e[0]?.value === "DoorClosed" && e[3]?.value === true), 2000, "an active door alarm event");
    } finally {
      await subscription.terminate();
    }
  });

  it("dropConnections() drops the client's connection, and the client reconnects its session", async () => {
    let lost = 0;
    let restored = 0;
    const onLost = (): void => void lost++;
    const onRestored = (): void => void restored++;
    client.on("connection_lost", onLost);
    client.on("connection_reestablished", onRestored);
    try {
      handle.dropConnections();
      await until(() => lost > 0, 3000, "connection_lost");
      await until(() => restored > 0, 5000, "connection_reestablished");
      expect((await read(P.emergencyStop)).statusCode).toBe(StatusCodes.Good);
    } finally {
      client.off("connection_lost", onLost);
      client.off("connection_reestablished", onRestored);
    }
  });

  it("suspend(ms) holds answers until it ends", async () => {
    handle.suspend(1500);
    let answered = false;
    const pending = read(P.programs.programState).then((d) => {
      answered = true;
      return d;
    });
    await new Promise((r) => setTimeout(r, 500));
    expect(answered).toBe(false);
    expect((await pending).value.value).toBe(handle.cell.snapshot().programState);
  });
});
