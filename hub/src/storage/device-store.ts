/**
 * The registry's snapshot across restarts: one row per device, meta and counters as JSON. Rows are
 * checked on the way back in, because an older hub may have written them: a row that no longer
 * fits is repaired to safe defaults rather than keeping the hub from starting.
 *
 * The store remembers what each row holds (as loaded, or as it last wrote it) and writes a device
 * only when one of its persisted fields differs: with thousands of devices most saves touch few
 * rows, and a save of a device whose meta did not change leaves the meta column alone. It assumes
 * it is the only writer of the table, which holds for the hub (one store on one connection).
 */
import type BetterSqlite3 from "better-sqlite3";
import { MetaMessage } from "../../../firmware-bridge/contract/messages.ts";
import type { PersistedDevice } from "../core/registry/registry.ts";
import { asDeviceId, type DeviceCounters, type DeviceState } from "../core/types.ts";
import type { Database } from "./db.ts";

interface DeviceRow {
  id: string;
  state: string;
  last_seen: number | null;
  meta: string | null;
  counters: string;
}

/** What a row holds, as this store last read or wrote it. */
interface Written {
  state: DeviceState;
  lastSeen: number | null;
  /** The object the row's meta came from: a registry keeps it until the device describes itself again. */
  meta: MetaMessage | null;
  metaJson: string | null;
  counters: number[];
}

const STATES: readonly DeviceState[] = ["unknown", "init", "ready", "degraded", "stale", "offline", "fault"];
// Every counter, checked by the compiler: a counter added to DeviceCounters must be listed here or
// it would silently start from zero after each restart.
const COUNTER_KEYS: { readonly [K in keyof DeviceCounters]: true } = {
  messages: true,
  readings: true,
  rejects: true,
  duplicates: true,
  gaps: true,
  missedMessages: true,
  seqJumps: true,
  seqRestarts: true,
  reboots: true,
  shed: true,
};
const COUNTERS = Object.keys(COUNTER_KEYS) as ReadonlyArray<keyof DeviceCounters>;

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

function toCounters(raw: unknown): DeviceCounters {
  const source = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>) : {};
  const counters = {} as DeviceCounters;
  for (const key of COUNTERS) {
    const v = source[key];
    counters[key] = typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0;
  }
  return counters;
}

const counterValues = (c: DeviceCounters): number[] => COUNTERS.map((k) => c[k]);

function sameCounters(a: readonly number[], b: DeviceCounters): boolean {
  for (let i = 0; i < COUNTERS.length; i++) {
    const key = COUNTERS[i];
    if (key === undefined || a[i] !== b[key]) return false;
  }
  return true;
}

export class DeviceStore {
  private readonly written = new Map<string, Written>();
  private upsert: BetterSqlite3.Statement<[string, string, number | null, string | null, string]> | undefined;
  private update: BetterSqlite3.Statement<[string, number | null, string, string]> | undefined;

  /** No I/O here: statements are prepared on first use. */
  constructor(private readonly db: Database) {}

  /**
   * Writes, in one transaction, every device in the list whose persisted fields differ from its
   * row; devices not in the list are left as they were. Returns how many rows it wrote.
   */
  save(devices: readonly PersistedDevice[]): number {
    return this.write(devices, "deferred");
  }

  /**
   * As `save`, but never waits for the write lock: if another connection (the history worker's)
   * is committing, it writes nothing and returns null, and the devices still count as changed. A
   * wait would block this thread for as long as that commit takes, with busy_timeout up to 5 s.
   */
  trySave(devices: readonly PersistedDevice[]): number | null {
    const busyTimeoutMs = this.db.pragma("busy_timeout", { simple: true }) as number;
    this.db.pragma("busy_timeout = 0");
    try {
      return this.write(devices, "immediate");
    } catch (error) {
      if (error instanceof Error && "code" in error && typeof error.code === "string" && error.code.startsWith("SQLITE_BUSY")) return null;
      throw error;
    } finally {
      this.db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    }
  }

  private write(devices: readonly PersistedDevice[], begin: "deferred" | "immediate"): number {
    const changed: Array<{ device: PersistedDevice; metaJson: string | null; metaChanged: boolean }> = [];
    for (const d of devices) {
      const w = this.written.get(d.id);
      const metaChanged = w === undefined || !this.sameMeta(w, d.meta);
      if (!metaChanged && w.state === d.state && w.lastSeen === d.lastSeen && sameCounters(w.counters, d.counters)) continue;
      changed.push({ device: d, metaJson: metaChanged ? (d.meta === null ? null : JSON.stringify(d.meta)) : w.metaJson, metaChanged });
    }
    if (changed.length === 0) return 0;
    this.upsert ??= this.db.prepare(
      `INSERT INTO devices (id, state, last_seen, meta, counters) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, last_seen = excluded.last_seen,
         meta = excluded.meta, counters = excluded.counters`,
    );
    this.update ??= this.db.prepare("UPDATE devices SET state = ?, last_seen = ?, counters = ? WHERE id = ?");
    const upsert = this.upsert;
    const update = this.update;
    const write = this.db.transaction(() => {
      for (const { device: d, metaJson, metaChanged } of changed) {
        const counters = JSON.stringify(d.counters);
        // The meta column only when it changed: it is most of a row's bytes.
        if (metaChanged) upsert.run(d.id, d.state, d.lastSeen, metaJson, counters);
        else update.run(d.state, d.lastSeen, counters, d.id);
      }
    });
    // IMMEDIATE takes the write lock at BEGIN, so a busy database fails before any work is done.
    if (begin === "immediate") write.immediate();
    else write();
    // Only once committed: after a failed write every row still counts as changed.
    for (const { device: d, metaJson } of changed) {
      this.written.set(d.id, { state: d.state, lastSeen: d.lastSeen, meta: d.meta, metaJson, counters: counterValues(d.counters) });
    }
    return changed.length;
  }

  load(): PersistedDevice[] {
    const rows = this.db.prepare<[], DeviceRow>("SELECT id, state, last_seen, meta, counters FROM devices ORDER BY id").all();
    return rows.map((row) => {
      const meta = MetaMessage.safeParse(parseJson(row.meta));
      const device: PersistedDevice = {
        id: asDeviceId(row.id),
        state: STATES.find((s) => s === row.state) ?? "unknown",
        lastSeen: typeof row.last_seen === "number" ? row.last_seen : null,
        meta: meta.success ? meta.data : null,
        counters: toCounters(parseJson(row.counters)),
      };
      // A row that needed repair counts as changed, so the next save writes the repaired form.
      const repaired = device.state !== row.state || device.lastSeen !== row.last_seen || (device.meta === null) !== (row.meta === null);
      if (!repaired) {
        this.written.set(row.id, { state: device.state, lastSeen: device.lastSeen, meta: device.meta, metaJson: row.meta, counters: counterValues(device.counters) });
      } else {
        this.written.delete(row.id);
      }
      return device;
    });
  }

  /**
   * Same object: unchanged (a registry keeps the meta object until the device describes itself
   * again). Another object with the same JSON (a device re-sending its retained meta on every
   * reconnect): unchanged too, and remembered, so the JSON is compared once per new object.
   */
  private sameMeta(w: Written, meta: MetaMessage | null): boolean {
    if (w.meta === meta) return true;
    if (meta === null || w.metaJson === null) return false;
    if (JSON.stringify(meta) !== w.metaJson) return false;
    w.meta = meta;
    return true;
  }
}
