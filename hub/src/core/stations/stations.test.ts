import { describe, expect, it } from "vitest";
import { HubError } from "../errors.ts";
import { ESTOP_ID } from "../interlock/service.ts";
import { FakeStation, buildSite, engineRule, juf, rejection } from "../testing/safety-site.ts";
import type { Text } from "../types.ts";
import { VisitService } from "../visits/visits.ts";
import type { StationAction } from "./stations.ts";

/** Two rules a station's faults trip (forced trips: their cause is gone at the next evaluation). */
const faultRule = (id: string) => engineRule({ id, forbids: ["cell.start"], reset: { roles: ["instructor"], clearForS: 0 } });

async function setup() {
  const cell = new FakeStation("cell", ["cell-fault", "cell-door"]);
  const other = new FakeStation("other", ["other-fault"]);
  const site0 = { visits: null as VisitService | null };
  const site = buildSite({ rules: [faultRule("cell-fault"), faultRule("cell-door"), { ...faultRule("other-fault"), forbids: ["other.start"] }], stations: [cell, other], gates: [(id) => site0.visits?.blocks(id) ?? null] });
  const visits = new VisitService({ clock: site.clock });
  site0.visits = visits;
  visits.startService({ onEnd: () => Promise.resolve() });
  const changed: string[] = [];
  site.bus.on("station:changed", "test", (e) => changed.push(e.id));
  site.stations.start();
  site.service.start();
  site.allCalm();
  await site.advance(100);
  return { site, cell, other, visits, changed };
}

const text = (en: string): Text => ({ nl: en, en });

describe("StationRegistry", () => {
  // One sentence per reason, in the rule's own words: never the rule's or the actuator's id, nor the trip's raw detail ("door").
  type VerdictRow = [name: string, refusing: string[], trip: string | null, visitWithout: boolean, reasons: string[] | null];
  const verdicts: VerdictRow[] = [
    ["nothing refuses", [], null, false, null],
    ["the station refuses", ["A job is running."], null, false, ["A job is running."]],
    ["an interlock that forbids cell.start", [], "cell-door", false, ["Reason cell-door."]],
    ["the e-stop (forbids everything)", [], ESTOP_ID, false, ["The emergency stop is active."]],
    ["a visit it is not open to", [], null, true, ['cell is not part of the visit "class".']],
    ["all of them, the station's first", ["Not connected.", "Faulted."], "cell-fault", true, ["Not connected.", "Faulted.", "Reason cell-fault.", 'cell is not part of the visit "class".']],
  ];

  it.each(verdicts)("verdict and startProgram agree: %s", async (_name, refusing, trip, visitWithout, reasons) => {
    const { site, cell, visits } = await setup();
    cell.refusing = refusing.map(text);
    if (trip === ESTOP_ID) site.service.emergencyStop(juf);
    else if (trip !== null) site.service.trip(trip, text("door"));
    if (visitWithout) visits.start(juf, { label: "class", stations: ["other"], minutes: 60 });
    const verdict = site.stations.verdict("cell");
    expect(site.stations.view("cell").startable).toEqual(verdict);
    if (reasons === null) {
      expect(verdict).toEqual({ ok: true });
      await expect(site.stations.startProgram("cell", "demo", juf)).resolves.toMatchObject({ id: "cell", startable: { ok: true } });
      expect(cell.started).toEqual(["demo"]);
      return;
    }
    if (verdict.ok) throw new Error("expected a refusal");
    expect(verdict.reasons.map((r) => r.en)).toEqual(reasons);
    expect(verdict.reason.en).toBe(reasons.join(" "));
    expect(verdict.reason.nl).toBe(verdict.reasons.map((r) => r.nl).join(" "));
    const error = await rejection(site.stations.startProgram("cell", "demo", juf));
    expect(error).toBeInstanceOf(HubError);
    expect(error).toMatchObject({ code: "INTERLOCK_TRIPPED", reason: verdict.reason, details: { station: "cell" } });
    expect(cell.started).toEqual([]);
  });

  it("says the same sentence once, from whichever source (a robot's own e-stop and its rule)", async () => {
    const { site, cell } = await setup();
    const estop = { nl: "De noodstop is actief.", en: "The emergency stop is active." };
    cell.refusing = [estop];
    site.service.emergencyStop(juf);
    expect(site.stations.verdict("cell")).toEqual({ ok: false, reason: estop, reasons: [estop] });
  });

  it("runs only programs from the station's approved catalogue", async () => {
    const { site, cell } = await setup();
    expect(await rejection(site.stations.startProgram("cell", "rm -rf", juf))).toMatchObject({ code: "REQUEST_INVALID", reason: { en: `"rm -rf" is not in cell's approved list.` } });
    expect(await rejection(site.stations.startProgram("nope", "demo", juf))).toMatchObject({ code: "NOT_FOUND" });
    expect(cell.started).toEqual([]);
  });

  it("clears a station's fault once all of its fault rules and the e-stop are normal after resets, not before, and starts nothing", async () => {
    const { site, cell, other, changed } = await setup();
    site.service.trip("cell-fault", text("program error"));
    site.service.trip("cell-door", text("door"));
    site.service.emergencyStop(juf);
    await site.advance(200);
    expect(site.service.list().filter((v) => v.status === "cleared").map((v) => v.id)).toEqual([ESTOP_ID, "cell-fault", "cell-door"]);

    site.service.reset("cell-fault", juf);
    await site.advance(0);
    expect(cell.clearFaults).toBe(0);
    site.service.reset("cell-door", juf);
    await site.advance(0);
    // Still the e-stop.
    expect(cell.clearFaults).toBe(0);
    changed.length = 0;
    site.service.reset(ESTOP_ID, juf);
    await site.advance(0);
    expect(cell.clearFaults).toBe(1);
    // The e-stop's reset also clears a station whose own rules are all normal.
    expect(other.clearFaults).toBe(1);
    expect(changed.sort()).toEqual(["cell", "other"]);
    expect([cell.started, other.started]).toEqual([[], []]);
    expect(site.stations.verdict("cell")).toEqual({ ok: true });

    // One rule of its own, reset on its own: cleared once more; the other station is left alone.
    site.service.trip("cell-door", text("door"));
    await site.advance(200);
    site.service.reset("cell-door", juf);
    await site.advance(0);
    expect([cell.clearFaults, other.clearFaults]).toEqual([2, 1]);
  });

  it("after stopAll no reset clears anything any more", async () => {
    const { site, cell } = await setup();
    site.service.trip("cell-door", text("door"));
    await site.advance(200);
    await site.stations.stopAll();
    site.service.reset("cell-door", juf);
    await site.advance(0);
    expect(cell.clearFaults).toBe(0);
  });

  it("the emergency stop reaches every station, one failing does not hold up the others", async () => {
    const { site, cell, other } = await setup();
    other.act = (action: StationAction) => Promise.reject(new Error(`cannot ${action}`));
    await site.stations.emergencyStopAll("test", juf);
    expect(cell.acted).toEqual(["estop"]);
  });
});
