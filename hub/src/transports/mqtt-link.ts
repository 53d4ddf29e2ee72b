/**
 * The hub's side of MQTT, whichever broker carries it: the embedded aedes broker on its own thread
 * (broker/broker-thread.ts: no socket, no parsing twice) or as a client of an external broker
 * (Mosquitto). Adapters see only this interface.
 */
import mqtt, { type MqttClient } from "mqtt";
import type { Logger } from "../core/logger.ts";

export type MessageHandler = (topic: string, payload: Buffer) => void;

export interface PublishOptions {
  retain?: boolean;
  qos?: 0 | 1;
}

export interface MqttLink {
  /** Human-readable description for logs and the hub's health page. */
  readonly description: string;
  readonly connected: boolean;
  start(): Promise<void>;
  subscribe(filter: string, handler: MessageHandler): Promise<void>;
  publish(topic: string, payload: string | Buffer, options?: PublishOptions): void;
  /** Called with true/false when the link to the broker comes up or goes down. */
  onConnection(fn: (up: boolean) => void): void;
  stop(): Promise<void>;
}

/** MQTT topic filter matching (`+` one level, `#` the rest). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    const part = f[i];
    if (part === "#") return true;
    if (i >= t.length) return false;
    if (part !== "+" && part !== t[i]) return false;
  }
  return f.length === t.length;
}

export interface ExternalLinkOptions {
  url: string;
  username?: string;
  password?: string;
  clientId: string;
  /** Published retained by the broker if the hub vanishes. */
  will: { topic: string; payload: string };
}

export class ExternalLink implements MqttLink {
  readonly description: string;
  private client: MqttClient | null = null;
  private readonly handlers: Array<{ filter: string; handler: MessageHandler }> = [];
  private readonly listeners: Array<(up: boolean) => void> = [];

  constructor(
    private readonly options: ExternalLinkOptions,
    private readonly logger: Logger,
  ) {
    this.description = `external broker ${options.url}`;
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  async start(): Promise<void> {
    const { options } = this;
    const client = mqtt.connect(options.url, {
      clientId: options.clientId,
      username: options.username,
      password: options.password,
      protocolVersion: 4,
      clean: true,
      keepalive: 5,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
      will: { topic: options.will.topic, payload: Buffer.from(options.will.payload), retain: true, qos: 1 },
    });
    this.client = client;
    client.on("message", (topic, payload) => {
      for (const h of this.handlers) {
        if (topicMatches(h.filter, topic)) {
          try {
            h.handler(topic, payload);
          } catch (error) {
            this.logger.error({ err: error, topic }, "mqtt handler failed");
          }
        }
      }
    });
    client.on("connect", () => {
      for (const l of this.listeners) l(true);
    });
    client.on("close", () => {
      for (const l of this.listeners) l(false);
    });
    client.on("error", (error) => this.logger.warn({ err: error.message }, "external broker error"));
    client.on("packetreceive", () => {});
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no connection to ${options.url} within 10 s`)), 10_000);
      client.once("connect", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    // Nagle's algorithm adds up to 40 ms per message at moderate rates.
    const stream = client.stream as { setNoDelay?: (v: boolean) => void } | undefined;
    stream?.setNoDelay?.(true);
  }

  async subscribe(filter: string, handler: MessageHandler): Promise<void> {
    this.handlers.push({ filter, handler });
    const client = this.client;
    if (client === null) throw new Error("external link not started");
    // mqtt.js re-subscribes after a reconnect (resubscribe: true by default).
    await client.subscribeAsync(filter, { qos: 0 });
  }

  publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): void {
    this.client?.publish(topic, payload, { qos: options.qos ?? 0, retain: options.retain ?? false });
  }

  onConnection(fn: (up: boolean) => void): void {
    this.listeners.push(fn);
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client !== null) await client.endAsync();
  }
}
