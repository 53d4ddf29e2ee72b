/**
 * The simulated robot cell served over OPC UA: the far end of the hub's OPC UA adapter, exactly as
 * a cobot controller with a native Robotics companion server would be (protocols-safety.md §5.3).
 *
 * Namespaces: the server loads the real companion nodesets (standard, DI, IA, Robotics; about a
 * second, measured) and instantiates their types, so browse paths, type definitions and
 * namespace URIs are those of a real OPC 40010 server. Only `Programs` and `Alarms` are our own.
 *
 * Security: `SecurityPolicy.None` is offered for the demo and the tests (a loopback simulator has
 * nothing to protect), next to Basic256Sha256 Sign / SignAndEncrypt for a hub configured like it
 * would be for a real cell. Anonymous users may read and call every method: the hub, not the
 * simulator, decides who may start a robot.
 *
 * Clients connect through a small TCP front (`fault-proxy.ts`) so the simulator can drop every
 * connection or stop answering; node-opcua itself listens on a loopback port of its own and
 * advertises the public endpoint.
 */
import { mkdirSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { MessageSecurityMode, nodesets, OPCUACertificateManager, OPCUAServer, SecurityPolicy } from "node-opcua";
import { systemClock, type Clock } from "../../hub/src/core/clock.ts";
import { buildCellModel } from "./address-space.ts";
import { RobotCell, type OperationalMode } from "./cell.ts";
import { freePort, startFaultProxy } from "./fault-proxy.ts";
import { cellPaths, type CellPaths } from "./paths.ts";
import type { RobotProgram } from "./programs.ts";

export { CELL_NAMESPACE_INDEX, CELL_NAMESPACE_URIS, DEFAULT_CELL_PATHS, cellPaths, type CellPaths } from "./paths.ts";

export interface RobotCellServerOptions {
  /** TCP port clients connect to. */
  port: number;
  /** Browse name of the cell (the MotionDeviceSystem under DeviceSet); default "SimCell". */
  name?: string;
  /** Browse name of the arm under MotionDevices; default "Arm". */
  armName?: string;
  /** Where the server keeps its PKI (own certificate, trusted and rejected clients). */
  certificateFolder: string;
  clock?: Clock;
  programs?: readonly RobotProgram[];
  initialMode?: OperationalMode;
  /** Interface to listen on; default "127.0.0.1". "0.0.0.0" serves the whole network. */
  host?: string;
}

export interface RobotCellHandle {
  /** `opc.tcp://host:port`, what a client connects to. */
  endpointUrl: string;
  cell: RobotCell;
  /** The browse paths of this cell (same as DEFAULT_CELL_PATHS for the default names). */
  paths: CellPaths;
  /** Real time from the call to a server ready for clients, ms. */
  startupMs: number;
  /** Stops the server and the cell's motion; safe to call twice. */
  stop(): Promise<void>;
  /** Fault: resets every client connection at once, as a pulled cable or a controller reboot would. */
  dropConnections(): void;
  /** Fault: the server stops answering for `ms` (requests and keep-alives queue, then flow again). */
  suspend(ms: number): void;
}

const BROWSE_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export async function startRobotCell(opts: RobotCellServerOptions): Promise<RobotCellHandle> {
  const t0 = performance.now();
  const clock = opts.clock ?? systemClock;
  const cellName = opts.name ?? "SimCell";
  const armName = opts.armName ?? "Arm";
  for (const n of [cellName, armName]) if (!BROWSE_NAME.test(n)) throw new Error(`robot cell: "${n}" is not a usable browse name`);
  const host = opts.host ?? "127.0.0.1";
  const publicHost = host === "0.0.0.0" || host === "::" ? osHostname() : host;

  mkdirSync(opts.certificateFolder, { recursive: true });
  // The public side first, so port 0 works: the relay listens, then the server behind it learns
  // the endpoint to advertise.
  const front = await startFaultProxy({ host, port: opts.port, targetHost: "127.0.0.1", targetPort: 0, clock });
  const endpointUrl = `opc.tcp://${publicHost}:${front.port}`;
  const cell = new RobotCell({ clock, ...(opts.programs ? { programs: opts.programs } : {}), ...(opts.initialMode !== undefined ? { initialMode: opts.initialMode } : {}) });
  let unsubscribe = (): void => {};
  let server: OPCUAServer | null = null;
  // The inner port is found free and then bound, a moment apart: another process can take it in
  // between when many tests start at once. Then try again with another.
  for (let attempt = 1; server === null; attempt++) {
    // Own certificate managers: node-opcua would otherwise write a PKI under ~/.config.
    const serverCertificateManager = new OPCUACertificateManager({ rootFolder: join(opts.certificateFolder, "pki"), automaticallyAcceptUnknownCertificate: true });
    const userCertificateManager = new OPCUACertificateManager({ rootFolder: join(opts.certificateFolder, "user-pki"), automaticallyAcceptUnknownCertificate: false });
    const innerPort = await freePort();
    const candidate = new OPCUAServer({
      host: "127.0.0.1",
      port: innerPort,
      advertisedEndpoints: endpointUrl,
      resourcePath: "",
      nodesets: [nodesets.standard, nodesets.di, nodesets.ia, nodesets.robotics],
      serverCertificateManager,
      userCertificateManager,
      securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
      securityModes: [MessageSecurityMode.None, MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
      allowAnonymous: true,
      isAuditing: false,
      buildInfo: { productName: `TEC Hub robot cell simulator (${cellName})`, manufacturerName: "TEC Hub", softwareVersion: "0.1.0" },
    });
    try {
      await candidate.initialize();
      const addressSpace = candidate.engine.addressSpace;
      if (addressSpace === null) throw new Error("robot cell: OPC UA server has no address space");
      const sync = buildCellModel(addressSpace, cell, { cellName, armName });
      sync(cell.snapshot());
      unsubscribe = cell.onChange(sync);
      await candidate.start();
      front.retarget(innerPort);
      server = candidate;
    } catch (err) {
      unsubscribe();
      await candidate.shutdown(0).catch(() => {});
      const code = (err as { code?: unknown }).code;
      const inUse = err instanceof Error && (code === "EADDRINUSE" || /EADDRINUSE/.test(err.message));
      if (!inUse || attempt >= 5) {
        cell.dispose();
        await front.close();
        throw err;
      }
    }
  }
  const opcua = server;

  let stopping: Promise<void> | null = null;
  return {
    endpointUrl,
    cell,
    paths: cellPaths(cellName, armName),
    startupMs: Math.round(performance.now() - t0),
    stop() {
      stopping ??= (async () => {
        unsubscribe();
        cell.dispose();
        await front.close();
        await opcua.shutdown(0);
      })();
      return stopping;
    },
    dropConnections: () => front.dropConnections(),
    suspend: (ms) => front.suspend(ms),
  };
}
