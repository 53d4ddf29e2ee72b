/** Error codes, grouped by area. Callers branch on the code, never on the message. */
export type HubErrorCode =
  | "CONFIG_INVALID"
  | "CONFIG_NOT_FOUND"
  | "TRANSPORT_CLOSED"
  | "TRANSPORT_FAILED"
  | "DEVICE_UNKNOWN"
  | "DEVICE_TIMEOUT"
  | "DEVICE_OFFLINE"
  | "DEVICE_REFUSED"
  | "PROTOCOL_INVALID"
  | "REQUEST_INVALID"
  | "NOT_FOUND"
  | "FORBIDDEN"
  | "UNAUTHENTICATED"
  | "INTERLOCK_TRIPPED"
  | "OVERLOADED"
  | "RATE_LIMITED"
  | "STORAGE_FAILED";

export class HubError extends Error {
  override readonly name = "HubError";
  constructor(
    readonly code: HubErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

/** The one reply shape of every command and API call. */
export type Reply<T> = { ok: true; result: T } | { ok: false; code: HubErrorCode; message: string };

export function errorReply(error: unknown): { ok: false; code: HubErrorCode; message: string } {
  if (error instanceof HubError) return { ok: false, code: error.code, message: error.message };
  const message = error instanceof Error ? error.message : String(error);
  return { ok: false, code: "TRANSPORT_FAILED", message };
}
