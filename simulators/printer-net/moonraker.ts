/**
 * A Klipper printer behind Moonraker, over real sockets: JSON-RPC 2.0 on the WebSocket at
 * `/websocket` and the few HTTP endpoints a host uses (file upload with `print=true`, the emergency
 * stop, `server.info`), both on one port as Moonraker serves them (node:http + ws `noServer`).
 *
 * What it reproduces (../shared/reference/network-printers.md §4): `server.connection.identify`,
 * `server.info`, `printer.info`, `printer.objects.list|query|subscribe` (the full state in the
 * reply, then only changed fields in `notify_status_update`), `printer.print.start|pause|resume|
 * cancel`, `printer.gcode.script` (a few commands), `printer.emergency_stop` -> klippy `shutdown`
 * (`notify_klippy_shutdown`, no more updates, prints refused) until `printer.firmware_restart`
 * (`notify_klippy_disconnected`, subscriptions cleared, `startup`, then `ready` and
 * `notify_klippy_ready`). A heater fault in the machine is a Klipper shutdown too (verify_heater's
 * words). The API key: `X-Api-Key` on the upgrade request or on an HTTP request, or `api_key` in
 * `server.connection.identify`; a socket whose key is wrong still opens and every call answers
 * -32602 "Unauthorized", as Moonraker does. The door is a `gcode_button door` (RELEASED = open:
 * the closed door presses the switch), present when the machine has a door.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { systemClock, type Timer } from "../../hub/src/core/clock.ts";
import { type MachineStatus, type NetPrinterSimHandle, type NetPrinterSimOptions, SimMachine } from "./machine.ts";

type KlippyState = "ready" | "startup" | "shutdown" | "error" | "disconnected";
type Fields = Record<string, unknown>;
type Objects = Record<string, Fields>;

interface RpcError {
  code: number;
  message: string;
}

interface Client {
  ws: WebSocket;
  authed: boolean;
  id: number;
  /** Subscribed objects and their fields (null = all). */
  subscription: Record<string, string[] | null> | null;
  /** What this client was last sent of its subscription (diffs go from here). */
  sent: Objects;
}

const MOONRAKER_VERSION = "v0.9.3-sim";
const KLIPPER_VERSION = "v0.13.0-sim";
const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;
const DOOR_OBJECT = "gcode_button door";
const RESTART_HINT =
  'Once the underlying issue is corrected, use the "FIRMWARE_RESTART" command to reset the firmware, reload the config, and restart the host software.\nPrinter is shutdown';

class Rpc extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startMoonrakerSim(opts: NetPrinterSimOptions = {}): Promise<NetPrinterSimHandle> {
  const clock = opts.clock ?? systemClock;
  const log = opts.logger ?? (() => {});
  const ownMachine = opts.machine === undefined;
  const machine = opts.machine ?? new SimMachine({ name: "TEC Sim Klipper", clock, ...opts.machineOptions });
  if (ownMachine) machine.start();
  // Moonraker's keys are 32 hex digits, made on the printer; a test may choose its own.
  const apiKey = opts.credentials?.apiKey ?? randomBytes(16).toString("hex");
  const intervalMs = opts.reportIntervalMs ?? 250;
  const restartMs = 300;

  let silent = false;
  let refusing = false;
  let stopped = false;
  let restarting = false;
  let restartTimer: Timer | null = null;
  /** Why klippy shut down when the host asked it to (emergency stop, M112); the machine's own words otherwise. */
  let shutdownReason: string | null = null;
  let lastKlippy: KlippyState = "ready";
  let nextClientId = 1;
  const clients = new Set<Client>();

  const klippy = (): KlippyState => (restarting ? "startup" : machine.halted() ? "shutdown" : "ready");

  /** The shutdown message as Klipper words it. */
  const shutdownMessage = (s: MachineStatus): string => {
    if (shutdownReason !== null) return shutdownReason;
    // The engine's own kill reason first: the machine's error can be the later "kill() called" line.
    const e = machine.firmware.snapshot().killReason ?? s.error ?? "";
    if (/heating failed|runaway/i.test(e)) {
      return "Heater extruder not heating at expected rate\nSee the 'verify_heater' section in docs/Config_Reference.md\nfor the parameters that control this check.";
    }
    if (/mintemp|maxtemp/i.test(e)) return `MCU 'mcu' shutdown: ADC out of range (${e})`;
    return `MCU 'mcu' shutdown: ${e || "Shutdown"}`;
  };

  const stateMessage = (): string => {
    switch (klippy()) {
      case "ready":
        return "Printer is ready";
      case "startup":
        return "Printer is not ready\nThe klippy host software is attempting to connect.  Please\nretry in a few moments.";
      default:
        return `${shutdownMessage(machine.status())}\n${RESTART_HINT}`;
    }
  };

  const objectNames = (): string[] => [
    "webhooks",
    "configfile",
    "print_stats",
    "virtual_sdcard",
    "display_status",
    "pause_resume",
    "toolhead",
    "extruder",
    "heater_bed",
    "fan",
    ...(machine.hasDoor ? [DOOR_OBJECT] : []),
  ];

  const PRINT_STATE: Record<MachineStatus["job"], string> = {
    idle: "standby",
    printing: "printing",
    paused: "paused",
    finished: "complete",
    cancelled: "cancelled",
    error: "error",
  };

  /** Every object's fields now. */
  const snapshot = (): Objects => {
    const s = machine.status();
    const k = klippy();
    const active = s.job === "printing" || s.job === "paused";
    const progress = Math.round(s.progressPct * 10) / 1000;
    return {
      webhooks: { state: k, state_message: stateMessage() },
      configfile: { config: {}, settings: {}, warnings: [] },
      print_stats: {
        filename: s.file ?? "",
        total_duration: s.elapsedS,
        print_duration: s.elapsedS,
        filament_used: 0,
        state: PRINT_STATE[s.job],
        message: s.job === "error" ? (s.error ?? "") : "",
        info: { total_layer: s.layers > 0 ? s.layers : null, current_layer: s.layers > 0 ? s.layer : null },
      },
      virtual_sdcard: { file_path: s.file === null ? null : `/home/pi/printer_data/gcodes/${s.file}`, progress, is_active: s.job === "printing", file_position: 0, file_size: 0 },
      display_status: { progress, message: null },
      pause_resume: { is_paused: s.job === "paused" },
      toolhead: { homed_axes: active ? "xyz" : "", print_time: 0, estimated_print_time: 0 },
      extruder: { temperature: s.hotend.actual, target: s.hotend.target, power: 0, can_extrude: s.hotend.actual >= 170 },
      heater_bed: { temperature: s.bed.actual, target: s.bed.target, power: 0 },
      fan: { speed: 0, rpm: null },
      ...(machine.hasDoor ? { [DOOR_OBJECT]: { state: s.doorOpen ? "RELEASED" : "PRESSED" } } : {}),
    };
  };

  const select = (all: Objects, wanted: Record<string, string[] | null>): Objects => {
    const out: Objects = {};
    for (const [name, fields] of Object.entries(wanted)) {
      const obj = all[name];
      if (obj === undefined) continue;
      out[name] = fields === null ? { ...obj } : Object.fromEntries(fields.filter((f) => f in obj).map((f) => [f, obj[f]]));
    }
    return out;
  };

  const eventtime = (): number => Math.round(process.uptime() * 1000) / 1000;

  const send = (c: Client, msg: object): void => {
    if (c.ws.readyState === WebSocket.OPEN) c.ws.send(JSON.stringify(msg));
  };

  const notifyAll = (method: string, params?: unknown[]): void => {
    for (const c of clients) if (c.authed) send(c, { jsonrpc: "2.0", method, ...(params !== undefined ? { params } : {}) });
  };

  /** Pushes what changed to every subscriber; klippy state changes as notifications first. */
  const tick = (): void => {
    if (stopped || silent) return;
    const k = klippy();
    if (k !== lastKlippy) {
      if (k === "shutdown") notifyAll("notify_klippy_shutdown");
      else if (k === "ready" && lastKlippy === "startup") notifyAll("notify_klippy_ready");
      lastKlippy = k;
    }
    // A shut-down MCU reports nothing: Klipper's status updates stop until it restarts.
    if (k !== "ready") return;
    const all = snapshot();
    for (const c of clients) {
      if (!c.authed || c.subscription === null) continue;
      const now = select(all, c.subscription);
      const diff: Objects = {};
      for (const [name, fields] of Object.entries(now)) {
        const before = c.sent[name] ?? {};
        for (const [f, v] of Object.entries(fields)) {
          if (JSON.stringify(before[f]) !== JSON.stringify(v)) (diff[name] ??= {})[f] = v;
        }
      }
      if (Object.keys(diff).length === 0) continue;
      for (const [name, fields] of Object.entries(diff)) c.sent[name] = { ...c.sent[name], ...fields };
      send(c, { jsonrpc: "2.0", method: "notify_status_update", params: [diff, eventtime()] });
    }
  };

  let tickQueued = false;
  machine.onChange(() => {
    if (tickQueued) return;
    tickQueued = true;
    queueMicrotask(() => {
      tickQueued = false;
      tick();
    });
  });
  const pushTimer = clock.setInterval(tick, intervalMs);

  const emergencyStop = (why: string): void => {
    shutdownReason = why;
    machine.emergencyStop();
    tick();
  };

  const firmwareRestart = (): void => {
    restartTimer?.cancel();
    restarting = true;
    lastKlippy = "startup";
    notifyAll("notify_klippy_disconnected");
    // Moonraker clears every subscription when klippy goes; clients subscribe again on ready.
    for (const c of clients) {
      c.subscription = null;
      c.sent = {};
    }
    shutdownReason = null;
    machine.reset();
    restartTimer = clock.setTimeout(() => {
      restartTimer = null;
      restarting = false;
      tick();
    }, restartMs);
  };

  const requireReady = (): void => {
    const k = klippy();
    if (k === "startup" || k === "disconnected") throw new Rpc(503, "Klippy Disconnected");
    if (k !== "ready") throw new Rpc(400, `Printer is not ready: ${shutdownMessage(machine.status()).split("\n")[0]}`);
  };

  const wantedObjects = (params: unknown): Record<string, string[] | null> => {
    const objects = (params as { objects?: unknown } | undefined)?.objects;
    if (typeof objects !== "object" || objects === null) throw new Rpc(400, "Invalid argument: objects");
    const out: Record<string, string[] | null> = {};
    for (const [name, fields] of Object.entries(objects as Record<string, unknown>)) {
      out[name] = Array.isArray(fields) ? fields.map(String) : null;
    }
    return out;
  };

  const startFile = (name: string): void => {
    requireReady();
    try {
      machine.startJob(name);
    } catch (error) {
      throw new Rpc(400, (error as Error).message);
    }
  };

  const gcodeScript = (script: string): void => {
    for (const raw of script.split("\n")) {
      const line = raw.trim().toUpperCase();
      if (line === "" || line.startsWith(";")) continue;
      if (line === "M112") {
        emergencyStop("Shutdown due to M112 command");
        continue;
      }
      if (line === "FIRMWARE_RESTART") {
        firmwareRestart();
        continue;
      }
      requireReady();
      const m104 = /^M(104|109|140|190)\s+S(\d+(?:\.\d+)?)/.exec(line);
      const set = /^SET_HEATER_TEMPERATURE\s+HEATER=(EXTRUDER|HEATER_BED)(?:\s+TARGET=(\d+(?:\.\d+)?))?/.exec(line);
      if (line === "TURN_OFF_HEATERS") machine.heatersOff();
      else if (m104 !== null) machine.setTargets(m104[1] === "104" || m104[1] === "109" ? Number(m104[2]) : null, m104[1] === "140" || m104[1] === "190" ? Number(m104[2]) : null);
      else if (set !== null) machine.setTargets(set[1] === "EXTRUDER" ? Number(set[2] ?? 0) : null, set[1] === "HEATER_BED" ? Number(set[2] ?? 0) : null);
      else if (line === "PAUSE") machine.pause();
      else if (line === "RESUME") machine.resume();
      else if (line === "CANCEL_PRINT") machine.cancel();
      else throw new Rpc(400, `Unknown command:"${line.split(/\s/)[0]}"`);
    }
  };

  const serverInfo = (): object => ({
    klippy_connected: klippy() !== "disconnected",
    klippy_state: klippy(),
    components: ["klippy_connection", "file_manager", "authorization", "machine", "websockets"],
    failed_components: [],
    registered_directories: ["config", "logs", "gcodes"],
    warnings: [],
    websocket_count: clients.size,
    moonraker_version: MOONRAKER_VERSION,
    api_version: [1, 5, 0],
    api_version_string: "1.5.0",
  });

  /** One JSON-RPC method; throws `Rpc` for an error reply. */
  const call = (c: Client, method: string, params: unknown): unknown => {
    if (method === "server.connection.identify") {
      const p = (params ?? {}) as { api_key?: unknown; client_name?: unknown };
      if (refusing || (p.api_key !== undefined && p.api_key !== apiKey)) {
        // Moonraker 0.11: a failed attempt revokes what the connection had.
        c.authed = false;
        throw new Rpc(-32602, "Unauthorized");
      }
      if (p.api_key === apiKey) c.authed = true;
      if (!c.authed) throw new Rpc(-32602, "Unauthorized");
      log(`moonraker: client ${typeof p.client_name === "string" ? p.client_name : "?"} identified as #${c.id}`);
      return { connection_id: c.id };
    }
    if (refusing || !c.authed) throw new Rpc(-32602, "Unauthorized");
    switch (method) {
      case "server.info":
        return serverInfo();
      case "server.connection.identify":
        return { connection_id: c.id };
      case "printer.info":
        return {
          state: klippy(),
          state_message: stateMessage(),
          hostname: "tec-sim-klipper",
          klipper_path: "/home/pi/klipper",
          python_path: "/home/pi/klippy-env/bin/python",
          log_file: "/home/pi/printer_data/logs/klippy.log",
          config_file: "/home/pi/printer_data/config/printer.cfg",
          software_version: KLIPPER_VERSION,
          cpu_info: "4 core ARMv7 Processor rev 4 (v7l)",
        };
      case "printer.objects.list":
        if (klippy() === "startup") throw new Rpc(503, "Klippy Disconnected");
        return { objects: objectNames() };
      case "printer.objects.query":
        if (klippy() === "startup") throw new Rpc(503, "Klippy Disconnected");
        return { eventtime: eventtime(), status: select(snapshot(), wantedObjects(params)) };
      case "printer.objects.subscribe": {
        if (klippy() === "startup") throw new Rpc(503, "Klippy Disconnected");
        const wanted = wantedObjects(params);
        c.subscription = Object.keys(wanted).length === 0 ? null : wanted;
        const status = select(snapshot(), wanted);
        c.sent = JSON.parse(JSON.stringify(status)) as Objects;
        return { eventtime: eventtime(), status };
      }
      case "printer.print.start": {
        const filename = (params as { filename?: unknown } | undefined)?.filename;
        if (typeof filename !== "string" || filename === "") throw new Rpc(400, "No data for argument: filename");
        startFile(filename);
        return "ok";
      }
      case "printer.print.pause":
      case "printer.print.resume":
      case "printer.print.cancel":
        requireReady();
        try {
          if (method === "printer.print.pause") machine.pause();
          else if (method === "printer.print.resume") machine.resume();
          else machine.cancel();
        } catch (error) {
          throw new Rpc(400, (error as Error).message);
        }
        return "ok";
      case "printer.emergency_stop":
        emergencyStop("Shutdown due to webhooks request");
        return "ok";
      case "printer.firmware_restart":
        firmwareRestart();
        return "ok";
      case "printer.restart":
        // The host restarts; an MCU in shutdown stays there (FIRMWARE_RESTART resets it).
        if (!machine.halted()) firmwareRestart();
        return "ok";
      case "printer.gcode.script": {
        const script = (params as { script?: unknown } | undefined)?.script;
        if (typeof script !== "string") throw new Rpc(400, "No data for argument: script");
        try {
          gcodeScript(script);
        } catch (error) {
          throw error instanceof Rpc ? error : new Rpc(400, (error as Error).message);
        }
        return "ok";
      }
      default:
        throw new Rpc(-32601, `Method not found: ${method}`);
    }
  };

  const onMessage = (c: Client, data: string): void => {
    if (silent) return;
    let msg: { id?: unknown; method?: unknown; params?: unknown };
    try {
      msg = JSON.parse(data) as typeof msg;
    } catch {
      send(c, { jsonrpc: "2.0", error: { code: -32700, message: "Parse error" }, id: null });
      return;
    }
    const id = msg.id ?? null;
    if (typeof msg.method !== "string") {
      send(c, { jsonrpc: "2.0", error: { code: -32600, message: "Invalid Request" }, id });
      return;
    }
    try {
      const result = call(c, msg.method, msg.params);
      if (id !== null) send(c, { jsonrpc: "2.0", result, id });
    } catch (error) {
      const e: RpcError = error instanceof Rpc ? { code: error.code, message: error.message } : { code: 500, message: (error as Error).message };
      if (id !== null) send(c, { jsonrpc: "2.0", error: e, id });
    }
  };

  // ---- HTTP ----------------------------------------------------------------------------------

  const reply = (res: http.ServerResponse, status: number, body: object): void => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const httpError = (res: http.ServerResponse, status: number, message: string): void => reply(res, status, { error: { code: status, message } });

  const readBody = (req: http.IncomingMessage): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_UPLOAD_BYTES) {
          reject(new Rpc(413, "Request Entity Too Large"));
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      req.on("end", () => resolve(Buffer.concat(chunks)));
      req.on("error", reject);
    });

  const upload = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(req.headers["content-type"] ?? "");
    if (boundary === null) return httpError(res, 400, "Request is not multipart/form-data");
    const parts = parseMultipart(await readBody(req), boundary[1] ?? boundary[2] ?? "");
    const file = parts.find((p) => p.name === "file" && p.filename !== null);
    if (file === undefined || file.filename === null) return httpError(res, 400, "No file name specified in upload form");
    const field = (name: string): string | null => parts.find((p) => p.name === name)?.data.toString("utf8") ?? null;
    const root = field("root") ?? "gcodes";
    if (root !== "gcodes") return httpError(res, 400, `Root '${root}' is not available for upload`);
    const dir = (field("path") ?? "").replace(/^\/+|\/+$/g, "");
    const base = file.filename.split(/[\\/]/).pop() ?? "";
    if (!/\.(gcode|g|gco)$/i.test(base)) return httpError(res, 400, `Invalid file extension: ${base}`);
    const name = dir === "" ? base : `${dir}/${base}`;
    machine.store(name, file.data.toString("utf8"));
    log(`moonraker: stored ${name} (${file.data.length} bytes)`);
    let started = false;
    if (field("print") === "true") {
      try {
        startFile(name);
        started = true;
      } catch (error) {
        log(`moonraker: could not start ${name}: ${(error as Error).message}`);
      }
    }
    reply(res, 201, {
      result: {
        item: { path: name, root: "gcodes", modified: clock.now() / 1000, size: file.data.length, permissions: "rw" },
        print_started: started,
        print_queued: false,
        action: "create_file",
      },
    });
  };

  const server = http.createServer((req, res) => {
    if (silent) return; // held: the socket stays open, nothing comes back
    const url = new URL(req.url ?? "/", "http://localhost");
    const key = req.headers["x-api-key"];
    if (refusing || key !== apiKey) return httpError(res, 401, "Unauthorized");
    const route = `${req.method ?? "GET"} ${url.pathname}`;
    const done = (p: Promise<void>): void => {
      p.catch((error: unknown) => (error instanceof Rpc ? httpError(res, error.code, error.message) : httpError(res, 500, (error as Error).message)));
    };
    switch (route) {
      case "POST /server/files/upload":
        return done(upload(req, res));
      case "GET /server/info":
        return reply(res, 200, { result: serverInfo() });
      case "POST /printer/emergency_stop":
        emergencyStop("Shutdown due to webhooks request");
        return reply(res, 200, { result: "ok" });
      case "POST /printer/firmware_restart":
        firmwareRestart();
        return reply(res, 200, { result: "ok" });
      default:
        return httpError(res, 404, "Not Found");
    }
  });

  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== "/websocket") {
      socket.end("HTTP/1.1 404 Not Found\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      // The socket opens whatever the key; calls are refused until it is right (as Moonraker).
      const c: Client = { ws, authed: !refusing && req.headers["x-api-key"] === apiKey, id: nextClientId++, subscription: null, sent: {} };
      clients.add(c);
      ws.on("message", (data, isBinary) => {
        if (!isBinary) onMessage(c, Buffer.isBuffer(data) ? data.toString("utf8") : Buffer.concat(data as Buffer[]).toString("utf8"));
      });
      ws.on("close", () => clients.delete(c));
      ws.on("error", () => clients.delete(c));
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log(`moonraker: listening on ws://127.0.0.1:${port}/websocket`);

  return {
    machine,
    protocol: "moonraker",
    url: `ws://127.0.0.1:${port}/websocket`,
    auth: { apiKey },
    dropConnections() {
      for (const c of clients) c.ws.terminate();
      clients.clear();
      server.closeAllConnections();
    },
    setSilent(on: boolean) {
      silent = on;
    },
    refuseCredentials(on: boolean) {
      refusing = on;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      pushTimer.cancel();
      restartTimer?.cancel();
      for (const c of clients) c.ws.terminate();
      clients.clear();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownMachine) machine.stop();
    },
  };
}

interface Part {
  name: string | null;
  filename: string | null;
  data: Buffer;
}

/** A multipart/form-data body into its parts (small and strict: what an upload form sends). */
export function parseMultipart(body: Buffer, boundary: string): Part[] {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Part[] = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    let start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === "--") break;
    if (body.subarray(start, start + 2).toString() === "\r\n") start += 2;
    const next = body.indexOf(delimiter, start);
    if (next < 0) break;
    const chunk = body.subarray(start, next - 2); // the CRLF before the next delimiter
    const headerEnd = chunk.indexOf("\r\n\r\n");
    if (headerEnd >= 0) {
      const headers = chunk.subarray(0, headerEnd).toString("utf8");
      const disposition = /content-disposition:[^\r\n]*/i.exec(headers)?.[0] ?? "";
      parts.push({
        name: /\bname="([^"]*)"/i.exec(disposition)?.[1] ?? null,
        filename: /\bfilename="([^"]*)"/i.exec(disposition)?.[1] ?? null,
        data: chunk.subarray(headerEnd + 4),
      });
    }
    at = next;
  }
  return parts;
}
