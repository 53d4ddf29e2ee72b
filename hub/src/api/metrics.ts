/**
 * Prometheus metrics at `/metrics`, read from the same counters as the hub's health page, so the
 * two can never disagree.
 */
import { Gauge, Registry as PromRegistry, collectDefaultMetrics } from "prom-client";
import type { HubMonitor } from "./monitor.ts";

export interface MetricsRegistry {
  contentType: string;
  render(): Promise<string>;
}

export function createMetrics(monitor: HubMonitor): MetricsRegistry {
  const registry = new PromRegistry();
  collectDefaultMetrics({ register: registry, prefix: "tec_hub_process_" });

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

  // Totals are exposed as gauges holding a monotonic value (prom-client counters cannot be set).
  gauge("tec_hub_ingest_messages_total", "Telemetry messages accepted", [], (g) => g.set(monitor.snapshot().ingest.totals.accepted));
  gauge("tec_hub_ingest_readings_total", "Readings accepted", [], (g) => g.set(monitor.snapshot().ingest.totals.readings));
  gauge("tec_hub_ingest_shed_total", "Messages shed by the intake limit", [], (g) => g.set(monitor.snapshot().ingest.totals.shed));
  gauge("tec_hub_ingest_rejected_total", "Messages or readings rejected, by reason", ["code"], (g) => {
    g.reset();
    for (const [code, n] of Object.entries(monitor.snapshot().ingest.rejectsByCode)) g.set({ code }, n);
  });
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
