/** The HTTP status of each error code, for every route and the app's error handler. */
import type { HubErrorCode } from "../core/errors.ts";

const STATUS: Partial<Record<HubErrorCode, number>> = {
  REQUEST_INVALID: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  DEVICE_UNKNOWN: 404,
  INTERLOCK_TRIPPED: 409,
  DEVICE_OFFLINE: 409,
  DEVICE_REFUSED: 409,
  DEVICE_AUTH: 502,
  RATE_LIMITED: 429,
  STORAGE_FAILED: 500,
  OVERLOADED: 503,
  DEVICE_TIMEOUT: 504,
};

export function httpStatus(code: HubErrorCode): number {
  return STATUS[code] ?? 500;
}
