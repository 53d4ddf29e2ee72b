/**
 * One typed event map for the whole hub and a bus whose listeners are isolated per owner: a
 * listener that throws is logged and counted against its owner, and the others still run.
 */
import type { MetaMessage } from "../../../firmware-bridge/contract/messages.ts";
import type { Alarm } from "./alarms/alarms.ts";
import type { Logger } from "./logger.ts";
import type { ChannelQuality, DeviceId, DeviceState, RejectCode, TelemetryBatch } from "./types.ts";

export interface HubEvents {
  "telemetry:accepted": TelemetryBatch;
  "telemetry:rejected": { deviceId: DeviceId | null; code: RejectCode; message: string; at: number };
  "device:changed": { deviceId: DeviceId; state: DeviceState; previous: DeviceState; reason: string; at: number };
  "device:described": { deviceId: DeviceId; meta: MetaMessage; rebooted: boolean; at: number };
  "channel:changed": { deviceId: DeviceId; channel: string; quality: ChannelQuality; previous: ChannelQuality; at: number };
  "intake:shed": { dropped: number; windowMs: number; at: number };
  "alarm:changed": Alarm;
  "interlock:changed": { id: string; from: string; to: string; at: number };
  "station:changed": { id: string };
}

export type HubEventName = keyof HubEvents;
type Listener<E extends HubEventName> = (payload: HubEvents[E]) => void;

interface Entry {
  owner: string;
  fn: (payload: never) => void;
}

export class Bus {
  private readonly listeners = new Map<HubEventName, Entry[]>();
  private readonly failures = new Map<string, number>();

  constructor(private readonly logger: Logger) {}

  /** Registers `fn` for `event` on behalf of `owner`; returns a function that removes it. */
  on<E extends HubEventName>(event: E, owner: string, fn: Listener<E>): () => void {
    const list = this.listeners.get(event) ?? [];
    const entry: Entry = { owner, fn: fn };
    this.listeners.set(event, [...list, entry]);
    return () => {
      const current = this.listeners.get(event) ?? [];
      this.listeners.set(
        event,
        current.filter((e) => e !== entry),
      );
    };
  }

  emit<E extends HubEventName>(event: E, payload: HubEvents[E]): void {
    const list = this.listeners.get(event);
    if (list === undefined) return;
    for (const entry of list) {
      try {
        (entry.fn as Listener<E>)(payload);
      } catch (error) {
        this.failures.set(entry.owner, (this.failures.get(entry.owner) ?? 0) + 1);
        this.logger.error({ err: error, event, owner: entry.owner }, "event listener failed");
      }
    }
  }

  /** Listener failures per owner, for the hub's own health. */
  listenerFailures(): Record<string, number> {
    return Object.fromEntries(this.failures);
  }
}
