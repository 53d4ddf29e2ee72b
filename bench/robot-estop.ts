/**
 * Robot e-stop benchmark (issue 5): from an emergency-stop request at the hub (REST) to the
 * simulated cell's program stopping (measured at the cell), and to the hub seeing the stop
 * confirmed over its OPC UA subscription (the station's state in a live frame). The hub runs as
 * its own process; the cell and the clients are in this one.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { io as ioClient } from "socket.io-client";
import type { LiveFrame } from "../hub/src/api/live-protocol.ts";
import { OperationalMode } from "../simulators/robot-cell/cell.ts";
import { HOME_DEG } from "../simulators/robot-cell/programs.ts";
import { startRobotCell } from "../simulators/robot-cell/server.ts";
import type { HubProcess } from "../test/support/spawn-hub.ts";
import { percentile } from "./lib/stats.ts";
import { benchConfig, command, login, startBenchHub } from "./lib/hub.ts";

export async function runRobotEstop(opts: { stops: number; log: (line: string) => void }): Promise<{ cellP50: number; cellP99: number; hubP50: number; hubP99: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tec-bench-robot-"));
  const cell = await startRobotCell({
    port: 0,
    certificateFolder: path.join(dir, "cell"),
    initialMode: OperationalMode.AUTOMATIC,
    programs: [{ name: "sweep", description: "slow sweep", speedDegS: 5, approved: true, waypoints: [{ axesDeg: [160, -30, 60, 0, 60, 0] }, { axesDeg: [...HOME_DEG] }] }],
  });
  let hub: HubProcess | null = null;
  try {
    const config = benchConfig(dir, {
      devices: [{ kind: "robot-opcua", id: "cell", name: "Cell", endpoint: cell.endpointUrl, simulated: true, programs: ["sweep"] }],
      users: [{ name: "juf", role: "instructor", pin: "1234" }],
    });
    hub = await startBenchHub(dir, config);
    const http = `http://127.0.0.1:${hub.httpPort}`;
    const token = await login(http, "juf", "1234");
    const run = (name: string, params: object = {}) => command(http, token, name, params);
    const socket = ioClient(http, { transports: ["websocket"], forceNew: true });
    let hubSawStop: ((t: number) => void) | null = null;
    socket.on("frame", (f: LiveFrame) => {
      const s = f.stations.find((x) => x.id === "cell");
      if (s !== undefined && s.details.programState !== "running") hubSawStop?.(performance.now());
    });
    const wait = async (pred: () => boolean | Promise<boolean>, ms: number) => {
      const end = Date.now() + ms;
      while (!(await pred())) {
        if (Date.now() > end) throw new Error(`timed out: ${JSON.stringify(await view().catch(() => null))} cell=${cell.cell.snapshot().programState} dev=${JSON.stringify(((await (await fetch(`${http}/api/devices/cell`)).json()) as { result: { state: string; channels: { running?: unknown } } }).result.channels.running)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const view = async () => ((await (await fetch(`${http}/api/stations/cell`)).json()) as { result: { state: string; details: { demoState: string } } }).result;
    await wait(async () => (await view()).state !== "offline", 20_000);
    await run("visit.start", { label: "bench", stations: ["cell"], minutes: 60 });

    const toCell: number[] = [];
    const toHub: number[] = [];
    for (let i = 0; i < opts.stops; i++) {
      await wait(async () => ["ready", "stopped"].includes((await view()).details.demoState), 10_000);
      const started = await run("station.start", { station: "cell", program: "sweep" });
      if (!started.ok) throw new Error(`start refused: ${started.message ?? "?"}`);
      await wait(() => cell.cell.snapshot().programState === "running", 5000);
      await wait(async () => (await view()).state === "running", 5000);
      let cellStoppedAt = 0;
      const off = cell.cell.onChange((s) => {
        if (s.programState !== "running" && cellStoppedAt === 0) cellStoppedAt = performance.now();
      });
      const hubSeen = new Promise<number>((resolve) => (hubSawStop = resolve));
      const t0 = performance.now();
      await run("estop.trigger");
      const t1 = await Promise.race([hubSeen, new Promise<number>((r) => setTimeout(() => r(Number.NaN), 5000))]);
      hubSawStop = null;
      off();
      if (cellStoppedAt > 0) toCell.push(cellStoppedAt - t0);
      if (!Number.isNaN(t1)) toHub.push(t1 - t0);
      await wait(async () => (await run("interlock.reset", { id: "estop" })).ok, 5000);
    }
    socket.close();
    const c = Float64Array.from(toCell).sort();
    const hs = Float64Array.from(toHub).sort();
    const result = { cellP50: percentile(c, 0.5), cellP99: percentile(c, 0.99), hubP50: percentile(hs, 0.5), hubP99: percentile(hs, 0.99) };
    opts.log(`robot e-stop (REST request -> cell stopped / -> hub confirms over its OPC UA subscription), ${toHub.length}/${opts.stops} stops:`);
    opts.log(`  to the cell's stop:        p50 ${result.cellP50.toFixed(1)} ms   p99 ${result.cellP99.toFixed(1)} ms   max ${(c[c.length - 1] ?? NaN).toFixed(1)} ms`);
    opts.log(`  to the hub's confirmation: p50 ${result.hubP50.toFixed(1)} ms   p99 ${result.hubP99.toFixed(1)} ms   max ${(hs[hs.length - 1] ?? NaN).toFixed(1)} ms`);
    return result;
  } finally {
    if (hub !== null) await hub.kill("SIGTERM");
    await cell.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
