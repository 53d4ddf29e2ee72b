/**
 * The interlocks at work: evaluates the engine on every reading of an input and ten times a
 * second, carries out trip actions through the one command path, raises alarms, writes the audit
 * log, publishes `_hub/interlock/<id>` and keeps latched trips across restarts. It is also the
 * permissive check every start passes through, and owns the emergency stop (a built-in rule).
 */
import type { SafetyConfig } from "../../config/interlocks.ts";
import type { CommandService } from "../actuators/commands.ts";
import type { ActuatorKeeper, Permits, PermitResult } from "../actuators/keeper.ts";
import type { AlarmBook } from "../alarms/alarms.ts";
import type { AuditLog } from "../audit.ts";
import type { Bus } from "../bus.ts";
import type { Clock, Timer } from "../clock.ts";
import { HubError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Registry } from "../registry/registry.ts";
import { text, timeOfDay } from "../texts/texts.ts";
import type { Actor, DeviceId, Text } from "../types.ts";
import { type Cause, type EngineRule, InterlockEngine, type InterlockStatus, type Transition } from "./engine.ts";
import type { InputView } from "./inputs.ts";
import { InterlockPermits } from "./permits.ts";
import { type Escalation, SafeStateEnforcer } from "./safe-state.ts";

export const ESTOP_ID = "estop";
const EVALUATE_MS = 100;
const HUB: Actor = { name: "hub", role: "system" };

export interface InterlockStore {
  save(id: string, state: unknown): void;
  remove(id: string): void;
  load(): Array<{ id: string; state: unknown }>;
}

export interface InterlockView {
  id: string;
  name: Text;
  severity: "info" | "warning" | "critical";
  status: InterlockStatus;
  latched: boolean;
  since: number;
  trippedAt: number | null;
  /** What happened ("water.leak = 1", "device water is offline"), or what it waits for. */
  cause: Cause | null;
  /** The rule's own explanation ("Pomp uit: lekkage gedetecteerd"). */
  reason: Text;
  /** What a reset does besides returning the rule to normal (a printer's firmware restarts), if anything. */
  resetEffect: Text | null;
  /** A child-friendly explanation for the kiosk, if the rule has one. */
  kiosk: Text | null;
  /** Why a reset would be refused now (null: it would be accepted from an allowed role). */
  resetBlocked: Text | null;
  resetRoles: string[];
  forbids: string[];
  inputs: string[];
}

/** What interlocks may do to stations (printers, robots). */
export interface StationControl {
  act(id: string, action: "pause" | "stop" | "estop", reason: string, actor: Actor): Promise<unknown>;
  emergencyStopAll(reason: string, actor: Actor): Promise<void>;
}

export interface InterlockContext {
  clock: Clock;
  bus: Bus;
  registry: Registry;
  alarms: AlarmBook;
  audit: AuditLog;
  /** The engine the permissives (`InterlockPermits`) already read; this service drives it. */
  engine: InterlockEngine;
  /** Trip actions on actuators go through the one command path; holds are dropped through the keeper. */
  commands: CommandService;
  keeper: ActuatorKeeper;
  /** Where trip actions and the emergency stop reach the stations. */
  stations: StationControl;
  store: InterlockStore;
  logger: Logger;
  /** Publishes a retained MQTT message (the hub's link). */
  publish: (topic: string, payload: string) => void;
  site: string;
  /** Timing of trips for the hub's metrics (api/metrics.ts); optional. */
  observe?: InterlockObserver;
}

export interface InterlockObserver {
  /** A monotonic time in ms with sub-millisecond resolution (performance.now). */
  now(): number;
  /** A rule tripped `ms` after the input that tripped it reached the interlocks, its actions issued. */
  reacted(ms: number): void;
}

export function estopRule(safety: SafetyConfig): EngineRule {
  return {
    id: ESTOP_ID,
    name: text("estop.name"),
    reason: text("estop.reason"),
    kiosk: text("estop.kiosk"),
    severity: "critical",
    when: safety.estopButtons.length === 0 ? null : { type: "any", of: safety.estopButtons.map((input) => ({ type: "equals" as const, input, value: 1 })) },
    delayS: 0,
    actions: [{ type: "estop" }],
    latch: true,
    reset: { roles: [...safety.estopResetRoles], clearForS: 0 },
    forbids: ["*"],
    escalation: "alarm",
  };
}

/** The engine for a site: the emergency stop first, then the site's, printers' and robots' rules. */
export function buildEngine(rules: readonly EngineRule[], safety: SafetyConfig, now: number): InterlockEngine {
  return new InterlockEngine([estopRule(safety), ...rules], now);
}

export class InterlockService implements Permits {
  readonly engine: InterlockEngine;
  /** Trip actions on actuators: safe values re-sent until confirmed, escalated if not. */
  readonly enforcer: SafeStateEnforcer;
  private readonly permits: InterlockPermits;
  private timer: Timer | null = null;
  private readonly inputs: Set<string>;
  private readonly unsubscribe: Array<() => void> = [];
  /** Stopped: a planned stop is under way; nothing more is evaluated, tripped or stored. */
  private frozen = false;
  /** When the input being evaluated arrived (observe.now()), or -1: for the reaction time of a trip. */
  private inputAt = -1;

  constructor(private readonly ctx: InterlockContext) {
    this.engine = ctx.engine;
    this.permits = new InterlockPermits(ctx.engine);
    this.inputs = this.engine.allInputs();
    this.enforcer = new SafeStateEnforcer({ clock: ctx.clock, registry: ctx.registry, commands: ctx.commands, keeper: ctx.keeper, logger: ctx.logger.child({ module: "safe-state" }) }, (e) => this.escalate(e));
  }

  start(): void {
    this.frozen = false;
    const { clock, store, bus, logger } = this.ctx;
    for (const saved of store.load()) {
      const s = saved.state as { cause?: Cause | null; trippedAt?: number | null } | null;
      if (this.engine.rule(saved.id) === undefined || s === null || typeof s !== "object") continue;
      this.engine.restore(saved.id, { cause: s.cause ?? null, trippedAt: s.trippedAt ?? null }, clock.now());
      logger.warn({ interlock: saved.id }, "latched trip restored from before the restart");
    }
    this.unsubscribe.push(
      bus.on("telemetry:accepted", "interlocks", (batch) => {
        for (const [channel] of batch.readings) {
          if (this.inputs.has(`${batch.deviceId}.${channel}`)) {
            this.evaluateInput();
            return;
          }
        }
      }),
      bus.on("device:changed", "interlocks", () => this.evaluateInput()),
    );
    for (const id of this.engine.ids()) this.publish(id);
    this.evaluate();
    this.timer = clock.setInterval(() => this.evaluate(), EVALUATE_MS);
  }

  /**
   * Stops evaluating: the first step of a planned stop, before the hub lets go of its devices, so
   * that its own disconnects latch nothing. Latched trips stay stored as they are.
   */
  stop(): void {
    this.frozen = true;
    this.timer?.cancel();
    this.timer = null;
    for (const u of this.unsubscribe.splice(0)) u();
    this.enforcer.stop();
  }

  list(): InterlockView[] {
    return this.engine.ids().map((id) => this.view(id)).filter((v): v is InterlockView => v !== undefined);
  }

  view(id: string): InterlockView | undefined {
    const rule = this.engine.rule(id);
    const s = this.engine.state(id);
    if (rule === undefined || s === undefined) return undefined;
    return {
      id,
      name: rule.name,
      severity: rule.severity,
      status: s.status,
      latched: s.status === "tripped" || s.status === "cleared" ? rule.latch : false,
      since: s.since,
      trippedAt: s.trippedAt,
      cause: s.cause,
      reason: rule.reason,
      resetEffect: rule.resetEffect ?? null,
      kiosk: rule.kiosk ?? null,
      resetBlocked: s.status === "normal" ? null : this.engine.resetBlocker(id, this.ctx.clock.now()),
      resetRoles: [...rule.reset.roles],
      forbids: [...rule.forbids],
      inputs: this.engine.inputsOf(id),
    };
  }

  /** The emergency stop from a screen or the API: every actuator to safe, latched until reset. */
  /** `who`: how screens name the one who pressed it, if not the actor's name (a terminal, the hub's own screen). */
  emergencyStop(actor: Actor, who?: Text): InterlockView {
    // During a planned stop nothing is evaluated any more, but the stop's actions still run.
    const rule = this.engine.rule(ESTOP_ID);
    if (this.frozen && rule !== undefined) this.runActions(rule);
    this.engine.forceTrip(ESTOP_ID, { kind: "manual", detail: text("estop.by", { who: who ?? actor.name }) });
    this.evaluate();
    const view = this.view(ESTOP_ID);
    if (view === undefined) throw new HubError("NOT_FOUND", "no emergency stop");
    return view;
  }

  /** A trip reported from outside the inputs (a printer's firmware halted, its thermal watchdog fired). */
  trip(id: string, detail: Text): void {
    if (this.engine.rule(id) === undefined) {
      this.ctx.logger.error({ interlock: id }, "trip for an unknown interlock");
      return;
    }
    this.engine.forceTrip(id, { kind: "manual", detail });
    this.evaluate();
  }

  /** Throws HubError (with the reason in both languages) if refused. Never restarts anything. */
  reset(id: string, actor: Actor): InterlockView {
    // Judge on current inputs, not on what the last tick saw.
    this.evaluate();
    const refusal = this.engine.reset(id, actor, this.ctx.clock.now());
    if (refusal !== null) throw HubError.because(refusal.code, refusal.why, { interlock: id });
    const view = this.view(id);
    if (view === undefined) throw new HubError("NOT_FOUND", `no interlock "${id}"`);
    this.afterChange({ id, from: "cleared", to: "normal", cause: null, at: this.ctx.clock.now(), retrigger: false }, actor);
    return view;
  }

  check(deviceId: DeviceId, actuator: string, value: number): PermitResult {
    return this.permits.check(deviceId, actuator, value);
  }

  evaluate(): void {
    if (this.frozen) return;
    const transitions = this.engine.evaluate(this.ctx.clock.now(), this.readInput);
    for (const t of transitions) this.afterChange(t, HUB);
  }

  /** An evaluation because an input arrived (a reading, a device's state): a trip in it is timed. */
  private evaluateInput(): void {
    this.inputAt = this.ctx.observe?.now() ?? -1;
    try {
      this.evaluate();
    } finally {
      this.inputAt = -1;
    }
  }

  private readonly readInput: InputView = (ref) => {
    const dot = ref.indexOf(".");
    const rec = this.ctx.registry.record(ref.slice(0, dot) as DeviceId);
    const ch = rec?.channels.get(ref.slice(dot + 1));
    if (rec === undefined || ch === undefined) return undefined;
    return { value: ch.value, at: ch.at, quality: ch.quality, deviceState: rec.state };
  };

  private afterChange(t: Transition, actor: Actor): void {
    const { alarms, audit, logger } = this.ctx;
    const rule = this.engine.rule(t.id);
    if (rule === undefined) return;
    const detail = t.cause?.detail;
    if (t.to === "tripped") {
      this.runActions(rule);
      if (this.inputAt >= 0) this.ctx.observe?.reacted(this.ctx.observe.now() - this.inputAt);
      alarms.raise(`interlock:${t.id}`, rule.severity, t.id, this.alarmMessage(rule, t.cause));
      logger.warn({ interlock: t.id, cause: detail?.en }, "interlock tripped");
    } else if (t.to === "cleared" || t.to === "normal") {
      alarms.clear(`interlock:${t.id}`);
    }
    // A reset by a person is recorded by the command that asked for it; the hub records its own doing.
    if (actor.role === "system" && (t.to === "tripped" || t.from === "tripped" || t.from === "cleared" || t.to === "cleared")) {
      audit.append({
        at: t.at,
        actor,
        action: t.to === "tripped" ? "interlock.tripped" : "interlock.cleared",
        target: t.id,
        result: "ok",
        ...(detail !== undefined ? { reason: detail.en } : {}),
        details: { from: t.from, to: t.to, retrigger: t.retrigger, ...(detail !== undefined ? { reasonNl: detail.nl } : {}) },
      });
    }
    const s = this.engine.state(t.id);
    if (s !== undefined && rule.latch && (s.status === "tripped" || s.status === "cleared")) this.ctx.store.save(t.id, { cause: s.cause, trippedAt: s.trippedAt });
    else this.ctx.store.remove(t.id);
    this.publish(t.id);
    this.ctx.bus.emit("interlock:changed", { id: t.id, from: t.from, to: t.to, at: t.at });
  }

  /**
   * What a trip's alarm says. A trip on the rule's own condition: its reason and what held ("CO2
   * boven 1500 ppm ...: climate.co2Ppm 1612 > 1500"). A trip because an input was missing, stale,
   * invalid or its device unreachable: that, and since when, not the rule's threshold text (the
   * threshold was never seen crossed).
   */
  private alarmMessage(rule: EngineRule, cause: Cause | null): Text {
    if (cause === null) return rule.reason;
    if (cause.kind !== "input" || cause.input === undefined || cause.problem === undefined) return text("alarm.trip", { reason: rule.reason, detail: cause.detail });
    const dot = cause.input.indexOf(".");
    const device = cause.input.slice(0, dot);
    const input = this.ctx.registry.partLabel(device, cause.input.slice(dot + 1));
    const lastAt = cause.lastAt ?? null;
    switch (cause.problem) {
      case "offline":
        return text("alarm.inputOffline", { device: this.ctx.registry.label(device), input, rule: rule.name });
      case "invalid":
        return text("alarm.inputInvalid", { input, rule: rule.name });
      case "stale":
      case "missing":
        return lastAt === null ? text("alarm.inputStaleNever", { input, rule: rule.name }) : text("alarm.inputStale", { input, since: timeOfDay(lastAt), rule: rule.name });
    }
  }

  private runActions(rule: EngineRule): void {
    const { logger, stations } = this.ctx;
    const enforcer = this.enforcer;
    const why = `${rule.reason.en} (interlock ${rule.id})`;
    const failed = (what: string) => (error: unknown) => logger.error({ err: error, interlock: rule.id }, `${what} failed`);
    for (const action of rule.actions) {
      if (action.type === "estop") {
        enforcer.ensureAllSafe(rule.id);
        stations.emergencyStopAll(why, HUB).catch(failed("emergency stop of the stations"));
        continue;
      }
      if (action.type === "station") {
        stations.act(action.station, action.command, why, HUB).catch(failed(`${action.command} of ${action.station}`));
        continue;
      }
      const [device, actuator] = action.actuator.split(".") as [string, string];
      enforcer.ensureSafe(rule.id, device as DeviceId, actuator);
    }
  }

  /** A trip action not confirmed within its lease: an alarm, and for some rules the emergency stop. */
  escalate(e: Escalation): void {
    const rule = this.engine.rule(e.ruleId);
    const actuator = this.ctx.registry.partLabel(e.deviceId, e.actuator);
    this.ctx.alarms.raise(`escalation:${e.ruleId}:${e.deviceId}.${e.actuator}`, "critical", e.ruleId, text("alarm.escalation", { actuator, error: e.lastError }));
    this.ctx.audit.append({ at: this.ctx.clock.now(), actor: HUB, action: "interlock.escalated", target: `${e.deviceId}.${e.actuator}`, result: "failed", reason: e.lastError, details: { interlock: e.ruleId } });
    if (rule?.escalation === "estop" && e.ruleId !== ESTOP_ID) this.emergencyStop({ name: `escalation of ${e.ruleId}`, role: "system" });
  }

  private publish(id: string): void {
    const v = this.view(id);
    if (v === undefined) return;
    this.ctx.publish(`tec/${this.ctx.site}/_hub/interlock/${id}`, JSON.stringify({ state: v.status, latched: v.latched, since: v.since, cause: v.cause?.detail ?? null, reason: v.reason }));
  }
}
