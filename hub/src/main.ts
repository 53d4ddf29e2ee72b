/**
 * Composition root: config -> storage -> core -> broker/link -> adapters -> safety -> API. Wiring only.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Server as SocketServer } from "socket.io";
import { MqttDeviceAdapter } from "./adapters/mqtt-device/adapter.ts";
// Adapters and the OPC UA server are loaded only when the config uses them (see `machinery` below):
// node-opcua, johnny-five and serialport are most of the hub's start time and memory.
import type { RobotWiring } from "./adapters/opcua-robot/index.ts";
import type { Printers } from "./adapters/printer/index.ts";
import { printerRulesOf } from "./adapters/printer/rules.ts";
import type { SerialBoard } from "./adapters/serial-board/adapter.ts";
import { HubPresence } from "./adapters/mqtt-device/presence.ts";
import { AuthService } from "./api/auth.ts";
import { registerHubCommands } from "./api/command-set.ts";
import { CommandRegistry } from "./api/commands.ts";
import type { SimClockView } from "./api/live-protocol.ts";
import { RefusalLedger } from "./api/refusals.ts";
import { buildHttp } from "./api/http.ts";
import { attachLiveCommands } from "./api/live-commands.ts";
import { LiveStream } from "./api/live.ts";
import { HubTimings, createMetrics } from "./api/metrics.ts";
import { HomeAssistantDiscovery } from "./integrations/home-assistant.ts";
import { SqliteHaStore } from "./storage/ha-store.ts";
import { HubMonitor } from "./api/monitor.ts";
import { registerAuditRoutes } from "./api/routes/audit.ts";
import { COMMAND_BODY_LIMIT_BYTES, registerCommandRoutes } from "./api/routes/commands.ts";
import { registerSafetyRoutes } from "./api/routes/safety.ts";
import { registerSessionRoutes } from "./api/routes/session.ts";
import { registerStationRoutes } from "./api/routes/stations.ts";
import { registerEstopRoutes } from "./api/routes/estop.ts";
import { EstopTerminals } from "./api/estop-terminals.ts";
import { BrokerThread, externalClientThreadInit } from "./broker/broker-thread.ts";
import type { Denial } from "./broker/protocol.ts";
import { declaredDevices, deviceLabel } from "./config/names.ts";
import type { HubConfig } from "./config/schema.ts";
import { text } from "./core/texts/texts.ts";
import { CommandService } from "./core/actuators/commands.ts";
import { Installation } from "./core/actuators/installation.ts";
import { ActuatorKeeper } from "./core/actuators/keeper.ts";
import { AlarmBook } from "./core/alarms/alarms.ts";
import { Bus } from "./core/bus.ts";
import { type Clock, systemClock } from "./core/clock.ts";
import { InterlockPermits } from "./core/interlock/permits.ts";
import { InterlockService, buildEngine } from "./core/interlock/service.ts";
import { type Logger, silentLogger } from "./core/logger.ts";
import { Registry } from "./core/registry/registry.ts";
import { FreshnessSweeper } from "./core/registry/sweeper.ts";
import { robotRules } from "./core/robots/rules.ts";
import type { RobotStation } from "./core/robots/station.ts";
import { StationRegistry } from "./core/stations/stations.ts";
import { VisitService } from "./core/visits/visits.ts";
import { TelemetryPipeline } from "./core/telemetry/pipeline.ts";
import { type Actor, asDeviceId } from "./core/types.ts";
import { SqliteAlarmStore } from "./storage/alarm-store.ts";
import { SqliteAuditLog } from "./storage/audit.ts";
import { openDatabase } from "./storage/db.ts";
import { DiskGuard } from "./storage/disk-guard.ts";
import { BackupScheduler } from "./storage/backup.ts";
import { acquireStoreLock } from "./storage/store-lock.ts";
import { backupFolder, brokerCaFile, tlsFolder } from "./config/paths.ts";
import { StorageMaintenance } from "./storage/maintenance.ts";
import { DEVICE_SAVER_DEFAULTS, DeviceSaver } from "./storage/device-saver.ts";
import { DeviceStore } from "./storage/device-store.ts";
import { HistoryStore } from "./storage/history.ts";
import { SqliteInterlockStore } from "./storage/interlock-store.ts";
import { JobHistory } from "./storage/job-history.ts";

import { Lifecycle } from "./lifecycle.ts";
import { BrokerSelfCheck } from "./broker/self-check.ts";

export const HUB_VERSION = "0.2.0";
const here = path.dirname(fileURLToPath(import.meta.url));
/** The checkout: two folders up from hub/src, three when running compiled from dist/hub/src. */
const checkout = path.basename(path.resolve(here, "../..")) === "dist" ? path.resolve(here, "../../..") : path.resolve(here, "../..");
export const DEFAULT_DASHBOARD_DIR = path.join(checkout, "dashboard/dist");

export interface HubOptions {
  clock?: Clock;
  logger?: Logger;
  dashboardDir?: string;
  /** The simulated installation's clock (the demo's Tiny House), streamed to every dashboard. */
  simClock?: { current(): SimClockView | null };
}

export interface Hub {
  readonly httpPort: number;
  /** Port of the embedded broker, or null in external mode. */
  readonly mqttPort: number | null;
  /** Port of the embedded broker's TLS listener, or null without one. */
  readonly mqttTlsPort: number | null;
  /** The CA file MQTT-over-TLS clients trust (absolute), or null when it is not known. */
  readonly mqttCaFile: string | null;
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
  /**
   * A planned stop: recorded in the audit log, every station stopped and every held actuator sent
   * to safe, the interlocks frozen (the hub's own disconnects latch nothing; latched trips stay),
   * then every component closed in reverse order of starting.
   */
  stop(reason?: string): Promise<void>;
}

const SWEEP_MS = 250;
const SAVE_DEVICES_MS = 5000;

function startLink(config: Readonly<HubConfig>, clock: Clock, logger: Logger, pipeline: TelemetryPipeline, registry: Registry, alarms: AlarmBook): { broker: BrokerThread | null; link: BrokerThread } {
  const hooks = {
    denied: (d: Denial) => {
      const device = d.deviceId !== null && registry.has(d.deviceId) ? d.deviceId : null;
      pipeline.reject(device, d.code, d.message, d.count);
      // A device's client id tried by another account: someone is trying to take its place.
      if (d.code === "client-id-refused" && device !== null) {
        alarms.raise(`mqtt-client-id:${device}`, "warning", device, text("alarm.mqttTakeover", { device: registry.label(device), message: d.message }));
      }
    },
    restarting: (reason: string) => alarms.raise("mqtt-broker-restarted", "critical", "broker", text("alarm.brokerRestarted", { reason })),
  };
  if (config.broker.mode === "external") {
    // The hub's client of the external broker runs on a thread of its own, as the embedded broker
    // does: the fleet's traffic is parsed there and handed over in batches the main thread takes.
    const link = new BrokerThread(
      externalClientThreadInit(config),
      { clock, logger: logger.child({ module: "mqtt" }), hooks },
    );
    return { broker: null, link };
  }
  const broker = new BrokerThread(
    {
      site: config.site,
      host: config.broker.host,
      port: config.broker.port,
      plain: config.broker.plain,
      tls: config.broker.tls === null ? null : { port: config.broker.tls.port, files: config.broker.tls.files, folder: tlsFolder(config), hostnames: config.broker.tls.hostnames },
      devices: config.devices.flatMap((d) => (d.kind === "mqtt" ? [[d.id, d.password] as [string, string]] : [])),
      observer: config.broker.observer,
      limits: config.broker.limits,
    },
    { clock, logger: logger.child({ module: "broker" }), hooks },
  );
  return { broker, link: broker };
}

export async function startHub(config: Readonly<HubConfig>, options: HubOptions = {}): Promise<Hub> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const life = new Lifecycle(logger.child({ module: "lifecycle" }));
  try {
    return await assemble(config, clock, logger, life, options);
  } catch (error) {
    // A start that fails half-way closes what it had opened, in reverse, and says why.
    await life.stopAll();
    throw error;
  }
}

const HUB_ACTOR = { name: "hub", role: "system" as const };
/** How long a planned stop waits for devices to confirm their safe values. */
const STOP_CONFIRM_MS = 2000;

async function assemble(config: Readonly<HubConfig>, clock: Clock, logger: Logger, life: Lifecycle, options: HubOptions): Promise<Hub> {
  const bus = new Bus(logger.child({ module: "bus" }));

  // Storage: the main connection never checkpoints (the history worker does, off this thread).
  // One process at a time on the database (a second hub, a restore): taken before anything opens it.
  const storeLock = acquireStoreLock(config.storage.path, { purpose: "hub", logger: logger.child({ module: "storage" }) });
  life.opened("store lock", () => storeLock.release());
  const db = openDatabase(config.storage.path, { checkpoints: false });
  life.opened("database", () => void db.close());
  const deviceStore = new DeviceStore(db);
  const audit = new SqliteAuditLog(db);
  let stopReason = "the start failed";
  // The last record before the database closes: the next start reads it to tell a planned stop from a crash.
  life.opened("stop record", () => void audit.append({ at: clock.now(), actor: HUB_ACTOR, action: "hub.stopped", target: "hub", result: "ok", reason: stopReason }));
  const history = new HistoryStore(config.storage.path, config.storage, { clock, logger: logger.child({ module: "history" }) });

  // Core.
  const registry = new Registry(
    { clock, bus },
    declaredDevices(config.devices),
  );
  registry.restore(deviceStore.load());
  // Timing of telemetry and trips for /metrics: the core sees two observer callbacks, never prom-client.
  const timings = new HubTimings();
  const pipeline = new TelemetryPipeline({ clock, bus, registry, observe: timings.pipeline }, config.intake);
  const alarms = new AlarmBook({ clock, bus, store: new SqliteAlarmStore(db, { logger }) });

  // MQTT: the embedded broker on its own thread, or an external one, behind one link.
  const { broker, link } = startLink(config, clock, logger, pipeline, registry, alarms);
  const adapter = new MqttDeviceAdapter({ site: config.site, link, pipeline });
  const serialBoards: Map<string, SerialBoard> = config.devices.some((d) => d.kind === "serial")
    ? (await import("./adapters/serial-board/index.ts")).buildSerialBoards(config, { clock, logger, pipeline, registry })
    : new Map<string, SerialBoard>();
  // The one command path: each command goes out over the carrier its device uses.
  const commands = new CommandService({ clock, registry, bus }, {
    sendCommand: (deviceId, actuator, message) => (serialBoards.get(deviceId) ?? adapter).sendCommand(deviceId, actuator, message),
  });
  pipeline.setAckSink(commands);
  const presence = new HubPresence({ site: config.site, link, clock });
  const ha = config.integrations.homeAssistant;
  const homeAssistant = ha.enabled
    ? new HomeAssistantDiscovery({ clock, logger: logger.child({ module: "home-assistant" }), bus, registry, link, site: config.site, siteName: config.siteName, prefix: ha.prefix, version: HUB_VERSION, store: new SqliteHaStore(db, { clock }) })
    : null;

  // Safety first: the interlock engine and its permissives exist before anything that asks them.
  const robotConfigs = config.devices.filter((d) => d.kind === "robot-opcua" || d.kind === "robot-firmata");
  const rules = [...config.interlocks, ...printerRulesOf(config), ...robotConfigs.flatMap((r) => robotRules({ id: r.id, name: r.name, label: deviceLabel(r), resetRoles: r.resetRoles }))];
  const engine = buildEngine(rules, config.safety, clock.now());
  const permits = new InterlockPermits(engine);
  const keeper = new ActuatorKeeper({ clock, registry, commands, logger: logger.child({ module: "keeper" }), permits });
  // Class visits open stations; a station starts only if open to the running visit.
  const visits = new VisitService({ clock });
  const stations = new StationRegistry({ bus, logger: logger.child({ module: "stations" }), permits, gates: [(id, label) => visits.blocks(id, label)] });
  const safety = new InterlockService({
    clock,
    bus,
    registry,
    alarms,
    audit,
    engine,
    commands,
    keeper,
    stations,
    store: new SqliteInterlockStore(db, { clock, logger }),
    logger: logger.child({ module: "interlocks" }),
    publish: (topic, payload) => link.publish(topic, payload, { retain: true, qos: 1 }),
    site: config.site,
    observe: timings.interlocks,
  });
  const enforcer = safety.enforcer;

  // Stations: printers and robots, each a device in the registry too; their faults trip their interlocks.
  const jobs = new JobHistory(db);
  const trip = (ruleId: string, detail: { nl: string; en: string }) => safety.trip(ruleId, detail);
  const printers: Printers = !config.devices.some((d) => d.kind === "printer") ? { stations: [], catalogues: new Map() } : await (await import("./adapters/printer/index.ts")).buildPrinters(config, {
    clock,
    logger,
    pipeline,
    changed: (id) => stations.changed(id),
    trip,
    note: (printer, action, reason) => audit.append({ at: clock.now(), actor: HUB_ACTOR, action, target: printer, result: "ok", reason }),
    jobEnded: (j) => {
      try {
        jobs.add({ station: j.printer, program: j.name, actor: j.actor, startedAt: j.startedAt, endedAt: j.endedAt, state: j.state, reason: j.reason, progressPct: j.progressPct, elapsedS: j.elapsedS });
      } catch (error) {
        logger.error({ err: error }, "job history");
      }
    },
  });
  for (const station of printers.stations) stations.add(station);
  // node-opcua's console output into the hub's log, before any OPC UA part runs (no-op if the CLI did it).
  if (config.opcua.enabled || config.devices.some((d) => d.kind === "robot-opcua")) await (await import("./adapters/opcua-log.ts")).routeOpcuaLogs(logger);
  const robotWiring: RobotWiring = {
    clock,
    logger,
    pipeline,
    pkiFolder: config.opcua.pkiFolder,
    changed: (id: string) => stations.changed(id),
    permissives: (id: string) => {
      const verdict = permits.check(asDeviceId(id), "start", 1);
      return { instructorPresent: visits.present(id), interlock: verdict.allowed ? null : verdict.reason };
    },
    trip,
    enforced: (id: string, why: { nl: string; en: string }) => {
      logger.warn({ station: id, why: why.en }, "robot reported running while the hub forbids it: halted");
      audit.append({ at: clock.now(), actor: HUB_ACTOR, action: "station.halted", target: id, result: "ok", reason: `running while not allowed: ${why.en}` });
    },
  };
  const robots: RobotStation[] = [
    ...(config.devices.some((d) => d.kind === "robot-opcua") ? (await import("./adapters/opcua-robot/index.ts")).buildOpcuaRobots(config, robotWiring) : []),
    ...(config.devices.some((d) => d.kind === "robot-firmata") ? (await import("./adapters/firmata-arm/stations.ts")).buildFirmataRobots(config, robotWiring) : []),
  ];
  for (const robot of robots) stations.add(robot);

  // What instructors started during a visit goes back to safe when it ends; the installation's own holds stay.
  const visitHolds = new Set<string>();
  const endOfVisit = async (visit: { id: string; label: string; stations: string[] }, reason: string) => {
    await Promise.allSettled(stations.ids().map((id) => stations.act(id, "stop", `visit "${visit.label}" ended: ${reason}`, HUB_ACTOR)));
    for (const key of visitHolds) {
      const [device, actuator] = key.split("/") as [string, string];
      enforcer.ensureSafe("visit-end", asDeviceId(device), actuator);
    }
    visitHolds.clear();
    audit.append({ at: clock.now(), actor: HUB_ACTOR, action: "visit.ended", target: visit.id, result: "ok", reason, details: { label: visit.label, stations: visit.stations } });
  };

  const unsubscribeAlarms = bus.on("device:changed", "alarms", (e) => {
    // A device the hub knew going away is worth a technician's look; its interlocks act on their own.
    if (e.state === "offline" && e.previous !== "unknown") {
      alarms.raise(`device-offline:${e.deviceId}`, "warning", e.deviceId, text("alarm.deviceOffline", { device: registry.label(e.deviceId) }));
    } else if (e.state !== "offline" && e.state !== "unknown") {
      alarms.clear(`device-offline:${e.deviceId}`);
    }
  });
  life.opened("alarm listener", unsubscribeAlarms);
  bus.on("telemetry:accepted", "history", (batch) => history.append(batch));

  // API: one command registry for HTTP and socket.io; sessions; live stream.
  // Refusals to clients without a session are counted per address and minute, not audited one by one.
  const refusals = new RefusalLedger({ clock, audit, logger: logger.child({ module: "refusals" }) });
  const auth = new AuthService({ clock, logger: logger.child({ module: "auth" }), users: config.users, sessions: config.sessions, alarms });
  const commandRegistry = new CommandRegistry({ clock, audit, logger: logger.child({ module: "commands" }), refusals });
  const diskGuard = new DiskGuard({ clock, logger: logger.child({ module: "disk-guard" }), alarms, maintenance: new StorageMaintenance(config.storage.path) }, config.storage);
  const backups = new BackupScheduler({ clock, logger: logger.child({ module: "backups" }), alarms, audit, diskLevel: () => diskGuard.currentLevel() }, { ...config.storage.backup, path: config.storage.path, folder: backupFolder(config), minFreeMB: config.storage.diskLowFreeMB });
  const terminals = new EstopTerminals({ db, clock });
  // The installation's own holds (the config's `hold:`): what the keeper asks for at start, and what "installation back on" restores.
  const configuredHolds = config.devices.flatMap((d) => (d.kind === "mqtt" || d.kind === "serial" ? Object.entries(d.hold).map(([actuator, value]) => ({ deviceId: asDeviceId(d.id), actuator, value })) : []));
  const installation = new Installation({ keeper, permits, registry }, configuredHolds);
  const noteRestore = (actor: Actor, r: ReturnType<Installation["restore"]>) => {
    const at = clock.now();
    for (const c of r.restored) audit.append({ at, actor, action: "actuator.start", target: `${c.deviceId}.${c.actuator}`, result: "ok", reason: "installation back on", details: { value: c.value } });
    for (const c of r.refused) audit.append({ at, actor, action: "actuator.start", target: `${c.deviceId}.${c.actuator}`, result: "refused", reason: c.reason.en, details: { value: c.value, via: "installation.restore" } });
  };
  registerHubCommands(commandRegistry, { interlocks: safety, alarms, keeper, commands, registry, stations, visits, serialBoards, terminals, installation, noteRestore, onStarted: (device, actuator) => visits.active !== null && visitHolds.add(`${device}/${actuator}`) });

  const live = new LiveStream({ clock, bus, registry, simClock: () => options.simClock?.current() ?? null }, { site: config.site, siteName: config.siteName, ...config.live }, {
    interlocks: () => safety.list(),
    interlock: (id) => safety.view(id),
    openAlarms: () => alarms.list({ open: true }),
    alarm: (key) => alarms.get(key),
    stations: () => stations.list(),
    station: (id) => (stations.ids().includes(id) ? stations.view(id) : undefined),
    holds: () => keeper.list(),
    visit: () => visits.active,
    actuatorOrder: (ref) => commandRegistry.latest(ref),
  });
  const monitor = new HubMonitor(clock, {
    version: HUB_VERSION,
    pipeline,
    mqtt: () => ({
      mode: config.broker.mode,
      description: link.description,
      connected: link.connected,
      ...link.stats(),
    }),
    live: () => ({ clients: live.clients, frames: live.counters.frames, skippedForSlowClients: live.counters.skippedForSlowClients }),
    history: () => ({ ...history.stats() }),
    deviceStates: () => registry.stateCounts(),
  });
  const metrics = createMetrics(monitor, timings);

  const app = await buildHttp({
    tls: config.http.tls,
    registry,
    history,
    monitor,
    metrics,
    dashboardDir: options.dashboardDir ?? DEFAULT_DASHBOARD_DIR,
    routes: [
      (a) => registerSessionRoutes(a, { auth, audit, clock, refusals }),
      (a) => registerCommandRoutes(a, { commands: commandRegistry, actorOf: auth.actorOf }),
      (a) => registerSafetyRoutes(a, { interlocks: safety, alarms, enforcer, installation, actorOf: auth.actorOf }),
      (a) => registerEstopRoutes(a, { interlocks: safety, terminals, actorOf: auth.actorOf, audit, clock, refusals, fromHubMachine: config.safety.estopFromHubMachine }),
      (a) => registerAuditRoutes(a, { audit, actorOf: auth.actorOf }),
      (a) => registerStationRoutes(a, { stations, jobs, audit, actorOf: auth.actorOf, catalogues: printers.catalogues, visits, keeper, refusals }),
    ],
  });
  // socket.io takes its own path on fastify's server and hands every other request on.
  // A socket.io message from a client is a command or a whoami: 16 KB, like a command over REST (1 MB by default).
  const io = new SocketServer(app.server, { serveClient: false, cors: { origin: false }, maxHttpBufferSize: COMMAND_BODY_LIMIT_BYTES });
  live.attach(io);
  attachLiveCommands(io, { commands: commandRegistry, auth });

  // Whether the last run ended with a planned stop: a crash or power loss leaves no record of one.
  const lastRun = audit.query({ action: "hub.*", limit: 1 }).records[0];
  const previous = lastRun === undefined ? "first start" : lastRun.action === "hub.stopped" ? "planned stop" : "crash or power loss (no planned stop recorded)";

  // Start, in order; everything started is stopped in reverse.
  await life.start("history", () => history.start(), () => history.stop());
  await life.start("mqtt", async () => {
    await link.listen();
    await link.start();
    await adapter.start();
  }, () => link.stop());
  await life.start("presence", () => presence.start(), () => presence.stop());
  // External broker: check at start (and on every reconnect) that it enforces the accounts; an alarm if it does not.
  const brokerCheck = config.broker.mode === "external" ? new BrokerSelfCheck({ config, link, alarms, logger: logger.child({ module: "broker-check" }), clock }) : null;
  await life.start("broker self-check", () => void brokerCheck?.start(), () => brokerCheck?.stop());
  if (homeAssistant !== null) await life.start("home assistant", () => homeAssistant.start(), () => homeAssistant.stop());
  await life.start("auth", () => auth.start(), () => auth.stop());
  await life.start("refusals", () => refusals.start(), () => refusals.stop());
  await life.start("disk guard", () => diskGuard.start(), () => diskGuard.stop());
  await life.start("backups", () => backups.start(), () => backups.stop());
  await life.start("serial boards", () => {
    for (const b of serialBoards.values()) b.start();
  }, async () => void (await Promise.allSettled([...serialBoards.values()].map((b) => b.stop()))));
  await life.start("stations", () => {
    stations.start();
    for (const p of printers.stations) p.connect();
    for (const r of robots) r.connect();
  }, () => stations.stopAll());
  await life.start("visits", () => visits.startService({ onEnd: endOfVisit }), () => visits.stop());
  await life.start("interlocks", () => safety.start(), () => safety.stop());
  await life.start("live stream", () => live.start(), () => live.stop());
  await life.start("monitor", () => monitor.start(), () => monitor.stop());
  await life.start("keeper", () => {
    keeper.start();
    for (const c of configuredHolds) keeper.holdWhenPermitted(c.deviceId, c.actuator, c.value);
  }, () => keeper.stop());

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
  await life.start("freshness sweep", () => sweeper.start(), () => sweeper.stop());
  // Only devices that changed are written: states soon, counters every SAVE_DEVICES_MS, in small slices.
  const deviceSaver = new DeviceSaver({ clock, bus, registry, store: deviceStore, logger: logger.child({ module: "device-store" }) }, { ...DEVICE_SAVER_DEFAULTS, periodMs: SAVE_DEVICES_MS });
  await life.start("device saver", () => deviceSaver.start(), () => deviceSaver.stop());

  const closeHttp = async () => {
    // io.close() also closes fastify's server underneath; app.close() then finishes fastify's hooks.
    await new Promise<void>((resolve) => void io.close(() => resolve()));
    await app.close();
  };
  try {
    await app.listen({ port: config.http.port, host: config.http.host });
  } catch (error) {
    await closeHttp();
    throw error;
  }
  // Stopped first: no request reaches a component that is already closing.
  life.opened("http and live stream", closeHttp);
  const addr = app.server.address();
  const httpPort = typeof addr === "object" && addr !== null ? addr.port : config.http.port;
  const opcua = config.opcua.enabled
    ? new (await import("./api/opcua-server.ts")).HubOpcuaServer(
        { host: config.opcua.host, port: config.opcua.port, pkiFolder: config.opcua.pkiFolder, siteName: config.siteName, version: HUB_VERSION },
        { registry, interlocks: safety, bus, logger: logger.child({ module: "opcua" }) },
      )
    : null;
  // After the HTTP listener: REST and the dashboards answer while the OPC UA server (about 2 s) comes up.
  if (opcua !== null) await life.start("opc ua server", () => opcua.start(), () => opcua.stop());

  const restored = safety.list().filter((v) => v.latched).map((v) => v.id);
  audit.append({ at: clock.now(), actor: HUB_ACTOR, action: "hub.started", target: "hub", result: "ok", reason: `after ${previous}`, details: { version: HUB_VERSION, previous, latchedTrips: restored } });
  logger.info({ httpPort, mqtt: link.description, previous, latchedTrips: restored }, "hub started");

  /** The planned part of a stop: recorded, everything safe, interlocks frozen before anything lets go of a device. */
  const plannedStop = async (reason: string) => {
    audit.append({ at: clock.now(), actor: HUB_ACTOR, action: "hub.stopping", target: "hub", result: "ok", reason });
    // Stations stop what they do (a print is cancelled: parked, heaters off; a robot program ends).
    await Promise.allSettled(stations.ids().map((id) => stations.act(id, "stop", `hub stopping: ${reason}`, HUB_ACTOR)));
    // Held actuators to safe, confirmed where the device answers in time; the rest fall back on their leases.
    const held = keeper.list();
    keeper.releaseAll();
    const sent = held.map((h) => {
      const spec = registry.view(h.deviceId)?.actuators[h.actuator];
      return spec === undefined ? Promise.resolve() : commands.send(h.deviceId, h.actuator, spec.safe);
    });
    let timer: { cancel(): void } | null = null;
    await Promise.race([Promise.allSettled(sent), new Promise<void>((resolve) => (timer = clock.setTimeout(resolve, STOP_CONFIRM_MS)))]);
    (timer as { cancel(): void } | null)?.cancel();
    // From here the hub's own disconnects latch nothing; trips latched before stay stored.
    safety.stop();
  };

  let stopped = false;
  return {
    httpPort,
    mqttPort: broker?.port ?? null,
    mqttTlsPort: broker?.tlsPort ?? null,
    mqttCaFile: broker !== null ? brokerCaFile(config) : null,
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
    async stop(reason = "planned stop") {
      if (stopped) return;
      stopped = true;
      stopReason = reason;
      try {
        await plannedStop(reason);
      } catch (error) {
        logger.error({ err: error }, "the planned part of the stop failed; closing everything anyway");
      }
      const failures = await life.stopAll();
      logger.info({ failures }, "hub stopped");
    },
  };
}
