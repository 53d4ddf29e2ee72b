/**
 * Layout checks for the e2e tests, run inside the page: the page never scrolls sideways, no text
 * is cut off by a box that hides its overflow, and no visible text is smaller than a minimum. Each
 * answers readable lines (what, where, the text), so a failing test says what to fix.
 */
import path from "node:path";
import type { Page } from "playwright-core";
import { ARTIFACTS } from "./browser.ts";

export interface ScreenSize {
  width: number;
  height: number;
}

/** The four sizes every screen is checked at: a TV, a laptop, a portrait screen, a tablet. */
export const SCREEN_SIZES: readonly ScreenSize[] = [
  { width: 1920, height: 1080 },
  { width: 1366, height: 768 },
  { width: 1080, height: 1920 },
  { width: 768, height: 1024 },
];

/** The smallest staff text at any size (WCAG asks for resizable text; the centre's rule is 14 px). */
export const STAFF_MIN_FONT_PX = 14;

/**
 * The smallest kiosk text at a size: 24 px at 1920 x 1080 (read from 3 m), in proportion to the
 * screen's shorter side elsewhere (a 768 x 1024 tablet: 17 px).
 */
export function kioskMinFontPx(size: ScreenSize): number {
  return (24 * Math.min(size.width, size.height)) / 1080;
}

/** "1920x1080" */
export const sizeName = (size: ScreenSize): string => `${size.width}x${size.height}`;

/** A finding, one line: `kind  selector  "text"  detail`. */
export interface LayoutProblem {
  kind: "overflow" | "clipped" | "small-text";
  selector: string;
  text: string;
  detail: string;
}

export const formatProblem = (p: LayoutProblem): string => `${p.kind}  ${p.selector}  "${p.text}"  ${p.detail}`;

/**
 * Sets the viewport and waits until the page has laid itself out at it: a resize event handled and
 * two animation frames drawn (no wall-clock sleep).
 */
export async function resizeTo(page: Page, size: ScreenSize): Promise<void> {
  await page.setViewportSize(size);
  await page.waitForFunction(({ width, height }) => window.innerWidth === width && window.innerHeight === height, size);
  await page.evaluate(() => new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))));
}

/** The page is wider than the window (a sideways scrollbar): one problem, or none. */
export async function pageOverflow(page: Page): Promise<LayoutProblem[]> {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
  return scrollWidth <= innerWidth ? [] : [{ kind: "overflow", selector: "html", text: "", detail: `document is ${scrollWidth} px wide in a ${innerWidth} px window` }];
}

/**
 * Boxes that hide their overflow (overflow hidden or clip, or text-overflow: ellipsis) while their
 * content is wider (or taller) than the box by more than a pixel, and that hold text: the text is
 * cut off. So is HTML in an SVG foreignObject that needs more room than the foreignObject gives (in
 * the picture's units). Boxes that scroll (overflow auto/scroll) are not clipping. `within` limits
 * the search.
 */
export async function clippedText(page: Page, within = "body"): Promise<LayoutProblem[]> {
  return page.evaluate((rootSel) => {
    const describe = (el: Element): string => {
      const parts: string[] = [];
      let cur: Element | null = el;
      while (cur !== null && parts.length < 3 && cur !== document.body) {
        const id = cur.id ? `#${cur.id}` : "";
        const testid = cur.getAttribute("data-testid");
        const cls = typeof cur.className === "string" && cur.className.trim() !== "" ? `.${cur.className.trim().split(/\s+/).slice(0, 2).join(".")}` : "";
        parts.unshift(`${cur.tagName.toLowerCase()}${id}${testid ? `[data-testid="${testid}"]` : ""}${cls}`);
        if (id !== "" || testid) break;
        cur = cur.parentElement;
      }
      return parts.join(" > ");
    };
    const out: Array<{ kind: "clipped"; selector: string; text: string; detail: string }> = [];
    const root = document.querySelector(rootSel) ?? document.body;
    // HTML drawn in an SVG picture: the foreignObject clips whatever its content needs beyond its size.
    for (const fo of root.querySelectorAll("foreignObject")) {
      if (!(fo instanceof SVGForeignObjectElement) || !fo.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
      const w = fo.width.baseVal.value;
      const hgt = fo.height.baseVal.value;
      for (const child of fo.children) {
        if (!(child instanceof HTMLElement)) continue;
        const text = (child.innerText || "").replace(/\s+/g, " ").trim();
        if (text === "") continue;
        const needW = Math.max(child.scrollWidth, child.offsetLeft + child.offsetWidth);
        const needH = Math.max(child.offsetTop + child.scrollHeight, child.offsetTop + child.offsetHeight);
        if (needW <= w + 1 && needH <= hgt + 1) continue;
        out.push({
          kind: "clipped",
          selector: describe(child),
          text: text.slice(0, 60),
          detail: [needW > w + 1 ? `content ${needW} wide in a ${w} wide foreignObject` : "", needH > hgt + 1 ? `content ${needH} tall in a ${hgt} tall foreignObject` : ""].filter((x) => x !== "").join(", "),
        });
      }
    }
    for (const el of [root, ...root.querySelectorAll("*")]) {
      if (!(el instanceof HTMLElement)) continue;
      const cs = getComputedStyle(el);
      const hides = (v: string) => v === "hidden" || v === "clip";
      const ellipsis = cs.textOverflow === "ellipsis";
      const clipsX = hides(cs.overflowX) || (ellipsis && cs.overflowX !== "visible");
      const clipsY = hides(cs.overflowY);
      if (!clipsX && !clipsY) continue;
      if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
      const text = (el.innerText || "").replace(/\s+/g, " ").trim();
      if (text === "") continue;
      // Visually hidden text (1 px boxes) is there for screen readers, not clipped by mistake.
      if (el.clientWidth <= 1 || el.clientHeight <= 1) continue;
      const wide = clipsX && el.scrollWidth > el.clientWidth + 1;
      const tall = clipsY && el.scrollHeight > el.clientHeight + 1;
      if (!wide && !tall) continue;
      out.push({
        kind: "clipped",
        selector: describe(el),
        text: text.slice(0, 60),
        detail: [wide ? `content ${el.scrollWidth} px wide in a ${el.clientWidth} px box` : "", tall ? `content ${el.scrollHeight} px tall in a ${el.clientHeight} px box` : ""].filter((s) => s !== "").join(", "),
      });
    }
    return out;
  }, within);
}

/**
 * Visible text smaller than `minPx` (computed size; in an SVG picture, as drawn after the picture's
 * scaling). One problem per element, smallest first. Text a screen reader alone gets (1 px boxes)
 * and hidden elements do not count.
 */
export async function smallText(page: Page, minPx: number, within = "body"): Promise<LayoutProblem[]> {
  return page.evaluate(
    ({ rootSel, min }) => {
      const describe = (el: Element): string => {
        const parts: string[] = [];
        let cur: Element | null = el;
        while (cur !== null && parts.length < 3 && cur !== document.body) {
          const id = cur.id ? `#${cur.id}` : "";
          const testid = cur.getAttribute("data-testid");
          const raw = cur.getAttribute("class") ?? "";
          const cls = raw.trim() !== "" ? `.${raw.trim().split(/\s+/).slice(0, 2).join(".")}` : "";
          parts.unshift(`${cur.tagName.toLowerCase()}${id}${testid ? `[data-testid="${testid}"]` : ""}${cls}`);
          if (id !== "" || testid) break;
          cur = cur.parentElement;
        }
        return parts.join(" > ");
      };
      const root = document.querySelector(rootSel) ?? document.body;
      const seen = new Set<Element>();
      const out: Array<{ kind: "small-text"; selector: string; text: string; detail: string; px: number }> = [];
      const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n !== null; n = walker.nextNode()) {
        const el = n.parentElement;
        if (el === null || seen.has(el) || (n.textContent ?? "").trim() === "") continue;
        seen.add(el);
        if (el.closest("script, style, noscript, title, option") !== null) continue;
        if (!el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
        const range = document.createRange();
        range.selectNodeContents(n);
        const box = range.getBoundingClientRect();
        if (box.width <= 1 || box.height <= 1) continue;
        let px = Number.parseFloat(getComputedStyle(el).fontSize);
        // Inside an SVG picture (its own text, or HTML in a foreignObject) sizes are in the
        // picture's units: scale them as the picture is drawn.
        const owner = el instanceof SVGGraphicsElement ? el : el instanceof SVGElement ? el.closest("text") : el.closest("foreignObject");
        const ctm = owner instanceof SVGGraphicsElement ? owner.getScreenCTM() : null;
        if (ctm !== null) px *= Math.hypot(ctm.c, ctm.d);
        if (px + 0.01 >= min) continue;
        out.push({ kind: "small-text", selector: describe(el), text: (n.textContent ?? "").replace(/\s+/g, " ").trim().slice(0, 60), detail: `${px.toFixed(1)} px < ${min.toFixed(1)} px`, px });
      }
      return out.sort((a, b) => a.px - b.px).map(({ px: _px, ...p }) => p);
    },
    { rootSel: within, min: minPx },
  );
}

/** All three checks at once: sideways overflow, clipped text, text under `minFontPx`. */
export async function layoutProblems(page: Page, minFontPx: number, within = "body"): Promise<LayoutProblem[]> {
  return [...(await pageOverflow(page)), ...(await clippedText(page, within)), ...(await smallText(page, minFontPx, within))];
}

/** A screenshot in test-artifacts/ as `screen-<name>-<w>x<h>.png`; answers its path. */
export async function screenShot(page: Page, name: string, size: ScreenSize, fullPage = false): Promise<string> {
  const file = path.join(ARTIFACTS, `screen-${name}-${sizeName(size)}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}
