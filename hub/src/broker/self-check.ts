/**
 * In external mode the hub does not trust the broker silently (issue 15): at start, and each time
 * its link comes back, it tries what the broker must refuse and raises an alarm for technicians
 * when the broker lets it through:
 * - a client without user name connects (Mosquitto's `allow_anonymous true`);
 * - an account nobody declared connects (no `password_file`, or one that is not the hub's);
 * - the read-only observer publishes (no `acl_file`, or one that lets it write). The observer
 *   subscribes to a topic of the hub's, publishes there, and then the hub publishes there through its
 *   own link: a broker delivers to one session in order, so when the hub's message arrives without
 *   the observer's before it, the observer's was refused. Skipped without an observer account.
 *
 * A probe that cannot be run (broker unreachable, the observer's login refused) proves nothing
 * either way: it is logged, never alarmed. The probes are ordinary MQTT clients with reconnecting
 * off; their failures are caught, so a broken check never takes the hub down. On a Mosquitto from
 * `tec-hub broker-config` (`use_username_as_clientid`), the observer probe replaces an observer
 * session that is open at that moment (a technician's tool reconnects).
 */
import { randomBytes } from "node:crypto";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { HubConfig } from "../config/schema.ts";
import type { AlarmBook } from "../core/alarms/alarms.ts";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { list, text } from "../core/texts/texts.ts";
import type { MqttLink } from "../transports/mqtt-link.ts";

export const BROKER_CHECK_ALARM = "mqtt-broker-unsafe";

export type ProbeName = "anonymous" | "unknown-account" | "observer-publishes";

export interface ProbeResult {
  probe: ProbeName;
  /** `enforced`: refused as it must be; `unsafe`: let through; `unknown`: could not be tried. */
  verdict: "enforced" | "unsafe" | "unknown";
  detail: string;
}

export interface BrokerCheckDeps {
  config: Pick<HubConfig, "site" | "broker">;
  /** The hub's own link to the broker (its account): it publishes the observer probe's closing message. */
  link: MqttLink;
  alarms: AlarmBook;
  logger: Logger;
  clock: Clock;
  /** How long one probe waits for the broker. */
  timeoutMs?: number;
}

const PROBE_PREFIX = "tec-hub-check";

/** Resolves with the CONNACK's client (return code 0), or the refusal; never rejects. */
function probeConnect(url: string, options: IClientOptions, clock: Clock, timeoutMs: number): Promise<{ client: MqttClient } | { refused: string } | { unreachable: string }> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: timeoutMs, clean: true, keepalive: 30, ...options });
    let settled = false;
    const done = (r: { client: MqttClient } | { refused: string } | { unreachable: string }) => {
      if (settled) return;
      settled = true;
      timer.cancel();
      if (!("client" in r)) client.end(true);
      resolve(r);
    };
    const timer = clock.setTimeout(() => done({ unreachable: `no answer within ${timeoutMs} ms` }), timeoutMs);
    client.once("connect", () => done({ client }));
    client.once("error", (error: Error & { code?: unknown }) => {
      // A CONNACK with a non-zero code arrives as an error with that code.
      if (typeof error.code === "number") done({ refused: `CONNACK ${error.code} (${error.message})` });
      else done({ unreachable: error.message });
    });
    // Mosquitto closes an unauthorised connection; a close before any CONNACK is a refusal as well.
    client.once("close", () => done({ refused: "connection closed before a CONNACK" }));
  });
}

async function loginProbe(probe: ProbeName, url: string, options: IClientOptions, clock: Clock, timeoutMs: number): Promise<ProbeResult> {
  const r = await probeConnect(url, options, clock, timeoutMs);
  if ("client" in r) {
    r.client.end(true);
    return { probe, verdict: "unsafe", detail: "the broker accepted the connection" };
  }
  return "refused" in r ? { probe, verdict: "enforced", detail: r.refused } : { probe, verdict: "unknown", detail: r.unreachable };
}

async function observerProbe(deps: BrokerCheckDeps, url: string, timeoutMs: number): Promise<ProbeResult> {
  const probe: ProbeName = "observer-publishes";
  const observer = deps.config.broker.observer;
  if (observer === null) return { probe, verdict: "unknown", detail: "no observer account configured" };
  const nonce = randomBytes(6).toString("hex");
  const r = await probeConnect(url, { username: observer.username, password: observer.password, clientId: `${PROBE_PREFIX}-${nonce}` }, deps.clock, timeoutMs);
  if (!("client" in r)) return { probe, verdict: "unknown", detail: `the observer account could not log in: ${"refused" in r ? r.refused : r.unreachable}` };
  const client = r.client;
  const topic = `tec/${deps.config.site}/_hub/self-check`;
  const mine = `observer ${nonce}`;
  const closing = `hub ${nonce}`;
  try {
    return await new Promise<ProbeResult>((resolve) => {
      let sawMine = false;
      const timer = deps.clock.setTimeout(() => resolve({ probe, verdict: "unknown", detail: `the hub's own message on ${topic} did not arrive within ${timeoutMs} ms` }), timeoutMs);
      client.on("message", (t, payload) => {
        if (t !== topic) return;
        const p = payload.toString();
        if (p === mine) sawMine = true;
        if (p === closing) {
          timer.cancel();
          resolve(sawMine ? { probe, verdict: "unsafe", detail: `the observer's message on ${topic} was delivered` } : { probe, verdict: "enforced", detail: "the observer's message was not delivered" });
        }
      });
      client.on("close", () => {
        // Closing the observer for publishing is enforcement too (the embedded broker does that).
        timer.cancel();
        resolve({ probe, verdict: "enforced", detail: "the broker closed the observer's connection" });
      });
      void (async () => {
        try {
          await client.subscribeAsync(topic, { qos: 1 });
          await client.publishAsync(topic, mine, { qos: 1 });
          deps.link.publish(topic, closing, { qos: 1 });
        } catch (error) {
          // Leaves the verdict to the close or the timer.
          deps.logger.debug({ err: error instanceof Error ? error.message : String(error) }, "broker self-check: observer probe");
        }
      })();
    });
  } finally {
    client.end(true);
  }
}

/** Runs the probes once; never rejects. */
export async function checkExternalBroker(deps: BrokerCheckDeps): Promise<ProbeResult[]> {
  const url = deps.config.broker.url ?? "";
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const nonce = () => randomBytes(6).toString("hex");
  const results: ProbeResult[] = [];
  results.push(await loginProbe("anonymous", url, { clientId: `${PROBE_PREFIX}-${nonce()}` }, deps.clock, timeoutMs));
  results.push(await loginProbe("unknown-account", url, { clientId: `${PROBE_PREFIX}-${nonce()}`, username: `${PROBE_PREFIX}-${nonce()}`, password: randomBytes(18).toString("base64") }, deps.clock, timeoutMs));
  results.push(await observerProbe(deps, url, timeoutMs).catch((error: unknown): ProbeResult => ({ probe: "observer-publishes", verdict: "unknown", detail: error instanceof Error ? error.message : String(error) })));
  return results;
}

const PROBE_TEXT = {
  anonymous: "brokerCheck.anonymous",
  "unknown-account": "brokerCheck.unknownAccount",
  "observer-publishes": "brokerCheck.observerPublishes",
} as const;

/** Raises (or, once the broker enforces everything, clears) the alarm for `results`. */
export function reportBrokerCheck(deps: Pick<BrokerCheckDeps, "alarms" | "logger" | "config">, results: readonly ProbeResult[]): void {
  const unsafe = results.filter((r) => r.verdict === "unsafe");
  for (const r of results) {
    if (r.verdict === "unknown") deps.logger.warn({ probe: r.probe, detail: r.detail }, "broker self-check: could not try this");
    else if (r.verdict === "unsafe") deps.logger.error({ probe: r.probe, detail: r.detail }, "broker self-check: the external broker does not enforce this");
  }
  if (unsafe.length > 0) {
    deps.alarms.raise(BROKER_CHECK_ALARM, "critical", "broker", text("alarm.brokerNotEnforcing", { url: deps.config.broker.url ?? "", problems: list(unsafe.map((r) => text(PROBE_TEXT[r.probe]))) }));
  } else if (results.every((r) => r.verdict === "enforced" || r.probe === "observer-publishes")) {
    deps.alarms.clear(BROKER_CHECK_ALARM);
  }
}

/**
 * Checks at start and each time the link comes back up (a restarted or replaced broker). `start()`
 * resolves with the first check's results (tests wait for it; the hub does not: a broker that does
 * not answer must not hold up the start).
 */
export class BrokerSelfCheck {
  private stopped = false;
  private running: Promise<ProbeResult[]> | null = null;

  constructor(private readonly deps: BrokerCheckDeps) {}

  start(): Promise<ProbeResult[]> {
    this.deps.link.onConnection((up) => {
      if (up && !this.stopped) void this.run();
    });
    return this.run();
  }

  stop(): void {
    this.stopped = true;
  }

  private run(): Promise<ProbeResult[]> {
    if (this.running !== null) return this.running;
    const { deps } = this;
    const running = checkExternalBroker(deps)
      .then((results) => {
        if (!this.stopped) reportBrokerCheck(deps, results);
        return results;
      })
      .catch((error: unknown) => {
        deps.logger.error({ err: error instanceof Error ? error.message : String(error) }, "broker self-check failed");
        return [];
      })
      .finally(() => {
        this.running = null;
      });
    this.running = running;
    return running;
  }
}
