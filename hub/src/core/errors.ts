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
  /** A device (a network printer) refused the hub's credentials. */
  | "DEVICE_AUTH"
  | "PROTOCOL_INVALID"
  | "REQUEST_INVALID"
  | "NOT_FOUND"
  | "FORBIDDEN"
  | "UNAUTHENTICATED"
  | "INTERLOCK_TRIPPED"
  | "OVERLOADED"
  | "RATE_LIMITED"
  | "STORAGE_FAILED";

/** A reason in both of the centre's languages, for refusals people read on a screen. */
export interface Reason {
  nl: string;
  en: string;
}

export class HubError extends Error {
  override readonly name = "HubError";
  constructor(
    readonly code: HubErrorCode,
    message: string,
    readonly details?: unknown,
    /** The same in Dutch and English, where a person will read it (refused starts and resets, trips). */
    readonly reason?: Reason,
  ) {
    super(message);
  }

  /** An error whose message is the English text of a bilingual reason. */
  static because(code: HubErrorCode, reason: Reason, details?: unknown): HubError {
    return new HubError(code, reason.en, details, reason);
  }
}

/** The one reply shape of every command and API call; `reason` when there is a bilingual one. */
export type Reply<T> = { ok: true; result: T } | { ok: false; code: HubErrorCode; message: string; reason?: Reason };

export function errorReply(error: unknown): { ok: false; code: HubErrorCode; message: string; reason?: Reason } {
  if (error instanceof HubError) return { ok: false, code: error.code, message: error.message, ...(error.reason !== undefined ? { reason: error.reason } : {}) };
  const message = error instanceof Error ? error.message : String(error);
  return { ok: false, code: "TRANSPORT_FAILED", message };
}
