/**
 * The first dashboard page in a real browser: live values with units and badges, Dutch first,
 * and not one request outside the hub.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARTIFACTS, launchBrowser, type TestBrowser } from "../support/browser.ts";
import { bootHarness, type Harness } from "../integration/harness.ts";

describe("first dashboard page", () => {
  let h: Harness;
  let tb: TestBrowser;
  beforeAll(async () => {
    h = await bootHarness();
    tb = await launchBrowser();
  });
  afterAll(async () => {
    await tb?.close();
    await h?.close();
  });

  it("shows live values that change, in Dutch, with health badges, and asks nothing of the internet", async () => {
    const dev = await h.device("dev-a");
    await dev.describe();
    await dev.tele({ powerW: 1500, tempC: 21.5 });

    const page = await tb.browser.newPage();
    const requests: string[] = [];
    const consoleErrors: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    await page.goto(h.httpUrl);
    const card = page.locator('[data-device="dev-a"]');
    await expect.poll(() => card.locator('[data-channel="powerW"] td.num').textContent(), { timeout: 10_000 }).toBe("1,50 kW");
    expect(await card.locator(".state").textContent()).toBe("in orde");
    // An unknown device is shown as such, not as healthy.
    expect(await page.locator('[data-device="dev-b"] .state').textContent()).toBe("onbekend");

    await dev.tele({ powerW: 1750, tempC: 21.5 });
    await expect.poll(() => card.locator('[data-channel="powerW"] td.num').textContent(), { timeout: 10_000 }).toBe("1,75 kW");
    await page.screenshot({ path: path.join(ARTIFACTS, "first-page-nl.png"), fullPage: true });

    await page.getByRole("button", { name: "English" }).click();
    await expect.poll(() => card.locator(".state").textContent()).toBe("ready");
    await page.screenshot({ path: path.join(ARTIFACTS, "first-page-en.png"), fullPage: true });

    // The device drops off: the technician sees it offline and its values marked stale.
    dev.crash();
    await expect.poll(() => card.locator(".state").textContent(), { timeout: 10_000 }).toBe("offline");
    expect(await card.locator('[data-channel="powerW"]').getAttribute("data-quality")).toBe("stale");

    const hubOrigin = new URL(h.httpUrl).origin;
    const outside = requests.filter((u) => !u.startsWith(hubOrigin) && !u.startsWith("data:"));
    expect(outside).toEqual([]);
    expect(consoleErrors).toEqual([]);
    await page.close();
  });
});
