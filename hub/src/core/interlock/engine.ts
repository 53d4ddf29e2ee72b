/**
 * The interlock engine: rules are functions of (inputs, now) -> trips. Pure, on the injected
 * clock's time. Fail-safe: a missing, stale or invalid input trips a rule like its condition does.
 * Trips latch; a reset is refused while the cause is active, before the inputs have been fresh
 * for the rule's `clearForS`, or from a role the rule does not name. A reset only returns the rule
 * to normal: it never starts anything (see permits()).
 *
 *   waiting --inputs fresh, no cause--> normal --cause--> tripped --cause gone--> cleared --reset--> normal
 *      |                                                    ^                       |
 *      +--inputs fresh, cause--------------------------------+-------cause again-----+
 *
 * `waiting` is the state after a (re)start until every input has reported fresh: nothing a rule
 * forbids may start meanwhile, but nothing is latched either. Latched trips are restored as such.
 */
import { type Condition, type InterlockRule, conditionInputs } from "../../config/interlocks.ts";
import { HubError } from "../errors.ts";
import { list, text } from "../texts/texts.ts";
import type { Actor, Role, Text } from "../types.ts";
import { ConditionEvaluator } from "./conditions.ts";
import { type InputView, inputProblem } from "./inputs.ts";

export type InterlockStatus = "waiting" | "normal" | "tripped" | "cleared";

export interface Cause {
  kind: "condition" | "input" | "manual";
  /** The input behind an input cause. */
  input?: string;
  /** What was wrong with that input (an input cause): the alarm says so instead of the rule's threshold. */
  problem?: "missing" | "stale" | "invalid" | "offline";
  /** When that input's last value arrived (hub time), null if never. */
  lastAt?: number | null;
  /** What happened, specifically: "water.leak = 1", "device water is offline". */
  detail: Text;
}

export interface InterlockState {
  status: InterlockStatus;
  since: number;
  /** Why it tripped (kept while cleared); for `waiting`, what it waits for. */
  cause: Cause | null;
  trippedAt: number | null;
  /** Since when the cause has been gone and every input fresh (for reset). */
  okSince: number | null;
  /** Since when the condition has held (for delayS). */
  pendingSince: number | null;
  /** While tripped: what keeps the cause present now, if not the trip's own cause (a rule's `causeWhile`). */
  holding: Cause | null;
}

export interface Transition {
  id: string;
  from: InterlockStatus;
  to: InterlockStatus;
  cause: Cause | null;
  at: number;
  /** A trip while already latched: the same cause came back, or another one. */
  retrigger: boolean;
}

export type ResetRefusal = { code: "NOT_FOUND" | "FORBIDDEN" | "INTERLOCK_TRIPPED" | "REQUEST_INVALID"; why: Text };

/**
 * A rule as the engine takes it: a configured rule, or a built-in one (the emergency stop) whose
 * condition may be absent (it trips only by `forceTrip`) and whose `forbids` may say "*" (everything).
 */
export type EngineRule = Omit<InterlockRule, "when"> & {
  when: Condition | null;
  /**
   * For a rule something outside its inputs trips (a station reporting a fault, `forceTrip`): what
   * keeps its cause present once tripped. While any of `inputs` (and of the condition's) is missing,
   * stale or invalid, or `condition` holds, the rule stays tripped and a reset is refused. Without
   * it, a forced trip counts as gone at the next evaluation (the hub cannot see its cause).
   */
  causeWhile?: { inputs?: string[]; condition?: Condition } | undefined;
  /** What a reset does besides returning the rule to normal ("the printer's firmware restarts"). */
  resetEffect?: Text | undefined;
};

interface Rule {
  def: EngineRule;
  inputs: string[];
  evaluator: ConditionEvaluator;
  /** The `causeWhile` inputs and condition, if the rule has them. */
  holdInputs: string[];
  holdEvaluator: ConditionEvaluator | null;
  state: InterlockState;
  /** Set by forceTrip: a manual cause that holds until evaluated once. */
  manual: Cause | null;
  /** How often it has tripped (or been restored latched) since the engine was built. */
  trips: number;
}

function tripDependencies(c: Condition | null): string[] {
  if (c === null) return [];
  if (c.type === "tripped") return [c.interlock];
  if (c.type === "all" || c.type === "any") return c.of.flatMap(tripDependencies);
  return [];
}

export class InterlockEngine {
  private readonly rules = new Map<string, Rule>();
  /** Evaluation order: a rule after every rule its condition depends on. */
  private readonly order: Rule[] = [];

  constructor(defs: readonly EngineRule[], now: number) {
    for (const def of defs) {
      if (this.rules.has(def.id)) throw new HubError("CONFIG_INVALID", `interlock "${def.id}" is declared twice`);
      this.rules.set(def.id, {
        def,
        inputs: def.when === null ? [] : conditionInputs(def.when),
        evaluator: new ConditionEvaluator(def.when),
        holdInputs: [...new Set([...(def.causeWhile?.inputs ?? []), ...(def.causeWhile?.condition !== undefined ? conditionInputs(def.causeWhile.condition) : [])])],
        holdEvaluator: def.causeWhile?.condition !== undefined ? new ConditionEvaluator(def.causeWhile.condition) : null,
        state: { status: "waiting", since: now, cause: null, trippedAt: null, okSince: null, pendingSince: null, holding: null },
        manual: null,
        trips: 0,
      });
    }
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (rule: Rule, path: string[]) => {
      if (done.has(rule.def.id)) return;
      if (visiting.has(rule.def.id)) throw new HubError("CONFIG_INVALID", `interlocks depend on each other in a circle: ${[...path, rule.def.id].join(" -> ")}`);
      visiting.add(rule.def.id);
      for (const dep of tripDependencies(rule.def.when)) {
        const target = this.rules.get(dep);
        if (target === undefined) throw new HubError("CONFIG_INVALID", `interlock "${rule.def.id}" depends on unknown interlock "${dep}"`);
        visit(target, [...path, rule.def.id]);
      }
      visiting.delete(rule.def.id);
      done.add(rule.def.id);
      this.order.push(rule);
    };
    for (const rule of this.rules.values()) visit(rule, []);
  }

  ids(): string[] {
    return [...this.rules.keys()];
  }

  rule(id: string): EngineRule | undefined {
    return this.rules.get(id)?.def;
  }

  state(id: string): InterlockState | undefined {
    const r = this.rules.get(id);
    return r === undefined ? undefined : { ...r.state };
  }

  /**
   * How often the rule has tripped (or been restored latched) since the engine was built. It only
   * grows, so whoever holds a permit sees a trip that came and went between two of its looks.
   */
  trips(id: string): number {
    return this.rules.get(id)?.trips ?? 0;
  }

  inputsOf(id: string): string[] {
    return this.rules.get(id)?.inputs ?? [];
  }

  /** Every channel any rule reads (its condition's and its `causeWhile`'s). */
  allInputs(): Set<string> {
    return new Set([...this.rules.values()].flatMap((r) => [...r.inputs, ...r.holdInputs]));
  }

  /** Brings back a latched trip from before a restart: it stays latched until reset. */
  restore(id: string, saved: { cause: Cause | null; trippedAt: number | null }, now: number): void {
    const r = this.rules.get(id);
    if (r === undefined || !r.def.latch) return;
    r.trips++;
    r.state = { status: "tripped", since: now, cause: saved.cause, trippedAt: saved.trippedAt ?? now, okSince: null, pendingSince: null, holding: null };
  }

  /** A trip from outside the inputs (the emergency stop button on a screen). */
  forceTrip(id: string, cause: Cause): void {
    const r = this.rules.get(id);
    if (r !== undefined) r.manual = cause;
  }

  evaluate(now: number, read: InputView): Transition[] {
    const transitions: Transition[] = [];
    const isTripped = (id: string) => {
      const s = this.rules.get(id)?.state.status;
      return s === "tripped" || s === "cleared" || s === "waiting";
    };
    for (const r of this.order) {
      const t = this.step(r, now, read, isTripped);
      if (t !== null) transitions.push(t);
    }
    return transitions;
  }

  reset(id: string, actor: Actor, now: number): ResetRefusal | null {
    const r = this.rules.get(id);
    if (r === undefined) return { code: "NOT_FOUND", why: text("reset.noSuchRule", { id }) };
    const roles = r.def.reset.roles;
    if (!roles.includes(actor.role as Exclude<Role, "kiosk">)) {
      return { code: "FORBIDDEN", why: text("reset.forbidden", { roles: list(roles.map((role) => text(role === "technician" ? "role.technician" : "role.instructor")), "word.or"), rule: r.def.name }) };
    }
    const refusal = this.refusal(r, now);
    if (refusal !== null) return refusal;
    r.state = { status: "normal", since: now, cause: null, trippedAt: null, okSince: now, pendingSince: null, holding: null };
    r.evaluator.forget();
    r.holdEvaluator?.forget();
    return null;
  }

  /** Why a reset would be refused right now whoever asked, or null if it would be accepted. */
  resetBlocker(id: string, now: number): Text | null {
    const r = this.rules.get(id);
    return r === undefined ? null : (this.refusal(r, now)?.why ?? null);
  }

  private refusal(r: Rule, now: number): ResetRefusal | null {
    const s = r.state;
    switch (s.status) {
      case "normal":
        return { code: "REQUEST_INVALID", why: text("reset.nothing") };
      case "waiting":
        return { code: "INTERLOCK_TRIPPED", why: text("reset.waiting", { detail: s.cause?.detail ?? "?" }) };
      case "tripped": {
        const active = s.holding ?? s.cause;
        return { code: "INTERLOCK_TRIPPED", why: text("reset.causeActive", { detail: active?.detail ?? r.def.reason }) };
      }
      case "cleared": {
        // The condition holds again, not yet for the rule's delayS: its cause is back, whatever the
        // delay (accepted, the reset would start the delay over and allow starts meanwhile).
        if (s.pendingSince !== null) return { code: "INTERLOCK_TRIPPED", why: text("reset.causeBack") };
        const needMs = r.def.reset.clearForS * 1000;
        const okFor = s.okSince === null ? 0 : now - s.okSince;
        if (okFor < needMs) {
          const left = Math.ceil((needMs - okFor) / 1000);
          return { code: "INTERLOCK_TRIPPED", why: text("reset.clearFor", { seconds: left }) };
        }
        return null;
      }
    }
  }

  private holdingCause(r: Rule, now: number, read: InputView, isTripped: (id: string) => boolean): Cause | null {
    if (r.def.causeWhile === undefined) return null;
    for (const ref of r.holdInputs) {
      const p = inputProblem(ref, read(ref));
      if (p !== null) return { kind: "input", input: ref, detail: p.detail, problem: p.kind, lastAt: p.lastAt };
    }
    const result = r.holdEvaluator?.evaluate(now, (ref) => read(ref), isTripped);
    return result?.value === true ? { kind: "condition", detail: result.detail ?? r.def.reason } : null;
  }

  private step(r: Rule, now: number, read: InputView, isTripped: (id: string) => boolean): Transition | null {
    const s = r.state;
    // 1. Inputs: fail-safe.
    let cause: Cause | null = null;
    for (const ref of r.inputs) {
      const p = inputProblem(ref, read(ref));
      if (p !== null) {
        cause = { kind: "input", input: ref, detail: p.detail, problem: p.kind, lastAt: p.lastAt };
        break;
      }
    }
    const inputsFresh = cause === null;
    // 2. The condition, with its delay.
    if (inputsFresh) {
      const result = r.evaluator.evaluate(now, (ref) => read(ref), isTripped);
      if (result.value) {
        s.pendingSince ??= now;
        if (now - s.pendingSince >= r.def.delayS * 1000) cause = { kind: "condition", detail: result.detail ?? r.def.reason };
      } else {
        s.pendingSince = null;
      }
    } else {
      s.pendingSince = null;
    }
    if (r.manual !== null) {
      cause = r.manual;
      r.manual = null;
    }
    // 2b. Once tripped, what keeps a cause from outside the inputs present (its `causeWhile`).
    let holding: Cause | null = null;
    if (cause === null && (s.status === "tripped" || s.status === "cleared")) holding = this.holdingCause(r, now, read, isTripped);
    // 3. The state machine.
    const from = s.status;
    const move = (to: InterlockStatus, patch: Partial<InterlockState>, retrigger = false): Transition => {
      if (to === "tripped") r.trips++;
      r.state = { ...s, ...patch, status: to, since: to === from ? s.since : now };
      return { id: r.def.id, from, to, cause: r.state.cause, at: now, retrigger };
    };
    switch (from) {
      case "waiting":
        if (!inputsFresh && cause?.kind !== "manual") {
          // Keep saying what it waits for; no transition.
          s.cause = cause;
          return null;
        }
        if (cause !== null) return move("tripped", { cause, trippedAt: now, okSince: null });
        return move("normal", { cause: null, okSince: now });
      case "normal":
        if (cause !== null) return move("tripped", { cause, trippedAt: now, okSince: null });
        return null;
      case "tripped":
        // Still active; the first cause stays the reason it tripped. A condition that holds again
        // keeps it tripped too, before its delayS has passed: the delay is for tripping, not for letting go.
        if (cause !== null || holding !== null || s.pendingSince !== null) {
          // What keeps it tripped now (the current value, not the one it tripped on), for the reset refusal.
          s.holding = cause ?? holding;
          return null;
        }
        if (!r.def.latch) return move("normal", { cause: null, trippedAt: null, okSince: now, holding: null });
        return move("cleared", { okSince: now, holding: null });
      case "cleared":
        if (cause !== null) return move("tripped", { cause, trippedAt: now, okSince: null }, true);
        if (holding !== null) return move("tripped", { cause: holding, trippedAt: now, okSince: null, holding: null }, true);
        // The condition holds again, not yet for its delayS: the clear time starts over once it is gone.
        if (s.pendingSince !== null) s.okSince = null;
        else s.okSince ??= now;
        return null;
    }
  }
}
