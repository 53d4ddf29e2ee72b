/**
 * A Bambu Lab printer in LAN mode, on the wire as the real ones: an MQTT broker behind TLS (the
 * printer's own self-signed certificate, CN = serial; user `bblp`, password = the access code,
 * CONNACK 5 otherwise), reports on `device/<serial>/report` (`push_status`: full objects on the X1
 * and H2, only the changed fields on the P1 and A1; `pushall` always answers in full), commands on
 * `device/<serial>/request` echoed with `result`, and an implicit-FTPS file server for uploads.
 * Behind it the `SimMachine` (Marlin heaters and motion, the job runner).
 *
 * The machine's state reads as `gcode_state` IDLE / PREPARE / RUNNING / PAUSE / FINISH / FAILED;
 * `stop` ends the job (FAILED, `print_error` 50348044 "cancelled by user" for a few seconds, as
 * the printers do); a heater or sensor fault in the engine is a fatal HMS entry of the motion
 * controller (0300_0100_… heatbed, 0300_0200_… nozzle) and `print_error`; the X1's door is bit
 * 0x00800000 of `home_flag`. Faults: drop connections, refuse credentials, go silent, Developer
 * Mode off (control commands refused with `err_code` 84033543, reports still flow).
 */
import { Aedes, type AedesPublishPacket, type Client } from "aedes";
import type { AddressInfo, Socket } from "node:net";
import tls from "node:tls";
import { systemClock, type Clock, type Timer } from "../../hub/src/core/clock.ts";
import { makePrinterCertificate } from "./bambu-cert.ts";
import { startFtpsServer } from "./bambu-ftps.ts";
import { plateGcode } from "./bambu-3mf.ts";
import { type NetPrinterSimHandle, type NetPrinterSimOptions, SimMachine } from "./machine.ts";

export interface BambuSimOptions extends NetPrinterSimOptions {
  /** Push only changed fields (P1/A1) instead of the full object (X1/H2); default from the serial's model. */
  deltas?: boolean;
  /** Developer Mode (LAN-only mode): off = control commands refused, as 2025 firmware does for third-party clients. Default on. */
  developerMode?: boolean;
  /** How long a started job stays in PREPARE (download, levelling) before RUNNING; default 400 ms. */
  prepareMs?: number;
  /** How long `print_error` says "cancelled by user" after a stop; default 3000 ms. */
  cancelCodeMs?: number;
}

export interface BambuSimHandle extends NetPrinterSimHandle {
  /** The FTPS port (990 on a real printer); also in `url` as `?ftps=<port>`. */
  ftpsPort: number;
  serial: string;
  model: string;
  /** Files received over FTPS (absolute path -> bytes). */
  files: Map<string, number>;
  /** Logins tried (MQTT CONNECTs and FTP PASS), right or wrong: a client that sent its access code. */
  logins: { mqtt: number; ftp: number };
  /** Every command received on the request topic, in order (for tests). */
  commands: Array<{ type: string; command: string; [k: string]: unknown }>;
  setDeveloperMode(on: boolean): void;
}

/** Serial-number prefixes (model codes) as the printers use them. */
export const BAMBU_MODELS: Record<string, string> = {
  "00M": "X1 Carbon",
  "00W": "X1",
  "03W": "X1E",
  "01S": "P1P",
  "01P": "P1S",
  "039": "A1",
  "030": "A1 mini",
  "094": "H2D",
  "093": "H2S",
  "22E": "P2S",
};

export const CANCELLED_BY_USER = 50348044; // 0x0300400C
const DOOR_OPEN_BIT = 0x00800000;
const HOMED_AND_SD = 0x00000107;
const DEV_MODE_REFUSED = 84033543;

const str = (v: unknown): string => (typeof v === "string" ? v : typeof v === "number" ? String(v) : "");

/** The HMS entry for the engine's halt reason (Marlin words from the sim's heaters). */
function hmsFor(reason: string): { attr: number; code: number } {
  const bed = /\bbed\b/i.test(reason);
  const part = bed ? 0x03000100 : 0x03000200;
  const detail = /MINTEMP/i.test(reason) ? 0x0007 : /MAXTEMP/i.test(reason) ? 0x0006 : /runaway|heating failed|heater/i.test(reason) ? 0x0002 : 0;
  if (detail === 0) return { attr: 0x05000300, code: 0x00010001 }; // "the MC module is malfunctioning"
  return { attr: part, code: 0x00010000 | detail };
}

export async function startBambuSim(opts: BambuSimOptions = {}): Promise<BambuSimHandle> {
  const clock: Clock = opts.clock ?? systemClock;
  const serial = opts.credentials?.serial ?? "00M09A350100123";
  const accessCode = opts.credentials?.accessCode ?? "12345678";
  const prefix = serial.slice(0, 3).toUpperCase();
  const model = BAMBU_MODELS[prefix] ?? "X1 Carbon";
  const x1 = /^X1/.test(model);
  const deltas = opts.deltas ?? /^(P1|A1)/.test(model);
  const ownMachine = opts.machine === undefined;
  const machine = opts.machine ?? new SimMachine({ clock, name: `Bambu Lab ${model} (simulated)`, hasDoor: x1, ...opts.machineOptions });
  const log = opts.logger ?? (() => {});
  const prepareMs = opts.prepareMs ?? 400;
  const cancelCodeMs = opts.cancelCodeMs ?? 3000;
  const reportTopic = `device/${serial}/report`;
  const requestTopic = `device/${serial}/request`;

  let silent = false;
  let refusing = false;
  let developerMode = opts.developerMode ?? true;
  let seq = 0;
  let preparing: { name: string; timer: Timer } | null = null;
  let stoppedInPrepare = false;
  let cancelCodeUntil = 0;
  let subtask = "";
  let gcodeFile = "";
  let lastSent = new Map<string, string>();
  const rawProjects = new Map<string, Buffer>();
  const commands: BambuSimHandle["commands"] = [];
  const logins = { mqtt: 0, ftp: 0 };

  const certificate = await makePrinterCertificate(serial, clock.now());

  // ---- the report ----------------------------------------------------------------------------

  const full = (): Record<string, unknown> => {
    const s = machine.status();
    const now = clock.now();
    const halted = s.machine === "halted" && s.error !== null;
    const failed = s.job === "error" || halted;
    let state: string;
    if (preparing !== null) state = "PREPARE";
    else if (stoppedInPrepare) state = "FAILED";
    else state = { idle: "IDLE", printing: "RUNNING", paused: "PAUSE", finished: "FINISH", cancelled: "FAILED", error: "FAILED" }[s.job];
    // The engine's own halt reason ("MINTEMP triggered 0") names the heater; the job's may be the later "kill() called".
    const reason = machine.firmware.snapshot().killReason ?? s.error;
    const hms = failed && reason !== null ? [hmsFor(reason)] : [];
    const printError = now < cancelCodeUntil ? CANCELLED_BY_USER : hms[0] !== undefined ? ((hms[0].attr >>> 16) << 16) | (hms[0].code & 0xffff) : 0;
    const running = state === "RUNNING" || state === "PAUSE";
    const report: Record<string, unknown> = {
      gcode_state: state,
      gcode_file: gcodeFile,
      subtask_name: subtask,
      gcode_file_prepare_percent: preparing !== null ? "50" : running || state === "FINISH" ? "100" : "0",
      mc_percent: state === "FINISH" ? 100 : Math.floor(s.progressPct),
      mc_remaining_time: running ? (s.timeLeftS === null ? 0 : Math.ceil(s.timeLeftS / 60)) : 0,
      layer_num: running || state === "FINISH" ? s.layer : 0,
      total_layer_num: s.layers,
      nozzle_temper: s.hotend.actual,
      nozzle_target_temper: s.hotend.target,
      bed_temper: s.bed.actual,
      bed_target_temper: s.bed.target,
      print_error: printError,
      hms,
      home_flag: HOMED_AND_SD | (x1 && s.doorOpen ? DOOR_OPEN_BIT : 0),
      mc_print_stage: running ? "2" : "1",
      stg_cur: state === "PREPARE" ? 2 : running ? 0 : -1,
      print_type: subtask === "" ? "idle" : "local",
      sdcard: true,
      spd_lvl: 2,
      wifi_signal: "-42dBm",
      lights_report: [{ node: "chamber_light", mode: "on" }],
    };
    if (x1) report.chamber_temper = Math.round((24 + Math.max(0, s.bed.actual - 24) * 0.15) * 10) / 10;
    return report;
  };

  const publish = (payload: unknown): void => {
    const packet = { cmd: "publish", topic: reportTopic, payload: Buffer.from(JSON.stringify(payload)), qos: 0, retain: false, dup: false } as AedesPublishPacket;
    broker.publish(packet, () => {});
  };

  /** A `push_status`: the full object, or on a delta printer only what changed since the last one. */
  const push = (whole: boolean): void => {
    if (silent) return;
    const f = full();
    const out: Record<string, unknown> = { command: "push_status", msg: whole || !deltas ? 0 : 1, sequence_id: String(seq++) };
    const sent = new Map<string, string>();
    for (const [k, v] of Object.entries(f)) {
      const json = JSON.stringify(v);
      sent.set(k, json);
      if (whole || !deltas || lastSent.get(k) !== json) out[k] = v;
    }
    lastSent = sent;
    publish({ print: out });
  };

  let pushQueued = false;
  const pushSoon = (): void => {
    if (pushQueued) return;
    pushQueued = true;
    queueMicrotask(() => {
      pushQueued = false;
      push(false);
    });
  };

  // ---- commands ------------------------------------------------------------------------------

  const reply = (type: string, req: Record<string, unknown>, result: "success" | "fail", extra: Record<string, unknown> = {}): void => {
    if (silent) return;
    publish({ [type]: { ...req, ...extra, result } });
  };

  /** A file on the printer's card by any of the names a client uses: `/sdcard/x`, `file:///sdcard/x`, `ftp:///x`, `x`. */
  const fileName = (ref: string): string => ref.replace(/^(file|ftp):\/\//, "").replace(/^\/(mnt\/)?sdcard\//, "/").replace(/^\/+/, "");

  const startFile = (name: string, plate: number, label: string): void => {
    const raw = rawProjects.get(name);
    if (raw !== undefined) machine.store(name, plateGcode(raw, plate));
    if (!machine.files.has(name)) throw new Error(`file not found on the printer: ${name}`);
    const s = machine.status();
    if (s.machine === "halted") throw new Error(`the printer has a fault: ${s.error ?? "see its screen"}`);
    if (preparing !== null || s.job === "printing" || s.job === "paused") throw new Error("the printer is busy");
    if (s.doorOpen) throw new Error("the door is open");
    stoppedInPrepare = false;
    cancelCodeUntil = 0;
    subtask = label;
    gcodeFile = name;
    preparing = {
      name,
      timer: clock.setTimeout(() => {
        preparing = null;
        try {
          machine.startJob(name);
        } catch (error) {
          stoppedInPrepare = true;
          log(`start of ${name} failed: ${error instanceof Error ? error.message : String(error)}`);
        }
        pushSoon();
      }, prepareMs),
    };
    pushSoon();
  };

  const control = (req: Record<string, unknown>): void => {
    const command = str(req.command);
    switch (command) {
      case "project_file": {
        const name = fileName(str(req.url) || str(req.file));
        const plate = Number(/plate_(\d+)\.gcode/.exec(str(req.param))?.[1] ?? 1);
        startFile(name, plate, str(req.subtask_name) || name.replace(/\.gcode\.3mf$|\.3mf$/, ""));
        return;
      }
      case "gcode_file": {
        const name = fileName(str(req.param));
        startFile(name, 1, name.replace(/\.gcode$/, ""));
        return;
      }
      case "pause":
        machine.pause();
        return;
      case "resume":
        machine.resume();
        return;
      case "stop":
        if (preparing !== null) {
          preparing.timer.cancel();
          preparing = null;
          stoppedInPrepare = true;
        } else {
          machine.cancel();
        }
        cancelCodeUntil = clock.now() + cancelCodeMs;
        clock.setTimeout(pushSoon, cancelCodeMs + 10);
        return;
      case "gcode_line":
        for (const line of str(req.param).split(/\r?\n/)) {
          const g = line.replace(/;.*$/, "").trim().toUpperCase();
          if (g === "") continue;
          const s = /^M(104|140)\b.*?\bS(\d+(?:\.\d+)?)/.exec(g);
          if (s !== null) machine.setTargets(s[1] === "104" ? Number(s[2]) : null, s[1] === "140" ? Number(s[2]) : null);
          else if (!/^M10[67]\b/.test(g)) throw new Error(`the simulator runs only M104, M140, M106 and M107 from gcode_line, not ${g}`);
        }
        return;
      default:
        throw new Error(`unknown command ${command}`);
    }
  };

  const onRequest = (payload: Buffer): void => {
    if (silent) return;
    let msg: unknown;
    try {
      msg = JSON.parse(payload.toString("utf8"));
    } catch {
      return; // the printers ignore what they cannot parse
    }
    if (typeof msg !== "object" || msg === null) return;
    for (const [type, body] of Object.entries(msg as Record<string, unknown>)) {
      if (typeof body !== "object" || body === null) continue;
      const req = body as Record<string, unknown>;
      const command = str(req.command);
      commands.push({ ...req, type, command });
      if (type === "pushing" && (command === "pushall" || command === "start")) {
        push(true);
      } else if (type === "info" && command === "get_version") {
        reply("info", req, "success", {
          module: [
            { name: "ota", sw_ver: "01.08.02.00", hw_ver: "OTA", sn: serial, product_name: `Bambu Lab ${model}` },
            { name: "mc", sw_ver: "00.00.30.00", hw_ver: "MC07", sn: serial },
            { name: "th", sw_ver: "00.00.07.00", hw_ver: "TH07", sn: serial },
          ],
        });
      } else if (type === "print") {
        if (!developerMode) {
          reply("print", req, "fail", { reason: "mqtt message verify failed", err_code: DEV_MODE_REFUSED });
          continue;
        }
        try {
          control(req);
          reply("print", req, "success");
        } catch (error) {
          reply("print", req, "fail", { reason: error instanceof Error ? error.message : String(error) });
        }
        pushSoon();
      } else {
        reply(type, req, "fail", { reason: "not supported by the simulator" });
      }
    }
  };

  // ---- the broker ----------------------------------------------------------------------------

  const broker = await Aedes.createBroker({
    heartbeatInterval: 3_600_000,
    authenticate: (_client, username, password, done) => {
      logins.mqtt++;
      if (!refusing && username === "bblp" && password !== undefined && password.toString("utf8") === accessCode) {
        done(null, true);
        return;
      }
      done(Object.assign(new Error("not authorized"), { returnCode: 5 }), false);
    },
    authorizeSubscribe: (_client, sub, done) => {
      // The printer has one report topic: its own serial's.
      done(null, sub.topic === reportTopic ? sub : null);
    },
    authorizePublish: (client, packet, done) => {
      if (client === null || packet.topic === requestTopic) done(null);
      else done(new Error(`publishing to ${packet.topic} is not allowed`));
    },
  });
  broker.on("publish", (packet: AedesPublishPacket, client: Client | null) => {
    if (client !== null && packet.topic === requestTopic) onRequest(Buffer.from(packet.payload));
  });

  const mqttSockets = new Set<Socket>();
  const server = tls.createServer({ cert: certificate.cert, key: certificate.key }, (socket) => {
    mqttSockets.add(socket);
    socket.on("close", () => mqttSockets.delete(socket));
    socket.on("error", () => socket.destroy());
    broker.handle(socket);
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  const ftps = await startFtpsServer({
    cert: certificate.cert,
    key: certificate.key,
    ...(opts.ftpsPort !== undefined ? { port: opts.ftpsPort } : {}),
    log,
    login: (user, password) => {
      logins.ftp++;
      return !refusing && !silent && user === "bblp" && password === accessCode;
    },
    received: (file, data) => {
      const name = file.replace(/^\/+/, "");
      if (/\.3mf$/i.test(name)) {
        machine.store(name, plateGcode(data, 1)); // throws (451) for a project that is not sliced
        rawProjects.set(name, data);
      } else {
        rawProjects.delete(name);
        machine.store(name, data.toString("utf8"));
      }
    },
  });

  if (ownMachine) machine.start();
  machine.onChange(pushSoon);
  const ticker = clock.setInterval(() => push(false), opts.reportIntervalMs ?? 1000);

  let stopped = false;
  return {
    machine,
    protocol: "bambu-lan",
    url: `mqtts://127.0.0.1:${port}?ftps=${ftps.port}`,
    auth: { serial, accessCode, fingerprint: certificate.fingerprint },
    ftpsPort: ftps.port,
    serial,
    model,
    files: ftps.files,
    commands,
    logins,
    dropConnections() {
      for (const s of mqttSockets) s.destroy();
      ftps.dropAll();
    },
    setSilent(on: boolean) {
      silent = on;
      if (!on) push(true);
    },
    refuseCredentials(refuse: boolean) {
      refusing = refuse;
    },
    setDeveloperMode(on: boolean) {
      developerMode = on;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      ticker.cancel();
      preparing?.timer.cancel();
      for (const s of mqttSockets) s.destroy();
      await ftps.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      if (ownMachine) machine.stop();
    },
  };
}
