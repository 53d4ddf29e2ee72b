/**
 * Accessibility of the three screens in a real browser: axe-core (the open rules engine, bundled
 * from node_modules, nothing fetched) checks contrast, names of buttons, links, fields and
 * pictures, ARIA, the title and the language, on the kiosk, the login, the instructor console and
 * every tab of the technician workbench, calm and with a leak tripped; and the keyboard: on every
 * staff screen the first Tab reaches "skip to content", which moves focus to the content without
 * leaving the screen, and a focused button shows a ring of at least 2 px that stands out from what
 * is around it (3:1).
 */
import { createRequire } from "node:module";
import path from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARTIFACTS, launchBrowser, type TestBrowser } from "../support/browser.ts";
import { bootDemoHub, watchPage, type DemoHub, type PageWatch } from "../support/demo-hub.ts";

const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");

/** The rules asked for by name; every `aria-*` rule axe has is added to them. */
const RULES = ["color-contrast", "button-name", "link-name", "label", "image-alt", "input-button-name", "select-name", "svg-img-alt", "role-img-alt", "document-title", "html-has-lang", "html-lang-valid", "valid-lang", "nested-interactive", "duplicate-id-aria"];

const TABS = ["devices", "alarms", "interlocks", "audit", "history", "hub", "sim"] as const;

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[]; html: string; failureSummary: string }>;
}

/** Runs axe on the page as it is now; answers one readable line per element in violation. */
async function axeViolations(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async (wanted) => {
    interface AxeLike {
      getRules(): Array<{ ruleId: string }>;
      run(ctx: Document, opts: unknown): Promise<{ violations: Violation[]; passes: Violation[]; incomplete: Violation[] }>;
    }
    const axe = (window as unknown as { axe: AxeLike }).axe;
    const rules = axe.getRules().map((r) => r.ruleId).filter((id) => wanted.includes(id) || id.startsWith("aria-"));
    const result = await axe.run(document, { runOnly: { type: "rule", values: rules } });
    const contrast = (list: Violation[]) => list.filter((v) => v.id === "color-contrast").reduce((n, v) => n + v.nodes.length, 0);
    const unsureWhy = result.incomplete.filter((v) => v.id === "color-contrast").flatMap((v) => v.nodes.map((n) => `${n.target.join(" ")}: ${n.failureSummary.split("\n").slice(1).join(" ").trim()}`));
    (window as unknown as { axeContrast: unknown }).axeContrast = { passed: contrast(result.passes), unsure: contrast(result.incomplete), unsureWhy };
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target.map(String), html: n.html, failureSummary: n.failureSummary })) }));
  }, RULES);
  return violations.flatMap((v) =>
    v.nodes.map((n) => {
      // "Fix any of the following: Element has insufficient color contrast of 3.87 (...)": the second line is the finding.
      const why = n.failureSummary.split("\n").map((s) => s.trim()).filter((s) => s !== "" && !/^Fix (any|all)/.test(s)).join("; ");
      return `${v.id} (${v.impact ?? "?"})  ${n.target.join(" ")}  ${why}  ${n.html.replace(/\s+/g, " ").slice(0, 140)}`;
    }),
  );
}

/** What has the keyboard focus, and how its ring looks against what is behind it. */
async function focused(page: Page) {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (el === null || el === document.body) return null;
    const cs = getComputedStyle(el);
    const rgb = (c: string): [number, number, number, number] => {
      const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/.exec(c);
      return m ? [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])] : [0, 0, 0, 0];
    };
    const lum = ([r, g, b]: number[]) => {
      const ch = (v: number) => (v / 255 <= 0.04045 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4);
      return 0.2126 * ch(r ?? 0) + 0.7152 * ch(g ?? 0) + 0.0722 * ch(b ?? 0);
    };
    // The ring sits outside the element (outline-offset): what is drawn just left of it is behind
    // it (a skip link over the header is on the header, not on its parent); the first background up from there.
    const box = el.getBoundingClientRect();
    const x = Math.max(0, box.left - Number.parseFloat(cs.outlineOffset) - 1.5);
    const under = document.elementsFromPoint(x, box.top + box.height / 2).find((e) => e !== el && !el.contains(e)) ?? el.parentElement;
    let behind: [number, number, number, number] = [255, 255, 255, 1];
    for (let p: Element | null = under ?? null; p !== null; p = p.parentElement) {
      const c = rgb(getComputedStyle(p).backgroundColor);
      if (c[3] > 0.5) {
        behind = c;
        break;
      }
    }
    const ring = rgb(cs.outlineColor);
    const [hi, lo] = [lum(ring), lum(behind)].sort((a, b) => b - a) as [number, number];
    return {
      tag: el.tagName.toLowerCase(),
      testid: el.dataset.testid ?? "",
      text: (el.innerText || el.getAttribute("aria-label") || "").trim().slice(0, 40),
      outlineStyle: cs.outlineStyle,
      outlineWidth: Number.parseFloat(cs.outlineWidth),
      ringContrast: Math.round(((hi + 0.05) / (lo + 0.05)) * 100) / 100,
      colours: `${cs.outlineColor} on ${behind.join(",")} (${under?.tagName.toLowerCase() ?? "?"}.${under?.getAttribute("class") ?? ""})`,
      onScreen: box.width > 0 && box.height > 0 && box.top >= 0 && box.left >= 0 && box.bottom <= innerHeight && box.right <= innerWidth,
      inMain: el.closest("main") !== null,
    };
  });
}

describe("accessibility", () => {
  let demo: DemoHub;
  let tb: TestBrowser;
  let tech: string;
  const contexts: BrowserContext[] = [];
  const watches: PageWatch[] = [];
  const pages: Partial<Record<"kiosk" | "console" | "workbench", Page>> = {};

  const newPage = async (width = 1366, height = 900): Promise<Page> => {
    const context = await tb.browser.newContext({ viewport: { width, height }, locale: "nl-NL" });
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
  const openTab = async (page: Page, id: string) => {
    const link = page.locator(`a[data-tab="${id}"]`);
    await link.click({ timeout: 10_000 });
    await expect.poll(() => link.getAttribute("aria-current")).toBe("page");
  };
  const expectClean = async (page: Page, where: string) => {
    const found = await axeViolations(page);
    expect(found, `${where}:\n${found.join("\n")}`).toEqual([]);
    // The contrast rule really looked at this screen's text (and how much it could not decide, e.g. text on a picture).
    const contrast = await page.evaluate(() => (window as unknown as { axeContrast: { passed: number; unsure: number; unsureWhy: string[] } }).axeContrast);
    console.log(`${where}: contrast checked on ${contrast.passed} elements, undecided on ${contrast.unsure}${contrast.unsureWhy.map((l) => `\n  ${l}`).join("")}`);
    expect(contrast.passed, `${where}: elements whose contrast axe checked`).toBeGreaterThan(5);
  };

  beforeAll(async () => {
    [demo, tb] = await Promise.all([bootDemoHub(), launchBrowser()]);
    tech = await demo.login("technicus", "technician");
  });
  afterAll(async () => {
    if (tech) await demo?.command(tech, "sim.leak", { on: false });
    for (const c of contexts) await c.close();
    await tb?.close();
    await demo?.close();
  });

  describe("axe: contrast, names, ARIA, title and language", () => {
    it.each(["flow", "house", "today"])("kiosk: %s", async (view) => {
      pages.kiosk ??= await newPage(1920, 1080);
      const page = pages.kiosk;
      await page.goto(`${demo.url}/#/?view=${view}`);
      await page.locator('[data-testid="conn"][data-state="up"]').waitFor();
      await page.locator(`[data-view="${view}"]`).waitFor({ state: "visible" });
      await expectClean(page, `kiosk ${view}`);
    });

    it("finds what it looks for (a nameless button, 3.87:1 text) and names where", async () => {
      const page = await newPage();
      await page.setContent('<!doctype html><html lang="nl"><head><title>probe</title></head><body><main id="axe-probe"><button type="button"></button><p><span style="color:#fff;background:#d55e00;font-size:14px">3 open</span></p></main></body></html>');
      const found = await axeViolations(page);
      await page.close();
      expect(found.some((l) => l.startsWith("button-name") && l.includes("<button")), found.join("\n")).toBe(true);
      expect(found.some((l) => l.startsWith("color-contrast") && /contrast of 3\.8\d/.test(l) && l.includes("3 open")), found.join("\n")).toBe(true);
    });

    it("kiosk in English", async () => {
      const page = pages.kiosk as Page;
      await page.goto(`${demo.url}/#/?view=flow&lang=en`);
      await expect.poll(() => page.evaluate(() => document.documentElement.lang)).toBe("en");
      await page.locator('[data-testid="conn"][data-state="up"]').waitFor();
      await expectClean(page, "kiosk flow (en)");
      await page.goto(`${demo.url}/#/?view=flow&lang=nl`);
    });

    it("staff login", async () => {
      const page = await newPage();
      await page.goto(`${demo.url}/#/instructor`);
      await page.locator('[data-testid="login"]').waitFor();
      await expectClean(page, "login");
    });

    it("instructor console", async () => {
      pages.console = await newPage(1280, 900);
      await login(pages.console, "instructor", "begeleider", "1234");
      await expect.poll(() => pages.console?.locator("[data-station]").count(), { timeout: 10_000 }).toBeGreaterThan(0);
      await expectClean(pages.console, "console");
    });

    it.each(TABS)("workbench: %s", async (id) => {
      if (pages.workbench === undefined) {
        pages.workbench = await newPage(1440, 900);
        await login(pages.workbench, "technician", "technicus", "technician");
      }
      await openTab(pages.workbench, id);
      await pages.workbench.locator(".tab-body > *").first().waitFor();
      await expectClean(pages.workbench, `workbench ${id}`);
    });

    it("names each device's Details button after its device (not twelve times \"Details\")", async () => {
      const bench = pages.workbench as Page;
      await openTab(bench, "devices");
      const rows = bench.locator('[data-testid="device-table"] tbody[data-device]');
      await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(demo.config.devices.length);
      const unnamed: string[] = [];
      for (const row of await rows.all()) {
        const name = ((await row.locator(".dev-row td").first().locator("strong").textContent()) ?? "").trim();
        const buttons = await row.locator(".dev-row").getByRole("button").all();
        for (const b of buttons) {
          const accessible = await b.evaluate((el) => (el.getAttribute("aria-label") ?? (el as HTMLElement).innerText).trim());
          if (!accessible.includes(name)) unnamed.push(`${await row.getAttribute("data-device")}: "${accessible}" does not say "${name}"`);
        }
      }
      expect(unnamed).toEqual([]);
    });

    it("with a leak tripped: the kiosk's why, the console's interlock, the workbench's alarm", async () => {
      expect(await demo.command(tech, "sim.leak", { on: true })).toMatchObject({ ok: true });
      const kiosk = pages.kiosk as Page;
      await kiosk.locator('[data-testid="why"]').waitFor({ state: "visible", timeout: 15_000 });
      await expectClean(kiosk, "kiosk with why");
      const console_ = pages.console as Page;
      await console_.locator('[data-interlock="water-leak"]').waitFor({ timeout: 10_000 });
      await expectClean(console_, "console with a trip");
      const bench = pages.workbench as Page;
      await openTab(bench, "alarms");
      await bench.locator('[data-alarm="interlock:water-leak"][data-open="true"]').waitFor({ timeout: 10_000 });
      await expectClean(bench, "workbench alarms with a trip");
      await openTab(bench, "interlocks");
      await bench.locator('[data-interlock="water-leak"][data-status="tripped"]').waitFor({ timeout: 10_000 });
      await expectClean(bench, "workbench interlocks with a trip");
      expect(await demo.command(tech, "sim.leak", { on: false })).toMatchObject({ ok: true });
    });
  });

  describe("keyboard", () => {
    /** The elements Tab stops at, in order (positive tabindex is not used anywhere). */
    const tabOrder = (page: Page) =>
      page.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>("a[href], button, input, select, textarea, [tabindex]")]
          .filter((el) => el.tabIndex >= 0 && !(el as HTMLButtonElement).disabled && el.checkVisibility({ checkVisibilityCSS: true }))
          .slice(0, 3)
          .map((el) => el.dataset.testid ?? el.tagName.toLowerCase()),
      );

    /** From a fresh load: the first Tab, Enter on it, then 30 more Tabs through the content. */
    const walk = async (page: Page, url: string, ready: string, shot: string) => {
      await page.goto("about:blank");
      await page.goto(url);
      await page.locator(ready).first().waitFor({ timeout: 10_000 });
      const hash = await page.evaluate(() => location.hash);
      const order = await tabOrder(page);
      await page.keyboard.press("Tab");
      const skip = await focused(page);
      await page.screenshot({ path: path.join(ARTIFACTS, `a11y-${shot}-skip-link.png`), clip: { x: 0, y: 0, width: 600, height: 160 } });
      await page.keyboard.press("Enter");
      const afterSkip = await page.evaluate(() => ({ id: document.activeElement?.id ?? "", hash: location.hash }));
      // The next 30 stops of the Tab key: the first button, and every stop without a clear ring.
      let button: Awaited<ReturnType<typeof focused>> = null;
      const weak: string[] = [];
      for (let i = 0; i < 30; i++) {
        await page.keyboard.press("Tab");
        const f = await focused(page);
        if (f === null) continue;
        if (button === null && f.tag === "button") {
          button = f;
          const box = await page.evaluate(() => {
            const r = document.activeElement?.getBoundingClientRect();
            return r ? { x: Math.max(0, r.x - 24), y: Math.max(0, r.y - 24), width: r.width + 48, height: r.height + 48 } : null;
          });
          if (box !== null) await page.screenshot({ path: path.join(ARTIFACTS, `a11y-${shot}-focus-ring.png`), clip: box });
        }
        if (f.outlineStyle === "none" || f.outlineWidth < 2 || f.ringContrast < 3) weak.push(`${f.tag} "${f.text}": ${f.outlineStyle} ${f.outlineWidth} px, ${f.ringContrast}:1, ${f.colours}`);
      }
      return { hash, order, skip, afterSkip, button, weak };
    };

    const expectRing = (f: Awaited<ReturnType<typeof focused>>, where: string) => {
      expect(f, where).not.toBeNull();
      expect(f?.outlineStyle, `${where}: ${f?.tag} "${f?.text}"`).not.toBe("none");
      expect(f?.outlineWidth, `${where}: ${f?.tag} "${f?.text}" outline width`).toBeGreaterThanOrEqual(2);
      expect(f?.ringContrast, `${where}: ${f?.tag} "${f?.text}" ring against its background`).toBeGreaterThanOrEqual(3);
    };

    it("login: the skip link comes first in the tab order (the name field has the focus already)", async () => {
      const page = await newPage();
      await page.goto(`${demo.url}/#/technician`);
      await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe("login-name");
      expect((await tabOrder(page))[0]).toBe("skip-link");
      // Back from the name field through the header: the skip link, shown, with its ring.
      let f = await focused(page);
      for (let i = 0; i < 15 && f?.testid !== "skip-link"; i++) {
        await page.keyboard.press("Shift+Tab");
        f = await focused(page);
      }
      expect(f).toMatchObject({ testid: "skip-link", onScreen: true });
      expectRing(f, "login: skip link");
    });

    it.each([
      ["console", "instructor", "[data-station]"],
      ["workbench", "technician/devices", '[data-testid="device-table"] tbody[data-device]'],
    ] as const)("%s: skip link first, then a visible focus ring", async (name, route, ready) => {
      const page = name === "console" ? (pages.console as Page) : (pages.workbench as Page);
      const { hash, order, skip, afterSkip, button, weak } = await walk(page, `${demo.url}/#/${route}`, ready, name);
      expect(order[0], `${name}: the tab order starts ${order.join(", ")}`).toBe("skip-link");
      expect(skip, `${name}: the first Tab`).toMatchObject({ tag: "a", testid: "skip-link", text: "Naar de inhoud", onScreen: true });
      expectRing(skip, `${name}: skip link`);
      // Focus is on the content, and the screen is still the same one (the routes live in the hash).
      expect(afterSkip).toEqual({ id: "main", hash });
      expect(button?.inMain, `${name}: the Tab after the skip stays in the content`).toBe(true);
      expectRing(button, `${name}: first button`);
      expect(weak, `${name}: Tab stops without a clear ring`).toEqual([]);
    });

    it("kiosk: the language button shows the ring", async () => {
      const page = pages.kiosk as Page;
      await page.goto(`${demo.url}/#/?view=flow`);
      await page.locator('[data-testid="conn"][data-state="up"]').waitFor();
      let f = await focused(page);
      for (let i = 0; i < 10 && f?.testid !== "lang"; i++) {
        await page.keyboard.press("Tab");
        f = await focused(page);
      }
      expect(f?.testid).toBe("lang");
      const r = await page.locator('[data-testid="lang"]').boundingBox();
      if (r !== null) await page.screenshot({ path: path.join(ARTIFACTS, "a11y-kiosk-focus-ring.png"), clip: { x: r.x - 24, y: Math.max(0, r.y - 24), width: r.width + 48, height: r.height + 48 } });
      expectRing(f, "kiosk language button");
    });
  });

  it("asked nothing of anyone but the hub, and logged no errors", () => {
    expect(watches.flatMap((w) => w.outside())).toEqual([]);
    expect(watches.flatMap((w) => w.consoleErrors)).toEqual([]);
  });
});
