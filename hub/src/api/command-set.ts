/**
 * The hub's commands, registered once and served by HTTP and socket.io alike. Every command is
 * audited by the registry (who, what, when, result) before its reply goes out.
 */
import { z } from "zod";
import type { CommandService } from "../core/actuators/commands.ts";
import type { Installation } from "../core/actuators/installation.ts";
import type { ActuatorKeeper } from "../core/actuators/keeper.ts";
import type { AlarmBook } from "../core/alarms/alarms.ts";
import { HubError } from "../core/errors.ts";
import type { InterlockService } from "../core/interlock/service.ts";
import type { Registry } from "../core/registry/registry.ts";
import type { StationRegistry } from "../core/stations/stations.ts";
import type { VisitService } from "../core/visits/visits.ts";
import type { SerialBoard } from "../adapters/serial-board/adapter.ts";
import { type Actor, asDeviceId } from "../core/types.ts";
import type { CommandRegistry } from "./commands.ts";
import type { EstopTerminals } from "./estop-terminals.ts";

const STAFF = ["instructor", "technician"] as const;
const deviceRef = z.string().regex(/^[a-z0-9][a-z0-9-]{0,47}$/, "must be a device id");
const actuatorRef = z.string().regex(/^[a-zA-Z][a-zA-Z0-9]{0,47}$/, "must be an actuator name");

export interface HubCommandDeps {
  interlocks: InterlockService;
  alarms: AlarmBook;
  keeper: ActuatorKeeper;
  commands: CommandService;
  registry: Registry;
  stations: StationRegistry;
  visits: VisitService;
  /** Serial boards by id, for releasing a port to flash firmware. */
  serialBoards: ReadonlyMap<string, SerialBoard>;
  /** An instructor started an actuator (the visit returns it to safe when it ends). */
  onStarted: (device: string, actuator: string) => void;
  /** Screens whose e-stop works without a login. */
  terminals: EstopTerminals;
  /** The installation's configured holds, to bring back after a stop. */
  installation: Installation;
  /** Records one line per actuator the installation restore started or could not start. */
  noteRestore: (actor: Actor, result: ReturnType<Installation["restore"]>) => void;
}

const stationId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,47}$/, "must be a station id");

export function registerHubCommands(registry: CommandRegistry, deps: HubCommandDeps): void {
  const board = (id: string): SerialBoard => {
    const b = deps.serialBoards.get(id);
    if (b === undefined) throw new HubError("NOT_FOUND", `no serial board "${id}"`);
    return b;
  };
  registry.register({
    name: "port.release",
    summary: "Lets go of a serial board's port (to flash its firmware); the hub does not reopen it until port.reclaim. Its actuators fall back to safe on the board.",
    roles: ["technician"],
    params: z.object({ device: deviceRef }).strict(),
    target: (p) => p.device,
    run: async (p) => {
      await board(p.device).release();
      return { device: p.device, port: "released" };
    },
  });
  registry.register({
    name: "port.reclaim",
    summary: "Takes a released serial port back: the hub reopens it and greets the board again.",
    roles: ["technician"],
    params: z.object({ device: deviceRef }).strict(),
    target: (p) => p.device,
    run: (p) => {
      board(p.device).reclaim();
      return { device: p.device, port: "reclaimed" };
    },
  });
  registry.register({
    name: "visit.start",
    summary: "Opens a class visit: which stations this class may use, for how long. A robot starts only during a visit open to it.",
    roles: STAFF,
    params: z.object({ label: z.string().min(1).max(80), stations: z.array(stationId).max(32), minutes: z.number().int().min(5).max(480).default(90) }).strict(),
    target: (p) => p.label,
    run: (p, { actor }) => {
      const unknown = p.stations.filter((s) => !deps.stations.ids().includes(s));
      if (unknown.length > 0) throw new HubError("REQUEST_INVALID", `no station ${unknown.join(", ")}`);
      return deps.visits.start(actor, p);
    },
  });
  registry.register({
    name: "visit.end",
    summary: "Ends the class visit: every station stops and what was started during it returns to safe.",
    roles: STAFF,
    params: z.object({}).strict(),
    target: () => deps.visits.active?.id ?? "-",
    run: (_p, { actor }) => deps.visits.end(`ended by ${actor.name}`),
  });

  registry.register({
    name: "station.start",
    summary: "Starts an approved program (a demo print, a robot program) on a station, if every permissive holds; otherwise refused with the reasons.",
    roles: STAFF,
    params: z.object({ station: stationId, program: z.string().min(1).max(100) }).strict(),
    target: (p) => p.station,
    run: (p, { actor }) => deps.stations.startProgram(p.station, p.program, actor),
  });
  for (const action of ["pause", "resume", "stop"] as const) {
    registry.register({
      name: `station.${action}`,
      summary: action === "stop" ? "Stops what a station is doing (a print is cancelled: parked, heaters off)." : `${action === "pause" ? "Pauses" : "Resumes"} what a station is doing.`,
      roles: STAFF,
      params: z.object({ station: stationId }).strict(),
      target: (p) => p.station,
      run: (p, { actor }) => deps.stations.act(p.station, action, `${action} by ${actor.name}`, actor),
    });
  }

  registry.register({
    name: "estop.trigger",
    summary: "Emergency stop: every actuator and station to its safe state, latched until reset. Always allowed to staff.",
    roles: STAFF,
    params: z.object({}).strict(),
    target: () => "*",
    run: (_p, { actor }) => deps.interlocks.emergencyStop(actor),
  });

  registry.register({
    name: "terminal.register",
    summary: "Registers this screen for the e-stop without a login (a tablet by the stations). Answers its token once; the screen keeps it. Technicians only.",
    roles: ["technician"],
    params: z.object({ name: z.string().trim().min(1).max(60) }).strict(),
    target: (p) => p.name,
    run: (p, { actor }) => deps.terminals.register(p.name, actor),
  });
  registry.register({
    name: "terminal.revoke",
    summary: "Revokes a registered screen: its e-stop then needs a login again. Technicians only.",
    roles: ["technician"],
    params: z.object({ id: z.string().min(1).max(80) }).strict(),
    target: (p) => p.id,
    run: (p) => deps.terminals.revoke(p.id),
  });

  registry.register({
    name: "interlock.reset",
    summary: "Resets a latched interlock (or the emergency stop) once its cause is gone and its inputs fresh. Restarts nothing.",
    roles: STAFF,
    params: z.object({ id: z.string().min(1).max(64) }).strict(),
    target: (p) => p.id,
    run: (p, { actor }) => deps.interlocks.reset(p.id, actor),
  });

  registry.register({
    name: "alarm.acknowledge",
    summary: "Acknowledges an alarm, with an optional comment.",
    roles: STAFF,
    params: z.object({ key: z.string().min(1).max(200), comment: z.string().max(500).optional() }).strict(),
    target: (p) => p.key,
    run: (p, { actor }) => deps.alarms.acknowledge(p.key, actor, p.comment ?? null),
  });

  registry.register({
    name: "actuator.start",
    summary: "Starts an actuator: holds it at a value (re-sent within its lease) if every permissive holds; otherwise refused with the reasons.",
    roles: STAFF,
    params: z.object({ device: deviceRef, actuator: actuatorRef, value: z.number().finite() }).strict(),
    target: (p) => `${p.device}.${p.actuator}`,
    // The console shows each actuator's last start or stop (who, when, the hub's answer) from this.
    keepLatest: true,
    run: async (p) => {
      const id = asDeviceId(p.device);
      const spec = deps.registry.view(id)?.actuators[p.actuator];
      if (spec === undefined) throw new HubError("NOT_FOUND", `device ${p.device} has no actuator "${p.actuator}" (or has not described itself)`);
      if ((spec.min !== undefined && p.value < spec.min) || (spec.max !== undefined && p.value > spec.max)) {
        throw new HubError("REQUEST_INVALID", `${p.value} is outside ${spec.min ?? "-∞"}..${spec.max ?? "∞"} for ${p.device}.${p.actuator}`);
      }
      deps.keeper.hold(id, p.actuator, p.value);
      deps.onStarted(p.device, p.actuator);
      // Report done once the device has it, not when we asked.
      const result = await deps.commands.send(id, p.actuator, p.value);
      return { device: p.device, actuator: p.actuator, value: p.value, latencyMs: result.latencyMs };
    },
  });

  registry.register({
    name: "installation.restore",
    summary: "After an emergency stop or a trip: starts again every configured hold of the installation (the config's `hold:`) that is off and whose permissives hold; the others are refused with their reasons. Never automatic.",
    roles: STAFF,
    params: z.object({}).strict(),
    target: () => "installation",
    run: (_p, { actor }) => {
      const result = deps.installation.restore();
      deps.noteRestore(actor, result);
      return result;
    },
  });

  registry.register({
    name: "actuator.stop",
    summary: "Stops an actuator: no longer held, sent to its safe value. Always allowed to staff.",
    roles: STAFF,
    params: z.object({ device: deviceRef, actuator: actuatorRef }).strict(),
    target: (p) => `${p.device}.${p.actuator}`,
    keepLatest: true,
    run: async (p) => {
      const id = asDeviceId(p.device);
      deps.keeper.release(id, p.actuator);
      const spec = deps.registry.view(id)?.actuators[p.actuator];
      if (spec === undefined) throw new HubError("NOT_FOUND", `device ${p.device} has no actuator "${p.actuator}" (or has not described itself)`);
      const result = await deps.commands.send(id, p.actuator, spec.safe);
      return { device: p.device, actuator: p.actuator, value: spec.safe, latencyMs: result.latencyMs };
    },
  });
}
