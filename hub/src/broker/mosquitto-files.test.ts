import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { hashSecret } from "../api/auth.ts";
import { parseConfig } from "../config/load.ts";
import { canPublish, canSubscribe, type Identity } from "./acl.ts";
import { aclRules, filterMatches, generateMosquittoFiles, MosquittoConfigError, mosquittoHash, mosquittoHashMatches, parsePasswordFile } from "./mosquitto-files.ts";

const SITE = "s1";

function config(overrides: { devices?: Array<{ id: string; password: string }>; broker?: Record<string, unknown> } = {}) {
  return parseConfig({
    site: SITE,
    siteName: "Test",
    broker: { port: 1883, observer: { username: "observer", password: "observer" }, hub: { username: "hub", password: "hub-pw" }, ...overrides.broker },
    storage: { path: "/tmp/tec-mosq-test/hub.db" },
    devices: (overrides.devices ?? [{ id: "water", password: "pw-water" }, { id: "water-1", password: "pw-water-1" }]).map((d) => ({ kind: "mqtt" as const, name: d.id, ...d })),
  }).config;
}

/** What the ACL of `account` lets it do with `topic`: Mosquitto's rule (any matching filter with the access). */
function mosquittoAllows(rules: ReturnType<typeof aclRules>, access: "read" | "write", topic: string): boolean {
  return rules.some((r) => (r.access === access || r.access === "readwrite") && filterMatches(r.filter, topic));
}

describe("Mosquitto files from the hub's config", () => {
  it("gives each account the same topics as the embedded broker's ACL (broker/acl.ts)", () => {
    const topics = [
      ...["water", "water-1", "other", "_hub"].flatMap((d) => ["status", "meta", "tele", "health", "ack", "event", "cmd/pump", "cmd/a/b", "other", "tele/x"].map((k) => `tec/${SITE}/${d}/${k}`)),
      `tec/${SITE}/_hub/heartbeat`,
      `tec/${SITE}/_hub/status`,
      `tec/other-site/water/tele`,
      "$SYS/broker/uptime",
      "random/topic",
    ];
    const who: Array<[Identity, { role: "device" | "observer"; username: string }]> = [
      [{ role: "device", deviceId: "water" }, { role: "device", username: "water" }],
      [{ role: "device", deviceId: "water-1" }, { role: "device", username: "water-1" }],
      [{ role: "observer", username: "observer" }, { role: "observer", username: "observer" }],
    ];
    for (const [identity, account] of who) {
      const rules = aclRules(SITE, account);
      for (const topic of topics) {
        const embeddedWrite = canPublish(SITE, identity, topic).ok;
        // A subscription to exactly the topic: what a delivery of that topic is checked against in Mosquitto.
        const embeddedRead = canSubscribe(SITE, identity, topic).ok;
        expect({ account: account.username, topic, write: mosquittoAllows(rules, "write", topic) }).toEqual({ account: account.username, topic, write: embeddedWrite });
        expect({ account: account.username, topic, read: mosquittoAllows(rules, "read", topic) }).toEqual({ account: account.username, topic, read: embeddedRead });
      }
    }
    // The hub writes commands and its own topics, and reads the site; nothing of another site.
    const hub = aclRules(SITE, { role: "hub", username: "hub" });
    expect(mosquittoAllows(hub, "write", `tec/${SITE}/water/cmd/pump`)).toBe(true);
    expect(mosquittoAllows(hub, "write", `tec/${SITE}/_hub/heartbeat`)).toBe(true);
    expect(mosquittoAllows(hub, "write", `tec/${SITE}/water/tele`)).toBe(false);
    expect(mosquittoAllows(hub, "read", `tec/${SITE}/water/tele`)).toBe(true);
    expect(mosquittoAllows(hub, "read", `tec/other/water/tele`)).toBe(false);
  });

  it("writes password lines mosquitto_passwd's format, checked both ways", () => {
    const line = mosquittoHash("s3cret", Buffer.alloc(12, 7));
    expect(line).toMatch(/^\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
    expect(mosquittoHashMatches(line, "s3cret")).toBe(true);
    expect(mosquittoHashMatches(line, "s3creT")).toBe(false);
    // A line made by the real tool verifies with our check.
    const dir = mkdtempSync(path.join(os.tmpdir(), "tec-passwd-"));
    try {
      const file = path.join(dir, "pw");
      execFileSync("mosquitto_passwd", ["-c", "-b", file, "water", "from-the-tool"]);
      const hash = parsePasswordFile(readFileSync(file, "utf8")).get("water") ?? "";
      expect(mosquittoHashMatches(hash, "from-the-tool")).toBe(true);
      expect(mosquittoHashMatches(hash, "other")).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is idempotent: a second run with the first run's password file gives the same files", () => {
    const c = config();
    const first = generateMosquittoFiles(c, { dir: "/etc/mosq", previousPasswordFile: null });
    const second = generateMosquittoFiles(c, { dir: "/etc/mosq", previousPasswordFile: first.files.password_file });
    expect(second.files).toEqual(first.files);
    expect(second.passwords.every((p) => p.source === "kept")).toBe(true);
    // A changed secret gets a new line; the others stay.
    const changed = config({ devices: [{ id: "water", password: "new" }, { id: "water-1", password: "pw-water-1" }] });
    const third = generateMosquittoFiles(changed, { dir: "/etc/mosq", previousPasswordFile: first.files.password_file });
    expect(third.passwords.map((p) => `${p.username}:${p.source}`)).toEqual(["hub:kept", "observer:kept", "water:new", "water-1:kept"]);
    expect(first.files.password_file).not.toContain("pw-water");
    expect(first.files["mosquitto.conf"]).toContain("allow_anonymous false");
    // A listener option in Mosquitto 2.0: inside the listener, never before it.
    expect(first.files["mosquitto.conf"]).toContain("listener 1883\nuse_username_as_clientid true\n");
    expect(first.files["mosquitto.conf"].indexOf("use_username_as_clientid")).toBeGreaterThan(first.files["mosquitto.conf"].indexOf("listener "));
  });

  it("refuses what Mosquitto cannot hold, naming the config path and what to do", () => {
    const hashed = config({ devices: [{ id: "water", password: hashSecret("board-secret") }] });
    expect(() => generateMosquittoFiles(hashed, { dir: "/etc/mosq", previousPasswordFile: null })).toThrow(/devices\.0\.password is an scrypt hash.*mosquitto_passwd \/etc\/mosq\/password_file water/);
    // Added once with mosquitto_passwd: kept as it is.
    const kept = generateMosquittoFiles(hashed, { dir: "/etc/mosq", previousPasswordFile: `water:${mosquittoHash("board-secret", Buffer.alloc(12, 1))}\n` });
    expect(kept.passwords.find((p) => p.username === "water")?.source).toBe("kept-hashed");

    const noHub = config({ broker: { hub: undefined } });
    expect(() => generateMosquittoFiles(noHub, { dir: "/x", previousPasswordFile: null })).toThrow(/broker\.hub is not set/);
    const badName = config({ broker: { observer: { username: "tech tools", password: "x" } } });
    try {
      generateMosquittoFiles(badName, { dir: "/x", previousPasswordFile: null });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(MosquittoConfigError);
      expect((error as MosquittoConfigError).problems).toEqual([expect.stringContaining('broker.observer.username "tech tools"')]);
    }
  });

  it("takes the listener port from broker.url in external mode, TLS with the config's files", () => {
    const ext = config({ broker: { mode: "external", url: "mqtt://10.0.0.5:11883", tls: { port: 8884, files: { cert: "/c/s.crt", key: "/c/s.key", ca: "/c/ca.crt" } } } });
    const conf = generateMosquittoFiles(ext, { dir: "/etc/mosq", previousPasswordFile: null }).files["mosquitto.conf"];
    expect(conf).toContain("listener 11883\n");
    // The hub's one session reads the whole fleet: a moment's pause of the hub must not drop readings.
    expect(conf).toContain("\nmax_queued_messages 20000\n");
    expect(conf).toContain("listener 8884\nuse_username_as_clientid true\nmax_connections 20000\ncertfile /c/s.crt\nkeyfile /c/s.key\ncafile /c/ca.crt\n");
    expect(() => generateMosquittoFiles(config({ broker: { port: 0 } }), { dir: "/x", previousPasswordFile: null })).toThrow(/port 0/);
    // For Debian's conf.d: the main config names the persistence folder, and Mosquitto refuses a second one.
    const fragment = generateMosquittoFiles(config(), { dir: "/etc/mosquitto/conf.d", previousPasswordFile: null, fragment: true }).files["mosquitto.conf"];
    expect(fragment).not.toContain("persistence_location");
    expect(generateMosquittoFiles(config(), { dir: "/etc/mosq", previousPasswordFile: null }).files["mosquitto.conf"]).toContain("persistence_location /etc/mosq/data/\n");
  });
});
