import { describe, expect, it } from "vitest";
import { ManualClock } from "../../hub/src/core/clock.ts";
import { type ServoWrite, StandardFirmata, UNO_CAPABILITIES } from "./board.ts";
import { PIN_MODE, SYSEX, encodeAnalogWrite, encodeFirmware, encodeQuery, encodeReportDigital, encodeServoConfig, encodeSetPinMode, encodeVersion } from "./codec.ts";

function rig(opts: { inputs?: Record<number, 0 | 1>; servoSecondsPer60Deg?: number } = {}) {
  const clock = new ManualClock();
  const out: Buffer[] = [];
  const board = new StandardFirmata({ clock, output: (b) => out.push(b), ...opts });
  const servo: ServoWrite[] = [];
  board.events.on("servo", (w) => servo.push(w));
  const take = (): string =>
    out
      .splice(0)
      .map((b) => [...b].map((x) => x.toString(16).padStart(2, "0")).join(" "))
      .join(" | ");
  return { clock, board, servo, take };
}

describe("StandardFirmata board model", () => {
  it("boots with the version and firmware banner, and answers the handshake queries", () => {
    const { board, take } = rig();
    board.boot();
    const banner = take();
    expect(banner).toContain("f9 02 05");
    expect(banner).toContain(Buffer.from(encodeFirmware(2, 5, "StandardFirmata.ino")).toString("hex").replace(/(..)(?!$)/g, "$1 "));
    board.receive(Buffer.from([0xf9]));
    expect(take()).toBe("f9 02 05");
    board.receive(encodeQuery(SYSEX.CAPABILITY_QUERY));
    const caps = take();
    expect(caps.startsWith("f0 6c 7f 7f ")).toBe(true); // pins 0 and 1 (RX/TX) have no modes
    board.receive(encodeQuery(SYSEX.ANALOG_MAPPING_QUERY));
    expect(take()).toBe("f0 6a " + "7f ".repeat(14) + "00 01 02 03 04 05 f7");
  });

  it("describes an Uno: PWM on 3, 5, 6, 9, 10, 11, servo on every digital pin, A0-A5 on 14-19", () => {
    const modesOf = (pin: number) => (UNO_CAPABILITIES[pin] ?? []).map(([m]) => m);
    expect([...Array(20).keys()].filter((p) => modesOf(p).includes(PIN_MODE.PWM))).toEqual([3, 5, 6, 9, 10, 11]);
    expect([...Array(20).keys()].filter((p) => modesOf(p).includes(PIN_MODE.SERVO))).toEqual([...Array(18).keys()].map((i) => i + 2));
    expect([...Array(20).keys()].filter((p) => modesOf(p).includes(PIN_MODE.ANALOG))).toEqual([14, 15, 16, 17, 18, 19]);
  });

  it("attaches a servo at the library's 1500 us and maps writes in degrees and microseconds", () => {
    const { board, servo } = rig();
    board.boot();
    board.receive(encodeServoConfig(9, 600, 2400));
    expect(servo.at(-1)).toMatchObject({ pin: 9, kind: "attach", pulseUs: 1500, targetDeg: 90 });
    board.receive(encodeAnalogWrite(9, 1050)); // microseconds
    expect(board.servoAngles()[9]).toBeCloseTo(45, 5);
    board.receive(encodeAnalogWrite(9, 30)); // below 544: degrees
    expect(board.servoAngles()[9]).toBeCloseTo(30, 5);
    board.receive(encodeAnalogWrite(9, 3000)); // clamped to the max pulse
    expect(servo.at(-1)?.pulseUs).toBe(2400);
    expect(board.servoAngles()[9]).toBeCloseTo(180, 5);
  });

  it("a servo's first pulse is what is set once the burst that attached it has been handled", () => {
    const { board } = rig({ servoSecondsPer60Deg: 0.2 });
    const first: Array<{ pin: number; pulseUs: number }> = [];
    board.events.on("firstPulse", (p) => first.push({ pin: p.pin, pulseUs: p.pulseUs }));
    board.boot();
    // The attach and the home write in one burst: the servo never gets the library's 1500 us.
    board.receive(Buffer.concat([encodeServoConfig(3, 600, 2400), encodeAnalogWrite(3, 1050)]));
    // The write in a later burst: the ISR has already sent the stale pulse.
    board.receive(encodeServoConfig(5, 600, 2400));
    board.receive(encodeAnalogWrite(5, 1050));
    expect(first).toEqual([
      { pin: 3, pulseUs: 1050 },
      { pin: 5, pulseUs: 1500 },
    ]);
    // Re-attaching a servo that is pulsing keeps its pulse train: no new first pulse.
    board.receive(Buffer.concat([encodeServoConfig(3, 600, 2400), encodeAnalogWrite(3, 1100)]));
    expect(first).toHaveLength(2);
  });

  it("with a boot delay, loses input until its banner, which comes that long after power-up", () => {
    const clock = new ManualClock();
    const out: Buffer[] = [];
    const board = new StandardFirmata({ clock, output: (b) => out.push(b), bootDelayMs: 2400 });
    const dropped: number[] = [];
    board.events.on("dropped", (d) => dropped.push(d.bytes));
    board.boot();
    expect(board.isBooting).toBe(true);
    board.receive(Buffer.from([0xf9, 0xf0, 0x79, 0xf7])); // the host's version query, into the bootloader
    clock.advance(2399);
    expect(out).toHaveLength(0);
    expect(dropped).toEqual([4]);
    clock.advance(1);
    expect(board.isBooting).toBe(false);
    expect(Buffer.concat(out).subarray(0, 3)).toEqual(encodeVersion(2, 5));
    board.receive(Buffer.from([0xf9]));
    expect(out).toHaveLength(2);
    // Power lost while booting: no banner.
    board.boot();
    board.halt();
    clock.advance(5000);
    expect(out).toHaveLength(2);
  });

  it("ignores servo writes to a pin that is not in servo mode, and detaches on another mode", () => {
    const { board, servo } = rig();
    board.boot();
    board.receive(encodeAnalogWrite(6, 1000));
    expect(servo).toHaveLength(0);
    board.receive(encodeSetPinMode(6, PIN_MODE.SERVO)); // default range 544..2400
    board.receive(encodeAnalogWrite(6, 544));
    expect(board.servoAngles()[6]).toBeCloseTo(0, 5);
    board.receive(encodeSetPinMode(6, PIN_MODE.OUTPUT));
    board.receive(encodeAnalogWrite(6, 2400));
    expect(board.servoAngles()[6]).toBeCloseTo(0, 5);
  });

  it("moves the horn at the configured servo speed", () => {
    const { clock, board } = rig({ servoSecondsPer60Deg: 0.2 });
    board.boot();
    board.receive(encodeServoConfig(3, 600, 2400)); // at 90
    board.receive(encodeAnalogWrite(3, 2400)); // to 180: 90 deg at 300 deg/s = 300 ms
    clock.advance(100);
    expect(board.servoAngles()[3]).toBeCloseTo(120, 5);
    clock.advance(250);
    expect(board.servoAngles()[3]).toBeCloseTo(180, 5);
  });

  it("reports a digital input port when reporting starts and on every change, inputs only", () => {
    const { board, take } = rig({ inputs: { 2: 1 } });
    board.boot();
    take();
    board.receive(Buffer.concat([encodeSetPinMode(2, PIN_MODE.INPUT), encodeReportDigital(0, true)]));
    expect(take()).toBe("90 04 00");
    board.setDigitalInput(2, 1);
    expect(take()).toBe(""); // no change, nothing sent
    board.setDigitalInput(2, 0);
    expect(take()).toBe("90 00 00");
    board.setDigitalInput(4, 1); // pin 4 is an output: masked off, nothing changes
    expect(take()).toBe("");
    board.receive(encodeSetPinMode(4, PIN_MODE.INPUT));
    expect(take()).toBe("90 10 00");
    board.setDigitalInput(7, 1);
    board.receive(encodeSetPinMode(7, PIN_MODE.INPUT));
    expect(take()).toBe("90 10 01");
  });

  it("answers PIN_STATE_QUERY with the mode and the last value written", () => {
    const { board, take } = rig();
    board.boot();
    board.receive(Buffer.concat([encodeServoConfig(10, 600, 2400), encodeAnalogWrite(10, 1500)]));
    take();
    board.receive(encodeQuery(SYSEX.PIN_STATE_QUERY, 10));
    expect(take()).toBe("f0 6e 0a 04 5c 0b f7");
  });

  it("SYSTEM_RESET stops reporting and detaches servos without a banner; a power cycle sends one", () => {
    const { board, take, servo } = rig({ inputs: { 2: 1 } });
    board.boot();
    board.receive(Buffer.concat([encodeSetPinMode(2, PIN_MODE.INPUT), encodeReportDigital(0, true), encodeServoConfig(9, 600, 2400), encodeAnalogWrite(9, 600)]));
    take();
    board.receive(Buffer.from([0xff]));
    expect(take()).toBe("");
    board.setDigitalInput(2, 0);
    expect(take()).toBe("");
    const writes = servo.length;
    board.receive(encodeAnalogWrite(9, 2400));
    expect(servo).toHaveLength(writes);
    expect(board.servoAngles()[9]).toBeCloseTo(0, 5);
    board.boot();
    expect(take().startsWith(Buffer.from(encodeVersion(2, 5)).toString("hex").replace(/(..)(?!$)/g, "$1 "))).toBe(true);
  });

  it("streams reported analog inputs every sampling interval", () => {
    const { clock, board, take } = rig();
    board.boot();
    take();
    board.setAnalogInput(1, 512);
    board.receive(Buffer.from([0xc1, 0x01])); // REPORT_ANALOG A1 on: one report at once
    expect(take()).toBe("e1 00 04");
    board.receive(encodeQuery(SYSEX.SAMPLING_INTERVAL, 100, 0));
    clock.advance(250);
    expect(take()).toBe("e1 00 04 | e1 00 04");
    board.halt();
    clock.advance(500);
    expect(take()).toBe("");
  });
});
