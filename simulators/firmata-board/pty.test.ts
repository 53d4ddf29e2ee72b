/**
 * The board simulator over a real pty (socat), with a plain serialport on the host side: the bytes
 * a host sees are StandardFirmata's, and pulling the cable looks like pulling a cable.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SerialPort } from "serialport";
import { type PtyPair, openPtyPair } from "../common/pty-pair.ts";
import { PIN_MODE, SYSEX, encodeAnalogWrite, encodeQuery, encodeReportDigital, encodeServoConfig, encodeSetPinMode } from "./codec.ts";
import { type FirmataBoardHandle, type ServoWrite, startFirmataBoard } from "./index.ts";

interface Host {
  port: SerialPort;
  received: () => Buffer;
  /** Resolves once the bytes received so far contain `hex` (space-separated), or rejects after 3 s. */
  waitFor(hex: string): Promise<void>;
  send(bytes: Buffer): Promise<void>;
  /**
   * Resolves when the port closes. It writes a version query every 100 ms meanwhile: about one
   * socat kill in a hundred leaves serialport's read poller deaf to the hang-up, and only a write
   * (EIO) then shows the line is gone, as it would to a host on a pulled cable.
   */
  closed(): Promise<Error | null>;
}

async function openHost(path: string): Promise<Host> {
  const port = new SerialPort({ path, baudRate: 57600, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
  await new Promise<void>((resolve) => port.flush(() => resolve()));
  let buf = Buffer.alloc(0);
  let waiters: Array<() => void> = [];
  port.on("data", (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (const w of waiters) w();
  });
  port.on("error", () => {});
  const closed = new Promise<Error | null>((resolve) => port.once("close", (e: Error | null) => resolve(e)));
  return {
    port,
    received: () => buf,
    async closed() {
      const poke = setInterval(() => {
        if (port.isOpen) port.write(Buffer.from([0xf9]), () => {});
      }, 100);
      try {
        return await closed;
      } finally {
        clearInterval(poke);
      }
    },
    send: (bytes) => new Promise<void>((resolve, reject) => port.write(bytes, (e) => (e ? reject(e) : resolve()))),
    waitFor(hex) {
      const want = Buffer.from(hex.replace(/ /g, ""), "hex");
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (buf.includes(want)) {
            clearTimeout(timer);
            waiters = waiters.filter((w) => w !== check);
            resolve();
          }
        };
        const timer = setTimeout(() => reject(new Error(`no "${hex}" within 3 s; got ${buf.toString("hex")}`)), 3000);
        waiters.push(check);
        check();
      });
    },
  };
}

describe("firmata board simulator over a pty", () => {
  let pty: PtyPair;
  let sim: FirmataBoardHandle;
  let host: Host | null = null;
  const cleanups: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    pty = await openPtyPair();
    cleanups.push(() => pty.close());
    sim = await startFirmataBoard({ pty, pins: { 2: 1 } });
    cleanups.push(() => sim.stop());
  });

  afterEach(async () => {
    const port = host?.port;
    host = null;
    if (port?.isOpen === true) await new Promise<void>((r) => port.close(() => r()));
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });

  it("speaks StandardFirmata: handshake queries, servos, a door switch", async () => {
    expect(sim.url).toBe(`serial://${pty.hubPath}?baud=57600`);
    host = await openHost(pty.hubPath);
    // The boot banner went out before the host opened (its flush may have dropped it): ask.
    await host.send(Buffer.from([0xf9, 0xf0, 0x79, 0xf7]));
    await host.waitFor("f9 02 05");
    await host.waitFor("f0 79 02 05 53 00 74 00"); // "St…"
    await host.send(encodeQuery(SYSEX.CAPABILITY_QUERY));
    await host.waitFor("7f f7");
    await host.send(encodeQuery(SYSEX.ANALOG_MAPPING_QUERY));
    await host.waitFor("f0 6a 7f 7f 7f 7f 7f 7f 7f 7f 7f 7f 7f 7f 7f 7f 00 01 02 03 04 05 f7");

    const writes: ServoWrite[] = [];
    sim.events.on("servo", (w) => writes.push(w));
    await host.send(Buffer.concat([encodeServoConfig(9, 600, 2400), encodeAnalogWrite(9, 1050)]));
    await host.send(encodeQuery(SYSEX.PIN_STATE_QUERY, 9));
    await host.waitFor("f0 6e 09 04 1a 08 f7"); // servo mode, 1050
    expect(writes.map((w) => [w.kind, w.pulseUs])).toEqual([
      ["attach", 1500],
      ["write", 1050],
    ]);
    expect(sim.servoAngles()[9]).toBeCloseTo(45, 5);

    await host.send(Buffer.concat([encodeSetPinMode(2, PIN_MODE.INPUT), encodeReportDigital(0, true)]));
    await host.waitFor("90 04 00"); // reported at once: door closed
    sim.setDigitalInput(2, 0);
    await host.waitFor("90 00 00"); // and on the change
  });

  it("an unplug fails the host's port like a pulled cable; after a replug the board boots afresh", async () => {
    host = await openHost(pty.hubPath);
    await host.send(Buffer.concat([encodeServoConfig(5, 600, 2400), encodeAnalogWrite(5, 600), encodeQuery(SYSEX.PIN_STATE_QUERY, 5)]));
    await host.waitFor("f0 6e 05 04 58 04 f7"); // servo mode, 600 us
    expect(sim.servoAngles()[5]).toBeCloseTo(0, 5);

    await sim.unplug();
    await host.closed();
    expect(host.port.isOpen).toBe(false);
    expect(sim.plugged).toBe(false);
    // No signal any more, but the horn stays where it was.
    expect(sim.servoAngles()[5]).toBeCloseTo(0, 5);

    const resets: string[] = [];
    sim.events.on("reset", (r) => resets.push(r.kind));
    await sim.replug();
    expect(resets).toEqual(["boot"]);
    host = await openHost(pty.hubPath);
    await host.send(Buffer.concat([encodeAnalogWrite(5, 2400), encodeQuery(SYSEX.PIN_STATE_QUERY, 5)]));
    // After the power cycle pin 5 is an output again: the write is ignored, the state says OUTPUT.
    await host.waitFor(`f0 6e 05 ${PIN_MODE.OUTPUT.toString(16).padStart(2, "0")} 00 f7`);
    expect(sim.servoAngles()[5]).toBeCloseTo(0, 5);
  });
});
