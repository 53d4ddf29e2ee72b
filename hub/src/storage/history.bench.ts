/**
 * HistoryStore under the design load: 50 devices x 4 channels, 60,000 messages/s for 10 s, paced in
 * real time (the ManualClock moves with it, so the flush timer hands off every 250 ms) into a
 * temporary database file, while the worker commits. Prints the append rate, the main thread's
 * time per hand-off, the worker's commit times, the main thread's event-loop delay over the run,
 * query times and the bytes stored per sample.
 *   npx tsx hub/src/storage/history.bench.ts
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import BetterSqlite3 from "better-sqlite3";
import { ManualClock } from "../core/clock.ts";
import { silentLogger } from "../core/logger.ts";
import { asDeviceId, type DeviceId, type TelemetryBatch } from "../core/types.ts";
import { HistoryStore } from "./history.ts";

const DEVICES = 50;
const CHANNELS = ["powerW", "voltageV", "currentA", "tempC"];
const MESSAGES_PER_S = 60_000;
const SECONDS = 10;
const STEP_MS = 10;
const FLUSH_MS = 250;

const dir = mkdtempSync(join(tmpdir(), "tec-history-bench-"));
const path = join(dir, "bench.db");
const start = Date.UTC(2026, 10, 2, 9, 0, 0);
const clock = new ManualClock(start);
const store = new HistoryStore(path, { flushMs: FLUSH_MS, rawRetentionH: 48, minuteRetentionD: 90 }, { clock, logger: silentLogger });
const startedAt = performance.now();
await store.start();
const startMs = performance.now() - startedAt;

const ids: DeviceId[] = Array.from({ length: DEVICES }, (_, i) => asDeviceId(`device-${i}`));
const perStep = (MESSAGES_PER_S * STEP_MS) / 1000;
let appendMs = 0;
let messages = 0;
let seq = 0;
const handOffMs: number[] = [];
const commitMs: number[] = [];
let flushes = 0;

const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
const realStart = performance.now();
for (let step = 0; step < (SECONDS * 1000) / STEP_MS; step++) {
  const at = start + step * STEP_MS;
  // Built outside the timed part: the pipeline hands over ready batches.
  const batches: TelemetryBatch[] = [];
  for (let m = 0; m < perStep; m++) {
    const deviceId = ids[m % DEVICES] ?? asDeviceId("device-0");
    const x = seq++;
    batches.push({ deviceId, at, deviceTs: at, seq: x, readings: CHANNELS.map((c, i) => [c, Math.sin(x / 1000 + i) * 100] as const), simulated: false });
  }
  const t = performance.now();
  for (const b of batches) store.append(b);
  appendMs += performance.now() - t;
  messages += batches.length;
  const handsOff = (step + 1) % (FLUSH_MS / STEP_MS) === 0;
  const a = performance.now();
  clock.advance(STEP_MS); // fires the flush timer every 250 ms: the hand-off runs in here
  if (handsOff) handOffMs.push(performance.now() - a);
  const s = store.stats();
  if (s.flushes !== flushes && s.lastFlushMs !== null) commitMs.push(s.lastFlushMs);
  flushes = s.flushes;
  // Real time: the event loop is free between steps, as between MQTT packets.
  await sleep(Math.max(0, realStart + (step + 1) * STEP_MS - performance.now()));
}
loopDelay.disable();
const runMs = performance.now() - realStart;

clock.set(start + 62_000); // the minute is over; no timers run on set()
await store.flush();
const s0 = store.stats();
if (s0.flushes !== flushes && s0.lastFlushMs !== null) commitMs.push(s0.lastFlushMs);

const q0 = performance.now();
const raw = await store.query({ device: "device-7", channel: "tempC", from: start + 5000, to: start + 6000, resolution: "raw" });
const q1 = performance.now();
const folded = await store.query({ device: "device-7", channel: "tempC", from: start, to: start + 10_000, maxPoints: 1000 });
const q2 = performance.now();
const minute = await store.query({ device: "device-7", channel: "tempC", from: start, to: start + 60_000, resolution: "1m" });
const q3 = performance.now();

const stats = store.stats();
await store.stop();
const db = new BetterSqlite3(path);
db.pragma("wal_checkpoint(TRUNCATE)");
db.close();
const fileBytes = statSync(path).size;
rmSync(dir, { recursive: true, force: true });

const samples = messages * CHANNELS.length;
const pct = (values: number[], p: number): string => {
  const sorted = [...values].sort((a, b) => a - b);
  return (sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0).toFixed(2);
};
const spread = (values: number[]): string => `median ${pct(values, 0.5)} ms, p90 ${pct(values, 0.9)} ms, max ${pct(values, 1)} ms`;
const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
const ms = (ns: number): string => (ns / 1e6).toFixed(2);

console.log(`load: ${DEVICES} devices x ${CHANNELS.length} channels, ${fmt(MESSAGES_PER_S)} msg/s for ${SECONDS} s in real time (${fmt(samples)} samples, took ${fmt(runMs)} ms), flushMs ${FLUSH_MS}`);
console.log(`worker start (open, migrate, prepare): ${startMs.toFixed(1)} ms`);
console.log(`append (main thread): ${fmt(messages / (appendMs / 1000))} msg/s, ${fmt(samples / (appendMs / 1000))} samples/s (${appendMs.toFixed(1)} ms for ${fmt(messages)} messages)`);
console.log(`hand-off (main thread, ${handOffMs.length}, ~${fmt(samples / handOffMs.length)} samples each): ${spread(handOffMs)}`);
console.log(`commit (worker, ${commitMs.length}, raw chunks + 1m + 15m upserts): ${spread(commitMs)}`);
console.log(`main-thread event-loop delay over the run: p50 ${ms(loopDelay.percentile(50))} ms, p99 ${ms(loopDelay.percentile(99))} ms, max ${ms(loopDelay.max)} ms`);
console.log(
  `query (round trip): raw 1 s of one channel ${raw.points.length} points in ${(q1 - q0).toFixed(2)} ms; auto 10 s -> ${folded.resolution} folded to ${folded.points.length} points (bucketMs ${folded.bucketMs}) in ${(q2 - q1).toFixed(2)} ms; 1m of the minute ${minute.points.length} point (n ${minute.points[0]?.n}) in ${(q3 - q2).toFixed(2)} ms`,
);
console.log(`stored: ${fmt(fileBytes)} bytes after checkpoint = ${(fileBytes / samples).toFixed(2)} bytes/sample (blob payload 16)`);
console.log(`stats: ${JSON.stringify({ ...stats, lastFlushMs: Number(stats.lastFlushMs?.toFixed(2)), lastHandOffMs: Number(stats.lastHandOffMs?.toFixed(3)) })}`);
