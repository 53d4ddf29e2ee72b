/**
 * How the arm finds and opens its board: a Uno that answers only seconds after its port opens, a
 * board that never answers, a replugged Uno that comes back as another port (by USB id and by a
 * /dev/serial/by-id link), and StandardFirmataWiFi over TCP. Real ptys (socat) and real sockets
 * against the StandardFirmata simulator; where a deadline is under test, the driver and the board
 * share a manual clock, so a 2.4 s boot takes no wall time.
 */
import { once } from "node:events";
import { mkdtemp, rm, symlink, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SerialPort } from "serialport";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Clock, ManualClock, systemClock } from "../../core/clock.ts";
import { HubError } from "../../core/errors.ts";
import { type Logger, silentLogger } from "../../core/logger.ts";
import type { RobotStatus } from "../../core/robots/driver.ts";
import type { LinkSpec } from "../../transports/byte-link.ts";
import { type PtyPair, openPtyPair } from "../../../../simulators/common/pty-pair.ts";
import { type FirmataBoardHandle, type FirmataBoardOptions, startFirmataBoard } from "../../../../simulators/firmata-board/index.ts";
import { BOARD_DISCONNECTED, FirmataArmDriver } from "./driver.ts";
import { handshakeTimeoutError, openFirmataBoard } from "./five.ts";
import type { ArmServoConfig, FirmataArmOptions } from "./options.ts";

const SERVOS: ArmServoConfig[] = [
  { pin: 3, minDeg: 20, maxDeg: 160, homeDeg: 70 },
  { pin: 5, minDeg: 10, maxDeg: 170, homeDeg: 90 },
  { pin: 6, minDeg: 30, maxDeg: 150, homeDeg: 120 },
  { pin: 9, minDeg: 0, maxDeg: 180, homeDeg: 45 },
];
const PROGRAMS: FirmataArmOptions["programs"] = {
  pick: [{ anglesDeg: [100, 60, 90, 45], durationMs: 100 }],
  slow: [{ anglesDeg: [160, 120, 90, 45], durationMs: 3000 }],
};
/** A servo's pulse is whole microseconds, 10 us per degree. */
const PULSE_DEG = 0.1;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  const failures: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (e) {
      failures.push(e);
    }
  }
  expect(failures).toEqual([]);
});

async function pty(): Promise<PtyPair> {
  const p = await openPtyPair();
  cleanups.push(() => p.close());
  return p;
}

async function board(opts: FirmataBoardOptions): Promise<FirmataBoardHandle> {
  const sim = await startFirmataBoard({ pins: { 2: 1 }, ...opts });
  cleanups.push(() => sim.stop());
  return sim;
}

/** A logger whose warnings a test can wait for. */
function watchedLogger(): Logger & { warned(pattern: RegExp): Promise<string> } {
  const warnings: string[] = [];
  const waiters: Array<() => void> = [];
  const logger = {
    ...silentLogger,
    warn(obj: object, msg?: string) {
      warnings.push(`${msg ?? ""} ${JSON.stringify(obj)}`);
      for (const w of waiters.splice(0)) w();
    },
    child: () => logger,
    warned(pattern: RegExp): Promise<string> {
      return new Promise<string>((resolve) => {
        const check = (): void => {
          const hit = warnings.find((w) => pattern.test(w));
          if (hit !== undefined) resolve(hit);
          else waiters.push(check);
        };
        check();
      });
    },
  };
  return logger;
}

function arm(url: string, clock: Clock, extra: Partial<FirmataArmOptions> = {}, logger: Logger = silentLogger): FirmataArmDriver {
  const driver = new FirmataArmDriver(
    { url, servos: SERVOS, doorPin: 2, programs: PROGRAMS, maxSpeedDegS: 180, homingSettleMs: 50, reconnectMinMs: 50, reconnectMaxMs: 200, ...extra },
    { clock, logger },
  );
  cleanups.push(() => driver.close());
  return driver;
}

/** Resolves with the first status (the current one included) that satisfies `ok`. */
function until(driver: FirmataArmDriver, ok: (s: RobotStatus) => boolean): Promise<RobotStatus> {
  if (ok(driver.status)) return Promise.resolve(driver.status);
  return new Promise<RobotStatus>((resolve) => {
    let done = false;
    driver.onStatus((s) => {
      if (done || !ok(s)) return;
      done = true;
      resolve(s);
    });
  });
}
const ready = (s: RobotStatus): boolean => s.connected && s.doorClosed;

describe("the Firmata handshake", () => {
  it("connects to a Uno that answers only 2.4 s after its port opens, at the first attempt", async () => {
    const clock = new ManualClock();
    const p = await pty();
    const sim = await board({ pty: p, clock, bootDelayMs: 2400 });
    const driver = arm(sim.url, clock);
    expect(driver.firmware()).toBeNull();
    driver.connect();
    // The hub opened the port and asked; the board, still in its bootloader, lost the question.
    await once(sim.events, "dropped");
    clock.advance(2400);
    await until(driver, ready);
    expect(driver.stats).toMatchObject({ connects: 1, failedAttempts: 0, lastError: null });
    expect(driver.firmware()).toBe("StandardFirmata.ino 2.5");
  });

  it("a deadline shorter than the board's boot fails the attempt and says so; the retry connects", async () => {
    const clock = new ManualClock();
    const p = await pty();
    const sim = await board({ pty: p, clock, bootDelayMs: 2400 });
    const logger = watchedLogger();
    const driver = arm(sim.url, clock, { handshakeTimeoutMs: 2000, reconnectMinMs: 100 }, logger);
    driver.connect();
    await once(sim.events, "dropped");
    clock.advance(2000);
    const warning = await logger.warned(/cannot connect/);
    expect(warning).toMatch(/no Firmata answer from serial .* within 2 s: nothing came back: is StandardFirmata uploaded to the board/);
    expect(driver.stats.failedAttempts).toBe(1);
    clock.advance(400); // the board finishes booting; the retry opens the port again
    await until(driver, ready);
    expect(driver.stats.connects).toBe(1);
  });

  it("a board that never answers fails after the deadline with what that usually means", async () => {
    const clock = new ManualClock();
    const p = await pty();
    // Something holds the far end and reads, but says nothing (no StandardFirmata on the board).
    const far = new SerialPort({ path: p.devicePath, baudRate: 57600, autoOpen: false });
    await new Promise<void>((resolve, reject) => far.open((e) => (e ? reject(e) : resolve())));
    cleanups.push(() => new Promise<void>((resolve) => far.close(() => resolve())));
    const heard = once(far, "data");
    const link: LinkSpec = { kind: "serial", path: p.hubPath, baud: 57600 };
    const attempt = openFirmataBoard({ link, clock, handshakeTimeoutMs: 10_000, reportVersionTimeoutMs: 60_000, eagerHandshake: true });
    await heard; // the version query went out
    clock.advance(9999);
    clock.advance(1);
    const error = await attempt.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubError);
    expect(error).toMatchObject({ code: "DEVICE_TIMEOUT", details: { handshakeTimeoutMs: 10_000, bytes: 0 } });
    expect((error as HubError).message).toBe(
      `no Firmata answer from serial ${p.hubPath} @ 57600 within 10 s: nothing came back: is StandardFirmata uploaded to the board, is the baud rate right (StandardFirmata uses 57600, this link 57600), and is this the right port?`,
    );
  });

  const serial: LinkSpec = { kind: "serial", path: "/dev/ttyACM0", baud: 115200 };
  const wifi: LinkSpec = { kind: "tcp", host: "192.168.4.20", port: 3030 };
  it.each([
    ["silence on a serial port", serial, { bytes: 0, version: null }, /within 10 s: nothing came back: is StandardFirmata uploaded to the board, is the baud rate right \(StandardFirmata uses 57600, this link 115200\), and is this the right port\?$/],
    ["bytes that are not Firmata", serial, { bytes: 37, version: null }, /within 10 s: 37 bytes came back, none of them Firmata: is the baud rate right \(StandardFirmata uses 57600, this link 115200\), or is another sketch running instead of StandardFirmata\?$/],
    ["a version but no capabilities", serial, { bytes: 3, version: { major: 2, minor: 5 } }, /sent its Firmata version \(2\.5\) but not the rest of the handshake/],
    ["silence over TCP", wifi, { bytes: 0, version: null }, /^no Firmata answer from tcp 192\.168\.4\.20:3030 within 10 s: nothing came back: is StandardFirmataWiFi running on that board \(port 3030 unless changed\)/],
    ["garbage over TCP", wifi, { bytes: 5, version: null }, /5 bytes came back, none of them Firmata: is another sketch running instead of StandardFirmata\?$/],
  ] as const)("a timeout names the likely cause: %s", (_name, link, got, pattern) => {
    const error = handshakeTimeoutError(link, 10_000, got);
    expect(error.code).toBe("DEVICE_TIMEOUT");
    expect(error.message).toMatch(pattern);
  });
});

describe("a replugged Uno that comes back as another port", () => {
  it("is found again by its USB vendor, product and serial number", async () => {
    const [a, b] = [await pty(), await pty()];
    const simA = await board({ pty: a });
    // Ptys are not USB devices: the port list is what the kernel would show for the Uno.
    let where: string | null = a.hubPath;
    const uno = (path: string, serialNumber: string) => ({ path, vendorId: "2341", productId: "0043", serialNumber, manufacturer: "Arduino (www.arduino.cc)", pnpId: undefined, locationId: undefined });
    vi.spyOn(SerialPort, "list").mockImplementation(() => Promise.resolve([uno("/dev/ttyACM7", "OTHER-UNO"), ...(where !== null ? [uno(where, "85736323838351F0E1E1")] : [])]));
    const driver = arm("serial://?vid=2341&pid=0043&serial=85736323838351F0E1E1", systemClock, { livenessIntervalMs: 100 });
    driver.connect();
    await until(driver, ready);
    await driver.run("slow");

    where = null;
    await simA.unplug();
    expect(await until(driver, (s) => !s.connected)).toMatchObject({ programState: "error", error: BOARD_DISCONNECTED });
    const simB = await board({ pty: b });
    where = b.hubPath;
    await until(driver, ready);
    expect(driver.stats.connects).toBe(2);
    await driver.resetFault();
    await driver.run("pick");
    await until(driver, (s) => s.programState === "done");
    expect(Object.keys(simB.servoAngles()).map(Number)).toEqual(SERVOS.map((s) => s.pin));
  });

  it("is found again through its /dev/serial/by-id link, which udev points at the new port", async () => {
    const [a, b] = [await pty(), await pty()];
    const dir = await mkdtemp(join(tmpdir(), "tec-by-id-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const byId = join(dir, "usb-Arduino__www.arduino.cc__0043_85736323838351F0E1E1-if00");
    await symlink(a.hubPath, byId);
    const simA = await board({ pty: a });
    const driver = arm(`serial://${byId}`, systemClock, { livenessIntervalMs: 100 });
    driver.connect();
    await until(driver, ready);

    await simA.unplug();
    await unlink(byId);
    await until(driver, (s) => !s.connected);
    await board({ pty: b });
    await symlink(b.hubPath, byId);
    await until(driver, ready);
    expect(driver.stats.connects).toBe(2);
  });
});

describe("StandardFirmataWiFi over TCP", () => {
  it("handshakes, homes every servo with its first pulse, runs, and reconnects after the connection drops", async () => {
    const sim = await board({ tcpPort: 0 });
    const first = new Map<number, number>();
    sim.events.on("firstPulse", (p) => first.set(p.pin, p.targetDeg));
    const driver = arm(sim.url, systemClock);
    driver.connect();
    await until(driver, ready);
    expect(driver.firmware()).toBe("StandardFirmata.ino 2.5");

    await driver.run("pick");
    await until(driver, (s) => s.programState === "done");
    for (const s of SERVOS) expect(Math.abs((first.get(s.pin) ?? NaN) - s.homeDeg)).toBeLessThanOrEqual(PULSE_DEG);
    await vi.waitFor(() => expect(Math.abs((sim.servoAngles()[3] ?? NaN) - 100)).toBeLessThanOrEqual(PULSE_DEG));

    await sim.unplug();
    await until(driver, (s) => !s.connected);
    await sim.replug();
    await until(driver, ready);
    expect(driver.stats).toMatchObject({ connects: 2, disconnects: 1 });
  });
});
