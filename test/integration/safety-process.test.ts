/**
 * The hub is a secondary layer that assumes it can fail. These suites make it fail: the hub process
 * is killed outright, and the external broker between hub and devices dies. The devices must reach
 * their safe state on their own, within 3 s of losing the hub's heartbeat.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { parseConfig } from "../../hub/src/config/load.ts";
import type { HubConfigInput } from "../../hub/src/config/schema.ts";
import { startHub, type Hub } from "../../hub/src/main.ts";
import { startMosquitto, type Mosquitto } from "../support/mosquitto.ts";
import { spawnHub, type HubProcess } from "../support/spawn-hub.ts";
import { baseConfig, until } from "./harness.ts";
import { type Plant, plantReady, plantSafe, safetyConfig, startPlant } from "./safety-world.ts";

/** Records when each actuator of the plant last went to its safe value, and why. */
function watchSafe(plant: Plant): Map<string, { at: number; reason: string }> {
  const seen = new Map<string, { at: number; reason: string }>();
  for (const device of [plant.water, plant.battery]) {
    device.on("actuator", (name, value, reason) => {
      if (value === 0) seen.set(`${device.id}.${name}`, { at: Date.now(), reason });
    });
  }
  return seen;
}

describe("the hub fails", () => {
  let dir: string | undefined;
  let hub: HubProcess | undefined;
  let inProcess: Hub | undefined;
  let plant: Plant | undefined;
  let mosquitto: Mosquitto | undefined;
  afterEach(async () => {
    await plant?.stop();
    if (hub?.proc.exitCode === null) await hub.kill("SIGKILL");
    await inProcess?.stop();
    await mosquitto?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    plant = undefined;
    hub = undefined;
    inProcess = undefined;
    mosquitto = undefined;
  });

  it("kill -9 of the hub: every simulated actuator is safe within 3 s, by the devices' own heartbeat watch", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-kill-safety-"));
    const configPath = path.join(dir, "hub.yaml");
    writeFileSync(configPath, stringify(baseConfig(dir, safetyConfig())));
    hub = await spawnHub(configPath);
    // Leases far longer than 3 s, so only the heartbeat watch can make the deadline.
    plant = await startPlant(`mqtt://127.0.0.1:${hub.mqttPort}`, { leaseMs: 60_000 });
    await until(() => plantReady(plant!), 15_000, "held actuators on");
    const safeAt = watchSafe(plant);
    const killedAt = Date.now();
    await hub.kill("SIGKILL");
    await until(() => plantSafe(plant!), 6000, "every actuator safe");
    const latest = Math.max(...[...safeAt.values()].map((s) => s.at));
    expect([...safeAt.values()].every((s) => s.reason === "hub-lost")).toBe(true);
    // The device allows 3 s after the last heartbeat, which came at most 1 s before the kill.
    // 250 ms of margin for this test process's own timers on a busy machine.
    expect(latest - killedAt).toBeLessThanOrEqual(3000 + 250);
  }, 120_000);

  it("the external broker dies and comes back: devices go safe, the hub's rules trip on stale inputs, and recover only by reset", async () => {
    mosquitto = await startMosquitto();
    dir = mkdtempSync(path.join(os.tmpdir(), "tec-broker-restart-"));
    const input: HubConfigInput = baseConfig(dir, { ...safetyConfig(), broker: { mode: "external", url: mosquitto.url } });
    inProcess = await startHub(parseConfig(input).config);
    plant = await startPlant(mosquitto.url, { leaseMs: 60_000 });
    await until(() => plantReady(plant!), 15_000, "held actuators on");
    const safeAt = watchSafe(plant);
    const downAt = Date.now();
    await mosquitto.restart(3500);
    expect(plantSafe(plant)).toBe(true);
    expect(Math.max(...[...safeAt.values()].map((s) => s.at)) - downAt).toBeLessThanOrEqual(3000 + 250);
    const hubSide = inProcess;
    await until(() => hubSide.interlocks.view("water-leak")?.status === "cleared", 15_000, "water-leak latched after the outage, cause gone");
    expect(hubSide.interlocks.view("water-leak")?.cause?.detail.en).toMatch(/stale|offline/);
    // After the outage nothing the latched rules forbid has started again by itself.
    await new Promise((r) => setTimeout(r, 1500));
    expect(plant.water.actuator("pumpEnable")).toBe(0);
    hubSide.interlocks.reset("water-leak", { name: "tech", role: "technician" });
    expect(hubSide.interlocks.view("water-leak")?.status).toBe("normal");
  });
});
