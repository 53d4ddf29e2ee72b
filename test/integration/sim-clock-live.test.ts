/**
 * The simulated clock on the live stream: null in the snapshot until the simulator anchors it (and
 * for a hub without one), then in the snapshot and in a frame each time it is re-anchored.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { io as ioClient, type Socket } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import type { LiveFrame, LiveSnapshot } from "../../hub/src/api/live-protocol.ts";
import { parseConfig } from "../../hub/src/config/load.ts";
import { startHub, type Hub } from "../../hub/src/main.ts";
import { SimClock } from "../../simulators/tiny-house/sim-clock.ts";
import { until } from "./harness.ts";

describe("simulated clock on the live stream", () => {
  let dir = "";
  let hub: Hub | null = null;
  let socket: Socket | null = null;

  afterEach(async () => {
    socket?.close();
    await hub?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const boot = async (simClock?: SimClock) => {
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-sim-clock-"));
    const { config } = parseConfig({
      site: "sc",
      siteName: "Sim clock",
      demo: true,
      http: { host: "127.0.0.1", port: 0 },
      broker: { mode: "embedded", host: "127.0.0.1", port: 0 },
      storage: { path: path.join(dir, "hub.db") },
      opcua: { enabled: false },
      simulators: { tinyHouse: { enabled: false } },
      devices: [],
    });
    hub = await startHub(config, simClock !== undefined ? { simClock } : {});
    const s = ioClient(`http://127.0.0.1:${hub.httpPort}`, { transports: ["websocket"], forceNew: true, reconnection: false });
    socket = s;
    const frames: LiveFrame[] = [];
    s.on("frame", (f: LiveFrame) => frames.push(f));
    const snapshot = await new Promise<LiveSnapshot>((resolve) => s.once("snapshot", resolve));
    return { snapshot, frames };
  };

  it("is null without a simulated installation", async () => {
    const { snapshot } = await boot();
    expect(snapshot.simClock).toBeNull();
  });

  it("streams each re-anchoring, and new dashboards get it in their snapshot", async () => {
    const simClock = new SimClock();
    const { snapshot, frames } = await boot(simClock);
    expect(snapshot.simClock).toBeNull();
    const noon = { anchorRealMs: Date.now(), anchorSimMs: Date.UTC(2026, 5, 21, 10), speed: 60 };
    simClock.anchor(noon);
    await until(() => frames.some((f) => f.simClock !== undefined), 5000, "a frame with the clock");
    expect(frames.find((f) => f.simClock !== undefined)?.simClock).toEqual(noon);
    const fast = { ...noon, anchorRealMs: noon.anchorRealMs + 1000, speed: 600 };
    simClock.anchor(fast);
    await until(() => frames.some((f) => f.simClock?.speed === 600), 5000, "a frame with the new speed");
    // Frames carry it only when it changed.
    const count = frames.filter((f) => f.simClock !== undefined).length;
    expect(count).toBe(2);
    const late = ioClient(`http://127.0.0.1:${hub?.httpPort ?? 0}`, { transports: ["websocket"], forceNew: true, reconnection: false });
    const lateSnap = await new Promise<LiveSnapshot>((resolve) => late.once("snapshot", resolve));
    late.close();
    expect(lateSnap.simClock).toEqual(fast);
  });
});
