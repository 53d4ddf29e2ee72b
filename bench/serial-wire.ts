/**
 * Serial benchmarks (issues 4 and 6), both against what a 115200-baud 8N1 line allows (11,520
 * bytes/s each way), with the hub in its own process over real pseudo-terminals:
 *  - printer: G-code lines per second streamed to the simulated Marlin (one line in flight, as
 *    OctoPrint does; moves made instant so only the link and the protocol limit), and hub CPU;
 *  - serial board: readings per second one board delivers when it sends telemetry as fast as its
 *    UART allows, and hub CPU.
 * The simulators pace their side of the pty to the baud rate (a pty itself has no speed).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { SerialPort } from "serialport";
import { frame } from "../hub/src/adapters/printer/gcode.ts";
import { stripComment } from "../hub/src/adapters/printer/gcode.ts";
import { systemClock } from "../hub/src/core/clock.ts";
import { encodeLine, LineSplitter, decodeLine, isDecodeError } from "../firmware-bridge/serial/codec.ts";
import { openPtyPair } from "../simulators/common/pty-pair.ts";
import { startPrinterSim } from "../simulators/printer/index.ts";
import { LinePacer } from "../simulators/printer/line-pacer.ts";
import type { HubProcess } from "../test/support/spawn-hub.ts";
import { procStats } from "./lib/stats.ts";
import { benchConfig, command, login, startBenchHub } from "./lib/hub.ts";

const BAUD = 115200;
const WIRE_BYTES_PER_S = BAUD / 10;

const TECH = { name: "tech", role: "technician", password: "technician" } as const;

async function until(pred: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function runPrinterStream(opts: { seconds: number; log: (l: string) => void }): Promise<{ linesPerS: number; wireLinesPerS: number; hubCpuPct: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tec-bench-printer-"));
  const pty = await openPtyPair();
  // Instant moves and heating: only the serial link and the protocol set the pace.
  const sim = await startPrinterSim({ pty, baud: BAUD, speedFactor: 100_000, heatFactor: 20, name: "Bench printer" });
  let hub: HubProcess | null = null;
  try {
    const catalogue = path.join(dir, "catalogue");
    mkdirSync(catalogue);
    const model = readFileSync(path.resolve("printers/catalogue/spiral-vase.gcode"), "utf8");
    writeFileSync(path.join(catalogue, "vase.gcode"), model);
    hub = await startBenchHub(dir, benchConfig(dir, { devices: [{ kind: "printer", id: "printer-1", name: "Bench printer", url: sim.url, catalogue }], users: [TECH] }));
    const http = `http://127.0.0.1:${hub.httpPort}`;
    const token = await login(http, TECH.name, TECH.password);
    const view = async () => ((await (await fetch(`${http}/api/stations/printer-1`)).json()) as { result: { state: string; progress: { pct: number } | null; details: { link: { linesSent: number; resends: number } } } }).result;
    await until(async () => (await view()).state === "idle", 20_000);
    const started = await command(http, token, "station.start", { station: "printer-1", program: "vase" });
    if (!started.ok) throw new Error(`the print did not start: ${started.message ?? "?"}`);
    await until(async () => (await view()).state === "running", 20_000);
    // Skip the heat-up (Marlin's M109/M190 wait out a residency time) and homing at the start.
    await until(async () => (await view()).details.link.linesSent > 200, 60_000);
    const l0 = (await view()).details.link.linesSent;
    const c0 = procStats(hub.proc.pid ?? 0);
    await new Promise((r) => setTimeout(r, opts.seconds * 1000));
    const c1 = procStats(hub.proc.pid ?? 0);
    const l1 = (await view()).details.link.linesSent;
    const linesPerS = ((l1 - l0) * 1000) / (c1.at - c0.at);
    // What the wire allows with one line in flight: each line's bytes out and "ok\n" back.
    const lines = model.split("\n").map(stripComment).filter((l) => l !== "");
    const avgFramed = lines.reduce((n, l, i) => n + frame(i + 1, l).length + 1, 0) / lines.length;
    const wireLinesPerS = WIRE_BYTES_PER_S / (avgFramed + 3);
    const hubCpuPct = ((c1.cpuMs - c0.cpuMs) / (c1.at - c0.at)) * 100;
    opts.log(`printer streaming over a pty at ${BAUD} baud (spiral vase, ${lines.length} lines, ${avgFramed.toFixed(1)} bytes per framed line):`);
    opts.log(`  ${linesPerS.toFixed(0)} lines/s; the wire allows ${wireLinesPerS.toFixed(0)} lines/s with one line in flight (${((linesPerS / wireLinesPerS) * 100).toFixed(0)} %); hub CPU ${hubCpuPct.toFixed(1)} % of a core for this printing station`);
    return { linesPerS, wireLinesPerS, hubCpuPct };
  } finally {
    if (hub !== null) await hub.kill("SIGTERM");
    await sim.stop();
    await pty.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runSerialBoard(opts: { seconds: number; log: (l: string) => void }): Promise<{ readingsPerS: number; wireReadingsPerS: number; hubCpuPct: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tec-bench-serial-"));
  const pty = await openPtyPair();
  const board = new SerialPort({ path: pty.devicePath, baudRate: BAUD, autoOpen: false });
  await new Promise<void>((resolve, reject) => board.open((e) => (e ? reject(e) : resolve())));
  const tx = new LinePacer(systemClock, BAUD, (bytes) => board.write(bytes));
  let hub: HubProcess | null = null;
  const CHANNELS = ["aC", "bC", "cC", "dC", "eC", "fC", "gC", "hC"];
  let seq = 0;
  let welcomed = false;
  const send = (type: Parameters<typeof encodeLine>[0], fields: ReadonlyArray<readonly [string, string | number]>) => tx.push(Buffer.from(`${encodeLine(type, seq++, fields)}\n`));
  const hello = () => {
    send("HELLO", [["proto", 1], ["model", "BENCH"], ["fw", "1"], ["boot", 1]]);
    for (const c of CHANNELS) send("META", [["ch", c], ["unit", "C"], ["min", -50], ["max", 150], ["period", 60_000]]);
    send("META", [["end", 1], ["ch", CHANNELS.length], ["act", 0]]);
  };
  const splitter = new LineSplitter(
    (raw) => {
      const l = decodeLine(raw);
      if (isDecodeError(l)) return;
      if (l.type === "WHO") hello();
      if (l.type === "WELCOME") welcomed = true;
    },
    () => {},
  );
  board.on("data", (d: Buffer) => splitter.push(d));
  try {
    hub = await startBenchHub(dir, benchConfig(dir, { devices: [{ kind: "serial", id: "board", name: "Bench board", url: `serial://${pty.hubPath}?baud=${BAUD}` }], users: [TECH] }));
    const http = `http://127.0.0.1:${hub.httpPort}`;
    hello();
    await until(() => Promise.resolve(welcomed), 10_000);
    const health = async () => ((await (await fetch(`${http}/api/hub/health`)).json()) as { result: { ingest: { totals: { readings: number } } } }).result.ingest.totals.readings;
    // Keep the UART full: a TELE line whenever it is about to run dry.
    let t = 0;
    const line = () => encodeLine("TELE", seq, [["ts", t], ...CHANNELS.map((c, i) => [c, 20 + ((t + i) % 100) / 10] as const)]);
    const bytesPerLine = line().length + 1;
    const feeder = setInterval(() => {
      while (tx.busyUntilMs - Date.now() < 50) {
        t++;
        send("TELE", [["ts", t], ...CHANNELS.map((c, i) => [c, 20 + ((t + i) % 100) / 10] as const)]);
      }
    }, 10);
    await new Promise((r) => setTimeout(r, 1000));
    const r0 = await health();
    const c0 = procStats(hub.proc.pid ?? 0);
    await new Promise((r) => setTimeout(r, opts.seconds * 1000));
    const c1 = procStats(hub.proc.pid ?? 0);
    const r1 = await health();
    clearInterval(feeder);
    const readingsPerS = ((r1 - r0) * 1000) / (c1.at - c0.at);
    const wireReadingsPerS = (WIRE_BYTES_PER_S / bytesPerLine) * CHANNELS.length;
    const hubCpuPct = ((c1.cpuMs - c0.cpuMs) / (c1.at - c0.at)) * 100;
    opts.log(`serial board at ${BAUD} baud, TELE lines of ${CHANNELS.length} readings (${bytesPerLine} bytes):`);
    opts.log(`  ${readingsPerS.toFixed(0)} readings/s accepted; the wire allows ${wireReadingsPerS.toFixed(0)} (${((readingsPerS / wireReadingsPerS) * 100).toFixed(0)} %); hub CPU ${hubCpuPct.toFixed(1)} % of a core for this board`);
    return { readingsPerS, wireReadingsPerS, hubCpuPct };
  } finally {
    tx.clear();
    if (hub !== null) await hub.kill("SIGTERM");
    await new Promise<void>((resolve) => (board.isOpen ? board.close(() => resolve()) : resolve()));
    await pty.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
