/**
 * Who is asking, as far as limits go: the client's address as one key. IPv4 as it is (also when it
 * arrives as IPv4-mapped IPv6 on a dual-stack socket); IPv6 by its /64, because one phone on
 * SLAAC can pick a new address in its /64 for every request.
 */
import { isIPv4, isIPv6 } from "node:net";

/** The key limits are kept under: `10.0.0.7`, `2001:db8:1:2::/64`. */
export function clientKey(ip: string | undefined): string {
  if (ip === undefined || ip === "") return "unknown";
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (isIPv4(ip)) return ip;
  const bare = ip.split("%")[0] ?? ip;
  if (!isIPv6(bare)) return ip.slice(0, 64);
  return `${ipv6Groups(bare).slice(0, 4).join(":")}::/64`;
}

/** The eight groups of an IPv6 address, without leading zeros. */
function ipv6Groups(ip: string): string[] {
  const toGroups = (part: string): string[] => {
    if (part === "") return [];
    const out: string[] = [];
    for (const g of part.split(":")) {
      if (g.includes(".")) {
        // An embedded IPv4 address is the last two groups.
        const [a = 0, b = 0, c = 0, d = 0] = g.split(".").map(Number);
        out.push(((a << 8) | b).toString(16), ((c << 8) | d).toString(16));
      } else {
        out.push(parseInt(g, 16).toString(16));
      }
    }
    return out;
  };
  const [head = "", tail] = ip.split("::");
  const h = toGroups(head);
  if (tail === undefined) return h;
  const t = toGroups(tail);
  return [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill("0"), ...t];
}
