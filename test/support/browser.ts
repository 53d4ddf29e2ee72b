/**
 * A real browser for end-to-end tests: Debian's chromium driven by playwright-core (never a
 * downloaded browser), with its own profile and cache folders so it writes nothing under ~.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Browser, chromium } from "playwright-core";

export const ARTIFACTS = path.resolve(import.meta.dirname, "../../test-artifacts");

export interface TestBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  const home = mkdtempSync(path.join(os.tmpdir(), "tec-chromium-"));
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    env: { ...process.env, XDG_CONFIG_HOME: path.join(home, "config"), XDG_CACHE_HOME: path.join(home, "cache"), HOME: home },
    // playwright-core gives each launch a fresh temporary profile (--user-data-dir) of its own.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  return {
    browser,
    async close() {
      await browser.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}
