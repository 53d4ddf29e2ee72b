/**
 * REST calls to the hub (same origin: nothing leaves the hub). Every reply has one shape,
 * `{ ok: true, result } | { ok: false, code, message, reason? }`; a refusal becomes an ApiError
 * that carries the server's own words, so a screen can show them rather than guess.
 */

export interface Reason {
  nl: string;
  en: string;
}

export type Reply<T> = { ok: true; result: T } | { ok: false; code: string; message: string; reason?: Reason };

export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly reason?: Reason,
  ) {
    super(message);
  }
}

let unauthorized: (message: string) => void = () => undefined;

/** Called with the server's message whenever a request with a token is answered 401. */
export function onUnauthorized(fn: (message: string) => void): void {
  unauthorized = fn;
}

function headers(token: string | null | undefined, json: boolean, extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { accept: "application/json", ...extra };
  if (json) h["content-type"] = "application/json";
  if (token) h.authorization = `Bearer ${token}`;
  return h;
}

async function parse<T>(res: Response, token: string | null | undefined): Promise<T> {
  let body: Reply<T> | null = null;
  try {
    body = (await res.json()) as Reply<T>;
  } catch {
    body = null;
  }
  if (body !== null && body.ok) return body.result;
  const code = body?.ok === false ? body.code : `HTTP_${res.status}`;
  const message = body?.ok === false ? body.message : res.statusText || `HTTP ${res.status}`;
  const err = new ApiError(res.status, code, message, body?.ok === false ? body.reason : undefined);
  if (res.status === 401 && token) unauthorized(message);
  throw err;
}

function networkError(error: unknown): ApiError {
  return new ApiError(0, "NETWORK", error instanceof Error ? error.message : String(error));
}

/** `extra`: headers of the request's own (a registered e-stop terminal's token). */
export async function apiGet<T>(path: string, token?: string | null, extra?: Record<string, string>): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { headers: headers(token, false, extra), cache: "no-store" });
  } catch (error) {
    throw networkError(error);
  }
  return parse<T>(res, token);
}

export async function apiPost<T>(path: string, body: unknown, token?: string | null, extra?: Record<string, string>): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { method: "POST", headers: headers(token, true, extra), body: JSON.stringify(body ?? {}), keepalive: true });
  } catch (error) {
    throw networkError(error);
  }
  return parse<T>(res, token);
}

/** A raw response (for downloads); a refusal still becomes an ApiError with the server's reason. */
export async function apiDownload(path: string, token: string | null | undefined): Promise<{ blob: Blob; fileName: string | null; headers: Headers }> {
  let res: Response;
  try {
    res = await fetch(path, { headers: token ? { authorization: `Bearer ${token}` } : {}, cache: "no-store" });
  } catch (error) {
    throw networkError(error);
  }
  if (!res.ok) return parse<never>(res, token);
  const disposition = res.headers.get("content-disposition") ?? "";
  const match = /filename="([^"]+)"/.exec(disposition);
  return { blob: await res.blob(), fileName: match?.[1] ?? null, headers: res.headers };
}

/** A query string from the values that are set. */
export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s === "" ? "" : `?${s}`;
}
