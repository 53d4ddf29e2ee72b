/**
 * Who may press the on-screen emergency stop without a login (issue 11, finding 5).
 *
 * A staff screen's e-stop must work on the login screen, after a session expired and for an
 * instructor who is locked out. But the hub shares a school network with pupils' phones and a
 * guest Wi-Fi: an anonymous e-stop would let any phone stop every station in the building, and
 * keep stopping it. So an e-stop without a session is accepted from:
 *
 *  - a registered terminal: a technician, logged in at the tablet by the stations, registers that
 *    screen once ("terminal.register"); the hub answers a random 256-bit token, which the screen
 *    keeps in its browser storage and sends with every e-stop. The hub stores only its SHA-256.
 *    A technician lists and revokes terminals on the workbench;
 *  - the hub's own machine (a loopback address), unless `safety.estopFromHubMachine` is false: the
 *    demo's console in a browser on the hub itself works without anything to set up.
 *
 * Anything else is refused with a reason that says to use the physical button or log in, and is
 * counted per address with the other refusals. The physical, hardwired e-stop is the safety
 * function in every case; this button is a convenience on top (README, "Safety model").
 */
import { createHash, randomBytes } from "node:crypto";
import type { Clock } from "../core/clock.ts";
import { HubError } from "../core/errors.ts";
import type { Actor } from "../core/types.ts";
import type { Database } from "../storage/db.ts";

export interface EstopTerminal {
  id: string;
  name: string;
  createdAt: number;
  createdBy: string;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

interface Row {
  id: string;
  name: string;
  created_at: number;
  created_by: string;
  last_used_at: number | null;
  revoked_at: number | null;
}

/** The header a registered screen sends its token in. */
export const TERMINAL_HEADER = "x-tec-terminal";
const TOKEN_BYTES = 32;
/** A site has a handful of tablets; a cap keeps a careless script from filling the table. */
export const MAX_TERMINALS = 50;

const digest = (token: string): string => createHash("sha256").update(token).digest("hex");
const toTerminal = (r: Row): EstopTerminal => ({ id: r.id, name: r.name, createdAt: r.created_at, createdBy: r.created_by, lastUsedAt: r.last_used_at, revokedAt: r.revoked_at });

export class EstopTerminals {
  constructor(private readonly ctx: { db: Database; clock: Clock }) {}

  /** Registers a screen; the token is returned once and never stored. */
  register(name: string, by: Actor): { terminal: EstopTerminal; token: string } {
    const active = this.list().filter((t) => t.revokedAt === null);
    if (active.length >= MAX_TERMINALS) throw new HubError("REQUEST_INVALID", `${MAX_TERMINALS} terminals are registered already: revoke one first`);
    const token = randomBytes(TOKEN_BYTES).toString("base64url");
    const now = this.ctx.clock.now();
    const id = `terminal-${now.toString(36)}-${randomBytes(3).toString("hex")}`;
    this.ctx.db.prepare("INSERT INTO estop_terminals (id, name, token_hash, created_at, created_by) VALUES (?, ?, ?, ?, ?)").run(id, name, digest(token), now, by.name);
    const terminal = this.list().find((t) => t.id === id);
    if (terminal === undefined) throw new HubError("STORAGE_FAILED", "the terminal was not stored");
    return { terminal, token };
  }

  revoke(id: string): EstopTerminal {
    const r = this.ctx.db.prepare("UPDATE estop_terminals SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(this.ctx.clock.now(), id);
    if (r.changes === 0) throw new HubError("NOT_FOUND", `no active terminal "${id}"`);
    const terminal = this.list().find((t) => t.id === id);
    if (terminal === undefined) throw new HubError("NOT_FOUND", `no terminal "${id}"`);
    return terminal;
  }

  list(): EstopTerminal[] {
    return this.ctx.db.prepare<[], Row>("SELECT id, name, created_at, created_by, last_used_at, revoked_at FROM estop_terminals ORDER BY created_at").all().map(toTerminal);
  }

  /** The active terminal this token belongs to, or null. Noted as used. */
  verify(token: string | undefined): EstopTerminal | null {
    if (token === undefined || token.length < 16 || token.length > 200) return null;
    const row = this.ctx.db.prepare<[string], Row>("SELECT id, name, created_at, created_by, last_used_at, revoked_at FROM estop_terminals WHERE token_hash = ? AND revoked_at IS NULL").get(digest(token));
    if (row === undefined) return null;
    this.ctx.db.prepare("UPDATE estop_terminals SET last_used_at = ? WHERE id = ?").run(this.ctx.clock.now(), row.id);
    return toTerminal(row);
  }
}

/** Loopback: the hub's own machine (IPv4, IPv6 and IPv4-mapped IPv6). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.startsWith("::ffff:") ? address.slice(7) : address;
  return a === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}
