/**
 * The receiving side of the simulated Marlin (src/gcode/queue.cpp get_serial_commands and
 * feature/e_parser.h): the emergency parser sees every byte as it arrives, the bytes then wait in
 * a bounded RX buffer (beyond it they are lost, as on a UART without flow control), and whole lines
 * are checked for line number and checksum when the command queue has room for them.
 */
import type { Rng } from "../common/rng.ts";
import type { ActiveFaults } from "./faults.ts";
import { checksum, emergencyCommand, strtol } from "./gcode.ts";
import { MARLIN_STRINGS as S } from "./strings.ts";

/** The AVR RX_BUFFER_SIZE in bytes. */
export const RX_BUFFER_SIZE = 128;

export interface InputHooks {
  emit(line: string): void;
  emergency(cmd: "M108" | "M112" | "M410"): void;
  /** False once an emergency killed the firmware: the rest of the bytes are not looked at. */
  listening(): boolean;
  /** Marlin warns about moves received while stopped. */
  stopped(): boolean;
  faults(): ActiveFaults;
}

export class SerialInput {
  /** The last good line number (Marlin's last_N). */
  lastN = 0;
  overflowBytes = 0;
  private rx: number[] = [];
  private epLine = "";

  constructor(
    private readonly hooks: InputHooks,
    private readonly rng: Rng,
  ) {}

  reset(): void {
    this.lastN = 0;
    this.rx = [];
    this.epLine = "";
  }

  /** Bytes off the wire: the emergency parser first (as in the RX interrupt), then the buffer. */
  receive(bytes: Buffer): void {
    for (const b of bytes) {
      if (b === 0x0a || b === 0x0d) {
        const urgent = emergencyCommand(this.epLine);
        this.epLine = "";
        if (urgent !== null) this.hooks.emergency(urgent);
        if (!this.hooks.listening()) return;
      } else if (this.epLine.length < 64) {
        this.epLine += String.fromCharCode(b);
      }
      if (this.rx.length < RX_BUFFER_SIZE) this.rx.push(b);
      else this.overflowBytes++;
    }
  }

  /**
   * The next line for the command queue, or null when no complete line is waiting. Lines that
   * fail their checks are answered here (error, `Resend:`, `ok`) and skipped.
   */
  nextCommand(): string | null {
    for (;;) {
      const eol = this.rx.findIndex((b) => b === 0x0a || b === 0x0d);
      if (eol < 0) return null;
      const bytes = this.rx.splice(0, eol + 1).slice(0, eol);
      const cmd = this.check(this.addNoise(bytes));
      if (cmd !== null) return cmd;
    }
  }

  private check(raw: string): string | null {
    const faults = this.hooks.faults();
    const semi = raw.indexOf(";");
    const line = (semi >= 0 ? raw.slice(0, semi) : raw).replace(/^ +/, "");
    if (line.trim() === "") return null; // empty lines and comments get no ok
    if (faults.dontAnswer > 0) {
      faults.dontAnswer--;
      return null;
    }
    if (line.startsWith("N")) {
      // `N<n> M110 N<m>` takes its number from the M110 (Marlin queue.cpp).
      const isM110 = line.includes("M110");
      const n2 = isM110 ? line.indexOf("N", 4) : -1;
      const parsed = strtol(line.slice((n2 >= 0 ? n2 : 0) + 1));
      const n = Number.isNaN(parsed) ? 0 : parsed;
      if (n !== this.lastN + 1 && !isM110) return this.lineError(S.errLineNo);
      const star = line.lastIndexOf("*");
      if (star < 0) return this.lineError(S.errNoChecksum);
      if (strtol(line.slice(star + 1)) !== checksum(line.slice(0, star))) return this.lineError(S.errChecksum);
      if (faults.resendStorm > 0) {
        faults.resendStorm--;
        return this.lineError(S.errChecksum);
      }
      this.lastN = n;
    }
    if (this.hooks.stopped() && /G\s*0*[0-3](?!\d)/.test(line)) this.hooks.emit(S.errStopped);
    return line;
  }

  /** gcode_line_error + flush_and_request_resend. */
  private lineError(message: string): null {
    this.hooks.emit(`Error:${message}${this.lastN}`);
    this.rx = []; // Marlin drains the RX buffer
    this.hooks.emit(`Resend: ${this.lastN + 1}`);
    this.hooks.emit("ok");
    return null;
  }

  /** lineNoise: flip one bit of one byte, or drop it; never invent a line break. */
  private addNoise(bytes: number[]): string {
    const p = this.hooks.faults().lineNoise;
    if (bytes.length > 0 && p > 0 && this.rng.chance(p)) {
      const i = Math.floor(this.rng.next() * bytes.length);
      const b = bytes[i] ?? 0x20;
      const flipped = b ^ (1 << Math.floor(this.rng.next() * 7));
      if (this.rng.chance(0.5) || flipped === 0x0a || flipped === 0x0d || flipped === 0) bytes.splice(i, 1);
      else bytes[i] = flipped;
    }
    return Buffer.from(bytes).toString("latin1");
  }
}
