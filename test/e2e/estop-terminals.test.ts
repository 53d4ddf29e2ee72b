/**
 * Issue 11, finding 5, on a hub that does not take the e-stop from its own machine without a
 * login (`safety.estopFromHubMachine: false`, as on a site where the browser runs elsewhere): a
 * technician registers the tablet by the stations as an e-stop terminal on the workbench, logs out,
 * and the tablet's e-stop still works. Revoked from the technician's desk, the next press is
 * refused by the hub, and the tablet says why and to use the physical button.
 */
import path from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARTIFACTS, launchBrowser, type TestBrowser } from "../support/browser.ts";
import { bootDemoHub, watchPage, type DemoHub, type PageWatch } from "../support/demo-hub.ts";
import { dutchLeft } from "../support/dutch-left.ts";

const NAME = "Tablet bij de robots";

interface Estop {
  status: string;
}
interface AuditRecord {
  actor: { name: string; role: string };
  result: string;
  details: Record<string, unknown> | null;
}

describe("e-stop terminals: registered, used without a login, revoked", () => {
  let demo: DemoHub;
  let tb: TestBrowser;
  let tabletContext: BrowserContext;
  let tablet: Page;
  let desk: Page;
  const watches: PageWatch[] = [];
  let tech: string;
  let terminalId = "";

  const estop = async (): Promise<Estop> => ((await (await fetch(`${demo.url}/api/interlocks/estop`)).json()) as { result: Estop }).result;
  const logIn = async (page: Page) => {
    await page.locator("#login-name").fill("technicus");
    await page.locator("#login-secret").fill("technician");
    await page.getByRole("button", { name: "Inloggen" }).click();
  };

  beforeAll(async () => {
    [demo, tb] = await Promise.all([bootDemoHub({ configure: (c) => ({ ...c, safety: { ...c.safety, estopFromHubMachine: false } }) }), launchBrowser()]);
    tabletContext = await tb.browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "nl-NL" });
    tablet = await tabletContext.newPage();
    desk = await (await tb.browser.newContext({ viewport: { width: 1440, height: 900 }, locale: "nl-NL" })).newPage();
    watches.push(watchPage(tablet, demo.url), watchPage(desk, demo.url));
    tech = await demo.login("technicus", "technician");
    // A dashboard build (when dist is older than the sources) and a hub with its simulators, on a shared machine.
  }, 180_000);
  afterAll(async () => {
    await tb?.close();
    await demo?.close();
  });

  it("before registering, the screen says its e-stop needs a login", async () => {
    await tablet.goto(`${demo.url}/#/technician/interlocks`);
    const mode = tablet.locator('[data-testid="estop-mode"]');
    await expect.poll(() => mode.getAttribute("data-mode"), { timeout: 10_000 }).toBe("login");
    expect(await mode.textContent()).toBe("Werkt hier alleen na inloggen");
  });

  it("a technician registers this screen on the workbench; its token is kept, never shown", async () => {
    await logIn(tablet);
    const panel = tablet.locator('[data-testid="terminals"]');
    await expect.poll(() => panel.isVisible(), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => panel.locator('[data-testid="terminal-self"]').textContent()).toBe("Dit scherm is niet geregistreerd: zonder inloggen werkt de noodstop hier niet.");
    expect(await panel.textContent()).toContain("Nog geen schermen geregistreerd.");
    await panel.locator('[data-testid="terminal-name"]').fill(NAME);
    await panel.locator('[data-testid="terminal-register"]').click();
    await expect.poll(() => panel.locator('[data-testid="terminal-self"]').textContent(), { timeout: 10_000 }).toBe(`Dit scherm is een geregistreerd noodstop-scherm: ${NAME}`);
    expect(await panel.locator(".result").first().textContent()).toBe("Geregistreerd: de noodstop op dit scherm werkt nu ook zonder inloggen.");
    const row = panel.locator("tr[data-terminal]");
    await expect.poll(() => row.count()).toBe(1);
    terminalId = (await row.getAttribute("data-terminal")) ?? "";
    expect(await row.innerText()).toContain(`${NAME} (dit scherm)`);
    expect(await row.innerText()).toMatch(/door technicus op .*in gebruik/s);
    const stored = await tablet.evaluate(() => JSON.parse(localStorage.getItem("tec-estop-terminal") ?? "null") as { id: string; name: string; token: string } | null);
    expect(stored).toMatchObject({ id: terminalId, name: NAME });
    expect(stored?.token.length).toBeGreaterThanOrEqual(40);
    // The token is this screen's secret: on no page and in no list.
    expect(await tablet.locator("body").innerText()).not.toContain(stored?.token ?? "-");
    const listed = (await (await fetch(`${demo.url}/api/terminals`, { headers: { authorization: `Bearer ${tech}` } })).json()) as { result: unknown[] };
    expect(JSON.stringify(listed.result)).not.toContain(stored?.token ?? "-");
    await expect.poll(() => tablet.locator('[data-testid="estop-mode"]').textContent()).toBe(`Werkt ook zonder inloggen (geregistreerd scherm: ${NAME})`);
    await tablet.locator('[data-testid="terminals"]').scrollIntoViewIfNeeded();
    await tablet.screenshot({ path: path.join(ARTIFACTS, "technician-terminals.png"), fullPage: true });
  });

  it("logged out, the tablet's e-stop still works: as that terminal", async () => {
    await tablet.locator('[data-testid="logout"]').click();
    await expect.poll(() => tablet.locator('[data-testid="login"]').isVisible()).toBe(true);
    expect(await tablet.evaluate(() => sessionStorage.getItem("tec-session"))).toBeNull();
    await expect.poll(() => tablet.locator('[data-testid="estop-mode"]').getAttribute("data-mode")).toBe("terminal");
    expect((await estop()).status).toBe("normal");

    await tablet.locator('[data-testid="estop"]').click();
    await expect.poll(async () => (await estop()).status, { timeout: 10_000 }).not.toBe("normal");
    await expect.poll(() => tablet.locator(".estop").getAttribute("data-state")).toMatch(/^(sent|active)$/);
    expect(await tablet.locator(".estop-status").textContent()).not.toContain("NIET gelukt");
    const audit = (await (await fetch(`${demo.url}/api/audit?action=estop.trigger&limit=5`, { headers: { authorization: `Bearer ${tech}` } })).json()) as { result: { records: AuditRecord[] } };
    expect(audit.result.records[0]).toMatchObject({ actor: { name: `terminal ${NAME}` }, result: "ok", details: { via: "terminal", terminal: terminalId } });

    await expect.poll(async () => (await estop()).status, { timeout: 10_000 }).toBe("cleared");
    expect(await demo.command(tech, "interlock.reset", { id: "estop" })).toMatchObject({ ok: true });
    await expect.poll(async () => (await estop()).status, { timeout: 10_000 }).toBe("normal");
  });

  it("the technician's desk lists the terminal with its last contact and revokes it", async () => {
    await desk.goto(`${demo.url}/#/technician/interlocks`);
    await logIn(desk);
    const row = desk.locator(`tr[data-terminal="${terminalId}"]`);
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    // The press just now is its last contact; this desk is not the tablet.
    expect(await row.locator(".term-name").textContent()).toBe(NAME);
    expect(await row.locator(".term-seen").textContent()).toMatch(/\(\d+ s geleden\)$/);
    await expect.poll(() => desk.locator('[data-testid="estop-mode"]').getAttribute("data-mode")).toBe("login");
    await row.locator(`[data-testid="terminal-revoke-${terminalId}"]`).click();
    await expect.poll(() => row.getAttribute("data-revoked"), { timeout: 10_000 }).toBe("true");
    expect(await row.locator(".term-state").textContent()).toMatch(/^ingetrokken op /);
    expect(await row.locator(".result").textContent()).toBe("Ingetrokken: dat scherm heeft voor de noodstop weer een login nodig.");
    await desk.screenshot({ path: path.join(ARTIFACTS, "technician-terminal-revoked.png"), fullPage: true });
  });

  it("revoked: the tablet's press is refused, and it says to use the physical button", async () => {
    // The tablet has not heard: it still sends its (now revoked) token.
    expect(await tablet.evaluate(() => localStorage.getItem("tec-estop-terminal"))).not.toBeNull();
    await tablet.locator('[data-testid="estop"]').click();
    const status = tablet.locator(".estop-status");
    await expect.poll(() => tablet.locator(".estop").getAttribute("data-state"), { timeout: 10_000 }).toBe("failed");
    // The hub's reason (its wording is the hub's), then what to do.
    expect(await status.textContent()).toMatch(/^Noodstop NIET gelukt: dit scherm .*noodstop .*zonder inloggen.* gebruik de rode noodknop, of log in\. Druk op de echte noodknop!$/i);
    expect((await estop()).status).toBe("normal");
    // It asks the hub again, forgets the dead token and says what it is now.
    await expect.poll(() => tablet.locator('[data-testid="estop-mode"]').getAttribute("data-mode"), { timeout: 10_000 }).toBe("login");
    expect(await tablet.evaluate(() => localStorage.getItem("tec-estop-terminal"))).toBeNull();
    await tablet.screenshot({ path: path.join(ARTIFACTS, "estop-terminal-revoked.png") });
  });

  it("speaks English on the terminals panel", async () => {
    await desk.getByRole("button", { name: "English" }).click();
    const panel = desk.locator('[data-testid="terminals"]');
    await expect.poll(() => panel.locator("h2").textContent()).toBe("E-stop terminals");
    expect(await panel.locator(`tr[data-terminal="${terminalId}"] .term-state`).textContent()).toMatch(/^revoked on /);
    expect(await dutchLeft(desk, ["begeleider", "technicus", NAME])).toEqual([]);
    await desk.getByRole("button", { name: "Nederlands" }).click();
  });

  it("went nowhere but the hub; the only errors are the refused press", () => {
    expect(watches.flatMap((w) => w.outside())).toEqual([]);
    expect(watches.flatMap((w) => w.consoleErrors).filter((e) => !/status of 403/.test(e))).toEqual([]);
  });
});
