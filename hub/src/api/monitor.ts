/**
 * The hub's own health: ingest rate, rejects, shed load, clients, event-loop lag, memory. Read by
 * the REST API, the Prometheus endpoint and the technicians' screen.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import type { BrokerStats } from "../broker/protocol.ts";
import type { Clock, Timer } from "../core/clock.ts";
import type { TelemetryPipeline } from "../core/telemetry/pipeline.ts";

export interface HubHealth {
  version: string;
  startedAt: number;
  uptimeS: number;
  /** The broker's own counters (zero in external mode, where the external broker keeps its own). */
  mqtt: { mode: "embedded" | "external"; description: string; connected: boolean } & BrokerStats & { threadRestarts: number };
  ingest: {
    messagesPerS: number;
    readingsPerS: number;
    rejectsPerS: number;
    shedPerS: number;
    totals: { accepted: number; readings: number; rejected: number; shed: number; unknownDevice: number };
    rejectsByCode: Record<string, number>;
    unknownDevices: Array<{ id: string; count: number; lastAt: number }>;
  };
  live: { clients: number; frames: number; skippedForSlowClients: number };
  eventLoop: { p50Ms: number; p99Ms: number; maxMs: number };
  memory: { rssMB: number; heapUsedMB: number };
  history: Record<string, number | null>;
  devices: Record<string, number>;
}

export interface MonitorSources {
  version: string;
  pipeline: TelemetryPipeline;
  mqtt: () => HubHealth["mqtt"];
  live: () => HubHealth["live"];
  history: () => HubHealth["history"];
  deviceStates: () => Record<string, number>;
}

const WINDOW_MS = 2000;
const LOOP_RESOLUTION_MS = 10;

/**
 * Node's event-loop histogram records the time between two ticks of its own timer, so an idle loop
 * reads as the resolution (10 ms here) and not as 0. The delay is what exceeds the resolution.
 */
export function loopDelayMs(intervalNs: number, resolutionMs = LOOP_RESOLUTION_MS): number {
  return round(Math.max(0, intervalNs / 1e6 - resolutionMs));
}

export class HubMonitor {
  private readonly startedAt: number;
  private histogram: IntervalHistogram | null = null;
  private timer: Timer | null = null;
  private last = { at: 0, accepted: 0, readings: 0, rejected: 0, shed: 0 };
  private rates = { messagesPerS: 0, readingsPerS: 0, rejectsPerS: 0, shedPerS: 0 };
  private loop = { p50Ms: 0, p99Ms: 0, maxMs: 0 };

  constructor(
    private readonly clock: Clock,
    private readonly sources: MonitorSources,
  ) {
    this.startedAt = clock.now();
  }

  start(): void {
    this.histogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    this.histogram.enable();
    const c = this.sources.pipeline.counters;
    this.last = { at: this.clock.now(), accepted: c.accepted, readings: c.readings, rejected: c.rejected, shed: c.shed };
    this.timer = this.clock.setInterval(() => this.sample(), WINDOW_MS);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
    this.histogram?.disable();
  }

  snapshot(): HubHealth {
    const { pipeline } = this.sources;
    const now = this.clock.now();
    return {
      version: this.sources.version,
      startedAt: this.startedAt,
      uptimeS: Math.round((now - this.startedAt) / 1000),
      mqtt: this.sources.mqtt(),
      ingest: {
        ...this.rates,
        totals: { ...pipeline.counters },
        rejectsByCode: Object.fromEntries(pipeline.rejectsByCode),
        unknownDevices: [...pipeline.unknownDevices.entries()].map(([id, u]) => ({ id, ...u })),
      },
      live: this.sources.live(),
      eventLoop: { ...this.loop },
      memory: { rssMB: Math.round(process.memoryUsage.rss() / 1048576), heapUsedMB: Math.round(process.memoryUsage().heapUsed / 1048576) },
      history: this.sources.history(),
      devices: this.sources.deviceStates(),
    };
  }

  private sample(): void {
    const now = this.clock.now();
    const c = this.sources.pipeline.counters;
    const dt = (now - this.last.at) / 1000;
    if (dt > 0) {
      this.rates = {
        messagesPerS: Math.round((c.accepted - this.last.accepted) / dt),
        readingsPerS: Math.round((c.readings - this.last.readings) / dt),
        rejectsPerS: Math.round(((c.rejected - this.last.rejected) / dt) * 10) / 10,
        shedPerS: Math.round((c.shed - this.last.shed) / dt),
      };
    }
    this.last = { at: now, accepted: c.accepted, readings: c.readings, rejected: c.rejected, shed: c.shed };
    const h = this.histogram;
    if (h !== null && h.count > 0) {
      this.loop = { p50Ms: loopDelayMs(h.percentile(50)), p99Ms: loopDelayMs(h.percentile(99)), maxMs: loopDelayMs(h.max) };
      h.reset();
    }
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
