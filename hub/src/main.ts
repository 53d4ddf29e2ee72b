/**
 * Composition root: config -> storage -> core -> broker/link -> adapters -> safety -> API. Wiring only.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Server as SocketServer } from "socket.io";
import { MqttDeviceAdapter } from "./adapters/mqtt-device/adapter.ts";
import { buildFirmataRobots } from "./adapters/firmata-arm/stations.ts";
import { buildOpcuaRobots } from "./adapters/opcua-robot/index.ts";
import { buildPrinters } from "./adapters/printer/index.ts";
import { buildSerialBoards } from "./adapters/serial-board/index.ts";
import { HubPresence } from "./adapters/mqtt-device/presence.ts";
import { AuthService } from "./api/auth.ts";
import { registerHubCommands } from "./api/command-set.ts";
import { CommandRegistry } from "./api/commands.ts";
import { RefusalLedger } from "./api/refusals.ts";
import { buildHttp } from "./api/http.ts";
import { attachLiveCommands } from "./api/live-commands.ts";
import { LiveStream } from "./api/live.ts";
import { createMetrics } from "./api/metrics.ts";
import { HubMonitor } from "./api/monitor.ts";
import { HubOpcuaServer } from "./api/opcua-server.ts";
import { registerAuditRoutes } from "./api/routes/audit.ts";
import { COMMAND_BODY_LIMIT_BYTES, registerCommandRoutes } from "./api/routes/commands.ts";
import { registerSafetyRoutes } from "./api/routes/safety.ts";
import { registerSessionRoutes } from "./api/routes/session.ts";
import { registerStationRoutes } from "./api/routes/stations.ts";
import { BrokerThread } from "./broker/broker-thread.ts";
import { EXTERNAL_BROKER_STATS } from "./broker/protocol.ts";
import type { HubConfig } from "./config/schema.ts";
import { CommandService } from "./core/actuators/commands.ts";
import { ActuatorKeeper } from "./core/actuators/keeper.ts";
import { AlarmBook } from "./core/alarms/alarms.ts";
import { Bus } from "./core/bus.ts";
import { type Clock, systemClock } from "./core/clock.ts";
import { SafeStateEnforcer } from "./core/interlock/safe-state.ts";
import { InterlockService } from "./core/interlock/service.ts";
import { type Logger, silentLogger } from "./core/logger.ts";
import { Registry } from "./core/registry/registry.ts";
import { FreshnessSweeper } from "./core/registry/sweeper.ts";
import { robotRules } from "./core/robots/rules.ts";
import type { RobotStation } from "./core/robots/station.ts";
import { StationRegistry } from "./core/stations/stations.ts";
import { VisitService } from "./core/visits/visits.ts";
import { TelemetryPipeline } from "./core/telemetry/pipeline.ts";
import { asDeviceId } from "./core/types.ts";
import { SqliteAlarmStore } from "./storage/alarm-store.ts";
import { SqliteAuditLog } from "./storage/audit.ts";
import { openDatabase } from "./storage/db.ts";
import { DiskGuard } from "./storage/disk-guard.ts";
import { StorageMaintenance } from "./storage/maintenance.ts";
import { DEVICE_SAVER_DEFAULTS, DeviceSaver } from "./storage/device-saver.ts";
import { DeviceStore } from "./storage/device-store.ts";
import { HistoryStore } from "./storage/history.ts";
import { SqliteInterlockStore } from "./storage/interlock-store.ts";
import { JobHistory } from "./storage/job-history.ts";
import { ExternalLink, type MqttLink } from "./transports/mqtt-link.ts";

export const HUB_VERSION = "0.2.0";
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
  readonly interlocks: InterlockService;
  readonly alarms: AlarmBook;
  readonly audit: SqliteAuditLog;
  readonly stations: StationRegistry;
  readonly visits: VisitService;
  /** The hub's OPC UA endpoint, or null when disabled. */
  readonly opcuaUrl: string | null;
  readonly commandRegistry: CommandRegistry;
  readonly auth: AuthService;
  readonly bus: Bus;
  stop(): Promise<void>;
}

const SWEEP_MS = 250;
const SAVE_DEVICES_MS = 5000;

function startLink(config: Readonly<HubConfig>, clock: Clock, logger: Logger, pipeline: TelemetryPipeline, registry: Registry, alarms: AlarmBook): { broker: BrokerThread | null; link: MqttLink } {
  if (config.broker.mode === "external") {
    const link = new ExternalLink(
      {
        url: config.broker.url ?? "",
        ...(config.broker.hub !== undefined ? { username: config.broker.hub.username, password: config.broker.hub.password } : {}),
        clientId: `tec-hub-${config.site}-${process.pid}`,
        will: { topic: `tec/${config.site}/_hub/status`, payload: "offline" },
      },
      logger.child({ module: "mqtt" }),
    );
    return { broker: null, link };
  }
  const broker = new BrokerThread(
    {
      site: config.site,
      host: config.broker.host,
      port: config.broker.port,
      devices: config.devices.flatMap((d) => (d.kind === "mqtt" ? [[d.id, d.password] as [string, string]] : [])),
      observer: config.broker.observer,
      limits: config.broker.limits,
    },
    {
      clock,
      logger: logger.child({ module: "broker" }),
      hooks: {
        denied: (d) => {
          const device = d.deviceId !== null && registry.has(d.deviceId) ? d.deviceId : null;
          pipeline.reject(device, d.code, d.message, d.count);
          // A device's client id tried by another account: someone is trying to take its place.
          if (d.code === "client-id-refused" && device !== null) {
            alarms.raise(`mqtt-client-id:${device}`, "warning", device, {
              nl: `Een ander account probeerde de MQTT-verbinding van ${device} over te nemen (geweigerd): ${d.message}`,
              en: `Another account tried to take over ${device}'s MQTT session (refused): ${d.message}`,
            });
          }
        },
        restarting: (reason) =>
          alarms.raise("mqtt-broker-restarted", "critical", "broker", {
            nl: `De MQTT-broker van de hub is opnieuw gestart: ${reason}`,
            en: `The hub's MQTT broker was restarted: ${reason}`,
          }),
      },
    },
  );
  return { broker, link: broker };
}

export async function startHub(config: Readonly<HubConfig>, options: HubOptions = {}): Promise<Hub> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const bus = new Bus(logger.child({ module: "bus" }));

  // Storage: the main connection never checkpoints (the history worker does, off this thread).
  const db = openDatabase(config.storage.path, { checkpoints: false });
  const deviceStore = new DeviceStore(db);
  const audit = new SqliteAuditLog(db);
  const history = new HistoryStore(config.storage.path, config.storage, { clock, logger: logger.child({ module: "history" }) });

  // Core.
  const registry = new Registry(
    { clock, bus },
    config.devices.map((d) => ({ id: asDeviceId(d.id), kind: d.kind, name: d.name, simulated: d.simulated })),
  );
  registry.restore(deviceStore.load());
  const pipeline = new TelemetryPipeline({ clock, bus, registry }, config.intake);

  // Alarms for technicians: the broker raises some.
  const alarms = new AlarmBook({ clock, bus, store: new SqliteAlarmStore(db, { logger }) });

  // MQTT: the embedded broker on its own thread, or an external one, behind one link.
  const { broker, link } = startLink(config, clock, logger, pipeline, registry, alarms);
  await broker?.listen();
  const adapter = new MqttDeviceAdapter({ site: config.site, link, pipeline });
  const serialBoards = buildSerialBoards(config, { clock, logger, pipeline, registry });
  // The one command path: each command goes out over the carrier its device uses.
  const commands = new CommandService({ clock, registry, bus }, {
    sendCommand: (deviceId, actuator, message) => (serialBoards.get(deviceId) ?? adapter).sendCommand(deviceId, actuator, message),
  });
  pipeline.setAckSink(commands);
  const keeper = new ActuatorKeeper({ clock, registry, commands, logger: logger.child({ module: "keeper" }) });
  const presence = new HubPresence({ site: config.site, link, clock });

  // Stations: printers and robots, each a device in the registry too; class visits open them.
  const stations = new StationRegistry({ bus });
  const visitHolds = new Set<string>();
  const visits = new VisitService(
    { clock },
    {
      onEnd: async (visit, reason) => {
        const actor = { name: "hub", role: "system" as const };
        await Promise.allSettled(stations.ids().map((id) => stations.act(id, "stop", `visit "${visit.label}" ended: ${reason}`, actor)));
        // What instructors started during the visit goes back to safe; the installation's own holds stay.
        for (const key of visitHolds) {
          const [device, actuator] = key.split("/") as [string, string];
          enforcer.ensureSafe("visit-end", asDeviceId(device), actuator);
        }
        visitHolds.clear();
        audit.append({ at: clock.now(), actor, action: "visit.ended", target: visit.id, result: "ok", reason, details: { label: visit.label, stations: visit.stations } });
      },
    },
  );
  const jobs = new JobHistory(db);
  let interlocks: InterlockService | null = null;
  const printers = buildPrinters(config, {
    clock,
    logger,
    pipeline,
    changed: (id) => stations.changed(id),
    trip: (ruleId, detail) => interlocks?.trip(ruleId, detail),
    note: (printer, action, reason) => audit.append({ at: clock.now(), actor: { name: "hub", role: "system" }, action, target: printer, result: "ok", reason }),
    jobEnded: (j) => {
      try {
        jobs.add({ station: j.printer, program: j.name, actor: j.actor, startedAt: j.startedAt, endedAt: j.endedAt, state: j.state, reason: j.reason, progressPct: j.progressPct, elapsedS: j.elapsedS });
      } catch (error) {
        logger.error({ err: error }, "job history");
      }
    },
  });
  for (const station of printers.stations) stations.add(station);
  const robotWiring = {
    clock,
    logger,
    pipeline,
    pkiFolder: config.opcua.pkiFolder,
    changed: (id: string) => stations.changed(id),
    permissives: (id: string) => {
      const verdict = interlocks?.check(id as never, "start", 1) ?? { allowed: true };
      return { instructorPresent: visits.present(id), interlock: verdict.allowed ? null : verdict.reason };
    },
  };
  const robots: RobotStation[] = [...buildOpcuaRobots(config, robotWiring), ...buildFirmataRobots(config, robotWiring)];
  for (const robot of robots) stations.add(robot);
  const robotConfigs = config.devices.filter((d) => d.kind === "robot-opcua" || d.kind === "robot-firmata");

  // Safety: interlocks, the emergency stop, alarms; trip actions through the one command path.
  const enforcer = new SafeStateEnforcer({ clock, registry, commands, keeper, logger: logger.child({ module: "safe-state" }) }, (e) => interlocks?.escalate(e));
  interlocks = new InterlockService(
    {
      clock,
      bus,
      registry,
      alarms,
      audit,
      enforcer,
      store: new SqliteInterlockStore(db, { clock, logger }),
      logger: logger.child({ module: "interlocks" }),
      publish: (topic, payload) => link.publish(topic, payload, { retain: true, qos: 1 }),
      site: config.site,
    },
    [...config.interlocks, ...printers.rules, ...robotConfigs.flatMap((r) => robotRules({ id: r.id, name: r.name, resetRoles: r.resetRoles }))],
    config.safety,
  );
  const safety = interlocks;
  keeper.usePermits(safety);
  stations.usePermits(safety);
  safety.useStations(stations);
  stations.addGate((id) => visits.blocks(id));
  // A reset printer trip reconnects the printer, which resets its firmware; it starts nothing.
  bus.on("interlock:changed", "printers", (e) => {
    if (e.to === "normal" && (e.from === "cleared" || e.from === "tripped")) printers.recoverFor(e.id).catch((error: unknown) => logger.error({ err: error }, "printer recovery"));
  });
  const unsubscribeAlarms = bus.on("device:changed", "alarms", (e) => {
    // A device the hub knew going away is worth a technician's look; its interlocks act on their own.
    if (e.state === "offline" && e.previous !== "unknown") {
      alarms.raise(`device-offline:${e.deviceId}`, "warning", e.deviceId, { nl: `${e.deviceId} is offline`, en: `${e.deviceId} is offline` });
    } else if (e.state !== "offline" && e.state !== "unknown") {
      alarms.clear(`device-offline:${e.deviceId}`);
    }
  });

  bus.on("telemetry:accepted", "history", (batch) => history.append(batch));
  await history.start();

  // API: one command registry for HTTP and socket.io; sessions; live stream.
  // Refusals to clients without a session are counted per address and minute, not audited one by one.
  const refusals = new RefusalLedger({ clock, audit, logger: logger.child({ module: "refusals" }) });
  const auth = new AuthService({ clock, logger: logger.child({ module: "auth" }), users: config.users, sessions: config.sessions, alarms });
  const commandRegistry = new CommandRegistry({ clock, audit, logger: logger.child({ module: "commands" }), refusals });
  const diskGuard = new DiskGuard({ clock, logger: logger.child({ module: "disk-guard" }), alarms, maintenance: new StorageMaintenance(config.storage.path) }, config.storage);
  registerHubCommands(commandRegistry, { interlocks: safety, alarms, keeper, commands, registry, stations, visits, serialBoards, onStarted: (device, actuator) => visits.active !== null && visitHolds.add(`${device}/${actuator}`) });

  const live = new LiveStream({ clock, bus, registry }, { site: config.site, siteName: config.siteName, ...config.live });
  live.useSafety({
    interlocks: () => safety.list(),
    interlock: (id) => safety.view(id),
    openAlarms: () => alarms.list({ open: true }),
    alarm: (key) => alarms.get(key),
    stations: () => stations.list(),
    station: (id) => (stations.ids().includes(id) ? stations.view(id) : undefined),
    holds: () => keeper.list(),
    visit: () => visits.active,
  });
  const monitor = new HubMonitor(clock, {
    version: HUB_VERSION,
    pipeline,
    mqtt: () => ({
      mode: config.broker.mode,
      description: link.description,
      connected: link.connected,
      ...(broker?.stats() ?? EXTERNAL_BROKER_STATS),
    }),
    live: () => ({ clients: live.clients, frames: live.counters.frames, skippedForSlowClients: live.counters.skippedForSlowClients }),
    history: () => ({ ...history.stats() }),
    deviceStates: () => registry.stateCounts(),
  });
  const metrics = createMetrics(monitor);

  const app = await buildHttp({
    registry,
    history,
    monitor,
    metrics,
    dashboardDir: options.dashboardDir ?? DEFAULT_DASHBOARD_DIR,
    routes: [
      (a) => registerSessionRoutes(a, { auth, audit, clock, refusals }),
      (a) => registerCommandRoutes(a, { commands: commandRegistry, actorOf: auth.actorOf }),
      (a) => registerSafetyRoutes(a, { interlocks: safety, alarms, enforcer, actorOf: auth.actorOf }),
      (a) => registerAuditRoutes(a, { audit, actorOf: auth.actorOf }),
      (a) => registerStationRoutes(a, { stations, jobs, audit, actorOf: auth.actorOf, catalogues: printers.catalogues, visits, keeper, refusals }),
    ],
  });
  // socket.io takes its own path on fastify's server and hands every other request on.
  // A socket.io message from a client is a command or a whoami: 16 KB, like a command over REST (1 MB by default).
  const io = new SocketServer(app.server, { serveClient: false, cors: { origin: false }, maxHttpBufferSize: COMMAND_BODY_LIMIT_BYTES });
  live.attach(io);
  attachLiveCommands(io, { commands: commandRegistry, auth });

  await link.start();
  await adapter.start();
  presence.start();
  auth.start();
  refusals.start();
  diskGuard.start();
  safety.start();
  live.start();
  monitor.start();
  keeper.start();
  for (const d of config.devices) {
    if (d.kind !== "mqtt" && d.kind !== "serial") continue;
    for (const [actuator, value] of Object.entries(d.hold)) keeper.holdWhenPermitted(asDeviceId(d.id), actuator, value);
  }
  for (const b of serialBoards.values()) b.start();
  for (const p of printers.stations) p.connect();
  for (const r of robots) r.connect();

  // Freshness; after a stall of the hub itself, only once the waiting messages have been read.
  const sweeper = new FreshnessSweeper(
    {
      clock,
      sweep: () => registry.sweep(),
      afterIo: (fn) => setImmediate(fn),
      stalled: (ms) => logger.warn({ stalledMs: ms }, "the hub's event loop was stalled; reading waiting messages before judging freshness"),
    },
    SWEEP_MS,
  );
  sweeper.start();
  // Only devices that changed are written: states soon, counters every SAVE_DEVICES_MS, in small slices.
  const deviceSaver = new DeviceSaver({ clock, bus, registry, store: deviceStore, logger: logger.child({ module: "device-store" }) }, { ...DEVICE_SAVER_DEFAULTS, periodMs: SAVE_DEVICES_MS });
  deviceSaver.start();

  const opcua = config.opcua.enabled
    ? new HubOpcuaServer(
        { host: config.opcua.host, port: config.opcua.port, pkiFolder: config.opcua.pkiFolder, siteName: config.siteName, version: HUB_VERSION },
        { registry, interlocks: safety, bus, logger: logger.child({ module: "opcua" }) },
      )
    : null;
  await opcua?.start();

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
    interlocks: safety,
    alarms,
    audit,
    stations,
    visits,
    opcuaUrl: opcua?.endpointUrl ?? null,
    commandRegistry,
    auth,
    bus,
    async stop() {
      if (stopped) return;
      stopped = true;
      sweeper.stop();
      unsubscribeAlarms();
      keeper.stop();
      visits.stop();
      await Promise.allSettled([...serialBoards.values()].map((b) => b.stop()));
      await stations.stopAll();
      safety.stop();
      enforcer.stop();
      auth.stop();
      await diskGuard.stop();
      presence.stop();
      live.stop();
      monitor.stop();
      // io.close() also closes fastify's server underneath; app.close() then finishes fastify's hooks.
      await new Promise<void>((resolve) => void io.close(() => resolve()));
      await app.close();
      refusals.stop();
      await opcua?.stop();
      await link.stop();
      await history.stop();
      deviceSaver.stop();
      db.close();
      logger.info({}, "hub stopped");
    },
  };
}
