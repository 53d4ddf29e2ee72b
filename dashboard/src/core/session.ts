/**
 * The staff session: a bearer token from `POST /api/login`, kept in this tab's sessionStorage (the
 * token only, never the PIN or password), ended by the server's time limit, by logging out, or by
 * any 401 the server answers. The screens listen and go back to their login form, with the reason.
 */
import { apiGet, apiPost } from "./api.ts";

export type StaffRole = "instructor" | "technician";

export interface Session {
  token: string;
  name: string;
  role: StaffRole;
  /** Hub time the session ends (ms since the epoch). */
  expiresAt: number;
}

const KEY = "tec-session";
let current: Session | null = load();
/** Why the last session ended, for the login form to say: the server's words, "" if it said none. */
let endReason: string | null = null;
const listeners = new Set<() => void>();

function load(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (raw === null) return null;
    const s = JSON.parse(raw) as Partial<Session>;
    if (typeof s.token === "string" && typeof s.name === "string" && (s.role === "instructor" || s.role === "technician") && typeof s.expiresAt === "number") {
      return { token: s.token, name: s.name, role: s.role, expiresAt: s.expiresAt };
    }
  } catch {
    // fall through: no usable session
  }
  return null;
}

function save(): void {
  try {
    if (current === null) sessionStorage.removeItem(KEY);
    else sessionStorage.setItem(KEY, JSON.stringify(current));
  } catch {
    // Without storage the session lasts as long as the page.
  }
}

function changed(): void {
  save();
  for (const fn of listeners) fn();
}

export function session(): Session | null {
  return current;
}

export function token(): string | null {
  return current?.token ?? null;
}

export function lastEndReason(): string | null {
  return endReason;
}

export function onSessionChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

interface LoginResult {
  token: string;
  role: string;
  name: string;
  expiresAt: number;
}

/** Throws ApiError with the server's reason (wrong PIN, locked out for a minute, ...). */
export async function login(name: string, secret: string): Promise<Session> {
  const r = await apiPost<LoginResult>("/api/login", { name, secret });
  if (r.role !== "instructor" && r.role !== "technician") throw new Error(`unexpected role ${r.role}`);
  current = { token: r.token, name: r.name, role: r.role, expiresAt: r.expiresAt };
  endReason = null;
  changed();
  return current;
}

/**
 * Logs in again as the same person before the session ends (the shell's warning), then ends the
 * old session at the hub: one person, one live session. The old one is ended with a bare request,
 * not apiPost: a 401 to it (already over) must not end the new one.
 */
export async function renew(secret: string): Promise<Session> {
  const old = current;
  if (old === null) throw new Error("no session to renew");
  const next = await login(old.name, secret);
  try {
    await fetch("/api/logout", { method: "POST", headers: { authorization: `Bearer ${old.token}`, "content-type": "application/json" }, body: "{}", keepalive: true });
  } catch {
    // It ends by its own time limit.
  }
  return next;
}

export async function logout(): Promise<void> {
  const t = current?.token;
  current = null;
  endReason = null;
  changed();
  if (t !== undefined) {
    try {
      await apiPost("/api/logout", {}, t);
    } catch {
      // The session is forgotten here either way; the server ends it by its time limit.
    }
  }
}

/** The server no longer accepts the session (401, expired): forget it and remember why. */
export function expire(reason: string): void {
  if (current === null) return;
  current = null;
  endReason = reason;
  changed();
}

/** Asks the server whether a session kept from before a reload is still good. */
export async function revalidate(): Promise<void> {
  const s = current;
  if (s === null) return;
  try {
    const who = await apiGet<{ name: string; role: string; expiresAt: number | null }>("/api/session", s.token);
    if (current !== s) return;
    if (who.role === "kiosk" || who.expiresAt === null) expire("");
    else if (who.expiresAt !== s.expiresAt) {
      current = { ...s, expiresAt: who.expiresAt };
      changed();
    }
  } catch {
    // Offline: keep it; the next command will tell.
  }
}
