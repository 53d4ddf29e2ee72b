/**
 * The device store and its saver on their own, at fleet sizes: what a periodic pass costs the
 * thread that runs it when every device's counters changed (a busy fleet) and when none did (an
 * idle one), what a burst of state changes costs (a connect storm), and, for comparison, what one
 * whole-registry save costs (the old way, once per device coming online: quadratic in a storm).
 * Real SQLite file in a temporary folder, the ManualClock driving the saver.
 *   npx tsx hub/src/storage/device-store.bench.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import type { MetaMessage } from "../../../firmware-bridge/contract/messages.ts";
import { Bus } from "../core/bus.ts";
import { ManualClock } from "../core/clock.ts";
import { silentLogger } from "../core/logger.ts";
import { Registry } from "../core/registry/registry.ts";
import { asDeviceId } from "../core/types.ts";
import { openDatabase } from "./db.ts";
import { DEVICE_SAVER_DEFAULTS, DeviceSaver } from "./device-saver.ts";
import { DeviceStore } from "./device-store.ts";

const META: MetaMessage = {
  model: "FLEET",
  firmware: "1.0.0",
  boot: 1,
  channels: { tempC: { unit: "C", min: -50, max: 150, periodMs: 1000 }, n: { unit: "", min: 0, max: 1e12, periodMs: 1000 } },
  actuators: {},
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? Number.NaN;

/** The store, timing each slice the saver hands it. */
class TimedStore extends DeviceStore {
  readonly slices: number[] = [];
  override trySave(devices: Parameters<DeviceStore["trySave"]>[0]): number | null {
    const t = performance.now();
    const rows = super.trySave(devices);
    if (rows !== null && rows > 0) this.slices.push(performance.now() - t);
    return rows;
  }
}

for (const n of [2000, 10_000]) {
  const dir = mkdtempSync(join(tmpdir(), "tec-device-store-bench-"));
  // As the hub opens its main-thread connection: the history worker checkpoints, this one never does.
  const db = openDatabase(join(dir, "bench.db"), { checkpoints: false });
  const clock = new ManualClock();
  const bus = new Bus(silentLogger);
  const ids = Array.from({ length: n }, (_, i) => asDeviceId(`fleet-${i}`));
  const registry = new Registry({ clock, bus }, ids.map((id) => ({ id, kind: "mqtt" as const, name: id, simulated: false })));
  const store = new TimedStore(db);
  registry.restore(store.load());
  const saver = new DeviceSaver({ clock, bus, registry, store, logger: silentLogger });
  saver.start();
  const { periodMs, promptMs, sliceDevices } = DEVICE_SAVER_DEFAULTS;

  // A connect storm: every device comes online and describes itself within one second.
  const t0 = performance.now();
  for (const id of ids) {
    registry.setStatus(id, "online");
    registry.setMeta(id, META);
  }
  const eventsMs = performance.now() - t0;
  const t1 = performance.now();
  clock.advance(promptMs);
  const stormMs = performance.now() - t1;
  const stormRows = saver.stats.rows;

  // Busy: every device's counters change between passes.
  const busy: number[] = [];
  for (let round = 0; round < 5; round++) {
    for (const id of ids) registry.countReject(id, "duplicate", "again");
    const t = performance.now();
    clock.advance(periodMs);
    busy.push(performance.now() - t);
  }
  // Idle: nothing changed.
  const idle: number[] = [];
  for (let round = 0; round < 5; round++) {
    const t = performance.now();
    clock.advance(periodMs);
    idle.push(performance.now() - t);
  }
  const slices = store.slices;
  // The old way: the whole registry in one transaction, rewritten (a fresh store knows nothing).
  const whole = new DeviceStore(db);
  const t2 = performance.now();
  whole.save(registry.snapshot());
  const wholeMs = performance.now() - t2;
  saver.stop();
  db.close();
  rmSync(dir, { recursive: true, force: true });

  console.log(`${n.toLocaleString("en-US")} devices (slices of ${sliceDevices}):`);
  console.log(`  connect storm: ${stormRows} rows written ${promptMs} ms after the first change, ${stormMs.toFixed(1)} ms of writing in all (the registry's own events took ${eventsMs.toFixed(0)} ms)`);
  console.log(`  pass with every device changed: ${median(busy).toFixed(1)} ms in all (median of 5)`);
  console.log(`  each slice that wrote (${slices.length}): median ${median(slices).toFixed(2)} ms, p90 ${pct(slices, 0.9).toFixed(2)} ms, longest ${Math.max(...slices).toFixed(1)} ms`);
  console.log(`  pass with nothing changed: ${median(idle).toFixed(1)} ms (median of 5)`);
  console.log(`  old way, whole registry per device event: ${wholeMs.toFixed(1)} ms per save, x ${n.toLocaleString("en-US")} devices coming online = ${((wholeMs * n) / 1000).toFixed(0)} s`);
}
