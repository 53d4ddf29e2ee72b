/**
 * Bambu Lab printers in LAN mode (X1, P1, A1, H2 …): MQTT over TLS on 8883 with user `bblp` and the
 * printer's access code, reports on `device/<serial>/report`, commands on `device/<serial>/request`,
 * uploads over implicit FTPS on 990 (see the protocol reference, section 2).
 *
 * - Reports: `pushall` on connect gives the whole `print` object; the X1 pushes it whole every
 *   time, the P1 and A1 only the fields that changed, so every push is merged into one state here.
 * - Jobs: a sliced project (`<name>.gcode.3mf`, holding `Metadata/plate_1.gcode`) is uploaded and
 *   started with `project_file`; plain `<name>.gcode` with `gcode_file`. Both are acknowledged by
 *   the printer's echo of the command (or the state it goes to), with a timeout.
 * - The strongest stop is `stop` (the LAN API has no e-stop): the printer ends the job through its
 *   own end routine; the driver then switches both heaters off with `gcode_line`.
 * - TLS: the printer's certificate is signed by Bambu Lab's own CA, which the hub does not carry.
 *   With `auth.fingerprint` the certificate is pinned (SHA-256) before the access code is sent;
 *   without it any certificate is accepted, and the hub says so once in its log.
 */
import { Client as FtpClient, FTPError } from "basic-ftp";
import { MqttClient } from "mqtt";
import { randomBytes } from "node:crypto";
import tls from "node:tls";
import type { Timer } from "../../../core/clock.ts";
import { HubError } from "../../../core/errors.ts";
import type { PrinterDeviceConfig } from "../rules.ts";
import { type NetworkDriverContext, type NetworkDriverOptions, NetworkPrinterDriver, type NetworkStatus } from "./driver.ts";

export interface BambuEndpoint {
  /** The printer's id in the config (for log lines). */
  id: string;
  host: string;
  mqttPort: number;
  ftpsPort: number;
  serial: string;
  accessCode: string;
  /** Upper-case hex without colons; null = not pinned. */
  fingerprint: string | null;
}

/** Serial-number prefixes (model codes), as Bambu Lab's own apps and ha-bambulab read them. */
const MODELS: Record<string, string> = {
  "00M": "X1 Carbon",
  "00W": "X1",
  "03W": "X1E",
  "01S": "P1P",
  "01P": "P1S",
  "039": "A1",
  "030": "A1 mini",
  "094": "H2D",
  "093": "H2S",
  "239": "H2D Pro",
  "109": "H2C",
  "22E": "P2S",
};

/** `print_error` for "cancelled by the user" (0300_400C); it reverts to 0 a few seconds later. */
const CANCELLED_BY_USER = 0x0300400c;
/** Door open: bit 23 of `home_flag` (X1) or of the hex `stat` (H2, P2S, X2). */
const DOOR_OPEN_BIT = 0x00800000;
/** A rejected command's `err_code` when firmware from 2025 wants Developer Mode for third-party control. */
const DEV_MODE_REFUSED = 84033543;

/** The heater and sensor faults of the motion controller (HMS module 0300), in plain words. */
const HMS_TEXT: Record<string, string> = {
  "0300_0100_0001_0001": "heatbed temperature abnormal: the heater may be short-circuited",
  "0300_0100_0001_0002": "heatbed temperature abnormal: the heater may be open-circuit (heating failed)",
  "0300_0100_0001_0003": "heatbed heater over temperature (MAXTEMP)",
  "0300_0100_0001_0006": "heatbed temperature sensor may be short-circuited (MAXTEMP)",
  "0300_0100_0001_0007": "heatbed temperature sensor may be open-circuit (MINTEMP)",
  "0300_0200_0001_0001": "nozzle temperature abnormal: the heater may be short-circuited",
  "0300_0200_0001_0002": "nozzle temperature abnormal: the heater may be open-circuit (heating failed)",
  "0300_0200_0001_0003": "nozzle heater over temperature (MAXTEMP)",
  "0300_0200_0001_0006": "nozzle temperature sensor may be short-circuited (MAXTEMP)",
  "0300_0200_0001_0007": "nozzle temperature sensor may be open-circuit (MINTEMP)",
};
const SEVERITY = ["", "fatal", "serious", "common", "info"];

const hex4 = (n: number): string => (n & 0xffff).toString(16).toUpperCase().padStart(4, "0");

/** HMS entries `{attr, code}` as `HMS_AAAA_BBBB_CCCC_DDDD` codes with their severity (code >> 16). */
export function hmsEntries(hms: unknown): Array<{ code: string; severity: number; text: string }> {
  if (!Array.isArray(hms)) return [];
  return hms.flatMap((e: unknown) => {
    if (typeof e !== "object" || e === null) return [];
    const attr = Number((e as { attr?: unknown }).attr);
    const code = Number((e as { code?: unknown }).code);
    if (!Number.isFinite(attr) || !Number.isFinite(code)) return [];
    const id = `${hex4(attr >>> 16)}_${hex4(attr)}_${hex4(code >>> 16)}_${hex4(code)}`;
    const severity = (code >>> 16) & 0xffff;
    const words = HMS_TEXT[id];
    return [{ code: id, severity, text: `HMS_${id} (${SEVERITY[severity] ?? "unknown"})${words !== undefined ? `: ${words}` : ""}` }];
  });
}

/** A field as text: strings as they are, numbers written out, anything else empty. */
function str(v: unknown): string {
  return typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : "";
}

function num(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" && v.trim() !== "") {
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/** Newer firmware (H2D, P2S …) packs a heater as `(target << 16) | current`. */
function packed(v: unknown): { actual: number; target: number } | null {
  const n = num(v);
  return n === null ? null : { actual: n & 0xffff, target: (n >>> 16) & 0xffff };
}

function dig(o: unknown, ...keys: Array<string | number>): unknown {
  let cur = o;
  for (const k of keys) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

/** The merged `print` object of a printer as the hub's status. Exported for tests. */
export function bambuStatus(m: Readonly<Record<string, unknown>>, serial: string): NetworkStatus {
  const state = (str(m.gcode_state) || "IDLE").toUpperCase();
  const printError = num(m.print_error) ?? 0;
  const hms = hmsEntries(m.hms);
  const fatal = hms.find((h) => h.severity === 1);
  let fault: string | null = fatal?.text ?? null;
  if (fault === null && state === "FAILED" && printError !== 0 && printError !== CANCELLED_BY_USER) {
    fault = `print_error ${hex4(printError >>> 16)}_${hex4(printError)}`;
  }
  const job: NetworkStatus["job"] =
    state === "RUNNING" || state === "PREPARE" || state === "SLICING" || state === "INIT"
      ? "printing"
      : state === "PAUSE"
        ? "paused"
        : state === "FINISH"
          ? "finished"
          : state === "FAILED"
            ? printError === 0 || printError === CANCELLED_BY_USER
              ? "cancelled"
              : "error"
            : "idle";

  const nozzle = num(m.nozzle_temper);
  const hotend = nozzle !== null ? { actual: nozzle, target: num(m.nozzle_target_temper) } : packed(dig(m, "device", "extruder", "info", 0, "temp"));
  const bedC = num(m.bed_temper);
  const bed = bedC !== null ? { actual: bedC, target: num(m.bed_target_temper) } : packed(dig(m, "device", "bed", "info", "temp"));

  const model = MODELS[serial.slice(0, 3).toUpperCase()] ?? "";
  let doorOpen: boolean | null = null;
  if (/^X1/.test(model)) {
    const flag = num(m.home_flag);
    if (flag !== null) doorOpen = (flag & DOOR_OPEN_BIT) !== 0;
  } else if (typeof m.stat === "string" && /^[0-9a-f]+$/i.test(m.stat)) {
    doorOpen = (parseInt(m.stat.slice(-8), 16) & DOOR_OPEN_BIT) !== 0;
  }

  const minutes = num(m.mc_remaining_time);
  const name = typeof m.subtask_name === "string" && m.subtask_name !== "" ? m.subtask_name : typeof m.gcode_file === "string" && m.gcode_file !== "" ? m.gcode_file : null;
  return {
    raw: state,
    job,
    hotend,
    bed,
    file: name,
    progressPct: num(m.mc_percent),
    elapsedS: null,
    timeLeftS: minutes === null ? null : minutes * 60,
    layer: num(m.layer_num),
    layers: num(m.total_layer_num),
    doorOpen,
    fault,
  };
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

interface Pending {
  type: string;
  command: string;
  what: string;
  /** A pushed state that also confirms the command (some firmware does not echo every command). */
  expect: ((state: string) => boolean) | null;
  resolve: (reply: Record<string, unknown>) => void;
  reject: (error: Error) => void;
  cancel: () => void;
}

export class BambuDriver extends NetworkPrinterDriver {
  readonly protocol = "bambu-lan" as const;
  /** A sliced project first (what Bambu Studio makes), else plain G-code. */
  readonly catalogueExtensions = [".gcode.3mf", ".gcode"] as const;
  readonly estopEffect = "stop: the printer ends the job with its own end routine, then both heaters are set to 0 (the LAN API has no emergency stop)";

  /** How long a command may go unanswered; the first status after connecting too. */
  commandTimeoutMs = 10_000;
  uploadTimeoutMs = 60_000;

  private client: MqttClient | null = null;
  private probe: Timer | null = null;
  private lastMessageAt = 0;
  private seq = 0;
  private merged: Record<string, unknown> = {};
  private ready = false;
  private readonly pending = new Map<string, Pending>();
  private warnedUnpinned = false;
  private readonly hmsSeen = new Set<string>();
  private readonly reportTopic: string;
  private readonly requestTopic: string;
  readonly model: string;

  constructor(
    private readonly ep: BambuEndpoint,
    ctx: NetworkDriverContext,
    options: Partial<NetworkDriverOptions> = {},
  ) {
    super(ctx, options);
    this.reportTopic = `device/${ep.serial}/report`;
    this.requestTopic = `device/${ep.serial}/request`;
    this.model = MODELS[ep.serial.slice(0, 3).toUpperCase()] ?? "Bambu Lab printer";
  }

  // ---- connection ----------------------------------------------------------------------------

  protected async open(): Promise<void> {
    this.ready = false;
    this.merged = {};
    this.info.FIRMWARE_NAME = "Bambu Lab";
    this.info.MACHINE_TYPE = `Bambu Lab ${this.model}`;
    const socket = await this.tlsConnect(this.ep.mqttPort, "MQTT");
    const client = new MqttClient(() => socket, {
      username: "bblp",
      password: this.ep.accessCode,
      clientId: `tec-hub-${randomBytes(6).toString("hex")}`,
      protocolVersion: 4,
      keepalive: 30,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: this.commandTimeoutMs,
      resubscribe: false,
    });
    this.client = client;
    // Always one listener: an MQTT error without one would throw. (Never the options: they hold the access code.)
    client.on("error", (error) => this.ctx.logger.debug({ printer: this.ep.id, err: error.message }, "bambu mqtt error"));
    client.on("message", (topic, payload) => {
      if (this.client === client && topic === this.reportTopic) this.onMessage(payload);
    });

    await new Promise<void>((resolve, reject) => {
      const done = (error: Error | null): void => {
        client.off("connect", onConnect);
        client.off("error", onError);
        client.off("close", onClose);
        if (error === null) resolve();
        else reject(error);
      };
      const onConnect = (): void => done(null);
      const onError = (error: Error & { code?: number | string }): void => {
        if (error.code === 5 || error.code === 4 || error.code === 134 || error.code === 135) {
          done(new HubError("DEVICE_AUTH", `the Bambu Lab printer refused the access code (MQTT CONNACK ${error.code}: not authorised): check auth.accessCode against the printer's screen (LAN-only mode), and auth.serial`));
        } else {
          done(new HubError("TRANSPORT_FAILED", `MQTT connect to the printer failed: ${error.message}`));
        }
      };
      const onClose = (): void => done(new HubError("TRANSPORT_CLOSED", "the printer closed the MQTT connection before accepting it"));
      client.on("connect", onConnect);
      client.on("error", onError);
      client.on("close", onClose);
    });

    // From here a close (or a printer that stops answering) fails the connect instead of hanging it.
    let closedWhileOpening: (error: Error) => void = () => {};
    const closed = new Promise<never>((_, reject) => (closedWhileOpening = reject));
    closed.catch(() => {});
    client.on("close", () => {
      if (this.client !== client) return;
      this.failPending(new HubError("DEVICE_OFFLINE", "the connection to the printer went"));
      if (this.ready) this.lost("the printer closed the MQTT connection");
      else closedWhileOpening(new HubError("TRANSPORT_CLOSED", "the printer closed the MQTT connection while the hub was connecting"));
    });

    const wrongSerial = new HubError("DEVICE_REFUSED", `the printer refused the report topic of serial ${this.ep.serial}: check auth.serial (Settings > Device on the printer's screen)`);
    // A refused subscription is SUBACK 0x80; mqtt.js rejects it as a "Subscribe error".
    const granted = await this.within(
      "subscribe to the report topic",
      Promise.race([
        client.subscribeAsync(this.reportTopic, { qos: 0 }).catch((error: unknown) => {
          throw /subscribe error/i.test(messageOf(error)) ? wrongSerial : error;
        }),
        closed,
      ]),
    );
    if (granted.some((g) => g.qos === 128)) throw wrongSerial;

    const first = this.waitFor("the first status report", () => typeof this.merged.gcode_state === "string");
    const version = this.command("info", { command: "get_version" }, "get_version", null, Math.min(3000, this.commandTimeoutMs))
      .then((r) => this.takeVersion(r))
      .catch((error: unknown) => this.ctx.logger.info({ printer: this.ep.id, err: messageOf(error) }, "bambu: no firmware version from the printer"));
    this.publish({ pushing: { sequence_id: String(++this.seq), command: "pushall", version: 1, push_target: 1 } });
    await Promise.race([first, closed]);
    await Promise.race([version, closed]);
    this.ready = true;
    this.report(bambuStatus(this.merged, this.ep.serial));
    // A P1 or A1 that has nothing new may say nothing for a while: past half the stale time, ask
    // for the firmware version (cheap; a `pushall` more often than every 5 min loads a P1P). Its
    // answer shows the printer is there; a printer that answers nothing is still lost.
    this.lastMessageAt = this.ctx.clock.now();
    const every = Math.max(200, Math.round(this.options.staleAfterMs / 4));
    this.probe = this.ctx.clock.setInterval(() => {
      if (this.client !== client || !this.ready) return;
      if (this.ctx.clock.now() - this.lastMessageAt < this.options.staleAfterMs / 2) return;
      try {
        this.publish({ info: { sequence_id: String(++this.seq), command: "get_version" } });
      } catch {
        // not connected: the stale check and the close handler deal with it
      }
    }, every);
  }

  protected async close(): Promise<void> {
    this.ready = false;
    this.probe?.cancel();
    this.probe = null;
    const client = this.client;
    this.client = null;
    this.failPending(new HubError("DEVICE_OFFLINE", "the connection to the printer was closed"));
    if (client !== null) await client.endAsync(true).catch(() => {});
  }

  /** TLS to the printer; pins the certificate before anything is sent. */
  private tlsConnect(port: number, what: string): Promise<tls.TLSSocket> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: this.ep.host, port, servername: this.ep.serial, rejectUnauthorized: false });
      const timer = this.ctx.clock.setTimeout(() => {
        socket.destroy();
        reject(new HubError("DEVICE_TIMEOUT", `${what}: no TLS answer from ${this.ep.host}:${port} in ${Math.round(this.commandTimeoutMs / 1000)} s`));
      }, this.commandTimeoutMs);
      socket.once("secureConnect", () => {
        timer.cancel();
        try {
          this.checkCertificate(socket);
          resolve(socket);
        } catch (error) {
          socket.destroy();
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
      socket.once("error", (error: Error) => {
        timer.cancel();
        reject(new HubError("TRANSPORT_FAILED", `${what}: cannot reach the printer at ${this.ep.host}:${port} (${error.message})`));
      });
    });
  }

  private checkCertificate(socket: tls.TLSSocket): void {
    const seen = socket.getPeerCertificate().fingerprint256 ?? "";
    if (this.ep.fingerprint !== null) {
      if (seen.replace(/:/g, "").toUpperCase() !== this.ep.fingerprint) {
        throw new HubError(
          "DEVICE_AUTH",
          `the printer's TLS certificate (SHA-256 ${seen}) is not the one in auth.fingerprint: another device answers at ${this.ep.host}, or the printer has a new certificate (after a reset or a firmware update)`,
        );
      }
      return;
    }
    if (!this.warnedUnpinned) {
      this.warnedUnpinned = true;
      this.ctx.logger.warn(
        { printer: this.ep.id, fingerprint: seen },
        "Bambu Lab printer: no auth.fingerprint in the config, so its TLS certificate is accepted without a check; put this fingerprint in auth.fingerprint to pin it",
      );
    }
  }

  // ---- reports and replies -------------------------------------------------------------------

  private onMessage(payload: Buffer): void {
    this.lastMessageAt = this.ctx.clock.now();
    let msg: unknown;
    try {
      msg = JSON.parse(payload.toString("utf8"));
    } catch {
      this.counters.requestErrors++;
      return;
    }
    if (typeof msg !== "object" || msg === null) return;
    let pushed = false;
    for (const [type, body] of Object.entries(msg as Record<string, unknown>)) {
      if (typeof body !== "object" || body === null) continue;
      const b = body as Record<string, unknown>;
      const command = str(b.command);
      if (type === "print" && command === "push_status") {
        for (const [k, v] of Object.entries(b)) {
          if (k !== "command" && k !== "sequence_id" && k !== "msg") this.merged[k] = v;
        }
        pushed = true;
      } else {
        this.settle(type, command, b);
      }
    }
    if (pushed) {
      const state = str(this.merged.gcode_state).toUpperCase();
      for (const [id, p] of this.pending) {
        if (p.expect?.(state) === true) {
          this.pending.delete(id);
          p.cancel();
          p.resolve({});
        }
      }
      this.noteHms();
    }
    // Every message says the printer is there; a status only once it has been seen whole.
    if (this.ready && typeof this.merged.gcode_state === "string") this.report(bambuStatus(this.merged, this.ep.serial));
  }

  /** Serious and common HMS entries go to the console once each; fatal ones halt the station (bambuStatus). */
  private noteHms(): void {
    const now = hmsEntries(this.merged.hms);
    for (const h of now) {
      if (h.severity === 1 || this.hmsSeen.has(h.code)) continue;
      this.hmsSeen.add(h.code);
      this.message(`the printer reports ${h.text}`, h.severity === 2 ? "error" : "info");
    }
    for (const code of [...this.hmsSeen]) if (!now.some((h) => h.code === code)) this.hmsSeen.delete(code);
  }

  private settle(type: string, command: string, reply: Record<string, unknown>): void {
    const id = str(reply.sequence_id);
    const p = this.pending.get(id);
    if (p === undefined || p.type !== type || p.command !== command) return;
    this.pending.delete(id);
    p.cancel();
    const result = (str(reply.result) || "success").toLowerCase();
    if (result === "success" || result === "ok") {
      p.resolve(reply);
      return;
    }
    const errCode = num(reply.err_code);
    const reason = typeof reply.reason === "string" && reply.reason !== "" ? reply.reason : "no reason given";
    const hint =
      errCode === DEV_MODE_REFUSED || /verif/i.test(reason)
        ? ": this firmware takes commands from other software only in LAN-only mode with Developer Mode on (in the network settings on the printer's screen)"
        : "";
    p.reject(new HubError("DEVICE_REFUSED", `${p.what}: the printer refused it (${reason}${errCode !== null ? `, err_code ${errCode}` : ""})${hint}`));
  }

  private failPending(error: Error): void {
    for (const p of this.pending.values()) {
      p.cancel();
      p.reject(error);
    }
    this.pending.clear();
  }

  private publish(msg: unknown): void {
    const client = this.client;
    if (client === null) throw new HubError("DEVICE_OFFLINE", "the printer is not connected");
    client.publish(this.requestTopic, JSON.stringify(msg), { qos: 1 }, (error) => {
      if (error !== undefined && error !== null) this.ctx.logger.debug({ printer: this.ep.id, err: error.message }, "bambu publish failed");
    });
  }

  /** Sends a command and waits for its echo (or a pushed state that confirms it). */
  private command(
    type: string,
    body: Record<string, unknown>,
    what: string,
    expect: ((state: string) => boolean) | null,
    timeoutMs = this.commandTimeoutMs,
  ): Promise<Record<string, unknown>> {
    const id = String(++this.seq);
    const command = str(body.command);
    return new Promise((resolve, reject) => {
      const timer = this.ctx.clock.setTimeout(() => {
        this.pending.delete(id);
        reject(new HubError("DEVICE_TIMEOUT", `${what}: no answer from the printer in ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.pending.set(id, { type, command, what, expect, resolve, reject, cancel: () => timer.cancel() });
      try {
        this.publish({ [type]: { sequence_id: id, ...body } });
      } catch (error) {
        this.pending.delete(id);
        timer.cancel();
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** `p`, or a DEVICE_TIMEOUT after the command timeout. */
  private within<T>(what: string, p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.ctx.clock.setTimeout(() => reject(new HubError("DEVICE_TIMEOUT", `${what}: no answer from the printer in ${Math.round(this.commandTimeoutMs / 1000)} s`)), this.commandTimeoutMs);
      p.then(
        (v) => {
          timer.cancel();
          resolve(v);
        },
        (error: unknown) => {
          timer.cancel();
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
  }

  /** Waits (up to the command timeout) until the merged state satisfies `ok`. */
  private waitFor(what: string, ok: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const started = this.ctx.clock.now();
      const check = this.ctx.clock.setInterval(() => {
        if (ok()) {
          check.cancel();
          resolve();
        } else if (this.client === null || !this.client.connected || this.ctx.clock.now() - started > this.commandTimeoutMs) {
          check.cancel();
          reject(
            new HubError(
              "DEVICE_TIMEOUT",
              `connected, but ${what} did not come in ${Math.round(this.commandTimeoutMs / 1000)} s (check auth.serial; is the printer in LAN-only mode? some P1 firmware needs a restart of the printer)`,
            ),
          );
        }
      }, 50);
    });
  }

  private takeVersion(reply: Record<string, unknown>): void {
    const modules = Array.isArray(reply.module) ? (reply.module as Array<Record<string, unknown>>) : [];
    const ota = modules.find((m) => m.name === "ota");
    if (typeof ota?.sw_ver === "string" && ota.sw_ver !== "") {
      this.info.FIRMWARE_NAME = `Bambu Lab ${ota.sw_ver}`;
      this.info.FIRMWARE_VERSION = ota.sw_ver;
    }
    if (typeof ota?.product_name === "string" && ota.product_name !== "") this.info.MACHINE_TYPE = ota.product_name;
  }

  // ---- jobs ----------------------------------------------------------------------------------

  protected async startPrint(program: string, file: string): Promise<void> {
    const project = /\.3mf$/i.test(file);
    const remote = `${program}${project ? ".gcode.3mf" : ".gcode"}`;
    await this.upload(file, remote);
    const started = (s: string): boolean => s === "PREPARE" || s === "RUNNING" || s === "SLICING";
    if (project) {
      // The H2 family takes the file by FTP path; the X1, P1 and A1 by their SD card.
      const url = /^H2/.test(this.model) ? `ftp:///${remote}` : `file:///sdcard/${remote}`;
      await this.command(
        "print",
        {
          command: "project_file",
          param: "Metadata/plate_1.gcode",
          url,
          subtask_name: program,
          project_id: "0",
          profile_id: "0",
          task_id: "0",
          subtask_id: "0",
          md5: "",
          timelapse: false,
          bed_type: "auto",
          bed_leveling: true,
          flow_cali: false,
          vibration_cali: false,
          layer_inspect: false,
          use_ams: false,
          ams_mapping: [],
        },
        `start ${program}`,
        started,
      );
    } else {
      await this.command("print", { command: "gcode_file", param: `/sdcard/${remote}` }, `start ${program}`, started);
    }
  }

  /** Implicit FTPS (TLS from the first byte), passive, `PROT P`; the certificate pinned as for MQTT. */
  private async upload(file: string, remote: string): Promise<void> {
    const ftp = new FtpClient(this.uploadTimeoutMs);
    try {
      try {
        await ftp.connectImplicitTLS(this.ep.host, this.ep.ftpsPort, { servername: this.ep.serial, rejectUnauthorized: false });
      } catch (error) {
        throw new HubError("TRANSPORT_FAILED", `upload: cannot reach the printer's FTPS server at ${this.ep.host}:${this.ep.ftpsPort} (${messageOf(error)})`);
      }
      this.checkCertificate(ftp.ftp.socket as tls.TLSSocket);
      try {
        await ftp.login("bblp", this.ep.accessCode);
      } catch (error) {
        if (error instanceof FTPError && error.code === 530) {
          throw new HubError("DEVICE_AUTH", "upload: the printer's FTPS server refused the access code (530): check auth.accessCode");
        }
        throw error;
      }
      await ftp.useDefaultSettings();
      await ftp.uploadFrom(file, remote);
    } catch (error) {
      if (error instanceof HubError) throw error;
      throw new HubError("DEVICE_REFUSED", `upload of ${remote} failed: ${messageOf(error)}`);
    } finally {
      ftp.close();
    }
  }

  protected async pauseJob(): Promise<void> {
    await this.command("print", { command: "pause", param: "" }, "pause", (s) => s === "PAUSE");
  }

  protected async resumeJob(): Promise<void> {
    await this.command("print", { command: "resume", param: "" }, "resume", (s) => s === "RUNNING");
  }

  protected async cancelJob(): Promise<void> {
    await this.command("print", { command: "stop", param: "" }, "stop", (s) => s === "FAILED" || s === "IDLE" || s === "FINISH");
  }

  /** `stop` (whatever runs), then both heaters to 0; fails only when neither got through. */
  protected async stopNow(reason: string): Promise<void> {
    const state = str(this.merged.gcode_state).toUpperCase();
    let stopError: Error | null = null;
    if (state === "RUNNING" || state === "PAUSE" || state === "PREPARE" || state === "SLICING") {
      try {
        await this.cancelJob();
      } catch (error) {
        stopError = error instanceof Error ? error : new Error(String(error));
      }
    }
    try {
      await this.coolDown();
    } catch (error) {
      if (stopError !== null) throw stopError;
      this.message(`e-stop (${reason}): the job is stopped but the heaters could not be switched off: ${messageOf(error)}`, "error");
      return;
    }
    if (stopError !== null) this.message(`e-stop (${reason}): stop failed (${messageOf(stopError)}); the heaters are off`, "error");
  }

  protected async coolDown(): Promise<void> {
    await this.command("print", { command: "gcode_line", param: "M104 S0\nM140 S0\n" }, "heaters off", null);
  }
}

/** Validates a `bambu-lan` printer's config and makes its driver. */
export function createBambuDriver(config: PrinterDeviceConfig, ctx: NetworkDriverContext, options: Partial<NetworkDriverOptions> = {}): NetworkPrinterDriver {
  const where = `devices: printer "${config.id}"`;
  let url: URL;
  try {
    url = new URL(config.url);
  } catch {
    throw new HubError("CONFIG_INVALID", `${where}: url must be mqtts://<printer address>:8883 for a Bambu Lab printer (it is not a URL)`);
  }
  if (url.protocol !== "mqtts:") {
    throw new HubError("CONFIG_INVALID", `${where}: url must start with mqtts:// for a Bambu Lab printer (MQTT over TLS on 8883), not ${url.protocol}//`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new HubError("CONFIG_INVALID", `${where}: url must not hold a user or password; the access code goes in auth.accessCode`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (host === "") throw new HubError("CONFIG_INVALID", `${where}: url has no printer address`);
  const ftps = url.searchParams.get("ftps");
  const ftpsPort = ftps === null ? 990 : Number(ftps);
  if (!Number.isInteger(ftpsPort) || ftpsPort < 1 || ftpsPort > 65535) {
    throw new HubError("CONFIG_INVALID", `${where}: url ?ftps= must be a port number (990 on the printers)`);
  }
  const missing = [config.auth?.serial === undefined ? "auth.serial (the printer's serial number: Settings > Device on its screen)" : null, config.auth?.accessCode === undefined ? "auth.accessCode (the LAN access code, in the network settings on its screen)" : null].filter(
    (m): m is string => m !== null,
  );
  if (missing.length > 0) throw new HubError("CONFIG_INVALID", `${where}: a Bambu Lab printer needs ${missing.join(" and ")}`);
  return new BambuDriver(
    {
      id: config.id,
      host,
      mqttPort: url.port === "" ? 8883 : Number(url.port),
      ftpsPort,
      serial: config.auth?.serial ?? "",
      accessCode: config.auth?.accessCode ?? "",
      fingerprint: config.auth?.fingerprint?.replace(/:/g, "").toUpperCase() ?? null,
    },
    ctx,
    options,
  );
}
