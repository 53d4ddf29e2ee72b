/**
 * A small plant for the safety suites: a water board and a battery board that behave like the
 * firmware (leases, heartbeat loss to safe, acknowledgements), an e-stop button, the interlocks
 * that guard them, and two logins. Periods are short so staleness shows within a second.
 */
import type { InterlockRule } from "../../hub/src/config/interlocks.ts";
import type { HubConfigInput } from "../../hub/src/config/schema.ts";
import type { Reply } from "../../hub/src/core/errors.ts";
import { SimDevice } from "../../simulators/common/contract-device.ts";
import { EstopButton } from "../../simulators/estop-button/index.ts";
import { bootHarness, type Harness, SITE, until } from "./harness.ts";

export const PERIOD_MS = 200;

type RuleInput = Omit<Partial<InterlockRule>, "when"> & { id: string; when: unknown };

export const SAFETY_RULES: RuleInput[] = [
  {
    id: "water-leak",
    name: { nl: "Lekkage", en: "Water leak" },
    reason: { nl: "Pomp uit en kraan dicht: lekkage gedetecteerd", en: "Pump off and valve closed: leak detected" },
    severity: "critical",
    when: { type: "equals", input: "water.leak", value: 1 },
    actions: [
      { type: "safe", actuator: "water.pumpEnable" },
      { type: "safe", actuator: "water.valveOpen" },
    ],
    forbids: ["water.pumpEnable", "water.valveOpen"],
    reset: { roles: ["technician"], clearForS: 1 },
  },
  {
    id: "tank-stuck",
    name: { nl: "Boilersensor hangt", en: "Tank sensor stuck" },
    reason: { nl: "Boiler uit: sensor verandert niet", en: "Heater off: sensor does not change" },
    when: { type: "stuck", input: "water.tankTempC", forS: 2 },
    actions: [{ type: "safe", actuator: "water.heaterEnable" }],
    forbids: ["water.heaterEnable"],
    reset: { roles: ["technician"], clearForS: 0 },
  },
  {
    id: "battery-low",
    name: { nl: "Accu bijna leeg", en: "Battery nearly empty" },
    reason: { nl: "Ontladen geblokkeerd", en: "Discharging blocked" },
    when: { type: "below", input: "battery.socPct", value: 10 },
    actions: [{ type: "safe", actuator: "battery.dischargeEnable" }],
    forbids: ["battery.dischargeEnable"],
    reset: { roles: ["instructor", "technician"], clearForS: 0 },
  },
];

export function safetyConfig(overrides: Partial<HubConfigInput> = {}): Partial<HubConfigInput> {
  return {
    devices: [
      { kind: "mqtt", id: "water", name: "Water", password: "pw-water", hold: { pumpEnable: 1, valveOpen: 1, heaterEnable: 1 } },
      { kind: "mqtt", id: "battery", name: "Accu", password: "pw-battery", hold: { dischargeEnable: 1 } },
      { kind: "mqtt", id: "estop-button", name: "Noodstop", password: "pw-estop-button" },
      { kind: "mqtt", id: "mute", name: "Mute board", password: "pw-mute" },
    ],
    interlocks: SAFETY_RULES as HubConfigInput["interlocks"],
    safety: { estopButtons: ["estop-button.pressed"], estopResetRoles: ["instructor", "technician"] },
    users: [
      { name: "juf", role: "instructor", pin: "1234" },
      { name: "tech", role: "technician", password: "technician" },
    ],
    ...overrides,
  };
}

export interface Plant {
  water: SimDevice;
  battery: SimDevice;
  button: EstopButton;
  /** What the boards read; tests change them. */
  readings: { leak: number; tankTempC: number; socPct: number };
  stop(): Promise<void>;
}

export async function startPlant(brokerUrl: string, options: { site?: string; leaseMs?: number } = {}): Promise<Plant> {
  const site = options.site ?? SITE;
  const leaseMs = options.leaseMs ?? 2000;
  const readings = { leak: 0, tankTempC: 50, socPct: 60 };
  let t = 0;
  const water = new SimDevice({
    brokerUrl,
    site,
    id: "water",
    password: "pw-water",
    model: "TEST-WATER",
    periodMs: PERIOD_MS,
    channels: { leak: { unit: "", min: 0, max: 1 }, tankTempC: { unit: "°C", min: 0, max: 100 } },
    actuators: {
      pumpEnable: { safe: 0, leaseMs, min: 0, max: 1 },
      valveOpen: { safe: 0, leaseMs, min: 0, max: 1 },
      heaterEnable: { safe: 0, leaseMs, min: 0, max: 1 },
    },
    // A live sensor never reads exactly the same twice.
    read: () => ({ leak: readings.leak, tankTempC: readings.tankTempC + ((t++ % 7) - 3) * 0.01 }),
  });
  const battery = new SimDevice({
    brokerUrl,
    site,
    id: "battery",
    password: "pw-battery",
    model: "TEST-BATTERY",
    periodMs: PERIOD_MS,
    channels: { socPct: { unit: "%", min: 0, max: 100 } },
    actuators: { dischargeEnable: { safe: 0, leaseMs, min: 0, max: 1 } },
    read: () => ({ socPct: readings.socPct }),
  });
  const button = new EstopButton({ brokerUrl, site, id: "estop-button", password: "pw-estop-button", periodMs: PERIOD_MS });
  await Promise.all([water.start(), battery.start(), button.start()]);
  return {
    water,
    battery,
    button,
    readings,
    async stop() {
      await Promise.all([water.stop(), battery.stop(), button.stop()]);
    },
  };
}

export function plantReady(plant: Plant): boolean {
  return plant.water.actuator("pumpEnable") === 1 && plant.water.actuator("heaterEnable") === 1 && plant.battery.actuator("dischargeEnable") === 1;
}

export function plantSafe(plant: Plant): boolean {
  return plant.water.actuator("pumpEnable") === 0 && plant.water.actuator("valveOpen") === 0 && plant.water.actuator("heaterEnable") === 0 && plant.battery.actuator("dischargeEnable") === 0;
}

/** Logs in over REST and returns a function that runs commands with that session. */
export async function staff(h: Harness, name: "juf" | "tech"): Promise<(command: string, params?: object) => Promise<{ status: number; body: Reply<unknown> }>> {
  const res = await fetch(`${h.httpUrl}/api/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, secret: name === "juf" ? "1234" : "technician" }),
  });
  const body = (await res.json()) as Reply<{ token: string }>;
  if (!body.ok) throw new Error(`login ${name} failed: ${body.message}`);
  const token = body.result.token;
  return async (command, params = {}) => {
    const r = await fetch(`${h.httpUrl}/api/commands/${command}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify(params),
    });
    return { status: r.status, body: (await r.json()) as Reply<unknown> };
  };
}

export async function bootSafety(overrides: Partial<HubConfigInput> = {}): Promise<{ h: Harness; plant: Plant }> {
  const h = await bootHarness(safetyConfig(overrides));
  const plant = await startPlant(h.mqttUrl);
  // Every rule has seen fresh inputs and the held actuators are on.
  await until(() => plantReady(plant), 10_000, "held actuators on");
  return { h, plant };
}

export async function interlock(h: Harness, id: string): Promise<{ status: string; latched: boolean; cause: { kind: string; detail: { nl: string; en: string } } | null; resetBlocked: { nl: string; en: string } | null; reason: { nl: string; en: string }; resetEffect: { nl: string; en: string } | null }> {
  const r = await h.get<{ ok: true; result: Awaited<ReturnType<typeof interlock>> }>(`/api/interlocks/${id}`);
  return r.body.result;
}
