/**
 * Issue 11, finding 3: after an e-stop and its reset the robot card kept "Mag niet starten:
 * Noodstop is nog niet gereset" with Start disabled for at least 51 s while the hub already allowed
 * the start, and refused commands filling the audit log made the running visit disappear. The
 * console now takes stations, holds, interlocks, actuators and the visit from the live stream
 * alone: Start comes back within a second of the reset, without a reload, and no number of refused
 * commands changes what the console shows.
 */
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARTIFACTS, launchBrowser, type TestBrowser } from "../support/browser.ts";
import { bootDemoHub, watchPage, type DemoHub, type PageWatch } from "../support/demo-hub.ts";
import { REFUSAL_ACTION } from "../../hub/src/api/refusals.ts";

/** What the issue asks of the console: Start enabled within this long of the reset. */
const AFTER_RESET_MS = 1000;

describe("instructor console: a reset and a flood of refusals", () => {
  let demo: DemoHub;
  let tb: TestBrowser;
  let page: Page;
  let watch: PageWatch;
  let juf: string;
  let tech: string;

  const robotStart = '[data-testid="station-start-robot-cell"]';
  const robotBlocked = '[data-testid="station-blocked-robot-cell"]';
  const vent = () => page.locator('[data-actuator="climate.ventilationEnable"]');
  const visit = () => page.locator('[data-testid="visit"]');

  beforeAll(async () => {
    [demo, tb] = await Promise.all([bootDemoHub(), launchBrowser()]);
    page = await tb.browser.newPage({ viewport: { width: 1280, height: 1000 }, locale: "nl-NL" });
    watch = watchPage(page, demo.url);
    [juf, tech] = await Promise.all([demo.login("begeleider", "1234"), demo.login("technicus", "technician")]);
    // A dashboard build (when dist is older than the sources) and a hub with its simulators, on a shared machine.
  }, 180_000);
  afterAll(async () => {
    await tb?.close();
    await demo?.close();
  });

  it("opens a visit from the console; the robot may start", async () => {
    await page.goto(`${demo.url}/#/instructor`);
    await page.locator("#login-name").fill("begeleider");
    await page.locator("#login-secret").fill("1234");
    await page.getByRole("button", { name: "Inloggen" }).click();
    await expect.poll(() => visit().isVisible(), { timeout: 10_000 }).toBe(true);
    await visit().locator('[data-testid="visit-label"]').fill("Groep 8, De Linde");
    // Every station is ticked by default, the robot cell among them.
    await expect.poll(() => visit().locator('input[value="robot-cell"]').isChecked(), { timeout: 10_000 }).toBe(true);
    await visit().getByRole("button", { name: "Bezoek starten" }).click();
    await expect.poll(() => visit().getAttribute("data-active")).toBe("true");
    // The cell connects and every rule has fresh inputs: Start is allowed.
    await expect.poll(() => page.locator(robotStart).isEnabled(), { timeout: 30_000 }).toBe(true);
  });

  it("keeps the running visit and the holds on screen through 350 refused commands", async () => {
    expect(await demo.command(juf, "actuator.start", { device: "climate", actuator: "ventilationEnable", value: 1 })).toMatchObject({ ok: true });
    await expect.poll(() => vent().locator(".hold-status").textContent(), { timeout: 10_000 }).toBe("hub houdt aan");
    await expect.poll(() => vent().locator(".act-last").textContent()).toMatch(/^Gestart door begeleider om \d\d:\d\d/);
    for (let i = 0; i < 350; i++) {
      // A stranger without a session, and a technician whose starts are refused (each one audited).
      await fetch(`${demo.url}/api/commands/nope.x`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      expect(await demo.command(tech, "station.start", { station: "robot-cell", program: `no-such-program-${i}` })).toMatchObject({ ok: false, code: "REQUEST_INVALID" });
    }
    // The newest 300 audit rows hold nothing but the refusals now (and, when the loop crossed a
    // minute, the strangers' refusals counted per address and minute: REFUSAL_ACTION).
    const audit = (await (await fetch(`${demo.url}/api/audit?limit=300`, { headers: { authorization: `Bearer ${tech}` } })).json()) as { result: { records: Array<{ action: string; result: string }> } };
    const others = audit.result.records.filter((r) => !(r.action === "station.start" && r.result === "refused") && r.action !== REFUSAL_ACTION);
    expect(others).toEqual([]);
    expect(audit.result.records.filter((r) => r.action === "station.start").length).toBeGreaterThanOrEqual(290);

    // As it stands, and as a fresh page builds it.
    for (const fresh of [false, true]) {
      if (fresh) await page.reload();
      await expect.poll(() => visit().getAttribute("data-active"), { timeout: 10_000 }).toBe("true");
      expect(await visit().locator(".visit-summary").textContent()).toMatch(/^Groep 8, De Linde · geopend door begeleider om \d\d:\d\d · /);
      await expect.poll(() => vent().locator(".hold-status").textContent(), { timeout: 10_000 }).toBe("hub houdt aan");
      expect(await vent().locator(".act-last").textContent()).toMatch(/^Gestart door begeleider om \d\d:\d\d/);
    }
  }, 120_000);

  it("e-stop, reset: the robot's Start is enabled within 1 s of the reset, without a reload", async () => {
    // A reload would lose this.
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    await page.locator('[data-testid="estop"]').click();
    await expect.poll(() => page.locator(robotStart).isDisabled(), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => page.locator(robotBlocked).textContent()).toMatch(/noodstop/i);
    await expect.poll(() => vent().locator(".hold-status").textContent(), { timeout: 10_000 }).toBe("losgelaten");
    // Nothing presses the button: the cause is gone at once, and the screen waits for the reset.
    await expect.poll(async () => ((await (await fetch(`${demo.url}/api/interlocks/estop`)).json()) as { result: { status: string } }).result.status, { timeout: 10_000 }).toBe("cleared");
    await expect.poll(() => page.locator(robotBlocked).textContent()).toMatch(/noodstop is nog niet (gereset|vrijgegeven)/i);

    // The technician resets it elsewhere (REST); nothing about the robot itself changes.
    expect(await demo.command(tech, "interlock.reset", { id: "estop" })).toMatchObject({ ok: true });
    const at = Date.now();
    await page.waitForFunction(
      ([start, blocked]) => {
        const button = document.querySelector<HTMLButtonElement>(start);
        return button !== null && !button.disabled && (document.querySelector(blocked)?.textContent ?? "x") === "";
      },
      [robotStart, robotBlocked] as const,
      { timeout: AFTER_RESET_MS },
    );
    console.log(`e-stop reset to the robot's Start enabled in the browser: ${Date.now() - at} ms`);
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    // The reset restarted nothing; the row says what the e-stop let go of.
    expect(await vent().locator(".hold-status").textContent()).toBe("losgelaten");
    expect(await vent().locator(".act-last").textContent()).toMatch(/ · daarna losgelaten door: .*noodstop/i);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(ARTIFACTS, "instructor-after-reset.png"), fullPage: true });
  });

  it("asked the hub for nothing the live stream carries, went nowhere else and logged no errors", () => {
    const asked = watch.requests.map((u) => new URL(u).pathname);
    expect(asked.filter((p) => p === "/api/audit" || p === "/api/visit" || p === "/api/interlocks" || p === "/api/devices" || p === "/api/stations")).toEqual([]);
    expect(watch.outside()).toEqual([]);
    expect(watch.consoleErrors).toEqual([]);
  });
});
