/**
 * Runs a hub command: over the live socket when it is up with this session's token (an open
 * connection answers fastest, and a refusal is a reply, not a failed request), otherwise over
 * REST. Every outcome is a Reply; a session the server no longer accepts is ended here.
 */
import { ApiError, apiPost, type Reply } from "./api.ts";
import type { LiveStore } from "./live-store.ts";
import { expire, token } from "./session.ts";

const SOCKET_TIMEOUT_MS = 8000;

function isReply(x: unknown): x is Reply<unknown> {
  return typeof x === "object" && x !== null && "ok" in x;
}

export async function runCommand<T = unknown>(live: LiveStore, name: string, params: Record<string, unknown> = {}): Promise<Reply<T>> {
  const tok = token();
  let reply: Reply<unknown>;
  const viaSocket = live.emitCommand(tok, name, params, SOCKET_TIMEOUT_MS);
  try {
    if (viaSocket !== null) {
      const r = await viaSocket;
      reply = isReply(r) ? r : { ok: false, code: "TRANSPORT_FAILED", message: "malformed reply" };
    } else {
      reply = { ok: true, result: await apiPost<unknown>(`/api/commands/${encodeURIComponent(name)}`, params, tok) };
    }
  } catch (error) {
    if (error instanceof ApiError) reply = { ok: false, code: error.code, message: error.message, ...(error.reason ? { reason: error.reason } : {}) };
    else reply = { ok: false, code: "NETWORK", message: error instanceof Error ? error.message : String(error) };
  }
  if (!reply.ok && reply.code === "UNAUTHENTICATED" && tok !== null) expire(reply.message);
  return reply as Reply<T>;
}
