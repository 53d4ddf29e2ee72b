/**
 * The live stream with a fleet: readings from thousands of channels do not make every tick a frame
 * of thousands of values (the main thread that builds them runs the interlocks too), while a
 * device's state change still goes out at the next tick. A real hub on the injected clock, a real
 * socket.io client; readings go in through the telemetry pipeline.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { io as ioClient, type Socket } from "socket.io-client";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LiveFrame } from "../../hub/src/api/live-protocol.ts";
import { parseConfig } from "../../hub/src/config/load.ts";
import { ManualClock } from "../../hub/src/core/clock.ts";
import { startHub, type Hub } from "../../hub/src/main.ts";
import { until } from "./harness.ts";

const DEVICES = 100;
const CHANNELS = 20;
const channels = Object.fromEntries(Array.from({ length: CHANNELS }, (_, c) => [`ch${c}`, { unit: "W", min: 0, max: 1e6, periodMs: 60_000 }]));

describe("live frames with many devices", () => {
  let dir: string;
  let clock: ManualClock;
  let hub: Hub;
  let socket: Socket;
  const frames: LiveFrame[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-live-budget-"));
    clock = new ManualClock(Date.UTC(2026, 10, 2, 9, 0, 0));
    const { config } = parseConfig({
      site: "lb",
      siteName: "Live budget",
      demo: true,
      http: { host: "127.0.0.1", port: 0 },
      broker: { mode: "embedded", host: "127.0.0.1", port: 0 },
      storage: { path: path.join(dir, "hub.db") },
      opcua: { enabled: false },
      simulators: { tinyHouse: { enabled: false } },
      // 40 frames a second, at most 20,000 readings a second: 2,000 changed channels fit every 100 ms.
      live: { maxFramesPerS: 40, maxValuesPerS: 20_000 },
      devices: Array.from({ length: DEVICES }, (_, i) => ({ kind: "mqtt" as const, id: `d${i}`, name: `D${i}`, password: `pw-${i}` })),
    });
    hub = await startHub(config, { clock });
    for (let i = 0; i < DEVICES; i++) hub.pipeline.ingestRaw(`d${i}`, "meta", JSON.stringify({ model: "M", firmware: "1", boot: 1, channels, actuators: {} }));
    frames.length = 0;
    socket = ioClient(`http://127.0.0.1:${hub.httpPort}`, { transports: ["websocket"], forceNew: true, reconnection: false });
    const snapshot = new Promise<void>((resolve) => socket.once("snapshot", () => resolve()));
    socket.on("frame", (f: LiveFrame) => frames.push(f));
    await snapshot;
  });

  afterEach(async () => {
    socket.close();
    await hub.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  let seq = 0;
  /** Every channel of every device changes once. */
  const everyChannel = (): void => {
    seq += 1;
    for (let i = 0; i < DEVICES; i++) {
      hub.pipeline.ingestRaw(`d${i}`, "tele", JSON.stringify({ ts: clock.now(), seq, readings: Object.fromEntries(Object.keys(channels).map((c) => [c, seq])) }));
    }
  };

  it("sends a fleet's readings at most maxValuesPerS, coalesced, and nothing is missed", async () => {
    // Two seconds of ticks, every channel changing before each: 2,000 changed channels a tick.
    const ticks = 80;
    for (let t = 0; t < ticks; t++) {
      everyChannel();
      clock.advance(25);
    }
    // Every frame the hub sent has arrived (its health counts them).
    const sent = async () => ((await (await fetch(`http://127.0.0.1:${hub.httpPort}/api/hub/health`)).json()) as { result: { live: { frames: number } } }).result.live.frames;
    const emitted = await sent();
    await until(() => frames.length === emitted || undefined, 5000, "frames delivered");
    const valueFrames = frames.filter((f) => f.values.length > 0);
    const values = valueFrames.reduce((n, f) => n + f.values.length, 0);
    // 2,000 values a frame, one frame per 100 ms: about 20 frames (not 80), about 40,000 values (not 160,000).
    expect(valueFrames.length).toBeGreaterThanOrEqual(15);
    expect(valueFrames.length).toBeLessThanOrEqual(22);
    expect(values).toBeLessThanOrEqual(2 * 20_000 + DEVICES * CHANNELS);
    // Coalesced, not dropped: the last frame carries the latest reading of every channel.
    const latest = (f: LiveFrame | undefined) => f !== undefined && f.values.length === DEVICES * CHANNELS && f.values.every((v) => v.v === seq);
    if (!latest(frames.at(-1))) {
      clock.advance(1000);
      await until(() => latest(frames.at(-1)) || undefined, 5000, "a frame with the latest reading of every channel");
    }
    expect(latest(frames.at(-1))).toBe(true);
  });

  it("never holds back a device's state change behind readings", async () => {
    everyChannel();
    clock.advance(25);
    await until(() => frames.length > 0 || undefined, 5000, "first frame");
    const before = frames.length;
    everyChannel();
    // A device goes offline: its state goes out at the next tick although the readings' budget is spent.
    hub.pipeline.ingestRaw("d7", "status", "offline");
    clock.advance(25);
    await until(() => frames.length > before || undefined, 5000, "the next frame");
    expect(frames.at(-1)?.devices.find((d) => d.id === "d7")?.state).toBe("offline");
  });
});
