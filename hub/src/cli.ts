/**
 * The `tec-hub` command line: `start` runs the hub (and, if the config enables them, the
 * simulators); `check-config` validates a config file and exits non-zero with every problem listed;
 * the others each live in `cli/<name>.ts` and are loaded only when asked for, so that a command
 * that needs no hub machinery starts in a fraction of a second.
 */
import type { DemoHardware, DemoSimulators } from "../../simulators/demo.ts";
import { routeOpcuaLogs } from "./adapters/opcua-log.ts";
import { hashSecret } from "./api/auth.ts";
import { createLogger, logFormat } from "./cli/logging.ts";
import { dataFolder } from "./config/paths.ts";
import { DEFAULT_CONFIG_PATH, loadConfig } from "./config/load.ts";
import { HubError } from "./core/errors.ts";

const USAGE = `usage: tec-hub <command> [arguments]

  start [config.yaml]                 run the hub (default config: ${DEFAULT_CONFIG_PATH})
  check-config [config.yaml]          check a config file; every problem at once
  hash-secret < secret                an scrypt hash of a password or PIN, for the config
  add-device --kind mqtt --id <id>    the YAML block and the board's config.h for a new device
  backup FILE [--config config.yaml]  an online backup of the hub's database into FILE
  restore FILE [--config config.yaml] put a backup back (refused while a hub runs on that database)
  broker-config --mosquitto DIR [--config config.yaml]
                                      Mosquitto 2.0 files (conf, passwords, ACL) with the hub's broker rules
  help                                this text`;

function usage(code = 2): never {
  (code === 0 ? console.log : console.error)(USAGE);
  process.exit(code);
}

function load(file: string) {
  try {
    return loadConfig(file);
  } catch (error) {
    if (error instanceof HubError) {
      console.error(`✗ ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
}

async function start(file: string): Promise<void> {
  const loaded = load(file);
  const { source, warnings } = loaded;
  const format = logFormat();
  const logger = createLogger(format);
  const say = (line: string) => (format === "pretty" ? console.log(line) : logger.info({}, line));
  for (const w of warnings) {
    if (format === "pretty") console.warn(`⚠ ${w}`);
    else logger.warn({ config: source }, w);
  }
  let config = loaded.config;
  // A stop asked for while the hub starts (a service manager's stop right after its start) waits
  // for the start to finish, then is the same planned stop: never a half-started hub killed.
  let early: string | null = null;
  let shutdown = (signal: string): void => {
    early ??= signal;
    say(`${signal}: stopping as soon as the start has finished…`);
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  // node-opcua's own console output goes into the log (and its one warning nobody can act on, to debug).
  if (config.opcua.enabled || config.devices.some((d) => d.kind === "robot-opcua")) await routeOpcuaLogs(logger);
  // Loaded here, not at the top: the other commands need none of the hub's machinery, and the
  // simulators only when the config runs them.
  const { startHub } = await import("./main.ts");
  const demo = config.simulators.tinyHouse.enabled ? await import("../../simulators/demo.ts") : null;
  // Simulated printers and robot cells first: they fill in the config's sim:// addresses.
  let hardware: DemoHardware | null = null;
  if (demo !== null) {
    hardware = await demo.startDemoHardware(config, dataFolder(config));
    config = hardware.config;
  }
  // The Tiny House's clock exists before both: the simulator drives it, the hub streams it.
  const simClock = demo !== null ? new demo.SimClock() : undefined;
  const hub = await startHub(config, { logger, ...(simClock !== undefined ? { simClock } : {}) });
  let sims: DemoSimulators | null = null;
  const th = config.simulators.tinyHouse;
  if (demo !== null && simClock !== undefined) {
    const brokerUrl = hub.mqttPort !== null ? `mqtt://127.0.0.1:${hub.mqttPort}` : (config.broker.url ?? "");
    sims = await demo.startDemoSimulators(config, brokerUrl, simClock);
    demo.registerSimCommands(hub.commandRegistry, sims, hardware);
  }
  const host = config.http.host === "0.0.0.0" ? "localhost" : config.http.host;
  const web = `${config.http.tls !== null ? "https" : "http"}://${host}:${hub.httpPort}`;
  const ready = {
    dashboard: web,
    api: `${web}/api/devices`,
    opcua: hub.opcuaUrl,
    mqtt: hub.mqttPort !== null ? `mqtt://${host}:${hub.mqttPort}` : config.broker.mode === "external" ? (config.broker.url ?? null) : null,
    mqtts: hub.mqttTlsPort !== null ? `mqtts://${host}:${hub.mqttTlsPort}` : null,
    caFile: hub.mqttCaFile,
    simulated: sims !== null ? [...sims.devices().keys(), ...(hardware !== null ? [...hardware.printers.keys(), ...hardware.netPrinters.keys(), ...hardware.cells.keys(), ...hardware.boards.keys(), ...hardware.arms.keys()] : [])] : [],
  };
  if (format === "json") {
    // Under a service manager the banner is one record among the others, readable by log tools.
    logger.info({ config: source, ...ready, notes: hardware?.notes ?? [] }, "TEC Hub ready");
  } else {
    // One write: no log line ends up inside the banner.
    console.log(`
TEC Hub ${config.siteName} (${source})
  Dashboard   ${web}
  REST API    ${web}/api/devices   (OpenAPI: /api/openapi.json, metrics: /metrics)
  OPC UA      ${hub.opcuaUrl ?? "off"}   (read-only: readings, device health, interlocks)
  MQTT        ${hub.mqttPort !== null ? `mqtt://${host}:${hub.mqttPort} (embedded broker)` : config.broker.mode === "embedded" ? "plain MQTT off (broker.plain: false): TLS only" : (config.broker.url ?? "")}${config.broker.observer !== null && (hub.mqttPort !== null || config.broker.mode === "external") ? `\n  Watch it    mosquitto_sub -h localhost -p ${hub.mqttPort ?? 1883} -u ${config.broker.observer.username} -P ${config.broker.observer.password} -t 'tec/#' -v` : ""}${hub.mqttTlsPort !== null ? `\n  MQTT TLS    mqtts://${host}:${hub.mqttTlsPort}   (CA: ${hub.mqttCaFile ?? "the CA that signed broker.tls.files.cert"})` : ""}${hub.mqttTlsPort !== null && config.broker.observer !== null ? `\n  Watch TLS   mosquitto_sub --cafile ${hub.mqttCaFile ?? "<ca.crt>"} -h localhost -p ${hub.mqttTlsPort} -u ${config.broker.observer.username} -P ${config.broker.observer.password} -t 'tec/#' -v` : ""}
  Simulators  ${sims !== null ? `Tiny House and e-stop button (${sims.devices().size} devices, ${th.speed}x speed)` : "off"}${hardware !== null && (hardware.printers.size > 0 || hardware.netPrinters.size > 0 || hardware.cells.size > 0) ? `\n  Stations    ${[...hardware.printers.keys(), ...[...hardware.netPrinters.entries()].map(([id, p]) => `${id} (${p.protocol} on ${p.url})`), ...hardware.cells.keys()].join(", ")} (simulated)` : ""}${hardware !== null && hardware.boards.size > 0 ? `\n  Serial      ${[...hardware.boards.entries()].map(([id, b]) => `${id} on ${b.url}`).join(", ")} (simulated)` : ""}${(hardware?.notes ?? []).map((n) => `\n  Note        ${n}`).join("")}${config.users.length > 0 ? `\n  Logins      ${config.users.map((u) => `${u.name} (${u.role})`).join(", ")}` : ""}
Press Ctrl-C to stop.
`);
  }
  let stopping = false;
  shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping…`);
    const force = setTimeout(() => {
      logger.error({}, "shutdown took longer than 10 s; exiting");
      process.exit(1);
    }, 10_000);
    force.unref();
    void (async () => {
      try {
        // The hub first: its planned stop puts everything safe while the devices still listen, and
        // freezes the interlocks before the simulators go away (their going away latches nothing).
        await hub.stop(`planned stop (${signal})`);
        await sims?.stop();
        await hardware?.stop();
        say("stopped cleanly");
        logger.flush();
        process.exit(0);
      } catch (error) {
        logger.error({ err: error }, "error while stopping");
        process.exit(1);
      }
    })();
  };
  if (early !== null) shutdown(early);
}

function checkConfig(file: string): void {
  const { config, source, warnings } = load(file);
  console.log(`✓ ${source}: site "${config.site}", ${config.devices.length} device(s), broker ${config.broker.mode}`);
  for (const w of warnings) console.warn(`⚠ ${w}`);
}

/** Commands that live in their own module: `run(args)` resolves to the exit code. */
const MODULES: Record<string, () => Promise<{ run: (args: string[]) => Promise<number> }>> = {
  "add-device": () => import("./cli/add-device.ts"),
  backup: () => import("./cli/backup.ts").then((m) => ({ run: m.runBackup })),
  restore: () => import("./cli/backup.ts").then((m) => ({ run: m.runRestore })),
  "broker-config": () => import("./cli/broker-config.ts"),
};

const [command, ...args] = process.argv.slice(2);
const file = args[0] ?? DEFAULT_CONFIG_PATH;
switch (command) {
  case "hash-secret": {
    // The secret comes from stdin, so it stays out of the shell history.
    const chunks: Buffer[] = [];
    process.stdin.on("data", (c: Buffer) => chunks.push(c));
    process.stdin.on("end", () => {
      const plain = Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
      if (plain.length === 0) {
        console.error("usage: echo -n <secret> | tec-hub hash-secret");
        process.exit(2);
      }
      console.log(hashSecret(plain));
    });
    break;
  }
  case "start":
    start(file).catch((error: unknown) => {
      console.error(`✗ the hub did not start: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    });
    break;
  case "check-config":
    checkConfig(file);
    break;
  case "help":
  case "--help":
  case "-h":
    usage(0);
    break;
  default: {
    const load = command === undefined ? undefined : MODULES[command];
    if (load === undefined) usage();
    load()
      .then((m) => m.run(args))
      .then((code) => process.exit(code))
      .catch((error: unknown) => {
        console.error(`✗ ${command}: ${error instanceof HubError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        process.exit(1);
      });
  }
}
