/**
 * The console's human words (issue 12), table-driven: names instead of ids, no raw readings, no
 * "mag niet starten" said twice, the hub's separate reasons when it sends them. (Pure, like
 * dictionary.test.ts: it lives with the browser tests because vitest runs test/**.)
 */
import { describe, expect, it } from "vitest";
import { LiveStore, type LiveSnapshot } from "../../dashboard/src/core/live-store.ts";
import { blockedLine, labelOf, plain, refName, startReasons } from "../../dashboard/src/views/instructor/words.ts";

const live = new LiveStore();
// A snapshot as the hub sends it, with only what the words need.
live.snapshot = {
  devices: [{ id: "water", name: "Water", channels: {} }],
  stations: [
    { id: "printer-2", name: "Printer 2", label: { nl: "Printer 2", en: "Printer 2" } },
    { id: "robot-cell", name: "Robotcel" },
  ],
  actuators: [{ ref: "water.pumpEnable", device: "water", actuator: "pumpEnable", spec: { safe: 0, leaseMs: 1000, label: "Regenwaterpomp vrijgeven" } }],
  interlocks: [],
  alarms: [],
} as unknown as LiveSnapshot;

describe("the console's words", () => {
  it.each([
    ["Pomp uit en kraan dicht: lekkage gedetecteerd (water.leak = 1)", "Pomp uit en kraan dicht: lekkage gedetecteerd"],
    ["printer-2.start mag niet starten: de deur van de behuizing is open (enclosures.printer2DoorOpen = 1)", "de deur van de behuizing is open"],
    ["De oorzaak is er nog: water.leak = 1.", "De oorzaak is er nog."],
    ["estop-button.pressed = 1", ""],
    ["water.pumpEnable staat uit", "Regenwaterpomp vrijgeven staat uit"],
    ["Robotcel mag niet starten: er is geen begeleider aangemeld", "Robotcel mag niet starten: er is geen begeleider aangemeld"],
    ["noodstop door begeleider", "noodstop door begeleider"],
  ])("says %j as %j", (hub, said) => {
    expect(plain(live, hub)).toBe(said);
  });

  it.each([
    ["printer-2.start", "Printer 2"],
    ["robot-cell.start", "Robotcel"],
    ["water.pumpEnable", "Regenwaterpomp vrijgeven"],
    ["*", "alles"],
  ])("names %s %j", (ref, name) => {
    expect(refName(live, ref)).toBe(name);
  });

  it("takes a label only when it is a name: not the id again, and in English only when translated", () => {
    expect(labelOf({ label: { nl: "Robotcel", en: "Robot cell" } }, "robot-cell", "x")).toBe("Robotcel");
    expect(labelOf({ label: { nl: "fanEnable", en: "fanEnable" } }, "tech-cupboard.fanEnable", undefined)).toBe("Ventilator technische kast");
    expect(labelOf({}, "water.pumpEnable", undefined)).toBe("Regenwaterpomp vrijgeven");
    expect(labelOf(undefined, "no-such.thing", "Hub's name")).toBe("Hub's name");
  });

  it("uses the hub's separate reasons, else splits its one reason, each said once", () => {
    const reasons = [
      { nl: "De deur is open.", en: "The door is open." },
      { nl: "De noodstop is nog niet vrijgegeven.", en: "x" },
      { nl: "De deur is open.", en: "The door is open." },
    ];
    expect(startReasons(live, { ok: false, reason: { nl: "joined", en: "joined" }, reasons })).toEqual(["De deur is open.", "De noodstop is nog niet vrijgegeven."]);
    expect(startReasons(live, { ok: false, reason: { nl: "printer-2.start mag niet starten: A (a.b = 1); B", en: "" } })).toEqual(["A", "B"]);
    expect(startReasons(live, { ok: true })).toEqual([]);
  });

  it("never says 'mag niet starten' twice", () => {
    expect(blockedLine("De deur is open.")).toBe("Mag niet starten: De deur is open.");
    expect(blockedLine("Robotcel mag niet starten: er is geen begeleider")).toBe("Robotcel mag niet starten: er is geen begeleider");
  });
});
