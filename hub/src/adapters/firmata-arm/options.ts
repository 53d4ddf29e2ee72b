/**
 * What a Firmata servo arm station is configured with, and the check of it. The check runs in the
 * driver's constructor (no I/O) and reports every problem at once; when the hub's config schema
 * gains a `firmata-arm` device kind, these bounds and defaults belong there and this file keeps
 * only the types.
 */
import { HubError } from "../../core/errors.ts";
import { type LinkSpec, parseLinkUrl } from "../../transports/byte-link.ts";

export interface ArmServoConfig {
  /** Digital pin the servo's signal wire is on. */
  pin: number;
  /** Joint limits in servo degrees (0-180): every command is clamped to them. */
  minDeg: number;
  maxDeg: number;
  /** Where the arm goes when its servos are attached (the first move after each connection). */
  homeDeg: number;
}

export interface ArmWaypoint {
  /** One angle per servo, in the order of `servos`. */
  anglesDeg: number[];
  /** At least this long to get there from the previous waypoint (longer if the speed limit needs it). */
  durationMs: number;
}

export interface FirmataArmOptions {
  /**
   * Where the board is: `serial:///dev/ttyACM0`, a stable `serial:///dev/serial/by-id/usb-…-if00`,
   * `serial://?vid=2341&pid=0043&serial=…` (looked up on every connect, so a replugged Uno that
   * comes back as another ttyACM is found again), baud 57600 unless `?baud=` says otherwise; or
   * `tcp://host:3030` for StandardFirmataWiFi (port 3030 when none is given).
   */
  url: string;
  /** 4 to 6 joints. */
  servos: ArmServoConfig[];
  /** Digital input wired to the cell's door switch, 1 = closed (use a pull-down: a broken wire reads open). */
  doorPin?: number;
  /** The programs this arm offers, by name: waypoints in joint space. */
  programs: Record<string, ArmWaypoint[]>;
  /** No joint moves faster than this (deg/s), whatever a program asks. */
  maxSpeedDegS: number;
  /** Interpolation step; default 50 ms. */
  stepMs?: number;
  /** Wait after the homing jump before the first step; default 500 ms (a hobby servo needs ~0.6 s for 180 deg). */
  homingSettleMs?: number;
  /** firmata.js `reportVersionTimeout`; default 1000 ms (the library's 5000 ms makes every connect slow). */
  reportVersionTimeoutMs?: number;
  /**
   * From opening the link to Firmata "ready", past which the attempt fails with a message saying
   * what that usually means; default 10000 ms. A Uno resets when its port opens and StandardFirmata
   * answers only after 2.2-2.5 s (bootloader, then it blinks its version).
   */
  handshakeTimeoutMs?: number;
  /**
   * Ask for the version as soon as the port is open (default true) rather than wait for the boot
   * banner and, failing that, `reportVersionTimeoutMs` (what firmata.js alone does).
   */
  eagerHandshake?: boolean;
  /** A REPORT_VERSION round trip this often; three missed in a row count as the board gone. 0 = off. Default 1000 ms. */
  livenessIntervalMs?: number;
  /** Reconnect backoff: first wait, doubling up to the maximum. Default 250 ms .. 5000 ms. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

export type ResolvedArmOptions = Required<Omit<FirmataArmOptions, "doorPin" | "eagerHandshake">> & {
  eagerHandshake: boolean;
  doorPin: number | null;
  link: LinkSpec;
};

type TimingKey = "stepMs" | "homingSettleMs" | "reportVersionTimeoutMs" | "handshakeTimeoutMs" | "livenessIntervalMs" | "reconnectMinMs" | "reconnectMaxMs";

export const ARM_DEFAULTS: Readonly<Record<TimingKey, number>> = {
  stepMs: 50,
  homingSettleMs: 500,
  reportVersionTimeoutMs: 1000,
  handshakeTimeoutMs: 10_000,
  livenessIntervalMs: 1000,
  reconnectMinMs: 250,
  reconnectMaxMs: 5000,
};

/** StandardFirmata's default baud rate (`Firmata.begin(57600)`). */
export const FIRMATA_BAUD = 57600;
/** StandardFirmataWiFi's default TCP port (`SERVER_PORT` in its wifiConfig.h). */
export const FIRMATA_TCP_PORT = 3030;

const isDigitalPin = (pin: number): boolean => Number.isInteger(pin) && pin >= 2 && pin <= 127;
const finite = (x: unknown): x is number => typeof x === "number" && Number.isFinite(x);

export function resolveArmOptions(o: FirmataArmOptions): ResolvedArmOptions {
  const problems: string[] = [];
  let link: ResolvedArmOptions["link"] | null = null;
  try {
    const spec = parseLinkUrl(withFirmataPort(o.url));
    if (spec.kind === "tcp") link = spec;
    else link = new URL(o.url).searchParams.has("baud") ? spec : { ...spec, baud: FIRMATA_BAUD };
  } catch (error) {
    problems.push(`url: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (o.servos.length < 4 || o.servos.length > 6) problems.push(`servos: ${o.servos.length} joints; a Firmata arm has 4 to 6`);
  const pins = new Set<number>();
  o.servos.forEach((s, i) => {
    if (!isDigitalPin(s.pin)) problems.push(`servos[${i}].pin: ${s.pin} is not a digital pin (2 or more)`);
    if (pins.has(s.pin)) problems.push(`servos[${i}].pin: pin ${s.pin} is used twice`);
    pins.add(s.pin);
    if (!finite(s.minDeg) || !finite(s.maxDeg) || !finite(s.homeDeg) || s.minDeg < 0 || s.maxDeg > 180 || s.minDeg >= s.maxDeg) {
      problems.push(`servos[${i}]: limits ${s.minDeg}..${s.maxDeg} must lie within 0..180 with min < max`);
    } else if (s.homeDeg < s.minDeg || s.homeDeg > s.maxDeg) {
      problems.push(`servos[${i}].homeDeg: ${s.homeDeg} is outside its limits ${s.minDeg}..${s.maxDeg}`);
    }
  });
  if (o.doorPin !== undefined && (!isDigitalPin(o.doorPin) || pins.has(o.doorPin))) problems.push(`doorPin: ${o.doorPin} must be a digital pin that no servo uses`);
  if (!finite(o.maxSpeedDegS) || o.maxSpeedDegS <= 0 || o.maxSpeedDegS > 600) problems.push(`maxSpeedDegS: ${o.maxSpeedDegS} must be above 0 and at most 600 (a fast hobby servo)`);
  const names = Object.keys(o.programs);
  if (names.length === 0) problems.push("programs: none given");
  for (const name of names) {
    const waypoints = o.programs[name] ?? [];
    if (waypoints.length === 0) problems.push(`programs.${name}: no waypoints`);
    waypoints.forEach((wp, i) => {
      if (wp.anglesDeg.length !== o.servos.length || !wp.anglesDeg.every(finite)) problems.push(`programs.${name}[${i}].anglesDeg: needs ${o.servos.length} numbers, one per servo`);
      if (!finite(wp.durationMs) || wp.durationMs < 0) problems.push(`programs.${name}[${i}].durationMs: ${wp.durationMs} must be 0 or more`);
    });
  }
  const timing = { ...ARM_DEFAULTS, ...definedOnly(o) };
  if (!(timing.stepMs >= 10 && timing.stepMs <= 1000)) problems.push(`stepMs: ${timing.stepMs} must be 10..1000`);
  if (!(timing.handshakeTimeoutMs >= 1000 && timing.handshakeTimeoutMs <= 120_000)) problems.push(`handshakeTimeoutMs: ${timing.handshakeTimeoutMs} must be 1000..120000 (a Uno takes 2.5 s to answer)`);
  if (!(timing.reconnectMinMs > 0 && timing.reconnectMaxMs >= timing.reconnectMinMs)) problems.push("reconnectMinMs/reconnectMaxMs: need 0 < min <= max");
  if (problems.length > 0 || link === null) throw new HubError("CONFIG_INVALID", `firmata arm: ${problems.join("; ")}`, { problems });
  return { ...timing, eagerHandshake: o.eagerHandshake ?? true, url: o.url, servos: o.servos, programs: o.programs, maxSpeedDegS: o.maxSpeedDegS, doorPin: o.doorPin ?? null, link };
}

/** `tcp://host` means StandardFirmataWiFi's port 3030. */
function withFirmataPort(url: string): string {
  try {
    const u = new URL(url);
    if (u.protocol !== "tcp:" || u.port !== "" || u.hostname === "") return url;
    u.port = String(FIRMATA_TCP_PORT);
    return u.href;
  } catch {
    return url; // parseLinkUrl says what is wrong with it
  }
}

function definedOnly(o: FirmataArmOptions): Partial<Record<TimingKey, number>> {
  const out: Partial<Record<TimingKey, number>> = {};
  for (const key of Object.keys(ARM_DEFAULTS) as TimingKey[]) {
    const value = o[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}
