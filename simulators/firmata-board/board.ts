/**
 * StandardFirmata 2.5 on an Arduino Uno, minus the hardware: what the sketch does with each message
 * (firmata/arduino `examples/StandardFirmata/StandardFirmata.ino`) and what the Servo library does
 * with a pulse. Transport-free: bytes in through `receive`, bytes out through `output`.
 *
 * - Boot (`Firmata.begin`) prints the protocol version and the firmware name; SYSTEM_RESET does
 *   not (it only resets pins, reporting and servos, as `systemResetCallback` does). With a
 *   `bootDelayMs` the banner comes that long after power-up and input before it is lost, as on an
 *   Uno, whose bootloader takes the first second or so and whose sketch then blinks its version
 *   (2.2-2.5 s in all). (A real sketch keeps up to 64 bytes that arrive while it blinks and answers
 *   them after its banner; either way the banner is the first thing a host hears.)
 * - A servo attach starts the pulse train at the library's last pulse width (1500 us after
 *   power-up). The Servo ISR sends a channel's first pulse at its slot in the next 20 ms frame,
 *   while StandardFirmata handles every byte that has arrived before its loop moves on: so a write
 *   that comes in the same burst as the attach is the first pulse the servo sees (`firstPulse`), and
 *   one that comes in a later burst finds the servo already driven to the old pulse. (The model
 *   leaves out the half millisecond a 3-byte write spends on the wire at 57600 baud, in which the
 *   ISR could still slip in one old pulse.) A write below 544 is degrees, anything else is
 *   microseconds; both are clamped to the attached min/max pulse.
 * - Digital input ports are reported when reporting is turned on (forced) and on every change.
 * - There is no host-liveness check: outputs hold whatever was last written, whatever the host does.
 */
import { EventEmitter } from "node:events";
import type { Clock, Timer } from "../../hub/src/core/clock.ts";
import {
  FirmataParser,
  type HostMessage,
  PIN_MODE,
  type PinCapabilities,
  encodeAnalog,
  encodeAnalogMapping,
  encodeCapabilities,
  encodeDigitalPort,
  encodeFirmware,
  encodePinState,
  encodeVersion,
} from "./codec.ts";

export const FIRMWARE = { major: 2, minor: 5, name: "StandardFirmata.ino" } as const;

/** Arduino Servo.h: values below this are degrees, the rest microseconds; the default pulse range. */
export const SERVO_MIN_PULSE_WIDTH_US = 544;
export const SERVO_MAX_PULSE_WIDTH_US = 2400;
export const SERVO_DEFAULT_PULSE_US = 1500;

const TOTAL_PINS = 20;
const PWM_PINS = new Set([3, 5, 6, 9, 10, 11]);
const isDigital = (pin: number): boolean => pin >= 2 && pin <= 19;
const analogChannel = (pin: number): number | null => (pin >= 14 && pin <= 19 ? pin - 14 : null);

/** What StandardFirmata answers to CAPABILITY_QUERY on a Uno (pins 0 and 1 are the USB serial). */
export const UNO_CAPABILITIES: readonly PinCapabilities[] = Array.from({ length: TOTAL_PINS }, (_, pin) => {
  const modes: Array<readonly [number, number]> = [];
  if (isDigital(pin)) modes.push([PIN_MODE.INPUT, 1], [PIN_MODE.PULLUP, 1], [PIN_MODE.OUTPUT, 1]);
  if (analogChannel(pin) !== null) modes.push([PIN_MODE.ANALOG, 10]);
  if (PWM_PINS.has(pin)) modes.push([PIN_MODE.PWM, 8]);
  if (isDigital(pin)) modes.push([PIN_MODE.SERVO, 14]);
  if (pin === 18 || pin === 19) modes.push([PIN_MODE.I2C, 1]);
  return modes;
});

export interface ServoWrite {
  pin: number;
  /** "attach" when SERVO_CONFIG / SET_PIN_MODE starts the pulse train, "write" for an analog write. */
  kind: "attach" | "write";
  pulseUs: number;
  /** The angle this pulse asks for: min pulse = 0 deg, max pulse = 180 deg. */
  targetDeg: number;
  at: number;
}

export interface FirmataBoardEvents {
  servo: [ServoWrite];
  /** The first pulse a servo gets after being attached: where it starts to move. */
  firstPulse: [{ pin: number; pulseUs: number; targetDeg: number; at: number }];
  /** Bytes that arrived while the board was still booting, and were lost. */
  dropped: [{ bytes: number; at: number }];
  digitalWrite: [{ pin: number; value: number; at: number }];
  /** SYSTEM_RESET from the host, or a power cycle (`boot`). */
  reset: [{ kind: "system" | "boot"; at: number }];
}

export interface StandardFirmataOptions {
  clock: Clock;
  output: (bytes: Buffer) => void;
  /** Levels of the digital inputs at power-up (a door switch closed from the start: `{ 2: 1 }`). */
  inputs?: Readonly<Record<number, 0 | 1>>;
  /** Hobby-servo speed, seconds per 60 degrees (0.1-0.2 typical); omit for instantaneous motion. */
  servoSecondsPer60Deg?: number;
  /** From power-up to the banner, during which input is lost (an Uno: 2200-2500 ms); default 0. */
  bootDelayMs?: number;
}

interface ServoSlot {
  attached: boolean;
  minUs: number;
  maxUs: number;
  /** Kept across detach and SYSTEM_RESET, like the Servo library's ticks; 1500 after power-up. */
  pulseUs: number;
  /** Attached, but the ISR has not reached its slot yet: no pulse has gone out. */
  awaitingPulse: boolean;
  /** The horn: where it was when the last target was set, where it goes, since when. */
  fromDeg: number;
  toDeg: number;
  since: number;
}

export class StandardFirmata {
  readonly events = new EventEmitter<FirmataBoardEvents>();
  private readonly parser = new FirmataParser();
  private readonly modes = new Array<number>(TOTAL_PINS).fill(PIN_MODE.OUTPUT);
  private readonly state = new Array<number>(TOTAL_PINS).fill(0);
  private readonly inputs = new Array<0 | 1>(TOTAL_PINS).fill(0);
  private readonly analogValues = new Array<number>(6).fill(0);
  private readonly reportPorts = new Array<boolean>(3).fill(false);
  private readonly previousPorts = new Array<number>(3).fill(0);
  private analogReporting = 0;
  private samplingIntervalMs = 19;
  private sampler: Timer | null = null;
  private readonly servos = new Map<number, ServoSlot>();
  private readonly degPerMs: number | null;
  private booting: Timer | null = null;

  constructor(private readonly opts: StandardFirmataOptions) {
    for (const [pin, level] of Object.entries(opts.inputs ?? {})) this.inputs[Number(pin)] = level;
    this.degPerMs = opts.servoSecondsPer60Deg !== undefined ? 60 / (opts.servoSecondsPer60Deg * 1000) : null;
  }

  get stats(): Readonly<{ ignoredBytes: number; overflows: number }> {
    return this.parser.stats;
  }

  /** True from power-up until the banner. */
  get isBooting(): boolean {
    return this.booting !== null;
  }

  get samplingInterval(): number {
    return this.samplingIntervalMs;
  }

  /**
   * Power-up: every servo loses its signal (the horn stays put), pins reset, and the banner goes
   * out, at once or `bootDelayMs` later.
   */
  boot(): void {
    this.booting?.cancel();
    this.booting = null;
    for (const slot of this.servos.values()) {
      this.settle(slot);
      slot.attached = false;
      slot.awaitingPulse = false;
      slot.pulseUs = SERVO_DEFAULT_PULSE_US;
      slot.minUs = SERVO_MIN_PULSE_WIDTH_US;
      slot.maxUs = SERVO_MAX_PULSE_WIDTH_US;
    }
    this.systemReset("boot");
    const banner = (): void => {
      this.booting = null;
      this.opts.output(Buffer.concat([encodeVersion(FIRMWARE.major, FIRMWARE.minor), encodeFirmware(FIRMWARE.major, FIRMWARE.minor, FIRMWARE.name)]));
    };
    const delayMs = this.opts.bootDelayMs ?? 0;
    if (delayMs > 0) this.booting = this.opts.clock.setTimeout(banner, delayMs);
    else banner();
  }

  /** Power off: nothing runs any more (no sampling, no boot in progress). */
  halt(): void {
    this.sampler?.cancel();
    this.sampler = null;
    this.booting?.cancel();
    this.booting = null;
  }

  /** One burst of bytes from the host: every message in it is handled before any servo pulses. */
  receive(bytes: Uint8Array): void {
    if (this.booting !== null) {
      this.events.emit("dropped", { bytes: bytes.length, at: this.opts.clock.now() });
      return;
    }
    for (const message of this.parser.push(bytes)) this.handle(message);
    const now = this.opts.clock.now();
    for (const [pin, slot] of this.servos) {
      if (!slot.awaitingPulse) continue;
      slot.awaitingPulse = false;
      if (!slot.attached) continue;
      // The ISR reaches the channel: the horn starts towards whatever pulse is set by now.
      slot.fromDeg = this.hornDeg(slot, now);
      slot.toDeg = this.pulseDeg(slot);
      slot.since = now;
      this.events.emit("firstPulse", { pin, pulseUs: slot.pulseUs, targetDeg: slot.toDeg, at: now });
    }
  }

  setDigitalInput(pin: number, value: 0 | 1 | boolean): void {
    if (!isDigital(pin)) throw new Error(`pin ${pin} is not a digital pin on a Uno`);
    this.inputs[pin] = value === true || value === 1 ? 1 : 0;
    this.checkDigitalInputs();
  }

  setAnalogInput(channel: number, value: number): void {
    if (channel < 0 || channel > 5) throw new Error(`A${channel} does not exist on a Uno`);
    this.analogValues[channel] = Math.max(0, Math.min(1023, Math.round(value)));
  }

  /** Horn angles (pin -> degrees) of every servo attached since the simulator started. */
  servoAngles(): Record<number, number> {
    const out: Record<number, number> = {};
    for (const [pin, slot] of this.servos) out[pin] = this.hornDeg(slot, this.opts.clock.now());
    return out;
  }

  pinMode(pin: number): number | undefined {
    return this.modes[pin];
  }

  private handle(m: HostMessage): void {
    switch (m.type) {
      case "reportVersion":
        return this.opts.output(encodeVersion(FIRMWARE.major, FIRMWARE.minor));
      case "queryFirmware":
        return this.opts.output(encodeFirmware(FIRMWARE.major, FIRMWARE.minor, FIRMWARE.name));
      case "capabilityQuery":
        return this.opts.output(encodeCapabilities(UNO_CAPABILITIES));
      case "analogMappingQuery":
        return this.opts.output(encodeAnalogMapping(Array.from({ length: TOTAL_PINS }, (_, pin) => analogChannel(pin))));
      case "pinStateQuery":
        if (m.pin < TOTAL_PINS) this.opts.output(encodePinState(m.pin, this.modes[m.pin] ?? 0, this.state[m.pin] ?? 0));
        return;
      case "samplingInterval":
        this.samplingIntervalMs = Math.max(1, m.ms);
        return this.restartSampler();
      case "setPinMode":
        return this.setPinMode(m.pin, m.mode);
      case "servoConfig":
        if (!isDigital(m.pin)) return;
        this.attach(m.pin, m.minPulseUs, m.maxPulseUs);
        return this.setPinMode(m.pin, PIN_MODE.SERVO);
      case "analogWrite":
        return this.analogWrite(m.pin, m.value);
      case "digitalPort":
        return this.digitalPort(m.port, m.value);
      case "setDigitalPin":
        if (isDigital(m.pin) && this.modes[m.pin] === PIN_MODE.OUTPUT) this.writeOutput(m.pin, m.value ? 1 : 0);
        return;
      case "reportDigital":
        if (m.port >= this.reportPorts.length) return;
        this.reportPorts[m.port] = m.enable;
        // Firmata >= 2.4: enabling a report sends the port's state at once.
        if (m.enable) this.outputPort(m.port, true);
        return;
      case "reportAnalog":
        if (m.channel > 5) return;
        this.analogReporting = m.enable ? this.analogReporting | (1 << m.channel) : this.analogReporting & ~(1 << m.channel);
        if (m.enable) this.opts.output(encodeAnalog(m.channel, this.analogValues[m.channel] ?? 0));
        return this.restartSampler();
      case "systemReset":
        return this.systemReset("system");
      case "sysex":
        return; // StandardFirmata ignores sysex ids it has no feature for
    }
  }

  private setPinMode(pin: number, mode: number): void {
    if (pin >= TOTAL_PINS || this.modes[pin] === PIN_MODE.IGNORE) return;
    const slot = this.servos.get(pin);
    if (mode !== PIN_MODE.SERVO && slot?.attached === true) slot.attached = false;
    const channel = analogChannel(pin);
    if (channel !== null) {
      this.analogReporting = mode === PIN_MODE.ANALOG ? this.analogReporting | (1 << channel) : this.analogReporting & ~(1 << channel);
      this.restartSampler();
    }
    this.state[pin] = 0;
    const supported = UNO_CAPABILITIES[pin]?.some(([m]) => m === mode) ?? false;
    if (!supported) return;
    this.modes[pin] = mode;
    if (mode === PIN_MODE.PULLUP) this.state[pin] = 1;
    if (mode === PIN_MODE.SERVO && slot?.attached !== true) this.attach(pin, -1, -1);
    this.checkDigitalInputs();
  }

  /** Servo.attach(pin, min, max); -1 means the library's defaults (544 / 2400 us). */
  private attach(pin: number, minUs: number, maxUs: number): void {
    const now = this.opts.clock.now();
    let slot = this.servos.get(pin);
    if (slot === undefined) {
      // A servo fresh from the box: its horn is somewhere; say the middle.
      slot = { attached: false, awaitingPulse: false, minUs: 0, maxUs: 0, pulseUs: SERVO_DEFAULT_PULSE_US, fromDeg: 90, toDeg: 90, since: now };
      this.servos.set(pin, slot);
    }
    slot.minUs = minUs < 0 ? SERVO_MIN_PULSE_WIDTH_US : minUs;
    slot.maxUs = maxUs < 0 ? SERVO_MAX_PULSE_WIDTH_US : Math.max(maxUs, slot.minUs + 1);
    // A re-attach of a pulsing servo (SERVO_CONFIG detaches and attaches) keeps its pulse train.
    if (!slot.attached) slot.awaitingPulse = true;
    slot.attached = true;
    this.drive(pin, slot, slot.pulseUs, "attach");
  }

  private analogWrite(pin: number, value: number): void {
    if (pin >= TOTAL_PINS) return;
    const mode = this.modes[pin];
    if (mode === PIN_MODE.SERVO) {
      const slot = this.servos.get(pin);
      if (slot === undefined || !slot.attached) return;
      // Servo::write: below MIN_PULSE_WIDTH it is an angle, clamped to 0..180 and mapped.
      const us = value < SERVO_MIN_PULSE_WIDTH_US ? slot.minUs + (Math.min(180, value) * (slot.maxUs - slot.minUs)) / 180 : value;
      this.state[pin] = value;
      this.drive(pin, slot, Math.round(us), "write");
    } else if (mode === PIN_MODE.PWM) {
      this.state[pin] = value;
    }
  }

  private drive(pin: number, slot: ServoSlot, pulseUs: number, kind: ServoWrite["kind"]): void {
    const now = this.opts.clock.now();
    slot.pulseUs = Math.max(slot.minUs, Math.min(slot.maxUs, pulseUs));
    // Before its first pulse the servo has no signal yet: the horn waits (see `receive`).
    if (!slot.awaitingPulse) {
      slot.fromDeg = this.hornDeg(slot, now);
      slot.toDeg = this.pulseDeg(slot);
      slot.since = now;
    }
    this.events.emit("servo", { pin, kind, pulseUs: slot.pulseUs, targetDeg: this.pulseDeg(slot), at: now });
  }

  /** The angle the current pulse asks for: min pulse = 0 deg, max pulse = 180 deg. */
  private pulseDeg(slot: ServoSlot): number {
    return ((slot.pulseUs - slot.minUs) * 180) / (slot.maxUs - slot.minUs);
  }

  private hornDeg(slot: ServoSlot, now: number): number {
    if (this.degPerMs === null) return slot.toDeg;
    const travel = this.degPerMs * Math.max(0, now - slot.since);
    const delta = slot.toDeg - slot.fromDeg;
    return Math.abs(delta) <= travel ? slot.toDeg : slot.fromDeg + Math.sign(delta) * travel;
  }

  /** Freezes the horn where it is now (before its signal changes). */
  private settle(slot: ServoSlot): void {
    const now = this.opts.clock.now();
    slot.fromDeg = slot.toDeg = this.hornDeg(slot, now);
    slot.since = now;
  }

  private digitalPort(port: number, value: number): void {
    for (let bit = 0; bit < 8; bit++) {
      const pin = port * 8 + bit;
      if (!isDigital(pin)) continue;
      // Only OUTPUT (and INPUT, where a 1 turned the pull-up on in older sketches) are written.
      if (this.modes[pin] === PIN_MODE.OUTPUT) this.writeOutput(pin, (value >> bit) & 1);
      else if (this.modes[pin] === PIN_MODE.INPUT) this.state[pin] = (value >> bit) & 1;
    }
  }

  private writeOutput(pin: number, value: number): void {
    if (this.state[pin] === value) return;
    this.state[pin] = value;
    this.events.emit("digitalWrite", { pin, value, at: this.opts.clock.now() });
  }

  private readPort(port: number): number {
    let value = 0;
    for (let bit = 0; bit < 8; bit++) {
      const pin = port * 8 + bit;
      const mode = this.modes[pin];
      // portConfigInputs: only pins in an input mode count.
      if (mode === PIN_MODE.INPUT || mode === PIN_MODE.PULLUP) value |= (this.inputs[pin] ?? 0) << bit;
    }
    return value;
  }

  private outputPort(port: number, force: boolean): void {
    const value = this.readPort(port);
    if (!force && this.previousPorts[port] === value) return;
    this.previousPorts[port] = value;
    this.opts.output(encodeDigitalPort(port, value));
  }

  private checkDigitalInputs(): void {
    this.reportPorts.forEach((on, port) => {
      if (on) this.outputPort(port, false);
    });
  }

  private restartSampler(): void {
    this.sampler?.cancel();
    this.sampler = null;
    if (this.analogReporting === 0) return;
    this.sampler = this.opts.clock.setInterval(() => {
      for (let channel = 0; channel < 6; channel++) {
        if ((this.analogReporting & (1 << channel)) !== 0 && this.modes[14 + channel] === PIN_MODE.ANALOG) {
          this.opts.output(encodeAnalog(channel, this.analogValues[channel] ?? 0));
        }
      }
    }, this.samplingIntervalMs);
  }

  /** systemResetCallback: analog pins back to ANALOG, the rest OUTPUT, reporting off, servos detached. */
  private systemReset(kind: "system" | "boot"): void {
    this.reportPorts.fill(false);
    this.previousPorts.fill(0);
    this.analogReporting = 0;
    for (let pin = 0; pin < TOTAL_PINS; pin++) {
      const slot = this.servos.get(pin);
      if (slot !== undefined) slot.attached = false;
      this.state[pin] = 0;
      this.modes[pin] = analogChannel(pin) !== null ? PIN_MODE.ANALOG : PIN_MODE.OUTPUT;
    }
    // StandardFirmata: analog pins come back in ANALOG mode but with reporting off.
    this.restartSampler();
    this.events.emit("reset", { kind, at: this.opts.clock.now() });
  }
}
