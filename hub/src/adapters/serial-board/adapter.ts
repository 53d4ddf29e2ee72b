/**
 * Boards on USB serial that speak the contract in lines (PROTOCOL.md, "Serial framing"): the
 * handshake (WHO, HELLO, META, WELCOME or REFUSE), the hub's BEAT once a second, commands and
 * acks, and everything the board says turned into the same pipeline calls an MQTT device makes.
 * Partial lines, garbage and bad checksums are refused and counted; nothing they hold is used.
 */
import type { ActuatorSpec, ChannelSpec, CommandMessage, MetaMessage } from "../../../../firmware-bridge/contract/messages.ts";
import {
  LineSplitter,
  SERIAL_PROTOCOL_VERSION,
  type SerialLine,
  decodeLine,
  encodeLine,
  isDecodeError,
  numberField,
} from "../../../../firmware-bridge/serial/codec.ts";
import type { CommandTransport } from "../../core/actuators/commands.ts";
import type { Clock, Timer } from "../../core/clock.ts";
import type { Logger } from "../../core/logger.ts";
import type { Registry } from "../../core/registry/registry.ts";
import type { TelemetryPipeline } from "../../core/telemetry/pipeline.ts";
import type { DeviceId } from "../../core/types.ts";
import type { SupervisedLink } from "../../transports/supervised-link.ts";

const BEAT_MS = 1000;
/** HELLO without META end, or no HELLO at all after WHO: ask again after this long. */
const HANDSHAKE_RETRY_MS = 3000;

interface PendingMeta {
  model: string;
  firmware: string;
  boot: number;
  channels: Record<string, ChannelSpec>;
  actuators: Record<string, ActuatorSpec>;
}

export class SerialBoard implements CommandTransport {
  private splitter: LineSplitter;
  private seq = 0;
  private lastBoardSeq: number | null = null;
  private welcomed = false;
  private pending: PendingMeta | null = null;
  private teleSeq = 0;
  private beat: Timer | null = null;
  private retry: Timer | null = null;
  readonly stats = { lines: 0, badLines: 0, handshakes: 0, refused: 0, beforeHandshake: 0 };

  constructor(
    readonly id: DeviceId,
    private readonly link: SupervisedLink,
    private readonly ctx: { clock: Clock; logger: Logger; pipeline: TelemetryPipeline; registry: Registry; simulated: boolean },
  ) {
    this.splitter = new LineSplitter(
      (line) => this.onLine(line),
      (bytes) => this.bad("bad-line", `${bytes} bytes without a line end (garbage or a wrong baud rate)`),
    );
    link.onData((chunk) => this.splitter.push(chunk));
    link.onUp(() => this.onUp());
    link.onDown((reason) => this.onDown(reason));
  }

  start(): void {
    this.link.start();
  }

  async stop(): Promise<void> {
    this.stopTimers();
    await this.link.stop();
  }

  /** Lets go of the port (to flash the board) until `reclaim()`. */
  async release(): Promise<void> {
    await this.link.release();
  }

  reclaim(): void {
    this.link.reclaim();
  }

  get linkState(): string {
    return this.link.state;
  }

  sendCommand(deviceId: DeviceId, actuator: string, message: CommandMessage): void {
    if (deviceId !== this.id) return;
    this.send("CMD", [
      ["id", message.id],
      ["act", actuator],
      ["value", message.value],
      ["lease", message.leaseMs],
    ]);
  }

  private send(type: "WHO" | "WELCOME" | "REFUSE" | "BEAT" | "CMD", fields: ReadonlyArray<readonly [string, string | number]> = []): void {
    const line = encodeLine(type, this.seq++, fields);
    this.link.write(`${line}\n`).catch((error: unknown) => this.ctx.logger.debug({ err: error instanceof Error ? error.message : String(error) }, "serial write failed"));
  }

  private onUp(): void {
    this.splitter.reset();
    this.seq = 0;
    this.lastBoardSeq = null;
    this.welcomed = false;
    this.pending = null;
    this.send("WHO");
    this.scheduleRetry();
  }

  private onDown(reason: string): void {
    this.stopTimers();
    this.welcomed = false;
    this.ctx.pipeline.ingestRaw(this.id, "status", "offline");
    this.ctx.logger.warn({ board: this.id, reason }, "serial board gone");
  }

  private scheduleRetry(): void {
    this.retry?.cancel();
    this.retry = this.ctx.clock.setTimeout(() => {
      if (!this.welcomed && this.link.state === "open") {
        this.send("WHO");
        this.scheduleRetry();
      }
    }, HANDSHAKE_RETRY_MS);
  }

  private stopTimers(): void {
    this.beat?.cancel();
    this.beat = null;
    this.retry?.cancel();
    this.retry = null;
  }

  private bad(code: "bad-line", message: string): void {
    this.stats.badLines++;
    this.ctx.pipeline.reject(this.id, code, message);
  }

  private onLine(raw: string): void {
    this.stats.lines++;
    const line = decodeLine(raw);
    if (isDecodeError(line)) {
      this.bad("bad-line", `${line.code}: ${line.message}`);
      return;
    }
    if (line.type === "HELLO") this.lastBoardSeq = null;
    if (this.lastBoardSeq !== null) {
      if (line.seq <= this.lastBoardSeq && line.seq !== 0) {
        this.bad("bad-line", `seq ${line.seq} already seen (last ${this.lastBoardSeq})`);
        return;
      }
      if (line.seq > this.lastBoardSeq + 1) this.ctx.registry.countGap(this.id, line.seq - this.lastBoardSeq - 1);
    }
    this.lastBoardSeq = line.seq;
    switch (line.type) {
      case "HELLO":
        this.onHello(line);
        return;
      case "META":
        this.onMeta(line);
        return;
      case "TELE":
        this.onTele(line);
        return;
      case "HEALTH": {
        const state = line.fields.get("state");
        const detail = line.fields.get("detail");
        this.ctx.pipeline.ingest(this.id, "health", {
          state,
          uptimeS: numberField(line, "up"),
          boot: numberField(line, "boot"),
          ...(numberField(line, "heap") !== undefined ? { freeHeapB: numberField(line, "heap") } : {}),
          ...(detail !== undefined ? { detail } : {}),
        });
        return;
      }
      case "ACK": {
        const err = line.fields.get("err");
        this.ctx.pipeline.ingest(this.id, "ack", { id: line.fields.get("id"), ok: line.fields.get("ok") === "1", ...(err !== undefined ? { error: err } : {}) });
        return;
      }
      case "EVENT": {
        const detail = line.fields.get("detail");
        this.ctx.pipeline.ingest(this.id, "event", { ts: this.ctx.clock.now(), type: line.fields.get("type"), ...(detail !== undefined ? { detail } : {}) });
        return;
      }
      default:
        this.bad("bad-line", `a board does not send ${line.type}`);
    }
  }

  private onHello(line: SerialLine): void {
    this.stats.handshakes++;
    const proto = numberField(line, "proto");
    if (proto !== SERIAL_PROTOCOL_VERSION) {
      this.stats.refused++;
      this.send("REFUSE", [["reason", `protocol ${proto ?? "?"} not supported; this hub speaks ${SERIAL_PROTOCOL_VERSION}`]]);
      this.bad("bad-line", `board speaks protocol ${proto ?? "?"}, the hub ${SERIAL_PROTOCOL_VERSION}: refused`);
      return;
    }
    this.pending = {
      model: line.fields.get("model") ?? "serial board",
      firmware: line.fields.get("fw") ?? "?",
      boot: numberField(line, "boot") ?? 0,
      channels: {},
      actuators: {},
    };
    this.welcomed = true;
    this.send("WELCOME", [["proto", SERIAL_PROTOCOL_VERSION]]);
    this.ctx.pipeline.ingestRaw(this.id, "status", "online");
    this.beat?.cancel();
    this.beat = this.ctx.clock.setInterval(() => this.send("BEAT"), BEAT_MS);
    this.send("BEAT");
  }

  private onMeta(line: SerialLine): void {
    const p = this.pending;
    if (p === null) {
      this.bad("bad-line", "META before HELLO");
      return;
    }
    const label = line.fields.get("label");
    const ch = line.fields.get("ch");
    const act = line.fields.get("act");
    if (line.fields.has("end")) {
      const meta: MetaMessage = { contract: "1.0", model: p.model, firmware: p.firmware, boot: p.boot, ...(this.ctx.simulated ? { simulated: true } : {}), channels: p.channels, actuators: p.actuators };
      // The pipeline validates it exactly as it does a retained MQTT meta, and says what is wrong.
      this.ctx.pipeline.ingest(this.id, "meta", meta);
      this.pending = null;
      return;
    }
    if (ch !== undefined) {
      p.channels[ch] = {
        unit: line.fields.get("unit") ?? "",
        min: numberField(line, "min") ?? NaN,
        max: numberField(line, "max") ?? NaN,
        periodMs: numberField(line, "period") ?? NaN,
        ...(label !== undefined ? { label } : {}),
      };
    } else if (act !== undefined) {
      const min = numberField(line, "min");
      const max = numberField(line, "max");
      p.actuators[act] = {
        safe: numberField(line, "safe") ?? NaN,
        leaseMs: numberField(line, "lease") ?? NaN,
        ...(min !== undefined ? { min } : {}),
        ...(max !== undefined ? { max } : {}),
        ...(label !== undefined ? { label } : {}),
      };
    } else {
      this.bad("bad-line", "META line without ch, act or end");
    }
  }

  private onTele(line: SerialLine): void {
    // A board that was already streaming when the port opened (the hub restarted, a cable was
    // re-plugged) sends readings before the handshake has told the hub what they are: skipped and
    // counted, not refused as the board's fault; they start counting once its META has ended.
    if (!this.welcomed || this.pending !== null) {
      this.stats.beforeHandshake++;
      return;
    }
    const readings: Record<string, unknown> = {};
    for (const [k, v] of line.fields) {
      if (k === "ts") continue;
      const n = Number(v);
      // A board prints NaN as "nan": pass the text on, so the pipeline calls it "not a finite number".
      readings[k] = v.trim() !== "" && Number.isFinite(n) ? n : v;
    }
    this.ctx.pipeline.ingest(this.id, "tele", { ts: numberField(line, "ts") ?? this.ctx.clock.now(), seq: this.teleSeq++, readings });
  }
}
