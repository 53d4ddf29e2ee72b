/**
 * What survives a restart: known devices with their last state, and history. A kill -9 loses at
 * most the last second of telemetry.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { DeviceView } from "../../hub/src/core/types.ts";
import { spawnHub, type HubProcess } from "../support/spawn-hub.ts";
import { baseConfig, bootHarness, connectMqtt, type Harness, SITE, TEST_META, until } from "./harness.ts";

type Ok<T> = { ok: true; result: T };

describe("restart persistence", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
  });

  it("remembers known devices, their last state and their history after a clean restart", async () => {
    h = await bootHarness();
    const dev = await h.device("dev-a");
    await dev.describe();
    const start = Date.now();
    for (let i = 0; i < 5; i++) await dev.tele({ powerW: 100 + i, tempC: 20 });
    await until(async () => (await h!.get<Ok<DeviceView>>("/api/devices/dev-a")).body.result.state === "ready");
    await h.restartHub();
    const view = (await h.get<Ok<DeviceView>>("/api/devices/dev-a")).body.result;
    expect(view.state).toBe("unknown");
    expect(view.lastKnownState).toBe("ready");
    expect(view.model).toBe(TEST_META.model);
    expect(view.counters.messages).toBeGreaterThanOrEqual(5);
    expect(view.lastSeen).toBeGreaterThanOrEqual(start);
    const hist = await h.get<Ok<{ points: Array<{ avg: number }> }>>(`/api/history?device=dev-a&channel=powerW&from=${start - 1000}&to=${Date.now()}`);
    expect(hist.body.result.points.map((p) => p.avg)).toEqual([100, 101, 102, 103, 104]);
  });
});

describe("kill -9", () => {
  let dir: string | undefined;
  let hub: HubProcess | undefined;
  afterEach(async () => {
    if (hub?.proc.exitCode === null) await hub.kill("SIGKILL");
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("loses at most the last second of telemetry", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-kill-"));
    const configPath = path.join(dir, "hub.yaml");
    writeFileSync(configPath, stringify(baseConfig(dir, { storage: { path: path.join(dir, "hub.db"), flushMs: 250 } })));
    hub = await spawnHub(configPath);
    const url = `mqtt://127.0.0.1:${hub.mqttPort}`;
    const device = await connectMqtt(url, { username: "dev-a", password: "pw-dev-a", clientId: "dev-a-kill" });
    device.on("error", () => {});
    await device.publishAsync(`tec/${SITE}/dev-a/status`, "online", { retain: true, qos: 1 });
    await device.publishAsync(`tec/${SITE}/dev-a/meta`, JSON.stringify(TEST_META), { retain: true, qos: 1 });
    // Every acknowledged reading, with the time its PUBACK came back: value = sequence number.
    const acked: Array<{ seq: number; at: number }> = [];
    let seq = 0;
    const started = Date.now();
    while (Date.now() - started < 2500) {
      seq += 1;
      await device.publishAsync(`tec/${SITE}/dev-a/tele`, JSON.stringify({ ts: Date.now(), seq, readings: { powerW: seq, tempC: 20 } }), { qos: 1 });
      acked.push({ seq, at: Date.now() });
      await new Promise((r) => setTimeout(r, 5));
    }
    const killedAt = Date.now();
    await hub.kill("SIGKILL");
    device.end(true);

    hub = await spawnHub(configPath);
    const res = await fetch(`http://127.0.0.1:${hub.httpPort}/api/history?device=dev-a&channel=powerW&from=${started - 1000}&to=${killedAt + 1000}&resolution=raw&maxPoints=10000`);
    const body = (await res.json()) as Ok<{ points: Array<{ avg: number }> }>;
    const stored = new Set(body.result.points.map((p) => p.avg));
    const mustHave = acked.filter((a) => a.at <= killedAt - 1000);
    expect(mustHave.length).toBeGreaterThan(50);
    const lost = mustHave.filter((a) => !stored.has(a.seq));
    expect(lost).toEqual([]);
    // And what was stored is exactly what was sent, no more.
    expect(Math.max(...stored)).toBeLessThanOrEqual(seq);
    // Two hub starts under tsx: 10-25 s on a busy 2-core machine.
  }, 90_000);
});
