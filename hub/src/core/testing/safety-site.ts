/**
 * A small site for the safety services' unit tests: the real registry, telemetry pipeline, command
 * service, keeper, permits, interlock engine and service, alarm book and station registry, on a
 * manual clock, with in-memory stores and devices that acknowledge commands on that clock. Only
 * the far ends are fakes: the devices (a transport that records what it is sent), the stores and
 * the stations' hardware. The command service is observed by a subclass that records each request
 * and passes it on unchanged. Test support only; nothing in the hub imports it.
 */
import type { AckMessage, CommandMessage, MetaMessage } from "../../../../firmware-bridge/contract/messages.ts";
import type { Condition, SafetyConfig } from "../../config/interlocks.ts";
import { ActuatorKeeper } from "../actuators/keeper.ts";
import { type CommandResult, CommandService, type CommandTransport } from "../actuators/commands.ts";
import { type Alarm, AlarmBook, type AlarmStore } from "../alarms/alarms.ts";
import type { AuditEntry, AuditLog, AuditRecord } from "../audit.ts";
import { Bus } from "../bus.ts";
import { ManualClock } from "../clock.ts";
import type { EngineRule } from "../interlock/engine.ts";
import { InterlockPermits } from "../interlock/permits.ts";
import { buildEngine, type InterlockStore, InterlockService } from "../interlock/service.ts";
import { silentLogger } from "../logger.ts";
import { Registry } from "../registry/registry.ts";
import type { Station, StationAction, StationView } from "../stations/stations.ts";
import { StationRegistry } from "../stations/stations.ts";
import { TelemetryPipeline } from "../telemetry/pipeline.ts";
import { text, verbatim } from "../texts/texts.ts";
import { type Actor, asDeviceId, type DeviceId, type DeviceKind, type Text } from "../types.ts";

export const tech: Actor = { name: "tech", role: "technician" };
export const juf: Actor = { name: "juf", role: "instructor" };
export const kiosk: Actor = { name: "kiosk", role: "kiosk" };

export const WATER = asDeviceId("water");
export const BUTTON = asDeviceId("button");
export const CELL = asDeviceId("cell");

const channel = (min: number, max: number) => ({ unit: "", min, max, periodMs: 1000 });

/** The metas of the site's devices: a water board with two actuators, an e-stop button, a cell door. */
export const METAS: Record<string, MetaMessage> = {
  water: {
    model: "TEST-WATER",
    firmware: "1.0.0",
    boot: 1,
    channels: { leak: channel(0, 1), tempC: channel(-20, 120) },
    actuators: { pumpEnable: { safe: 0, leaseMs: 3000 }, heater: { safe: 0, leaseMs: 3000 } },
  },
  button: { model: "TEST-BUTTON", firmware: "1.0.0", boot: 1, channels: { pressed: channel(0, 1) }, actuators: {} },
  cell: { model: "TEST-CELL", firmware: "1.0.0", boot: 1, channels: { doorClosed: channel(0, 1) }, actuators: {} },
};

/** Readings that make every rule below happy. */
export const CALM: Record<string, Record<string, number>> = { water: { leak: 0, tempC: 20 }, button: { pressed: 0 }, cell: { doorClosed: 1 } };

/** An engine rule with the config's defaults, without zod (a `when: null` rule is not configurable). */
export function engineRule(partial: Partial<EngineRule> & { id: string }): EngineRule {
  return {
    name: { nl: `regel ${partial.id}`, en: `rule ${partial.id}` },
    reason: { nl: `reden ${partial.id}`, en: `reason ${partial.id}` },
    severity: "warning",
    when: null,
    delayS: 0,
    actions: [],
    latch: true,
    reset: { roles: ["technician"], clearForS: 5 },
    forbids: [],
    escalation: "alarm",
    ...partial,
  };
}

export const equals = (input: string, value: number): Condition => ({ type: "equals", input, value });

/** The property tests' site, also used by the table tests: one rule of each kind the engine has. */
export const SITE_RULES: EngineRule[] = [
  // Latching, technician only, 3 s clear time; the pump goes safe.
  engineRule({ id: "leak", when: equals("water.leak", 1), reset: { roles: ["technician"], clearForS: 3 }, forbids: ["water.pumpEnable"], actions: [{ type: "safe", actuator: "water.pumpEnable" }] }),
  // Latching with hysteresis and a delay; the heater goes safe.
  engineRule({
    id: "hot",
    when: { type: "above", input: "water.tempC", value: 65, hysteresis: 5 },
    delayS: 1,
    reset: { roles: ["instructor", "technician"], clearForS: 2 },
    forbids: ["water.heater"],
    actions: [{ type: "safe", actuator: "water.heater" }],
  }),
  // Not latching, hysteresis, a permissive only (no action of its own).
  engineRule({ id: "cold", when: { type: "below", input: "water.tempC", value: 5, hysteresis: 2 }, latch: false, forbids: ["water.pumpEnable"] }),
  // Tripped from outside its inputs (a station's fault); its door keeps the cause present.
  engineRule({
    id: "cell-fault",
    when: null,
    causeWhile: { condition: equals("cell.doorClosed", 0) },
    reset: { roles: ["instructor", "technician"], clearForS: 1 },
    forbids: ["cell.start"],
    actions: [{ type: "station", station: "cell", command: "estop" }],
  }),
];

export const SITE_SAFETY: SafetyConfig = { estopResetRoles: ["instructor", "technician"], estopButtons: ["button.pressed"], estopFromHubMachine: false };

export class MemoryAudit implements AuditLog {
  readonly entries: AuditRecord[] = [];
  append(entry: AuditEntry): number {
    this.entries.push({ ...entry, seq: this.entries.length + 1 });
    return this.entries.length;
  }
}

export class MemoryInterlockStore implements InterlockStore {
  readonly rows = new Map<string, unknown>();
  writes = 0;
  save(id: string, state: unknown): void {
    this.writes++;
    this.rows.set(id, JSON.parse(JSON.stringify(state)) as unknown);
  }
  remove(id: string): void {
    this.writes++;
    this.rows.delete(id);
  }
  load(): Array<{ id: string; state: unknown }> {
    return [...this.rows].map(([id, state]) => ({ id, state }));
  }
}

export class MemoryAlarmStore implements AlarmStore {
  readonly saved: Alarm[] = [];
  save(alarm: Alarm): void {
    this.saved.push(alarm);
  }
  load(): Alarm[] {
    return [];
  }
}

export interface SentCommand {
  at: number;
  deviceId: DeviceId;
  actuator: string;
  value: number;
  leaseMs: number;
  id: string;
}

/**
 * The far end of the command path: devices that record every command they receive and answer it
 * on the clock, with an ack, a refusal, or not at all.
 */
export class FakeDevices implements CommandTransport {
  readonly received: SentCommand[] = [];
  readonly answer = new Map<string, "ack" | "refuse" | "silent">();
  ackDelayMs = 10;

  constructor(
    private readonly clock: ManualClock,
    private readonly deliver: (deviceId: DeviceId, ack: AckMessage) => void,
  ) {}

  sendCommand(deviceId: DeviceId, actuator: string, message: CommandMessage): void {
    this.received.push({ at: this.clock.now(), deviceId, actuator, value: message.value, leaseMs: message.leaseMs, id: message.id });
    const answer = this.answer.get(deviceId) ?? "ack";
    if (answer === "silent") return;
    this.clock.setTimeout(() => this.deliver(deviceId, { id: message.id, ok: answer === "ack", ...(answer === "refuse" ? { error: "refused by test" } : {}) }), this.ackDelayMs);
  }
}

/** The command service, observed: every command it is asked to send, whoever asks and whatever becomes of it. */
export class RecordingCommands extends CommandService {
  readonly asked: Array<{ at: number; deviceId: DeviceId; actuator: string; value: number }> = [];
  /** Called before each command is sent, so a test can judge it against the state at that moment. */
  onAsk: (deviceId: DeviceId, actuator: string, value: number) => void = () => {};

  constructor(
    private readonly clockRef: ManualClock,
    ...args: ConstructorParameters<typeof CommandService>
  ) {
    super(...args);
  }

  override send(deviceId: DeviceId, actuator: string, value: number, leaseMs?: number): Promise<CommandResult> {
    this.asked.push({ at: this.clockRef.now(), deviceId, actuator, value });
    this.onAsk(deviceId, actuator, value);
    return super.send(deviceId, actuator, value, leaseMs);
  }
}

/** A station whose hardware is a list of what it was told. */
export class FakeStation implements Station {
  readonly kind = "robot" as const;
  readonly started: string[] = [];
  readonly acted: StationAction[] = [];
  clearFaults = 0;
  /** What the station itself refuses a start for (its own fault, a job running). */
  refusing: Text[] = [];
  /** Called when a start reaches the station, before it records it. */
  onStart: () => void = () => {};

  readonly label: Text;

  constructor(
    readonly id: string,
    private readonly rules: string[] = [],
  ) {
    this.label = verbatim(id);
  }

  view(): Omit<StationView, "startable"> {
    return { id: this.id, kind: "robot", name: this.id, label: this.label, simulated: true, state: "idle", stateReason: text("robot.state.ready"), program: null, progress: null, catalogue: this.catalogue(), details: {} };
  }

  catalogue(): string[] {
    return ["demo"];
  }

  refusals(): Text[] {
    return [...this.refusing];
  }

  start(program: string): Promise<void> {
    this.onStart();
    this.started.push(program);
    return Promise.resolve();
  }

  act(action: StationAction): Promise<void> {
    this.acted.push(action);
    return Promise.resolve();
  }

  faultRules(): string[] {
    return [...this.rules];
  }

  clearFault(): Promise<void> {
    this.clearFaults++;
    return Promise.resolve();
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }
}

export interface SiteOptions {
  rules?: EngineRule[];
  safety?: SafetyConfig;
  /** Devices beyond those of METAS, or instead of them. */
  devices?: Array<{ id: string; kind?: DeviceKind; label?: Text; labels?: Record<string, Text> }>;
  stations?: Station[];
  gates?: Array<(id: string, label: Text) => Text | null>;
  ackTimeoutMs?: number;
  store?: MemoryInterlockStore;
  /** How often the registry judges freshness (the hub sweeps every 250 ms). */
  sweepMs?: number;
  clock?: ManualClock;
}

/** Lets promise callbacks (acks resolving, clearFault) run; no time passes. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 8; i++) await Promise.resolve();
}

export function buildSite(options: SiteOptions = {}) {
  const clock = options.clock ?? new ManualClock();
  const bus = new Bus(silentLogger);
  const wanted: NonNullable<SiteOptions["devices"]> = options.devices ?? Object.keys(METAS).map((id) => ({ id }));
  const declared = wanted.map((d) => ({ id: asDeviceId(d.id), kind: d.kind ?? ("mqtt" as const), name: d.id, simulated: false, ...(d.label !== undefined ? { label: d.label } : {}), ...(d.labels !== undefined ? { labels: d.labels } : {}) }));
  const registry = new Registry({ clock, bus }, declared);
  const pipeline = new TelemetryPipeline({ clock, bus, registry }, { maxMessagesPerS: 1_000_000, maxDeviceMessagesPerS: 1_000_000 });
  const devices = new FakeDevices(clock, (id, ack) => pipeline.ingest(id, "ack", ack));
  const commands = new RecordingCommands(clock, { clock, registry, bus }, devices, options.ackTimeoutMs ?? 1000);
  pipeline.setAckSink(commands);
  const engine = buildEngine(options.rules ?? SITE_RULES, options.safety ?? SITE_SAFETY, clock.now());
  const permits = new InterlockPermits(engine);
  const keeper = new ActuatorKeeper({ clock, registry, commands, logger: silentLogger, permits });
  const stations = new StationRegistry({ bus, logger: silentLogger, permits, gates: options.gates ?? [] });
  for (const s of options.stations ?? []) stations.add(s);
  const alarmStore = new MemoryAlarmStore();
  const alarms = new AlarmBook({ clock, bus, store: alarmStore });
  const audit = new MemoryAudit();
  const store = options.store ?? new MemoryInterlockStore();
  const published: Array<{ topic: string; payload: { state: string; latched: boolean; cause: Text | null } }> = [];
  const service = new InterlockService({
    clock,
    bus,
    registry,
    alarms,
    audit,
    engine,
    commands,
    keeper,
    stations,
    store,
    logger: silentLogger,
    publish: (topic, payload) => published.push({ topic, payload: JSON.parse(payload) as { state: string; latched: boolean; cause: Text | null } }),
    site: "test",
  });
  const sweep = clock.setInterval(() => registry.sweep(), options.sweepMs ?? 250);
  const seqs = new Map<string, number>();
  const boots = new Map<string, number>();

  const site = {
    clock,
    bus,
    registry,
    pipeline,
    devices,
    commands,
    engine,
    permits,
    keeper,
    stations,
    alarms,
    alarmStore,
    audit,
    store,
    published,
    service,
    stopSweep: () => sweep.cancel(),
    /** The device says it is online and describes itself (a changed boot counter is a reboot: every value missing). */
    online(id: string, boot = boots.get(id) ?? 1): void {
      boots.set(id, boot);
      pipeline.ingestRaw(id, "status", "online");
      const meta = METAS[id];
      if (meta !== undefined) pipeline.ingest(asDeviceId(id), "meta", { ...meta, boot });
    },
    offline(id: string): void {
      pipeline.ingestRaw(id, "status", "offline");
    },
    reboot(id: string): void {
      site.online(id, (boots.get(id) ?? 1) + 1);
    },
    /** One tele message; values are sent as given (NaN and out-of-range ones are refused by the pipeline). */
    tele(id: string, readings: Record<string, unknown>): void {
      const seq = seqs.get(id) ?? 0;
      seqs.set(id, seq + 1);
      pipeline.ingest(asDeviceId(id), "tele", { ts: clock.now(), seq, readings });
    },
    /** Every device online with calm readings. */
    allCalm(): void {
      for (const id of registry.ids()) {
        if (registry.view(id)?.state === "unknown" || registry.view(id)?.status !== "online") site.online(id);
        const calm = CALM[id];
        if (calm !== undefined) site.tele(id, calm);
      }
    },
    /** Moves the clock in small steps, letting promise callbacks run between them (acks, retries). */
    async advance(ms: number, stepMs = 10): Promise<void> {
      let left = ms;
      await flush();
      while (left > 0) {
        const step = Math.min(stepMs, left);
        clock.advance(step);
        left -= step;
        await flush();
      }
    },
    /** Keeps the site's devices reporting calm values while time passes. */
    async calmFor(ms: number, stepMs = 10): Promise<void> {
      let left = ms;
      while (left > 0) {
        const step = Math.min(500, left);
        await site.advance(step, stepMs);
        left -= step;
        site.allCalm();
      }
    },
  };
  return site;
}

export type Site = ReturnType<typeof buildSite>;

/** The error `fn` throws, or undefined if it returns. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** What `promise` rejects with, or undefined if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return undefined;
}
