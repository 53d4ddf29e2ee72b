/**
 * The hub's client of an external broker (Mosquitto), on the broker's worker thread like the
 * embedded broker (broker-worker.ts): MQTT parsing and the fleet's traffic cost that thread, and the
 * main thread gets the hub's messages in batches it takes at its own pace (broker-thread.ts), so a
 * burst through the external broker cannot hold up the interlocks, leases and freshness sweep.
 * Readings beyond the hub's backlog are dropped here and counted, as in the embedded broker.
 */
import mqtt, { type MqttClient } from "mqtt";
import { topicMatches } from "../transports/mqtt-link.ts";
import { HubBacklog } from "./policy.ts";
import { type BrokerCounters, type BrokerInit, type BrokerStats, type Denial, type ExternalClientInit, ZERO_COUNTERS } from "./protocol.ts";

export interface ExternalClientSink {
  toHub(sub: number, topic: string, payload: Buffer): void;
  denied(denial: Omit<Denial, "count">): void;
  /** The connection to the broker came up or went down. */
  link(up: boolean): void;
}

/** How long the first connection may take before the start fails (later ones are retried for ever). */
const FIRST_CONNECT_MS = 10_000;

export class ExternalClient {
  readonly port = null;
  readonly tlsPort = null;
  private client: MqttClient | null = null;
  private readonly filters: Array<{ filter: string; sub: number }> = [];
  private readonly backlog: HubBacklog;
  private readonly counters: BrokerCounters = { ...ZERO_COUNTERS };
  private readonly prefix: string;

  constructor(
    private readonly init: BrokerInit & { external: ExternalClientInit },
    private readonly sink: ExternalClientSink,
  ) {
    this.backlog = new HubBacklog(init.limits.maxHubBacklog, init.limits.maxHubBacklogPerDevice);
    this.prefix = `tec/${init.site}/`;
  }

  async start(): Promise<void> {
    const x = this.init.external;
    const client = mqtt.connect(x.url, {
      clientId: x.clientId,
      ...(x.username !== undefined ? { username: x.username } : {}),
      ...(x.password !== undefined ? { password: x.password } : {}),
      protocolVersion: 4,
      clean: true,
      keepalive: 5,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      will: { topic: x.will.topic, payload: Buffer.from(x.will.payload), retain: true, qos: 1 },
    });
    this.client = client;
    client.on("message", (topic, payload) => this.received(topic, payload));
    client.on("connect", () => {
      // Nagle's algorithm adds up to 40 ms per message at moderate rates.
      (client.stream as { setNoDelay?: (v: boolean) => void } | undefined)?.setNoDelay?.(true);
      this.sink.link(true);
    });
    client.on("close", () => this.sink.link(false));
    await new Promise<void>((resolve, reject) => {
      let lastError = "";
      const onError = (error: Error) => (lastError = `: ${error.message}`);
      client.on("error", onError);
      const timer = setTimeout(() => {
        client.off("error", onError);
        client.end(true);
        reject(new Error(`no connection to the external broker ${x.url} within ${FIRST_CONNECT_MS / 1000} s${lastError}`));
      }, FIRST_CONNECT_MS);
      client.once("connect", () => {
        clearTimeout(timer);
        client.off("error", onError);
        resolve();
      });
    });
  }

  /** The hub's subscription number `sub`; mqtt.js subscribes again after a reconnect. */
  async subscribe(filter: string, sub: number): Promise<void> {
    this.filters.push({ filter, sub });
    await this.client?.subscribeAsync(filter, { qos: 0 });
  }

  publish(topic: string, payload: Buffer, qos: 0 | 1, retain: boolean): void {
    this.client?.publish(topic, payload, { qos, retain });
  }

  taken(n: number): void {
    this.backlog.taken(n);
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client !== null) await client.endAsync();
  }

  stats(loopDelayP99Ms: number): BrokerStats {
    // The external broker's own sessions and refusals are its own; the hub counts what it dropped.
    return { ...this.counters, clients: 0, deviceSessions: 0, observerSessions: 0, addressesBackedOff: 0, loopDelayP99Ms, recentRefusals: [] };
  }

  /** Once per subscription that matches (as a broker delivers it); only readings are ever dropped. */
  private received(topic: string, payload: Buffer): void {
    const device = topic.startsWith(this.prefix) ? topic.slice(this.prefix.length, topic.indexOf("/", this.prefix.length)) : "";
    for (const f of this.filters) {
      if (!topicMatches(f.filter, topic)) continue;
      if (topic.endsWith("/tele") && !this.backlog.admits(device)) {
        this.counters.hubDropped += 1;
        this.sink.denied({ deviceId: device, code: "shed", message: `reading dropped by the hub's MQTT thread: ${this.backlog.of(device)} of this device's messages (${this.backlog.size} in all) are still waiting for the hub` });
        continue;
      }
      this.backlog.added(device);
      this.sink.toHub(f.sub, topic, payload);
    }
  }
}
