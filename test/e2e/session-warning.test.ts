/**
 * Issue 11, finding 5: sessions must warn before they end. With the demo's 9-hour instructor
 * sessions shortened to 10 minutes in the config (inside the last quarter of an hour from the
 * start), the console shows a banner with the time left at once, and logging in again from the
 * banner starts a new session without leaving the console. No wall-clock minutes are waited for.
 */
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARTIFACTS, launchBrowser, type TestBrowser } from "../support/browser.ts";
import { bootDemoHub, watchPage, type DemoHub, type PageWatch } from "../support/demo-hub.ts";
import { dutchLeft } from "../support/dutch-left.ts";

const MINUTES = 10;

interface Stored {
  token: string;
  expiresAt: number;
}

describe("the warning before a session ends", () => {
  let demo: DemoHub;
  let tb: TestBrowser;
  let page: Page;
  let watch: PageWatch;

  const banner = () => page.locator('[data-testid="session-warning"]');
  const stored = () => page.evaluate(() => JSON.parse(sessionStorage.getItem("tec-session") ?? "null") as Stored | null);
  /** "Je sessie eindigt over 9:58" -> seconds. */
  const secondsLeft = async (): Promise<number> => {
    const m = /(\d+):(\d\d)$/.exec((await banner().locator(".session-warn-title").textContent()) ?? "");
    return m === null ? NaN : Number(m[1]) * 60 + Number(m[2]);
  };

  beforeAll(async () => {
    [demo, tb] = await Promise.all([bootDemoHub({ configure: (c) => ({ ...c, sessions: { ...c.sessions, instructorMinutes: MINUTES } }) }), launchBrowser()]);
    page = await tb.browser.newPage({ viewport: { width: 1280, height: 900 }, locale: "nl-NL" });
    watch = watchPage(page, demo.url);
    // A dashboard build (when dist is older than the sources) and a hub with its simulators, on a shared machine.
  }, 180_000);
  afterAll(async () => {
    await tb?.close();
    await demo?.close();
  });

  it("shows no warning on the login screen", async () => {
    await page.goto(`${demo.url}/#/instructor`);
    await expect.poll(() => page.locator('[data-testid="login"]').isVisible()).toBe(true);
    expect(await banner().isHidden()).toBe(true);
  });

  it("warns with the time left once the session is in its last quarter of an hour", async () => {
    await page.locator("#login-name").fill("begeleider");
    await page.locator("#login-secret").fill("1234");
    await page.getByRole("button", { name: "Inloggen" }).click();
    await expect.poll(() => banner().isVisible(), { timeout: 10_000 }).toBe(true);
    expect(await banner().locator(".session-warn-title").textContent()).toMatch(/^Je sessie eindigt over \d+:\d\d$/);
    const left = await secondsLeft();
    expect(left).toBeLessThanOrEqual(MINUTES * 60);
    expect(left).toBeGreaterThan(MINUTES * 60 - 60);
    expect(await banner().innerText()).toContain("Log nu opnieuw in, dan kun je daarna gewoon verder.");
    // The countdown in the header turns to a warning as well.
    expect(await page.locator('[data-testid="session-left"]').getAttribute("class")).toContain("warn");
    // The console is there underneath: the warning takes nothing away.
    await expect.poll(() => page.locator('[data-testid="stations"]').isVisible(), { timeout: 10_000 }).toBe(true);
    await page.screenshot({ path: path.join(ARTIFACTS, "session-warning.png") });
  });

  it("a wrong PIN in the banner is refused with the reason; the session goes on", async () => {
    const before = await stored();
    await banner().locator('[data-testid="session-warn-again"]').click();
    await banner().locator('[data-testid="session-warn-secret"]').fill("9999");
    await banner().getByRole("button", { name: "Inloggen" }).click();
    await expect.poll(() => banner().locator(".login-error").textContent(), { timeout: 10_000 }).toMatch(/^Naam of code klopt niet \(de hub zegt: .+\)$/);
    await page.screenshot({ path: path.join(ARTIFACTS, "session-warning-wrong-pin.png") });
    expect((await stored())?.token).toBe(before?.token);
  });

  it("logging in again from the banner starts a new session and keeps the console", async () => {
    const before = await stored();
    expect(before).not.toBeNull();
    // A reload would lose this: the console stays as it is.
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    const stations = await page.locator('[data-testid="stations"]').elementHandle();
    await banner().locator('[data-testid="session-warn-secret"]').fill("1234");
    await banner().getByRole("button", { name: "Inloggen" }).click();
    await expect.poll(async () => (await stored())?.token, { timeout: 10_000 }).not.toBe(before?.token);
    const after = await stored();
    expect(after?.expiresAt).toBeGreaterThan(before?.expiresAt ?? Infinity);
    // The hub takes the new session, and the old one no longer.
    const who = (await (await fetch(`${demo.url}/api/session`, { headers: { authorization: `Bearer ${after?.token ?? ""}` } })).json()) as { result: { name: string; expiresAt: number } };
    expect(who.result).toMatchObject({ name: "begeleider", expiresAt: after?.expiresAt });
    const role = async (tok: string) => ((await (await fetch(`${demo.url}/api/session`, { headers: { authorization: `Bearer ${tok}` } })).json()) as { result: { role: string } }).result.role;
    await expect.poll(() => role(before?.token ?? ""), { timeout: 10_000 }).toBe("kiosk");
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    expect(await stations?.evaluate((el) => el.isConnected)).toBe(true);
    // Still within the last quarter of an hour (10-minute sessions), so the banner stays, with the form closed.
    await expect.poll(() => banner().locator('[data-testid="session-warn-again"]').isVisible()).toBe(true);
    expect(await banner().locator('[data-testid="session-warn-secret"]').isVisible()).toBe(false);
  });

  it("speaks English", async () => {
    await page.getByRole("button", { name: "English" }).click();
    await expect.poll(() => banner().locator(".session-warn-title").textContent()).toMatch(/^Your session ends in \d+:\d\d$/);
    expect(await banner().locator('[data-testid="session-warn-again"]').textContent()).toBe("Log in again");
    expect(await dutchLeft(page)).toEqual([]);
    await page.getByRole("button", { name: "Nederlands" }).click();
  });

  it("went nowhere but the hub; the only error is the wrong PIN's refusal", () => {
    expect(watch.outside()).toEqual([]);
    expect(watch.consoleErrors.filter((e) => !/status of 401/.test(e))).toEqual([]);
  });
});
