/**
 * The registry's snapshot across restarts: one row per device, meta and counters as JSON. Rows are
 * checked on the way back in, because an older hub may have written them: a row that no longer
 * fits is repaired to safe defaults rather than keeping the hub from starting.
 */
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

const STATES: readonly DeviceState[] = ["unknown", "init", "ready", "degraded", "stale", "offline", "fault"];
const COUNTERS: readonly (keyof DeviceCounters)[] = [
  "messages",
  "readings",
  "rejects",
  "duplicates",
  "gaps",
  "missedMessages",
  "reboots",
  "shed",
];

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

export class DeviceStore {
  /** No I/O here: statements are prepared on first use. */
  constructor(private readonly db: Database) {}

  /** Upserts every device in one transaction; devices not in the list are left as they were. */
  save(devices: readonly PersistedDevice[]): void {
    const upsert = this.db.prepare<[string, string, number | null, string | null, string]>(
      `INSERT INTO devices (id, state, last_seen, meta, counters) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, last_seen = excluded.last_seen,
         meta = excluded.meta, counters = excluded.counters`,
    );
    this.db.transaction(() => {
      for (const d of devices) {
        upsert.run(d.id, d.state, d.lastSeen, d.meta === null ? null : JSON.stringify(d.meta), JSON.stringify(d.counters));
      }
    })();
  }

  load(): PersistedDevice[] {
    const rows = this.db.prepare<[], DeviceRow>("SELECT id, state, last_seen, meta, counters FROM devices ORDER BY id").all();
    return rows.map((row) => {
      const meta = MetaMessage.safeParse(parseJson(row.meta));
      return {
        id: asDeviceId(row.id),
        state: STATES.find((s) => s === row.state) ?? "unknown",
        lastSeen: typeof row.last_seen === "number" ? row.last_seen : null,
        meta: meta.success ? meta.data : null,
        counters: toCounters(parseJson(row.counters)),
      };
    });
  }
}
