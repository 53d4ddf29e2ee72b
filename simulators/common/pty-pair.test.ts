import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { SerialPort } from "serialport";
import { afterEach, describe, expect, it } from "vitest";
import { SOCAT_MISSING, openPtyPair, type PtyPair } from "./pty-pair.ts";

// Each test takes a fresh pair: a pty keeps unread bytes, so a shared pair would leak between tests.
const pairs: PtyPair[] = [];
const ports: SerialPort[] = [];

afterEach(async () => {
  for (const p of ports.splice(0)) if (p.isOpen) await new Promise<void>((r) => p.close(() => r()));
  for (const pair of pairs.splice(0)) await pair.close();
});

async function fresh(): Promise<PtyPair> {
  const pair = await openPtyPair();
  pairs.push(pair);
  return pair;
}

async function open(path: string): Promise<SerialPort> {
  const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  ports.push(port);
  return port;
}

function received(port: SerialPort, until: string): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    const onData = (chunk: Buffer): void => {
      text += chunk.toString("latin1");
      if (text.includes(until)) {
        port.off("data", onData);
        resolve(text);
      }
    };
    port.on("data", onData);
  });
}

describe("openPtyPair", () => {
  it("connects the hub end to the device end in both directions", async () => {
    const pair = await fresh();
    expect(existsSync(pair.hubPath) && existsSync(pair.devicePath)).toBe(true);
    const hub = await open(pair.hubPath);
    const dev = await open(pair.devicePath);
    const atDev = received(dev, "\n");
    hub.write("M105\n");
    expect(await atDev).toBe("M105\n");
    const atHub = received(hub, "\n");
    dev.write("ok T:21.00 /0.00\n");
    expect(await atHub).toBe("ok T:21.00 /0.00\n");
  });

  it("unplug fails the hub end like a pulled cable; replug brings the same paths back", async () => {
    const pair = await fresh();
    const hub = await open(pair.hubPath);
    const dev = await open(pair.devicePath); // a simulator holds the device end
    const first = received(hub, "\n");
    dev.write("start\n");
    await first; // the hub end is reading, as a driver's always is
    const errors: NodeJS.ErrnoException[] = [];
    hub.on("error", (e: NodeJS.ErrnoException) => errors.push(e));
    const closed = new Promise<{ disconnected?: boolean } | null>((resolve) =>
      hub.once("close", (err?: { disconnected?: boolean } | null) => resolve(err ?? null)),
    );
    await pair.unplug();
    expect(existsSync(pair.hubPath)).toBe(false);
    expect(pair.plugged).toBe(false);
    // The pending read may see the hang-up, or (serialport/bindings-cpp#162, as with a real USB
    // adapter) spin on zero-byte reads and never report it. The next write always fails (EIO).
    hub.write("M105\n", () => {});
    const err = await closed;
    expect(hub.isOpen).toBe(false);
    // What a driver sees: `close` carrying a DisconnectedError, or an EIO `error` from the write
    // followed by a plain `close`, depending on which of serialport's paths notices first.
    expect(err?.disconnected === true || errors.some((e) => e.code === "EIO")).toBe(true);
    expect(errors.filter((e) => e.code !== "EIO")).toEqual([]);

    await pair.replug();
    expect(pair.plugged).toBe(true);
    const hub2 = await open(pair.hubPath);
    const dev2 = await open(pair.devicePath);
    const atHub = received(hub2, "start\n");
    dev2.write("start\n");
    expect(await atHub).toBe("start\n");
  });

  it("runs beforeUnplug listeners while the ptys still exist, until unsubscribed", async () => {
    const pair = await fresh();
    let calls = 0;
    const off = pair.beforeUnplug(() => {
      if (existsSync(pair.devicePath) && pair.plugged) calls++;
    });
    await pair.unplug();
    await pair.unplug(); // already unplugged: no second call
    expect(calls).toBe(1);
    off();
    await pair.replug();
    await pair.unplug();
    expect(calls).toBe(1);
  });

  it("close removes the temporary directory and may be called twice", async () => {
    const pair = await openPtyPair();
    await pair.close();
    await pair.close();
    expect(existsSync(dirname(pair.hubPath))).toBe(false);
    await expect(pair.replug()).rejects.toThrow(/closed/);
  });

  it("says how to install socat when it is missing", async () => {
    await expect(openPtyPair({ socat: "/nonexistent/socat" })).rejects.toThrow(SOCAT_MISSING);
  });
});
