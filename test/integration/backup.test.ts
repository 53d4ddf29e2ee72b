/**
 * Backup and restore as a technician does them: `tec-hub backup` run (as its own process, through
 * the real CLI) against a real hub while devices send telemetry over MQTT, with a latched trip and
 * audit rows in the store; `tec-hub restore` refused while a hub runs on the database, then done
 * with the hub stopped. The restored store is whole, its audit log intact, its history exactly the
 * source's up to the moment of the backup, and a hub started on it still holds the latched trip.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { HubConfigInput } from "../../hub/src/config/schema.ts";
import { checkAuditLog } from "../../hub/src/storage/backup.ts";
import { startHub } from "../../hub/src/main.ts";
import { MIGRATIONS } from "../../hub/src/storage/db.ts";
import { baseConfig, bootHarness, type Harness, until } from "./harness.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

const RULE = {
  id: "overheat",
  name: { nl: "Te heet", en: "Too hot" },
  reason: { nl: "Relais uit: te heet", en: "Relay off: too hot" },
  when: { type: "above" as const, input: "dev-a.tempC", value: 80 },
  actions: [{ type: "safe" as const, actuator: "dev-a.relay" }],
};

/** `node --import tsx hub/src/cli.ts <args>`, as a person runs it; resolves with its exit code and output. */
function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "hub/src/cli.ts"), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
    proc.stderr.on("data", (d: Buffer) => (err += d.toString()));
    proc.once("error", reject);
    proc.once("exit", (code) => resolve({ code, out, err }));
  });
}

interface Chunk {
  channel: string;
  rowid: number;
  t0: number;
  t1: number;
  n: number;
  data: string;
}

/** What a store holds: raw chunks by channel (in commit order), the audit rows, the latched interlocks. */
function read(file: string) {
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    const chunks = db
      .prepare<[], Chunk>("SELECT c.device || '.' || c.channel AS channel, r.rowid AS rowid, r.t0, r.t1, r.n, hex(r.data) AS data FROM raw_chunks r JOIN channels c ON c.id = r.channel_id ORDER BY r.rowid")
      .all();
    const byChannel = new Map<string, Chunk[]>();
    for (const c of chunks) byChannel.set(c.channel, [...(byChannel.get(c.channel) ?? []), c]);
    return {
      integrity: db.pragma("integrity_check", { simple: true }),
      audit: db.prepare<[], { seq: number; action: string; target: string; result: string; at: number }>("SELECT seq, action, target, result, at FROM audit ORDER BY seq").all(),
      auditCheck: checkAuditLog(db),
      chunks: byChannel,
      latched: db.prepare<[], string>("SELECT id FROM interlock_state ORDER BY id").pluck().all(),
    };
  } finally {
    db.close();
  }
}

/** The values of a channel's samples, in time order ([t, v] pairs of little-endian float64). */
function values(chunks: readonly Chunk[] | undefined): number[] {
  const out: number[] = [];
  for (const c of chunks ?? []) {
    const b = Buffer.from(c.data, "hex");
    for (let i = 0; i < c.n; i++) out.push(b.readDoubleLE(i * 16 + 8));
  }
  return out;
}

describe("tec-hub backup and restore", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("backs up a busy hub, is refused while a hub runs, restores a whole store with its latched trip", async () => {
    const overrides: Partial<HubConfigInput> = { interlocks: [RULE] };
    h = await bootHarness(overrides);
    const dbFile = h.config.storage.path;
    // The same config as a file, for the command line.
    const configFile = path.join(h.dir, "hub.yaml");
    writeFileSync(configFile, stringify(baseConfig(h.dir, overrides)));
    const backupFile = path.join(h.dir, "copies", "hub-backup.db");

    // A latched trip, and audit rows about it.
    const a = await h.device("dev-a");
    const b = await h.device("dev-b");
    await a.describe();
    await b.describe();
    await a.tele({ powerW: 0, tempC: 85 });
    await until(async () => (await h!.get<{ result: { status: string } }>("/api/interlocks/overheat")).body.result.status === "tripped", 15_000, "overheat tripped");
    await a.tele({ powerW: 0, tempC: 20 });
    await until(async () => (await h!.get<{ result: { status: string; latched: boolean } }>("/api/interlocks/overheat")).body.result.status === "cleared", 15_000, "overheat cleared, still latched");

    // Telemetry as fast as the broker acknowledges it: the value of powerW is the count sent.
    let sending = true;
    const sent = { "dev-a": 0, "dev-b": 0 };
    const pump = async (dev: typeof a, id: "dev-a" | "dev-b") => {
      while (sending) {
        sent[id] += 1;
        await dev.tele({ powerW: sent[id], tempC: 20 });
      }
    };
    const pumps = [pump(a, "dev-a"), pump(b, "dev-b")];
    // Some history committed before the backup starts.
    await until(() => (read(dbFile).chunks.get("dev-a.powerW")?.length ?? 0) >= 3, 30_000, "history committed");
    const sentBefore = sent["dev-a"];
    const backup = await cli(["backup", backupFile, "--config", configFile]);
    const sentAfter = sent["dev-a"];
    expect(backup.err).toBe("");
    expect(backup.code).toBe(0);
    expect(backup.out).toMatch(new RegExp(`^✓ wrote ${backupFile}: [\\d.]+ [KM]B, schema version ${MIGRATIONS.length}, \\d+ rows in the audit log, integrity check ok`));
    expect(sentAfter).toBeGreaterThan(sentBefore); // the hub went on ingesting while the backup ran
    // Once there, a second backup to the same file is refused.
    const again = await cli(["backup", backupFile, "--config", configFile]);
    expect(again.code).toBe(1);
    expect(again.err).toContain(`${backupFile} exists already; choose another name, or add --force to replace it`);
    sending = false;
    await Promise.all(pumps);

    // A restore while a hub runs on the database is refused, naming the lock and the hub.
    await h.stopHub();
    await h.restartHub();
    const refused = await cli(["restore", backupFile, "--config", configFile]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`✗ restore refused: database ${dbFile} is in use by another TEC Hub, pid ${process.pid}`);
    expect(refused.err).toContain(`lock file ${dbFile}.lock`);
    await h.stopHub();

    const source = read(dbFile);
    const copy = read(backupFile);
    const restore = await cli(["restore", backupFile, "--config", configFile]);
    expect(restore.err).toBe("");
    expect(restore.code).toBe(0);
    expect(restore.out).toContain(`✓ restored ${backupFile} into ${dbFile}: schema version ${MIGRATIONS.length}`);
    const kept = readdirSync(h.dir).filter((f) => /^hub\.db\.before-restore-\d{4}-\d{2}-\d{2}T\d{6}Z$/.test(f));
    expect(kept).toHaveLength(1);
    expect(restore.out).toContain(`the previous database is kept as ${path.join(h.dir, kept[0] ?? "")}`);
    expect(existsSync(`${dbFile}.lock`)).toBe(false);
    // The kept copy is the source as it was, whole (its WAL folded in).
    expect(read(path.join(h.dir, kept[0] ?? "")).audit).toEqual(source.audit);

    const restored = read(dbFile);
    expect(restored.integrity).toBe("ok");
    expect(restored.auditCheck).toMatchObject({ ok: true, problems: [] });
    // The audit log: the source's rows up to the backup, then the restore itself.
    const last = restored.audit[restored.audit.length - 1];
    expect(last).toMatchObject({ action: "storage.restored", target: dbFile, result: "ok" });
    const upToBackup = restored.audit.slice(0, -1);
    expect(upToBackup).toEqual(copy.audit);
    expect(upToBackup).toEqual(source.audit.slice(0, upToBackup.length));
    expect(source.audit.length).toBeGreaterThan(upToBackup.length); // the source went on (stops, starts)
    expect(upToBackup.some((r) => r.action === "interlock.tripped" && r.target === "overheat")).toBe(true);
    // History: for every channel, exactly the source's first chunks, row for row; no sample missing in between.
    expect([...restored.chunks.keys()].sort()).toEqual(["dev-a.powerW", "dev-a.tempC", "dev-b.powerW", "dev-b.tempC"]);
    for (const [channel, chunks] of restored.chunks) {
      expect(chunks.length, channel).toBeGreaterThan(0);
      expect(chunks, channel).toEqual(source.chunks.get(channel)?.slice(0, chunks.length));
    }
    const powerA = values(restored.chunks.get("dev-a.powerW"));
    // 0 twice (the trip and its clearing), then 1..k.
    const k = powerA.length - 2;
    expect(powerA).toEqual([0, 0, ...Array.from({ length: k }, (_, i) => i + 1)]);
    expect(k).toBeGreaterThanOrEqual(sentBefore - 50);
    expect(values(source.chunks.get("dev-a.powerW")).length).toBeGreaterThan(powerA.length);
    expect(restored.latched).toEqual(["overheat"]);

    // A hub started on the restored store still holds the trip.
    await h.restartHub();
    const view = (await h.get<{ result: { status: string; latched: boolean } }>("/api/interlocks/overheat")).body.result;
    expect(view.latched).toBe(true);
    expect(view.status).not.toBe("normal");
  }, 180_000);

  it("refuses a second hub on the store, and a restore of what is not a whole TEC Hub database no newer than the hub", async () => {
    h = await bootHarness();
    const dbFile = h.config.storage.path;
    const configFile = path.join(h.dir, "hub.yaml");
    writeFileSync(configFile, stringify(baseConfig(h.dir)));
    // A second hub on the same store refuses to start, naming the lock file and the first hub.
    await expect(startHub(h.config)).rejects.toThrow(`database ${dbFile} is in use by another TEC Hub, pid ${process.pid}`);
    await h.stopHub();
    const before = read(dbFile).audit;

    const notSqlite = path.join(h.dir, "notes.db");
    writeFileSync(notSqlite, "not a database at all; ".repeat(100));
    const noSchema = path.join(h.dir, "other.db");
    const other = new BetterSqlite3(noSchema);
    other.exec("CREATE TABLE t (x)");
    other.close();
    const newer = path.join(h.dir, "newer.db");
    const backup = await cli(["backup", newer, "--config", configFile]);
    expect(backup.code).toBe(0);
    const future = new BetterSqlite3(newer);
    future.prepare("INSERT INTO schema_version (version, name) VALUES (?, 'from a newer hub')").run(MIGRATIONS.length + 1);
    future.close();

    const [a, b, c, d] = await Promise.all([
      cli(["restore", notSqlite, "--config", configFile]),
      cli(["restore", noSchema, "--config", configFile]),
      cli(["restore", newer, "--config", configFile]),
      cli(["restore", path.join(h.dir, "missing.db"), "--config", configFile]),
    ]);
    expect(a.code).toBe(1);
    expect(a.err).toContain(`✗ restore refused: ${notSqlite} is not a TEC Hub database`);
    expect(b.err).toContain(`✗ restore refused: ${noSchema} is not a TEC Hub database: it has no schema_version table`);
    expect(c.err).toContain(`✗ restore refused: ${newer} has schema version ${MIGRATIONS.length + 1}, newer than this hub knows (${MIGRATIONS.length})`);
    expect(d.err).toContain(`✗ restore refused: there is no file ${path.join(h.dir, "missing.db")}`);
    expect([b.code, c.code, d.code]).toEqual([1, 1, 1]);
    expect(read(dbFile).audit).toEqual(before);
    expect(readdirSync(h.dir).filter((f) => f.includes("before-restore"))).toEqual([]);
  }, 120_000);
});
