/**
 * The board simulator as StandardFirmataWiFi: Firmata over one TCP connection, with a plain socket
 * on the host side. A connection resets nothing; a power cut drops it and refuses new ones.
 */
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { encodeAnalogWrite, encodeQuery, encodeServoConfig, SYSEX } from "./codec.ts";
import { type FirmataBoardHandle, startFirmataBoard } from "./index.ts";

interface Host {
  socket: net.Socket;
  waitFor(hex: string): Promise<void>;
  closed: Promise<void>;
}

function connect(url: string): Promise<Host> {
  const { hostname, port } = new URL(url);
  return new Promise<Host>((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    let buf = Buffer.alloc(0);
    let waiters: Array<() => void> = [];
    socket.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (const w of waiters) w();
    });
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    socket.once("error", reject);
    socket.once("connect", () => {
      socket.removeListener("error", reject);
      socket.on("error", () => {});
      resolve({
        socket,
        closed,
        waitFor(hex) {
          const want = Buffer.from(hex.replace(/ /g, ""), "hex");
          return new Promise<void>((done, fail) => {
            const check = (): void => {
              if (!buf.includes(want)) return;
              waiters = waiters.filter((w) => w !== check);
              done();
            };
            waiters.push(check);
            closed.then(() => fail(new Error(`closed before "${hex}"; got ${buf.toString("hex")}`)), () => {});
            check();
          });
        },
      });
    });
  });
}

describe("firmata board simulator over TCP (StandardFirmataWiFi)", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("serves Firmata to one client, drops it on a power cut, refuses while off, and boots on the same port", async () => {
    const sim: FirmataBoardHandle = await startFirmataBoard({ tcpPort: 0 });
    cleanups.push(() => sim.stop());
    expect(sim.url).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);

    const host = await connect(sim.url);
    cleanups.push(() => void host.socket.destroy());
    // The boot banner went to nobody: the host asks.
    host.socket.write(Buffer.from([0xf9, 0xf0, 0x79, 0xf7]));
    await host.waitFor("f9 02 05");
    await host.waitFor("f0 79 02 05 53 00 74 00");
    const first: number[] = [];
    sim.events.on("firstPulse", (p) => first.push(p.pulseUs));
    host.socket.write(Buffer.concat([encodeServoConfig(9, 600, 2400), encodeAnalogWrite(9, 1050), encodeQuery(SYSEX.PIN_STATE_QUERY, 9)]));
    await host.waitFor("f0 6e 09 04 1a 08 f7");
    expect(first).toEqual([1050]);

    // A second client takes over (a host reconnecting after a Wi-Fi drop).
    const second = await connect(sim.url);
    cleanups.push(() => void second.socket.destroy());
    await host.closed;
    second.socket.write(Buffer.from([0xf9]));
    await second.waitFor("f9 02 05");

    await sim.unplug();
    await second.closed;
    expect(sim.plugged).toBe(false);
    await expect(connect(sim.url)).rejects.toMatchObject({ code: "ECONNREFUSED" });

    const url = sim.url;
    await sim.replug();
    expect(sim.url).toBe(url);
    const third = await connect(sim.url);
    cleanups.push(() => void third.socket.destroy());
    third.socket.write(encodeQuery(SYSEX.PIN_STATE_QUERY, 9));
    await third.waitFor("f0 6e 09 01 00 f7"); // rebooted: pin 9 is an output again
  });
});
