/**
 * Issue 10, finding 3: 320 refused requests pushed the running class visit out of the instructor
 * console, which read it from the newest 300 audit rows. The console now takes the visit from the
 * live stream (issue 11, finding 3): whatever fills the audit log, the running visit stays on screen.
 */
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARTIFACTS, launchBrowser, type TestBrowser } from "../support/browser.ts";
import { bootDemoHub, watchPage, type DemoHub, type PageWatch } from "../support/demo-hub.ts";

describe("instructor console: the running visit", () => {
  let demo: DemoHub;
  let tb: TestBrowser;
  let page: Page;
  let watch: PageWatch;

  beforeAll(async () => {
    [demo, tb] = await Promise.all([bootDemoHub(), launchBrowser()]);
    page = await tb.browser.newPage({ viewport: { width: 1280, height: 900 }, locale: "nl-NL" });
    watch = watchPage(page, demo.url);
    // A dashboard build (when dist is older than the sources) and a hub with its simulators, on a shared machine.
  }, 180_000);
  afterAll(async () => {
    await tb?.close();
    await demo?.close();
  });

  it("stays on screen after 320 refused requests from strangers and 320 refused staff commands", async () => {
    const juf = await demo.login("begeleider", "1234");
    expect(await demo.command(juf, "visit.start", { label: "Groep 5, De Wilg", stations: [], minutes: 60 })).toMatchObject({ ok: true });
    // Strangers: counted per address and minute, not one row each.
    for (let i = 0; i < 320; i++) await fetch(`${demo.url}/api/commands/nope.x`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    // Staff refusals are audited one by one: the visit.start row is no longer among the newest 300.
    const tech = await demo.login("technicus", "technician");
    for (let i = 0; i < 320; i++) expect(await demo.command(tech, "alarm.acknowledge", { key: `no-such-alarm-${i}` })).toMatchObject({ code: "NOT_FOUND" });

    await page.goto(`${demo.url}/#/instructor`);
    await page.locator("#login-name").fill("begeleider");
    await page.locator("#login-secret").fill("1234");
    await page.getByRole("button", { name: "Inloggen" }).click();
    const visit = page.locator('[data-testid="visit"]');
    await expect.poll(() => visit.getAttribute("data-active"), { timeout: 10_000 }).toBe("true");
    expect(await visit.locator(".visit-summary").textContent()).toMatch(/^Groep 5, De Wilg · geopend door begeleider om \d\d:\d\d · /);
    await page.screenshot({ path: path.join(ARTIFACTS, "instructor-visit-after-flood.png") });

    // Ended elsewhere (another tablet): the console follows the hub.
    expect(await demo.command(juf, "visit.end")).toMatchObject({ ok: true });
    await expect.poll(() => visit.getAttribute("data-active"), { timeout: 10_000 }).toBe("false");
    expect(watch.consoleErrors).toEqual([]);
    expect(watch.outside()).toEqual([]);
  });
});
