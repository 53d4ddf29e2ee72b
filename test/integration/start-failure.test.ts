/**
 * A start that fails half-way closes what it had opened (issue 11, finding 6): with the HTTP port
 * taken, startHub rejects with the reason, and the broker thread, its port and the database are
 * released, so the same config starts once the port is free.
 */
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseConfig } from "../../hub/src/config/load.ts";
import { startHub } from "../../hub/src/main.ts";
import { freePort } from "../support/mosquitto.ts";
import { baseConfig } from "./harness.ts";

describe("a failed start", () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it("stops what already started, in reverse, and says why", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "tec-start-fail-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const httpPort = (blocker.address() as net.AddressInfo).port;
    const mqttPort = await freePort();
    const { config } = parseConfig(baseConfig(dir, { http: { host: "127.0.0.1", port: httpPort }, broker: { mode: "embedded", host: "127.0.0.1", port: mqttPort, observer: null } }));

    await expect(startHub(config)).rejects.toThrow(/EADDRINUSE|address already in use/);
    // The broker's port was given back: something else can listen on it now.
    const probe = net.createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once("error", reject);
      probe.listen(mqttPort, "127.0.0.1", resolve);
    });
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    // With the HTTP port free, the same config (and the same database) starts.
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
    const hub = await startHub(config);
    cleanup.push(() => hub.stop());
    expect(hub.httpPort).toBe(httpPort);
    expect(hub.mqttPort).toBe(mqttPort);
  });
});
