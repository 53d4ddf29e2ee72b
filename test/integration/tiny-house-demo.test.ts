/**
 * The demo as `npm start` runs it: the demo config, the hub, and the simulated Tiny House on the
 * embedded broker. Every device becomes ready, the hub holds the actuators the config lists, the
 * energy balance holds in what the hub received, and a crashed device is seen offline.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../hub/src/config/load.ts";
import type { DeviceView } from "../../hub/src/core/types.ts";
import { startHub, type Hub } from "../../hub/src/main.ts";
import { type DemoHardware, type DemoSimulators, startDemoHardware, startDemoSimulators } from "../../simulators/demo.ts";
import { until } from "./harness.ts";

describe("Tiny House demo", () => {
  let dir: string;
  let hub: Hub;
  let sims: DemoSimulators;
  let hardware: DemoHardware;
  let url: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-demo-"));
    const { config } = loadConfig("config/demo.yaml", { TEC_HTTP_PORT: "0", TEC_MQTT_PORT: "0", TEC_MQTTS_PORT: "0", TEC_DB_PATH: path.join(dir, "demo.db") });
    hardware = await startDemoHardware({ ...config, http: { ...config.http, host: "127.0.0.1" }, broker: { ...config.broker, host: "127.0.0.1" }, opcua: { ...config.opcua, enabled: false, pkiFolder: path.join(dir, "opcua") } }, dir, { cellPort: 0 });
    hub = await startHub(hardware.config);
    url = `http://127.0.0.1:${hub.httpPort}`;
    // Noon in June, ten simulated minutes a second: the sun is up.
    sims = await startDemoSimulators(
      { ...config, simulators: { tinyHouse: { ...config.simulators.tinyHouse, speed: 600, start: "2026-06-21T12:00:00+02:00", seed: 7, periodMs: 250 } } },
      `mqtt://127.0.0.1:${hub.mqttPort ?? 0}`,
    );
  });
  afterAll(async () => {
    await sims?.stop();
    await hub?.stop();
    await hardware?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const devices = async () => ((await (await fetch(`${url}/api/devices`)).json()) as { result: DeviceView[] }).result;

  it("brings every demo device, printers and robot cell included, to ready with simulated values", async () => {
    const list = await until(async () => {
      const l = await devices();
      return l.every((d) => d.state === "ready") ? l : undefined;
    }, 20_000, "all devices ready");
    expect(list.map((d) => d.id).sort()).toEqual(["battery", "climate", "enclosures", "estop-button", "grid-meter", "heat-pump", "printer-1", "printer-2", "printer-3", "printer-4", "pv-inverter", "robot-arm", "robot-cell", "tech-cupboard", "water"]);
    expect(list.every((d) => d.simulated)).toBe(true);
    const pv = list.find((d) => d.id === "pv-inverter");
    expect(pv?.channels.pvPowerW?.value).toBeGreaterThan(100);
    // The demo's own devices and stations say nothing wrong on their way up (no refused meta, no unknown channel).
    expect(list.filter((d) => Object.keys(d.rejectsByCode).length > 0).map((d) => ({ id: d.id, rejects: d.recentRejects.map((r) => `${r.code}: ${r.message}`) }))).toEqual([]);
  });

  it("holds the actuators the config lists, through commands the devices acknowledge", async () => {
    await until(() => sims.devices().get("battery")?.actuator("chargeEnable") === 1 && sims.devices().get("water")?.actuator("pumpEnable") === 1, 10_000, "held actuators applied");
    // A device refuses commands until it has heard the hub's first heartbeat; the keeper retries.
    const held = await until(() => {
      const h = hub.keeper.list().find((x) => x.deviceId === "battery" && x.actuator === "chargeEnable");
      return h?.lastAckAt !== null && h?.lastError === null ? h : undefined;
    }, 5000, "an acknowledged hold");
    expect(held.value).toBe(1);
    expect(hub.commands.counters.acked).toBeGreaterThan(0);
    expect(hub.commands.counters.timeouts).toBe(0);
  });

  it("keeps load = pv + grid + battery in what the hub received", async () => {
    await until(async () => {
      const l = await devices();
      const v = (id: string, ch: string) => l.find((d) => d.id === id)?.channels[ch];
      const pv = v("pv-inverter", "pvPowerW");
      const grid = v("grid-meter", "gridPowerW");
      const bat = v("battery", "batteryPowerW");
      const load = v("grid-meter", "loadPowerW");
      // Compare only readings of the same step (the simulator publishes them together).
      if (pv?.deviceTs !== grid?.deviceTs || grid?.deviceTs !== bat?.deviceTs) return undefined;
      return Math.abs((load?.value ?? NaN) - ((pv?.value ?? NaN) + (grid?.value ?? NaN) + (bat?.value ?? NaN))) <= 1;
    }, 10_000, "a balanced step");
  });

  it("shows a crashed device offline within a few seconds, and back when it returns", async () => {
    const climate = sims.devices().get("climate");
    climate?.crash();
    await until(async () => (await devices()).find((d) => d.id === "climate")?.state === "offline", 5000, "climate offline");
    await climate?.restart();
    const back = await until(async () => {
      const d = (await devices()).find((x) => x.id === "climate");
      return d?.state === "ready" ? d : undefined;
    }, 10_000, "climate ready again");
    expect(back.counters.reboots).toBe(1);
  });
});
