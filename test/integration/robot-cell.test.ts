/**
 * The robot cell station over real OPC UA TCP: the simulated cell (OPC 40010 subset) and the hub's
 * client adapter, the demo state machine, permissives with their reasons, the door and e-stop
 * interlocks, and a dropped session with its subscription restored.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StationView } from "../../hub/src/core/stations/stations.ts";
import { OperationalMode } from "../../simulators/robot-cell/cell.ts";
import { HOME_DEG, type RobotProgram } from "../../simulators/robot-cell/programs.ts";
import { type RobotCellHandle, startRobotCell } from "../../simulators/robot-cell/server.ts";
import { bootHarness, type Harness, until } from "./harness.ts";
import { interlock, staff } from "./safety-world.ts";

const PROGRAMS: RobotProgram[] = [
  { name: "wave", description: "short wave", speedDegS: 90, approved: true, waypoints: [{ axesDeg: [30, -30, 60, 0, 60, 0] }, { axesDeg: [-30, -30, 60, 0, 60, 0] }, { axesDeg: [...HOME_DEG] }] },
  { name: "long-sweep", description: "slow", speedDegS: 10, approved: true, waypoints: [{ axesDeg: [160, -30, 60, 0, 60, 0] }, { axesDeg: [...HOME_DEG] }] },
];

describe("robot cell station (OPC UA)", () => {
  let h: Harness;
  let cell: RobotCellHandle;
  let dir: string;
  let juf: Awaited<ReturnType<typeof staff>>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-robot-"));
    cell = await startRobotCell({ port: 0, certificateFolder: path.join(dir, "cell"), programs: PROGRAMS, initialMode: OperationalMode.AUTOMATIC });
    h = await bootHarness({
      devices: [{ kind: "robot-opcua", id: "robot-cell", name: "Robotcel", endpoint: cell.endpointUrl, simulated: true, programs: ["wave", "long-sweep"] }],
      opcua: { enabled: false, pkiFolder: path.join(dir, "hub-pki") },
      users: [
        { name: "juf", role: "instructor", pin: "1234" },
        { name: "tech", role: "technician", password: "technician" },
      ],
    });
    juf = await staff(h, "juf");
    await until(async () => (await station()).state !== "offline", 15_000, "robot connected");
  }, 60_000);
  afterAll(async () => {
    await h?.close();
    await cell?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const station = async () => (await h.get<{ result: StationView }>("/api/stations/robot-cell")).body.result;
  const reasonOf = (r: { body: unknown }) => (r.body as { reason?: { en: string } }).reason?.en ?? "";

  it("refuses a start without an instructor present, naming why", async () => {
    const r = await juf("station.start", { station: "robot-cell", program: "wave" });
    expect(r.body.ok).toBe(false);
    expect(reasonOf(r)).toMatch(/No instructor is signed in \(open a visit\)\./);
  });

  it("runs an approved program during a visit, and the device shows its axes moving", async () => {
    const visit = await juf("visit.start", { label: "Groep 7", stations: ["robot-cell"], minutes: 30 });
    expect(visit.body.ok).toBe(true);
    await until(async () => (await station()).details.demoState === "ready", 5000, "ready");
    const r = await juf("station.start", { station: "robot-cell", program: "wave" });
    expect(r.body).toMatchObject({ ok: true });
    await until(async () => (await station()).state === "running", 5000, "running");
    const axes = await until(async () => {
      const d = (await h.get<{ result: { channels: Record<string, { value: number | null }> } }>("/api/devices/robot-cell")).body.result;
      const a1 = d.channels.axis1Deg?.value ?? 0;
      return Math.abs(a1) > 1 ? a1 : undefined;
    }, 5000, "axis 1 moving");
    expect(Math.abs(axes)).toBeGreaterThan(1);
    await until(async () => (await station()).details.programState === "done", 15_000, "program done");
    expect((await station()).details.demoState).toBe("ready");
  });

  it.each([
    ["the door is open", () => cell.cell.openDoor(), () => cell.cell.closeDoor(), /The door of Robotcel is open\./],
    ["the robot is in manual mode", () => void cell.cell.setMode(OperationalMode.MANUAL_REDUCED_SPEED), () => void cell.cell.setMode(OperationalMode.AUTOMATIC), /not in automatic mode/],
    ["a protective stop holds", () => cell.cell.protectiveStop("test"), () => void cell.cell.resetFault(), /protective stop/],
  ])("refuses a start when %s", async (_name, cause, undo, reason) => {
    cause();
    await until(async () => (await station()).details.demoState !== "ready", 3000, "not ready");
    const r = await juf("station.start", { station: "robot-cell", program: "wave" });
    expect(r.body.ok).toBe(false);
    expect(reasonOf(r)).toMatch(reason);
    undo();
    await until(async () => (await station()).details.demoState === "ready", 5000, "ready again");
  });

  it("refuses a program outside the approved catalogue", async () => {
    const r = await juf("station.start", { station: "robot-cell", program: "fast-sweep" });
    expect(r.body).toMatchObject({ ok: false, code: "REQUEST_INVALID" });
    expect(reasonOf(r)).toMatch(/not in Robotcel's approved list/);
  });

  it("a door opened during motion stops the robot with a readable reason and a latched trip; a restart waits for the door and a reset", async () => {
    expect((await juf("station.start", { station: "robot-cell", program: "long-sweep" })).body.ok).toBe(true);
    await until(async () => (await station()).state === "running", 5000, "running");
    cell.cell.openDoor();
    await until(() => cell.cell.snapshot().programState !== "running", 3000, "cell stopped");
    const trip = await until(async () => {
      const v = await interlock(h, "robot-cell-door");
      return v.status === "tripped" || v.status === "cleared" ? v : undefined;
    }, 3000, "door trip");
    expect(trip.latched).toBe(true);
    expect(trip.reason.en).toBe("Robotcel stopped: the door was opened while the robot was moving");
    // Refused: door open and trip latched.
    const refused = await juf("station.start", { station: "robot-cell", program: "wave" });
    expect(reasonOf(refused)).toMatch(/Robotcel: door opened during a program has not been reset yet|door/);
    cell.cell.closeDoor();
    void cell.cell.resetFault();
    await until(async () => (await interlock(h, "robot-cell-door")).resetBlocked === null, 5000, "resettable");
    expect((await juf("interlock.reset", { id: "robot-cell-door" })).body.ok).toBe(true);
    // Nothing restarted on the reset.
    expect(cell.cell.snapshot().programState).not.toBe("running");
    await until(async () => (await station()).details.demoState === "ready" || (await station()).details.demoState === "stopped", 5000, "startable again");
    expect((await juf("station.start", { station: "robot-cell", program: "wave" })).body.ok).toBe(true);
    await until(async () => (await station()).details.programState === "done", 15_000, "done");
  });

  it("the hub's emergency stop stops the robot during motion and latches", async () => {
    expect((await juf("station.start", { station: "robot-cell", program: "long-sweep" })).body.ok).toBe(true);
    await until(async () => (await station()).state === "running", 5000, "running");
    expect((await juf("estop.trigger")).body.ok).toBe(true);
    await until(() => cell.cell.snapshot().programState !== "running", 3000, "cell stopped by the hub");
    expect((await interlock(h, "estop")).latched).toBe(true);
    const refused = await juf("station.start", { station: "robot-cell", program: "wave" });
    expect(reasonOf(refused)).toMatch(/The emergency stop (is active|has not been released yet)\./);
    expect((await juf("interlock.reset", { id: "estop" })).body.ok).toBe(true);
    // Started again at once, within the subscription's sampling interval of the stop: the hub must
    // still see it running (it reads the state back after every call).
    // toMatchObject, so that a refusal shows its reason.
    expect((await juf("station.start", { station: "robot-cell", program: "long-sweep" })).body).toMatchObject({ ok: true });
    await until(async () => (await station()).state === "running", 5000, "running again");
    expect((await juf("station.stop", { station: "robot-cell" })).body.ok).toBe(true);
    await until(async () => (await station()).state !== "running", 5000, "stopped again");
  });

  it("a dropped session is the station lost (its interlocks trip); after the reconnect the subscriptions work again", async () => {
    cell.dropConnections();
    await until(async () => (await interlock(h, "robot-cell-estop")).status === "tripped", 10_000, "estop rule tripped on the lost station");
    await until(async () => (await station()).state !== "offline", 20_000, "reconnected");
    // A change on the cell after the reconnect reaches the hub: the subscription is back.
    cell.cell.pressEmergencyStop();
    await until(async () => (await station()).details.emergencyStop === true, 5000, "e-stop seen after reconnect");
    cell.cell.releaseEmergencyStop();
    void cell.cell.resetFault();
    await until(async () => (await station()).details.emergencyStop === false, 5000, "released");
    const tech = await staff(h, "tech");
    await until(async () => (await interlock(h, "robot-cell-estop")).resetBlocked === null, 5000, "resettable");
    expect((await tech("interlock.reset", { id: "robot-cell-estop" })).body.ok).toBe(true);
  });
});
