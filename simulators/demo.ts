/**
 * The demo's simulated devices, started next to the hub by `npm start`: the Tiny House and the
 * e-stop button, on the same broker as real devices would use. Also the technician's fault
 * injection for live lessons and demonstrations (`sim.*` commands), which exist only while
 * simulators run.
 */
import { z } from "zod";
import type { CommandRegistry } from "../hub/src/api/commands.ts";
import type { HubConfig } from "../hub/src/config/schema.ts";
import { HubError } from "../hub/src/core/errors.ts";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { SimDevice } from "./common/contract-device.ts";
import { openPtyPair, type PtyPair } from "./common/pty-pair.ts";
import { EstopButton } from "./estop-button/index.ts";
import { type PrinterSimHandle, startPrinterSim } from "./printer/index.ts";
import type { NetPrinterSimHandle } from "./printer-net/machine.ts";
import { OperationalMode } from "./robot-cell/cell.ts";
import { type RobotCellHandle, startRobotCell } from "./robot-cell/server.ts";
import { type FirmataBoardHandle, startFirmataBoard } from "./firmata-board/index.ts";
import { SerialBoardSim } from "./serial-board/index.ts";
import { startTinyHouse, type TinyHouseHandle } from "./tiny-house/index.ts";
import { MAX_SPEED, MIN_SPEED, SimClock } from "./tiny-house/sim-clock.ts";
export { SimClock };

/** Simulated hardware that must exist before the hub starts: it fills in the config's `sim://` addresses. */
export interface DemoHardware {
  config: HubConfig;
  printers: Map<string, PrinterSimHandle>;
  /** Network printers (Bambu Lab, PrusaLink …) speaking their own protocol on loopback. */
  netPrinters: Map<string, NetPrinterSimHandle>;
  cells: Map<string, RobotCellHandle>;
  boards: Map<string, SerialBoardSim>;
  arms: Map<string, FirmataBoardHandle>;
  /** Printed for the person starting the demo: what runs where, and what could not. */
  notes: string[];
  stop(): Promise<void>;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}

async function someFreePort(prefer: number): Promise<number> {
  if (prefer !== 0 && (await portFree(prefer))) return prefer;
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts the simulated printers, serial boards and Firmata arms (over a pty, or over TCP where socat
 * is missing) and robot cells (OPC UA) the config asks for with `sim://`, and returns the config
 * with their real addresses. `socat` names the executable (tests give a missing one).
 */
export async function startDemoHardware(config: Readonly<HubConfig>, dataDir: string, options: { cellPort?: number; socat?: string } = {}): Promise<DemoHardware> {
  const printers = new Map<string, PrinterSimHandle>();
  const netPrinters = new Map<string, NetPrinterSimHandle>();
  const ptys: PtyPair[] = [];
  const cells = new Map<string, RobotCellHandle>();
  const boards = new Map<string, SerialBoardSim>();
  const arms = new Map<string, FirmataBoardHandle>();
  const notes: string[] = [];
  let socat = true;
  const tryPty = async (): Promise<PtyPair | null> => {
    if (!socat) return null;
    try {
      const pty = await openPtyPair(options.socat !== undefined ? { socat: options.socat } : {});
      ptys.push(pty);
      return pty;
    } catch {
      if (!socat) return null;
      socat = false;
      notes.push("socat is not installed: simulated printers, serial boards and Firmata arms talk over TCP instead of a pseudo-terminal (apt-get install socat for the real serial path)");
      return null;
    }
  };
  // All at once (the robot cell's OPC UA server alone takes about 2 s to come up); the devices keep their order.
  const started = await Promise.allSettled(
    config.devices.map(async (d): Promise<HubConfig["devices"][number]> => {
      if (d.kind === "serial" && d.url.startsWith("sim:")) {
        const pty = await tryPty();
        const board = new SerialBoardSim(pty !== null ? { pty } : { tcpPort: 0 });
        await board.start();
        boards.set(d.id, board);
        return { ...d, url: board.url };
      }
      if (d.kind === "printer" && d.url.startsWith("sim:") && d.protocol !== "marlin") {
        const { startNetPrinterSim } = await import("./printer-net/index.ts");
        const seed = config.devices.filter((x) => x.kind === "printer").indexOf(d) + 1;
        const sim = await startNetPrinterSim(d.protocol, { machineOptions: { speedFactor: 10, heatFactor: 5, seed, name: d.name } });
        netPrinters.set(d.id, sim);
        return { ...d, url: sim.url, auth: sim.auth };
      }
      if (d.kind === "printer" && d.url.startsWith("sim:")) {
        const pty = await tryPty();
        const seed = config.devices.filter((x) => x.kind === "printer").indexOf(d) + 1;
        const sim = await startPrinterSim({ ...(pty !== null ? { pty } : { tcpPort: 0 }), speedFactor: 10, heatFactor: 5, name: d.name, seed });
        printers.set(d.id, sim);
        return { ...d, url: sim.url };
      }
      if (d.kind === "robot-opcua" && d.endpoint.startsWith("sim:")) {
        // 4841, next to the hub's own 4840, when free; tests ask for any free port (0).
        const port = options.cellPort === 0 ? 0 : await someFreePort(options.cellPort ?? 4841);
        const cell = await startRobotCell({ port, name: d.cell, armName: d.arm, certificateFolder: path.join(dataDir, `${d.id}-pki`), initialMode: OperationalMode.AUTOMATIC });
        cells.set(d.id, cell);
        return { ...d, endpoint: cell.endpointUrl };
      }
      if (d.kind === "robot-firmata" && d.url.startsWith("sim:")) {
        // An Uno on a pty, or without socat the same board as StandardFirmataWiFi over TCP.
        const pty = await tryPty();
        const arm = await startFirmataBoard({ ...(pty !== null ? { pty } : { tcpPort: 0 }), ...(d.doorPin !== undefined ? { pins: { [d.doorPin]: 1 } } : {}) });
        arms.set(d.id, arm);
        return { ...d, url: arm.url };
      }
      return d;
    }),
  );
  const stopAll = async () => {
    await Promise.allSettled([...arms.values()].map((a) => a.stop()));
    await Promise.allSettled([...boards.values()].map((b) => b.stop()));
    await Promise.allSettled([...printers.values()].map((p) => p.stop()));
    await Promise.allSettled([...netPrinters.values()].map((p) => p.stop()));
    await Promise.allSettled([...cells.values()].map((c) => c.stop()));
    await Promise.allSettled(ptys.map((p) => p.close()));
  };
  const failed = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed !== undefined) {
    // What did start is stopped again: a failed demo start leaves no simulator or socat behind.
    await stopAll();
    throw failed.reason;
  }
  const devices = started.map((r) => (r as PromiseFulfilledResult<HubConfig["devices"][number]>).value);
  if (!existsSync(path.resolve("printers/catalogue"))) notes.push("printers/catalogue is missing: the printers have no approved models");
  return {
    config: { ...config, devices },
    printers,
    netPrinters,
    cells,
    boards,
    arms,
    notes,
    stop: stopAll,
  };
}

export interface DemoSimulators {
  house: TinyHouseHandle | null;
  button: EstopButton | null;
  /** The printers' enclosure door contacts, when the config has an `enclosures` device. */
  doors: { device: SimDevice; open: Record<string, number> } | null;
  devices(): Map<string, SimDevice>;
  stop(): Promise<void>;
}

export const ESTOP_BUTTON_ID = "estop-button";
export const ENCLOSURES_ID = "enclosures";

/** The printers' enclosure door contacts: one channel per printer whose `door` points here. */
function startDoors(config: Readonly<HubConfig>, brokerUrl: string, password: string | undefined, periodMs: number): DemoSimulators["doors"] {
  if (password === undefined) return null;
  const channels = config.devices.flatMap((d) => (d.kind === "printer" && d.door?.startsWith(`${ENCLOSURES_ID}.`) === true ? [d.door.slice(ENCLOSURES_ID.length + 1)] : []));
  if (channels.length === 0) return null;
  const open: Record<string, number> = Object.fromEntries(channels.map((c) => [c, 0]));
  const device = new SimDevice({
    brokerUrl,
    site: config.site,
    id: ENCLOSURES_ID,
    password,
    model: "TEC-SIM-DOORS",
    channels: Object.fromEntries(channels.map((c) => [c, { unit: "", min: 0, max: 1, label: "Deur printerkast open" }])),
    periodMs,
    read: () => ({ ...open }),
  });
  return { device, open };
}

/** `simClock`: the Tiny House's clock, built before the hub so the hub can stream it (see hub/src/cli.ts). */
export async function startDemoSimulators(config: Readonly<HubConfig>, brokerUrl: string, simClock?: SimClock): Promise<DemoSimulators> {
  const th = config.simulators.tinyHouse;
  const passwords = Object.fromEntries(config.devices.flatMap((d) => (d.kind === "mqtt" ? [[d.id, d.password]] : [])));
  const house = th.enabled
    ? await startTinyHouse({
        brokerUrl,
        site: config.site,
        passwords,
        speed: th.speed,
        seed: th.seed,
        periodMs: th.periodMs,
        ...(th.start !== undefined ? { startMs: Date.parse(th.start) } : {}),
        ...(simClock !== undefined ? { simClock } : {}),
      })
    : null;
  const buttonPassword = passwords[ESTOP_BUTTON_ID];
  const button = th.enabled && buttonPassword !== undefined ? new EstopButton({ brokerUrl, site: config.site, id: ESTOP_BUTTON_ID, password: buttonPassword, periodMs: th.periodMs }) : null;
  await button?.start();
  const doors = startDoors(config, brokerUrl, passwords[ENCLOSURES_ID], th.periodMs);
  await doors?.device.start();
  return {
    house,
    button,
    doors,
    devices() {
      const all = new Map(house?.devices ?? []);
      if (button !== null) all.set(ESTOP_BUTTON_ID, button.device);
      if (doors !== null) all.set(ENCLOSURES_ID, doors.device);
      return all;
    },
    async stop() {
      await doors?.device.stop();
      await button?.stop();
      await house?.stop();
    },
  };
}

const Faults = z
  .object({
    drop: z.number().min(0).max(1).optional(),
    delayMs: z.number().int().min(0).max(60_000).optional(),
    duplicate: z.boolean().optional(),
    garble: z.number().min(0).max(1).optional(),
    stuck: z.string().max(48).nullable().optional(),
    health: z.enum(["ok", "degraded", "fault"]).optional(),
  })
  .strict();

/** Fault injection for technicians while the demo runs: what a lesson about safety needs. */
export function registerSimCommands(registry: CommandRegistry, sims: DemoSimulators, hardware: DemoHardware | null = null): void {
  const device = (id: string): SimDevice => {
    const d = sims.devices().get(id);
    if (d === undefined) throw new HubError("NOT_FOUND", `no simulated device "${id}"`);
    return d;
  };
  registry.register({
    name: "sim.leak",
    summary: "Simulator: starts or stops a water leak in the Tiny House.",
    roles: ["technician"],
    params: z.object({ on: z.boolean() }).strict(),
    target: () => "water",
    run: (p) => {
      if (sims.house === null) throw new HubError("NOT_FOUND", "the Tiny House simulator is not running");
      sims.house.model.setLeak(p.on);
      return { leak: p.on };
    },
  });
  registry.register({
    name: "sim.clock",
    summary: "Simulator: runs the Tiny House's day faster or slower (simulated seconds per real second), or jumps forward to an hour of the day; answers the clock.",
    roles: ["technician"],
    params: z.object({ speed: z.number().min(MIN_SPEED).max(MAX_SPEED).optional(), jumpToHour: z.number().min(0).max(24).optional() }).strict(),
    target: () => "tiny-house",
    run: (p) => {
      const house = sims.house;
      if (house === null) throw new HubError("NOT_FOUND", "the Tiny House simulator is not running");
      if (p.speed !== undefined) house.setSpeed(p.speed);
      if (p.jumpToHour !== undefined) house.jumpToHour(p.jumpToHour);
      return house.simClock.current();
    },
  });
  registry.register({
    name: "sim.fault",
    summary: "Simulator: injects faults into a simulated device (drop, delay, duplicate, garble, stuck channel, health), or clears them.",
    roles: ["technician"],
    params: z.object({ device: z.string().max(48), faults: Faults.optional(), clear: z.boolean().optional() }).strict(),
    target: (p) => p.device,
    run: (p) => {
      const d = device(p.device);
      if (p.clear === true) d.clearFaults();
      if (p.faults !== undefined) d.inject(p.faults);
      return d.faults();
    },
  });
  registry.register({
    name: "sim.faults",
    summary: "Simulator: the faults injected into each simulated device now (none: every value at rest).",
    roles: ["technician"],
    params: z.object({}).strict(),
    target: () => "*",
    run: () => Object.fromEntries([...sims.devices()].map(([id, d]) => [id, d.faults()])),
  });
  registry.register({
    name: "sim.power",
    summary: "Simulator: crashes (no goodbye: the last will fires), restarts or reboots a simulated device.",
    roles: ["technician"],
    params: z.object({ device: z.string().max(48), action: z.enum(["crash", "restart", "reboot"]) }).strict(),
    target: (p) => p.device,
    run: async (p) => {
      const d = device(p.device);
      if (p.action === "crash") d.crash();
      else if (p.action === "restart") await d.restart();
      else d.reboot();
      return { device: p.device, action: p.action };
    },
  });
  registry.register({
    name: "sim.door",
    summary: "Simulator: opens or closes a station's guard door by station id (a printer's enclosure, the robot cell's door, the robot arm's door switch), or an enclosure contact by its channel.",
    roles: ["instructor", "technician"],
    params: z
      .object({ station: z.string().max(48).optional(), channel: z.string().max(48).optional(), open: z.boolean() })
      .strict()
      .refine((p) => (p.station === undefined) !== (p.channel === undefined), "name either a station or a channel"),
    target: (p) => p.station ?? `${ENCLOSURES_ID}.${p.channel ?? ""}`,
    run: (p) => {
      const enclosure = (channel: string) => {
        const doors = sims.doors;
        if (doors === null || !(channel in doors.open)) throw new HubError("NOT_FOUND", `no simulated door "${channel}"`);
        doors.open[channel] = p.open ? 1 : 0;
        doors.device.tick();
      };
      if (p.channel !== undefined) {
        enclosure(p.channel);
        return { channel: p.channel, open: p.open };
      }
      const id = p.station ?? "";
      const device = hardware?.config.devices.find((d) => d.id === id);
      if (device?.kind === "printer" && device.door?.startsWith(`${ENCLOSURES_ID}.`) === true) {
        enclosure(device.door.slice(ENCLOSURES_ID.length + 1));
      } else if (device?.kind === "printer" && hardware?.netPrinters.get(id)?.machine.hasDoor === true) {
        // A network printer's own door contact.
        hardware.netPrinters.get(id)?.machine.setDoor(p.open);
      } else if (device?.kind === "robot-opcua" && hardware?.cells.has(id) === true) {
        const cell = hardware.cells.get(id)?.cell;
        if (p.open) cell?.openDoor();
        else cell?.closeDoor();
      } else if (device?.kind === "robot-firmata" && device.doorPin !== undefined && hardware?.arms.has(id) === true) {
        // The arm's door switch: 1 = closed (the contact pulls the pin high), 0 = open.
        hardware.arms.get(id)?.setDigitalInput(device.doorPin, p.open ? 0 : 1);
      } else {
        throw new HubError("NOT_FOUND", `station "${id}" has no simulated guard door`);
      }
      return { station: id, open: p.open };
    },
  });
  registry.register({
    name: "sim.estopButton",
    summary: "Simulator: presses or releases the e-stop button.",
    roles: ["instructor", "technician"],
    params: z.object({ pressed: z.boolean() }).strict(),
    target: () => ESTOP_BUTTON_ID,
    run: (p) => {
      if (sims.button === null) throw new HubError("NOT_FOUND", "no simulated e-stop button");
      if (p.pressed) sims.button.press();
      else sims.button.release();
      return { pressed: p.pressed };
    },
  });
}
