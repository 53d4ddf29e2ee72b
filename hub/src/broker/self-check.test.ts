/**
 * The external-mode self-check against real Mosquitto brokers: one that lets anybody in
 * (`allow_anonymous true`, no ACL: the test support's default) must raise the alarm; one started
 * with the files `tec-hub broker-config` writes must not.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort, startMosquitto } from "../../../test/support/mosquitto.ts";
import { parseConfig } from "../config/load.ts";
import { AlarmBook } from "../core/alarms/alarms.ts";
import { Bus } from "../core/bus.ts";
import { systemClock } from "../core/clock.ts";
import { silentLogger } from "../core/logger.ts";
import { BrokerThread, externalClientThreadInit } from "./broker-thread.ts";
import { generateMosquittoFiles } from "./mosquitto-files.ts";
import { BROKER_CHECK_ALARM, BrokerSelfCheck } from "./self-check.ts";

const HUB = { username: "hub", password: "pw-hub" };
const OBSERVER = { username: "observer", password: "observer" };

function configFor(url: string) {
  return parseConfig({
    site: "check-site",
    siteName: "Check",
    broker: { mode: "external", url, host: "127.0.0.1", hub: HUB, observer: OBSERVER },
    storage: { path: path.join(os.tmpdir(), "tec-self-check", "hub.db") },
    devices: [{ kind: "mqtt", id: "dev-a", name: "A", password: "pw-dev-a" }],
  }).config;
}

describe("the external broker self-check", () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanup.reverse()) await c();
    cleanup.length = 0;
  });

  async function check(url: string) {
    const config = configFor(url);
    // The hub's link in external mode: its client of the broker on a thread of its own.
    const link = new BrokerThread(
      externalClientThreadInit(config),
      { clock: systemClock, logger: silentLogger, hooks: { denied: () => undefined, restarting: () => undefined } },
    );
    await link.listen();
    await link.start();
    expect(link.connected).toBe(true);
    cleanup.push(() => link.stop());
    const alarms = new AlarmBook({ clock: systemClock, bus: new Bus(silentLogger), store: { save: () => undefined, load: () => [] } });
    const check = new BrokerSelfCheck({ config, link, alarms, logger: silentLogger, clock: systemClock, timeoutMs: 15_000 });
    cleanup.push(() => check.stop());
    const results = await check.start();
    return { results, alarm: alarms.list({ open: true }).find((a) => a.key === BROKER_CHECK_ALARM) };
  }

  it("raises a critical alarm on a Mosquitto with allow_anonymous true", async () => {
    const mosquitto = await startMosquitto();
    cleanup.push(() => mosquitto.stop());
    const { results, alarm } = await check(mosquitto.url);
    expect(results.map((r) => `${r.probe}: ${r.verdict}`)).toEqual(["anonymous: unsafe", "unknown-account: unsafe", "observer-publishes: unsafe"]);
    expect(alarm?.severity).toBe("critical");
    expect(alarm?.message.en).toMatch(/does not enforce the hub's rules: a client without user name gets in, an unknown account gets in and the read-only observer account can publish\./);
    expect(alarm?.message.nl).toMatch(/houdt zich niet aan de regels van de hub/);
  }, 120_000);

  it("stays quiet on a Mosquitto started with the files broker-config writes", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "tec-self-check-"));
    // Mosquitto started as root reads its files as the mosquitto user.
    chmodSync(dir, 0o755);
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    const files = generateMosquittoFiles(configFor(url), { dir, previousPasswordFile: null }).files;
    for (const name of ["mosquitto.conf", "password_file", "acl_file"] as const) writeFileSync(path.join(dir, name), files[name], { mode: 0o644 });
    mkdirSync(path.join(dir, "data"), { mode: 0o777 });
    chmodSync(path.join(dir, "data"), 0o777);
    const proc: ChildProcess = spawn("mosquitto", ["-c", path.join(dir, "mosquitto.conf")], { stdio: "ignore" });
    const exited = new Promise((resolve) => proc.once("exit", resolve));
    cleanup.push(async () => {
      proc.kill("SIGTERM");
      await exited;
    });
    const listening = () =>
      new Promise<boolean>((resolve) => {
        const socket = net.connect(port, "127.0.0.1");
        socket.once("connect", () => {
          socket.destroy();
          resolve(true);
        });
        socket.once("error", () => resolve(false));
      });
    // Mosquitto says nothing when it is ready: its port opening is the sign.
    for (let i = 0; !(await listening()); i++) {
      if (i > 300) throw new Error("mosquitto did not start");
      await new Promise((r) => setTimeout(r, 50));
    }
    const { results, alarm } = await check(url);
    expect(results.map((r) => `${r.probe}: ${r.verdict}`)).toEqual(["anonymous: enforced", "unknown-account: enforced", "observer-publishes: enforced"]);
    expect(alarm).toBeUndefined();
  }, 120_000);
});
