/**
 * Config file -> environment overrides -> zod -> a frozen object. Never writes the file back.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseDocument } from "yaml";
import { HubError } from "../core/errors.ts";
import { HubConfig } from "./schema.ts";
import { RECOMMENDED_PIN_DIGITS, SECRET_HASH_PATTERN } from "./users.ts";

export const DEFAULT_CONFIG_PATH = "config/demo.yaml";

/** Passwords that ship in the demo config; `check-config` warns if one is left in a real config. */
const DEMO_PASSWORDS = new Set(["observer", "demo", "password", "changeme", "tec", "hub"]);

export interface LoadedConfig {
  config: Readonly<HubConfig>;
  /** Absolute path of the file, or "(inline)". */
  source: string;
  warnings: string[];
}

export interface ConfigProblem {
  path: string;
  message: string;
}

/** Environment overrides for what a newcomer most often needs to move: the two ports. */
function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const num = (name: string): number | undefined => {
    const v = env[name];
    if (v === undefined || v === "") return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new HubError("CONFIG_INVALID", `${name}=${v} is not a port number`);
    return n;
  };
  const http = num("TEC_HTTP_PORT");
  const mqtt = num("TEC_MQTT_PORT");
  if (http !== undefined) raw.http = { ...(raw.http as object | undefined), port: http };
  if (mqtt !== undefined) raw.broker = { ...(raw.broker as object | undefined), port: mqtt };
  // Moves the TLS listener where the config has one; it does not turn TLS on.
  const mqtts = num("TEC_MQTTS_PORT");
  const brokerTls = (raw.broker as { tls?: unknown } | undefined)?.tls;
  if (mqtts !== undefined && typeof brokerTls === "object" && brokerTls !== null) {
    raw.broker = { ...(raw.broker as object), tls: { ...brokerTls, port: mqtts } };
  }
  const opcua = num("TEC_OPCUA_PORT");
  if (opcua !== undefined) raw.opcua = { ...(raw.opcua as object | undefined), port: opcua };
  if (env.TEC_DB_PATH) raw.storage = { ...(raw.storage as object | undefined), path: env.TEC_DB_PATH };
}

export function parseConfig(raw: unknown, source = "(inline)", env: NodeJS.ProcessEnv = {}): LoadedConfig {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new HubError("CONFIG_INVALID", `${source}: the config must be a YAML mapping`, [{ path: "(root)", message: "must be a mapping" }]);
  }
  const copy = { ...(raw as Record<string, unknown>) };
  applyEnv(copy, env);
  const result = HubConfig.safeParse(copy);
  if (!result.success) {
    const problems: ConfigProblem[] = result.error.issues.map((i) => ({
      path: i.path.length > 0 ? i.path.map(String).join(".") : "(root)",
      message: i.message,
    }));
    throw new HubError("CONFIG_INVALID", `${source}: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p.path}: ${p.message}`).join("\n")}`, problems);
  }
  const config = result.data;
  const warnings: string[] = [];
  if (!config.demo) {
    // The embedded broker checks device and observer passwords, so it may hold their hashes.
    const embedded = config.broker.mode === "embedded";
    const check = (where: string, password: string | undefined) => {
      if (password !== undefined && DEMO_PASSWORDS.has(password)) warnings.push(`${where}: a demo password ("${password}") is left in a config not marked demo: true`);
    };
    check("broker.observer.password", config.broker.observer?.password);
    check("broker.hub.password", config.broker.hub?.password);
    config.users.forEach((u, i) => {
      const secret = "pin" in u ? u.pin : "password" in u ? u.password : undefined;
      if (secret !== undefined) warnings.push(`users.${i}: ${u.name} has a plain ${"pin" in u ? "PIN" : "password"}; prefer secretHash (npm run hash-secret)`);
      if (secret !== undefined && (DEMO_PASSWORDS.has(secret) || secret === "1234" || secret === "technician")) warnings.push(`users.${i}: a demo secret is left in a config not marked demo: true`);
      // The schema still takes 4 digits so that existing configs start; a guess budget makes a
      // 4-digit PIN a 1 in 13 chance a day for someone with a /24 of addresses (config/users.ts).
      if ("pin" in u && u.pin !== undefined && u.pin.length < RECOMMENDED_PIN_DIGITS) {
        warnings.push(`users.${i}.pin: ${u.name}'s PIN has ${u.pin.length} digits; use at least ${RECOMMENDED_PIN_DIGITS}, which guessing from the school network cannot get through in a school day`);
      }
    });
    config.devices.forEach((d, i) => {
      if (d.kind !== "mqtt") return;
      check(`devices.${i}.password`, d.password);
      if (d.password === d.id) warnings.push(`devices.${i}.password: equals the device id`);
      // A simulated device's simulator logs in with this password, so it has to stay plain.
      if (embedded && !d.simulated && !SECRET_HASH_PATTERN.test(d.password)) warnings.push(`devices.${i}.password is a plain password: store its scrypt hash (tec-hub hash-secret)`);
    });
    config.devices.forEach((d, i) => {
      if (d.kind !== "printer" || d.simulated || d.auth === undefined) return;
      // A digest password can stand in the config as its HA1 hash; an API key or access code cannot be hashed (the printer checks it as given).
      if (d.protocol === "prusalink" && d.auth.password !== undefined && !d.auth.password.startsWith("ha1:")) {
        warnings.push(`devices.${i}.auth.password is the PrusaLink password itself: store its digest hash instead, auth.password: "ha1:<md5 of user:realm:password>" (README, network printers)`);
      }
    });
    const observer = config.broker.observer;
    if (embedded && observer !== null && !SECRET_HASH_PATTERN.test(observer.password)) warnings.push("broker.observer.password is a plain password: store its scrypt hash (tec-hub hash-secret)");
  }
  warnings.push(...brokerHashWarnings(config));
  return { config: deepFreeze(config), source, warnings };
}

/**
 * Broker passwords in the wrong form, demo or not: a hash where the hub has to send the password
 * itself (its own account on an external broker), or something that starts like a hash but is not
 * one the broker can check (the device would be refused at every connect).
 */
function brokerHashWarnings(config: HubConfig): string[] {
  const out: string[] = [];
  const hub = config.broker.hub;
  if (hub !== undefined && (SECRET_HASH_PATTERN.test(hub.password) || hub.password.startsWith("scrypt$"))) {
    out.push("broker.hub.password is an scrypt hash, but the hub sends this password to the external broker: it must be the plain password (keep the config file readable by the hub only)");
  }
  const broken = (where: string, password: string) => {
    const cost = Number(SECRET_HASH_PATTERN.exec(password)?.[1]);
    const usable = Number.isInteger(Math.log2(cost)) && cost >= 2 ** 10 && cost <= 2 ** 20;
    if (password.startsWith("scrypt$") && !usable) out.push(`${where} starts like an scrypt hash but is not one ("scrypt$<N>$<salt base64>$<hash base64>", N a power of two from 1024 to 1048576, as tec-hub hash-secret prints): the broker would take it as a plain password`);
  };
  if (config.broker.observer !== null) broken("broker.observer.password", config.broker.observer.password);
  config.devices.forEach((d, i) => {
    if (d.kind === "mqtt") broken(`devices.${i}.password`, d.password);
  });
  return out;
}

export function loadConfig(file: string = DEFAULT_CONFIG_PATH, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, "utf8");
  } catch (error) {
    throw new HubError("CONFIG_NOT_FOUND", `cannot read config ${abs}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => ({ path: `line ${e.linePos?.[0]?.line ?? "?"}`, message: e.message.split("\n")[0] ?? e.message }));
    throw new HubError("CONFIG_INVALID", `${abs}: not valid YAML\n${problems.map((p) => `  - ${p.path}: ${p.message}`).join("\n")}`, problems);
  }
  return parseConfig(doc.toJS(), abs, env);
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
