/**
 * A PrusaLink printer (Buddy firmware: MK4, Core One, XL, MINI) on a real HTTP socket: the REST API
 * v1 in front of the network printer machine (machine.ts), with Buddy's digest authentication.
 *
 * What it reproduces from the real one (see shared/reference/network-printers.md, section 3):
 * - HTTP Digest, realm `Printer API`, user `maker`, a challenge **without `qop`** and short-lived
 *   nonces (5 s, 8 s for PUT/POST): an old nonce gets `401` with `stale=true`. A nonce is stateless
 *   (time + HMAC), so it survives dropped connections as the printer's does. `X-Api-Key` is accepted
 *   as well when an api key is configured (Prusa-Link on a Pi, older Buddy firmware). A digest reply
 *   that carries `algorithm=` to the qop-less challenge is refused, as older Buddy firmware did.
 * - `GET /api/version` (`api: "2.0.0"`), `/api/v1/info`, `/api/v1/status`, `/api/v1/storage`,
 *   `/api/v1/job` (204 without a job).
 * - `PUT /api/v1/files/usb/<name>` with the raw file, `Content-Length` required, `Overwrite: ?1` and
 *   `Print-After-Upload: ?1` honoured (409 when the file exists without Overwrite, when it is being
 *   printed, or when a print is asked while the printer is busy); `POST` on the same path prints a
 *   stored file; `HEAD` says `Read-Only` and `Currently-Printed`.
 * - `PUT /api/v1/job/<id>/pause|resume`, `DELETE /api/v1/job/<id>`: 204, 404 for a wrong id, 409 when
 *   the state does not allow it.
 * - States `IDLE -> PRINTING <-> PAUSED -> FINISHED | STOPPED`, `ERROR` when the machine halted or the
 *   job failed (with `status_printer.message`), and `ATTENTION` / `BUSY` injectable (`setOverride`).
 *
 * The v1 API has no G-code or heater endpoint, so neither has this simulator. The machine's door
 * (the Core One has one) pauses a print at the machine, but v1 does not report it. A `.bgcode` upload
 * is refused with 415: the simulator runs plain G-code only (the real printer takes both).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { type NetPrinterSimHandle, type NetPrinterSimOptions, SimMachine } from "./machine.ts";

export const PRUSALINK_REALM = "Printer API";
const DEFAULT_USER = "maker";
const DEFAULT_PASSWORD = "sim-prusalink-pass";
const NONCE_GET_MS = 5000;
const NONCE_WRITE_MS = 8000;
const MAX_UPLOAD_BYTES = 64 * 1024 * 1024;

export type PrusaLinkOverride = "ATTENTION" | "BUSY" | null;

export interface PrusaLinkSimHandle extends NetPrinterSimHandle {
  /** Forces the printer state the API reports (`ATTENTION` with a message, `BUSY`) until set back to null. */
  setOverride(state: PrusaLinkOverride, message?: string): void;
  /** Requests held unanswered while silent. */
  pendingRequests(): number;
  /** Requests answered, by path, the newest 1000-2000 (for tests that check what the driver asked). */
  readonly requests: Array<{ method: string; path: string; status: number }>;
}

export async function startPrusaLinkSim(opts: NetPrinterSimOptions = {}): Promise<PrusaLinkSimHandle> {
  const machine = opts.machine ?? new SimMachine({ name: "Prusa Core One (sim)", ...opts.machineOptions, ...(opts.clock ? { clock: opts.clock } : {}) });
  const ownMachine = opts.machine === undefined;
  if (ownMachine) machine.start();
  const clock = opts.clock ?? machine.clock;
  const log = opts.logger ?? (() => {});
  const user = opts.credentials?.user ?? DEFAULT_USER;
  const password = opts.credentials?.password ?? DEFAULT_PASSWORD;
  const apiKey = opts.credentials?.apiKey ?? null;
  const secret = randomBytes(16);
  const strictDigest = true;
  const sockets = new Set<Socket>();
  const hung = new Set<http.ServerResponse>();
  const requests: PrusaLinkSimHandle["requests"] = [];
  let silent = false;
  let refuse = false;
  let override: PrusaLinkOverride = null;
  let overrideMessage = "";
  let jobId = 0;
  let jobSize = 0;
  let uploadedAt = 0;
  // Every print gets the next job id, also one started at the printer's own screen.
  let wasRunning = false;
  machine.onChange(() => {
    const s = machine.status();
    const running = s.job === "printing" || s.job === "paused";
    if (running && !wasRunning) {
      jobId++;
      jobSize = Buffer.byteLength(machine.files.get(s.file ?? "") ?? "");
    }
    wasRunning = running;
  });

  function nonce(): string {
    const t = clock.now().toString(16).padStart(12, "0");
    return t + createHmac("sha256", secret).update(t).digest("hex").slice(0, 20);
  }

  /** null = valid; "stale" = a nonce of ours that expired; "bad" = not ours. */
  function nonceState(n: string, method: string): null | "stale" | "bad" {
    if (!/^[0-9a-f]{32}$/.test(n)) return "bad";
    const t = n.slice(0, 12);
    const mac = createHmac("sha256", secret).update(t).digest("hex").slice(0, 20);
    if (!safeEqual(mac, n.slice(12))) return "bad";
    const age = clock.now() - parseInt(t, 16);
    const life = method === "GET" || method === "HEAD" ? NONCE_GET_MS : NONCE_WRITE_MS;
    return age < 0 || age > life ? "stale" : null;
  }

  function challenge(res: http.ServerResponse, stale: boolean): void {
    // Buddy's challenge: no qop, no algorithm.
    res.setHeader("WWW-Authenticate", `Digest realm="${PRUSALINK_REALM}", nonce="${nonce()}"${stale ? ", stale=true" : ""}`);
    send(res, 401, { code: 401, title: "Unauthorized", text: "Authorization required" });
  }

  /** true = let through; otherwise it has answered. */
  function authorised(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    if (refuse) {
      challenge(res, false);
      return false;
    }
    const key = req.headers["x-api-key"];
    if (typeof key === "string") {
      if (apiKey !== null && safeEqual(key, apiKey)) return true;
      challenge(res, false);
      return false;
    }
    const header = req.headers.authorization ?? "";
    if (!/^Digest\s/i.test(header)) {
      challenge(res, false);
      return false;
    }
    const p = parseDigest(header);
    const method = req.method ?? "GET";
    // Older Buddy firmware refused an `algorithm` field in the reply to its qop-less challenge.
    if (strictDigest && p.qop === undefined && p.algorithm !== undefined) {
      log("prusalink sim: digest reply with an algorithm field to a qop-less challenge: refused");
      challenge(res, false);
      return false;
    }
    if (p.username !== user || p.realm !== PRUSALINK_REALM || p.uri !== req.url || p.nonce === undefined || p.response === undefined) {
      challenge(res, false);
      return false;
    }
    const ha1 = md5(`${user}:${PRUSALINK_REALM}:${password}`);
    const ha2 = md5(`${method}:${p.uri}`);
    const expected = p.qop !== undefined ? md5(`${ha1}:${p.nonce}:${p.nc ?? ""}:${p.cnonce ?? ""}:${p.qop}:${ha2}`) : md5(`${ha1}:${p.nonce}:${ha2}`);
    if (!safeEqual(expected, p.response.toLowerCase())) {
      challenge(res, false);
      return false;
    }
    const ns = nonceState(p.nonce, method);
    if (ns !== null) {
      challenge(res, ns === "stale");
      return false;
    }
    return true;
  }

  function printerState(): { state: string; message: string | null } {
    const s = machine.status();
    // Buddy's red screen names the cause (MINTEMP, Heating failed …), not Marlin's "kill() called".
    if (s.machine === "halted") return { state: "ERROR", message: machine.firmware.snapshot().killReason ?? s.error ?? "printer halted" };
    if (override !== null) return { state: override, message: overrideMessage || null };
    switch (s.job) {
      case "printing":
        return { state: "PRINTING", message: null };
      case "paused":
        return { state: "PAUSED", message: s.doorOpen ? "door open" : null };
      case "finished":
        return { state: "FINISHED", message: null };
      case "cancelled":
        return { state: "STOPPED", message: null };
      case "error":
        return { state: "ERROR", message: s.error ?? "print failed" };
      default:
        return { state: "IDLE", message: null };
    }
  }

  function hasJob(): boolean {
    return machine.status().job !== "idle" && jobId > 0;
  }

  function jobState(): string {
    const { state } = printerState();
    return state === "ATTENTION" || state === "BUSY" ? "PRINTING" : state;
  }

  function statusBody(): object {
    const s = machine.status();
    const { state, message } = printerState();
    const body: Record<string, unknown> = {
      storage: { path: "/usb/", name: "usb", read_only: false },
      printer: {
        state,
        temp_nozzle: s.hotend.actual,
        target_nozzle: s.hotend.target,
        temp_bed: s.bed.actual,
        target_bed: s.bed.target,
        axis_z: 0,
        flow: 100,
        speed: 100,
        fan_hotend: 0,
        fan_print: 0,
        ...(message !== null ? { status_printer: { ok: false, message } } : {}),
      },
    };
    if (hasJob()) {
      body.job = { id: jobId, progress: s.progressPct, time_remaining: s.timeLeftS ?? 0, time_printing: s.elapsedS };
    }
    return body;
  }

  function jobBody(): object {
    const s = machine.status();
    return {
      id: jobId,
      state: jobState(),
      progress: s.progressPct,
      time_remaining: s.timeLeftS ?? 0,
      time_printing: s.elapsedS,
      inaccurate_estimates: s.timeLeftS === null,
      file: { refs: {}, name: s.file, display_name: s.file, path: "/usb", size: jobSize, m_timestamp: Math.round(uploadedAt / 1000) },
    };
  }

  function startHere(name: string): void {
    machine.startJob(name);
  }

  function busy(): boolean {
    const j = machine.status().job;
    return j === "printing" || j === "paused" || machine.halted();
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "http://printer");
    const path = url.pathname;
    if (!authorised(req, res)) {
      req.resume();
      return;
    }
    if (method === "GET" && path === "/api/version") {
      return send(res, 200, { api: "2.0.0", server: "2.1.2", nozzle_diameter: 0.4, text: "PrusaLink", hostname: "prusa-core-one-sim", capabilities: { "upload-by-put": true } });
    }
    if (method === "GET" && path === "/api/v1/info") {
      return send(res, 200, { mmu: false, name: "Core One (sim)", location: "", farm_mode: false, nozzle_diameter: 0.4, min_extrusion_temp: 170, serial: "SIM-COREONE-0001", hostname: "prusa-core-one-sim", port: "" });
    }
    if (method === "GET" && path === "/api/v1/status") return send(res, 200, statusBody());
    if (method === "GET" && path === "/api/v1/storage") {
      return send(res, 200, { storage_list: [{ type: "USB", path: "/usb", name: "usb", read_only: false, available: true }] });
    }
    if (method === "GET" && path === "/api/v1/job") return hasJob() ? send(res, 200, jobBody()) : send(res, 204, null);
    if (method === "GET" && path === "/api/v1/transfer") return send(res, 204, null);

    const file = /^\/api\/v1\/files\/usb\/(.+)$/.exec(path);
    if (file?.[1] !== undefined) {
      const name = decodeURIComponent(file[1]);
      if (name.includes("/") || name.includes("\0") || name.length > 200) return problem(res, 400, "Bad file name");
      const printing = busy() && machine.status().file === name;
      if (method === "HEAD") {
        if (!machine.files.has(name)) return send(res, 404, null);
        res.setHeader("Read-Only", "?0");
        res.setHeader("Currently-Printed", printing ? "?1" : "?0");
        return send(res, 200, null);
      }
      if (method === "PUT") return upload(req, res, name, printing);
      if (method === "POST") {
        if (!machine.files.has(name)) return problem(res, 404, "File not found");
        if (busy()) return problem(res, 409, "Printer is busy");
        try {
          startHere(name);
        } catch (error) {
          return problem(res, 409, (error as Error).message);
        }
        return send(res, 204, null);
      }
      if (method === "DELETE") {
        if (!machine.files.has(name)) return problem(res, 404, "File not found");
        if (printing) return problem(res, 409, "File is being printed");
        machine.files.delete(name);
        return send(res, 204, null);
      }
      return problem(res, 405, "Method not allowed");
    }

    const job = /^\/api\/v1\/job\/(\d+)(?:\/(pause|resume|continue))?$/.exec(path);
    if (job?.[1] !== undefined) {
      if (!hasJob() || Number(job[1]) !== jobId) return problem(res, 404, "No such job");
      const action = job[2];
      try {
        if (method === "DELETE" && action === undefined) {
          const j = machine.status().job;
          if (j !== "printing" && j !== "paused") return problem(res, 409, `Job is ${jobState()}`);
          machine.cancel();
        } else if (method === "PUT" && action === "pause") {
          if (machine.status().job !== "printing") return problem(res, 409, `Job is ${jobState()}`);
          machine.pause();
        } else if (method === "PUT" && (action === "resume" || action === "continue")) {
          if (machine.status().job !== "paused") return problem(res, 409, `Job is ${jobState()}`);
          machine.resume();
        } else {
          return problem(res, 405, "Method not allowed");
        }
      } catch (error) {
        return problem(res, 409, (error as Error).message);
      }
      return send(res, 204, null);
    }
    return problem(res, 404, "Not found");
  }

  async function upload(req: http.IncomingMessage, res: http.ServerResponse, name: string, printing: boolean): Promise<void> {
    const lengthHeader = req.headers["content-length"];
    if (lengthHeader === undefined) return drain(req, res, 411, "Length Required");
    const length = Number(lengthHeader);
    if (!Number.isSafeInteger(length) || length < 0 || length > MAX_UPLOAD_BYTES) return drain(req, res, 413, "File too large");
    if (!/\.(gcode|bgcode)$/i.test(name)) return drain(req, res, 415, "Unsupported file type");
    if (/\.bgcode$/i.test(name)) return drain(req, res, 415, "This simulator runs plain .gcode only");
    const overwrite = req.headers.overwrite === "?1";
    const printAfter = req.headers["print-after-upload"] === "?1";
    if (machine.files.has(name) && !overwrite) return drain(req, res, 409, "File already exists");
    if (printing) return drain(req, res, 409, "File is being printed");
    if (printAfter && busy()) return drain(req, res, 409, "Printer is busy");
    const chunks: Buffer[] = [];
    let got = 0;
    for await (const chunk of req) {
      got += (chunk as Buffer).length;
      if (got > length) return problem(res, 400, "Body longer than Content-Length");
      chunks.push(chunk as Buffer);
    }
    if (got !== length) return problem(res, 400, "Body shorter than Content-Length");
    machine.store(name, Buffer.concat(chunks).toString("utf8"));
    uploadedAt = clock.now();
    log(`prusalink sim: stored ${name} (${got} bytes)${printAfter ? ", printing" : ""}`);
    if (printAfter) {
      try {
        startHere(name);
      } catch (error) {
        return problem(res, 409, (error as Error).message);
      }
    }
    return send(res, 201, null);
  }

  function drain(req: http.IncomingMessage, res: http.ServerResponse, status: number, title: string): void {
    req.resume();
    res.setHeader("Connection", "close");
    problem(res, status, title);
  }

  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    res.on("finish", () => {
      requests.push({ method: req.method ?? "GET", path, status: res.statusCode });
      if (requests.length > 2000) requests.splice(0, 1000);
    });
    if (silent) {
      hung.add(res);
      res.on("close", () => hung.delete(res));
      req.resume();
      return;
    }
    handle(req, res).catch((error: unknown) => {
      log(`prusalink sim: ${(error as Error).message}`);
      if (!res.headersSent) problem(res, 500, "Internal error");
      else res.destroy();
    });
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let stopped = false;

  return {
    machine,
    protocol: "prusalink",
    url: `http://127.0.0.1:${port}`,
    auth: apiKey !== null && opts.credentials?.password === undefined ? { apiKey } : { user, password },
    requests,
    pendingRequests: () => hung.size,
    dropConnections() {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    setSilent(on: boolean) {
      silent = on;
      if (!on) {
        for (const res of hung) res.destroy();
        hung.clear();
      }
    },
    refuseCredentials(on: boolean) {
      refuse = on;
    },
    setOverride(state: PrusaLinkOverride, message = "") {
      override = state;
      overrideMessage = message;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const res of hung) res.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (ownMachine) machine.stop();
    },
  };
}

function send(res: http.ServerResponse, status: number, body: object | null): void {
  if (body === null) {
    res.writeHead(status);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

/** Prusa's error body: `{code, title, text}`. */
function problem(res: http.ServerResponse, status: number, title: string): void {
  send(res, status, { code: status, title, text: title });
}

function md5(s: string): string {
  return createHash("md5").update(s).digest("hex");
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** `Digest username="maker", realm="…", nonce="…", uri="/…", response="…"` -> fields. */
export function parseDigest(header: string): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  const re = /([a-zA-Z]+)=(?:"([^"]*)"|([^,\s]*))/g;
  const fields = header.replace(/^Digest\s+/i, "");
  for (let m = re.exec(fields); m !== null; m = re.exec(fields)) {
    const key = m[1];
    if (key !== undefined) out[key.toLowerCase()] = m[2] ?? m[3];
  }
  return out;
}
