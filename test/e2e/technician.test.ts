/**
 * The technician's workbench in a real browser against the real Tiny House simulators: device
 * health, a simulated leak from the simulator controls, the alarm acknowledged with a comment and
 * found again in the audit log (and its CSV export), a refused reset with the hub's reason, the
 * history chart and the hub's own health; and the page is refused to an instructor, politely.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import mqtt from "mqtt";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARTIFACTS, launchBrowser, type TestBrowser } from "../support/browser.ts";
import { bootDemoHub, watchPage, type DemoHub, type PageWatch } from "../support/demo-hub.ts";
import { dutchLeft } from "../support/dutch-left.ts";

const COMMENT = "Lek bij de pomp, emmer eronder gezet";

describe("technician workbench", () => {
  let demo: DemoHub;
  let tb: TestBrowser;
  let page: Page;
  const watches: PageWatch[] = [];

  const tab = async (id: string) => {
    await page.locator(`a[data-tab="${id}"]`).click();
    await expect.poll(() => page.locator(`a[data-tab="${id}"]`).getAttribute("aria-current")).toBe("page");
  };

  beforeAll(async () => {
    [demo, tb] = await Promise.all([bootDemoHub(), launchBrowser()]);
    const context = await tb.browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "nl-NL", acceptDownloads: true });
    page = await context.newPage();
    watches.push(watchPage(page, demo.url));
    // Booting builds the dashboard when its sources are newer than dashboard/dist: slow on a shared machine.
  }, 180_000);
  afterAll(async () => {
    await tb?.close();
    await demo?.close();
  });

  it("logs in with a password and shows every device's health", async () => {
    await page.goto(`${demo.url}/#/technician`);
    await page.locator("#login-name").fill("technicus");
    await page.locator("#login-secret").fill("technician");
    await page.getByRole("button", { name: "Inloggen" }).click();
    const rows = page.locator('[data-testid="device-table"] tbody[data-device]');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(demo.config.devices.length);
    await expect.poll(() => page.locator('[data-testid="device-table"] tbody[data-state="ready"]').count(), { timeout: 20_000 }).toBe(demo.config.devices.length);
    const water = page.locator('tbody[data-device="water"]');
    expect(await water.locator(".dev-row").innerText()).toMatch(/TEC-SIM-WATER · sim-1\.0\.0/);
    expect(await water.locator(".dev-row").innerText()).toMatch(/-\d+ dBm · (goed|matig|zwak)/);
    await water.getByRole("button", { name: "Details" }).click();
    await expect.poll(() => water.locator('[data-channel="tankTempC"]').innerText()).toMatch(/°C/);
    await page.screenshot({ path: path.join(ARTIFACTS, "technician.png") });
  });

  it("starts a leak from the simulator controls and acknowledges its alarm with a comment", async () => {
    await tab("sim");
    await page.locator('[data-testid="sim-leak-on"]').click();
    await expect.poll(() => page.locator('[data-testid="sim-leak-on"] + .result').textContent()).toContain("Er lekt nu (nagebootst) water.");
    await tab("alarms");
    const alarm = page.locator('[data-alarm="interlock:water-leak"]');
    await expect.poll(() => alarm.getAttribute("data-open"), { timeout: 10_000 }).toBe("true");
    expect(await alarm.locator(".alarm-msg").textContent()).toBe("Pomp uit en kraan dicht: lekkage gedetecteerd: water.leak = 1");
    // Open alarms come first.
    expect(await page.locator("[data-alarm]").first().getAttribute("data-open")).toBe("true");
    await alarm.locator(".ack-comment").fill(COMMENT);
    await alarm.getByRole("button", { name: "Bevestigen" }).click();
    await expect.poll(() => alarm.locator(".alarm-ack").textContent()).toMatch(new RegExp(`^Bevestigd door technicus op .+ · “${COMMENT}”$`));
    await page.screenshot({ path: path.join(ARTIFACTS, "technician-alarms.png") });
  });

  it("shows why a reset is refused, in the hub's words", async () => {
    await tab("interlocks");
    const leak = page.locator('[data-interlock="water-leak"]');
    await expect.poll(() => leak.getAttribute("data-status")).toBe("tripped");
    await expect.poll(() => leak.locator(".il-blocked").textContent(), { timeout: 10_000 }).toMatch(/^Reset kan nu nog niet: .*water\.leak = 1/);
    const reset = leak.locator('[data-testid="reset-water-leak"]');
    await reset.focus();
    await page.keyboard.down("Enter");
    await page.waitForTimeout(1800);
    await page.keyboard.up("Enter");
    await expect.poll(() => leak.locator(".result").textContent()).toMatch(/^Geweigerd: .*water\.leak = 1/);
    expect(await leak.getAttribute("data-status")).toBe("tripped");
  });

  it("finds the acknowledgement in the audit log, and exports it as CSV", async () => {
    await tab("audit");
    await page.locator('[data-testid="audit-filters"] input[name="action"]').fill("alarm.acknowledge");
    await page.locator('[data-testid="audit-filters"] input[name="actor"]').fill("technicus");
    await page.getByRole("button", { name: "Zoeken" }).click();
    const rowEl = page.locator('[data-testid="audit-table"] tr[data-action="alarm.acknowledge"]');
    await expect.poll(() => rowEl.count()).toBe(1);
    expect(await rowEl.innerText()).toContain(COMMENT);
    expect(await rowEl.getAttribute("data-result")).toBe("ok");
    // The refused reset is on record too.
    await page.locator('[data-testid="audit-filters"] input[name="action"]').fill("interlock.reset");
    await page.locator('[data-testid="audit-filters"] select[name="result"]').selectOption("refused");
    await page.getByRole("button", { name: "Zoeken" }).click();
    await expect.poll(() => page.locator('[data-testid="audit-table"] tr[data-action="interlock.reset"][data-result="refused"]').count()).toBe(1);

    await page.locator('[data-testid="audit-filters"] input[name="action"]').fill("alarm.*");
    await page.locator('[data-testid="audit-filters"] select[name="result"]').selectOption("");
    const [download] = await Promise.all([page.waitForEvent("download"), page.locator('[data-testid="audit-csv"]').click()]);
    expect(download.suggestedFilename()).toMatch(/^tec-audit-\d{8}T\d{6}Z-now\.csv$/);
    const csv = readFileSync(await download.path(), "utf8");
    expect(csv.split("\r\n")[0]).toBe("seq,time,actor,role,action,target,result,reason,details");
    expect(csv).toContain("technicus,technician,alarm.acknowledge,interlock:water-leak,ok");
    expect(csv).toContain(COMMENT);
  });

  it("charts a channel's history and shows the hub's own health", async () => {
    await tab("history");
    await expect.poll(async () => Number((await page.locator("section[data-points]").getAttribute("data-points")) ?? 0), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await page.locator('[data-testid="history-chart"] canvas').count()).toBe(1);
    await page.locator('button[data-range="24h"]').click();
    await expect.poll(() => page.locator('[data-testid="history-status"]').textContent()).toMatch(/^\d+ punten · resolutie (raw|1m|15m)/);
    await tab("hub");
    const ingest = page.locator('[data-metric="ingest"]');
    await expect.poll(() => ingest.innerText(), { timeout: 10_000 }).toContain("Berichten/s");
    expect(await page.locator('[data-metric="loop"]').innerText()).toMatch(/p99\s+[\d,]+ ms/);
    expect(await page.locator('[data-metric="mqtt"]').innerText()).toMatch(/Verbonden\s+ja/);
    // Someone with the observer's (published) password tries the e-stop button's client id.
    const thief = mqtt.connect(`mqtt://127.0.0.1:${demo.hub.mqttPort ?? 0}`, { username: "observer", password: "observer", clientId: "estop-button", protocolVersion: 4, reconnectPeriod: 0 });
    await new Promise<void>((resolve) => thief.once("error", () => resolve()));
    thief.end(true);
    const refusal = page.locator('[data-metric="refusals"] li[data-code="client-id-refused"]');
    await expect.poll(() => refusal.count(), { timeout: 10_000 }).toBe(1);
    expect(await refusal.innerText()).toMatch(/observer \(estop-button\) vanaf 127\.0\.0\.1, .*belongs to device "estop-button"/);
    expect(await page.locator('[data-metric="refusals"]').innerText()).toMatch(/Client-id van een ander geweigerd\s+1/);
    await demo.command(await demo.login("technicus", "technician"), "sim.leak", { on: false });
  });

  it("speaks English on every tab after the switch", async () => {
    await page.getByRole("button", { name: "English" }).click();
    for (const id of ["devices", "alarms", "interlocks", "audit", "history", "hub", "sim"]) {
      await tab(id);
      await page.waitForTimeout(300);
      expect(await dutchLeft(page), id).toEqual([]);
    }
    await tab("devices");
    await expect.poll(() => page.locator('tbody[data-device="water"] .dev-row').innerText()).toContain("Water");
    await page.screenshot({ path: path.join(ARTIFACTS, "technician-en.png") });
    await page.getByRole("button", { name: "Nederlands" }).click();
  });

  it("went nowhere but the hub and logged no errors", () => {
    expect(watches.flatMap((w) => w.outside())).toEqual([]);
    expect(watches.flatMap((w) => w.consoleErrors)).toEqual([]);
  });

  it("tells an instructor this page is for technicians, and the hub refuses them its simulator", async () => {
    const other = await tb.browser.newPage({ viewport: { width: 1280, height: 800 }, locale: "nl-NL" });
    const w = watchPage(other, demo.url);
    await other.goto(`${demo.url}/#/technician`);
    await other.locator("#login-name").fill("begeleider");
    await other.locator("#login-secret").fill("1234");
    await other.getByRole("button", { name: "Inloggen" }).click();
    await expect.poll(() => other.locator('[data-testid="wrong-role"]').innerText()).toContain("Deze pagina is voor technici");
    // Hiding the page is not the protection: the hub itself refuses, and says why.
    const token = await other.evaluate(() => (JSON.parse(sessionStorage.getItem("tec-session") ?? "{}") as { token?: string }).token ?? "");
    const reply = await demo.command(token, "sim.leak", { on: true });
    expect(reply).toMatchObject({ ok: false, code: "FORBIDDEN" });
    expect(w.consoleErrors).toEqual([]);
  });
});
