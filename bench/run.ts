/**
 * `npm run bench`: every benchmark of the hub, printing its figures. Options:
 *   --only ingest|ingest-mosquitto|reaction|robot-estop|printer|network-printers|serial-board|kiosk|dashboards|fanout|fleet|fleet-mosquitto|startup   run one suite (fleet: also fleet-mosquitto)
 *   --quick                          shorter steps (a smoke run; figures are noisier)
 * TEC_BENCH_PROFILE_DIR=<folder>     fleet: write a CPU profile of the hub restarted for the connect storm
 */
import { runFanout } from "./fanout.ts";
import { readOsInfo, runIngest } from "./ingest.ts";
import { runReaction } from "./reaction.ts";
import { runFleet, runFleetMosquitto } from "./fleet.ts";
import { runNetworkPrinters } from "./network-printers.ts";
import { runRobotEstop } from "./robot-estop.ts";
import { runDashboards, runKiosk } from "./dashboard.ts";
import { runPrinterStream, runSerialBoard } from "./serial-wire.ts";
import { runStartup } from "./startup.ts";

const args = process.argv.slice(2);
const only = args.includes("--only") ? args[args.indexOf("--only") + 1] : undefined;
const quick = args.includes("--quick");
const log = (line: string) => console.log(line);

async function main(): Promise<void> {
  log(`TEC Hub benchmarks, ${new Date().toISOString()}`);
  log(`machine: ${readOsInfo()}`);
  log(`command: npm run bench${args.length > 0 ? ` -- ${args.join(" ")}` : ""}\n`);
  const stepMs = quick ? 2500 : 5000;
  const rates = [10_000, 20_000, 30_000, 40_000, 50_000, 60_000, 70_000, 80_000, 90_000, 100_000, 120_000];
  if (only === undefined || only === "ingest") {
    const r = await runIngest({ mode: "embedded", rates, stepMs, p99LimitMs: 50, log });
    log(`=> embedded broker: highest sustained rate with p99 < 50 ms and nothing lost: ${r.best?.rate ?? 0} msg/s (target 60,000)\n`);
  }
  if (only === undefined || only === "ingest-mosquitto") {
    const r = await runIngest({ mode: "external", rates, stepMs, p99LimitMs: 50, log });
    log(`=> external Mosquitto: highest sustained rate with p99 < 50 ms and nothing lost: ${r.best?.rate ?? 0} msg/s (target 80,000)\n`);
  }
  if (only === undefined || only === "reaction") {
    const r = await runReaction({ trips: quick ? 50 : 300, log });
    log(`=> interlock reaction p99 ${r.p99Ms.toFixed(2)} ms (target < 10 ms)\n`);
  }
  if (only === undefined || only === "printer") {
    const r = await runPrinterStream({ seconds: quick ? 5 : 15, log });
    log(`=> printer: ${r.linesPerS.toFixed(0)} G-code lines/s of ${r.wireLinesPerS.toFixed(0)} the wire allows; hub CPU ${r.hubCpuPct.toFixed(1)} % per printing station\n`);
  }
  if (only === undefined || only === "network-printers") {
    const r = await runNetworkPrinters({ runs: quick ? 2 : 5, log });
    log(`=> network printers: ${r.map((f) => `${f.protocol} start ${f.startP50.toFixed(0)} ms / e-stop ${f.estopP50.toFixed(0)} ms`).join("; ")} (p50)\n`);
  }
  if (only === undefined || only === "serial-board") {
    const r = await runSerialBoard({ seconds: quick ? 5 : 15, log });
    log(`=> serial board: ${r.readingsPerS.toFixed(0)} readings/s of ${r.wireReadingsPerS.toFixed(0)} the wire allows; hub CPU ${r.hubCpuPct.toFixed(1)} % per board\n`);
  }
  if (only === undefined || only === "kiosk") {
    const r = await runKiosk({ log });
    log(`=> kiosk: first live value worst ${Math.max(...r.firstValueMs).toFixed(0)} ms (target < 1000 ms); animation ${r.fps.toFixed(1)} frames/s\n`);
  }
  if (only === undefined || only === "dashboards") {
    const r = await runDashboards({ clients: 30, seconds: quick ? 10 : 30, log });
    log(`=> 30 dashboards at 2,000 readings/s: frame delay p99 ${r.earlyP99.toFixed(1)} ms at the start, ${r.lateP99.toFixed(1)} ms at the end\n`);
  }
  if (only === undefined || only === "fanout") {
    const r = await runFanout({ observers: 300, ratePerS: 4000, seconds: quick ? 8 : 20, log });
    const met = r.loopP99Ms < 20 && r.staleDevices.length === 0 && r.trippedInterlocks.length === 0 && r.rssGrowthMB < 100;
    log(`=> fan-out to 300 observers at 4,000 msg/s of 1 KB: hub loop p99 ${r.loopP99Ms.toFixed(1)} ms, ${r.staleDevices.length} stale, ${r.trippedInterlocks.length} tripped, RSS +${r.rssGrowthMB.toFixed(0)} MB: ${met ? "MET" : "NOT MET"} (p99 < 20 ms, none stale, no trip, < 100 MB)\n`);
  }
  if (only === undefined || only === "robot-estop") {
    const r = await runRobotEstop({ stops: quick ? 10 : 50, log });
    log(`=> robot e-stop confirmed by the hub: p50 ${r.hubP50.toFixed(1)} ms, p99 ${r.hubP99.toFixed(1)} ms\n`);
  }
  if (only === undefined || only === "startup") {
    log("startup: the compiled hub (npm run build), spawned as the service runs it");
    const r = await runStartup({ runs: quick ? 1 : 3, log });
    const met = r.demo.firstAnswerMs < 3000 && (r.demo.rssMB ?? Infinity) < 250;
    log(`=> start to first REST answer: full demo ${r.demo.firstAnswerMs.toFixed(0)} ms, RSS ${r.demo.rssMB?.toFixed(0) ?? "?"} MB: ${met ? "MET" : "NOT MET"} (< 3 s, < 250 MB); hub alone ${r.hubOnly.firstAnswerMs.toFixed(0)} ms, RSS ${r.hubOnly.rssMB?.toFixed(0) ?? "?"} MB\n`);
  }
  if (only === undefined || only === "fleet") {
    const r = await runFleet({ devices: 2000, ratePerDevice: 10, steadyS: quick ? 10 : 30, idleDevices: 10_000, idleHoldS: quick ? 15 : 60, profileDir: process.env.TEC_BENCH_PROFILE_DIR, log });
    const mb = (v: number | null) => (v === null ? "?" : v.toFixed(0));
    log(`=> fleet: 2,000 devices at 20,000 msg/s p99 ${r.p99Ms.toFixed(1)} ms, ${r.lost} lost (target < 50 ms, none); connect storm all ready in ${r.stormReadyS?.toFixed(1) ?? "> 120"} s (target < 15 s); 10,000 idle devices hub RSS ${mb(r.idleRssMB.opcua)} MB, ${mb(r.idleRssMB.noOpcua)} MB without OPC UA (target < 500 MB)\n`);
  }
  if (only === undefined || only === "fleet" || only === "fleet-mosquitto") {
    const r = await runFleetMosquitto({ devices: 2000, ratePerDevice: 10, steadyS: quick ? 10 : 30, idleDevices: 0, idleHoldS: 0, log });
    log(`=> fleet through the generated Mosquitto: 2,000 devices at 20,000 msg/s p99 ${r.p99Ms.toFixed(1)} ms, ${r.lost} lost (target < 50 ms, none); connect storm all ready in ${r.stormReadyS?.toFixed(1) ?? "> 120"} s (target < 15 s)\n`);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
