/**
 * The demo as the dashboard's end-to-end tests need it: the demo config, a real hub on free ports
 * with its SQLite in a temp folder, the real Tiny House simulators and e-stop button (at noon in
 * June, ten simulated minutes a second, so the sun is up and PV changes), the `sim.*` commands,
 * and the built dashboard. A browser page helper records every request and console error.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Page } from "playwright-core";
import { build } from "vite";
import { loadConfig } from "../../hub/src/config/load.ts";
import type { HubConfig } from "../../hub/src/config/schema.ts";
import { startHub, type Hub } from "../../hub/src/main.ts";
import { type DemoHardware, type DemoSimulators, registerSimCommands, SimClock, startDemoHardware, startDemoSimulators } from "../../simulators/demo.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const DASHBOARD = path.join(ROOT, "dashboard");

export interface DemoHub {
  hub: Hub;
  sims: DemoSimulators;
  /** The simulated printers and robot cell. */
  hardware: DemoHardware;
  config: Readonly<HubConfig>;
  url: string;
  /** Logs in over REST and answers the bearer token. */
  login(name: string, secret: string): Promise<string>;
  /** Runs a command over REST as the holder of `token`. */
  command(token: string, name: string, params?: Record<string, unknown>): Promise<{ ok: boolean; code?: string; message?: string; result?: unknown }>;
  close(): Promise<void>;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * The built dashboard: `dashboard/dist` when it is newer than every source file (as `npm test`
 * leaves it), otherwise a fresh build into a folder of this test's own (so parallel test files
 * never write the same folder, and a stale bundle is never what gets tested).
 */
export async function dashboardDir(): Promise<{ dir: string; cleanup(): void }> {
  const dist = path.join(DASHBOARD, "dist");
  const index = path.join(dist, "index.html");
  const sources = Math.max(newestMtime(path.join(DASHBOARD, "src")), statSync(path.join(DASHBOARD, "index.html")).mtimeMs, newestMtime(path.join(DASHBOARD, "public")));
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return { dir: dist, cleanup: () => undefined };
  const out = mkdtempSync(path.join(os.tmpdir(), "tec-dashboard-"));
  await build({ configFile: path.join(DASHBOARD, "vite.config.ts"), build: { outDir: out, emptyOutDir: true }, logLevel: "error" });
  return { dir: out, cleanup: () => rmSync(out, { recursive: true, force: true }) };
}

export interface DemoHubOptions {
  start?: string;
  speed?: number;
  periodMs?: number;
  /** false: no dashboard (tests of the hub alone) */
  dashboard?: boolean;
  /**
   * Changes to the demo config before the hub starts (`safety.estopFromHubMachine: false`, short
   * sessions); the demo's own config is used as it is without one.
   */
  configure?: (config: HubConfig) => HubConfig;
}

export async function bootDemoHub(options: DemoHubOptions = {}): Promise<DemoHub> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tec-e2e-"));
  const dashboard = options.dashboard === false ? { dir: path.join(dir, "no-dashboard"), cleanup: () => undefined } : await dashboardDir();
  const { config } = loadConfig(path.join(ROOT, "config/demo.yaml"), { TEC_HTTP_PORT: "0", TEC_MQTT_PORT: "0", TEC_MQTTS_PORT: "0", TEC_DB_PATH: path.join(dir, "demo.db") });
  // The hub's OPC UA server has a fixed port and a certificate folder: not for parallel browser tests.
  const local: HubConfig = { ...config, http: { ...config.http, host: "127.0.0.1" }, broker: { ...config.broker, host: "127.0.0.1" }, opcua: { ...config.opcua, enabled: false, pkiFolder: path.join(dir, "opcua") } };
  const base = options.configure?.(local) ?? local;
  // The simulated printers and robot cell fill in the config's sim:// addresses, as `npm start` does.
  const hardware = await startDemoHardware(base, dir, { cellPort: 0 });
  const cfg = hardware.config;
  const simClock = new SimClock();
  const hub = await startHub(cfg, { dashboardDir: dashboard.dir, simClock });
  const url = `http://127.0.0.1:${hub.httpPort}`;
  const sims = await startDemoSimulators(
    {
      ...cfg,
      simulators: {
        tinyHouse: {
          ...cfg.simulators.tinyHouse,
          speed: options.speed ?? 600,
          start: options.start ?? "2026-06-21T12:00:00+02:00",
          // The demo's own period: a shorter one makes the e-stop button's 3-periods staleness trip on a busy machine.
          periodMs: options.periodMs ?? 1000,
        },
      },
    },
    `mqtt://127.0.0.1:${hub.mqttPort ?? 0}`,
    simClock,
  );
  registerSimCommands(hub.commandRegistry, sims, hardware);

  const post = async (pathName: string, body: unknown, token?: string) => {
    const res = await fetch(`${url}${pathName}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return (await res.json()) as { ok: boolean; code?: string; message?: string; result?: unknown };
  };
  return {
    hub,
    sims,
    hardware,
    config: cfg,
    url,
    async login(name, secret) {
      const r = await post("/api/login", { name, secret });
      if (!r.ok) throw new Error(`login ${name}: ${r.message ?? "?"}`);
      return (r.result as { token: string }).token;
    },
    command: (token, name, params = {}) => post(`/api/commands/${name}`, params, token),
    async close() {
      await hub.stop();
      await sims.stop();
      await hardware.stop();
      dashboard.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface PageWatch {
  requests: string[];
  consoleErrors: string[];
  /** Requests to anything but the hub (and data: URLs). */
  outside(): string[];
}

/** Records every request the page makes and every console error or uncaught exception. */
export function watchPage(page: Page, hubUrl: string): PageWatch {
  const origin = new URL(hubUrl).origin;
  const requests: string[] = [];
  const consoleErrors: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => consoleErrors.push(`uncaught: ${e.message}`));
  // WebSocket connections are requests too (socket.io).
  page.on("websocket", (ws) => requests.push(ws.url()));
  return {
    requests,
    consoleErrors,
    outside: () => requests.filter((u) => !u.startsWith(origin) && !u.startsWith(origin.replace(/^http/, "ws")) && !u.startsWith("data:") && !u.startsWith("blob:" + origin)),
  };
}
