/**
 * Issue 11, finding 3, on the hub's side: the live stream carries everything the instructor
 * console shows, so a console never needs REST or the audit log to stay right. The frame that
 * says an interlock changed, or that the visit started or ended, carries every station again
 * (their `startable` depends on both; before, stations were only re-sent when a station itself
 * changed, and a console kept "may not start" up after the reset that allowed the start). Every
 * actuator comes with whether the hub holds it, its last start or stop (who, when, the hub's
 * answer) and why the hub let go of it, and refused commands in any number change none of that.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ActuatorView, LiveFrame, StationView } from "../../hub/src/api/live-protocol.ts";
import type { HubConfigInput } from "../../hub/src/config/schema.ts";
import { type PrinterSimHandle, startPrinterSim } from "../../simulators/printer/index.ts";
import { type Harness, type LiveClient, until } from "./harness.ts";
import { bootSafety, interlock, type Plant, SAFETY_RULES, safetyConfig, staff } from "./safety-world.ts";

/** A rule that forbids only the printer's start: its trip and reset do nothing to the printer itself. */
const PRINTER_GUARD = {
  id: "printer-guard",
  name: { nl: "Printerbewaking", en: "Printer guard" },
  reason: { nl: "Printer mag niet starten: lekkage", en: "Printer may not start: leak" },
  when: { type: "equals", input: "water.leak", value: 1 },
  forbids: ["printer-1.start"],
  reset: { roles: ["instructor", "technician"], clearForS: 0 },
};

describe("live stream: what the console shows", () => {
  let h: Harness;
  let plant: Plant;
  let printer: PrinterSimHandle;
  let live: LiveClient;
  let juf: Awaited<ReturnType<typeof staff>>;
  let tech: Awaited<ReturnType<typeof staff>>;

  beforeAll(async () => {
    // A simulated Marlin printer over TCP: idle, and nothing about it changes on its own.
    printer = await startPrinterSim({ tcpPort: 0, speedFactor: 50, heatFactor: 20, name: "TEC Sim Printer" });
    const base = safetyConfig();
    const overrides: Partial<HubConfigInput> = {
      devices: [...(base.devices ?? []), { kind: "printer", id: "printer-1", name: "Printer 1", url: printer.url, simulated: true }],
      interlocks: [...SAFETY_RULES, PRINTER_GUARD] as HubConfigInput["interlocks"],
    };
    ({ h, plant } = await bootSafety(overrides));
    await until(async () => (await printerStartable()).ok || undefined, 15_000, "the printer connected and startable");
    juf = await staff(h, "juf");
    tech = await staff(h, "tech");
    live = await h.live();
    await live.snapshot;
  }, 30_000);
  afterAll(async () => {
    await plant?.stop();
    await h?.close();
    await printer?.stop();
  });

  /** The first frame from index `from` on that satisfies `pred`. */
  const frameAfter = (from: number, pred: (f: LiveFrame) => boolean, what: string) => until(() => live.frames.slice(from).find(pred), 5000, what);
  const station = (f: LiveFrame, id: string): StationView | undefined => f.stations.find((s) => s.id === id);
  const actuatorIn = (f: LiveFrame, ref: string): ActuatorView | undefined => f.actuators?.find((a) => a.ref === ref);
  const printerStartable = async () => (await h.get<{ result: StationView }>("/api/stations/printer-1")).body.result.startable;

  it("sends every actuator in the snapshot, with what the hub holds", async () => {
    const snap = await live.snapshot;
    const refs = snap.actuators.map((a) => a.ref);
    expect(refs).toEqual(expect.arrayContaining(["water.pumpEnable", "water.valveOpen", "water.heaterEnable", "battery.dischargeEnable"]));
    // The snapshot may predate the first refresh; the hub holds the config's values by now.
    const fresh = await h.live();
    const pump = (await fresh.snapshot).actuators.find((a) => a.ref === "water.pumpEnable");
    expect(pump).toMatchObject({ device: "water", actuator: "pumpEnable", state: "held", value: 1, order: null, released: null, spec: { safe: 0 } });
    fresh.close();
    expect((await live.snapshot).stations.map((s) => s.id)).toEqual(["printer-1"]);
  });

  it("re-sends the stations in the frame that says the visit started or ended", async () => {
    const mark = live.frames.length;
    expect((await juf("visit.start", { label: "Groep 6", stations: [], minutes: 30 })).body).toMatchObject({ ok: true });
    const started = await frameAfter(mark, (f) => f.visit !== undefined && f.visit !== null, "the visit's frame");
    expect(station(started, "printer-1")?.startable).toMatchObject({ ok: false, reason: { nl: expect.stringContaining("hoort niet bij het bezoek") as unknown } });

    const mark2 = live.frames.length;
    expect((await juf("visit.end")).body).toMatchObject({ ok: true });
    const ended = await frameAfter(mark2, (f) => f.visit === null, "the visit's end");
    expect(station(ended, "printer-1")?.startable).toEqual({ ok: true });
  });

  it("re-sends the stations in the frame that says an interlock tripped, cleared or was reset", async () => {
    let mark = live.frames.length;
    plant.readings.leak = 1;
    const tripped = await frameAfter(mark, (f) => f.interlocks.some((i) => i.id === "printer-guard" && i.status === "tripped"), "the guard's trip");
    expect(station(tripped, "printer-1")?.startable).toMatchObject({ ok: false });
    // The pump was held (the config's `hold`): the leak made the hub let go of it, and says why.
    const released = await frameAfter(mark, (f) => actuatorIn(f, "water.pumpEnable")?.state === "released", "the pump let go");
    expect(actuatorIn(released, "water.pumpEnable")?.released).toMatchObject({ interlock: "water-leak", why: { nl: expect.stringContaining("lekkage gedetecteerd") as unknown } });

    mark = live.frames.length;
    plant.readings.leak = 0;
    const cleared = await frameAfter(mark, (f) => f.interlocks.some((i) => i.id === "printer-guard" && i.status === "cleared"), "the guard cleared");
    expect(station(cleared, "printer-1")?.startable).toMatchObject({ ok: false, reason: { nl: expect.stringContaining("nog niet gereset") as unknown } });

    mark = live.frames.length;
    expect((await juf("interlock.reset", { id: "printer-guard" })).body).toMatchObject({ ok: true });
    const reset = await frameAfter(mark, (f) => f.interlocks.some((i) => i.id === "printer-guard" && i.status === "normal"), "the guard reset");
    expect(station(reset, "printer-1")?.startable).toEqual({ ok: true });
    expect(await printerStartable()).toEqual({ ok: true });
  });

  it("says who started and stopped an actuator, and what the hub answered", async () => {
    await until(async () => (await interlock(h, "water-leak")).resetBlocked === null || undefined, 5000, "the leak's reset allowed");
    expect((await tech("interlock.reset", { id: "water-leak" })).body).toMatchObject({ ok: true });

    let mark = live.frames.length;
    expect((await juf("actuator.start", { device: "water", actuator: "pumpEnable", value: 1 })).body).toMatchObject({ ok: true });
    const held = await frameAfter(mark, (f) => actuatorIn(f, "water.pumpEnable")?.order?.result === "ok", "the start");
    expect(actuatorIn(held, "water.pumpEnable")).toMatchObject({ state: "held", value: 1, released: null, order: { command: "actuator.start", by: "juf", code: null } });

    mark = live.frames.length;
    expect((await juf("actuator.stop", { device: "water", actuator: "pumpEnable" })).body).toMatchObject({ ok: true });
    const stopped = await frameAfter(mark, (f) => actuatorIn(f, "water.pumpEnable")?.order?.command === "actuator.stop" && actuatorIn(f, "water.pumpEnable")?.order?.result === "ok", "the stop");
    // A stop is not a release: nothing let go of it behind anyone's back.
    expect(actuatorIn(stopped, "water.pumpEnable")).toMatchObject({ state: "off", value: null, released: null, order: { by: "juf" } });
  });

  it("e-stop: says what it let go of, a refused start with the hub's reason, and the reset re-sends the stations", async () => {
    let mark = live.frames.length;
    expect((await juf("estop.trigger")).body).toMatchObject({ ok: true });
    const heater = await frameAfter(mark, (f) => actuatorIn(f, "water.heaterEnable")?.state === "released", "the heater let go");
    expect(actuatorIn(heater, "water.heaterEnable")?.released).toMatchObject({ interlock: "estop", why: { nl: "De noodstop is actief." } });
    await until(async () => (await printerStartable()).ok === false || undefined, 5000, "the printer blocked");

    mark = live.frames.length;
    const refused = (await juf("actuator.start", { device: "water", actuator: "heaterEnable", value: 1 })).body;
    expect(refused).toMatchObject({ ok: false, code: "INTERLOCK_TRIPPED" });
    const answer = await frameAfter(mark, (f) => actuatorIn(f, "water.heaterEnable")?.order?.result === "refused", "the refusal");
    expect(actuatorIn(answer, "water.heaterEnable")).toMatchObject({ state: "released", order: { command: "actuator.start", by: "juf", code: "INTERLOCK_TRIPPED", reason: { nl: expect.stringContaining("noodstop") as unknown } } });

    await until(async () => (await interlock(h, "estop")).status === "cleared" || undefined, 5000, "the e-stop's cause gone");
    mark = live.frames.length;
    expect((await juf("interlock.reset", { id: "estop" })).body).toMatchObject({ ok: true });
    const reset = await frameAfter(mark, (f) => f.interlocks.some((i) => i.id === "estop" && i.status === "normal"), "the e-stop reset");
    // The e-stop halted the printer (M112), which comes back on its own time: whatever else may
    // still keep it from starting, the e-stop no longer does, and the frame of the reset says so.
    const after = station(reset, "printer-1")?.startable;
    expect(after).toBeDefined();
    expect(JSON.stringify(after)).not.toMatch(/Noodstop|Emergency stop/);
  });

  it("keeps every actuator's last order and the holds through 350 refused commands", async () => {
    const before = (await live.snapshot).actuators.length;
    for (let i = 0; i < 350; i++) {
      await fetch(`${h.httpUrl}/api/commands/nope.x`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      expect((await tech("alarm.acknowledge", { key: `no-such-alarm-${i}` })).body).toMatchObject({ ok: false, code: "NOT_FOUND" });
    }
    const fresh = await h.live();
    const snap = await fresh.snapshot;
    expect(snap.actuators).toHaveLength(before);
    expect(snap.actuators.find((a) => a.ref === "water.heaterEnable")).toMatchObject({ state: "released", order: { by: "juf", result: "refused" } });
    expect(snap.actuators.find((a) => a.ref === "water.pumpEnable")).toMatchObject({ state: "off", order: { command: "actuator.stop", by: "juf", result: "ok" } });
    fresh.close();
  }, 60_000);
});
