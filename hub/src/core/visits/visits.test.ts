import { describe, expect, it } from "vitest";
import { ManualClock } from "../clock.ts";
import { HubError } from "../errors.ts";
import { juf, rejection, thrown } from "../testing/safety-site.ts";
import { type Visit, VisitService } from "./visits.ts";

function setup(started = true) {
  const clock = new ManualClock();
  const visits = new VisitService({ clock });
  const ended: Array<{ visit: Visit; reason: string }> = [];
  const changes: Array<string | null> = [];
  visits.onChange((v) => changes.push(v?.label ?? null));
  if (started) visits.startService({ onEnd: (visit, reason) => Promise.resolve(void ended.push({ visit, reason })) });
  return { clock, visits, ended, changes };
}

const params = { label: "Groep 7, De Regenboog", stations: ["robot-arm", "printer-1", "robot-arm"], minutes: 90 };

describe("VisitService", () => {
  it("opens no visit before startService (the hub is still starting), nor after stop", () => {
    const { visits } = setup(false);
    expect(thrown(() => visits.start(juf, params))).toMatchObject({ code: "DEVICE_OFFLINE", message: "the hub is still starting: no visit can open yet" });
    expect(visits.active).toBeNull();
    const running = setup();
    running.visits.stop();
    expect(thrown(() => running.visits.start(juf, params))).toBeInstanceOf(HubError);
  });

  it("opens a visit for its stations (each once), for its time, and says so", () => {
    const { clock, visits, changes } = setup();
    const v = visits.start(juf, params);
    expect(v).toEqual({ id: `visit-${clock.now()}-1`, label: "Groep 7, De Regenboog", openedBy: "juf", startedAt: clock.now(), endsAt: clock.now() + 90 * 60_000, stations: ["robot-arm", "printer-1"] });
    expect(visits.active).toEqual(v);
    expect(changes).toEqual(["Groep 7, De Regenboog"]);
    expect(thrown(() => visits.start(juf, { ...params, label: "another" }))).toMatchObject({ code: "REQUEST_INVALID", message: /a visit is already running \("Groep 7, De Regenboog", opened by juf\)/ });
  });

  // [station, with a visit open to robot-arm and printer-1?] -> present, blocks
  it.each([
    ["robot-arm", false, false, null],
    ["printer-2", false, false, null],
    ["robot-arm", true, true, null],
    ["printer-1", true, true, null],
    ["printer-2", true, false, 'printer-2 is not part of the visit "Groep 7, De Regenboog".'],
  ] as const)("%s with a visit running: %s -> present %s, blocked: %s", (station, visit, present, blocks) => {
    const { visits } = setup();
    if (visit) visits.start(juf, params);
    expect(visits.present(station)).toBe(present);
    expect(visits.blocks(station)?.en ?? null).toBe(blocks);
    if (blocks !== null) expect(visits.blocks(station)?.nl).toBe('printer-2 hoort niet bij het bezoek "Groep 7, De Regenboog".');
    // With the station's name, people read that instead of its id.
    if (blocks !== null) expect(visits.blocks(station, { nl: "Printer 2", en: "Printer two" })?.en).toBe('Printer two is not part of the visit "Groep 7, De Regenboog".');
  });

  it("ends the visit when its time is up, exactly then, and calls the hook once", async () => {
    const { clock, visits, ended, changes } = setup();
    const v = visits.start(juf, { ...params, minutes: 2 });
    clock.advance(2 * 60_000 - 1);
    expect(visits.active).not.toBeNull();
    clock.advance(1);
    await Promise.resolve();
    expect(visits.active).toBeNull();
    expect(ended).toEqual([{ visit: v, reason: "the visit's time (2 min) is up" }]);
    expect(changes).toEqual(["Groep 7, De Regenboog", null]);
    expect(visits.present("robot-arm")).toBe(false);
    clock.advance(60 * 60_000);
    expect(ended).toHaveLength(1);
  });

  it("ends by hand with the reason given; its timer no longer fires; a second end is refused", async () => {
    const { clock, visits, ended } = setup();
    visits.start(juf, params);
    await visits.end("ended by juf");
    expect(ended.map((e) => e.reason)).toEqual(["ended by juf"]);
    clock.advance(2 * 60 * 60_000);
    expect(ended).toHaveLength(1);
    expect(await rejection(visits.end("again"))).toMatchObject({ code: "REQUEST_INVALID", message: "no visit is running" });
    // A new one may open now.
    expect(visits.start(juf, params).id).toMatch(/-2$/);
  });

  it("stop() cancels the running visit's timer: a planned stop does not end it on the hub's behalf", () => {
    const { clock, visits, ended } = setup();
    visits.start(juf, params);
    visits.stop();
    clock.advance(2 * 60 * 60_000);
    expect(ended).toEqual([]);
  });
});
