/**
 * The Firmata wire format (firmata/protocol `protocol.md` v2.8, summarised in protocols-safety.md §3):
 * MIDI-style command bytes with the high bit set, 7-bit data bytes, and sysex frames `F0 id … F7`.
 *
 * `FirmataParser` reads what a host sends to a board, byte for byte the way the Arduino library's
 * `FirmataParser::parse` does: a command byte seen while a message waits for data starts a new
 * message (the half message is dropped), data bytes with no message waiting are ignored, and a
 * sysex frame collects everything up to `F7`. The `encode*` functions build what the board answers.
 */

export const CMD = {
  DIGITAL_MESSAGE: 0x90,
  ANALOG_MESSAGE: 0xe0,
  REPORT_ANALOG: 0xc0,
  REPORT_DIGITAL: 0xd0,
  SET_PIN_MODE: 0xf4,
  SET_DIGITAL_PIN_VALUE: 0xf5,
  REPORT_VERSION: 0xf9,
  SYSTEM_RESET: 0xff,
  START_SYSEX: 0xf0,
  END_SYSEX: 0xf7,
} as const;

export const SYSEX = {
  EXTENDED_ANALOG: 0x6f,
  ANALOG_MAPPING_QUERY: 0x69,
  ANALOG_MAPPING_RESPONSE: 0x6a,
  CAPABILITY_QUERY: 0x6b,
  CAPABILITY_RESPONSE: 0x6c,
  PIN_STATE_QUERY: 0x6d,
  PIN_STATE_RESPONSE: 0x6e,
  SERVO_CONFIG: 0x70,
  STRING_DATA: 0x71,
  REPORT_FIRMWARE: 0x79,
  SAMPLING_INTERVAL: 0x7a,
} as const;

export const PIN_MODE = { INPUT: 0x00, OUTPUT: 0x01, ANALOG: 0x02, PWM: 0x03, SERVO: 0x04, I2C: 0x06, PULLUP: 0x0b, IGNORE: 0x7f } as const;

/** The Arduino library's sysex buffer (`MAX_DATA_BYTES` on an ATmega328): longer frames are dropped. */
export const MAX_SYSEX_BYTES = 64;

/** What a host can ask of a StandardFirmata board. */
export type HostMessage =
  | { type: "digitalPort"; port: number; value: number }
  | { type: "analogWrite"; pin: number; value: number; extended: boolean }
  | { type: "reportAnalog"; channel: number; enable: boolean }
  | { type: "reportDigital"; port: number; enable: boolean }
  | { type: "setPinMode"; pin: number; mode: number }
  | { type: "setDigitalPin"; pin: number; value: number }
  | { type: "reportVersion" }
  | { type: "systemReset" }
  | { type: "queryFirmware" }
  | { type: "capabilityQuery" }
  | { type: "analogMappingQuery" }
  | { type: "pinStateQuery"; pin: number }
  | { type: "samplingInterval"; ms: number }
  | { type: "servoConfig"; pin: number; minPulseUs: number; maxPulseUs: number }
  /** A sysex StandardFirmata does not act on (I2C, serial, user ids …), or one too short to use. */
  | { type: "sysex"; command: number; data: number[] };

export interface ParserStats {
  /** Data bytes with no message waiting for them, and half messages cut off by a new command. */
  ignoredBytes: number;
  /** Sysex frames longer than MAX_SYSEX_BYTES. */
  overflows: number;
}

const DATA_BYTES: Readonly<Record<number, number>> = {
  [CMD.ANALOG_MESSAGE]: 2,
  [CMD.DIGITAL_MESSAGE]: 2,
  [CMD.SET_PIN_MODE]: 2,
  [CMD.SET_DIGITAL_PIN_VALUE]: 2,
  [CMD.REPORT_ANALOG]: 1,
  [CMD.REPORT_DIGITAL]: 1,
};

export class FirmataParser {
  private command = 0;
  private channel = 0;
  private waitForData = 0;
  private data: number[] = [];
  private sysex: number[] | null = null;
  private sysexOverflow = false;
  readonly stats: ParserStats = { ignoredBytes: 0, overflows: 0 };

  /** Feeds bytes in; returns the messages they completed, in order. */
  push(bytes: Iterable<number>): HostMessage[] {
    const out: HostMessage[] = [];
    for (const byte of bytes) {
      const message = this.step(byte & 0xff);
      if (message !== null) out.push(message);
    }
    return out;
  }

  private step(byte: number): HostMessage | null {
    if (this.sysex !== null) {
      if (byte === CMD.END_SYSEX) {
        const frame = this.sysex;
        const overflow = this.sysexOverflow;
        this.sysex = null;
        this.sysexOverflow = false;
        if (overflow) return null;
        return decodeSysex(frame);
      }
      if (this.sysex.length >= MAX_SYSEX_BYTES) {
        if (!this.sysexOverflow) this.stats.overflows++;
        this.sysexOverflow = true;
      } else {
        this.sysex.push(byte);
      }
      return null;
    }
    if (this.waitForData > 0 && byte < 0x80) {
      this.data.push(byte);
      this.waitForData--;
      return this.waitForData === 0 ? this.finish() : null;
    }
    if (byte < 0x80) {
      this.stats.ignoredBytes++;
      return null;
    }
    if (this.waitForData > 0) this.stats.ignoredBytes += this.data.length + 1;
    this.waitForData = 0;
    this.data = [];
    const command = byte < 0xf0 ? byte & 0xf0 : byte;
    this.channel = byte < 0xf0 ? byte & 0x0f : 0;
    const wanted = DATA_BYTES[command];
    if (wanted !== undefined) {
      this.command = command;
      this.waitForData = wanted;
      return null;
    }
    switch (command) {
      case CMD.START_SYSEX:
        this.sysex = [];
        return null;
      case CMD.SYSTEM_RESET:
        return { type: "systemReset" };
      case CMD.REPORT_VERSION:
        return { type: "reportVersion" };
      default:
        // 0x80-0x8F, 0xA0-0xBF, 0xF1-0xF3, 0xF6-0xF8, 0xFA-0xFE: not Firmata.
        this.stats.ignoredBytes++;
        return null;
    }
  }

  private finish(): HostMessage {
    const [a = 0, b = 0] = this.data;
    this.data = [];
    switch (this.command) {
      case CMD.ANALOG_MESSAGE:
        return { type: "analogWrite", pin: this.channel, value: a | (b << 7), extended: false };
      case CMD.DIGITAL_MESSAGE:
        return { type: "digitalPort", port: this.channel, value: a | (b << 7) };
      case CMD.SET_PIN_MODE:
        return { type: "setPinMode", pin: a, mode: b };
      case CMD.SET_DIGITAL_PIN_VALUE:
        return { type: "setDigitalPin", pin: a, value: b };
      case CMD.REPORT_ANALOG:
        return { type: "reportAnalog", channel: this.channel, enable: a !== 0 };
      default:
        return { type: "reportDigital", port: this.channel, enable: a !== 0 };
    }
  }
}

function decodeSysex(frame: number[]): HostMessage | null {
  const [command, ...data] = frame;
  if (command === undefined) return null;
  switch (command) {
    case SYSEX.REPORT_FIRMWARE:
      return { type: "queryFirmware" };
    case SYSEX.CAPABILITY_QUERY:
      return { type: "capabilityQuery" };
    case SYSEX.ANALOG_MAPPING_QUERY:
      return { type: "analogMappingQuery" };
    case SYSEX.PIN_STATE_QUERY:
      if (data[0] !== undefined) return { type: "pinStateQuery", pin: data[0] };
      break;
    case SYSEX.SAMPLING_INTERVAL:
      if (data.length > 1) return { type: "samplingInterval", ms: (data[0] ?? 0) | ((data[1] ?? 0) << 7) };
      break;
    case SYSEX.SERVO_CONFIG:
      if (data.length > 4) {
        const [pin = 0, minL = 0, minM = 0, maxL = 0, maxM = 0] = data;
        return { type: "servoConfig", pin, minPulseUs: minL | (minM << 7), maxPulseUs: maxL | (maxM << 7) };
      }
      break;
    case SYSEX.EXTENDED_ANALOG:
      if (data.length > 1) {
        // StandardFirmata: value bytes are 7-bit chunks, least significant first (up to 3 used).
        const [pin = 0, ...chunks] = data;
        const value = chunks.slice(0, 3).reduce((sum, chunk, i) => sum | (chunk << (7 * i)), 0);
        return { type: "analogWrite", pin, value, extended: true };
      }
      break;
  }
  return { type: "sysex", command, data };
}

// ---------------------------------------------------------------- board -> host

export function encodeVersion(major: number, minor: number): Buffer {
  return Buffer.from([CMD.REPORT_VERSION, major & 0x7f, minor & 0x7f]);
}

/** REPORT_FIRMWARE: version, then the sketch's file name as 7-bit LSB/MSB pairs. */
export function encodeFirmware(major: number, minor: number, name: string): Buffer {
  const bytes = [CMD.START_SYSEX, SYSEX.REPORT_FIRMWARE, major & 0x7f, minor & 0x7f];
  for (const c of Buffer.from(name, "latin1")) bytes.push(c & 0x7f, (c >> 7) & 0x7f);
  bytes.push(CMD.END_SYSEX);
  return Buffer.from(bytes);
}

/** One pin's supported modes as `[mode, resolution bits]`; an empty list is a pin with none (RX/TX). */
export type PinCapabilities = ReadonlyArray<readonly [mode: number, resolution: number]>;

export function encodeCapabilities(pins: readonly PinCapabilities[]): Buffer {
  const bytes: number[] = [CMD.START_SYSEX, SYSEX.CAPABILITY_RESPONSE];
  for (const pin of pins) {
    for (const [mode, resolution] of pin) bytes.push(mode & 0x7f, resolution & 0x7f);
    bytes.push(0x7f);
  }
  bytes.push(CMD.END_SYSEX);
  return Buffer.from(bytes);
}

/** One byte per pin: its analog channel, or 127 for a pin without one. */
export function encodeAnalogMapping(channels: ReadonlyArray<number | null>): Buffer {
  return Buffer.from([CMD.START_SYSEX, SYSEX.ANALOG_MAPPING_RESPONSE, ...channels.map((c) => (c === null ? 0x7f : c & 0x7f)), CMD.END_SYSEX]);
}

/** PIN_STATE_RESPONSE: the state in as many 7-bit chunks as it needs (at least one). */
export function encodePinState(pin: number, mode: number, state: number): Buffer {
  const bytes = [CMD.START_SYSEX, SYSEX.PIN_STATE_RESPONSE, pin & 0x7f, mode & 0x7f, state & 0x7f];
  if (state >= 0x80) bytes.push((state >> 7) & 0x7f);
  if (state >= 0x4000) bytes.push((state >> 14) & 0x7f);
  bytes.push(CMD.END_SYSEX);
  return Buffer.from(bytes);
}

/** A digital port: pins 0-6 in the first data byte, pin 7 in the second. */
export function encodeDigitalPort(port: number, value: number): Buffer {
  return Buffer.from([CMD.DIGITAL_MESSAGE | (port & 0x0f), value & 0x7f, (value >> 7) & 0x7f]);
}

export function encodeAnalog(channel: number, value: number): Buffer {
  return Buffer.from([CMD.ANALOG_MESSAGE | (channel & 0x0f), value & 0x7f, (value >> 7) & 0x7f]);
}

// ---------------------------------------------------------------- host -> board (for tests and tools)

export function encodeSetPinMode(pin: number, mode: number): Buffer {
  return Buffer.from([CMD.SET_PIN_MODE, pin & 0x7f, mode & 0x7f]);
}

export function encodeServoConfig(pin: number, minPulseUs: number, maxPulseUs: number): Buffer {
  return Buffer.from([CMD.START_SYSEX, SYSEX.SERVO_CONFIG, pin & 0x7f, minPulseUs & 0x7f, (minPulseUs >> 7) & 0x7f, maxPulseUs & 0x7f, (maxPulseUs >> 7) & 0x7f, CMD.END_SYSEX]);
}

/** An analog write: `E0|pin` for pins 0-15, EXTENDED_ANALOG above (what firmata.js does). */
export function encodeAnalogWrite(pin: number, value: number): Buffer {
  if (pin <= 15) return encodeAnalog(pin, value);
  return Buffer.from([CMD.START_SYSEX, SYSEX.EXTENDED_ANALOG, pin & 0x7f, value & 0x7f, (value >> 7) & 0x7f, CMD.END_SYSEX]);
}

export function encodeReportDigital(port: number, enable: boolean): Buffer {
  return Buffer.from([CMD.REPORT_DIGITAL | (port & 0x0f), enable ? 1 : 0]);
}

export function encodeQuery(sysexId: number, ...data: number[]): Buffer {
  return Buffer.from([CMD.START_SYSEX, sysexId, ...data.map((d) => d & 0x7f), CMD.END_SYSEX]);
}
