/**
 * Messages between the hub's main thread and the embedded broker's worker thread (broker-worker.ts).
 * The broker runs on its own thread so that no amount of MQTT traffic (fan-out to many subscribers,
 * floods, connect storms) can delay the interlocks, leases and freshness sweep on the main thread.
 */
import type { RejectCode } from "../core/types.ts";

export interface BrokerLimits {
  /** Sessions one device account may hold at once (a device and, say, a flashing tool). */
  maxConnectionsPerDevice: number;
  /** Sessions the observer account may hold at once: many tools, not thousands. */
  maxObserverConnections: number;
  /** Connections of all accounts together. */
  maxConnections: number;
  /** Subscriptions one session may hold. */
  maxSubscriptionsPerClient: number;
  /** Messages per second one observer session is sent at most (a burst of twice that). */
  observerMessagesPerS: number;
  /** Messages per second all observer sessions together are sent at most. */
  observerTotalMessagesPerS: number;
  /** A subscriber whose socket holds more than this many unsent bytes misses messages until it drains. */
  maxSubscriberBacklogB: number;
  /** Keep-alive the broker accepts at most (s); 0 and anything above are treated as this. */
  maxKeepaliveS: number;
  /** A TCP connection that has not completed its CONNECT within this time is closed. */
  connectTimeoutMs: number;
  /** Messages handed to the main thread and not yet taken; beyond this, readings for the hub are dropped and counted. */
  maxHubBacklog: number;
  /** The same for one device's messages: a flooding device fills its own share only. */
  maxHubBacklogPerDevice: number;
}

/** The TLS listener: its port and the server's certificate (with any intermediates) and key, PEM. */
export interface BrokerTlsInit {
  port: number;
  cert: string;
  key: string;
}

/** The hub as a client of an external broker (Mosquitto), on the broker's thread instead of aedes. */
export interface ExternalClientInit {
  url: string;
  username?: string;
  password?: string;
  clientId: string;
  /** Published retained by the broker if the hub vanishes. */
  will: { topic: string; payload: string };
}

export interface BrokerInit {
  site: string;
  /** Set: no embedded broker; the thread is the hub's client of this external broker (listeners, devices and observer unused). */
  external?: ExternalClientInit | null;
  host: string;
  port: number;
  /** Whether the plain (non-TLS) listener on `port` runs. */
  plain: boolean;
  /** MQTT over TLS, or null. */
  tls: BrokerTlsInit | null;
  /** [device id, password] */
  devices: Array<[string, string]>;
  observer: { username: string; password: string } | null;
  limits: BrokerLimits;
}

/** A refusal or rule breach, aggregated over a short window: `count` of them, the last one's message. */
export interface Denial {
  deviceId: string | null;
  code: Extract<RejectCode, "auth-failed" | "acl-denied" | "client-id-refused" | "connection-refused" | "shed">;
  message: string;
  count: number;
}

/** One refused connection attempt, as technicians see it (merged with its repeats). */
export interface Refusal {
  firstAt: number;
  lastAt: number;
  count: number;
  code: Denial["code"];
  account: string | null;
  clientId: string;
  address: string;
  reason: string;
}

export interface BrokerStats {
  clients: number;
  deviceSessions: number;
  observerSessions: number;
  authFailures: number;
  /** Logins refused unchecked because their address is waiting out its backoff. */
  authThrottled: number;
  /** Addresses currently waiting out a backoff. */
  addressesBackedOff: number;
  aclDenials: number;
  clientIdRefused: number;
  connectionsRefused: number;
  subscriptionsRefused: number;
  /** Messages a subscriber missed because its socket was not draining. */
  forwardDropped: number;
  /** Messages an observer missed because of its budget. */
  budgetDropped: number;
  /** Readings for the hub dropped because the main thread had not taken the previous ones. */
  hubDropped: number;
  /** Keep-alives of 0 or above the limit, treated as the limit. */
  keepalivesClamped: number;
  /** TLS connections that ended before their handshake completed: wrong CA, plain MQTT on the TLS port, garbage, a timeout. */
  tlsHandshakeFailures: number;
  /** The broker thread's own event-loop delay, p99 over the last stats period (ms). */
  loopDelayP99Ms: number;
  recentRefusals: Refusal[];
}

/** The broker's own counters, as they start. */
export type BrokerCounters = Omit<BrokerStats, "clients" | "deviceSessions" | "observerSessions" | "addressesBackedOff" | "loopDelayP99Ms" | "recentRefusals">;
export const ZERO_COUNTERS: Readonly<BrokerCounters> = {
  authFailures: 0,
  authThrottled: 0,
  aclDenials: 0,
  clientIdRefused: 0,
  connectionsRefused: 0,
  subscriptionsRefused: 0,
  forwardDropped: 0,
  budgetDropped: 0,
  hubDropped: 0,
  keepalivesClamped: 0,
  tlsHandshakeFailures: 0,
};

/** What the hub reports when it has no broker of its own (external mode): nothing counted here. */
export const EXTERNAL_BROKER_STATS: BrokerStats & { threadRestarts: number } = {
  ...ZERO_COUNTERS,
  clients: 0,
  deviceSessions: 0,
  observerSessions: 0,
  addressesBackedOff: 0,
  loopDelayP99Ms: 0,
  recentRefusals: [],
  threadRestarts: 0,
};

export type ToBroker =
  /** The hub's subscription number `sub` (0, 1, … in the order it subscribed). */
  | { t: "subscribe"; filter: string; sub: number }
  | { t: "publish"; topic: string; payload: Uint8Array; qos: 0 | 1; retain: boolean }
  /** The main thread has handled `n` more messages. */
  | { t: "taken"; n: number }
  | { t: "stop" };

export type FromBroker =
  /** Listening: the plain listener's port and the TLS listener's (null where that listener is off). */
  | { t: "ready"; port: number | null; tlsPort: number | null }
  | { t: "failed"; message: string }
  /** Messages for the hub's subscriptions: which one each matched, topics, and payloads back to back in `bytes`. */
  | { t: "messages"; topics: string[]; subs: Uint16Array; ends: Uint32Array; bytes: Uint8Array }
  | { t: "denials"; items: Denial[] }
  /** External mode: the connection to the external broker came up or went down. */
  | { t: "link"; up: boolean }
  | { t: "stats"; stats: BrokerStats }
  | { t: "stopped" };
