/**
 * Who may do what on the embedded broker. Pure: identities and topics in, decisions out.
 *
 * - a device publishes only under its own topics (`tec/<site>/<self>/{status,meta,tele,health,ack,event}`)
 *   and subscribes only to its own commands and the hub's topics (`tec/<site>/_hub/...`);
 * - the observer (technicians' tools) subscribes to anything and publishes nothing;
 * - only the hub publishes commands; it is in-process and never asks.
 */
import { DEVICE_TOPIC_KINDS, HUB_ID } from "../../../firmware-bridge/contract/topics.ts";

export type Identity = { role: "device"; deviceId: string } | { role: "observer"; username: string } | { role: "hub"; username: string };

export type Decision = { ok: true; retain?: boolean } | { ok: false; reason: string };

const RETAINED_KINDS = new Set(["status", "meta"]);
const DEVICE_KINDS: ReadonlySet<string> = new Set(DEVICE_TOPIC_KINDS);

export function canPublish(site: string, who: Identity, topic: string): Decision {
  if (who.role === "hub") return { ok: true };
  if (who.role === "observer") return { ok: false, reason: `observer account "${who.username}" is read-only` };
  const own = `tec/${site}/${who.deviceId}/`;
  if (!topic.startsWith(own)) return { ok: false, reason: `device "${who.deviceId}" may not publish to ${topic} (only under ${own})` };
  const kind = topic.slice(own.length);
  if (!DEVICE_KINDS.has(kind)) return { ok: false, reason: `device "${who.deviceId}" may not publish to ${topic}: ${kind} is not one of ${DEVICE_TOPIC_KINDS.join(", ")}` };
  // Only birth and meta are retained; a retained reading would look fresh to every new subscriber.
  return { ok: true, retain: RETAINED_KINDS.has(kind) };
}

export function canSubscribe(site: string, who: Identity, filter: string): Decision {
  if (who.role === "hub") return { ok: true };
  if (filter.startsWith("$SYS")) return { ok: false, reason: "$SYS topics are not exposed" };
  if (who.role === "observer") return { ok: true };
  const ownCommands = `tec/${site}/${who.deviceId}/cmd/`;
  const hub = `tec/${site}/${HUB_ID}/`;
  // A filter whose literal prefix is one of these can only ever match topics below it.
  if ((filter.startsWith(ownCommands) && filter.length > ownCommands.length) || (filter.startsWith(hub) && filter.length > hub.length)) {
    return { ok: true };
  }
  return { ok: false, reason: `device "${who.deviceId}" may subscribe only to ${ownCommands}+ and ${hub}#, not ${filter}` };
}
