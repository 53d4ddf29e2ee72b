/**
 * Recent rejects stay readable under a flood (issue 10): 2,000 failed logins reported for the Tiny
 * House's water board, and one garbled message, on the demo hub. The technician's workbench, in a
 * real browser, shows the flood as one line with "×N" and the other kind beside it, and the
 * board's sequence counters (in Dutch, the dashboard's first language).
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asDeviceId, type DeviceView } from "../../hub/src/core/types.ts";
import { launchBrowser, type TestBrowser } from "../support/browser.ts";
import { bootDemoHub, type DemoHub } from "../support/demo-hub.ts";

const FLOOD = 2000;

describe("technician workbench: recent rejects under a flood", () => {
  let demo: DemoHub;
  let tb: TestBrowser;
  let page: Page;

  beforeAll(async () => {
    [demo, tb] = await Promise.all([bootDemoHub(), launchBrowser()]);
    page = await (await tb.browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "nl-NL" })).newPage();
    // Booting builds the dashboard when its sources are newer than dashboard/dist: slow on a shared machine.
  }, 180_000);
  afterAll(async () => {
    await tb?.close();
    await demo?.close();
  });

  const water = async () => {
    const res = await fetch(`${demo.url}/api/devices/water`);
    return ((await res.json()) as { result: DeviceView }).result;
  };

  it("shows a flood of failed logins as one line with its count, and the other kinds beside it", async () => {
    // What the broker reports for each refused login (its hook calls pipeline.reject), 2,000 times
    // as in the issue; a garbled message and a poisoned seq through the pipeline the MQTT adapter feeds.
    const before = await water();
    demo.hub.pipeline.ingestRaw("water", "tele", "{ts:");
    demo.hub.pipeline.ingestRaw("water", "tele", JSON.stringify({ ts: 1, seq: 10_004_999, readings: {} }));
    for (let i = 0; i < FLOOD; i++) demo.hub.pipeline.reject(asDeviceId("water"), "auth-failed", `wrong password for device "water" (attempt ${i + 1})`);
    const view = await water();
    expect(view.recentRejects.filter((r) => r.code === "auth-failed").map((r) => r.count)).toEqual([FLOOD]);
    expect(view.recentRejects.some((r) => r.code === "malformed-json")).toBe(true);
    // The simulated board's next honest message is taken at once: a restart of its sequence, no duplicates.
    await expect.poll(async () => (await water()).counters.seqRestarts, { timeout: 10_000 }).toBeGreaterThan(before.counters.seqRestarts);
    const after = await water();
    expect(after.counters.seqJumps).toBe(before.counters.seqJumps + 1);
    expect(after.counters.duplicates).toBe(before.counters.duplicates);

    await page.goto(`${demo.url}/#/technician`);
    await page.locator("#login-name").fill("technicus");
    await page.locator("#login-secret").fill("technician");
    await page.getByRole("button", { name: "Inloggen" }).click();
    const row = page.locator('tbody[data-device="water"]');
    await row.getByRole("button", { name: "Details" }).click();
    const authLine = row.locator('ul.rejects li[data-code="auth-failed"]');
    await expect.poll(() => authLine.count(), { timeout: 10_000 }).toBe(1);
    expect(await authLine.locator(".reject-count").innerText()).toMatch(new RegExp(`×${FLOOD} \\(eerste om \\d`));
    expect(await row.locator('ul.rejects li[data-code="malformed-json"]').innerText()).toMatch(/not JSON/);
    expect(await row.locator('ul.rejects li[data-code="malformed-json"] .reject-count').count()).toBe(0);
    expect(await row.locator(".dev-detail").innerText()).toMatch(new RegExp(`${after.counters.seqJumps} sprongen in volgnummer · \\d+× volgnummer opnieuw begonnen`));
    expect(await row.locator(".dev-row").innerText()).toMatch(/volgnummer: [1-9]\d* sprongen · [1-9]\d*× opnieuw begonnen/);
  });
});
