/**
 * Network printers (issue 14): per protocol, from an instructor's start request at the hub (REST)
 * to the simulated printer running the job, and from the e-stop request to the printer no longer
 * printing (its job cancelled or the machine halted, with the hotend heater off). Measured at the
 * simulated printer; the hub runs as its own process with the printer's real driver and wire
 * (HTTP polling, MQTT over TLS + FTPS, JSON-RPC over WebSocket). The simulator's report interval
 * is each protocol's usual one, so the figures include the time the hub waits for a report.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { NET_PRINTER_PROTOCOLS, type NetPrinterProtocol, startNetPrinterSim } from "../simulators/printer-net/index.ts";
import type { HubProcess } from "../test/support/spawn-hub.ts";
import { benchConfig, command, login, startBenchHub } from "./lib/hub.ts";
import { percentile } from "./lib/stats.ts";

export interface NetPrinterFigures {
  protocol: NetPrinterProtocol;
  startP50: number;
  startMax: number;
  estopP50: number;
  estopMax: number;
  runs: number;
}

function model(layers: number): string {
  const lines = ["M140 S50", "M104 S200", "M190 S50", "M109 S200", "G28", "G92 E0"];
  for (let l = 1; l <= layers; l++) {
    lines.push(`;LAYER:${l}`, `G1 Z${(l * 0.2).toFixed(1)} F600`, "G1 X100 Y100 E1 F3000", "G1 X120 Y100 E2 F3000", "G1 X120 Y120 E3 F3000", "G1 X100 Y120 E4 F3000");
  }
  lines.push("M104 S0", "M140 S0", "M84");
  return `${lines.join("\n")}\n`;
}

async function until(pred: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function runNetworkPrinters(opts: { runs: number; log: (line: string) => void; protocols?: readonly NetPrinterProtocol[] }): Promise<NetPrinterFigures[]> {
  const out: NetPrinterFigures[] = [];
  opts.log(`network printers: start request -> the printer prints, e-stop request -> the printer stops (measured at the simulated printer), ${opts.runs} runs each`);
  for (const protocol of opts.protocols ?? NET_PRINTER_PROTOCOLS) {
    const dir = mkdtempSync(path.join(os.tmpdir(), `tec-bench-${protocol}-`));
    const catalogue = path.join(dir, "catalogue");
    mkdirSync(catalogue);
    writeFileSync(path.join(catalogue, "long.gcode"), model(400));
    // An Ultimaker waits after every job until someone clears the plate and confirms on its screen: here 0.2 s later.
    const plate = protocol === "ultimaker" ? { autoClearPlateMs: 200 } : {};
    const sim = await startNetPrinterSim(protocol, { machineOptions: { speedFactor: 20, heatFactor: 20 }, ...plate });
    let hub: HubProcess | null = null;
    try {
      hub = await startBenchHub(
        dir,
        benchConfig(dir, {
          devices: [{ kind: "printer", id: "p", name: "P", protocol, url: sim.url, auth: sim.auth, simulated: true, catalogue }],
          users: [
            { name: "juf", role: "instructor", pin: "123456" },
            { name: "tech", role: "technician", password: "technician" },
          ],
        }),
      );
      const http = `http://127.0.0.1:${hub.httpPort}`;
      const juf = await login(http, "juf", "123456");
      const tech = await login(http, "tech", "technician");
      const view = async () => ((await (await fetch(`${http}/api/stations/p`)).json()) as { result: { state: string; startable: { ok: boolean } } }).result;
      const starts: number[] = [];
      const stops: number[] = [];
      for (let i = 0; i < opts.runs; i++) {
        await until(async () => {
          const v = await view();
          return v.state === "idle" && v.startable.ok;
        }, 60_000, `${protocol} ready`);
        const t0 = performance.now();
        const r = await command(http, juf, "station.start", { station: "p", program: "long" });
        if (!r.ok) throw new Error(`${protocol}: start refused: ${r.message ?? "?"}`);
        await until(() => sim.machine.status().job === "printing", 60_000, `${protocol} printing`).catch(async (error: unknown) => {
          const jobs = await (await fetch(`${http}/api/jobs?station=p`)).text();
          throw new Error(`${String(error)} (run ${i + 1}; the printer: ${JSON.stringify(sim.machine.status())}; jobs: ${jobs.slice(0, 600)})`);
        });
        starts.push(performance.now() - t0);
        // Printing for a moment (heated, moving) before the stop.
        await until(async () => (await view()).state === "running", 30_000, `${protocol} running at the hub`);
        const t1 = performance.now();
        const e = await command(http, juf, "estop.trigger");
        if (!e.ok) throw new Error(`${protocol}: e-stop refused: ${e.message ?? "?"}`);
        await until(() => {
          const s = sim.machine.status();
          return s.job !== "printing" && s.hotend.target === 0;
        }, 30_000, `${protocol} stopped`).catch((error: unknown) => {
          throw new Error(`${String(error)} (run ${i + 1}; the printer: ${JSON.stringify(sim.machine.status())}; the hub said: ${hub?.output().slice(-1500) ?? ""})`);
        });
        stops.push(performance.now() - t1);
        await until(async () => (await command(http, tech, "interlock.reset", { id: "estop" })).ok, 30_000, "e-stop reset");
        // A halted printer (Moonraker, OctoPrint's M112) restarts its firmware on the reset of its trips.
        for (const id of ["p-firmware", "p-thermal", "p-fault"]) await command(http, tech, "interlock.reset", { id });
      }
      const s = Float64Array.from(starts).sort();
      const e = Float64Array.from(stops).sort();
      const f: NetPrinterFigures = { protocol, startP50: percentile(s, 0.5), startMax: s[s.length - 1] ?? Number.NaN, estopP50: percentile(e, 0.5), estopMax: e[e.length - 1] ?? Number.NaN, runs: opts.runs };
      out.push(f);
      opts.log(`  ${protocol.padEnd(10)} start -> printing p50 ${f.startP50.toFixed(0)} ms, max ${f.startMax.toFixed(0)} ms;   e-stop -> stopped p50 ${f.estopP50.toFixed(0)} ms, max ${f.estopMax.toFixed(0)} ms   (runs: e-stop ${stops.map((v) => v.toFixed(0)).join(", ")} ms)`);
    } finally {
      if (hub !== null) await hub.kill("SIGTERM");
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return out;
}
