/**
 * The kiosk's story (dashboard/src/views/kiosk/story.ts): every sentence follows from the numbers
 * shown beside it. Table-driven; the sentences rendered in Dutch as the kiosk shows them.
 */
import { describe, expect, it } from "vitest";
import { say } from "../../dashboard/src/views/kiosk/say.ts";
import { flowStory, shownPower, whyNext, type StoryInput } from "../../dashboard/src/views/kiosk/story.ts";

const NOON: StoryInput = { pvW: 2000, gridW: -500, batteryW: -300, loadW: 1200, heatPumpW: 0, irradianceWm2: 700, socPct: 55.4, hpHeatW: 0, hpCop: null };

describe("kiosk story: values and sentences agree", () => {
  it.each([
    // grid W, shown W, direction
    [9, 0, "Niets van of naar het net"],
    [-14, 0, "Niets van of naar het net"],
    [0, 0, "Niets van of naar het net"],
    [15, 15, "Stroom van het net"],
    [420, 420, "Stroom van het net"],
    [-16, 16, "Stroom naar het net"],
    [-2400, 2400, "Stroom naar het net"],
  ])("grid %d W is shown as %d W with \"%s\"", (gridW, shown, dir) => {
    const s = flowStory({ ...NOON, gridW });
    expect(s.grid.shownW).toBe(shown);
    expect(say(s.grid.dir)).toBe(dir);
    // "Voor de buren!" only when something goes to the grid.
    expect(say(s.grid.caption) === "Voor de buren!").toBe(gridW <= -15);
  });

  it.each([
    [0, 0, "rust"],
    [12, 0, "rust"],
    [-800, 800, "laadt op"],
    [650, 650, "geeft stroom"],
  ])("battery %d W is shown as %d W, \"%s\"", (batteryW, shown, dir) => {
    const s = flowStory({ ...NOON, batteryW });
    expect(s.battery.shownW).toBe(shown);
    expect(say(s.battery.dir)).toBe(dir);
    expect(say(s.battery.caption)).toBe("55 % vol");
  });

  it.each([
    // pv W, irradiance, shown, caption
    [1500, 700, 1500, "Genoeg voor 30 laptops"],
    [60, 40, 60, "Genoeg voor 6 ledlampen"],
    [8, 20, 0, "Bijna niets"],
    [0, 0, 0, "Het is donker: geen zonnestroom"],
  ])("panels at %d W (%d W/m²) show %d W: \"%s\"", (pvW, irradianceWm2, shown, caption) => {
    const s = flowStory({ ...NOON, pvW, irradianceWm2 });
    expect(s.pv.shownW).toBe(shown);
    expect(say(s.pv.caption)).toBe(caption);
    expect(s.night).toBe(pvW === 0 && irradianceWm2 === 0);
  });

  it.each([
    [1200, "Zoveel als 24 laptops"],
    [4000, "Zoveel als 2 waterkokers"],
    [2000, "Zoveel als 1 waterkoker"],
    [10, "Bijna niets"],
  ])("the house at %d W: \"%s\"", (loadW, caption) => {
    expect(say(flowStory({ ...NOON, loadW }).house.caption)).toBe(caption);
  });

  it("a heat pump below the threshold is off, and says nothing about heat", () => {
    const off = flowStory({ ...NOON, heatPumpW: 10, hpHeatW: 30, hpCop: 3 });
    expect(off.heatPump.shownW).toBe(0);
    expect(say(off.heatPump.dir)).toBe("staat uit");
    expect(off.heatPump.caption).toBeNull();
    const on = flowStory({ ...NOON, heatPumpW: 800, hpHeatW: 2800, hpCop: 3.5 });
    expect(on.heatPump.dir).toBeNull();
    expect(say(on.heatPump.caption)).toBe("Maakt 2,8 kW warmte: 3,5 keer zoveel!");
  });

  it("never shows a number beside a sentence that says it is nothing (sweep)", () => {
    for (let w = -60; w <= 60; w++) {
      const s = flowStory({ ...NOON, gridW: w, batteryW: w });
      expect(say(s.grid.dir) === "Niets van of naar het net", `grid ${w}`).toBe(s.grid.shownW === 0);
      expect(say(s.battery.dir) === "rust", `battery ${w}`).toBe(s.battery.shownW === 0);
    }
    expect(shownPower(null)).toBeNull();
    expect(shownPower(Number.NaN)).toBeNull();
  });

  it.each([
    [{ pvW: 2000, gridW: -500, batteryW: -300, loadW: 1200 }, "De zon maakt meer stroom dan het huis nodig heeft!"],
    [{ pvW: 1200, gridW: 0, batteryW: 0, loadW: 1200 }, "Het huis draait nu helemaal op de zon!"],
    [{ pvW: 500, gridW: 700, batteryW: 0, loadW: 1200 }, "De zon helpt mee. De rest komt uit de accu of het net."],
    [{ pvW: 0, gridW: 1200, batteryW: 0, loadW: 1200, irradianceWm2: 300 }, "Het huis haalt zijn stroom nu uit het net."],
    [{ pvW: 0, gridW: 200, batteryW: 1000, loadW: 1200, irradianceWm2: 0 }, "Het is donker. De accu geeft de stroom van vandaag terug."],
    [{ pvW: 0, gridW: 1200, batteryW: 0, loadW: 1200, irradianceWm2: 0 }, "Het is donker. Het huis gebruikt stroom uit het net."],
    [{ pvW: null, loadW: null }, "We wachten op de meters…"],
  ] as Array<[Partial<StoryInput>, string]>)("headline for %o", (r, text) => {
    expect(say(flowStory({ ...NOON, ...r }).headline)).toBe(text);
  });
});

describe("kiosk story: what happens next", () => {
  const base = { id: "water-leak", status: "tripped" as const, latched: false, leftOff: 0, loadW: 900, trippedAt: Date.UTC(2026, 5, 21, 10, 5) };
  it.each([
    [{}, ["Dit gaat vanzelf weer over."]],
    [{ leftOff: 1 }, ["Wat uit is gegaan, blijft uit. Een begeleider zet het weer aan."]],
    [{ status: "cleared" as const }, ["Het probleem is weg. Een begeleider zet het straks weer aan."]],
    [{ status: "waiting" as const }, []],
  ])("%o", (over, lines) => {
    expect(whyNext({ ...base, ...over }).map(say)).toEqual(lines);
  });

  it("a latched trip says since when, never that it sorts itself out", () => {
    const lines = whyNext({ ...base, latched: true, leftOff: 2 }).map(say);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Sinds \d\d:\d\d\. Een begeleider kijkt ernaar\.$/);
  });

  it.each([
    [900, ["De machines zijn veilig gestopt tot een begeleider ze weer vrijgeeft.", "Het huis gebruikt nog wel stroom: 900 W."]],
    [1540, ["De machines zijn veilig gestopt tot een begeleider ze weer vrijgeeft.", "Het huis gebruikt nog wel stroom: 1,5 kW."]],
    [9, ["De machines zijn veilig gestopt tot een begeleider ze weer vrijgeeft."]],
    [null, ["De machines zijn veilig gestopt tot een begeleider ze weer vrijgeeft."]],
  ])("the e-stop with the house at %s W", (loadW, lines) => {
    expect(whyNext({ ...base, id: "estop", latched: true, loadW }).map(say)).toEqual(lines);
  });
});
