/**
 * The printer simulator over real transports: a pty pair made by socat (serialport on both ends,
 * as the hub will use it) and a TCP socket. Each test takes a fresh pair: ptys keep unread bytes.
 */
import { connect, type Socket } from "node:net";
import { SerialPort } from "serialport";
import { afterEach, describe, expect, it } from "vitest";
import { openPtyPair, type PtyPair } from "../common/pty-pair.ts";
import { frameLine } from "./gcode.ts";
import { startPrinterSim, type PrinterSimHandle } from "./index.ts";

interface Reader {
  /** Resolves with the next line matching `pred`; the lines before it are returned by `drain`. */
  next(pred: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  drain(): string[];
}

function lineReader(stream: NodeJS.EventEmitter): Reader {
  let partial = "";
  const pending: string[] = [];
  let skipped: string[] = [];
  let waiter: { pred: (l: string) => boolean; resolve: (l: string) => void } | null = null;
  const pump = (): void => {
    while (waiter !== null && pending.length > 0) {
      const line = pending.shift() ?? "";
      if (waiter.pred(line)) {
        const w = waiter;
        waiter = null;
        w.resolve(line);
      } else skipped.push(line);
    }
  };
  stream.on("data", (chunk: Buffer) => {
    partial += chunk.toString("latin1");
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    pending.push(...parts);
    pump();
  });
  return {
    next(pred, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching line within ${timeoutMs} ms; got ${skipped.join(" | ")}`)), timeoutMs);
        waiter = {
          pred,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        pump();
      });
    },
    drain() {
      const out = skipped;
      skipped = [];
      return out;
    },
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function openHost(path: string): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  cleanups.push(async () => {
    if (port.isOpen) await new Promise<void>((r) => port.close(() => r()));
  });
  return port;
}

async function simOnPty(): Promise<{ pair: PtyPair; sim: PrinterSimHandle }> {
  const pair = await openPtyPair();
  cleanups.push(() => pair.close());
  const sim = await startPrinterSim({ pty: pair, speedFactor: 10, seed: 42 });
  cleanups.push(() => sim.stop());
  return { pair, sim };
}

const isOk = (l: string): boolean => l === "ok";

describe("printer simulator on a pty", () => {
  it("talks Marlin to a serialport host: hello, checksummed lines, M105, a resend after line noise", async () => {
    const { pair, sim } = await simOnPty();
    expect(sim.url).toBe(`serial://${pair.hubPath}`);
    const host = await openHost(pair.hubPath);
    const rx = lineReader(host);
    const send = (line: string): void => void host.write(`${line}\n`);

    send("N0 M110 N0*125");
    await rx.next(isOk);
    send(frameLine(1, "G28"));
    await rx.next(isOk);
    send(frameLine(2, "G1 X10 Y10 F6000"));
    await rx.next(isOk);
    send(frameLine(3, "M105"));
    expect(await rx.next((l) => l.startsWith("ok"))).toBe("ok T:21.00 /0.00 B:21.00 /0.00 @:0 B@:0");

    // Every line now arrives damaged: the firmware asks for line 4 again (possibly after
    // acknowledging a line whose N was destroyed, which the next line number then exposes).
    sim.firmware.inject({ kind: "lineNoise", probability: 1 });
    let resend = "";
    for (let n = 4; n < 12 && resend === ""; n++) {
      send(frameLine(n, "M105"));
      const reply = await rx.next((l) => l.startsWith("Resend:") || l.startsWith("ok"));
      if (reply.startsWith("Resend:")) resend = reply;
    }
    expect(resend).toBe("Resend: 4");
    expect(rx.drain().some((l) => l.startsWith("Error:"))).toBe(true);
    await rx.next(isOk);
    sim.firmware.clearFaults();
    send(frameLine(4, "M105"));
    expect(await rx.next((l) => l.startsWith("ok"))).toMatch(/^ok T:21\.00 \/0\.00/);
    expect(sim.firmware.snapshot().lastLine).toBe(4);
  });

  it("paces replies to the baud rate", async () => {
    const { pair } = await simOnPty();
    const host = await openHost(pair.hubPath);
    const rx = lineReader(host);
    const started = performance.now();
    host.write("M115\n");
    await rx.next(isOk);
    const elapsedMs = performance.now() - started;
    const bytes = rx.drain().reduce((n, l) => n + l.length + 1, 0) + 3;
    // 115200 baud 8N1 is 11.52 bytes per ms: the reply cannot arrive much sooner than that. The
    // pacer counts whole milliseconds per chunk and a late timer lets the next chunk catch up, so
    // allow 10 % (an unpaced reply takes 1-5 ms, far below; CI once saw 92.4 ms for 93.8).
    expect(bytes).toBeGreaterThan(900);
    expect(elapsedMs).toBeGreaterThanOrEqual((bytes / 11.52) * 0.9 - 3);
  });

  it("an injected disconnect fails the hub end like a pulled cable; replug resets the printer", async () => {
    const { pair, sim } = await simOnPty();
    const host = await openHost(pair.hubPath);
    const rx = lineReader(host);
    host.write("M105\n");
    await rx.next((l) => l.startsWith("ok"));
    const closed = new Promise<void>((resolve) => host.once("close", () => resolve()));
    host.on("error", () => {}); // EIO from the write below, on some runs
    sim.firmware.inject({ kind: "disconnect" });
    for (let i = 0; i < 500 && pair.plugged; i++) await new Promise((r) => setTimeout(r, 10));
    expect(pair.plugged).toBe(false);
    host.write("M105\n"); // a driver polling temperatures finds out at the latest here
    await closed;
    expect(host.isOpen).toBe(false);

    await sim.replug();
    expect(sim.firmware.snapshot()).toMatchObject({ state: "running", linkDown: false, lastLine: 0 });
    const host2 = await openHost(pair.hubPath);
    const rx2 = lineReader(host2);
    host2.write("N0 M110 N0*125\n");
    await rx2.next(isOk);
  });
});

describe("printer simulator on TCP", () => {
  it("serves one connection: banner on connect, Marlin replies, unplug and replug", async () => {
    const sim = await startPrinterSim({ tcpPort: 0, seed: 42 });
    cleanups.push(() => sim.stop());
    expect(sim.url).toBe(`tcp://127.0.0.1:${sim.tcpPort}`);
    const port = sim.tcpPort ?? 0;
    const dial = async (): Promise<Socket> => {
      const s = connect(port, "127.0.0.1");
      await new Promise<void>((resolve, reject) => {
        s.once("connect", resolve);
        s.once("error", reject);
      });
      cleanups.push(() => {
        s.destroy();
        return Promise.resolve();
      });
      return s;
    };

    const sock = await dial();
    const rx = lineReader(sock);
    await rx.next((l) => l === "start"); // the connection reset the board
    sock.write(`N0 M110 N0*125\n${frameLine(1, "M105")}\n`);
    await rx.next(isOk);
    expect(await rx.next((l) => l.startsWith("ok"))).toBe("ok T:21.00 /0.00 B:21.00 /0.00 @:0 B@:0");

    const second = await dial();
    await new Promise<void>((resolve) => second.once("close", () => resolve()));

    const closed = new Promise<void>((resolve) => sock.once("close", () => resolve()));
    await sim.unplug();
    await closed;
    await expect(dial()).rejects.toThrow(/ECONNREFUSED/);

    await sim.replug();
    const again = await dial();
    const rx2 = lineReader(again);
    await rx2.next((l) => l === "start");
    again.write("M115\n");
    expect(await rx2.next((l) => l.startsWith("FIRMWARE_NAME:"))).toContain("MACHINE_TYPE:TEC Sim Printer");
  });
});
