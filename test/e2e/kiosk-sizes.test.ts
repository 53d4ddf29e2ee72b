/**
 * The kiosk read from 3 m, on the screens it really meets: a 1080p TV, a 1366x768 TV, a portrait
 * 1080x1920 screen and a 768x1024 tablet. Every view at every size (and with the "why?" panel open)
 * is screenshotted into test-artifacts/ and checked: nothing overflows the page or a box that clips,
 * every visible text is at least 24 px and every key number at least 64 px, scaled to the screen.
 *
 * The proportion: sizes scale with the viewport's smaller side, relative to 1080 px (1080p TV and
 * 1080x1920 portrait: 1; 1366x768 and 768x1024: 0.711). Text inside the energy-flow picture is
 * measured as drawn: its CSS size times the picture's scale on screen.
 */
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARTIFACTS, launchBrowser, type TestBrowser } from "../support/browser.ts";
import { bootDemoHub, watchPage, type DemoHub, type PageWatch } from "../support/demo-hub.ts";
import { formatProblem, kioskMinFontPx, layoutProblems, SCREEN_SIZES, type ScreenSize } from "../support/layout.ts";

const SIZES = SCREEN_SIZES;
const VIEWS = ["flow", "house", "today"] as const;
const MIN_NUMBER_PX = 64;

interface Measure {
  scale: number;
  smallNumbers: string[];
  overflow: string[];
  texts: number;
}

/** Runs in the page: every visible text's drawn size, the key numbers, and what overflows. */
function measure(args: { minNumber: number }): Measure {
  const scale = Math.min(innerWidth, innerHeight) / 1080;
  const app = document.getElementById("app");
  const smallNumbers: string[] = [];
  const overflow: string[] = [];
  let texts = 0;
  const drawnScale = (el: Element): number => {
    // Inside an SVG (the flow picture): the picture's scale on screen.
    const svgEl = el.closest("svg");
    const m = svgEl?.getScreenCTM();
    return m ? Math.hypot(m.a, m.b) : 1;
  };
  const visible = (el: Element): boolean => {
    if (!(el instanceof HTMLElement || el instanceof SVGElement)) return false;
    if (el.closest("[hidden]") !== null) return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== "hidden" && el.checkVisibility({ opacityProperty: false });
  };
  const name = (el: Element): string => `${el.tagName.toLowerCase()}.${[...el.classList].join(".")} "${(el.textContent ?? "").trim().slice(0, 40)}"`;
  if (app === null) return { scale, smallNumbers, overflow: ["no #app"], texts };
  const walker = document.createTreeWalker(app, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n !== null; n = walker.nextNode()) {
    const text = (n.textContent ?? "").trim();
    const el = n.parentElement;
    if (text === "" || el === null || !visible(el) || el.closest("desc, title") !== null) continue;
    texts += 1;
    // Text outside the viewport is cut off by the screen's edge.
    const range = document.createRange();
    range.selectNodeContents(n);
    for (const r of range.getClientRects()) {
      if (r.width > 0 && (r.left < -1 || r.top < -1 || r.right > innerWidth + 1 || r.bottom > innerHeight + 1)) overflow.push(`off screen: ${name(el)}`);
    }
  }
  for (const el of app.querySelectorAll(".node-value .num, .tile-value, .today-big")) {
    if (!visible(el)) continue;
    const px = parseFloat(getComputedStyle(el).fontSize) * drawnScale(el);
    if (px < args.minNumber * scale - 0.5) smallNumbers.push(`${name(el)}: ${px.toFixed(1)} px`);
  }
  const doc = document.documentElement;
  if (doc.scrollWidth > innerWidth + 1 || doc.scrollHeight > innerHeight + 1) overflow.push(`page ${doc.scrollWidth}x${doc.scrollHeight} > ${innerWidth}x${innerHeight}`);
  return { scale, smallNumbers, overflow, texts };
}

describe("kiosk at four screen sizes", () => {
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

  /** The shared layout checks (small text, clipped boxes, sideways scroll) plus the kiosk's own. */
  const check = async (page: Page, size: ScreenSize, label: string) => {
    await page.screenshot({ path: path.join(ARTIFACTS, `${label}.png`) });
    const m = await page.evaluate(measure, { minNumber: MIN_NUMBER_PX });
    expect(m.texts, label).toBeGreaterThan(5);
    const layout = (await layoutProblems(page, kioskMinFontPx(size))).map(formatProblem);
    expect({ label, layout, smallNumbers: m.smallNumbers, overflow: m.overflow }).toEqual({ label, layout: [], smallNumbers: [], overflow: [] });
  };

  const openAt = async (size: ScreenSize, view: string) => {
    const page = await tb.browser.newPage({ viewport: size, locale: "nl-NL", reducedMotion: "reduce" });
    watches.push(watchPage(page, demo.url));
    await page.goto(`${demo.url}/#/?view=${view}`);
    // Live values on screen, the start-up "waiting" explanation gone.
    await expect.poll(() => page.locator('[data-node="pv"] .num').textContent(), { timeout: 20_000 }).toMatch(/\d/);
    await expect.poll(() => page.locator('[data-testid="why"]').isHidden(), { timeout: 20_000 }).toBe(true);
    return page;
  };

  const show = async (page: Page, view: string) => {
    await page.evaluate((v) => {
      location.hash = `#/?view=${v}`;
    }, view);
    await expect.poll(() => page.locator(`[data-view="${view}"]`).isVisible()).toBe(true);
    if (view === "today") await expect.poll(() => page.locator(".today-chart .axis").count(), { timeout: 10_000 }).toBeGreaterThan(2);
    if (view === "house") await expect.poll(() => page.locator('[data-tile="co2"] .tile-value').textContent()).toMatch(/\d/);
  };

  it.each(SIZES)("reads from 3 m at $width x $height: every view, nothing clipped", { timeout: 60_000 }, async (size) => {
    const page = await openAt(size, "flow");
    for (const view of VIEWS) {
      await show(page, view);
      await check(page, size, view === "flow" ? `kiosk-${size.width}x${size.height}` : `kiosk-${size.width}x${size.height}-${view}`);
    }
    await page.close();
  });

  it("keeps its sizes with the \"why?\" panel open, at every size", { timeout: 90_000 }, async () => {
    const pages = await Promise.all(SIZES.map((s) => openAt(s, "flow")));
    const tech = await demo.login("technicus", "technician");
    expect((await demo.command(tech, "sim.leak", { on: true })).ok).toBe(true);
    for (const [i, size] of SIZES.entries()) {
      const page = pages[i];
      if (page === undefined) throw new Error(`no page for ${size.width}x${size.height}`);
      await expect.poll(() => page.locator('[data-testid="why"]').innerText(), { timeout: 15_000 }).toContain("Er lekt water");
      await check(page, size, `kiosk-${size.width}x${size.height}-why`);
    }
    expect((await demo.command(tech, "sim.leak", { on: false })).ok).toBe(true);
  });

  it("asked nothing of anything but the hub, and logged no errors", () => {
    expect(watches.flatMap((w) => w.outside())).toEqual([]);
    expect(watches.flatMap((w) => w.consoleErrors)).toEqual([]);
  });
});
