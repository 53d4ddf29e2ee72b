/**
 * The one command registry. A command is registered once, as `noun.verb`, and served by HTTP
 * (routes/commands.ts) and socket.io (live-commands.ts) alike, so who may do what, how parameters
 * are checked and what the audit log records cannot differ between them (moonraker registers an
 * endpoint once and exposes it over HTTP and JSON-RPC).
 *
 * Every invocation by someone with a session, refused or not, unknown names included, is appended
 * to the audit log before its reply is returned: `AuditLog.append` commits before it returns, so a
 * reply the caller has seen always has its entry, even after a kill -9. A refusal to a client
 * without a session (a kiosk, or a stranger on the network) is counted by the RefusalLedger
 * instead (refusals.ts): one row per address and minute, no params, and a per-address rate limit,
 * so strangers cannot fill the audit log or push staff records out of view.
 */
import type { z } from "zod";
import type { AuditLog, AuditResult } from "../core/audit.ts";
import type { Clock } from "../core/clock.ts";
import { HubError, errorReply, type HubErrorCode, type Reason, type Reply } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { Actor, Role } from "../core/types.ts";
import type { RefusalLedger } from "./refusals.ts";

export interface CommandContext {
  actor: Actor;
  /** When the command was invoked (ms since the epoch, from the hub's clock). */
  at: number;
}

export interface CommandDef<P, R> {
  /** `noun.verb`: `interlock.reset`, `relay.set`. */
  name: string;
  /** One line, for the command list and OpenAPI. */
  summary: string;
  /** Who may call it at all; never "kiosk" for anything that acts. */
  roles: readonly Role[];
  /** A strict schema; its error names the bad field. */
  params: z.ZodType<P>;
  /** What the audit log records as the target: `water-leak`, `water.pumpEnable`, `*`. */
  target(params: P): string;
  /** Throws HubError to refuse (FORBIDDEN, INTERLOCK_TRIPPED, REQUEST_INVALID, DEVICE_*…) or fail. */
  run(params: P, ctx: CommandContext): Promise<R> | R;
  /**
   * Keep the latest invocation per target in memory (`latest(target)`), for screens that show what
   * was last asked of a thing (an actuator's last start or stop) without reading the audit log.
   */
  keepLatest?: boolean;
}

/** The latest invocation of a `keepLatest` command on one target, as `latest(target)` returns it. */
export interface LatestInvocation {
  command: string;
  /** When it was invoked, hub time. */
  at: number;
  by: string;
  /** pending: still running (a start waits for the device's acknowledgement). */
  result: AuditResult | "pending";
  /** Why it was refused or failed: the code, the hub's message, and the reason in both languages where there is one. */
  code: HubErrorCode | null;
  message: string | null;
  reason: Reason | null;
}

export interface CommandInfo {
  name: string;
  summary: string;
  roles: readonly Role[];
}

/** Targets whose latest invocation is kept; the oldest is forgotten beyond this (staff can name any target). */
export const MAX_LATEST_TARGETS = 1000;

export const COMMAND_NAME_PATTERN = /^[a-z][a-zA-Z0-9]{0,31}\.[a-z][a-zA-Z0-9]{0,31}$/;

/** Codes that mean "not done, on purpose"; anything else thrown means "tried and failed". */
const REFUSALS: ReadonlySet<HubErrorCode> = new Set<HubErrorCode>([
  "FORBIDDEN",
  "UNAUTHENTICATED",
  "REQUEST_INVALID",
  "INTERLOCK_TRIPPED",
  "NOT_FOUND",
  "DEVICE_REFUSED",
  "RATE_LIMITED",
]);

/** `relay: expected boolean, received string; (params): unrecognized key "foo"`: every problem, each with its field. */
export function describeIssues(error: z.ZodError, root = "(params)"): string {
  return error.issues.map((i) => `${i.path.length > 0 ? i.path.map(String).join(".") : root}: ${i.message}`).join("; ");
}

export class CommandRegistry {
  // Method syntax in CommandDef makes a CommandDef<P, R> assignable here; params are parsed by the
  // def's own schema before its target() or run() sees them, which is what makes this erasure safe.
  private readonly defs = new Map<string, CommandDef<unknown, unknown>>();
  /** By target, least recently invoked first. Only invocations that are audited (staff, the hub) count. */
  private readonly latestByTarget = new Map<string, LatestInvocation>();

  constructor(private readonly ctx: { clock: Clock; audit: AuditLog; logger: Logger; refusals: RefusalLedger }) {}

  /** Adds a command; a duplicate or malformed name, or an empty role list, is a programming error and throws. */
  register<P, R>(def: CommandDef<P, R>): void {
    if (!COMMAND_NAME_PATTERN.test(def.name)) throw new Error(`command name "${def.name}" is not noun.verb`);
    if (this.defs.has(def.name)) throw new Error(`command "${def.name}" is registered twice`);
    if (def.roles.length === 0) throw new Error(`command "${def.name}" has no roles: nobody could call it`);
    this.defs.set(def.name, def);
  }

  /** The latest invocation on `target` of any command registered with `keepLatest`, if one since the hub started. */
  latest(target: string): Readonly<LatestInvocation> | undefined {
    // Entries are replaced, never changed in place, so handing one out is safe.
    return this.latestByTarget.get(target);
  }

  list(): CommandInfo[] {
    return [...this.defs.values()].map((d) => ({ name: d.name, summary: d.summary, roles: d.roles })).sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * For a client without a session, from the command's name alone, before its body is read: the
   * refusal (NOT_FOUND for an unknown name, UNAUTHENTICATED otherwise, RATE_LIMITED with
   * `retryAfterS` once the address is over its budget), counted by the refusal ledger; or null
   * when the command is open to kiosks and must be invoked as usual.
   */
  refuseWithoutSession(name: string, from: string | undefined): { reply: Reply<never>; retryAfterS: number | null } | null {
    const def = this.defs.get(name);
    if (def?.roles.includes("kiosk") === true) return null;
    const refusal =
      def === undefined
        ? ({ ok: false, code: "NOT_FOUND", message: `no command "${clip(name, 80)}"` } as const)
        : ({ ok: false, code: "UNAUTHENTICATED", message: `log in as ${def.roles.join(" or ")} to ${def.name}` } as const);
    return this.countRefusal(name, from, refusal);
  }

  /**
   * Checks, runs and audits one command. Never throws: every outcome is a Reply. Checks in order:
   * unknown name (NOT_FOUND), role (UNAUTHENTICATED for a kiosk, FORBIDDEN for another role), params
   * (REQUEST_INVALID naming the field), then `run`. `from` is the client's address: a refusal to a
   * kiosk is counted under it by the refusal ledger rather than audited.
   */
  async invoke(name: string, params: unknown, actor: Actor, from?: string): Promise<Reply<unknown>> {
    const at = this.ctx.clock.now();
    const def = this.defs.get(name);
    let target = "-";
    let reply: Reply<unknown>;
    try {
      if (def === undefined) throw new HubError("NOT_FOUND", `no command "${clip(name, 80)}"`);
      // Parsed before the role check only so a refused attempt is audited with its target.
      const parsed = def.params.safeParse(params);
      if (parsed.success) target = targetOf(def, parsed.data);
      checkRole(def, actor);
      if (!parsed.success) throw new HubError("REQUEST_INVALID", `${def.name}: ${describeIssues(parsed.error)}`);
      if (def.keepLatest === true && target !== "-") this.keep(target, { command: name, at, by: actor.name, result: "pending", code: null, message: null, reason: null });
      const result = await def.run(parsed.data, { actor, at });
      // A command that returns nothing still answers `result`, so the reply keeps its one shape in JSON.
      reply = { ok: true, result: result === undefined ? null : result };
    } catch (error) {
      reply = errorReply(error);
      if (!(error instanceof HubError)) this.ctx.logger.error({ err: error, command: name, actor }, "command threw");
    }
    if (actor.role === "kiosk" && !reply.ok && REFUSALS.has(reply.code)) {
      // Callers that do not know the address (socket.io today) share one count.
      return this.countRefusal(name, from ?? "unknown", reply).reply;
    }
    const recorded = this.record(name, target, params, actor, at, reply);
    if (def?.keepLatest === true && target !== "-") {
      const result: LatestInvocation["result"] = recorded.ok ? "ok" : REFUSALS.has(recorded.code) ? "refused" : "failed";
      this.keep(target, recorded.ok ? { command: name, at, by: actor.name, result, code: null, message: null, reason: null } : { command: name, at, by: actor.name, result, code: recorded.code, message: recorded.message, reason: recorded.reason ?? null });
    }
    return recorded;
  }

  private keep(target: string, invocation: LatestInvocation): void {
    const prev = this.latestByTarget.get(target);
    // A later invocation already finished or under way wins over this one's late end.
    if (prev !== undefined && prev.at > invocation.at) return;
    this.latestByTarget.delete(target);
    this.latestByTarget.set(target, invocation);
    if (this.latestByTarget.size > MAX_LATEST_TARGETS) {
      const oldest = this.latestByTarget.keys().next();
      if (oldest.done !== true) this.latestByTarget.delete(oldest.value);
    }
  }

  private countRefusal(name: string, from: string | undefined, refusal: Reply<never>): { reply: Reply<never>; retryAfterS: number | null } {
    const verdict = this.ctx.refusals.note(from, name);
    if (!verdict.limited) return { reply: refusal, retryAfterS: null };
    const reply = { ok: false, code: "RATE_LIMITED", message: `too many refused requests from this address without a session; try again in ${verdict.retryAfterS} s` } as const;
    return { reply, retryAfterS: verdict.retryAfterS };
  }

  /** Appends the audit entry, then returns the reply, or STORAGE_FAILED if the entry could not be committed. */
  private record(name: string, target: string, params: unknown, actor: Actor, at: number, reply: Reply<unknown>): Reply<unknown> {
    const result: AuditResult = reply.ok ? "ok" : REFUSALS.has(reply.code) ? "refused" : "failed";
    try {
      this.ctx.audit.append({
        at,
        actor: { name: actor.name, role: actor.role },
        // As given, even if long or junk: the audit store bounds names and details (storage/audit.ts).
        action: name,
        target,
        result,
        ...(reply.ok ? {} : { reason: reply.message }),
        details: { params },
      });
      return reply;
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      this.ctx.logger.error({ err: error, command: name, actor, result }, "audit append failed");
      // The command has already run (or been refused); the caller must know it is not on record.
      const what =
        result === "ok"
          ? `${name} was done but not recorded in the audit log (${why}): it has taken effect`
          : result === "failed"
            ? `${name} failed (${reply.ok ? "" : reply.message}) and was not recorded in the audit log (${why}): part of it may have been done`
            : `${name} was refused (${reply.ok ? "" : reply.message}) and not recorded in the audit log (${why}): nothing was done`;
      return { ok: false, code: "STORAGE_FAILED", message: what };
    }
  }
}

function checkRole(def: CommandDef<unknown, unknown>, actor: Actor): void {
  const needs = def.roles.join(" or ");
  if (actor.role === "kiosk" && !def.roles.includes("kiosk")) throw new HubError("UNAUTHENTICATED", `log in as ${needs} to ${def.name}`);
  if (!def.roles.includes(actor.role as Role)) throw new HubError("FORBIDDEN", `${actor.role} may not ${def.name}; it needs ${needs}`);
}

function targetOf(def: CommandDef<unknown, unknown>, params: unknown): string {
  try {
    return def.target(params);
  } catch {
    return "-";
  }
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}
