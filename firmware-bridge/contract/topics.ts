/**
 * MQTT topic layout of the device contract: `tec/<site>/<device>/<kind>[/<actuator>]`.
 * The message model (messages.ts) does not depend on these; only MQTT carriers use them.
 */
import { CHANNEL_NAME_PATTERN, DEVICE_ID_PATTERN } from "./messages.ts";

export const DEVICE_TOPIC_KINDS = ["status", "meta", "tele", "health", "ack", "event"] as const;
export type DeviceTopicKind = (typeof DEVICE_TOPIC_KINDS)[number];

export const HUB_ID = "_hub";

export type ParsedTopic =
  | { kind: DeviceTopicKind; device: string }
  | { kind: "cmd"; device: string; actuator: string };

export function deviceTopic(site: string, device: string, kind: DeviceTopicKind): string {
  return `tec/${site}/${device}/${kind}`;
}

export function commandTopic(site: string, device: string, actuator: string): string {
  return `tec/${site}/${device}/cmd/${actuator}`;
}

export function hubTopic(site: string, ...rest: string[]): string {
  return [`tec/${site}/${HUB_ID}`, ...rest].join("/");
}

const deviceKinds: ReadonlySet<string> = new Set(DEVICE_TOPIC_KINDS);

/**
 * Parses a topic under `tec/<site>/`. Returns undefined for anything that is not a device topic of
 * this site (hub topics included), so a caller can reject it with a reason of its own.
 */
export function parseDeviceTopic(site: string, topic: string): ParsedTopic | undefined {
  const prefix = `tec/${site}/`;
  if (!topic.startsWith(prefix)) return undefined;
  const parts = topic.slice(prefix.length).split("/");
  const device = parts[0];
  if (device === undefined || !DEVICE_ID_PATTERN.test(device)) return undefined;
  if (parts.length === 2) {
    const kind = parts[1];
    if (kind !== undefined && deviceKinds.has(kind)) return { kind: kind as DeviceTopicKind, device };
    return undefined;
  }
  if (parts.length === 3 && parts[1] === "cmd") {
    const actuator = parts[2];
    if (actuator !== undefined && CHANNEL_NAME_PATTERN.test(actuator)) return { kind: "cmd", device, actuator };
  }
  return undefined;
}
