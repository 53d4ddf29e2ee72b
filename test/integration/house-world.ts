/**
 * The Tiny House as the demo runs it, for the hazard table's fault injection on the hub's injected
 * clock: the demo's own rules and device declarations (config/demo.yaml), the simulator's device
 * descriptions (simulators/tiny-house/devices.ts) as real MQTT boards with the firmware's leases
 * and heartbeat watch, and the hub and the boards on one ManualClock.
 *
 * Time moves only in `step()`: the clock advances STEP_MS (the hub's evaluation, sweep, keeper and
 * heartbeat timers and the boards' leases fire on the way), every board publishes its readings,
 * and the step ends once the hub has them (stamped with the new time), every command the hub sent
 * is acknowledged, and every board has had the hub's latest heartbeat. A 300 s delay is 300 steps
 * and some seconds, and no board is ever judged stale by the test's own pace.
 */
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { HUB_HEARTBEAT_PERIOD_MS } from "../../firmware-bridge/contract/messages.ts";
import { loadConfig } from "../../hub/src/config/load.ts";
import type { InterlockRule } from "../../hub/src/config/interlocks.ts";
import type { HubConfigInput } from "../../hub/src/config/schema.ts";
import type { AuditRecord } from "../../hub/src/core/audit.ts";
import { ManualClock } from "../../hub/src/core/clock.ts";
import type { Reply } from "../../hub/src/core/errors.ts";
import type { InterlockView } from "../../hub/src/core/interlock/service.ts";
import { asDeviceId } from "../../hub/src/core/types.ts";
import { type ActuatorReason, SimDevice } from "../../simulators/common/contract-device.ts";
import { channelSpecs, TINY_HOUSE_DEVICES } from "../../simulators/tiny-house/devices.ts";
import { bootHarness, type Harness, SITE, until } from "./harness.ts";
import { staff } from "./safety-world.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
/** The demo's config, parsed as `npm start` parses it. */
export const DEMO = loadConfig(path.join(ROOT, "config/demo.yaml"), {}).config;

export const HOUSE = ["water", "battery", "heat-pump", "climate", "grid-meter"] as const;
export type HouseDevice = (typeof HOUSE)[number];

/** One step of the clock; every board publishes once a step and announces it as its period. */
export const STEP_MS = 1000;
/** The simulated boards' actuator lease (the Tiny House simulator's). */
export const LEASE_MS = 10_000;
/** How long one step may take in real time before the test says what it was waiting for. */
const STEP_DEADLINE_MS = 15_000;

/** A house at rest: nothing near any threshold. */
const AT_REST: Record<HouseDevice, Record<string, number>> = {
  water: { tankTempC: 55, tankLevelPct: 60, pumpFlowLpm: 4, leak: 0, pumpPowerW: 80, heaterPowerW: 0 },
  battery: { batteryPowerW: 0, socPct: 60, batteryTempC: 25 },
  "grid-meter": { gridPowerW: 2000, loadPowerW: 2500, gridImportWh: 1000, gridExportWh: 0 },
  "heat-pump": { hpPowerW: 800, hpHeatW: 3000, hpCop: 3.5, outdoorTempC: 8, hpFlowLpm: 12 },
  climate: { indoorTempC: 20, co2Ppm: 800, ventilationPct: 40 },
};

export interface ActuatorChange {
  at: number;
  ref: string;
  value: number;
  reason: ActuatorReason;
}

export interface Ack {
  at: number;
  ref: string;
  ok: boolean;
}

type Staff = Awaited<ReturnType<typeof staff>>;

export class House {
  /** What the boards read now; `set()` changes it. */
  private readonly values = structuredClone(AT_REST);
  /** Every change of every board's actuators, with the clock's time and why (a command, a lease). */
  readonly changes: ActuatorChange[] = [];
  /** Every acknowledgement the boards sent. */
  readonly acks: Ack[] = [];
  private readonly beats = new Map<string, number>();
  private readonly boards = new Map<HouseDevice, SimDevice>();
  /** How often each board has connected (and sent its birth messages). */
  private readonly births = new Map<string, number>();
  /** Until every board has had a heartbeat, a step does not wait for one. */
  private beating = false;
  private parity = 0;

  constructor(
    readonly h: Harness,
    readonly clock: ManualClock,
    /** Boards that reach the broker through a link the test can cut. */
    readonly links: ReadonlyMap<HouseDevice, Link> = new Map(),
  ) {
    for (const def of TINY_HOUSE_DEVICES) {
      const id = def.id as HouseDevice;
      if (!HOUSE.includes(id)) continue;
      const board = new SimDevice({
        brokerUrl: links.get(id)?.url ?? h.mqttUrl,
        site: SITE,
        id,
        password: passwordOf(id),
        model: def.model,
        channels: channelSpecs(def),
        actuators: def.actuators,
        periodMs: STEP_MS,
        externalTick: true,
        clock,
        read: () => this.read(id),
      });
      board.on("actuator", (actuator, value, reason) => this.changes.push({ at: clock.now(), ref: `${id}.${actuator}`, value, reason }));
      board.on("ack", (actuator, ack) => this.acks.push({ at: clock.now(), ref: `${id}.${actuator}`, ok: ack.ok }));
      board.on("heartbeat", () => this.beats.set(id, clock.now()));
      board.on("connected", () => this.births.set(id, (this.births.get(id) ?? 0) + 1));
      this.boards.set(id, board);
    }
  }

  board(id: HouseDevice): SimDevice {
    const b = this.boards.get(id);
    if (b === undefined) throw new Error(`no board ${id}`);
    return b;
  }

  /** What an actuator (`water.heaterEnable`) drives right now, on the board itself. */
  actuator(ref: string): number {
    const [device, actuator] = ref.split(".") as [HouseDevice, string];
    return this.board(device).actuator(actuator);
  }

  /** Changes readings (`{ "water.tankTempC": 66 }`); the boards publish them at the next step. */
  set(readings: Record<string, number>): void {
    for (const [ref, value] of Object.entries(readings)) {
      const [device, channel] = ref.split(".") as [HouseDevice, string];
      const values = this.values[device];
      if (values === undefined || !(channel in values)) throw new Error(`no reading ${ref}`);
      values[channel] = value;
    }
  }

  /** The interlock as a screen reads it over REST. */
  async rule(id: string): Promise<InterlockView> {
    const r = (await (await fetch(`${this.h.httpUrl}/api/interlocks/${id}`)).json()) as Reply<InterlockView>;
    if (!r.ok) throw new Error(`interlock ${id}: ${r.message}`);
    return r.result;
  }

  /** The audit log about one target, oldest first, as "action:result". */
  async story(target: string): Promise<string[]> {
    return (await this.audit(`target=${encodeURIComponent(target)}`)).map((r) => `${r.action}:${r.result}`).reverse();
  }

  async audit(query: string): Promise<AuditRecord[]> {
    const login = (await (await fetch(`${this.h.httpUrl}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "tech", secret: "technician" }) })).json()) as Reply<{ token: string }>;
    if (!login.ok) throw new Error(login.message);
    const r = (await (await fetch(`${this.h.httpUrl}/api/audit?limit=500&${query}`, { headers: { authorization: `Bearer ${login.result.token}` } })).json()) as Reply<{ records: AuditRecord[] }>;
    if (!r.ok) throw new Error(r.message);
    return r.result.records;
  }

  staff(name: "juf" | "tech"): Promise<Staff> {
    return staff(this.h, name);
  }

  /** One step of the clock, then the boards' readings, acknowledgements and heartbeats are in. */
  async step(): Promise<void> {
    this.clock.advance(STEP_MS);
    for (const b of this.boards.values()) b.tick();
    const now = this.clock.now();
    const deadline = Date.now() + STEP_DEADLINE_MS;
    for (let waiting = this.waitingFor(now); waiting !== null; waiting = this.waitingFor(now)) {
      if (Date.now() > deadline) throw new Error(`the step to ${new Date(now).toISOString()} still waits for ${waiting}`);
      // Waits for I/O (readings, acknowledgements, heartbeats), not for time to pass.
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  /** Steps the clock on by `ms` (a multiple of STEP_MS). */
  async run(ms: number): Promise<void> {
    if (ms % STEP_MS !== 0) throw new RangeError(`run ${ms} ms: not a multiple of ${STEP_MS}`);
    for (let t = 0; t < ms; t += STEP_MS) await this.step();
  }

  /** Boards online, every configured hold on, every rule normal, heartbeats arriving. */
  async start(): Promise<void> {
    await Promise.all([...this.boards.values()].map((b) => b.start()));
    // Every board's retained meta has reached the hub before its first reading.
    await until(() => HOUSE.every((id) => this.h.hub.registry.view(asDeviceId(id))?.model != null), 10_000, "every board described");
    for (let i = 0; !this.ready(); i++) {
      if (i > 60) throw new Error(`the house did not come up: ${JSON.stringify(this.h.hub.interlocks.list().map((v) => [v.id, v.status]))}`);
      this.beating = HOUSE.every((id) => this.beats.has(id));
      await this.step();
    }
    this.beating = true;
  }

  /**
   * A planned restart of the hub on the same folder, ports and clock; the boards reconnect by
   * themselves. Resolves once every board is back and described, before any step: the test sees
   * the hub as it comes up.
   */
  async restartHub(): Promise<void> {
    const births = new Map(this.births);
    await this.whileClockRuns(() => this.h.restartHub());
    await until(() => HOUSE.every((id) => (this.births.get(id) ?? 0) > (births.get(id) ?? 0) && this.h.hub.registry.view(asDeviceId(id))?.status === "online"), 20_000, "every board back on the restarted hub");
  }

  /** Stops the hub first (its planned stop waits for the boards' confirmations, on its clock), then the boards. */
  async close(): Promise<void> {
    try {
      await this.whileClockRuns(() => this.h.close());
    } finally {
      await Promise.all([...this.boards.values()].map((b) => b.stop()));
      await Promise.all([...this.links.values()].map((l) => l.close()));
    }
  }

  /** A planned stop waits on the hub's clock (for confirmations, at most 2 s): keep it moving meanwhile. */
  private async whileClockRuns(fn: () => Promise<void>): Promise<void> {
    const pump = setInterval(() => this.clock.advance(100), 5);
    try {
      await fn();
    } finally {
      clearInterval(pump);
    }
  }

  private ready(): boolean {
    const holds = DEMO.devices.flatMap((d) => (HOUSE.includes(d.id as HouseDevice) && "hold" in d && d.hold !== undefined ? Object.keys(d.hold).map((a) => `${d.id}.${a}`) : []));
    return HOUSE.every((id) => this.beats.has(id)) && holds.every((ref) => this.actuator(ref) === 1) && this.h.hub.interlocks.list().every((v) => v.status === "normal");
  }

  private read(id: HouseDevice): Record<string, number> {
    const r = { ...this.values[id] };
    // A live sensor never reads exactly the same twice (the stuck-sensor rule reads this one).
    if (id === "water" && r.tankTempC !== undefined) r.tankTempC += (this.parity++ % 2) * 0.01;
    return r;
  }

  private waitingFor(now: number): string | null {
    for (const [id, board] of this.boards) {
      if (!board.connected) continue;
      // This step's readings have arrived (a message carries every channel; one the hub refused,
      // NaN say, keeps its old time). A board told to drop every message sends none.
      const channels = Object.values(this.h.hub.registry.view(asDeviceId(id))?.channels ?? {});
      if (board.faults().drop < 1 && !channels.some((c) => c.at === now)) return `the readings of ${id}`;
      const beat = this.beats.get(id);
      if (this.beating && (beat === undefined || now - beat > HUB_HEARTBEAT_PERIOD_MS)) return `the hub's heartbeat at ${id}`;
    }
    const inFlight = this.h.hub.commands.inFlight;
    return inFlight > 0 ? `${inFlight} command(s) unacknowledged` : null;
  }
}

function passwordOf(id: HouseDevice): string {
  const d = DEMO.devices.find((x) => x.id === id);
  if (d === undefined || !("password" in d) || typeof d.password !== "string") throw new Error(`the demo has no MQTT device ${id}`);
  return d.password;
}

export interface HouseOptions {
  /** The rules; by default every rule of the demo, exactly as config/demo.yaml declares them. */
  rules?: readonly InterlockRule[];
  /** Boards that reach the broker through a link the test can cut (`House.links`). */
  linked?: HouseDevice[];
}

/** The house's devices as the demo declares them, and its rules. */
export function houseConfig(options: HouseOptions = {}): Partial<HubConfigInput> {
  return {
    devices: DEMO.devices.filter((d) => HOUSE.includes(d.id as HouseDevice)),
    interlocks: [...(options.rules ?? DEMO.interlocks)],
    users: [
      { name: "juf", role: "instructor", pin: "1234" },
      { name: "tech", role: "technician", password: "technician" },
    ],
  };
}

export async function bootHouse(options: HouseOptions = {}): Promise<House> {
  const clock = new ManualClock();
  const h = await bootHarness(houseConfig(options), { clock });
  const links = new Map<HouseDevice, Link>();
  for (const id of options.linked ?? []) links.set(id, await Link.open(h.mqttUrl));
  const house = new House(h, clock, links);
  try {
    await house.start();
  } catch (error) {
    await house.close();
    throw error;
  }
  return house;
}

/**
 * A network path between a board and the broker that a test can cut silently, as a pulled cable
 * or a dead switch would: no FIN, no RST, nothing more in either direction. Only the broker's
 * keep-alive and the board's own can notice. `mend()` lets new connections through again.
 */
export class Link {
  private readonly sockets = new Set<net.Socket>();
  private cut = false;

  private constructor(
    private readonly server: net.Server,
    private readonly target: { host: string; port: number },
  ) {
    server.on("connection", (board) => this.carry(board));
  }

  static async open(brokerUrl: string): Promise<Link> {
    const target = new URL(brokerUrl);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return new Link(server, { host: target.hostname, port: Number(target.port) });
  }

  get url(): string {
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("link not listening");
    return `mqtt://127.0.0.1:${address.port}`;
  }

  /** From now on nothing passes, and nothing is closed. */
  silence(): void {
    this.cut = true;
  }

  /** The cable is back: the dead connections are dropped (their peers gave up on them), new ones pass. */
  mend(): void {
    this.cut = false;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private carry(board: net.Socket): void {
    this.sockets.add(board);
    board.on("error", () => board.destroy());
    board.on("close", () => this.sockets.delete(board));
    // A connection attempt while the cable is out goes nowhere.
    if (this.cut) return;
    const broker = net.connect(this.target);
    this.sockets.add(broker);
    broker.on("error", () => broker.destroy());
    broker.on("close", () => {
      this.sockets.delete(broker);
      if (!this.cut) board.destroy();
    });
    board.on("close", () => {
      if (!this.cut) broker.destroy();
    });
    board.on("data", (d: Buffer) => void (this.cut || broker.write(d)));
    broker.on("data", (d: Buffer) => void (this.cut || board.write(d)));
  }
}
