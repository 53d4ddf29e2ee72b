/**
 * `tec-hub add-device --kind mqtt --id <id> [--name "..."] [--board esp32|arduino] [--host <name>]
 * [--config config.yaml]`: what a new board needs, printed, never written into the config.
 *
 * For an MQTT board (the ESP32): a fresh random secret, the YAML block to paste under `devices:`
 * with only the secret's scrypt hash in it, and the board's `config.h` (firmware-bridge/esp32/
 * tiny_house_esp32/config.example.h, the same defines) with the secret itself, the broker's TLS
 * port and its CA when the broker has TLS. The secret is shown this once: the hub keeps its hash.
 *
 * Arduino boards here speak the serial contract (firmware-bridge/arduino), not MQTT: for them
 * `--kind serial` prints the serial block; `--kind mqtt --board arduino` is refused.
 */
import { X509Certificate, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { DEVICE_ID_PATTERN } from "../../../firmware-bridge/contract/messages.ts";
import { hashSecret } from "../api/auth.ts";
import { DEFAULT_CONFIG_PATH, loadConfig } from "../config/load.ts";
import { brokerCaFile, tlsFolder } from "../config/paths.ts";
import type { HubConfig } from "../config/schema.ts";

const USAGE = `usage: tec-hub add-device --kind mqtt --id <id> [--name "..."] [--board esp32] [--host <broker address>] [--config config.yaml]
       tec-hub add-device --kind serial --id <id> [--name "..."] [--board arduino] [--config config.yaml]`;

/** 24 random bytes: 192 bits, far beyond guessing even without the broker's backoff. */
const SECRET_BYTES = 24;
const SKETCH_CONFIG = "firmware-bridge/esp32/tiny_house_esp32/config.h";
/** A placeholder the person has to replace; it compiles, so the comment next to it says so. */
const CHANGE_ME = "change-me";

interface Args {
  kind: "mqtt" | "serial";
  id: string;
  name: string;
  board: "esp32" | "arduino";
  host: string | undefined;
  config: string;
}

function parse(args: string[]): Args | string {
  const values = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    const eq = a.indexOf("=");
    const [flag, inline] = a.startsWith("--") && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    if (!["--kind", "--id", "--name", "--board", "--host", "--config"].includes(flag)) return `unknown argument ${a}`;
    const value = inline ?? args[++i];
    if (value === undefined) return `${flag} needs a value`;
    if (values.has(flag)) return `${flag} given twice`;
    values.set(flag, value);
  }
  const kind = values.get("--kind");
  const id = values.get("--id");
  if (kind === undefined || id === undefined) return "--kind and --id are required";
  if (kind !== "mqtt" && kind !== "serial") return `--kind ${kind}: add-device makes mqtt devices (ESP32 boards) and serial devices (Arduino boards); for printers and robots see config/demo.yaml`;
  if (!DEVICE_ID_PATTERN.test(id)) return `--id "${id}" is not a device id: it must match ${String(DEVICE_ID_PATTERN)} (lower-case letters, digits and dashes, at most 48, starting with a letter or digit)`;
  const board = values.get("--board") ?? (kind === "mqtt" ? "esp32" : "arduino");
  if (board !== "esp32" && board !== "arduino") return `--board ${board}: esp32 or arduino`;
  if (kind === "mqtt" && board === "arduino") {
    return "--kind mqtt --board arduino: the Arduino boards here speak the serial contract over USB (firmware-bridge/arduino), not MQTT; use --kind serial --board arduino, or --board esp32 for an MQTT board";
  }
  if (kind === "serial" && board === "esp32") return "--kind serial --board esp32: the ESP32 sketch speaks MQTT; use --kind mqtt --board esp32";
  const name = values.get("--name") ?? id;
  if (name.trim().length === 0 || name.length > 80) return "--name must be 1 to 80 characters";
  const host = values.get("--host");
  if (host !== undefined && !/^[A-Za-z0-9.:-]{1,253}$/.test(host)) return `--host "${host}" is not a host name or address`;
  if (kind === "serial" && host !== undefined) return "--host is for mqtt devices (the broker's address the board connects to)";
  return { kind, id, name, board, host, config: values.get("--config") ?? DEFAULT_CONFIG_PATH };
}

/** A YAML scalar: a JSON string is a valid double-quoted YAML scalar. */
const yamlString = (s: string): string => JSON.stringify(s);

/** A C string literal. */
const cString = (s: string): string => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;

/** Why `id` cannot be added to `config`, or null. */
function clash(config: Readonly<HubConfig>, id: string): string | null {
  const at = config.devices.findIndex((d) => d.id === id);
  if (at >= 0) return `device "${id}" is already in the config (devices.${at})`;
  const accounts = [config.broker.observer?.username, config.broker.hub?.username];
  if (accounts.includes(id)) return `"${id}" is a broker account name in the config`;
  return null;
}

/** Names the broker's certificate is valid for: read from the self-made server.crt if it is there. */
function certificateNames(config: Readonly<HubConfig>): string[] | null {
  const tls = config.broker.tls;
  if (tls === null) return null;
  const file = tls.files?.cert ?? path.join(tlsFolder(config), "server.crt");
  try {
    const san = new X509Certificate(readFileSync(path.resolve(file))).subjectAltName ?? "";
    return san
      .split(/,\s*/)
      .map((s) => s.replace(/^(DNS|IP Address):/, ""))
      .filter((s) => s.length > 0);
  } catch {
    return null;
  }
}

function mqttBlock(a: Args, hash: string): string {
  return [
    `  # ${a.id}: added by tec-hub add-device; the password is the scrypt hash of the secret in the board's config.h`,
    "  - kind: mqtt",
    `    id: ${a.id}`,
    `    name: ${yamlString(a.name)}`,
    `    password: ${yamlString(hash)}`,
  ].join("\n");
}

function serialBlock(a: Args): string {
  return [
    `  # ${a.id}: added by tec-hub add-device. url: the board's USB serial port; better a stable one,`,
    "  # serial:///dev/serial/by-id/usb-…-if00 or serial://?vid=2341&pid=0043&serial=<its serial number>",
    "  - kind: serial",
    `    id: ${a.id}`,
    `    name: ${yamlString(a.name)}`,
    `    url: ${yamlString("serial:///dev/ttyACM0?baud=115200")}`,
  ].join("\n");
}

interface BrokerTarget {
  host: string;
  /** Why the host is a placeholder, or null when it is a real address. */
  hostNote: string | null;
  port: number;
  tls: boolean;
  /** The CA PEM, or why there is none (TLS only). */
  ca: { pem: string; file: string } | { missing: string } | null;
}

function brokerTarget(config: Readonly<HubConfig>, host: string | undefined): BrokerTarget {
  const b = config.broker;
  if (b.mode === "external") {
    const url = new URL(b.url ?? "mqtt://localhost:1883");
    const tls = url.protocol === "mqtts:";
    return {
      host: host ?? url.hostname,
      hostNote: null,
      port: url.port !== "" ? Number(url.port) : tls ? 8883 : 1883,
      tls,
      ca: tls ? { missing: "the external broker's CA: paste the PEM of the CA that signed its certificate here" } : null,
    };
  }
  const tls = b.tls;
  const names = certificateNames(config);
  const wildcard = b.host === "0.0.0.0" || b.host === "::" || b.host === "";
  const chosen = host ?? tls?.hostnames[0] ?? (wildcard ? undefined : b.host);
  const hostNote =
    chosen !== undefined
      ? null
      : tls !== null
        ? `CHANGE ME: the hub's address on the board's network, one its certificate is valid for${names !== null ? ` (${names.join(", ")})` : " (localhost, the hub's host name and broker.tls.hostnames)"}`
        : "CHANGE ME: the hub's address on the board's network";
  const target = { host: chosen ?? (tls !== null ? "hub.example" : "192.168.1.10"), hostNote };
  if (tls === null) return { ...target, port: b.port, tls: false, ca: null };
  const caFile = brokerCaFile(config);
  let ca: BrokerTarget["ca"];
  if (caFile === null) ca = { missing: "broker.tls.files names no ca: paste the PEM of the CA that signed broker.tls.files.cert here" };
  else if (!existsSync(caFile)) ca = { missing: `${caFile} does not exist yet: start the hub once to make it, then paste that file here` };
  else ca = { pem: readFileSync(caFile, "utf8"), file: caFile };
  return { ...target, port: tls.port, tls: true, ca };
}

/** The board's config.h: the defines of config.example.h, filled in. */
function esp32Header(config: Readonly<HubConfig>, a: Args, secret: string, target: BrokerTarget): string {
  const lines = [
    `// ${SKETCH_CONFIG} for device "${a.id}" (${a.name}), made by tec-hub add-device.`,
    "// It holds the device's secret, which the hub keeps only as a hash: keep this file private",
    "// (it is git-ignored) and do not lose it, or make a new secret with add-device.",
    "#pragma once",
    "",
    `#define TEC_WIFI_SSID ${cString(CHANGE_ME)}  // CHANGE ME: the Wi-Fi network`,
    `#define TEC_WIFI_PASSWORD ${cString(CHANGE_ME)}  // CHANGE ME`,
    `#define TEC_MQTT_HOST ${cString(target.host)}${target.hostNote !== null ? `  // ${target.hostNote}` : target.tls ? "  // must be a name the broker's certificate is valid for" : ""}`,
    `#define TEC_MQTT_PORT ${target.port}${target.tls ? "  // MQTT over TLS" : ""}`,
    `#define TEC_SITE ${cString(config.site)}`,
    `#define TEC_DEVICE ${cString(a.id)}`,
    `#define TEC_DEVICE_PASSWORD ${cString(secret)}`,
  ];
  if (target.tls && target.ca !== null) {
    lines.push("");
    if ("pem" in target.ca) {
      const pem = target.ca.pem.trim().split(/\r?\n/);
      lines.push(`// The CA the board checks the broker's certificate against (${target.ca.file}).`);
      lines.push("#define TEC_MQTT_CA \\");
      pem.forEach((l, i) => lines.push(`  ${cString(`${l}\n`)}${i < pem.length - 1 ? " \\" : ""}`));
    } else {
      lines.push(`// TEC_MQTT_CA: ${target.ca.missing}`);
      lines.push('// as  "-----BEGIN CERTIFICATE-----\\n" \\  one quoted line per PEM line.');
      lines.push(`#error "TEC_MQTT_CA is missing: see the comment above it in config.h"`);
      lines.push('#define TEC_MQTT_CA ""');
    }
  }
  return `${lines.join("\n")}\n`;
}

export function run(args: string[]): Promise<number> {
  return Promise.resolve(addDevice(args));
}

function addDevice(args: string[]): number {
  const a = parse(args);
  if (typeof a === "string") {
    console.error(`✗ add-device: ${a}\n${USAGE}`);
    return 2;
  }
  // Read, never written: the person pastes the block where it belongs (and keeps the file's comments).
  const { config, source } = loadConfig(a.config);
  const problem = clash(config, a.id);
  if (problem !== null) {
    console.error(`✗ add-device: ${problem} (${source}); pick another id`);
    return 1;
  }

  if (a.kind === "serial") {
    process.stdout.write(`# ---- paste under devices: in ${source} ----\n${serialBlock(a)}\n`);
    console.error(
      [
        "",
        `Set url to the board's serial port. The Arduino sketch (firmware-bridge/arduino/tiny_house_board) has no config`,
        "of its own and no password: the hub knows the board by its port. Flash it as it is:",
        "  make -C firmware-bridge flash PORT=/dev/ttyACM0",
        "Then check the config (tec-hub check-config) and restart the hub.",
      ].join("\n"),
    );
    return 0;
  }

  const secret = randomBytes(SECRET_BYTES).toString("base64url");
  // Blocking scrypt is fine here: a command line tool, one hash.
  const hash = hashSecret(secret);
  const target = brokerTarget(config, a.host);
  const header = esp32Header(config, a, secret, target);
  process.stdout.write(`# ---- paste under devices: in ${source} ----\n${mqttBlock(a, hash)}\n\n// ---- ${SKETCH_CONFIG} ----\n${header}`);
  const todo = [
    "",
    "⚠ The device's secret is shown this once, in config.h above (TEC_DEVICE_PASSWORD): the config keeps only its",
    "  scrypt hash. Save config.h now; if it is lost, remove the block and run add-device again.",
    "Next: paste the block under devices:, fill in the Wi-Fi lines of config.h" + (target.hostNote !== null ? " and TEC_MQTT_HOST" : "") + ", run tec-hub check-config,",
    "restart the hub, and flash the board (firmware-bridge/esp32/README.md).",
  ];
  if (config.broker.mode === "external") todo.push(`The broker is external (${config.broker.url ?? "?"}): give it the account "${a.id}" with this secret yourself; the hub does not check it.`);
  if (target.ca !== null && "missing" in target.ca) todo.push(`The broker has TLS but its CA is not at hand: ${target.ca.missing}. config.h stops the build until it is in.`);
  console.error(todo.join("\n"));
  return 0;
}
