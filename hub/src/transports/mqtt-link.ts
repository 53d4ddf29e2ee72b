/**
 * The hub's side of MQTT, whichever broker carries it: the embedded aedes broker on its own thread
 * (broker/broker-thread.ts: no socket, no parsing twice) or the hub's client of an external broker
 * (Mosquitto) on that same thread (broker/external-client.ts). Adapters see only this interface.
 */

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
