/**
 * Prometheus metrics at `/metrics`, read from the same counters as the hub's health page, so the
 * two can never disagree. Totals are prom-client Counters (TYPE counter, so `rate()` works and a
 * restart reads as a counter reset): each scrape adds what the monotonic source grew since the
 * last one. Two histograms time the hub's own work: telemetry through the pipeline (sampled) and
 * interlock trips. The core only sees two small observer interfaces, never prom-client.
 */
import { performance } from "node:perf_hooks";
import { Counter, Gauge, Histogram, Registry as PromRegistry, collectDefaultMetrics } from "prom-client";
import type { InterlockObserver } from "../core/interlock/service.ts";
import type { PipelineObserver } from "../core/telemetry/pipeline.ts";
import type { HubMonitor } from "./monitor.ts";

export interface MetricsRegistry {
  contentType: string;
  render(): Promise<string>;
}

/** Pipeline work is tens of microseconds; a slow one (a stalled loop, a big fan-out) milliseconds. */
export const INGEST_LATENCY_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1];
/** A trip's actions go out in the same turn as its input: well under a millisecond, unless the loop stalls. */
export const INTERLOCK_REACTION_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

/**
 * The timing histograms and the observers the core is handed (TelemetryPipeline's and
 * InterlockService's `observe`). Made before the core, registered by `createMetrics`.
 */
export class HubTimings {
  readonly ingestLatency = new Histogram({
    name: "tec_hub_ingest_latency_seconds",
    help: "Time from a telemetry message entering the hub's pipeline to its readings accepted and handed on (history, interlocks, live); one message in 16 is timed",
    buckets: INGEST_LATENCY_BUCKETS,
    registers: [],
  });
  readonly interlockReaction = new Histogram({
    name: "tec_hub_interlock_reaction_seconds",
    help: "Time from the input that tripped an interlock reaching the interlocks to the trip's actions issued",
    buckets: INTERLOCK_REACTION_BUCKETS,
    registers: [],
  });
  readonly pipeline: PipelineObserver = {
    now: () => performance.now(),
    ingested: (ms) => this.ingestLatency.observe(ms / 1000),
  };
  readonly interlocks: InterlockObserver = {
    now: () => performance.now(),
    reacted: (ms) => this.interlockReaction.observe(ms / 1000),
  };
}

type Sample = readonly [labels: Record<string, string>, value: number];

export function createMetrics(monitor: HubMonitor, timings: HubTimings = new HubTimings()): MetricsRegistry {
  const registry = new PromRegistry();
  collectDefaultMetrics({ register: registry, prefix: "tec_hub_process_" });
  registry.registerMetric(timings.ingestLatency);
  registry.registerMetric(timings.interlockReaction);

  const gauge = (name: string, help: string, labelNames: string[], read: (g: Gauge) => void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        read(this);
      },
    });

  /**
   * A counter fed from a monotonic value: on each scrape it grows by what the source grew. A
   * source that went down (it cannot, within one process) is taken as the new base.
   */
  const counter = (name: string, help: string, labelNames: string[], read: () => readonly Sample[]) => {
    const last = new Map<string, number>();
    return new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        for (const [labels, value] of read()) {
          const key = JSON.stringify(labels);
          const before = last.get(key);
          last.set(key, value);
          // inc by 0 the first time: the series exists (at 0) from the first scrape on.
          if (before === undefined) this.inc(labels, Math.max(0, value));
          else if (value > before) this.inc(labels, value - before);
        }
      },
    });
  };
  const totals = () => monitor.snapshot().ingest.totals;

  counter("tec_hub_ingest_messages_total", "Telemetry messages accepted", [], () => [[{}, totals().accepted]]);
  counter("tec_hub_ingest_readings_total", "Readings accepted", [], () => [[{}, totals().readings]]);
  counter("tec_hub_ingest_shed_total", "Messages shed by the intake limit", [], () => [[{}, totals().shed]]);
  counter("tec_hub_ingest_rejected_total", "Messages or readings rejected, by reason", ["code"], () =>
    Object.entries(monitor.snapshot().ingest.rejectsByCode).map(([code, n]): Sample => [{ code }, n]),
  );
  gauge("tec_hub_ingest_messages_per_second", "Accepted telemetry messages per second (2 s window)", [], (g) => g.set(monitor.snapshot().ingest.messagesPerS));
  gauge("tec_hub_live_clients", "Dashboards connected to the live stream", [], (g) => g.set(monitor.snapshot().live.clients));
  gauge("tec_hub_mqtt_clients", "MQTT clients connected to the embedded broker", [], (g) => g.set(monitor.snapshot().mqtt.clients));
  gauge("tec_hub_event_loop_lag_p99_seconds", "Event-loop delay, 99th percentile over the last window", [], (g) => g.set(monitor.snapshot().eventLoop.p99Ms / 1000));
  gauge("tec_hub_devices", "Devices by state", ["state"], (g) => {
    g.reset();
    for (const [state, n] of Object.entries(monitor.snapshot().devices)) g.set({ state }, n);
  });

  return { contentType: registry.contentType, render: () => registry.metrics() };
}
