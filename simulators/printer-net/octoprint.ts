/**
 * An OctoPrint server in front of the simulated machine, speaking OctoPrint's REST API and its push
 * socket over real sockets (one port: node:http for REST, `ws` for `/sockjs/websocket`), as
 * OctoPrint 1.11 does with its serial connector:
 *
 * - `X-Api-Key` (or `Authorization: Bearer`) on every request; a missing or wrong key is 403.
 * - `GET /api/version`, `GET|POST /api/connection`, `GET /api/printer` (409 while no printer is
 *   connected), `GET|POST /api/job` (409 when the command does not fit the state),
 *   `POST /api/files/local` (multipart `file`, `select`, `print`), `POST /api/printer/command`,
 *   `GET /api/printer/error`, `POST /api/login` (`passive`: a session for the socket).
 * - The socket sends `connected`, then nothing until `{"auth": "name:session"}`; a good session
 *   gets `history` and then `current` at most twice a second plus `event`s; a bad session gets
 *   silence (OctoPrint/OctoPrint#4653).
 * - M112 through `/api/printer/command` is OctoPrint's emergency path: sent ahead of everything,
 *   then `M104 T0 S0` and `M140 S0`, then the serial port is closed (`Offline after error`);
 *   `POST /api/connection {"command":"connect"}` opens it again, which resets the firmware.
 * - A firmware halt (heater fault, MINTEMP …) is state `Error` with the firmware's message.
 *
 * Faults: dropConnections (every socket, and the sessions), setSilent, refuseCredentials; the
 * heater fault through `machine.inject`. OctoPrint has no door signal: the machine has no door.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { Socket } from "node:net";
import path from "node:path";
import { WebSocket, WebSocketServer } from "ws";
import type { Timer } from "../../hub/src/core/clock.ts";
import { systemClock } from "../../hub/src/core/clock.ts";
import { type MachineStatus, type NetPrinterSimHandle, type NetPrinterSimOptions, SimMachine } from "./machine.ts";

const VERSION = { api: "0.1", server: "1.11.8", text: "OctoPrint 1.11.8" };
const DEFAULT_API_KEY = "octo-sim-api-key-0123456789ABCDEF";
const USER = "tec";
const GCODE_EXTENSIONS = [".gcode", ".gco", ".g"];
const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;

interface Flags {
  operational: boolean;
  printing: boolean;
  cancelling: boolean;
  pausing: boolean;
  resuming: boolean;
  finishing: boolean;
  closedOrError: boolean;
  error: boolean;
  paused: boolean;
  ready: boolean;
  sdReady: boolean;
}

/** The common handle plus OctoPrint's own session fault. */
export interface OctoPrintSimHandle extends NetPrinterSimHandle {
  /**
   * Fault: every login session ends. `reauth`: authenticated sockets get `{"reauthRequired":
   * {"reason": "stale"}}` (what OctoPrint sends); `silent`: they simply get nothing more (as a
   * socket with a bad session does). REST with the API key goes on working.
   */
  expireSessions(how: "reauth" | "silent"): void;
}

export async function startOctoPrintSim(opts: NetPrinterSimOptions = {}): Promise<OctoPrintSimHandle> {
  const clock = opts.clock ?? systemClock;
  const ownMachine = opts.machine === undefined;
  const profileName = opts.machineOptions?.name ?? "TEC Sim OctoPrint Printer";
  const machine = opts.machine ?? new SimMachine({ clock, hasDoor: false, name: profileName, ...opts.machineOptions });
  if (ownMachine) machine.start();
  const apiKey = opts.credentials?.apiKey ?? DEFAULT_API_KEY;
  const log = opts.logger ?? (() => {});
  const intervalMs = Math.max(100, opts.reportIntervalMs ?? 500);

  /** The serial link between OctoPrint and the printer: closed after M112 until `connect`. */
  let portOpen = true;
  let portError: string | null = null;
  let silent = false;
  let refuse = false;
  let stopped = false;
  const sessions = new Map<string, string>(); // session -> user
  const sockets = new Set<Socket>();
  const clients = new Set<WebSocket>();
  const authed = new Set<WebSocket>();
  const held: Array<() => void> = [];
  const terminal: string[] = [];
  let lastJob = machine.status().job;

  const say = (line: string): void => {
    terminal.push(line);
    if (terminal.length > 50) terminal.shift();
    log(line);
  };

  // ---- the OctoPrint view of the machine --------------------------------------------------------

  function stateOf(s: MachineStatus): { text: string; flags: Flags; error: string | null } {
    const f: Flags = { operational: false, printing: false, cancelling: false, pausing: false, resuming: false, finishing: false, closedOrError: false, error: false, paused: false, ready: false, sdReady: false };
    if (!portOpen) {
      f.closedOrError = true;
      f.error = portError !== null;
      return { text: portError !== null ? "Offline after error" : "Offline", flags: f, error: portError };
    }
    if (s.machine === "halted") {
      f.closedOrError = true;
      f.error = true;
      // OctoPrint keeps the firmware's first fatal line (the cause, not the "kill() called" after it).
      const cause = machine.firmware.snapshot().killReason;
      return { text: "Error", flags: f, error: cause !== null ? `${cause} - Printer halted. kill() called!` : (s.error ?? "Unknown error") };
    }
    f.operational = true;
    if (s.job === "printing") {
      f.printing = true;
      return { text: "Printing", flags: f, error: null };
    }
    if (s.job === "paused") {
      f.paused = true;
      return { text: "Paused", flags: f, error: null };
    }
    f.ready = true;
    return { text: "Operational", flags: f, error: null };
  }

  function jobOf(s: MachineStatus) {
    const st = stateOf(s);
    const file = s.file;
    return {
      job: {
        file: { name: file, display: file, path: file, origin: file === null ? null : "local", size: file === null ? null : (machine.files.get(file)?.length ?? null), date: null },
        estimatedPrintTime: null,
        lastPrintTime: null,
        filament: null,
        user: file === null ? null : USER,
      },
      progress: {
        completion: file === null ? null : s.progressPct,
        filepos: null,
        printTime: file === null ? null : s.elapsedS,
        printTimeLeft: s.job === "printing" || s.job === "paused" ? s.timeLeftS : file === null ? null : 0,
        printTimeLeftOrigin: s.timeLeftS === null ? null : "linear",
      },
      state: st.text,
      ...(st.error !== null ? { error: st.error } : {}),
    };
  }

  function temps(s: MachineStatus) {
    return {
      tool0: { actual: s.hotend.actual, target: s.hotend.target, offset: 0 },
      bed: { actual: s.bed.actual, target: s.bed.target, offset: 0 },
    };
  }

  function current(s: MachineStatus) {
    const j = jobOf(s);
    return {
      state: stateOf(s),
      job: j.job,
      progress: j.progress,
      currentZ: null,
      offsets: {},
      temps: portOpen ? [{ time: Math.round(clock.now() / 1000), ...temps(s) }] : [],
      logs: [],
      messages: [],
      busyFiles: [],
      resends: { count: 0, transmitted: 0, ratio: 0 },
      serverTime: clock.now() / 1000,
    };
  }

  // ---- push --------------------------------------------------------------------------------------

  const send = (ws: WebSocket, msg: unknown): void => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  };

  const pushTimer: Timer = clock.setInterval(() => {
    if (silent || authed.size === 0) return;
    const msg = { current: current(machine.status()) };
    for (const ws of authed) send(ws, msg);
  }, intervalMs);

  const EVENTS: Record<string, string> = { printing: "PrintStarted", paused: "PrintPaused", finished: "PrintDone", cancelled: "PrintCancelled", error: "PrintFailed" };
  machine.onChange(() => {
    const s = machine.status();
    if (s.job === lastJob) return;
    const type = s.job === "printing" && lastJob === "paused" ? "PrintResumed" : EVENTS[s.job];
    lastJob = s.job;
    if (type === undefined || silent) return;
    const payload = { name: s.file, path: s.file, origin: "local", ...(s.job === "error" ? { reason: "error", error: s.error } : {}) };
    for (const ws of authed) send(ws, { event: { type, payload } });
  });

  const wss = new WebSocketServer({ noServer: true });
  wss.on("connection", (ws) => {
    clients.add(ws);
    ws.on("close", () => {
      clients.delete(ws);
      authed.delete(ws);
    });
    ws.on("error", () => ws.terminate());
    send(ws, { connected: { version: VERSION.server, display_version: VERSION.server, branch: null, plugin_hash: "sim", config_hash: "sim", debug: false, safe_mode: null, online: false, permissions: [] } });
    ws.on("message", (data) => {
      if (silent) return;
      let msg: unknown;
      try {
        msg = JSON.parse(Array.isArray(data) ? Buffer.concat(data).toString("utf8") : Buffer.isBuffer(data) ? data.toString("utf8") : Buffer.from(new Uint8Array(data)).toString("utf8"));
      } catch {
        return; // OctoPrint ignores what it cannot parse
      }
      if (typeof msg !== "object" || msg === null) return;
      const auth = (msg as { auth?: unknown }).auth;
      if (typeof auth === "string") {
        const [name, session] = auth.split(":");
        // A bad or expired session gets no answer at all (OctoPrint/OctoPrint#4653).
        if (refuse || session === undefined || sessions.get(session) !== name) return;
        authed.add(ws);
        const s = machine.status();
        send(ws, { history: { ...current(s), temps: portOpen ? [{ time: Math.round(clock.now() / 1000), ...temps(s) }] : [] } });
      }
    });
  });

  // ---- REST --------------------------------------------------------------------------------------

  const server = http.createServer((req, res) => {
    const handle = () => void route(req, res).catch((error: unknown) => reply(res, 500, { error: error instanceof Error ? error.message : String(error) }));
    if (silent) held.push(handle);
    else handle();
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.on("upgrade", (req, socket, head) => {
    if (silent || (req.url ?? "").split("?")[0] !== "/sockjs/websocket") {
      if (!silent) socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });

  function reply(res: http.ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
    if (res.headersSent) return;
    const text = body === undefined ? "" : JSON.stringify(body);
    res.writeHead(status, { ...(body === undefined ? {} : { "Content-Type": "application/json" }), "Content-Length": Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  function keyOf(req: http.IncomingMessage): string | null {
    const x = req.headers["x-api-key"];
    if (typeof x === "string") return x;
    const a = req.headers.authorization;
    if (typeof a === "string" && a.startsWith("Bearer ")) return a.slice(7);
    return null;
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://sim");
    const method = req.method ?? "GET";
    const body = await readBody(req);
    if (refuse || keyOf(req) !== apiKey) {
      // OctoPrint 1.x answers a missing or wrong key with 403.
      return reply(res, 403, { error: "You don't have the permission to access the requested resource. It is either read-protected or not readable by the server." });
    }
    const p = url.pathname;
    const s = machine.status();
    const json = (): Record<string, unknown> => {
      try {
        const v: unknown = JSON.parse(body.toString("utf8"));
        return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {};
      } catch {
        return {};
      }
    };

    if (p === "/api/version" && method === "GET") return reply(res, 200, VERSION);
    if (p === "/api/login" && method === "POST") {
      if (json().passive !== true) return reply(res, 400, { error: "only passive logins are simulated" });
      const session = randomBytes(16).toString("hex");
      sessions.set(session, USER);
      return reply(res, 200, { name: USER, session, active: true, admin: true, groups: ["admins", "users"], permissions: [], _is_external_client: false, _login_mechanism: "apikey" });
    }
    if (p === "/api/connection" && method === "GET") {
      return reply(res, 200, {
        current: { state: stateOf(s).text, port: portOpen ? "/dev/ttyACM0" : null, baudrate: portOpen ? 115200 : null, printerProfile: "_default" },
        options: { ports: ["/dev/ttyACM0"], baudrates: [115200, 250000], printerProfiles: [{ id: "_default", name: profileName }], portPreference: "/dev/ttyACM0", baudratePreference: 115200, printerProfilePreference: "_default", autoconnect: true },
      });
    }
    if (p === "/api/connection" && method === "POST") {
      const cmd = json().command;
      if (cmd === "connect") {
        if (!portOpen || s.machine === "halted") {
          // Opening the port toggles DTR: the board resets, a halt is cleared.
          machine.reset();
          portOpen = true;
          portError = null;
          say("Connected to /dev/ttyACM0 (printer reset)");
        }
        return reply(res, 204);
      }
      if (cmd === "disconnect") {
        portOpen = false;
        portError = null;
        return reply(res, 204);
      }
      return reply(res, 400, { error: `unknown command: ${String(cmd)}` });
    }
    if (p === "/api/printer" && method === "GET") {
      if (!portOpen) return reply(res, 409, { error: "Printer is not operational" });
      const st = stateOf(s);
      return reply(res, 200, { temperature: temps(s), sd: { ready: false }, state: { text: st.text, flags: st.flags, error: st.error ?? "" } });
    }
    if (p === "/api/printer/error" && method === "GET") {
      const st = stateOf(s);
      return reply(res, 200, { error: st.error ?? "", reason: st.error === null ? "" : "firmware", consequence: st.error === null ? null : "disconnect", faq: null, logs: terminal.slice(-10) });
    }
    if (p === "/api/printer/command" && method === "POST") {
      const j = json();
      const commands = Array.isArray(j.commands) ? j.commands.map(String) : typeof j.command === "string" ? [j.command] : [];
      if (commands.length === 0) return reply(res, 400, { error: "no command" });
      if (!portOpen || s.machine === "halted") return reply(res, 409, { error: "Printer is not operational" });
      for (const c of commands) command(c.trim());
      return reply(res, 204);
    }
    if (p === "/api/job" && method === "GET") return reply(res, 200, jobOf(s));
    if (p === "/api/job" && method === "POST") return jobCommand(json(), s, res);
    if (p === "/api/files/local" && method === "POST") return upload(req, body, s, res);
    return reply(res, 404, { error: "Not found" });
  }

  function command(line: string): void {
    const word = line.split(/\s+/)[0]?.toUpperCase() ?? "";
    say(`Send: ${line}`);
    if (word === "M112") {
      // OctoPrint's emergency path (serial_comm): M112 bare and numbered, heaters off, port closed.
      machine.emergencyStop();
      say("Send: N1 M112*55");
      say("Send: M104 T0 S0");
      say("Send: M140 S0");
      portOpen = false;
      portError = "Emergency stop (M112) sent, closing the serial port";
      say(`Changing monitoring state from "Printing" to "Offline after error"`);
      for (const ws of authed) send(ws, { event: { type: "Error", payload: { error: portError } } });
      return;
    }
    const s = /S(-?\d+(?:\.\d+)?)/i.exec(line);
    const value = s?.[1] !== undefined ? Number(s[1]) : null;
    if ((word === "M104" || word === "M109") && value !== null) machine.setTargets(value, null);
    else if ((word === "M140" || word === "M190") && value !== null) machine.setTargets(null, value);
  }

  function jobCommand(j: Record<string, unknown>, s: MachineStatus, res: http.ServerResponse): void {
    const st = stateOf(s);
    const conflict = (why: string) => reply(res, 409, { error: why });
    switch (j.command) {
      case "start":
        if (!st.flags.operational || !st.flags.ready || s.file === null) return conflict("Printer is not operational or already printing, or no file is selected");
        machine.startJob(s.file);
        return reply(res, 204);
      case "pause": {
        const action = j.action ?? "toggle";
        if (action === "pause" || (action === "toggle" && s.job === "printing")) {
          if (s.job !== "printing") return conflict("Printer is not printing");
          machine.pause();
        } else if (action === "resume" || action === "toggle") {
          if (s.job !== "paused") return conflict("Printer is not paused");
          machine.resume();
        } else return reply(res, 400, { error: `unknown action: ${JSON.stringify(action)}` });
        return reply(res, 204);
      }
      case "cancel":
        if (s.job !== "printing" && s.job !== "paused") return conflict("Printer is neither printing nor paused");
        // afterPrintCancelled (default script): motors off, hotend and bed off, fan off.
        machine.cancel();
        return reply(res, 204);
      default:
        return reply(res, 400, { error: `unknown command: ${String(j.command)}` });
    }
  }

  function upload(req: http.IncomingMessage, body: Buffer, s: MachineStatus, res: http.ServerResponse): void {
    const parts = parseMultipart(req.headers["content-type"] ?? "", body);
    if (parts === null) return reply(res, 400, { error: "No file included" });
    const file = parts.find((x) => x.name === "file" && x.filename !== null);
    if (file?.filename == null) return reply(res, 400, { error: "No file included" });
    const name = path.posix.basename(file.filename.replace(/\\/g, "/"));
    if (!GCODE_EXTENSIONS.includes(path.extname(name).toLowerCase())) return reply(res, 415, { error: "Could not upload the file, its type is not supported" });
    const field = (n: string) => parts.find((x) => x.name === n && x.filename === null)?.data.toString("utf8");
    const print = field("print") === "true";
    const select = print || field("select") === "true";
    const active = s.job === "printing" || s.job === "paused";
    if (active && s.file === name) return reply(res, 409, { error: "Trying to overwrite file that is currently being printed" });
    machine.store(name, file.data.toString("utf8"));
    say(`Upload: ${name} (${file.data.length} bytes)`);
    const st = stateOf(s);
    let effectivePrint = false;
    if (print && st.flags.operational && st.flags.ready) {
      machine.startJob(name);
      effectivePrint = true;
    }
    reply(
      res,
      201,
      { done: true, effectiveSelect: select && !active, effectivePrint, files: { local: { name, display: name, path: name, origin: "local", refs: { resource: `/api/files/local/${name}` } } } },
      { Location: `/api/files/local/${encodeURIComponent(name)}` },
    );
  }

  // ---- lifecycle ---------------------------------------------------------------------------------

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  log(`octoprint sim on http://127.0.0.1:${port}`);

  return {
    machine,
    protocol: "octoprint",
    url: `http://127.0.0.1:${port}`,
    auth: { apiKey },
    dropConnections() {
      sessions.clear();
      for (const ws of clients) ws.terminate();
      for (const socket of sockets) socket.destroy();
    },
    expireSessions(how: "reauth" | "silent") {
      sessions.clear();
      for (const ws of authed) if (how === "reauth") send(ws, { reauthRequired: { reason: "stale" } });
      authed.clear();
    },
    setSilent(on: boolean) {
      silent = on;
      if (!on) for (const h of held.splice(0)) h();
    },
    refuseCredentials(on: boolean) {
      refuse = on;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      pushTimer.cancel();
      held.length = 0;
      for (const ws of clients) ws.terminate();
      wss.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownMachine) machine.stop();
    },
  };
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_UPLOAD_BYTES) {
        req.destroy();
        reject(new Error("upload too large"));
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

interface Part {
  name: string | null;
  filename: string | null;
  data: Buffer;
}

/** multipart/form-data, as fetch's FormData, curl and browsers send it. */
export function parseMultipart(contentType: string, body: Buffer): Part[] | null {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (!/^multipart\/form-data/i.test(contentType) || boundary === undefined) return null;
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Part[] = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === "--") break;
    const next = body.indexOf(delimiter, start);
    if (next < 0) break;
    const chunk = body.subarray(start + 2, next - 2); // after CRLF, before CRLF
    const split = chunk.indexOf("\r\n\r\n");
    if (split >= 0) {
      const head = chunk.subarray(0, split).toString("utf8");
      const disposition = /content-disposition:[^\r\n]*/i.exec(head)?.[0] ?? "";
      parts.push({
        name: /\bname="([^"]*)"/i.exec(disposition)?.[1] ?? null,
        filename: /\bfilename="([^"]*)"/i.exec(disposition)?.[1] ?? null,
        data: chunk.subarray(split + 4),
      });
    }
    at = next;
  }
  return parts;
}
