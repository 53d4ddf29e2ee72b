/**
 * Composition root: config -> storage -> core -> broker/link -> adapters -> API. Wiring only.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Server as SocketServer } from "socket.io";
import { MqttDeviceAdapter } from "./adapters/mqtt-device/adapter.ts";
import { HubPresence } from "./adapters/mqtt-device/presence.ts";
import { buildHttp } from "./api/http.ts";
import { LiveStream } from "./api/live.ts";
import { createMetrics } from "./api/metrics.ts";
import { HubMonitor } from "./api/monitor.ts";
import { EmbeddedBroker } from "./broker/broker.ts";
import type { HubConfig } from "./config/schema.ts";
import { CommandService } from "./core/actuators/commands.ts";
import { ActuatorKeeper } from "./core/actuators/keeper.ts";
import { Bus } from "./core/bus.ts";
import { type Clock, systemClock } from "./core/clock.ts";
import { type Logger, silentLogger } from "./core/logger.ts";
import { Registry } from "./core/registry/registry.ts";
import { TelemetryPipeline } from "./core/telemetry/pipeline.ts";
import { asDeviceId, type DeviceState } from "./core/types.ts";
import { openDatabase } from "./storage/db.ts";
import { DeviceStore } from "./storage/device-store.ts";
import { HistoryStore } from "./storage/history.ts";
import { EmbeddedLink, ExternalLink, type MqttLink } from "./transports/mqtt-link.ts";

export const HUB_VERSION = "0.1.0";
const here = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_DASHBOARD_DIR = path.resolve(here, "../../dashboard/dist");

export interface HubOptions {
  clock?: Clock;
  logger?: Logger;
  dashboardDir?: string;
}

export interface Hub {
  readonly httpPort: number;
  /** Port of the embedded broker, or null in external mode. */
  readonly mqttPort: number | null;
  readonly registry: Registry;
  readonly pipeline: TelemetryPipeline;
  readonly commands: CommandService;
  readonly keeper: ActuatorKeeper;
  readonly history: HistoryStore;
  readonly bus: Bus;
  stop(): Promise<void>;
}

const SWEEP_MS = 250;
const SAVE_DEVICES_MS = 5000;

export async function startHub(config: Readonly<HubConfig>, options: HubOptions = {}): Promise<Hub> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const bus = new Bus(logger.child({ module: "bus" }));

  const db = openDatabase(config.storage.path, { checkpoints: false });
  const deviceStore = new DeviceStore(db);
  const history = new HistoryStore(config.storage.path, config.storage, { clock, logger: logger.child({ module: "history" }) });

  const registry = new Registry(
    { clock, bus },
    config.devices.map((d) => ({ id: asDeviceId(d.id), kind: d.kind, name: d.name, simulated: d.simulated })),
  );
  registry.restore(deviceStore.load());
  const pipeline = new TelemetryPipeline({ clock, bus, registry }, config.intake);

  let broker: EmbeddedBroker | null = null;
  let link: MqttLink;
  if (config.broker.mode === "embedded") {
    broker = new EmbeddedBroker(
      {
        site: config.site,
        host: config.broker.host,
        port: config.broker.port,
        devices: new Map(config.devices.map((d) => [d.id, d.password])),
        observer: config.broker.observer,
        maxSubscriberBacklogB: config.broker.maxSubscriberBacklogB,
        keepaliveS: config.broker.keepaliveS,
      },
      {
        logger: logger.child({ module: "broker" }),
        hooks: {
          onDenied: (deviceId, code, message) => pipeline.reject(deviceId !== null && registry.has(deviceId) ? deviceId : null, code, message),
        },
      },
    );
    await broker.start();
    link = new EmbeddedLink(broker.instance, broker.port);
  } else {
    link = new ExternalLink(
      {
        url: config.broker.url ?? "",
        ...(config.broker.hub !== undefined ? { username: config.broker.hub.username, password: config.broker.hub.password } : {}),
        clientId: `tec-hub-${config.site}-${process.pid}`,
        will: { topic: `tec/${config.site}/_hub/status`, payload: "offline" },
      },
      logger.child({ module: "mqtt" }),
    );
  }

  const adapter = new MqttDeviceAdapter({ site: config.site, link, pipeline });
  const commands = new CommandService({ clock, registry, bus }, adapter);
  pipeline.setAckSink(commands);
  const keeper = new ActuatorKeeper({ clock, registry, commands, logger: logger.child({ module: "keeper" }) });
  const presence = new HubPresence({ site: config.site, link, clock });

  bus.on("telemetry:accepted", "history", (batch) => history.append(batch));
  await history.start();

  const live = new LiveStream({ clock, bus, registry }, { site: config.site, siteName: config.siteName, ...config.live });
  const monitor = new HubMonitor(clock, {
    version: HUB_VERSION,
    pipeline,
    mqtt: () => ({
      mode: config.broker.mode,
      description: link.description,
      connected: link.connected,
      ...(broker?.stats() ?? { clients: 0, authFailures: 0, aclDenials: 0, forwardDropped: 0 }),
    }),
    live: () => ({ clients: live.clients, frames: live.counters.frames, skippedForSlowClients: live.counters.skippedForSlowClients }),
    history: () => ({ ...history.stats() }),
    deviceStates: () => {
      const counts: Partial<Record<DeviceState, number>> = {};
      for (const d of registry.list()) counts[d.state] = (counts[d.state] ?? 0) + 1;
      return counts;
    },
  });
  const metrics = createMetrics(monitor);

  const app = await buildHttp({ registry, history, monitor, metrics, dashboardDir: options.dashboardDir ?? DEFAULT_DASHBOARD_DIR });
  // socket.io takes its own path on fastify's server and hands every other request on.
  const io = new SocketServer(app.server, { serveClient: false, cors: { origin: false } });
  live.attach(io);

  await link.start();
  await adapter.start();
  presence.start();
  live.start();
  monitor.start();
  keeper.start();
  for (const d of config.devices) {
    for (const [actuator, value] of Object.entries(d.hold)) keeper.holdWhenPermitted(asDeviceId(d.id), actuator, value);
  }

  const sweep = clock.setInterval(() => registry.sweep(), SWEEP_MS);
  const saveDevices = () => {
    try {
      deviceStore.save(registry.snapshot());
    } catch (error) {
      logger.error({ err: error }, "saving the device registry failed");
    }
  };
  const saver = clock.setInterval(saveDevices, SAVE_DEVICES_MS);
  bus.on("device:changed", "device-store", (e) => {
    if (e.state === "offline" || e.previous === "unknown") saveDevices();
  });

  await app.listen({ port: config.http.port, host: config.http.host });
  const addr = app.server.address();
  const httpPort = typeof addr === "object" && addr !== null ? addr.port : config.http.port;
  logger.info({ httpPort, mqtt: link.description }, "hub started");

  let stopped = false;
  return {
    httpPort,
    mqttPort: broker?.port ?? null,
    registry,
    pipeline,
    commands,
    keeper,
    history,
    bus,
    async stop() {
      if (stopped) return;
      stopped = true;
      sweep.cancel();
      saver.cancel();
      keeper.stop();
      presence.stop();
      live.stop();
      monitor.stop();
      // io.close() also closes fastify's server underneath; app.close() then finishes fastify's hooks.
      await new Promise<void>((resolve) => void io.close(() => resolve()));
      await app.close();
      await link.stop();
      await history.stop();
      saveDevices();
      if (broker !== null) await broker.stop();
      db.close();
      logger.info({}, "hub stopped");
    },
  };
}
