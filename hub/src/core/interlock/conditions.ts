/**
 * Evaluation of one rule's condition tree against the inputs, with the memory some conditions
 * need: hysteresis (which side of the band a threshold is on), stuck detection (since when the
 * value has not changed) and rate of change (recent samples). Pure; time comes in as `now`.
 */
import type { Condition } from "../../config/interlocks.ts";
import { list, text, verbatim } from "../texts/texts.ts";
import type { Text } from "../types.ts";
import type { InputReading } from "./inputs.ts";

export interface LeafMemory {
  /** Threshold conditions: currently on the tripping side of the hysteresis band. */
  active: boolean;
  /** Stuck: the value and since when it has been unchanged; rate: recent (at, value) samples. */
  lastValue: number | null;
  unchangedSince: number | null;
  lastAt: number | null;
  samples: Array<[at: number, value: number]>;
}

export type ReadInput = (ref: string) => InputReading | undefined;
export type IsTripped = (interlockId: string) => boolean;

export interface ConditionResult {
  value: boolean;
  /** What made it true, for people: "water.leak = 1", "tankTempC 67.2 > 65". */
  detail: Text | null;
}

const newMemory = (): LeafMemory => ({ active: false, lastValue: null, unchangedSince: null, lastAt: null, samples: [] });

const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2).replace(/\.?0+$/, ""));

export class ConditionEvaluator {
  private readonly memory = new Map<string, LeafMemory>();

  /** A null condition is never true: the rule trips only on its inputs or by hand. */
  constructor(private readonly root: Condition | null) {}

  /** Forgets hysteresis, stuck and rate history (after a reset, or when inputs went bad). */
  forget(): void {
    this.memory.clear();
  }

  evaluate(now: number, read: ReadInput, isTripped: IsTripped): ConditionResult {
    if (this.root === null) return { value: false, detail: null };
    return this.visit(this.root, "0", now, read, isTripped);
  }

  private leaf(path: string): LeafMemory {
    let m = this.memory.get(path);
    if (m === undefined) {
      m = newMemory();
      this.memory.set(path, m);
    }
    return m;
  }

  private visit(c: Condition, path: string, now: number, read: ReadInput, isTripped: IsTripped): ConditionResult {
    switch (c.type) {
      case "all": {
        const results = c.of.map((child, i) => this.visit(child, `${path}.${i}`, now, read, isTripped));
        const all = results.every((r) => r.value);
        return { value: all, detail: all ? join(results.map((r) => r.detail)) : null };
      }
      case "any": {
        // Evaluate every child so each keeps its memory up to date.
        const results = c.of.map((child, i) => this.visit(child, `${path}.${i}`, now, read, isTripped));
        const hit = results.find((r) => r.value);
        return { value: hit !== undefined, detail: hit?.detail ?? null };
      }
      case "tripped": {
        const t = isTripped(c.interlock);
        return { value: t, detail: t ? text("condition.tripped", { interlock: c.interlock }) : null };
      }
      default:
        break;
    }
    const input = read(c.input);
    // Bad inputs are handled by the rule before the condition is asked; be defensive anyway.
    if (input === undefined || input.value === null) return { value: false, detail: null };
    const v = input.value;
    const m = this.leaf(path);
    switch (c.type) {
      case "above": {
        m.active = m.active ? v > c.value - c.hysteresis : v > c.value;
        // Inside the hysteresis band it still holds: say so, with the value it must fall below.
        if (m.active && v <= c.value) return { value: true, detail: text("condition.notYetBelow", { input: c.input, value: fmt(v), limit: fmt(c.value - c.hysteresis) }) };
        return { value: m.active, detail: m.active ? same(`${c.input} ${fmt(v)} > ${fmt(c.value)}`) : null };
      }
      case "below": {
        m.active = m.active ? v < c.value + c.hysteresis : v < c.value;
        if (m.active && v >= c.value) return { value: true, detail: text("condition.notYetAbove", { input: c.input, value: fmt(v), limit: fmt(c.value + c.hysteresis) }) };
        return { value: m.active, detail: m.active ? same(`${c.input} ${fmt(v)} < ${fmt(c.value)}`) : null };
      }
      case "equals": {
        const eq = v === c.value;
        return { value: eq, detail: eq ? same(`${c.input} = ${fmt(v)}`) : null };
      }
      case "stuck": {
        if (m.lastValue === null || v !== m.lastValue) {
          m.lastValue = v;
          m.unchangedSince = input.at ?? now;
        }
        const forMs = now - (m.unchangedSince ?? now);
        const stuck = forMs >= c.forS * 1000;
        return {
          value: stuck,
          detail: stuck ? text("condition.stuck", { input: c.input, value: fmt(v), seconds: Math.round(forMs / 1000) }) : null,
        };
      }
      case "rate": {
        if (input.at !== null && input.at !== m.lastAt) {
          m.lastAt = input.at;
          m.samples.push([input.at, v]);
        }
        const windowMs = c.windowS * 1000;
        while (m.samples.length > 2 && (m.samples[0]?.[0] ?? now) < now - windowMs) m.samples.shift();
        const first = m.samples[0];
        const last = m.samples[m.samples.length - 1];
        if (first === undefined || last === undefined || last[0] - first[0] < Math.min(windowMs / 4, 5000)) return { value: false, detail: null };
        const perMin = ((last[1] - first[1]) / (last[0] - first[0])) * 60_000;
        const rising = c.risePerMin !== undefined && perMin > c.risePerMin;
        const falling = c.fallPerMin !== undefined && -perMin > c.fallPerMin;
        const hit = rising || falling;
        return { value: hit, detail: hit ? same(`${c.input} ${perMin > 0 ? "+" : ""}${fmt(perMin)}/min`) : null };
      }
    }
  }
}

/** A reading and its limit read the same in both languages: "climate.co2Ppm 1612 > 1500". */
const same = verbatim;

/** "a en b" / "a and b": every part of an `all` that holds. */
function join(details: Array<Text | null>): Text | null {
  const present = details.filter((d): d is Text => d !== null);
  if (present.length === 0) return null;
  return list(present);
}
