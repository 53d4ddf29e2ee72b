/**
 * A lost board is let go entirely: fifty reconnects (a school year of replugs, in a second) leave
 * no johnny-five Board behind in its module-level registry, no listener on the process, and
 * nothing of a lost session that the garbage collector cannot take (checked with WeakRefs after
 * a forced collection, not with heap sizes or timing). Over TCP, where a drop and a reconnect cost
 * a few milliseconds; the driver and the board share a manual clock, so the retries run when the
 * test says.
 */
import { createRequire } from "node:module";
import v8 from "node:v8";
import vm from "node:vm";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../core/clock.ts";
import { silentLogger } from "../../core/logger.ts";
import type { RobotStatus } from "../../core/robots/driver.ts";
import { startFirmataBoard } from "../../../../simulators/firmata-board/index.ts";
import { FirmataArmDriver } from "./driver.ts";

/** johnny-five's own registry of Boards (`Board.cache`, public) and each Board's io (firmata.js). */
const five = createRequire(import.meta.url)("johnny-five") as { Board: { readonly cache: ReadonlyArray<{ io: object }> } };

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;
/** A full collection once the current job has ended (a WeakRef keeps its target until then). */
async function collect(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    gc();
  }
}

/** WeakRefs to the open session's Board and io, taken in a frame of its own (a local of the test could hold them). */
function track(boards: Array<WeakRef<object>>, ios: Array<WeakRef<object>>): void {
  const board = five.Board.cache.at(-1);
  if (board === undefined) throw new Error("no johnny-five Board for the open session");
  boards.push(new WeakRef(board));
  ios.push(new WeakRef(board.io));
}

const RECONNECTS = 50;
const RETRY_MS = 100;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function until(arm: FirmataArmDriver, ok: (s: RobotStatus) => boolean): Promise<RobotStatus> {
  if (ok(arm.status)) return Promise.resolve(arm.status);
  return new Promise<RobotStatus>((resolve) => {
    let done = false;
    arm.onStatus((s) => {
      if (done || !ok(s)) return;
      done = true;
      resolve(s);
    });
  });
}

describe("a lost Firmata board is released", () => {
  it(`${RECONNECTS} reconnects leave only the open session's johnny-five Board, no listeners, nothing reachable of a lost session`, async () => {
    const clock = new ManualClock();
    const sim = await startFirmataBoard({ tcpPort: 0, clock, pins: { 2: 1 } });
    cleanups.push(() => sim.stop());
    const arm = new FirmataArmDriver(
      {
        url: sim.url,
        servos: [3, 5, 6, 9].map((pin) => ({ pin, minDeg: 10, maxDeg: 170, homeDeg: 90 })),
        doorPin: 2,
        programs: { wave: [{ anglesDeg: [120, 60, 90, 45], durationMs: 200 }] },
        maxSpeedDegS: 180,
        homingSettleMs: 50,
        reconnectMinMs: RETRY_MS,
        reconnectMaxMs: RETRY_MS,
      },
      { clock, logger: silentLogger },
    );
    cleanups.push(() => arm.close());
    const baseline = {
      boards: five.Board.cache.length,
      process: process.eventNames().map((e) => [e, process.listenerCount(e)]),
    };
    const lostBoards: Array<WeakRef<object>> = [];
    const lostIos: Array<WeakRef<object>> = [];

    arm.connect();
    await until(arm, (s) => s.connected && s.doorClosed);
    await collect();
    const heapBeforeB = process.memoryUsage().heapUsed;
    for (let i = 0; i < RECONNECTS; i++) {
      expect(five.Board.cache.length).toBe(baseline.boards + 1);
      track(lostBoards, lostIos);
      // Every session attaches the servos and moves them, then the connection drops mid-program.
      await arm.run("wave");
      clock.advance(100);
      await sim.unplug();
      await until(arm, (s) => !s.connected);
      expect(five.Board.cache.length).toBe(baseline.boards);
      await arm.resetFault();
      await sim.replug();
      clock.advance(RETRY_MS);
      await until(arm, (s) => s.connected && s.doorClosed);
    }
    expect(arm.stats).toMatchObject({ connects: RECONNECTS + 1, disconnects: RECONNECTS });
    expect(five.Board.cache.length).toBe(baseline.boards + 1);
    expect(process.eventNames().map((e) => [e, process.listenerCount(e)])).toEqual(baseline.process);

    await collect();
    const alive = (refs: Array<WeakRef<object>>): number => refs.filter((r) => r.deref() !== undefined).length;
    // A figure, not an assertion: the heap moves with everything else the worker does.
    console.log(`after ${RECONNECTS} reconnects: ${alive(lostBoards)} lost Boards and ${alive(lostIos)} lost ios still reachable; heap ${((process.memoryUsage().heapUsed - heapBeforeB) / 1024).toFixed(0)} kB above the first connection`);
    expect(alive(lostBoards)).toBe(0);
    expect(alive(lostIos)).toBe(0);
  });
});
