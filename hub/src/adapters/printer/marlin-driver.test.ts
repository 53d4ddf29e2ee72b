/**
 * The Marlin driver against a scripted firmware over a real TCP socket: lines the test chooses,
 * at the moments it chooses, which the printer simulator cannot be made to split.
 */
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../../core/clock.ts";
import { silentLogger } from "../../core/logger.ts";
import { createByteLink } from "../../transports/byte-link.ts";
import { SupervisedLink } from "../../transports/supervised-link.ts";
import type { HaltKind } from "./gcode.ts";
import { MarlinDriver } from "./marlin-driver.ts";

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await wait(10);
  }
}

/** A firmware that answers every line with `ok` and says whatever the test tells it to. */
async function scriptedFirmware() {
  let socket: net.Socket | null = null;
  const server = net.createServer((s) => {
    socket = s;
    s.on("data", (chunk) => {
      for (const line of chunk.toString("latin1").split("\n")) if (line.trim() !== "") s.write("ok\n");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    say: (line: string) => socket?.write(`${line}\n`),
    close: async () => {
      socket?.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe("MarlinDriver", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it("takes the first line of a halt as its cause; Marlin's kill() line after it is a message, not a second halt", async () => {
    const fw = await scriptedFirmware();
    cleanups.push(fw.close);
    const link = new SupervisedLink(createByteLink({ kind: "tcp", host: "127.0.0.1", port: fw.port }), { clock: systemClock, logger: silentLogger });
    const driver = new MarlinDriver(link, { clock: systemClock, logger: silentLogger });
    cleanups.push(() => driver.stop());
    const halts: Array<[HaltKind, string]> = [];
    const errors: string[] = [];
    driver.on("halt", (kind, message) => halts.push([kind, message]));
    driver.on("message", (text, level) => {
      if (level === "error") errors.push(text);
    });
    driver.start();
    await until(() => driver.state === "operational", 5000, "operational");

    fw.say("Error:MINTEMP triggered, system stopped! Heater_ID: 0");
    await until(() => driver.state === "halted", 2000, "halted");
    // Apart in time, as when the lines arrive in two reads with the hub's work in between.
    await wait(100);
    fw.say("Error:Printer halted. kill() called!");
    await until(() => errors.length === 2, 2000, "the kill line as a message");

    expect(halts.map(([kind]) => kind)).toEqual(["mintemp"]);
    expect(halts[0]?.[1]).toMatch(/MINTEMP/);
    expect(errors[1]).toMatch(/kill\(\) called/);
    expect(driver.state).toBe("halted");
  });
});
