/**
 * The workbench tells the truth (issue 12), in a real browser against the real simulators: "last
 * seen" is the live age of the last telemetry (about a second for a healthy 1 Hz device, growing
 * for one that went away); a crashed device leaves a hole in its history, drawn as a hole, with
 * its offline alarm shaded over it; a trip in the audit log is an event of its own, not a green
 * "gelukt", and no raw epoch numbers; the simulator tab opens every station's door and makes a
 * sensor stick, listing the faults active now; every "Details" button names its device, the tab
 * counters are readable and no workbench text is under 14 px.
 */
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARTIFACTS, launchBrowser, type TestBrowser } from "../support/browser.ts";
import { bootDemoHub, watchPage, type DemoHub, type PageWatch } from "../support/demo-hub.ts";

/** The device crashed for the history (its no-flow interlock trips too: a trip band over the same hole). */
const VICTIM = "heat-pump";

describe("technician workbench tells the truth", () => {
  let demo: DemoHub;
  let tb: TestBrowser;
  let page: Page;
  let tech = "";
  const watches: PageWatch[] = [];

  const tab = async (id: string) => {
    await page.locator(`a[data-tab="${id}"]`).click();
    await expect.poll(() => page.locator(`a[data-tab="${id}"]`).getAttribute("aria-current")).toBe("page");
  };
  const ageOf = async (device: string) => Number((await page.locator(`tbody[data-device="${device}"] .dev-seen`).getAttribute("data-age-s")) ?? Number.NaN);

  beforeAll(async () => {
    [demo, tb] = await Promise.all([bootDemoHub(), launchBrowser()]);
    tech = await demo.login("technicus", "technician");
    const context = await tb.browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "nl-NL" });
    page = await context.newPage();
    watches.push(watchPage(page, demo.url));
    await page.goto(`${demo.url}/#/technician`);
    await page.locator("#login-name").fill("technicus");
    await page.locator("#login-secret").fill("technician");
    await page.getByRole("button", { name: "Inloggen" }).click();
    // Booting builds the dashboard when its sources are newer than dashboard/dist: on a shared machine that takes a while.
  }, 180_000);
  afterAll(async () => {
    await tb?.close();
    await demo?.close();
  });

  it("shows the age of the last telemetry, live: about a second for a healthy 1 Hz device", async () => {
    await expect.poll(() => page.locator('[data-testid="device-table"] tbody[data-state="ready"]').count(), { timeout: 20_000 }).toBe(demo.config.devices.length);
    // Every Tiny House board sends at 1 Hz: its age stays at 0-2 s however long one watches.
    for (const id of ["climate", "water", VICTIM]) {
      await expect.poll(() => ageOf(id), { timeout: 5000 }).toBeLessThanOrEqual(2);
      expect(await page.locator(`tbody[data-device="${id}"] .dev-seen`).textContent()).toMatch(/^[012] s geleden$/);
    }
  });

  it("counts up for a device that went away, and a crash leaves a hole in its history with its alarm shaded", async () => {
    expect(await demo.command(tech, "sim.power", { device: VICTIM, action: "crash" })).toMatchObject({ ok: true });
    await expect.poll(() => page.locator(`tbody[data-device="${VICTIM}"]`).getAttribute("data-state"), { timeout: 10_000 }).toBe("offline");
    // The age grows with nothing arriving: the cell ticks on its own (no frame carries this device now).
    await expect.poll(() => ageOf(VICTIM), { timeout: 20_000 }).toBeGreaterThanOrEqual(8);
    expect(await page.locator(`tbody[data-device="${VICTIM}"] .dev-seen`).textContent()).toMatch(/^\d+ s geleden$/);
    // Why, in Dutch, and what is true now (not the "every channel fresh" of before the crash).
    expect(await page.locator(`tbody[data-device="${VICTIM}"] .state-why`).textContent()).not.toMatch(/vers en geldig|every channel|device went offline/);
    await page.screenshot({ path: path.join(ARTIFACTS, "technician-stale.png") });
    expect(await demo.command(tech, "sim.power", { device: VICTIM, action: "restart" })).toMatchObject({ ok: true });
    await expect.poll(() => page.locator(`tbody[data-device="${VICTIM}"]`).getAttribute("data-state"), { timeout: 20_000 }).toBe("ready");
    await expect.poll(() => ageOf(VICTIM), { timeout: 5000 }).toBeLessThanOrEqual(2);

    await tab("history");
    await page.locator('[data-testid="history-device"]').selectOption(VICTIM);
    await page.locator('[data-testid="history-channel"]').selectOption("outdoorTempC");
    const chart = page.locator('[data-testid="history-chart"]');
    const reload = page.getByRole("button", { name: "Vernieuwen" });
    await expect
      .poll(
        async () => {
          await reload.click();
          await expect.poll(() => page.locator('[data-testid="history-status"]').textContent()).not.toBe("Laden…");
          return Number((await chart.getAttribute("data-segments")) ?? 0);
        },
        { timeout: 20_000 },
      )
      .toBeGreaterThanOrEqual(2);
    expect(Number(await chart.getAttribute("data-gaps"))).toBeGreaterThanOrEqual(1);
    expect(await page.locator('[data-testid="history-status"]').textContent()).toMatch(/\d+× geen metingen/);
    // The offline alarm, shaded over the plot and said in words below it.
    const band = chart.locator('.chart-band[data-kind="alarm"]');
    expect(await band.count()).toBeGreaterThanOrEqual(1);
    expect(await chart.locator('.chart-band[data-kind="trip"]').count()).toBeGreaterThanOrEqual(1);
    const box = await band.first().boundingBox();
    expect(box?.width ?? 0).toBeGreaterThan(3);
    expect(await page.locator(`[data-testid="history-events"] li[data-band="device-offline:${VICTIM}"]`).textContent()).toMatch(/^Alarm actief: .+ is offline: .+ tot .+$/);
    await chart.scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS, "technician-history-gap.png") });
  });

  it("shows a trip in the audit log as an event of its own, and times as times", async () => {
    expect(await demo.command(tech, "sim.leak", { on: true })).toMatchObject({ ok: true });
    await tab("audit");
    const trip = page.locator('[data-testid="audit-table"] tr[data-action="interlock.tripped"]').filter({ hasText: "water-leak" }).first();
    // The trip is recorded when the hub sees the leak: search again until it is there.
    await expect
      .poll(
        async () => {
          await page.getByRole("button", { name: "Zoeken" }).click();
          await expect.poll(() => page.locator('[data-testid="audit-filters"] + [role="status"]').textContent()).not.toBe("Laden…");
          return trip.count();
        },
        { timeout: 10_000 },
      )
      .toBe(1);
    expect(await trip.getAttribute("data-kind")).toBe("trip");
    const chip = trip.locator(".chip");
    expect(await chip.textContent()).toBe("uitgeschakeld");
    // Not the green of "gelukt".
    expect(await chip.evaluate((el) => getComputedStyle(el).color)).not.toBe("rgb(0, 102, 74)");
    // The cause in Dutch on a Dutch screen.
    expect(await trip.innerText()).toContain("water.leak = 1");
    // The login's session end is a time, not 1796203457679.
    const login = page.locator('[data-testid="audit-table"] tr[data-action="session.login"]').first();
    expect(await login.getAttribute("data-kind")).toBe("ok");
    const details = (await login.locator(".details").textContent()) ?? "";
    expect(details).toMatch(/expiresAt=\d\d-\d\d(-\d{4})?,? \d\d:\d\d:\d\d/);
    expect(await page.locator('[data-testid="audit-table"]').innerText()).not.toMatch(/\d{13}/);
    await page.screenshot({ path: path.join(ARTIFACTS, "technician-audit.png") });
    expect(await demo.command(tech, "sim.leak", { on: false })).toMatchObject({ ok: true });
  });

  it("opens and closes every station's guard door, and makes a sensor stick, listing what is active", async () => {
    await tab("sim");
    const doors = page.locator('[data-testid="sim-doors"] .sim-door');
    await expect.poll(() => doors.count()).toBeGreaterThanOrEqual(3);
    const ids = await doors.evaluateAll((els) => els.map((e) => e.getAttribute("data-station")));
    expect(ids).toEqual(expect.arrayContaining(["printer-1", "printer-2", "robot-cell"]));
    await page.locator('[data-testid="sim-door-open-printer-2"]').click();
    await expect.poll(() => page.locator('[data-testid="sim-door-open-printer-2"] + .result').textContent()).toMatch(/^De deur van .+ staat open\.$/);
    await page.locator('[data-testid="sim-door-close-printer-2"]').click();
    await expect.poll(() => page.locator('[data-testid="sim-door-close-printer-2"] + .result').textContent()).toMatch(/^De deur van .+ is dicht\.$/);
    await page.locator('[data-testid="sim-door-open-robot-cell"]').click();
    await expect.poll(() => page.locator('[data-testid="sim-door-open-robot-cell"] + .result').getAttribute("data-result")).toBe("ok");
    await page.locator('[data-testid="sim-door-close-robot-cell"]').click();
    await expect.poll(() => page.locator('[data-testid="sim-door-close-robot-cell"] + .result').getAttribute("data-result")).toBe("ok");

    await expect.poll(() => page.locator('[data-testid="sim-active"] [role="status"]').textContent()).toMatch(/^Geen/);
    await page.locator('[data-testid="sim-fault-device"]').selectOption("climate");
    await page.locator('[data-testid="sim-stuck-channel"]').selectOption("co2Ppm");
    await page.locator('[data-testid="sim-stuck-on"]').click();
    await expect.poll(() => page.locator('[data-testid="sim-stuck-on"] + .result').textContent()).toMatch(/blijft nu hangen\.$/);
    await expect.poll(() => page.locator('[data-testid="sim-faults"] li[data-device="climate"]').textContent()).toMatch(/blijft hangen/);
    await page.locator('[data-testid="sim-doors"]').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS, "technician-sim.png") });
    await page.locator('[data-testid="sim-stuck-off"]').click();
    await expect.poll(() => page.locator('[data-testid="sim-faults"] li').count()).toBe(0);
  });

  it("names each device on its Details button, keeps tab counters readable and no text under 14 px", async () => {
    await tab("devices");
    const names = await page.locator('[data-testid="device-table"] .dev-toggle').evaluateAll((els) => els.map((e) => e.getAttribute("aria-label") ?? ""));
    expect(names.length).toBe(demo.config.devices.length);
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^Details van \S/);
    // A counter with something in it: crash a device again so "Apparaten" counts it.
    expect(await demo.command(tech, "sim.power", { device: VICTIM, action: "crash" })).toMatchObject({ ok: true });
    const count = page.locator('a[data-tab="devices"] .count');
    await expect.poll(() => count.textContent(), { timeout: 10_000 }).not.toBe("");
    const ratio = await count.evaluate((el) => {
      const rgb = (s: string) => (s.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map(Number);
      const lum = (c: number[]) => {
        const [r, g, b] = c.map((v) => {
          const x = v / 255;
          return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * (r ?? 0) + 0.7152 * (g ?? 0) + 0.0722 * (b ?? 0);
      };
      const style = getComputedStyle(el);
      const [a, b] = [lum(rgb(style.color)), lum(rgb(style.backgroundColor))].sort((x, y) => y - x);
      return ((a ?? 0) + 0.05) / ((b ?? 0) + 0.05);
    });
    expect(ratio).toBeGreaterThanOrEqual(4.5);
    const small: string[] = [];
    for (const id of ["devices", "alarms", "interlocks", "audit", "history", "hub", "sim"]) {
      await tab(id);
      if (id === "history") await expect.poll(() => page.locator('[data-testid="history-chart"] canvas').count(), { timeout: 10_000 }).toBe(1);
      if (id === "devices") await page.locator(`tbody[data-device="water"] .dev-toggle`).click();
      const found = await page.evaluate(() => {
        const out: string[] = [];
        const roots = [document.querySelector("nav.tabs"), document.querySelector(".tab-body")];
        for (const root of roots) {
          if (root === null) continue;
          const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
          for (let n = walker.nextNode(); n !== null; n = walker.nextNode()) {
            const el = n.parentElement;
            if (el === null || (n.textContent ?? "").trim() === "" || el.closest("[hidden]") !== null || el.getClientRects().length === 0) continue;
            const px = parseFloat(getComputedStyle(el).fontSize);
            if (px < 14) out.push(`${px}px "${(n.textContent ?? "").trim().slice(0, 40)}" (${el.className || el.tagName})`);
          }
        }
        return out;
      });
      small.push(...found.map((f) => `${id}: ${f}`));
    }
    expect(small).toEqual([]);
    await demo.command(tech, "sim.power", { device: VICTIM, action: "restart" });
  });

  it("went nowhere but the hub and logged no errors", () => {
    expect(watches.flatMap((w) => w.outside())).toEqual([]);
    expect(watches.flatMap((w) => w.consoleErrors)).toEqual([]);
  });
});
