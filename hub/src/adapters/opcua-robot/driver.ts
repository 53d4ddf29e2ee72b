/**
 * An industrial robot cell over OPC UA, as a `RobotDriver`: browse paths resolved per cell (by
 * namespace URI), one subscription for everything the hub watches, methods for programs. After a
 * reconnect the subscription is re-created if the session did not survive (node-opcua#474); a lost
 * session makes the cell "not connected", which trips the interlocks that read it.
 */
import path from "node:path";
import {
  AttributeIds,
  ClientSubscription,
  DataType,
  type DataValue,
  MessageSecurityMode,
  type NodeId,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  type ClientSession,
  StatusCodes,
  TimestampsToReturn,
  makeBrowsePath,
} from "node-opcua";
import type { Clock } from "../../core/clock.ts";
import { HubError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { RobotDriver, RobotProgramState, RobotStatus } from "../../core/robots/driver.ts";
import { type CellMapping, type CellPathSet, defaultPaths, resolvePath } from "./paths.ts";

export interface OpcuaRobotOptions {
  endpoint: string;
  mapping: CellMapping;
  /** Where the client keeps its certificate and trust lists (a folder the hub owns). */
  pkiFolder: string;
  /** Path templates to replace for a real controller; defaults follow OPC 40010. */
  paths?: Partial<CellPathSet>;
}

const PROGRAM_STATES: ReadonlySet<string> = new Set(["idle", "loaded", "running", "stopped", "done", "error"]);

export class OpcuaRobotDriver implements RobotDriver {
  private client: OPCUAClient | null = null;
  private session: ClientSession | null = null;
  private subscription: ClientSubscription | null = null;
  private nodes: Record<Exclude<keyof CellPathSet, "axisPositions">, NodeId> | null = null;
  private axisNodes: NodeId[] = [];
  private list: string[] = [];
  private readonly listeners: Array<(s: RobotStatus) => void> = [];
  private closing = false;
  /** Counts program-state notifications, so a late confirming read cannot undo a newer one. */
  private programStateVersion = 0;
  private current: RobotStatus;
  private readonly templates: CellPathSet;
  readonly stats = { connects: 0, sessionLosses: 0, subscriptionsCreated: 0, lastError: null as string | null };

  constructor(
    private readonly options: OpcuaRobotOptions,
    private readonly ctx: { clock: Clock; logger: Logger },
  ) {
    this.templates = { ...defaultPaths(options.mapping), ...options.paths };
    this.current = { connected: false, mode: 0, emergencyStop: false, protectiveStop: false, doorClosed: false, program: null, programState: "idle", error: null, axesDeg: [], at: ctx.clock.now() };
  }

  get status(): RobotStatus {
    return this.current;
  }

  onStatus(fn: (s: RobotStatus) => void): void {
    this.listeners.push(fn);
  }

  connectError(): string | null {
    return this.current.connected ? null : this.stats.lastError;
  }

  programs(): string[] {
    return [...this.list];
  }

  connect(): void {
    this.closing = false;
    const client = OPCUAClient.create({
      applicationName: "TEC Hub",
      endpointMustExist: false,
      securityMode: MessageSecurityMode.None,
      securityPolicy: SecurityPolicy.None,
      keepSessionAlive: true,
      requestedSessionTimeout: 20_000,
      clientCertificateManager: new OPCUACertificateManager({ rootFolder: path.join(this.options.pkiFolder, "client"), automaticallyAcceptUnknownCertificate: true }),
      connectionStrategy: { maxRetry: 1_000_000, initialDelay: 500, maxDelay: 5000 },
    });
    this.client = client;
    client.on("connection_lost", () => this.lost("connection lost"));
    client.on("connection_reestablished", () => void this.afterReconnect());
    client.on("backoff", (retry: number) => this.ctx.logger.debug({ retry }, "robot cell: retrying"));
    void this.open(client);
  }

  async close(): Promise<void> {
    this.closing = true;
    const client = this.client;
    this.client = null;
    try {
      await this.subscription?.terminate();
      await this.session?.close();
    } catch {
      // the server may be gone already
    }
    this.subscription = null;
    this.session = null;
    await client?.disconnect();
    this.update({ connected: false });
  }

  /**
   * Every call that changes the program is followed by a read of its state: a subscription only
   * reports changes it samples, so a stop and a start within one sampling interval would
   * otherwise leave the hub believing the earlier of the two.
   */
  async run(program: string): Promise<void> {
    await this.call("loadProgram", [program]);
    await this.call("startProgram", []);
    await this.confirmProgramState();
  }

  async stop(): Promise<void> {
    await this.call("stopProgram", []);
    await this.confirmProgramState();
  }

  /**
   * A control stop through the cell's own stop method (the cell's e-stop circuit is the real one),
   * confirmed by reading the program state back at once rather than waiting for the subscription.
   */
  async halt(): Promise<void> {
    await this.call("stopProgram", []);
    await this.confirmProgramState();
  }

  private async confirmProgramState(): Promise<void> {
    const session = this.session;
    const node = this.nodes?.programState;
    if (session === null || node === undefined) return;
    const version = this.programStateVersion;
    const v = await session.read({ nodeId: node, attributeId: AttributeIds.Value });
    // The subscription may have said something newer meanwhile (a new start): that wins.
    if (version !== this.programStateVersion) return;
    const s = String(v.value.value);
    this.update({ programState: PROGRAM_STATES.has(s) ? (s as RobotProgramState) : "error" });
  }

  async resetFault(): Promise<void> {
    await this.call("resetFault", []);
  }

  private async open(client: OPCUAClient): Promise<void> {
    try {
      await client.connect(this.options.endpoint);
      if (this.closing) return;
      await this.newSession(client);
    } catch (error) {
      this.stats.lastError = error instanceof Error ? error.message : String(error);
      this.ctx.logger.warn({ err: this.stats.lastError }, "robot cell: cannot connect");
    }
  }

  private async newSession(client: OPCUAClient): Promise<void> {
    const session = await client.createSession();
    this.session = session;
    this.stats.connects++;
    session.on("session_closed", () => this.lost("session closed"));
    session.on("keepalive_failure", () => this.lost("keep-alive failed"));
    await this.resolve(session);
    this.subscribe(session);
    this.update({ connected: true });
  }

  /** After the link came back: keep the session if it survived, else start afresh (and re-subscribe). */
  private async afterReconnect(): Promise<void> {
    const client = this.client;
    if (client === null || this.closing) return;
    try {
      if (this.session !== null && this.subscription?.isActive === true) {
        await this.session.read({ nodeId: "ns=0;i=2258", attributeId: AttributeIds.Value });
        this.update({ connected: true });
        return;
      }
    } catch {
      // the session did not survive
    }
    try {
      await this.session?.close().catch(() => {});
      await this.newSession(client);
    } catch (error) {
      this.stats.lastError = error instanceof Error ? error.message : String(error);
    }
  }

  private async resolve(session: ClientSession): Promise<void> {
    const ns = await session.read({ nodeId: "ns=0;i=2255", attributeId: AttributeIds.Value });
    const namespaceArray = (ns.value.value as string[] | null) ?? [];
    const entries = Object.entries(this.templates).filter(([k]) => k !== "axisPositions") as Array<[Exclude<keyof CellPathSet, "axisPositions">, string]>;
    const all = [...entries.map(([, t]) => t), ...this.templates.axisPositions];
    const results = await session.translateBrowsePath(all.map((t) => makeBrowsePath("ObjectsFolder", resolvePath(t, namespaceArray, this.options.mapping.vendorNamespace))));
    const ids: NodeId[] = results.map((r, i) => {
      const id = r.targets?.[0]?.targetId;
      if (id === undefined || r.statusCode.isNotGood()) throw new HubError("TRANSPORT_FAILED", `robot cell has no node at ${all[i] ?? "?"} (${r.statusCode.name})`);
      return id;
    });
    const nodes: Partial<Record<Exclude<keyof CellPathSet, "axisPositions">, NodeId>> = {};
    entries.forEach(([k], i) => {
      const id = ids[i];
      if (id !== undefined) nodes[k] = id;
    });
    this.nodes = nodes as Record<Exclude<keyof CellPathSet, "axisPositions">, NodeId>;
    this.axisNodes = ids.slice(entries.length);
    const list = await session.read({ nodeId: this.nodes.programList, attributeId: AttributeIds.Value });
    this.list = Array.isArray(list.value.value) ? (list.value.value as unknown[]).filter((x): x is string => typeof x === "string") : [];
  }

  private subscribe(session: ClientSession): void {
    const nodes = this.nodes;
    if (nodes === null) return;
    const sub = ClientSubscription.create(session, { requestedPublishingInterval: 100, requestedLifetimeCount: 600, requestedMaxKeepAliveCount: 20, maxNotificationsPerPublish: 1000, publishingEnabled: true, priority: 10 });
    this.subscription = sub;
    this.stats.subscriptionsCreated++;
    const watch = (nodeId: NodeId, apply: (v: DataValue) => void) => {
      const item = sub.monitor({ nodeId, attributeId: AttributeIds.Value }, { samplingInterval: 100, queueSize: 1, discardOldest: true }, TimestampsToReturn.Both);
      void item.then((m) => m.on("changed", apply));
    };
    const bool = (v: DataValue) => v.value.value === true;
    watch(nodes.operationalMode, (v) => this.update({ mode: Number(v.value.value) }));
    watch(nodes.emergencyStop, (v) => this.update({ emergencyStop: bool(v) }));
    watch(nodes.protectiveStop, (v) => this.update({ protectiveStop: bool(v) }));
    watch(nodes.doorClosed, (v) => this.update({ doorClosed: bool(v) }));
    watch(nodes.loadedProgram, (v) => this.update({ program: typeof v.value.value === "string" && v.value.value !== "" ? v.value.value : null }));
    watch(nodes.lastError, (v) => this.update({ error: typeof v.value.value === "string" && v.value.value !== "" ? v.value.value : null }));
    watch(nodes.programState, (v) => {
      this.programStateVersion++;
      const s = String(v.value.value);
      this.update({ programState: PROGRAM_STATES.has(s) ? (s as RobotProgramState) : "error" });
    });
    this.axisNodes.forEach((nodeId, i) =>
      watch(nodeId, (v) => {
        const axes = [...this.current.axesDeg];
        axes[i] = Number(v.value.value);
        this.update({ axesDeg: axes });
      }),
    );
  }

  private async call(method: "loadProgram" | "startProgram" | "stopProgram" | "resetFault", args: string[]): Promise<void> {
    const session = this.session;
    const nodes = this.nodes;
    if (session === null || nodes === null || !this.current.connected) throw new HubError("DEVICE_OFFLINE", "no connection to the robot cell");
    const result = await session.call({
      objectId: nodes.programsObject,
      methodId: nodes[method],
      inputArguments: args.map((value) => ({ dataType: DataType.String, value })),
    });
    const text: unknown = result.outputArguments?.[0]?.value;
    const reason = typeof text === "string" ? text : "";
    if (result.statusCode.equals(StatusCodes.Good) && reason === "") return;
    throw new HubError("DEVICE_REFUSED", `robot cell refused ${method}: ${reason || result.statusCode.name}`);
  }

  private lost(reason: string): void {
    if (!this.current.connected) return;
    this.stats.sessionLosses++;
    this.stats.lastError = reason;
    this.ctx.logger.warn({ reason }, "robot cell: connection lost");
    this.update({ connected: false });
  }

  private update(patch: Partial<RobotStatus>): void {
    this.current = { ...this.current, ...patch, at: this.ctx.clock.now() };
    for (const fn of this.listeners) fn(this.current);
  }
}
