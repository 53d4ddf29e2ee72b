/**
 * Pairing the hub with an Ultimaker (what Cura does once per printer): `POST /api/v1/auth/request`
 * with an application and user name returns a digest pair (`id`, `key`) and puts an allow/deny
 * prompt on the printer's touch screen; `GET /api/v1/auth/check/{id}` says `unknown` until someone
 * answers, then `authorized` or `unauthorized`. The pair goes into the config as `auth.user` (id)
 * and `auth.password` (key). A person must stand at the printer: that is the point of it.
 */
import DigestClient from "digest-fetch";
import { HubError } from "../../../core/errors.ts";
import { apiBase } from "./ultimaker.ts";

export interface PairOptions {
  /** Shown on the printer's screen. */
  application: string;
  user: string;
  /** How often the answer is asked for; default 1 s (as Cura). */
  pollMs?: number;
  /** How long to wait for someone at the screen; default 5 min (as Cura). */
  timeoutMs?: number;
  /** Called once the prompt is on the screen (with the pair's id, which is no secret). */
  onPending?: (id: string) => void;
}

export interface UltimakerPair {
  id: string;
  /** The secret: goes into the config as `auth.password`, never into a log. */
  key: string;
  /** The printer's `/system/guid` (what the pair belongs to); null if it did not say. */
  guid: string | null;
}

export async function pairUltimaker(url: string, o: PairOptions): Promise<UltimakerPair> {
  const api = apiBase(url);
  const pollMs = o.pollMs ?? 1000;
  const deadline = Date.now() + (o.timeoutMs ?? 300_000);
  const asked = await fetch(`${api}/auth/request`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ application: o.application, user: o.user }),
    signal: AbortSignal.timeout(10_000),
  });
  const pair = (await asked.json().catch(() => null)) as { id?: unknown; key?: unknown } | null;
  if (!asked.ok || typeof pair?.id !== "string" || typeof pair.key !== "string") {
    throw new HubError("DEVICE_REFUSED", `the printer did not start pairing: POST /api/v1/auth/request answered HTTP ${asked.status}`);
  }
  const { id, key } = pair as { id: string; key: string };
  o.onPending?.(id);
  for (;;) {
    const r = await fetch(`${api}/auth/check/${encodeURIComponent(id)}`, { signal: AbortSignal.timeout(10_000) });
    const answer = ((await r.json().catch(() => null)) as { message?: unknown } | null)?.message;
    if (answer === "authorized") break;
    if (answer === "unauthorized") throw new HubError("DEVICE_AUTH", "pairing denied on the printer's screen");
    if (Date.now() > deadline) throw new HubError("DEVICE_TIMEOUT", `nobody answered the pairing prompt on the printer's screen within ${Math.round((o.timeoutMs ?? 300_000) / 1000)} s`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  const verify = (await new DigestClient(id, key, { algorithm: "MD5" }).fetch(`${api}/auth/verify`, { signal: AbortSignal.timeout(10_000) })) as Response;
  if (verify.status !== 200) throw new HubError("DEVICE_AUTH", `the printer allowed the pairing but refuses the new pair: HTTP ${verify.status}`);
  const guid = await fetch(`${api}/system/guid`, { signal: AbortSignal.timeout(10_000) })
    .then(async (r) => (r.ok ? ((await r.json()) as unknown) : null))
    .catch(() => null);
  return { id, key, guid: typeof guid === "string" ? guid : null };
}
