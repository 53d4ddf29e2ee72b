/**
 * Config file -> environment overrides -> zod -> a frozen object. Never writes the file back.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseDocument } from "yaml";
import { HubError } from "../core/errors.ts";
import { HubConfig } from "./schema.ts";
import { RECOMMENDED_PIN_DIGITS } from "./users.ts";

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
    });
  }
  return { config: deepFreeze(config), source, warnings };
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
