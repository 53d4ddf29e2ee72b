/**
 * Every fault of every station kind has an explicit way back (issue 11, finding 1). One table:
 * station kind x fault -> the state and reason it shows, the latched interlocks that say what
 * happened, a start refused until they are reset (and their reset refused while the cause is still
 * there), the reset restarting nothing, and a start accepted afterwards. Run against the demo as
 * `npm start` builds it: the Marlin printer simulator on a pty, the OPC UA robot cell, the
 * StandardFirmata arm on a pty, all in the hub's own process.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InterlockView } from "../../hub/src/core/interlock/service.ts";
import type { StationView } from "../../hub/src/core/stations/stations.ts";
import { bootDemoHub, type DemoHub } from "../support/demo-hub.ts";
import { until } from "./harness.ts";

interface Row {
  station: string;
  fault: string;
  program: string;
  /** Causes the fault while the program runs. */
  cause(d: DemoHub): void | Promise<void>;
  /** The state the station shows meanwhile. */
  state: StationView["state"] | Array<StationView["state"]>;
  reason: RegExp;
  /** The interlocks that latch, all of which must be reset. */
  latches: string[];
  /** Whether a reset is refused while the cause is still present (false: the cause is momentary). */
  refusedWhilePresent: boolean;
  /** Removes the cause (closes the door, plugs the cable back in, resets the cell at the cell). */
  clear(d: DemoHub): void | Promise<void>;
}

const cell = (d: DemoHub) => {
  const c = d.hardware.cells.get("robot-cell");
  if (c === undefined) throw new Error("no simulated robot cell");
  return c;
};
const printer = (d: DemoHub) => {
  const p = d.hardware.printers.get("printer-1");
  if (p === undefined) throw new Error("no simulated printer-1");
  return p;
};
const arm = (d: DemoHub) => {
  const a = d.hardware.arms.get("robot-arm");
  if (a === undefined) throw new Error("no simulated robot arm (socat missing?)");
  return a;
};

describe("station faults: each kind, each fault, an explicit way back", () => {
  let d: DemoHub;
  let juf: string;
  let tech: string;
  const cmd = (token: string, name: string, params: Record<string, unknown> = {}) => d.command(token, name, params);
  const view = async (id: string) => (await (await fetch(`${d.url}/api/stations/${id}`)).json() as { result: StationView }).result;
  const rule = async (id: string) => (await (await fetch(`${d.url}/api/interlocks/${id}`)).json() as { result: InterlockView }).result;
  /** Waits until the station may start; on timeout says what it last said instead. */
  const startable = async (id: string, what: string): Promise<StationView> => {
    let last: StationView | undefined;
    try {
      return await until(async () => {
        last = await view(id);
        return last.startable.ok ? last : undefined;
      }, 60_000, what);
    } catch (error) {
      throw new Error(`${(error as Error).message}; last: ${last?.state} ${last?.stateReason.en} | ${last?.startable.ok === false ? last.startable.reason.en : ""}`);
    }
  };
  const door = (station: string, open: boolean) => async () => void expect(await cmd(tech, "sim.door", { station, open })).toMatchObject({ ok: true });

  beforeAll(async () => {
    d = await bootDemoHub({ dashboard: false });
    juf = await d.login("begeleider", "1234");
    tech = await d.login("technicus", "technician");
    await until(async () => (await Promise.all(["robot-arm", "robot-cell", "printer-1"].map(view))).every((s) => s.state === "idle"), 60_000, "stations idle");
    expect(await cmd(juf, "visit.start", { label: "Groep 8", stations: ["robot-arm", "robot-cell", "printer-1"], minutes: 120 })).toMatchObject({ ok: true });
  }, 120_000);
  afterAll(async () => {
    await d?.close();
  });

  const rows: Row[] = [
    {
      station: "robot-arm",
      fault: "guard opened while running",
      program: "pakken",
      cause: door("robot-arm", true),
      state: "faulted",
      reason: /door opened during the program/,
      latches: ["robot-arm-door"],
      refusedWhilePresent: true,
      clear: door("robot-arm", false),
    },
    {
      station: "robot-arm",
      fault: "unplugged and plugged back in",
      program: "pakken",
      cause: () => arm(d).unplug(),
      state: "offline",
      reason: /connection to .* (is|was) lost/,
      latches: ["robot-arm-door", "robot-arm-estop"],
      refusedWhilePresent: true,
      async clear(dd) {
        await arm(dd).replug();
        await until(async () => (await view("robot-arm")).state !== "offline", 20_000, "arm back");
      },
    },
    {
      station: "robot-arm",
      fault: "emergency stop from a screen",
      program: "pakken",
      cause: async () => void expect(await cmd(juf, "estop.trigger")).toMatchObject({ ok: true }),
      state: "idle",
      reason: /Stopped before the program finished|emergency stop/i,
      latches: ["estop"],
      refusedWhilePresent: false,
      clear: () => {},
    },
    {
      station: "robot-cell",
      fault: "guard opened while running",
      program: "draw-square",
      cause: door("robot-cell", true),
      state: "faulted",
      reason: /door opened during the program/,
      latches: ["robot-cell-door"],
      refusedWhilePresent: true,
      clear: door("robot-cell", false),
    },
    {
      station: "robot-cell",
      fault: "the cell's own emergency stop (released, then reset at the cell)",
      program: "draw-square",
      cause: (dd) => cell(dd).cell.pressEmergencyStop(),
      state: "faulted",
      reason: /emergency stop/,
      latches: ["robot-cell-estop"],
      refusedWhilePresent: true,
      clear(dd) {
        cell(dd).cell.releaseEmergencyStop();
        // An e-stop is reset where it was pressed (EN ISO 13850): the cell's latch first, then the hub's.
        cell(dd).cell.resetFault();
      },
    },
    {
      station: "robot-cell",
      fault: "protective stop (light curtain)",
      program: "draw-square",
      cause: (dd) => cell(dd).cell.protectiveStop("light curtain interrupted"),
      state: "faulted",
      reason: /protective stop/,
      latches: ["robot-cell-fault"],
      refusedWhilePresent: false,
      clear: () => {},
    },
    {
      station: "robot-cell",
      fault: "the robot halts on a program error",
      program: "draw-square",
      cause: (dd) => cell(dd).cell.programError("collision detected on axis 2"),
      state: "faulted",
      reason: /Stopped with an error in the program/,
      latches: ["robot-cell-fault"],
      refusedWhilePresent: false,
      clear: () => {},
    },
    {
      station: "robot-cell",
      fault: "OPC UA session lost",
      program: "draw-square",
      cause: (dd) => cell(dd).dropConnections(),
      state: ["offline", "faulted"],
      reason: /connection to .* (is|was) lost/,
      latches: ["robot-cell-estop", "robot-cell-door"],
      refusedWhilePresent: false,
      async clear() {
        await until(async () => (await view("robot-cell")).details.programState !== undefined && (await view("robot-cell")).state !== "offline", 30_000, "cell reconnected");
      },
    },
    {
      station: "printer-1",
      fault: "firmware halt (kill)",
      program: "calibration-cube",
      cause: (dd) => printer(dd).firmware.inject({ kind: "kill" }),
      state: "faulted",
      reason: /halted by its firmware/,
      latches: ["printer-1-firmware"],
      refusedWhilePresent: false,
      clear: () => {},
    },
    {
      station: "printer-1",
      fault: "thermal trip (the firmware's thermal runaway)",
      program: "calibration-cube",
      cause: (dd) => printer(dd).firmware.inject({ kind: "heaterFailure" }),
      state: "faulted",
      reason: /thermal runaway|heating failed/i,
      latches: ["printer-1-firmware"],
      refusedWhilePresent: false,
      clear: (dd) => printer(dd).firmware.clearFaults(),
    },
    {
      station: "printer-1",
      fault: "emergency stop from a screen (M112)",
      program: "calibration-cube",
      cause: async () => void expect(await cmd(juf, "estop.trigger")).toMatchObject({ ok: true }),
      state: "faulted",
      reason: /halted|gestopt|Emergency/i,
      latches: ["estop"],
      refusedWhilePresent: false,
      clear: () => {},
    },
    {
      station: "printer-1",
      fault: "unplugged mid-print and plugged back in",
      program: "calibration-cube",
      cause: (dd) => printer(dd).unplug(),
      state: ["offline", "faulted"],
      reason: /could not be reached during a print|No connection/,
      latches: ["printer-1-fault"],
      refusedWhilePresent: true,
      async clear(dd) {
        await printer(dd).replug();
        await until(async () => (await view("printer-1")).state !== "offline" && (await view("printer-1")).state !== "connecting", 30_000, "printer back");
      },
    },
  ];

  it.each(rows.map((r) => [`${r.station}: ${r.fault}`, r] as const))("%s", async (_name, row) => {
    const s = row.station;
    // Ready: nothing latched, the station startable.
    await startable(s, `${s} startable before the fault`);
    const started = await cmd(juf, "station.start", { station: s, program: row.program });
    expect(started, JSON.stringify(started)).toMatchObject({ ok: true });
    await until(async () => (await view(s)).state === "running", 30_000, `${s} running`);

    await row.cause(d);
    const states = Array.isArray(row.state) ? row.state : [row.state];
    for (const id of row.latches) await until(async () => ["tripped", "cleared"].includes((await rule(id)).status), 15_000, `${id} latched`);
    // The robot's reports of one event may arrive one by one: wait for the station's settled account of it.
    const faulted = await until(async () => {
      const v = await view(s);
      return v.state !== "running" && v.state !== "stopping" && row.reason.test(`${v.stateReason.en} | ${v.startable.ok ? "" : v.startable.reason.en}`) ? v : undefined;
    }, 15_000, `${s} stopped, saying why (${row.reason})`);
    expect(states).toContain(faulted.state);
    expect(`${faulted.stateReason.en} | ${faulted.startable.ok ? "" : faulted.startable.reason.en}`).toMatch(row.reason);
    // One function decides: the screens' "startable" and the start itself say the same.
    expect(faulted.startable.ok).toBe(false);
    const refused = await cmd(juf, "station.start", { station: s, program: row.program });
    expect(refused).toMatchObject({ ok: false });
    if (row.refusedWhilePresent) expect(await cmd(tech, "interlock.reset", { id: row.latches[0] })).toMatchObject({ ok: false, code: "INTERLOCK_TRIPPED" });

    await row.clear(d);
    for (const id of row.latches) {
      await until(async () => (await rule(id)).resetBlocked === null, 30_000, `${id} resettable once the cause has gone`);
      expect(await cmd(tech, "interlock.reset", { id })).toMatchObject({ ok: true });
    }
    // A reset restarts nothing...
    expect((await view(s)).state).not.toBe("running");
    // ...and the station may start again (a printer's firmware restarts first).
    const back = await startable(s, `${s} startable after the reset`);
    expect(back.state).not.toBe("running");
    const again = await cmd(juf, "station.start", { station: s, program: row.program });
    expect(again, JSON.stringify(again)).toMatchObject({ ok: true });
    await until(async () => (await view(s)).state === "running", 30_000, `${s} running again`);
    expect(await cmd(juf, "station.stop", { station: s })).toMatchObject({ ok: true });
    await until(async () => !["running", "stopping"].includes((await view(s)).state), 30_000, `${s} stopped again`);
  }, 180_000);

  it("printer-1: enclosure opened while printing pauses (not latched); resume refused while open, accepted once closed", async () => {
    await startable("printer-1", "printer startable");
    expect(await cmd(juf, "station.start", { station: "printer-1", program: "calibration-cube" })).toMatchObject({ ok: true });
    await until(async () => (await view("printer-1")).state === "running", 30_000, "printing");
    await door("printer-1", true)();
    await until(async () => (await view("printer-1")).state === "paused", 15_000, "paused");
    expect((await rule("printer-1-door")).latched).toBe(false);
    expect((await view("printer-1")).startable.ok).toBe(false);
    await door("printer-1", false)();
    await until(async () => (await rule("printer-1-door")).status === "normal", 15_000, "door rule normal");
    expect((await view("printer-1")).state).toBe("paused");
    expect(await cmd(juf, "station.resume", { station: "printer-1" })).toMatchObject({ ok: true });
    await until(async () => (await view("printer-1")).state === "running", 15_000, "printing again");
    expect(await cmd(juf, "station.stop", { station: "printer-1" })).toMatchObject({ ok: true });
    await until(async () => (await view("printer-1")).state === "idle", 30_000, "idle");
  }, 120_000);
});
