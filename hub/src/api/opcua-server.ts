/**
 * The hub as an OPC UA server (port 4840 by default), so a school's PLC, SCADA or a tool like
 * UaExpert can read the centre: every device's readings (with their freshness as the OPC UA status
 * and the hub's receive time as the source timestamp), device health, and interlock states,
 * browsable by plain names: `Objects/TecHub/Devices/pv-inverter/pvPowerW`. Read-only: no variable
 * is writable and there are no methods; commands go through the hub's own API and its roles.
 *
 * The address space follows each device's latest meta: a channel it no longer declares loses its
 * node, so a device re-declaring new channel sets cannot grow the server without bound (the
 * pipeline also limits how often a device may change what it declares).
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import {
  DataType,
  DataValue,
  MessageSecurityMode,
  type Namespace,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  StatusCodes,
  type UAObject,
  type UAVariable,
  Variant,
} from "node-opcua";
import type { Bus } from "../core/bus.ts";
import type { InterlockService } from "../core/interlock/service.ts";
import type { Logger } from "../core/logger.ts";
import type { Registry } from "../core/registry/registry.ts";
import type { DeviceId } from "../core/types.ts";

export interface OpcuaServerOptions {
  host: string;
  port: number;
  /** The server's own certificates and trust lists (node-opcua would otherwise write under ~/.config). */
  pkiFolder: string;
  siteName: string;
  version: string;
}

interface ChannelNode {
  node: UAVariable;
  /** What the node was built from: a change rebuilds it. */
  label: string | undefined;
  unit: string;
}

const SAMPLING_MS = 250;
/** Every variable: read-only, and sampled often enough for a SCADA screen. */
const READ_ONLY = { accessLevel: "CurrentRead", userAccessLevel: "CurrentRead", minimumSamplingInterval: SAMPLING_MS } as const;

export class HubOpcuaServer {
  private server: OPCUAServer | null = null;
  private namespace: Namespace | null = null;
  private devicesFolder: UAObject | null = null;
  private readonly deviceNodes = new Map<string, { node: UAObject; channels: Map<string, ChannelNode> }>();
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly options: OpcuaServerOptions,
    private readonly ctx: { registry: Registry; interlocks: InterlockService; bus: Bus; logger: Logger },
  ) {}

  get endpointUrl(): string {
    return `opc.tcp://${this.options.host === "0.0.0.0" ? "localhost" : this.options.host}:${this.options.port}`;
  }

  async start(): Promise<void> {
    mkdirSync(this.options.pkiFolder, { recursive: true });
    const server = new OPCUAServer({
      port: this.options.port,
      ...(this.options.host !== "0.0.0.0" ? { host: this.options.host } : {}),
      resourcePath: "",
      serverCertificateManager: new OPCUACertificateManager({ rootFolder: path.join(this.options.pkiFolder, "pki"), automaticallyAcceptUnknownCertificate: true }),
      userCertificateManager: new OPCUACertificateManager({ rootFolder: path.join(this.options.pkiFolder, "user-pki"), automaticallyAcceptUnknownCertificate: false }),
      securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
      securityModes: [MessageSecurityMode.None, MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
      allowAnonymous: true,
      buildInfo: { productName: `TEC Hub (${this.options.siteName})`, manufacturerName: "Technicampus Experience Centre", softwareVersion: this.options.version },
    });
    await server.initialize();
    const addressSpace = server.engine.addressSpace;
    if (addressSpace === null) throw new Error("OPC UA server has no address space");
    const ns = addressSpace.getOwnNamespace();
    this.namespace = ns;
    const root = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: "TecHub", description: `TEC Hub, ${this.options.siteName}` });
    ns.addVariable({ componentOf: root, browseName: "Site", dataType: "String", ...READ_ONLY, value: { get: () => new Variant({ dataType: DataType.String, value: this.options.siteName }) } });
    this.devicesFolder = ns.addObject({ componentOf: root, browseName: "Devices" });
    const interlocks = ns.addObject({ componentOf: root, browseName: "Interlocks" });
    for (const view of this.ctx.interlocks.list()) this.addInterlock(ns, interlocks, view.id);
    for (const id of this.ctx.registry.ids()) this.syncDevice(id);
    this.unsubscribe = this.ctx.bus.on("device:described", "opcua", (e) => this.syncDevice(e.deviceId));
    await server.start();
    this.server = server;
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    const server = this.server;
    this.server = null;
    if (server !== null) await server.shutdown(0);
  }

  /** Adds the device's object, a node for each channel it declares, and removes the ones it no longer does. */
  private syncDevice(id: DeviceId): void {
    const ns = this.namespace;
    const folder = this.devicesFolder;
    const view = this.ctx.registry.view(id);
    if (ns === null || folder === null || view === undefined) return;
    let entry = this.deviceNodes.get(id);
    if (entry === undefined) {
      const node = ns.addObject({ componentOf: folder, browseName: id, displayName: view.name });
      const str = (name: string, read: () => string) =>
        ns.addVariable({ componentOf: node, browseName: name, dataType: "String", ...READ_ONLY, value: { get: () => new Variant({ dataType: DataType.String, value: read() }) } });
      str("State", () => this.ctx.registry.view(id)?.state ?? "unknown");
      str("StateReason", () => this.ctx.registry.view(id)?.stateReason ?? "");
      str("Firmware", () => this.ctx.registry.view(id)?.firmware ?? "");
      ns.addVariable({
        componentOf: node,
        browseName: "Simulated",
        dataType: "Boolean",
        ...READ_ONLY,
        value: { get: () => new Variant({ dataType: DataType.Boolean, value: this.ctx.registry.view(id)?.simulated ?? false }) },
      });
      entry = { node, channels: new Map() };
      this.deviceNodes.set(id, entry);
    }
    const channels = entry.channels;
    for (const [channel, built] of channels) {
      const spec = view.channels[channel];
      if (spec !== undefined && spec.label === built.label && spec.unit === built.unit) continue;
      ns.deleteNode(built.node);
      channels.delete(channel);
    }
    for (const [channel, spec] of Object.entries(view.channels)) {
      if (channels.has(channel)) continue;
      const node = ns.addVariable({
        componentOf: entry.node,
        browseName: channel,
        displayName: spec.label ?? channel,
        description: spec.unit,
        dataType: "Double",
        ...READ_ONLY,
        value: { timestamped_get: () => this.channelValue(id, channel) },
      });
      channels.set(channel, { node, label: spec.label, unit: spec.unit });
    }
  }

  /** Fresh readings are Good; stale ones UncertainLastUsableValue; invalid or missing ones Bad. */
  private channelValue(id: DeviceId, channel: string): DataValue {
    const rec = this.ctx.registry.record(id);
    const ch = rec?.channels.get(channel);
    if (ch === undefined || ch.value === null) return new DataValue({ statusCode: StatusCodes.BadNoData });
    const statusCode = ch.quality === "ok" ? StatusCodes.Good : ch.quality === "stale" ? StatusCodes.UncertainLastUsableValue : StatusCodes.BadSensorFailure;
    return new DataValue({ value: new Variant({ dataType: DataType.Double, value: ch.value }), statusCode, ...(ch.at !== null ? { sourceTimestamp: new Date(ch.at) } : {}) });
  }

  private addInterlock(ns: Namespace, folder: UAObject, id: string): void {
    const node = ns.addObject({ componentOf: folder, browseName: id, displayName: this.ctx.interlocks.view(id)?.name.en ?? id });
    const view = () => this.ctx.interlocks.view(id);
    const str = (name: string, read: () => string) =>
      ns.addVariable({ componentOf: node, browseName: name, dataType: "String", ...READ_ONLY, value: { get: () => new Variant({ dataType: DataType.String, value: read() }) } });
    str("Status", () => view()?.status ?? "unknown");
    str("Cause", () => view()?.cause?.detail.en ?? "");
    str("Reason", () => view()?.reason.en ?? "");
    ns.addVariable({
      componentOf: node,
      browseName: "Latched",
      dataType: "Boolean",
      ...READ_ONLY,
      value: { get: () => new Variant({ dataType: DataType.Boolean, value: view()?.latched ?? false }) },
    });
  }
}
