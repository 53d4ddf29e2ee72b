/**
 * This screen as an e-stop terminal (issue 11, finding 5). A technician registers a screen once
 * (`terminal.register`); the hub answers a token, shown once, which this module keeps in
 * localStorage: unlike the session (sessionStorage, one tab, ends), it must outlast every login,
 * because its point is that the on-screen e-stop works with nobody logged in.
 *
 * At start the screen asks the hub what it is (`GET /api/terminals/self`, no login): a registered
 * terminal, the hub's own machine, or neither (then the e-stop needs a login here). A token the hub
 * no longer knows (revoked) is forgotten: it can never become valid again.
 */
import { apiGet } from "./api.ts";

/** The hub's header for the token (hub/src/api/estop-terminals.ts, TERMINAL_HEADER). */
const TERMINAL_HEADER = "x-tec-terminal";
const KEY = "tec-estop-terminal";

export interface StoredTerminal {
  id: string;
  name: string;
  token: string;
}

/** What the hub said about this screen; null until it has answered (or while it cannot be asked). */
export interface TerminalStatus {
  terminal: { id: string; name: string } | null;
  hubMachine: boolean;
}

let status: TerminalStatus | null = null;
let checking: Promise<void> | null = null;
const listeners = new Set<() => void>();

/** Read on every use, not cached: another tab of this screen may have registered or forgotten it. */
export function storedTerminal(): StoredTerminal | null {
  try {
    const raw = localStorage.getItem(KEY);
    if (raw === null) return null;
    const s = JSON.parse(raw) as Partial<StoredTerminal>;
    if (typeof s.id === "string" && typeof s.name === "string" && typeof s.token === "string") return { id: s.id, name: s.name, token: s.token };
  } catch {
    // fall through: no usable token
  }
  return null;
}

/** The header that identifies this screen to the hub, if it is registered. */
export function terminalHeaders(): Record<string, string> {
  const t = storedTerminal();
  return t === null ? {} : { [TERMINAL_HEADER]: t.token };
}

export function terminalStatus(): TerminalStatus | null {
  return status;
}

export function onTerminalChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function changed(): void {
  for (const fn of listeners) fn();
}

/** Keeps the token the hub answered to `terminal.register`, then asks the hub again. */
export async function rememberTerminal(t: StoredTerminal): Promise<void> {
  try {
    localStorage.setItem(KEY, JSON.stringify(t));
  } catch {
    // A browser without storage cannot be a terminal; the check below says so.
  }
  await checkTerminal();
}

export function forgetTerminal(): void {
  try {
    localStorage.removeItem(KEY);
  } catch {
    // nothing kept, nothing to forget
  }
}

/** Asks the hub what this screen is; concurrent callers share one request. */
export function checkTerminal(): Promise<void> {
  checking ??= (async () => {
    const sent = storedTerminal();
    try {
      const self = await apiGet<TerminalStatus>("/api/terminals/self", null, terminalHeaders());
      // Revoked (or from another hub's database): it will never be accepted again.
      if (sent !== null && (self.terminal === null || self.terminal.id !== sent.id) && storedTerminal()?.token === sent.token) forgetTerminal();
      status = { terminal: self.terminal, hubMachine: self.hubMachine };
    } catch {
      // Unreachable: say nothing rather than guess; the press itself still tries.
      status = null;
    } finally {
      checking = null;
    }
    changed();
  })();
  return checking;
}

/** Asks once per page load (a later call returns the answer already there). */
export function ensureTerminalChecked(): void {
  if (status === null && checking === null) void checkTerminal();
}
