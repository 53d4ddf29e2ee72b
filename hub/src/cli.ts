/**
 * The `tec-hub` command line: `start` runs the hub (and, if the config enables them, the
 * simulators); `check-config` validates a config file and exits non-zero with every problem listed;
 * the others each live in `cli/<name>.ts` and are loaded only when asked for, so that a command
 * that needs no hub machinery starts in a fraction of a second.
 */
import path from "node:path";
import { pino } from "pino";
import type { DemoHardware, DemoSimulators } from "../../simulators/demo.ts";
import { hashSecret } from "./api/auth.ts";
import { DEFAULT_CONFIG_PATH, loadConfig } from "./config/load.ts";
import { HubError } from "./core/errors.ts";

const USAGE = `usage: tec-hub <command> [arguments]

  start [config.yaml]                 run the hub (default config: ${DEFAULT_CONFIG_PATH})
  check-config [config.yaml]          check a config file; every problem at once
  hash-secret < secret                an scrypt hash of a password or PIN, for the config
  add-device --kind mqtt --id <id>    the YAML block and the board's config.h for a new device
  backup FILE [--config config.yaml]  an online backup of the hub's database into FILE
  restore FILE [--config config.yaml] put a backup back (refused while a hub runs on that database)
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
  // Loaded here, not at the top: check-config and hash-secret need none of the hub's machinery.
  const { startHub } = await import("./main.ts");
  const { registerSimCommands, SimClock, startDemoHardware, startDemoSimulators } = await import("../../simulators/demo.ts");
  const loaded = load(file);
  const { source, warnings } = loaded;
  for (const w of warnings) console.warn(`⚠ ${w}`);
  const logger = pino({ level: process.env.TEC_LOG_LEVEL ?? "info", base: undefined });
  // Simulated printers and robot cells first: they fill in the config's sim:// addresses.
  let hardware: DemoHardware | null = null;
  let config = loaded.config;
  if (config.simulators.tinyHouse.enabled) {
    hardware = await startDemoHardware(config, path.dirname(path.resolve(config.storage.path)));
    config = hardware.config;
  }
  // The Tiny House's clock exists before both: the simulator drives it, the hub streams it.
  const simClock = new SimClock();
  const hub = await startHub(config, { logger, simClock });
  let sims: DemoSimulators | null = null;
  const th = config.simulators.tinyHouse;
  if (th.enabled) {
    const brokerUrl = hub.mqttPort !== null ? `mqtt://127.0.0.1:${hub.mqttPort}` : (config.broker.url ?? "");
    sims = await startDemoSimulators(config, brokerUrl, simClock);
    registerSimCommands(hub.commandRegistry, sims, hardware);
  }
  const host = config.http.host === "0.0.0.0" ? "localhost" : config.http.host;
  console.log(`
TEC Hub ${config.siteName} (${source})
  Dashboard   http://${host}:${hub.httpPort}
  REST API    http://${host}:${hub.httpPort}/api/devices   (OpenAPI: /api/openapi.json, metrics: /metrics)
  OPC UA      ${hub.opcuaUrl ?? "off"}   (read-only: readings, device health, interlocks)
  MQTT        ${hub.mqttPort !== null ? `mqtt://${host}:${hub.mqttPort} (embedded broker)` : (config.broker.url ?? "")}${config.broker.observer !== null ? `\n  Watch it    mosquitto_sub -h localhost -p ${hub.mqttPort ?? 1883} -u ${config.broker.observer.username} -P ${config.broker.observer.password} -t 'tec/#' -v` : ""}
  Simulators  ${sims !== null ? `Tiny House and e-stop button (${sims.devices().size} devices, ${th.speed}x speed)` : "off"}${hardware !== null && (hardware.printers.size > 0 || hardware.cells.size > 0) ? `\n  Stations    ${[...hardware.printers.keys(), ...hardware.cells.keys()].join(", ")} (simulated)` : ""}${hardware !== null && hardware.boards.size > 0 ? `\n  Serial      ${[...hardware.boards.entries()].map(([id, b]) => `${id} on ${b.url}`).join(", ")} (simulated)` : ""}${(hardware?.notes ?? []).map((n) => `\n  Note        ${n}`).join("")}${config.users.length > 0 ? `\n  Logins      ${config.users.map((u) => `${u.name} (${u.role})`).join(", ")}` : ""}
Press Ctrl-C to stop.
`);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping…`);
    const force = setTimeout(() => {
      console.error("shutdown took longer than 10 s; exiting");
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
        console.log("stopped cleanly");
        process.exit(0);
      } catch (error) {
        console.error("error while stopping:", error);
        process.exit(1);
      }
    })();
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
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
