import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.ts";
import { HubError } from "../errors.ts";
import { SITE_SAFETY, buildSite, juf, rejection, thrown } from "../testing/safety-site.ts";
import { asDeviceId } from "../types.ts";
import { VisitService } from "../visits/visits.ts";
import { OPERATIONAL_MODE, type RobotDriver, type RobotStatus } from "./driver.ts";
import { robotRules } from "./rules.ts";
import { RobotStation } from "./station.ts";

/** A robot that does what it is told at once and reports every change; the test moves its door. */
class FakeRobot implements RobotDriver {
  status: RobotStatus = { connected: false, mode: OPERATIONAL_MODE.AUTOMATIC, emergencyStop: false, protectiveStop: false, doorClosed: true, program: null, programState: "idle", error: null, axesDeg: [0, 0], at: 0 };
  readonly calls: string[] = [];
  private readonly fns: Array<(s: RobotStatus) => void> = [];

  constructor(private readonly clock: ManualClock) {}

  onStatus(fn: (s: RobotStatus) => void): void {
    this.fns.push(fn);
  }
  connect(): void {
    this.update({ connected: true });
  }
  close(): Promise<void> {
    this.update({ connected: false });
    return Promise.resolve();
  }
  run(program: string): Promise<void> {
    this.calls.push(`run ${program}`);
    // Like the Firmata arm: it refuses to run with its own fault not reset.
    if (this.status.programState === "error") return Promise.reject(new HubError("DEVICE_REFUSED", "reset the fault first"));
    this.update({ program, programState: "running", error: null });
    return Promise.resolve();
  }
  stop(): Promise<void> {
    this.calls.push("stop");
    // Like the OPC UA cell and the Firmata arm: always accepted, and ends only a running program.
    if (this.status.programState === "running") this.update({ programState: "stopped" });
    return Promise.resolve();
  }
  halt(): Promise<void> {
    // Like any real robot: nothing reaches it without a connection.
    if (!this.status.connected) {
      this.calls.push("halt (no connection)");
      return Promise.reject(new HubError("DEVICE_OFFLINE", "no connection"));
    }
    this.calls.push("halt");
    if (this.status.programState === "running") this.update({ programState: "stopped" });
    return Promise.resolve();
  }
  resetFault(): Promise<void> {
    this.calls.push("resetFault");
    this.update({ programState: "idle", error: null, protectiveStop: false });
    return Promise.resolve();
  }
  programs(): string[] {
    return ["wave", "pick"];
  }
  update(patch: Partial<RobotStatus>): void {
    this.status = { ...this.status, ...patch, at: this.clock.now() };
    for (const fn of this.fns) fn(this.status);
  }
}

async function setup() {
  const clock = new ManualClock();
  const visits = new VisitService({ clock });
  visits.startService({ onEnd: () => Promise.resolve() });
  const site = buildSite({
    clock,
    rules: robotRules({ id: "arm", name: "Arm", resetRoles: ["instructor", "technician"] }),
    safety: { ...SITE_SAFETY, estopButtons: [] },
    devices: [{ id: "arm", kind: "robot-firmata" }],
    gates: [(id) => visits.blocks(id)],
  });
  const driver = new FakeRobot(clock);
  const robot = new RobotStation({ id: "arm", name: "Arm", simulated: true, catalogue: ["wave"], axes: 2 }, driver, {
    clock,
    pipeline: site.pipeline,
    changed: () => site.stations.changed("arm"),
    permissives: () => {
      const verdict = site.permits.check(asDeviceId("arm"), "start", 1);
      return { instructorPresent: visits.present("arm"), interlock: verdict.allowed ? null : verdict.reason };
    },
    trip: (ruleId, detail) => site.service.trip(ruleId, detail),
  });
  site.stations.add(robot);
  site.stations.start();
  site.service.start();
  robot.connect();
  await site.advance(600);
  visits.start(juf, { label: "class", stations: ["arm"], minutes: 60 });
  return { site, driver, robot, visits, clock };
}

const statuses = (site: ReturnType<typeof buildSite>) => Object.fromEntries(site.service.list().map((v) => [v.id, v.status]));

describe("RobotStation", () => {
  it("describes itself as a device and keeps its readings fresh: its rules become normal and it may start", async () => {
    const { site } = await setup();
    expect(site.registry.view(asDeviceId("arm"))).toMatchObject({ state: "ready", channels: { doorClosed: { value: 1 }, running: { value: 0 }, emergencyStop: { value: 0 } } });
    expect(statuses(site)).toEqual({ estop: "normal", "arm-door": "normal", "arm-estop": "normal", "arm-fault": "normal" });
    expect(site.stations.verdict("arm")).toEqual({ ok: true });
    expect(site.stations.view("arm")).toMatchObject({ state: "idle", stateReason: { en: "Ready to start." } });
  });

  it("a door opened during a program, reported in the same update as the end of the program: the door rule latches, the station is faulted until a reset clears it, and the reset starts nothing", async () => {
    const { site, driver, robot } = await setup();
    await site.stations.startProgram("arm", "wave", juf);
    expect(driver.calls).toEqual(["run wave"]);
    await site.advance(1000);
    expect(site.stations.view("arm").state).toBe("running");

    // One update: the door is open and the program has ended on it (a Firmata arm reports it so).
    driver.update({ doorClosed: false, programState: "error", error: "door opened during the program" });
    // The inputs alone never show the door open while running: only the station can trip the rule.
    expect(statuses(site)["arm-door"]).toBe("normal");
    await site.advance(199);
    expect(statuses(site)["arm-door"]).toBe("normal");
    await site.advance(1);
    expect(site.service.view("arm-door")).toMatchObject({ status: "tripped", latched: true, cause: { kind: "manual", detail: { en: "Stopped: the door opened during the program. (door opened during the program)" } } });
    expect(site.stations.view("arm")).toMatchObject({ state: "faulted", stateReason: { en: "Stopped: the door opened during the program. Waiting for a reset." } });

    // Start refused, with the same reasons the screen shows, while the door is open and after it closed.
    const refusedNow = async () => {
      const verdict = site.stations.verdict("arm");
      expect(verdict.ok).toBe(false);
      expect(await rejection(site.stations.startProgram("arm", "wave", juf))).toMatchObject({ code: "INTERLOCK_TRIPPED", reason: verdict.ok ? null : verdict.reason });
      return verdict.ok ? "" : verdict.reason.en;
    };
    // Sentences for the instructor: the robot's own error text and the rule's input stay in the details.
    const reasons = await refusedNow();
    expect(reasons).toBe("Stopped: the door opened during the program. Waiting for a reset. The door of Arm is open. Arm reports an error. Arm stopped: the door was opened while the robot was moving.");
    expect(reasons).not.toMatch(/arm\.|= \d|\(/);
    await site.advance(300);
    expect(thrown(() => site.service.reset("arm-door", juf))).toMatchObject({ code: "INTERLOCK_TRIPPED", reason: { en: "The cause is still there: arm.doorClosed = 0." } });

    driver.update({ doorClosed: true });
    expect(site.service.view("arm-door")?.status).toBe("cleared");
    expect(await refusedNow()).toBe("Stopped: the door opened during the program. Waiting for a reset. Arm reports an error. Arm: door opened during a program has not been reset yet.");
    expect(thrown(() => site.service.reset("arm-door", juf))).toMatchObject({ code: "INTERLOCK_TRIPPED", reason: { en: "The readings must stay fine for another 1 s." } });
    // The door trip's e-stop action reaches the robot too, though its program has already ended.
    expect(driver.calls).toEqual(["run wave", "halt"]);

    await site.advance(1000);
    site.service.reset("arm-door", juf);
    await site.advance(0);
    // The reset cleared the robot's own fault, and started nothing.
    expect(driver.calls).toEqual(["run wave", "halt", "resetFault"]);
    expect(driver.status.programState).toBe("idle");
    expect(site.stations.view("arm")).toMatchObject({ state: "idle", startable: { ok: true } });
    await site.advance(2000);
    expect(driver.calls).toEqual(["run wave", "halt", "resetFault"]);
    // Only now, and only when asked.
    await robot.start("wave", juf);
    expect(driver.calls).toEqual(["run wave", "halt", "resetFault", "run wave"]);
  });

  it.each([
    ["a protective stop during the program", "arm-fault", { protectiveStop: true, programState: "stopped" }, "Stopped with a protective stop."],
    ["its own e-stop pressed during the program", "arm-estop", { emergencyStop: true, programState: "stopped" }, "The emergency stop of Arm was pressed."],
    ["a program error", "arm-fault", { programState: "error", error: "servo stalled" }, "Stopped with an error in the program."],
  ] as const)("%s faults the station and latches %s", async (_name, ruleId, patch, reason) => {
    const { site, driver } = await setup();
    await site.stations.startProgram("arm", "wave", juf);
    await site.advance(500);
    driver.update(patch);
    await site.advance(200);
    // Latched: tripped, or cleared already where nothing keeps the cause present (a forced trip).
    expect(site.service.view(ruleId)).toMatchObject({ latched: true, status: expect.stringMatching(/^(tripped|cleared)$/) as unknown });
    expect(site.stations.view("arm")).toMatchObject({ state: "faulted", stateReason: { en: `${reason} Waiting for a reset.` } });
    expect(site.stations.verdict("arm").ok).toBe(false);
  });

  it("the end of the program reported before its cause (the door, then the protective stop): the door rule still latches", async () => {
    const { site, driver } = await setup();
    await site.stations.startProgram("arm", "wave", juf);
    await site.advance(500);
    driver.update({ programState: "stopped" });
    await site.advance(50);
    driver.update({ doorClosed: false });
    await site.advance(50);
    driver.update({ protectiveStop: true });
    await site.advance(100);
    expect(site.service.view("arm-door")).toMatchObject({ status: "tripped", latched: true });
    expect(site.stations.view("arm").state).toBe("faulted");
  });

  it("a program stopped when asked, or done, is no fault", async () => {
    const { site, driver } = await setup();
    await site.stations.startProgram("arm", "wave", juf);
    await site.advance(500);
    await site.stations.act("arm", "stop", "lesson over", juf);
    await site.advance(500);
    await site.stations.startProgram("arm", "wave", juf);
    await site.advance(500);
    driver.update({ programState: "done" });
    await site.advance(500);
    expect(statuses(site)).toEqual({ estop: "normal", "arm-door": "normal", "arm-estop": "normal", "arm-fault": "normal" });
    expect(site.stations.view("arm").state).not.toBe("faulted");
  });

  it("a robot lost mid-program that ran on is halted once it is back: the latched trip holds, and the reset starts nothing", async () => {
    const { site, driver, robot } = await setup();
    await site.stations.startProgram("arm", "wave", juf);
    await site.advance(500);
    // The connection goes; the robot (no watchdog of its own) keeps running its program.
    driver.update({ connected: false });
    await site.advance(200);
    expect(site.service.view("arm-estop")).toMatchObject({ status: "tripped", latched: true });
    expect(driver.calls.filter((c) => c === "halt")).toEqual([]);
    driver.calls.length = 0;
    // Back, still running: halted at once, without anyone asking.
    driver.update({ connected: true, programState: "running" });
    expect(driver.calls).toEqual(["halt"]);
    await site.advance(1000);
    expect(site.stations.view("arm").state).toBe("faulted");
    // A robot that keeps reporting a program after the halt is halted again, one halt at a time.
    driver.update({ programState: "running" });
    await site.advance(0);
    expect(driver.calls).toEqual(["halt", "halt"]);
    // A robot that is idle is left alone, and clearing the fault starts nothing.
    await robot.clearFault();
    await site.advance(1000);
    expect(driver.calls).toEqual(["halt", "halt"]);
  });

  it("a robot found running when its connection comes back, while an interlock forbids a start, is halted (the station held no fault)", async () => {
    const { site, driver } = await setup();
    // Lost while idle: no fault of the station's own, but its inputs went stale and their rules latched.
    driver.update({ connected: false });
    await site.advance(2000);
    expect(site.service.view("arm-estop")).toMatchObject({ status: "tripped", latched: true });
    expect(driver.calls).toEqual([]);
    // Back, and running (started at the robot's own panel meanwhile): halted.
    driver.update({ connected: true, programState: "running", program: "wave" });
    expect(driver.calls).toEqual(["halt"]);
  });

  it("clearFault resets the robot's own fault state and starts nothing; start is refused until then", async () => {
    const { site, driver, robot } = await setup();
    await site.stations.startProgram("arm", "wave", juf);
    driver.update({ programState: "error", error: "servo stalled" });
    await site.advance(200);
    expect(await rejection(robot.start("wave", juf))).toMatchObject({ code: "INTERLOCK_TRIPPED", reason: { en: "Arm may not start. Stopped with an error in the program. Waiting for a reset. Arm reports an error." } });
    await robot.clearFault();
    // The trip's stop is sent whatever the hub believes the robot does ("halt"): at rest it costs nothing.
    expect(driver.calls).toEqual(["run wave", "halt", "resetFault"]);
    expect(robot.refusals()).toEqual([]);
    // A robot not in a fault state is not told to reset.
    await robot.clearFault();
    expect(driver.calls).toEqual(["run wave", "halt", "resetFault"]);
  });

  it("an instructor must be present: no visit open to the station, no start", async () => {
    const { site, visits } = await setup();
    await visits.end("done");
    const alone = { nl: "Er is geen begeleider aangemeld (open een bezoek).", en: "No instructor is signed in (open a visit)." };
    expect(site.stations.verdict("arm")).toEqual({ ok: false, reason: alone, reasons: [alone] });
    expect(site.stations.view("arm")).toMatchObject({ state: "idle", stateReason: alone });
  });
});
