/**
 * The embedded broker's rules written out for a real Mosquitto 2.0 (issue 15): `mosquitto.conf`,
 * `password_file` and `acl_file`, from the hub's config. Pure: config and the previous password
 * file in, file texts out; `tec-hub broker-config` (cli/broker-config.ts) reads and writes them.
 *
 * What each rule of the embedded broker becomes:
 * - accounts (one per mqtt device, its id as user name; the observer; the hub's own account):
 *   `password_file` lines in Mosquitto's `$7$` format (PBKDF2-SHA512, as `mosquitto_passwd` makes
 *   them), so no plain secret is written; `allow_anonymous false`.
 * - topics (broker/acl.ts, PROTOCOL.md "Topics"): one `user` block per account in `acl_file`. A
 *   device writes only its own six kinds and reads only its own commands and the hub's topics; the
 *   observer reads `#` (which in Mosquitto never matches `$SYS/...`) and writes nothing; the hub
 *   reads the site, writes commands and its own topics. Mosquitto checks a subscription when a
 *   message is delivered, not in the SUBACK: a refused subscription is granted but never receives.
 * - client ids (PROTOCOL.md "Client ids"): Mosquitto 2.0.11 has no setting that binds a client id
 *   to the account of its owner (ACL patterns with %c only choose topics; `clientid_prefixes` is one
 *   global list). `use_username_as_clientid true` does bind them: every session's client id becomes
 *   its account's name, so no account can ever present another account's client id and nobody can
 *   take over (and fire the last will of) a device's session but the device's own account. The
 *   price: each account holds one session at a time (a second observer tool replaces the first).
 * - what Mosquitto cannot do is left out and said so in the README: clearing the retain flag on
 *   readings, the per-account session caps, the login backoff and the observer's rate budget.
 */
import { pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import path from "node:path";
import { DEVICE_TOPIC_KINDS, HUB_ID } from "../../../firmware-bridge/contract/topics.ts";
import type { HubConfig } from "../config/schema.ts";
import { tlsFolder } from "../config/paths.ts";
import { isSecretHash } from "./policy.ts";

/** What `mosquitto_passwd` 2.0 uses: PBKDF2 with SHA-512, 101 rounds, a 12-byte salt, a 64-byte hash. */
export const PBKDF2_ITERATIONS = 101;
const SALT_BYTES = 12;
const HASH_BYTES = 64;

/** A user name Mosquitto's files can hold unambiguously (no `:`, no spaces, no wildcards). */
const USERNAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const PASSWORD_LINE = /^\$7\$(\d{1,7})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

export interface MosquittoAccount {
  /** `device`: an mqtt device (user name = its id); `observer`: read-only tools; `hub`: the hub itself. */
  role: "device" | "observer" | "hub";
  username: string;
  /** Where the account sits in the config, for messages: `devices.3.password`. */
  configPath: string;
  /** The plain secret, or null when the config holds only an scrypt hash of it. */
  secret: string | null;
}

/** One topic rule of one account: Mosquitto's `topic read|write|readwrite <filter>`. */
export interface AclRule {
  access: "read" | "write" | "readwrite";
  filter: string;
}

/** The topics each role may use: the embedded broker's rules (broker/acl.ts) as Mosquitto filters. */
export function aclRules(site: string, account: Pick<MosquittoAccount, "role" | "username">, homeAssistantPrefix: string | null = null): AclRule[] {
  const base = `tec/${site}`;
  switch (account.role) {
    case "device":
      return [
        ...DEVICE_TOPIC_KINDS.map((kind): AclRule => ({ access: "write", filter: `${base}/${account.username}/${kind}` })),
        { access: "read", filter: `${base}/${account.username}/cmd/#` },
        { access: "read", filter: `${base}/${HUB_ID}/#` },
      ];
    case "observer":
      return [{ access: "read", filter: "#" }];
    case "hub":
      return [
        { access: "read", filter: `${base}/#` },
        { access: "write", filter: `${base}/+/cmd/#` },
        { access: "readwrite", filter: `${base}/${HUB_ID}/#` },
        ...(homeAssistantPrefix !== null ? [{ access: "readwrite", filter: `${homeAssistantPrefix}/#` } as const] : []),
      ];
  }
}

/** Mosquitto's topic matching for a filter in an ACL (`+`, `#`; a `$` topic only by a `$` filter). */
export function filterMatches(filter: string, topic: string): boolean {
  if (topic.startsWith("$") !== filter.startsWith("$")) return false;
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

export class MosquittoConfigError extends Error {
  override readonly name = "MosquittoConfigError";
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
  }
}

/** The broker accounts the config declares, checked for what Mosquitto's files can hold. */
export function mosquittoAccounts(config: Pick<HubConfig, "broker" | "devices">): MosquittoAccount[] {
  const accounts: MosquittoAccount[] = [];
  const { hub, observer } = config.broker;
  if (hub !== undefined) accounts.push({ role: "hub", username: hub.username, configPath: "broker.hub", secret: hub.password });
  if (observer !== null) accounts.push({ role: "observer", username: observer.username, configPath: "broker.observer", secret: observer.password });
  config.devices.forEach((d, i) => {
    if (d.kind === "mqtt") accounts.push({ role: "device", username: d.id, configPath: `devices.${i}`, secret: d.password });
  });
  const problems: string[] = [];
  if (hub === undefined) problems.push("broker.hub is not set: on Mosquitto the hub needs its own account (username and password), like every other client");
  for (const a of accounts) {
    if (!USERNAME_PATTERN.test(a.username)) problems.push(`${a.configPath}.username "${a.username}": Mosquitto's password and ACL files need a user name of letters, digits, ".", "_" and "-" (at most 64)`);
    if (a.secret !== null && isSecretHash(a.secret)) a.secret = null;
  }
  if (problems.length > 0) throw new MosquittoConfigError(problems);
  return accounts;
}

/** A `$7$` password line's hash part for `secret`, with `salt`. */
export function mosquittoHash(secret: string, salt: Buffer, iterations = PBKDF2_ITERATIONS): string {
  const hash = pbkdf2Sync(Buffer.from(secret, "utf8"), salt, iterations, HASH_BYTES, "sha512");
  return `$7$${iterations}$${salt.toString("base64")}$${hash.toString("base64")}`;
}

/** Whether a `$7$` hash (from a password file) is that of `secret`. */
export function mosquittoHashMatches(hashed: string, secret: string): boolean {
  const m = PASSWORD_LINE.exec(hashed);
  if (m === null) return false;
  const want = Buffer.from(m[3] ?? "", "base64");
  const got = pbkdf2Sync(Buffer.from(secret, "utf8"), Buffer.from(m[2] ?? "", "base64"), Number(m[1]), want.length, "sha512");
  return want.length > 0 && timingSafeEqual(want, got);
}

/** `user -> hash` from an existing password file; lines that are not `user:$7$...` are ignored. */
export function parsePasswordFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const hash = line.slice(colon + 1).trim();
    if (PASSWORD_LINE.test(hash)) out.set(line.slice(0, colon), hash);
  }
  return out;
}

export interface PasswordLine {
  username: string;
  hash: string;
  /** `new`: made now; `kept`: the previous line still matches the secret (so nothing changes); `kept-hashed`: the config has only an scrypt hash, the previous line is kept unchecked. */
  source: "new" | "kept" | "kept-hashed";
}

/**
 * The password file's lines. A previous line that still matches the account's secret is kept as it
 * is, so running the generator again changes nothing (a fresh salt each time would rewrite every
 * line). An account whose config holds only an scrypt hash cannot be converted (scrypt does not
 * give the secret back, and Mosquitto cannot check scrypt): its previous line is kept if there is
 * one (added once with `mosquitto_passwd`), otherwise the account is refused with what to do.
 */
export function passwordLines(accounts: readonly MosquittoAccount[], previous: ReadonlyMap<string, string>, passwordFile: string, salt: () => Buffer = () => randomBytes(SALT_BYTES)): PasswordLine[] {
  const problems: string[] = [];
  const lines: PasswordLine[] = [];
  for (const a of accounts) {
    const old = previous.get(a.username);
    if (a.secret === null) {
      if (old !== undefined) lines.push({ username: a.username, hash: old, source: "kept-hashed" });
      else {
        problems.push(
          `${a.configPath}.password is an scrypt hash, and Mosquitto cannot check scrypt: either put the plain secret there while you run broker-config, ` +
            `or add the account to the password file once with \`mosquitto_passwd ${passwordFile} ${a.username}\` (the secret add-device printed) and run broker-config again: that line is then kept`,
        );
      }
      continue;
    }
    if (old !== undefined && mosquittoHashMatches(old, a.secret)) lines.push({ username: a.username, hash: old, source: "kept" });
    else lines.push({ username: a.username, hash: mosquittoHash(a.secret, salt()), source: "new" });
  }
  if (problems.length > 0) throw new MosquittoConfigError(problems);
  return lines;
}

export interface MosquittoFiles {
  "mosquitto.conf": string;
  password_file: string;
  acl_file: string;
}

export interface GenerateOptions {
  /** The folder the files go to, absolute: the config names the other two files and the persistence folder by it. */
  dir: string;
  /** The password file there now (its text), or null. */
  previousPasswordFile: string | null;
  /**
   * For an `include_dir` of a main config that has its own persistence (Debian's
   * /etc/mosquitto/conf.d): leaves `persistence_location` out, which Mosquitto refuses twice.
   */
  fragment?: boolean;
  /** For tests: where salts come from. */
  salt?: () => Buffer;
}

export interface Generated {
  files: MosquittoFiles;
  passwords: PasswordLine[];
  /** The listeners written, for the report: `1883 (plain)`, `8883 (TLS)`. */
  listeners: string[];
}

/** The listeners' port: in external mode the one in `broker.url` (what the hub connects to), else `broker.port`. */
function listenPorts(config: Pick<HubConfig, "broker">): { plain: number | null; tls: number | null } {
  const b = config.broker;
  let plain: number | null = b.plain ? b.port : null;
  let tls = b.tls?.port ?? null;
  if (b.mode === "external" && b.url !== undefined) {
    const u = new URL(b.url);
    const secure = u.protocol === "mqtts:" || u.protocol === "ssl:" || u.protocol === "tls:";
    const port = u.port !== "" ? Number(u.port) : secure ? 8883 : 1883;
    if (secure) {
      if (b.tls === null) throw new MosquittoConfigError([`broker.url "${b.url}" is TLS, but broker.tls is not set: name the certificate files under broker.tls.files`]);
      tls = port;
    } else plain = port;
  }
  if (plain === 0 || tls === 0) throw new MosquittoConfigError([`broker.port 0 (any free port) cannot be given to Mosquitto: choose a port`]);
  return { plain, tls };
}

const q = (p: string): string => {
  if (/[\s"]/.test(p)) throw new MosquittoConfigError([`path "${p}" contains a space or quote, which mosquitto.conf cannot hold: choose another folder`]);
  return p;
};

export function generateMosquittoFiles(config: Pick<HubConfig, "site" | "broker" | "devices" | "storage" | "integrations">, options: GenerateOptions): Generated {
  const dir = path.resolve(options.dir);
  const passwordFile = path.join(dir, "password_file");
  const accounts = mosquittoAccounts(config);
  const previous = options.previousPasswordFile === null ? new Map<string, string>() : parsePasswordFile(options.previousPasswordFile);
  const passwords = passwordLines(accounts, previous, passwordFile, options.salt);
  const ports = listenPorts(config);
  const b = config.broker;
  const host = b.host === "0.0.0.0" || b.host === "::" || b.host === "" ? "" : ` ${b.host}`;
  const listeners: string[] = [];

  const conf = [
    `# Generated by \`tec-hub broker-config\` for site "${config.site}". Do not edit: change the hub's config and run it again.`,
    "# The same rules as the hub's embedded broker: accounts, topic ACL, client ids bound to accounts.",
    "per_listener_settings false",
    "allow_anonymous false",
    `password_file ${q(passwordFile)}`,
    `acl_file ${q(path.join(dir, "acl_file"))}`,
    "# Retained status and meta (and queued QoS 1 messages) survive a restart of Mosquitto.",
    ...(options.fragment === true ? ["# (where: the main mosquitto.conf says)", "persistence true"] : ["persistence true", `persistence_location ${q(path.join(dir, "data"))}/`]),
    "# The hub reads every device's messages through one session. Mosquitto drops QoS 0 messages for a",
    "# client with more than max_queued_messages waiting (default 1000: 50 ms of 2,000 devices at 10/s),",
    "# so a hub busy for a moment (a garbage collection, a burst) would lose readings; 20,000 is a second.",
    "max_queued_messages 20000",
    "",
    "# In each listener (it is a listener option in Mosquitto 2.0; before the first listener it would open",
    "# a default listener on 1883): a client id belongs to one account. Mosquitto replaces every client's",
    "# id by its user name, so no other account can take over (and fire the last will of) a device's session.",
  ];
  const listenerLines = (port: number) => [`listener ${port}${host}`, "use_username_as_clientid true", `max_connections ${b.limits.maxConnections}`];
  if (ports.plain !== null) {
    conf.push(...listenerLines(ports.plain), "");
    listeners.push(`${ports.plain} (plain)`);
  }
  if (ports.tls !== null && b.tls !== null) {
    const files = b.tls.files ?? { cert: path.join(tlsFolder(config), "server.crt"), key: path.join(tlsFolder(config), "server.key"), ca: path.join(tlsFolder(config), "ca.crt") };
    conf.push(...listenerLines(ports.tls), `certfile ${q(path.resolve(files.cert))}`, `keyfile ${q(path.resolve(files.key))}`);
    if (files.ca !== undefined) conf.push(`cafile ${q(path.resolve(files.ca))}`);
    conf.push("");
    listeners.push(`${ports.tls} (TLS)`);
  }

  const ha = config.integrations.homeAssistant.enabled ? config.integrations.homeAssistant.prefix : null;
  const acl = [`# Generated by \`tec-hub broker-config\` for site "${config.site}": who may read and write which topics (PROTOCOL.md, "Topics").`, "# No rule before the first user line: nobody without an account gets anything.", ""];
  const heading = { device: "device", observer: "observer (read-only tools; # does not match $SYS)", hub: "the hub's own account" } as const;
  for (const a of accounts) {
    acl.push(`# ${heading[a.role]}`, `user ${a.username}`, ...aclRules(config.site, a, a.role === "hub" ? ha : null).map((r) => `topic ${r.access} ${r.filter}`), "");
  }

  return {
    files: {
      "mosquitto.conf": conf.join("\n"),
      password_file: passwords.map((p) => `${p.username}:${p.hash}\n`).join(""),
      acl_file: acl.join("\n"),
    },
    passwords,
    listeners,
  };
}
