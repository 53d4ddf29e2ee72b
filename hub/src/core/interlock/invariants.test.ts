/**
 * Property-based tests of the interlocks' invariants, over random sequences of readings (fresh,
 * stale, missing, NaN, out of range), devices dropping and rebooting, clock steps, trips, starts
 * and resets by random roles, against the small site of core/testing/safety-site.ts (a latching
 * rule, one with hysteresis and delayS, a non-latching permissive, a station's `causeWhile` rule
 * and the e-stop with its button). The whole hub core runs for real on a manual clock; the
 * invariants are judged against an independent model of what the inputs are, not the engine's view:
 *
 *  (a) a latched trip returns to normal only through an accepted reset, and a reset is accepted only
 *      from a listed role once the cause has been gone and the inputs fresh for clearForS;
 *  (b) a rule with a missing, stale or invalid input (or one from an unavailable device) is not normal;
 *  (c) a reset sends no command but safe values (a trip it finds on fresh inputs sends those) and
 *      starts no station, nor a hold; and nothing a trip stopped starts again by
 *      itself: after a rule that forbids an actuator (or a station) has left normal, the next start
 *      of it is one somebody asked for afterwards;
 *  (d) no command other than the safe value is asked of the command service, and no station start
 *      reaches the station, while a rule that forbids it is not normal.
 *
 * Each violation names its invariant. TEC_FC_RUNS=5000 runs more sequences (about 7 ms each).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HubError } from "../errors.ts";
import { CALM, FakeStation, SITE_RULES, buildSite, flush } from "../testing/safety-site.ts";
import { type Actor, asDeviceId } from "../types.ts";
import { ESTOP_ID } from "./service.ts";

const SWEEP_MS = 100;
/**
 * The registry judges a reading stale by its age only when it sweeps (an offline device's readings
 * not at all): between sweeps, an old reading is not yet certainly stale. Age is judged at the
 * evaluation ticks, right after a sweep; everything else (offline, invalid, missing) at any time.
 */
const BETWEEN_SWEEPS = Number.POSITIVE_INFINITY;
const STALE_MS = 3000; // 3 periods of 1000 ms
const REFS = ["water.leak", "water.tempC", "button.pressed", "cell.doorClosed"] as const;
type Ref = (typeof REFS)[number];
const GOOD: Record<Ref, number[]> = {
  "water.leak": [0, 0, 1],
  "water.tempC": [0, 3, 4, 6, 8, 20, 20, 20, 58, 61, 64, 65, 66, 80],
  "button.pressed": [0, 0, 0, 1],
  "cell.doorClosed": [1, 1, 0],
};
const BAD: unknown[] = [Number.NaN, Number.POSITIVE_INFINITY, "nan", null, 999, -999];
const ACTUATORS = ["water.pumpEnable", "water.heater"] as const;
const RULE_IDS = [ESTOP_ID, "leak", "hot", "cold", "cell-fault"] as const;
const actorOf = (n: number): Actor => (n < 2 ? { name: "kiosk", role: "kiosk" } : n < 5 ? { name: "juf", role: "instructor" } : { name: "tech", role: "technician" });

type Step =
  | { kind: "reading"; ref: Ref; pick: number }
  | { kind: "advance"; ms: number }
  | { kind: "calm"; times: number }
  | { kind: "offline" | "online" | "reboot"; device: "water" | "button" | "cell" }
  | { kind: "reset"; rule: string; latched: number | null; role: number; calmFirst: number }
  | { kind: "estop" }
  | { kind: "trip" }
  | { kind: "hold" | "holdWhenPermitted"; actuator: (typeof ACTUATORS)[number] }
  | { kind: "start" }
  | { kind: "answer"; silent: boolean };

const device = fc.constantFrom("water" as const, "button" as const, "cell" as const);
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constant("reading" as const), ref: fc.constantFrom(...REFS), pick: fc.nat({ max: 99 }) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.oneof(fc.integer({ min: 1, max: 150 }), fc.integer({ min: 150, max: 3600 })) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("calm" as const), times: fc.integer({ min: 1, max: 8 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom("offline" as const, "online" as const, "reboot" as const), device }) },
  // Half the resets come after the inputs have been calm a while, so that some are accepted.
  { weight: 6, arbitrary: fc.record({
      kind: fc.constant("reset" as const),
      rule: fc.constantFrom<string>(...RULE_IDS, "nope"),
      // Or whichever rule is latched then (the k-th of them), so that resets meet something to reset.
      latched: fc.option(fc.nat({ max: 4 })),
      role: fc.nat({ max: 9 }),
      calmFirst: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 8 })),
    }) },
  { weight: 1, arbitrary: fc.constant({ kind: "estop" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "trip" as const }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constantFrom("hold" as const, "holdWhenPermitted" as const), actuator: fc.constantFrom(...ACTUATORS) }) },
  { weight: 2, arbitrary: fc.constant({ kind: "start" as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("answer" as const), silent: fc.boolean() }) },
);

function valueOf(ref: Ref, pick: number): unknown {
  if (pick < 15) return BAD[pick % BAD.length];
  const good = GOOD[ref];
  return good[pick % good.length];
}

/** What the inputs really are, kept from what the test sent: the engine's view is judged against it. */
class InputModel {
  private readonly online = new Map<string, boolean>();
  private readonly described = new Map<string, boolean>();
  private readonly ch = new Map<string, { value: number | null; at: number | null; invalid: boolean; stale: boolean }>();

  constructor() {
    for (const ref of REFS) this.ch.set(ref, { value: null, at: null, invalid: false, stale: false });
  }

  deviceOnline(dev: string, reboot: boolean): void {
    this.online.set(dev, true);
    this.described.set(dev, true);
    if (reboot) for (const ref of this.refsOf(dev)) this.ch.set(ref, { value: null, at: null, invalid: false, stale: false });
  }

  deviceOffline(dev: string): void {
    this.online.set(dev, false);
    for (const ref of this.refsOf(dev)) {
      const c = this.ch.get(ref);
      if (c !== undefined) c.stale = true;
    }
  }

  reading(ref: string, value: unknown, now: number): void {
    const dev = ref.split(".")[0] ?? "";
    const c = this.ch.get(ref);
    // Before its meta the hub refuses a device's readings outright.
    if (c === undefined || this.described.get(dev) !== true) return;
    if (typeof value === "number" && Number.isFinite(value) && value >= -20 && value <= (ref === "water.tempC" ? 120 : 1)) {
      Object.assign(c, { value, at: now, invalid: false, stale: false });
    } else {
      c.invalid = true;
    }
  }

  /** Whether `ref` is certainly not a fresh, valid reading of an available device (stale judged `toleranceMs` late). */
  bad(ref: string, now: number, toleranceMs: number): boolean {
    const dev = ref.split(".")[0] ?? "";
    const c = this.ch.get(ref);
    if (c === undefined || this.online.get(dev) !== true || this.described.get(dev) !== true) return true;
    return c.at === null || c.invalid || c.stale || now - c.at > STALE_MS + toleranceMs;
  }

  value(ref: string): number | null {
    return this.ch.get(ref)?.value ?? null;
  }

  private refsOf(dev: string): string[] {
    return REFS.filter((r) => r.startsWith(`${dev}.`));
  }
}

/** For each rule: its inputs, and whether its cause is certainly present given good inputs. */
const RULE_MODEL: Record<string, { inputs: string[]; cause: (m: InputModel) => boolean }> = {
  [ESTOP_ID]: { inputs: ["button.pressed"], cause: (m) => m.value("button.pressed") === 1 },
  leak: { inputs: ["water.leak"], cause: (m) => m.value("water.leak") === 1 },
  // Inside the hysteresis band the cause may or may not be present: only above the threshold is it certain.
  hot: { inputs: ["water.tempC"], cause: (m) => (m.value("water.tempC") ?? 0) > 65 },
  cold: { inputs: ["water.tempC"], cause: (m) => (m.value("water.tempC") ?? 99) < 5 },
  // Its `causeWhile`: the door open, or the door's reading bad.
  "cell-fault": { inputs: ["cell.doorClosed"], cause: (m) => m.value("cell.doorClosed") === 0 },
};

const forbids = (ruleId: string, ref: string): boolean => {
  const rule = ruleId === ESTOP_ID ? { forbids: ["*"] } : SITE_RULES.find((r) => r.id === ruleId);
  return rule !== undefined && (rule.forbids.includes(ref) || rule.forbids.includes("*"));
};

async function runScenario(steps: Step[]): Promise<string[]> {
  const cell = new FakeStation("cell", ["cell-fault"]);
  const site = buildSite({ stations: [cell], sweepMs: SWEEP_MS });
  const { clock, service, engine, keeper, stations, commands, bus } = site;
  const model = new InputModel();
  const T0 = clock.now();
  const violations: string[] = [];
  const fail = (what: string) => violations.push(`${clock.now() - T0} ms: ${what}`);
  /** Actuators (and the station) a trip stopped: their next start must be one somebody asked for. */
  const mustAsk = new Set<string>();
  const status = (id: string) => engine.state(id)?.status;

  // (a): since when each rule's cause has been certainly gone and its inputs fresh (null: not now).
  const okSince = new Map<string, number | null>(RULE_IDS.map((id) => [id, null]));
  const sample = (toleranceMs: number, manualTrip: string | null = null) => {
    const now = clock.now();
    for (const id of RULE_IDS) {
      const r = RULE_MODEL[id];
      if (r === undefined) continue;
      const bad = id === manualTrip || r.inputs.some((ref) => model.bad(ref, now, toleranceMs)) || r.cause(model);
      if (bad) okSince.set(id, null);
      else if (okSince.get(id) === null) okSince.set(id, now);
    }
  };
  let resetting: string | null = null;
  let lastReset: string | null = null;
  bus.on("interlock:changed", "invariants", (e) => {
    const rule = engine.rule(e.id);
    // (a) A latched trip leaves for normal only by an accepted reset.
    if (rule?.latch === true && (e.from === "tripped" || e.from === "cleared") && e.to === "normal" && (resetting !== e.id || e.from !== "cleared")) fail(`(a) ${e.id} went ${e.from} -> normal without a reset`);
    // (c) What it forbids may start again only when somebody asks afterwards.
    if (e.to === "tripped" || e.to === "cleared") for (const ref of [...ACTUATORS, "cell.start"]) if (forbids(e.id, ref)) mustAsk.add(ref);
  });

  // (d) and (c): every command the command service is asked for, judged at that moment.
  commands.onAsk = (deviceId, actuator, value) => {
    const ref = `${deviceId}.${actuator}`;
    const safe = site.registry.view(deviceId)?.actuators[actuator]?.safe;
    // A reset judges on fresh inputs first, so a trip it finds may send safe values; nothing else.
    if (value === safe) return;
    if (resetting !== null) fail(`(c) command ${ref}=${value} sent during a reset of ${resetting}`);
    for (const id of RULE_IDS) if (forbids(id, ref) && status(id) !== "normal") fail(`(d) command ${ref}=${value} while ${id} is ${status(id)}`);
    if (mustAsk.has(ref)) fail(`(c) ${ref}=${value} started again by itself after a trip`);
  };
  cell.onStart = () => {
    if (resetting !== null) fail(`(c) station started during a reset of ${resetting}`);
    for (const id of RULE_IDS) if (forbids(id, "cell.start") && status(id) !== "normal") fail(`(d) station started while ${id} is ${status(id)}`);
  };

  // (b), at every evaluation tick (after the sweep and the service's own evaluation at the same time).
  const check = (toleranceMs: number) => {
    const now = clock.now();
    for (const id of RULE_IDS) {
      const r = RULE_MODEL[id];
      if (r === undefined) continue;
      const badInput = r.inputs.find((ref) => model.bad(ref, now, toleranceMs));
      if (badInput === undefined) continue;
      const s = status(id);
      // `cell-fault` reads its door only to keep a trip: bad, it may not clear.
      if (id === "cell-fault" ? s === "cleared" : s === "normal") fail(`(b) ${id} is ${s} although ${badInput} is bad`);
    }
  };
  site.stations.start();
  service.start();
  keeper.start();
  // Made after the sweep's and the service's own 100 ms timers, so it runs right after them.
  clock.setInterval(() => {
    sample(0);
    check(0);
  }, SWEEP_MS);

  const send = (ref: string, value: unknown) => {
    const [dev, channel] = ref.split(".") as [string, string];
    model.reading(ref, value, clock.now());
    sample(BETWEEN_SWEEPS);
    site.tele(dev, { [channel]: value });
  };
  const advance = async (ms: number) => {
    await site.advance(ms, 50);
  };
  const calm = () => {
    for (const [dev, readings] of Object.entries(CALM)) for (const [channel, value] of Object.entries(readings)) send(`${dev}.${channel}`, value);
  };

  // Bring the site up, then the random steps.
  for (const dev of ["water", "button", "cell"]) {
    model.deviceOnline(dev, false);
    site.online(dev);
  }
  calm();
  const previous = new Map(RULE_IDS.map((id) => [id, status(id)]));
  for (const s of steps) {
    switch (s.kind) {
      case "reading":
        send(s.ref, valueOf(s.ref, s.pick));
        break;
      case "advance":
        await advance(s.ms);
        break;
      case "calm":
        for (let i = 0; i < s.times; i++) {
          await advance(500);
          calm();
        }
        break;
      case "offline":
        model.deviceOffline(s.device);
        site.offline(s.device);
        break;
      case "online":
        model.deviceOnline(s.device, false);
        site.online(s.device);
        break;
      case "reboot":
        model.deviceOnline(s.device, true);
        site.reboot(s.device);
        break;
      case "estop":
        sample(BETWEEN_SWEEPS, ESTOP_ID);
        service.emergencyStop({ name: "juf", role: "instructor" });
        break;
      case "trip":
        sample(BETWEEN_SWEEPS, "cell-fault");
        service.trip("cell-fault", { nl: "storing", en: "fault" });
        break;
      case "hold": {
        const [dev, actuator] = s.actuator.split(".") as [string, string];
        // Somebody asks: what follows is their start, not one by itself (unless it is refused).
        const blocked = mustAsk.delete(s.actuator);
        try {
          keeper.hold(asDeviceId(dev), actuator, 1);
        } catch (error) {
          if (!(error instanceof HubError) || error.code !== "INTERLOCK_TRIPPED") throw error;
          if (blocked) mustAsk.add(s.actuator);
        }
        break;
      }
      case "holdWhenPermitted": {
        const [dev, actuator] = s.actuator.split(".") as [string, string];
        const permit = site.permits.check(asDeviceId(dev), actuator, 1);
        // Asked while a latched trip forbids it, it is to be forgotten; otherwise it may start later.
        if (permit.allowed || !permit.latched) mustAsk.delete(s.actuator);
        keeper.holdWhenPermitted(asDeviceId(dev), actuator, 1);
        break;
      }
      case "start": {
        const blocked = mustAsk.delete("cell.start");
        try {
          await stations.startProgram("cell", "demo", { name: "juf", role: "instructor" });
        } catch (error) {
          if (!(error instanceof HubError) || error.code !== "INTERLOCK_TRIPPED") throw error;
          if (blocked) mustAsk.add("cell.start");
        }
        break;
      }
      case "answer":
        site.devices.answer.set(asDeviceId("water"), s.silent ? "silent" : "ack");
        break;
      case "reset": {
        for (let i = 0; i < s.calmFirst; i++) {
          await advance(500);
          calm();
        }
        const actor = actorOf(s.role);
        const latched = RULE_IDS.filter((id) => status(id) === "tripped" || status(id) === "cleared");
        const ruleId = s.latched !== null && latched.length > 0 ? (latched[s.latched % latched.length] ?? s.rule) : s.rule;
        const rule = engine.rule(ruleId);
        sample(BETWEEN_SWEEPS);
        const starts = () => commands.asked.filter((c) => c.value !== site.registry.view(c.deviceId)?.actuators[c.actuator]?.safe).length;
        const before = { asked: starts(), started: cell.started.length, held: keeper.list().filter((h) => h.status === "held").length };
        const wasNormal = status(ruleId) === "normal";
        resetting = ruleId;
        let accepted = false;
        try {
          service.reset(ruleId, actor);
          accepted = true;
        } catch (error) {
          if (!(error instanceof HubError)) throw error;
        }
        await flush();
        resetting = null;
        lastReset = accepted ? ruleId : null;
        if (accepted) {
          // (a) Accepted: from a listed role, the cause gone and the inputs fresh for clearForS.
          if (rule === undefined || wasNormal) fail(`(a) reset of ${ruleId} accepted although there was nothing to reset`);
          else if (!rule.reset.roles.includes(actor.role as "instructor" | "technician")) fail(`(a) reset of ${ruleId} accepted from ${actor.role}`);
          const since = okSince.get(ruleId) ?? null;
          const needMs = (rule?.reset.clearForS ?? 0) * 1000;
          if (since === null || clock.now() - since < needMs) fail(`(a) reset of ${ruleId} accepted ${since === null ? "while its cause or a bad input is present" : `after only ${clock.now() - since} ms of ${needMs}`}`);
        }
        // (c) A reset, accepted or not, sends nothing and starts nothing.
        const after = { asked: starts(), started: cell.started.length, held: keeper.list().filter((h) => h.status === "held").length };
        if (after.asked !== before.asked || after.started !== before.started || after.held > before.held) fail(`(c) a reset of ${ruleId} started something: ${JSON.stringify({ before, after })}`);
        check(BETWEEN_SWEEPS);
        break;
      }
    }
    // The engine may have evaluated during the step (a device's change does it): so does the model.
    sample(BETWEEN_SWEEPS);
    // (a) Also judged on the engine directly: no latched rule is normal unless a reset made it so.
    for (const id of RULE_IDS) {
      const now = status(id);
      const was = previous.get(id);
      if (engine.rule(id)?.latch === true && (was === "tripped" || was === "cleared") && now === "normal" && !(s.kind === "reset" && lastReset === id)) fail(`(a) ${id} is normal again after a ${s.kind}`);
      previous.set(id, now);
    }
    if (violations.length > 0) break;
  }
  await advance(1000);
  site.stopSweep();
  service.stop();
  keeper.stop();
  return violations;
}

describe("interlock invariants (fast-check)", () => {
  it("hold over random sequences of readings, dropouts, trips, starts and resets", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 5, maxLength: 40 }), async (steps) => {
        const violations = await runScenario(steps);
        expect(violations).toEqual([]);
      }),
      { numRuns: Number(process.env.TEC_FC_RUNS ?? 150) },
    );
  });
});
