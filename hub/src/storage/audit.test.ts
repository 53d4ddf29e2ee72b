import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AuditEntry, AuditRecord } from "../core/audit.ts";
import { HubError } from "../core/errors.ts";
import {
  AUDIT_DETAILS_MAX_BYTES,
  AUDIT_NAME_MAX_CHARS,
  AUDIT_QUERY_DEFAULT_LIMIT,
  AUDIT_QUERY_MAX_LIMIT,
  AUDIT_REASON_MAX_CHARS,
  SqliteAuditLog,
  TRUNCATION_MARKER,
  toCsv,
  type AuditFilter,
} from "./audit.ts";
import { openDatabase, type Database } from "./db.ts";

const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);

const entry = (over: Partial<AuditEntry> = {}): AuditEntry => ({
  at: T0,
  actor: { name: "jan", role: "technician" },
  action: "interlock.reset",
  target: "water-leak",
  result: "ok",
  ...over,
});

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("SqliteAuditLog", () => {
  let dir: string;
  let path: string;
  let db: Database;
  let log: SqliteAuditLog;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "tec-audit-"));
    path = join(dir, "hub.db");
    // As the hub opens its main-thread connection: WAL, synchronous=NORMAL, no checkpoints.
    db = openDatabase(path, { checkpoints: false });
    log = new SqliteAuditLog(db);
  });
  afterEach(() => {
    if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("appends with increasing seq and reads the entries back as given", () => {
    const a = entry({ reason: "leak sensor dry again", details: { by: "pin", sensors: [1, 2], nl: "lekkage weg" } });
    const b = entry({ at: T0 + 1, actor: { name: "system", role: "system" }, action: "interlock.tripped", result: "failed" });
    const seqA = log.append(a);
    const seqB = log.append(b);
    expect(seqB).toBe(seqA + 1);
    const { records, nextBeforeSeq } = log.query();
    expect(records).toEqual([
      { ...b, seq: seqB },
      { ...a, seq: seqA },
    ]);
    expect(records[0]).not.toHaveProperty("reason");
    expect(records[0]).not.toHaveProperty("details");
    expect(nextBeforeSeq).toBeNull();
  });

  it.each([
    ["UPDATE", "UPDATE audit SET result = 'ok', reason = NULL"],
    ["DELETE", "DELETE FROM audit"],
    ["DELETE one row", "DELETE FROM audit WHERE seq = 1"],
    ["INSERT OR REPLACE", "INSERT OR REPLACE INTO audit (seq, at, actor, role, action, target, result) VALUES (1, 0, 'x', 'x', 'x', 'x', 'ok')"],
    ["upsert", "INSERT INTO audit (seq, at, actor, role, action, target, result) VALUES (1, 0, 'x', 'x', 'x', 'x', 'ok') ON CONFLICT (seq) DO UPDATE SET actor = 'x'"],
  ])("refuses %s through SQL: the log is append-only", (_name, sql) => {
    const seq = log.append(entry({ result: "refused", reason: "pump still running" }));
    expect(seq).toBe(1);
    const error = thrown(() => db.prepare(sql).run());
    expect((error as Error).message).toBe("audit log is append-only");
    expect(log.query().records).toEqual([{ ...entry({ result: "refused", reason: "pump still running" }), seq: 1 }]);
    expect(log.append(entry())).toBe(2); // still writable after a refused change
  });

  it("keeps an appended entry when the connection is closed without any further call", () => {
    const seq = log.append(entry({ action: "estop.trigger", target: "*" }));
    db.close(); // no query, no checkpoint, nothing after append
    db = openDatabase(path, { checkpoints: false });
    expect(new SqliteAuditLog(db).query().records).toEqual([{ ...entry({ action: "estop.trigger", target: "*" }), seq }]);
  });

  it("keeps an appended entry when the process is killed with SIGKILL right after append", () => {
    db.close();
    const here = fileURLToPath(new URL(".", import.meta.url));
    const script = join(dir, "crash.ts");
    writeFileSync(
      script,
      `import { writeSync } from "node:fs";
       import { openDatabase } from ${JSON.stringify(pathToFileURL(join(here, "db.ts")).href)};
       import { SqliteAuditLog } from ${JSON.stringify(pathToFileURL(join(here, "audit.ts")).href)};
       const db = openDatabase(process.argv[2], { checkpoints: false });
       const seq = new SqliteAuditLog(db).append({ at: ${T0}, actor: { name: "eva", role: "instructor" }, action: "interlock.reset", target: "water-leak", result: "ok" });
       writeSync(1, String(seq));
       process.kill(process.pid, "SIGKILL");`,
    );
    const child = spawnSync(process.execPath, ["--import", "tsx", script, path], { cwd: join(here, "../../.."), encoding: "utf8" });
    expect(child.stderr).toBe("");
    expect(child.signal).toBe("SIGKILL");
    expect(child.stdout).toBe("1");
    expect(statSync(`${path}-wal`).size).toBeGreaterThan(0); // the row was only in the WAL
    db = openDatabase(path, { checkpoints: false });
    const [record] = new SqliteAuditLog(db).query().records;
    expect(record).toEqual({ seq: 1, at: T0, actor: { name: "eva", role: "instructor" }, action: "interlock.reset", target: "water-leak", result: "ok" });
  });

  it.each<[string, (d: Database) => AuditEntry, string]>([
    ["a closed connection", (d) => (d.close(), entry()), "database connection is not open"],
    ["a result the table refuses", () => entry({ result: "maybe" as AuditEntry["result"] }), "CHECK constraint failed"],
    ["a time that is not a number", () => entry({ at: Number.NaN }), "not a finite number"],
  ])("throws STORAGE_FAILED naming the entry and the problem on %s", (_name, make, problem) => {
    const e = make(db);
    const error = thrown(() => log.append(e));
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).code).toBe("STORAGE_FAILED");
    expect((error as HubError).message).toContain('audit entry "interlock.reset" on "water-leak" by jan was not recorded');
    expect((error as HubError).message).toContain(problem);
  });

  it("shortens an oversized reason and names, with a marker, and never refuses the entry", () => {
    const seq = log.append(entry({ reason: "x".repeat(10_000), actor: { name: "n".repeat(1000), role: "technician" }, target: `${"t".repeat(198)}😀tail` }));
    const [r] = log.query().records;
    expect(r?.seq).toBe(seq);
    expect(r?.reason).toHaveLength(AUDIT_REASON_MAX_CHARS);
    expect(r?.reason?.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(r?.actor.name).toHaveLength(AUDIT_NAME_MAX_CHARS);
    expect(r?.target).toBe(`${"t".repeat(198)}😀tail`.slice(0, AUDIT_NAME_MAX_CHARS - TRUNCATION_MARKER.length) + TRUNCATION_MARKER);
    const exact = "y".repeat(AUDIT_REASON_MAX_CHARS);
    log.append(entry({ reason: exact }));
    expect(log.query({ limit: 1 }).records[0]?.reason).toBe(exact);
  });

  it.each<[string, Record<string, unknown>]>([
    ["ASCII", { blob: "a".repeat(50_000) }],
    ["quotes that double in JSON", { blob: '"\\'.repeat(20_000) }],
    ["multi-byte text", { blob: "ë😀".repeat(10_000) }],
  ])("bounds oversized details (%s) to 8 KB of valid JSON with a preview", (_name, details) => {
    log.append(entry({ details }));
    const stored = db.prepare<[], { details: string }>("SELECT details FROM audit").get()?.details ?? "";
    expect(Buffer.byteLength(stored, "utf8")).toBeLessThanOrEqual(AUDIT_DETAILS_MAX_BYTES);
    expect(Buffer.byteLength(stored, "utf8")).toBeGreaterThan(AUDIT_DETAILS_MAX_BYTES - 200); // kept as much as fits
    const back = log.query().records[0]?.details;
    expect(back?._truncated).toBe(true);
    expect(back?._bytes).toBe(Buffer.byteLength(JSON.stringify(details), "utf8"));
    const preview = String(back?._preview);
    expect(JSON.stringify(details).startsWith(preview.slice(0, -TRUNCATION_MARKER.length))).toBe(true);
    expect(preview.endsWith(TRUNCATION_MARKER)).toBe(true);
  });

  it("keeps an entry whose details cannot be serialised, saying why", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    log.append(entry({ details: cyclic }));
    log.append(entry({ details: { n: 10n } }));
    const [big, cycle] = log.query().records;
    expect(String(cycle?.details?._unserialisable)).toMatch(/circular/i);
    expect(String(big?.details?._unserialisable)).toMatch(/bigint/i);
  });

  describe("query", () => {
    const seed: AuditEntry[] = [
      entry({ at: T0, action: "interlock.reset", target: "water-leak", actor: { name: "jan", role: "technician" } }),
      entry({ at: T0 + 10, action: "interlock.tripped", target: "water-leak", actor: { name: "hub", role: "system" }, result: "ok" }),
      entry({ at: T0 + 20, action: "interlockXreset", target: "boiler", actor: { name: "eva", role: "instructor" }, result: "refused" }),
      entry({ at: T0 + 30, action: "relay.set", target: "water.pumpEnable", actor: { name: "eva", role: "instructor" }, result: "failed" }),
      entry({ at: T0 + 40, action: "estop.trigger", target: "*", actor: { name: "estop-1", role: "device" } }),
      entry({ at: T0 + 50, action: "a_b.set", target: "x", actor: { name: "jan", role: "technician" } }),
      entry({ at: T0 + 60, action: "axb.set", target: "x", actor: { name: "jan", role: "technician" } }),
    ];
    beforeEach(() => {
      for (const e of seed) log.append(e);
    });

    it.each<[string, AuditFilter, number[]]>([
      ["no filter: everything, newest first", {}, [7, 6, 5, 4, 3, 2, 1]],
      ["from and to, both inclusive", { from: T0 + 10, to: T0 + 30 }, [4, 3, 2]],
      ["actor", { actor: "eva" }, [4, 3]],
      ["role", { role: "system" }, [2]],
      ["action exactly", { action: "interlock.reset" }, [1]],
      ["action prefix", { action: "interlock.*" }, [2, 1]],
      ["action prefix is not a LIKE pattern", { action: "a_b.*" }, [6]],
      ["a lone * matches every action", { action: "*" }, [7, 6, 5, 4, 3, 2, 1]],
      ["target", { target: "water-leak" }, [2, 1]],
      ["result", { result: "refused" }, [3]],
      ["before a seq", { beforeSeq: 3 }, [2, 1]],
      ["combined", { actor: "jan", action: "interlock.*", from: T0 }, [1]],
      ["nothing matches", { actor: "nobody" }, []],
    ])("filters by %s", (_name, filter, seqs) => {
      const page = log.query(filter);
      expect(page.records.map((r) => r.seq)).toEqual(seqs);
      expect(page.nextBeforeSeq).toBeNull();
    });

    it("pages newest first and visits every record exactly once", () => {
      const seen: number[] = [];
      let beforeSeq: number | undefined;
      for (let i = 0; i < 10; i++) {
        const page = log.query({ limit: 3, beforeSeq });
        seen.push(...page.records.map((r) => r.seq));
        if (page.nextBeforeSeq === null) break;
        beforeSeq = page.nextBeforeSeq;
      }
      expect(seen).toEqual([7, 6, 5, 4, 3, 2, 1]);
      expect(log.query({ limit: 7 }).nextBeforeSeq).toBeNull(); // exactly full: no empty next page
      expect(log.query({ limit: 6 }).nextBeforeSeq).toBe(2);
    });
  });

  it("returns 200 records by default and at most 5000", () => {
    const insert = db.transaction((n: number) => {
      for (let i = 0; i < n; i++) log.append(entry({ at: T0 + i }));
    });
    insert(AUDIT_QUERY_MAX_LIMIT + 10);
    expect(log.query().records).toHaveLength(AUDIT_QUERY_DEFAULT_LIMIT);
    const all = log.query({ limit: 1_000_000 });
    expect(all.records).toHaveLength(AUDIT_QUERY_MAX_LIMIT);
    expect(all.nextBeforeSeq).toBe(11);
    expect(log.query({ limit: 0 }).records).toHaveLength(1);
  });
});

describe("toCsv", () => {
  const record = (over: Partial<AuditRecord>): AuditRecord => ({ seq: 1, ...entry(), ...over });

  it("writes the header and one CRLF-terminated line per record, time in ISO 8601 UTC", () => {
    const csv = toCsv([
      record({ seq: 2, at: Date.UTC(2026, 0, 5, 7, 8, 9, 10), details: { a: 1, b: [true, null] } }),
      record({ seq: 1, reason: "plain words" }),
    ]);
    expect(csv).toBe(
      "seq,time,actor,role,action,target,result,reason,details\r\n" +
        '2,2026-01-05T07:08:09.010Z,jan,technician,interlock.reset,water-leak,ok,,"{""a"":1,""b"":[true,null]}"\r\n' +
        "1,2026-11-02T09:00:00.000Z,jan,technician,interlock.reset,water-leak,ok,plain words,\r\n",
    );
    expect(toCsv([])).toBe("seq,time,actor,role,action,target,result,reason,details\r\n");
  });

  it.each([
    ["a comma", "pump, then valve", '"pump, then valve"'],
    ["a quote", 'said "no"', '"said ""no"""'],
    ["a line break", "line one\nline two", '"line one\nline two"'],
    ["a CRLF", "a\r\nb", '"a\r\nb"'],
    ["=", "=HYPERLINK(\"http://x\")", '"\'=HYPERLINK(""http://x"")"'],
    ["+", "+1", "'+1"],
    ["-", "-2+3", "'-2+3"],
    ["@", "@SUM(A1)", "'@SUM(A1)"],
    ["a tab", "\tx", "\"'\tx\""],
    ["a CR", "\rx", "\"'\rx\""],
    ["a full-width =", "＝1+1", "'＝1+1"],
    ["nothing special", "leak in the shed", "leak in the shed"],
  ])("quotes or defuses a field starting with or holding %s", (_name, reason, field) => {
    const line = toCsv([record({ reason })]).split("\r\n").slice(1).join("\r\n");
    expect(line).toBe(`1,2026-11-02T09:00:00.000Z,jan,technician,interlock.reset,water-leak,ok,${field},\r\n`);
  });

  // Finding 8 of issue 10: what a spreadsheet skips before the `=` must not hide the formula.
  it.each([
    ["a space", " =1+1", "' =1+1"],
    ["spaces and a tab", "  \t=1+1", "\"'  \t=1+1\""],
    ["a no-break space", "\u00A0=1+1", "'\u00A0=1+1"],
    ["a narrow no-break space", "\u202F+1", "'\u202F+1"],
    ["an ideographic space", "\u3000@SUM(A1)", "'\u3000@SUM(A1)"],
    ["a zero-width space", "\u200B=1+1", "'\u200B=1+1"],
    ["a zero-width joiner", "\u200D-1+1", "'\u200D-1+1"],
    ["a byte-order mark", "\uFEFF=1+1", "'\uFEFF=1+1"],
    ["a NUL", "\u0000=1+1", "'\u0000=1+1"],
    ["a semicolon", ";=1+1", "\"';=1+1\""],
    ["a pipe", "|=cmd|' /C calc'!A0", "\"'|=cmd|' /C calc'!A0\""],
    ["a mix of all of them", " \u00A0\u200B;|\u0000=1+1", "\"' \u00A0\u200B;|\u0000=1+1\""],
    ["a space before a full-width =", " \uFF1D1+1", "' \uFF1D1+1"],
  ])("defuses a formula behind %s", (_name, reason, field) => {
    const line = toCsv([record({ reason })]).split("\r\n")[1];
    expect(line).toBe(`1,2026-11-02T09:00:00.000Z,jan,technician,interlock.reset,water-leak,ok,${field},`);
  });

  it.each([
    ["a separator inside", "pump;valve", "\"pump;valve\""],
    ["a formula after a separator inside", "ok;=1+1", "\"ok;=1+1\""],
    ["a pipe inside", "a|b", "\"a|b\""],
    ["a space before a word", " leak", " leak"],
    ["a zero-width space before a word", "\u200Bleak", "\u200Bleak"],
    ["an = later on", "a=b", "a=b"],
  ])("leaves %s readable, quoted where a separator could split it", (_name, reason, field) => {
    const line = toCsv([record({ reason })]).split("\r\n")[1];
    expect(line).toBe(`1,2026-11-02T09:00:00.000Z,jan,technician,interlock.reset,water-leak,ok,${field},`);
  });

  it("defuses every column, not just the reason", () => {
    const csv = toCsv([record({ actor: { name: "=cmd", role: "technician" }, action: "+a", target: "@t" })]);
    expect(csv.split("\r\n")[1]).toBe("1,2026-11-02T09:00:00.000Z,'=cmd,technician,'+a,'@t,ok,,");
  });
});
