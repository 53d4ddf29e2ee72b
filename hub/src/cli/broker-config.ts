/**
 * `tec-hub broker-config --mosquitto DIR [--config config.yaml]`: the hub's broker rules as
 * Mosquitto 2.0 files in DIR (`mosquitto.conf`, `password_file`, `acl_file`; broker/mosquitto-files.ts
 * says what each holds). Never writes the hub's config. Idempotent: a file whose content would not
 * change is not touched, and a password line that still matches its secret is kept with its salt.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { generateMosquittoFiles, MosquittoConfigError, type MosquittoFiles } from "../broker/mosquitto-files.ts";
import { DEFAULT_CONFIG_PATH, loadConfig } from "../config/load.ts";

const USAGE = `usage: tec-hub broker-config --mosquitto DIR [--config config.yaml] [--fragment]

  --fragment  for a folder the main mosquitto.conf includes (Debian: include_dir /etc/mosquitto/conf.d):
              persistence is left to the main config`;

function parse(args: string[]): { dir: string; config: string; fragment: boolean } | string {
  let dir: string | undefined;
  let config = DEFAULT_CONFIG_PATH;
  let fragment = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? "";
    if (a === "--fragment") {
      fragment = true;
      continue;
    }
    const eq = a.indexOf("=");
    const [flag, inline] = a.startsWith("--") && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    if (flag !== "--mosquitto" && flag !== "--config") return `unknown argument ${a}\n${USAGE}`;
    const value = inline ?? args[++i];
    if (value === undefined || value === "") return `${flag} needs a value\n${USAGE}`;
    if (flag === "--mosquitto") dir = value;
    else config = value;
  }
  if (dir === undefined) return USAGE;
  return { dir, config, fragment };
}

/** Secrets' hashes: readable by the broker's group (Debian's mosquitto), nobody else. */
const MODES: Record<keyof MosquittoFiles, number> = { "mosquitto.conf": 0o644, password_file: 0o640, acl_file: 0o644 };

/**
 * The `mosquitto` user's ids (Debian's package makes it), or null. Mosquitto started as root drops
 * to that user before it reads the password file and writes its persistence folder: run as root,
 * the command gives the password file to its group and the persistence folder to it.
 */
function brokerUser(): { uid: number; gid: number } | null {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return null;
  try {
    const line = readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .find((l) => l.startsWith("mosquitto:"));
    const [, , uid, gid] = line?.split(":") ?? [];
    return uid !== undefined && gid !== undefined ? { uid: Number(uid), gid: Number(gid) } : null;
  } catch {
    return null;
  }
}

export function run(argv: string[]): Promise<number> {
  return Promise.resolve(generate(argv));
}

function generate(argv: string[]): number {
  const args = parse(argv);
  if (typeof args === "string") {
    console.error(args);
    return 2;
  }
  const { config, source } = loadConfig(args.config);
  const dir = path.resolve(args.dir);
  if (path.resolve(source) === path.join(dir, "mosquitto.conf")) {
    console.error(`✗ broker-config: ${dir} holds the hub's own config file; choose another folder`);
    return 1;
  }
  const previousFile = path.join(dir, "password_file");
  let generated;
  try {
    generated = generateMosquittoFiles(config, { dir, fragment: args.fragment, previousPasswordFile: existsSync(previousFile) ? readFileSync(previousFile, "utf8") : null });
  } catch (error) {
    if (error instanceof MosquittoConfigError) {
      console.error(`✗ broker-config: ${source} cannot be written out for Mosquitto:`);
      for (const p of error.problems) console.error(`  - ${p}`);
      return 1;
    }
    throw error;
  }
  mkdirSync(dir, { recursive: true });
  const data = args.fragment ? null : path.join(dir, "data");
  const owner = brokerUser();
  if (data !== null) {
    mkdirSync(data, { recursive: true, mode: 0o750 });
    if (owner !== null) chownSync(data, owner.uid, owner.gid);
  }
  console.log(`Mosquitto files for site "${config.site}" from ${source}, in ${dir}:`);
  for (const [name, text] of Object.entries(generated.files) as Array<[keyof MosquittoFiles, string]>) {
    const file = path.join(dir, name);
    const same = existsSync(file) && readFileSync(file, "utf8") === text;
    if (!same) {
      writeFileSync(file, text, { mode: MODES[name] });
      chmodSync(file, MODES[name]);
    }
    if (owner !== null && name === "password_file") chownSync(file, 0, owner.gid);
    console.log(`  ${same ? "unchanged" : "wrote    "}  ${file}`);
  }
  const devices = config.devices.filter((d) => d.kind === "mqtt").length;
  console.log(`  accounts   ${devices} device(s)${config.broker.observer !== null ? `, observer "${config.broker.observer.username}"` : ""}${config.broker.hub !== undefined ? `, hub "${config.broker.hub.username}"` : ""}`);
  const keptHashed = generated.passwords.filter((p) => p.source === "kept-hashed").map((p) => p.username);
  if (keptHashed.length > 0) console.log(`  kept       ${keptHashed.join(", ")}: the config has only an scrypt hash, so their password lines were kept as they were`);
  console.log(`  listeners  ${generated.listeners.join(", ")}`);
  if (data !== null) console.log(`  data       ${data}/ (retained messages)${owner !== null ? "; it and the password file's group belong to the mosquitto user" : ""}`);
  else console.log("  data       where the main mosquitto.conf keeps it (persistence_location)");
  console.log(args.fragment ? "Check it with: mosquitto -c /etc/mosquitto/mosquitto.conf (the main config that includes this folder)" : `Check it with: mosquitto -c ${path.join(dir, "mosquitto.conf")}`);
  return 0;
}
