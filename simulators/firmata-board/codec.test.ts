import { describe, expect, it } from "vitest";
import {
  FirmataParser,
  type HostMessage,
  MAX_SYSEX_BYTES,
  encodeAnalog,
  encodeAnalogMapping,
  encodeAnalogWrite,
  encodeCapabilities,
  encodeDigitalPort,
  encodeFirmware,
  encodePinState,
  encodeServoConfig,
  encodeVersion,
} from "./codec.ts";

const hex = (b: Buffer): string => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" ");

describe("FirmataParser (host -> board)", () => {
  const cases: Array<[string, number[], HostMessage[]]> = [
    ["REPORT_VERSION query", [0xf9], [{ type: "reportVersion" }]],
    ["SYSTEM_RESET", [0xff], [{ type: "systemReset" }]],
    ["REPORT_FIRMWARE query", [0xf0, 0x79, 0xf7], [{ type: "queryFirmware" }]],
    ["CAPABILITY_QUERY", [0xf0, 0x6b, 0xf7], [{ type: "capabilityQuery" }]],
    ["ANALOG_MAPPING_QUERY", [0xf0, 0x69, 0xf7], [{ type: "analogMappingQuery" }]],
    ["PIN_STATE_QUERY pin 9", [0xf0, 0x6d, 0x09, 0xf7], [{ type: "pinStateQuery", pin: 9 }]],
    ["SAMPLING_INTERVAL 1000 ms", [0xf0, 0x7a, 0x68, 0x07, 0xf7], [{ type: "samplingInterval", ms: 1000 }]],
    ["SET_PIN_MODE 9 SERVO", [0xf4, 0x09, 0x04], [{ type: "setPinMode", pin: 9, mode: 4 }]],
    ["SET_DIGITAL_PIN_VALUE 13 HIGH", [0xf5, 0x0d, 0x01], [{ type: "setDigitalPin", pin: 13, value: 1 }]],
    ["SERVO_CONFIG 9 600..2400 us", [0xf0, 0x70, 0x09, 0x58, 0x04, 0x60, 0x12, 0xf7], [{ type: "servoConfig", pin: 9, minPulseUs: 600, maxPulseUs: 2400 }]],
    ["analog write pin 9 = 1500 us", [0xe9, 0x5c, 0x0b], [{ type: "analogWrite", pin: 9, value: 1500, extended: false }]],
    ["analog write pin 3 = 90 deg", [0xe3, 0x5a, 0x00], [{ type: "analogWrite", pin: 3, value: 90, extended: false }]],
    ["EXTENDED_ANALOG pin 18 = 1500", [0xf0, 0x6f, 0x12, 0x5c, 0x0b, 0xf7], [{ type: "analogWrite", pin: 18, value: 1500, extended: true }]],
    ["EXTENDED_ANALOG with three chunks", [0xf0, 0x6f, 0x05, 0x01, 0x00, 0x01, 0xf7], [{ type: "analogWrite", pin: 5, value: 1 | (1 << 14), extended: true }]],
    ["digital port 1: pins 8 and 15", [0x91, 0x01, 0x01], [{ type: "digitalPort", port: 1, value: 0x81 }]],
    ["REPORT_DIGITAL port 0 on", [0xd0, 0x01], [{ type: "reportDigital", port: 0, enable: true }]],
    ["REPORT_ANALOG A2 off", [0xc2, 0x00], [{ type: "reportAnalog", channel: 2, enable: false }]],
    ["messages back to back", [0xf9, 0xf4, 0x02, 0x00, 0xd0, 0x01], [{ type: "reportVersion" }, { type: "setPinMode", pin: 2, mode: 0 }, { type: "reportDigital", port: 0, enable: true }]],
    ["a command cuts off a half message", [0xe9, 0x10, 0xf9], [{ type: "reportVersion" }]],
    ["stray data bytes are ignored", [0x01, 0x02, 0xf9], [{ type: "reportVersion" }]],
    ["non-Firmata status bytes are ignored", [0x80, 0x01, 0x02, 0xa5, 0xf9], [{ type: "reportVersion" }]],
    ["an unknown sysex is passed on", [0xf0, 0x01, 0x05, 0xf7], [{ type: "sysex", command: 0x01, data: [0x05] }]],
    ["a SERVO_CONFIG too short to use", [0xf0, 0x70, 0x09, 0x58, 0xf7], [{ type: "sysex", command: 0x70, data: [0x09, 0x58] }]],
    ["an empty sysex yields nothing", [0xf0, 0xf7, 0xf9], [{ type: "reportVersion" }]],
  ];

  it.each(cases)("%s", (_name, bytes, expected) => {
    expect(new FirmataParser().push(bytes)).toEqual(expected);
  });

  it("assembles messages split across chunks", () => {
    const parser = new FirmataParser();
    const bytes = [0xf0, 0x70, 0x09, 0x58, 0x04, 0x60, 0x12, 0xf7, 0xe9, 0x5c, 0x0b];
    const out: HostMessage[] = [];
    for (const b of bytes) out.push(...parser.push([b]));
    expect(out).toEqual([
      { type: "servoConfig", pin: 9, minPulseUs: 600, maxPulseUs: 2400 },
      { type: "analogWrite", pin: 9, value: 1500, extended: false },
    ]);
  });

  it("drops a sysex longer than the board's buffer and recovers", () => {
    const parser = new FirmataParser();
    const long = [0xf0, 0x71, ...new Array<number>(MAX_SYSEX_BYTES + 5).fill(0x41), 0xf7];
    expect(parser.push([...long, 0xf9])).toEqual([{ type: "reportVersion" }]);
    expect(parser.stats.overflows).toBe(1);
  });

  it("counts what it ignores", () => {
    const parser = new FirmataParser();
    parser.push([0x01, 0xe9, 0x10, 0xf9]);
    expect(parser.stats.ignoredBytes).toBe(3);
  });
});

describe("encoders (board -> host)", () => {
  const cases: Array<[string, Buffer, string]> = [
    ["REPORT_VERSION 2.5", encodeVersion(2, 5), "f9 02 05"],
    ["REPORT_FIRMWARE 2.5 'Ab'", encodeFirmware(2, 5, "Ab"), "f0 79 02 05 41 00 62 00 f7"],
    ["capabilities: RX pin, a digital pin, a PWM/servo pin", encodeCapabilities([[], [[0, 1], [1, 1]], [[3, 8], [4, 14]]]), "f0 6c 7f 00 01 01 01 7f 03 08 04 0e 7f f7"],
    ["analog mapping", encodeAnalogMapping([null, null, 0, 1]), "f0 6a 7f 7f 00 01 f7"],
    ["pin state, one chunk", encodePinState(13, 1, 1), "f0 6e 0d 01 01 f7"],
    ["pin state, two chunks", encodePinState(9, 4, 1500), "f0 6e 09 04 5c 0b f7"],
    ["pin state, three chunks", encodePinState(9, 4, 0x4001), "f0 6e 09 04 01 00 01 f7"],
    ["digital port 0, pins 2 and 7", encodeDigitalPort(0, 0x84), "90 04 01"],
    ["analog A1 = 1023", encodeAnalog(1, 1023), "e1 7f 07"],
    ["servo config (host)", encodeServoConfig(9, 600, 2400), "f0 70 09 58 04 60 12 f7"],
    ["analog write pin 20 goes extended (host)", encodeAnalogWrite(20, 1500), "f0 6f 14 5c 0b f7"],
  ];

  it.each(cases)("%s", (_name, bytes, expected) => {
    expect(hex(bytes)).toBe(expected);
  });

  it("the firmware name round-trips as firmata.js decodes it", () => {
    const frame = [...encodeFirmware(2, 5, "StandardFirmata.ino")];
    // firmata.js QUERY_FIRMWARE: pairs from index 4 up to the byte before F7.
    const chars: number[] = [];
    for (let i = 4; i < frame.length - 1; i += 2) chars.push(((frame[i] ?? 0) & 0x7f) | (((frame[i + 1] ?? 0) & 0x7f) << 7));
    expect(String.fromCharCode(...chars)).toBe("StandardFirmata.ino");
  });
});
