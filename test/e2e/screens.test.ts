/**
 * Every screen at the four sizes it meets in the centre (a TV at 1920 x 1080, a laptop at
 * 1366 x 768, a portrait screen at 1080 x 1920, a tablet at 768 x 1024): a screenshot of each in
 * test-artifacts/ (screen-<name>-<w>x<h>.png, to look at), and for each the page never scrolls
 * sideways, no text is cut off by its box, and no text is smaller than the screen allows (staff:
 * 14 px everywhere; the kiosk: 24 px at 1920 x 1080, in proportion to the shorter side elsewhere).
 */
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, type TestBrowser } from "../support/browser.ts";
import { bootDemoHub, watchPage, type DemoHub, type PageWatch } from "../support/demo-hub.ts";
import { formatProblem, kioskMinFontPx, layoutProblems, resizeTo, SCREEN_SIZES, screenShot, sizeName, STAFF_MIN_FONT_PX, type ScreenSize } from "../support/layout.ts";

const KIOSK_VIEWS = ["flow", "house", "today"] as const;
/** The workbench's tabs, each with what shows it has loaded. */
const TABS = [
  ["devices", '[data-testid="device-table"] tbody[data-device]'],
  ["alarms", "section.alarms"],
  ["interlocks", "[data-interlock]"],
  ["audit", '[data-testid="audit-table"] tbody tr'],
  ["history", "section[data-points]:not([data-points='0'])"],
  ["hub", '[data-metric="ingest"]'],
  ["sim", '[data-testid="simulator"]'],
] as const;

/** The same line several times (five "simulated" badges) once, with how often. */
function countSame(lines: string[]): string[] {
  const n = new Map<string, number>();
  for (const l of lines) n.set(l, (n.get(l) ?? 0) + 1);
  return [...n].map(([l, k]) => (k > 1 ? `${l}  (x${k})` : l));
}

describe("every screen at four sizes", () => {
  let demo: DemoHub;
  let tb: TestBrowser;
  const contexts: BrowserContext[] = [];
  const watches: PageWatch[] = [];

  const newPage = async (): Promise<Page> => {
    const context = await tb.browser.newContext({ viewport: SCREEN_SIZES[0] as ScreenSize, locale: "nl-NL" });
    contexts.push(context);
    const page = await context.newPage();
    watches.push(watchPage(page, demo.url));
    return page;
  };

  const login = async (page: Page, route: string, name: string, secret: string) => {
    await page.goto(`${demo.url}/#/${route}`);
    await page.locator("#login-name").fill(name);
    await page.locator("#login-secret").fill(secret);
    await page.locator('[data-testid="login"] button[type="submit"]').click();
    await page.locator('[data-testid="logout"]').waitFor({ state: "visible" });
  };

  /** Checks one screen at every size (all four, so every screenshot is made), then asserts. */
  const atEverySize = async (page: Page, name: string, minFontPx: (s: ScreenSize) => number, fullPage: boolean) => {
    const found: string[] = [];
    for (const size of SCREEN_SIZES) {
      await resizeTo(page, size);
      await screenShot(page, name, size, fullPage);
      found.push(...countSame((await layoutProblems(page, minFontPx(size))).map((p) => `${sizeName(size)}  ${formatProblem(p)}`)));
    }
    expect(found, `${name}:\n${found.join("\n")}`).toEqual([]);
  };

  beforeAll(async () => {
    [demo, tb] = await Promise.all([bootDemoHub(), launchBrowser()]);
  });
  afterAll(async () => {
    for (const c of contexts) await c.close();
    await tb?.close();
    await demo?.close();
  });

  it.each(KIOSK_VIEWS)("kiosk: %s", { timeout: 60_000 }, async (view) => {
    const page = await newPage();
    await page.goto(`${demo.url}/#/?view=${view}`);
    await page.locator('[data-testid="conn"][data-state="up"]').waitFor();
    await page.locator(`[data-view="${view}"]`).waitFor({ state: "visible" });
    // Live numbers in: the sun is up at noon in the demo.
    await expect.poll(() => page.locator(".kiosk-clock").textContent(), { timeout: 10_000 }).toMatch(/\d/);
    await atEverySize(page, `kiosk-${view}`, kioskMinFontPx, false);
  });

  it("instructor console", { timeout: 60_000 }, async () => {
    const page = await newPage();
    await login(page, "instructor", "begeleider", "1234");
    await expect.poll(() => page.locator("[data-station]").count(), { timeout: 10_000 }).toBeGreaterThan(0);
    await atEverySize(page, "console", () => STAFF_MIN_FONT_PX, true);
  });

  it("staff login", { timeout: 60_000 }, async () => {
    const page = await newPage();
    await page.goto(`${demo.url}/#/technician`);
    await page.locator('[data-testid="login"]').waitFor();
    await atEverySize(page, "login", () => STAFF_MIN_FONT_PX, false);
  });

  describe("technician workbench", () => {
    let page: Page;
    beforeAll(async () => {
      page = await newPage();
      await login(page, "technician", "technicus", "technician");
    });

    it.each(TABS)("tab %s", { timeout: 60_000 }, async (id, loaded) => {
      await resizeTo(page, SCREEN_SIZES[0] as ScreenSize);
      const link = page.locator(`a[data-tab="${id}"]`);
      await link.click({ timeout: 10_000 });
      await expect.poll(() => link.getAttribute("aria-current")).toBe("page");
      await page.locator(loaded).first().waitFor({ timeout: 10_000 });
      await atEverySize(page, `workbench-${id}`, () => STAFF_MIN_FONT_PX, true);
    });

    it("a device's details open", { timeout: 60_000 }, async () => {
      await resizeTo(page, SCREEN_SIZES[0] as ScreenSize);
      await page.locator('a[data-tab="devices"]').click();
      const first = page.locator('[data-testid="device-table"] tbody[data-device]').first();
      await first.locator(".dev-row button[aria-expanded]").click();
      await first.locator(".dev-detail-row").waitFor({ state: "visible" });
      await atEverySize(page, "workbench-device-details", () => STAFF_MIN_FONT_PX, true);
    });
  });

  it("instructor console with a leak tripped", { timeout: 60_000 }, async () => {
    const tech = await demo.login("technicus", "technician");
    expect(await demo.command(tech, "sim.leak", { on: true })).toMatchObject({ ok: true });
    try {
      const page = await newPage();
      await login(page, "instructor", "begeleider", "1234");
      await page.locator('[data-interlock="water-leak"]').waitFor({ timeout: 15_000 });
      await atEverySize(page, "console-tripped", () => STAFF_MIN_FONT_PX, true);
    } finally {
      await demo.command(tech, "sim.leak", { on: false });
    }
  });

  it("asked nothing of anyone but the hub, and logged no errors", () => {
    expect(watches.flatMap((w) => w.outside())).toEqual([]);
    expect(watches.flatMap((w) => w.consoleErrors)).toEqual([]);
  });
});
