/**
 * Time that makes sense, and a kiosk that goes home: with the simulated Tiny House (600x from noon
 * in Deventer) the kiosk's clock shows the house's time of day, "Vandaag" runs in simulated hours
 * with round values, the technician's `sim.clock` re-anchors it all at once, a visitor's English
 * goes back to Dutch after an idle spell (`idle=2` here instead of a minute), and a trip names
 * what it stopped in plain words.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARTIFACTS, launchBrowser, type TestBrowser } from "../support/browser.ts";
import { bootDemoHub, watchPage, type DemoHub, type PageWatch } from "../support/demo-hub.ts";

const VIEWPORT = { width: 1366, height: 768 };
/** "13:05" as minutes of the day. */
const minutes = (hhmm: string | null) => {
  const m = /^(\d\d):(\d\d)$/.exec(hhmm ?? "");
  return m === null ? Number.NaN : Number(m[1]) * 60 + Number(m[2]);
};

describe("kiosk time and going home", () => {
  let demo: DemoHub;
  let tb: TestBrowser;
  const watches: PageWatch[] = [];

  beforeAll(async () => {
    [demo, tb] = await Promise.all([bootDemoHub({ configure: (c) => ({ ...c, devices: c.devices.filter((d) => d.kind !== "robot-firmata") }) }), launchBrowser()]);
  }, 120_000);
  afterAll(async () => {
    await tb?.close();
    await demo?.close();
  });

  const open = async (hash: string) => {
    const page = await tb.browser.newPage({ viewport: VIEWPORT, locale: "nl-NL", timezoneId: "Europe/Amsterdam", reducedMotion: "reduce" });
    watches.push(watchPage(page, demo.url));
    await page.goto(`${demo.url}/${hash}`);
    return page;
  };

  it("shows the simulated time of day, and follows sim.clock's jumps and speeds", { timeout: 60_000 }, async () => {
    const page = await open("#/?view=today");
    const clock = page.locator(".kiosk-clock");
    // The demo starts at 12:00 in Deventer at 600x: the clock shows the afternoon, not the real time.
    await expect.poll(async () => minutes(await clock.textContent()), { timeout: 15_000 }).toBeGreaterThanOrEqual(12 * 60);
    const sim = demo.sims.house?.simClock.current();
    expect(sim?.speed).toBe(600);
    // "Vandaag": hour labels in simulated time, values on round steps.
    await expect.poll(() => page.locator(".today-chart .axis").allTextContents(), { timeout: 15_000 }).toContain("0 W");
    const axis = await page.locator(".today-chart .axis").allTextContents();
    const watts = axis.filter((a) => /W$/.test(a)).map((a) => Number(a.replace(/[^\d,]/g, "").replace(",", ".")) * (a.includes("kW") ? 1000 : 1));
    expect(watts.length).toBeGreaterThan(2);
    const step = (watts[1] ?? 0) - (watts[0] ?? 0);
    expect([100, 200, 250, 500, 1000, 2000, 2500]).toContain(step);
    for (const w of watts) expect(w % step).toBe(0);
    // Hours of the simulated afternoon; on a slow machine the simulated day (600x) may pass midnight
    // before the chart is read: then the hours after 00:00 up to the simulated clock count too.
    const nowMin = minutes(await clock.textContent());
    for (const label of axis.filter((a) => /^\d\d:\d\d$/.test(a))) {
      const m = minutes(label);
      expect(m >= 12 * 60 || (nowMin < 12 * 60 && m <= nowMin), `${label} (simulated clock ${nowMin} min)`).toBe(true);
    }
    await page.screenshot({ path: path.join(ARTIFACTS, "kiosk-today-simulated.png") });

    const tech = await demo.login("technicus", "technician");
    const slow = await demo.command(tech, "sim.clock", { speed: 1, jumpToHour: 7 });
    expect(slow.ok).toBe(true);
    expect(slow.result).toMatchObject({ speed: 1 });
    // The next 07:00 in the house: tomorrow morning. The kiosk's clock shows it within a frame.
    await expect.poll(() => clock.textContent(), { timeout: 10_000 }).toMatch(/^07:0[01]$/);
    expect((await demo.command(tech, "sim.clock", { speed: 5000 })).ok).toBe(false);
    expect((await demo.command(tech, "sim.clock", { jumpToHour: 12, speed: 600 })).ok).toBe(true);
    await expect.poll(async () => minutes(await clock.textContent()), { timeout: 10_000 }).toBeGreaterThanOrEqual(12 * 60);
    // Instructors cannot change the time.
    const instructor = await demo.login("begeleider", "1234");
    expect((await demo.command(instructor, "sim.clock", { speed: 60 })).code).toBe("FORBIDDEN");
  });

  it("goes back to Dutch after an idle spell, and names what a trip stopped", { timeout: 60_000 }, async () => {
    const page = await open("#/?view=flow&idle=2");
    // A visitor with a keyboard: the language button gets a ring visible from across the room.
    await expect.poll(() => page.locator('[data-node="pv"] .num').textContent(), { timeout: 15_000 }).toMatch(/\d/);
    await page.keyboard.press("Tab");
    const ring = await page.evaluate(() => {
      const el = document.activeElement;
      const cs = el === null ? null : getComputedStyle(el);
      return { testId: el?.getAttribute("data-testid") ?? null, style: cs?.outlineStyle, width: parseFloat(cs?.outlineWidth ?? "0") };
    });
    expect(ring.testId).toBe("lang");
    expect(ring.style).toBe("solid");
    expect(ring.width).toBeGreaterThanOrEqual(3);
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator('[data-testid="kiosk-title"]').textContent()).toBe("Where does the power go?");
    // Nobody touches it: after the idle spell it is the kiosk's own language again.
    await expect.poll(() => page.locator('[data-testid="kiosk-title"]').textContent(), { timeout: 10_000 }).toBe("Waar gaat de stroom heen?");

    const tech = await demo.login("technicus", "technician");
    expect((await demo.command(tech, "sim.door", { station: "printer-2", open: true })).ok).toBe(true);
    const why = page.locator('[data-testid="why"]');
    await expect.poll(() => why.locator(".why-stopped").allTextContents(), { timeout: 15_000 }).toContain("Gestopt: printer 2.");
    await page.screenshot({ path: path.join(ARTIFACTS, "kiosk-why-printer.png") });
    expect((await demo.command(tech, "sim.door", { station: "printer-2", open: false })).ok).toBe(true);
  });

  it("says the machines stopped and the house still uses power when the e-stop is pressed", { timeout: 60_000 }, async () => {
    const page = await open("#/?view=flow");
    await expect.poll(() => page.locator('[data-node="house"] .num').textContent(), { timeout: 15_000 }).toMatch(/\d/);
    const tech = await demo.login("technicus", "technician");
    expect((await demo.command(tech, "sim.estopButton", { pressed: true })).ok).toBe(true);
    const why = page.locator('[data-testid="why"]');
    await expect.poll(() => why.getAttribute("data-kind"), { timeout: 15_000 }).toBe("estop");
    // The same sentence the instructor's e-stop test reads on its kiosk.
    await expect.poll(() => why.innerText()).toMatch(/Iemand heeft op de noodstop gedrukt\.\s+De machines zijn veilig gestopt tot een begeleider ze weer vrijgeeft\./);
    const text = await why.innerText();
    expect(text).toMatch(/Het huis gebruikt nog wel stroom: \d+(,\d)? k?W\./);
    expect(text).not.toContain("Alles is veilig uitgezet");
    await page.screenshot({ path: path.join(ARTIFACTS, "kiosk-estop-house-power.png") });
    expect((await demo.command(tech, "sim.estopButton", { pressed: false })).ok).toBe(true);
  });

  it("asked nothing of anything but the hub, and logged no errors", () => {
    expect(watches.flatMap((w) => w.outside())).toEqual([]);
    expect(watches.flatMap((w) => w.consoleErrors)).toEqual([]);
  });
});
