/**
 * The demo's simulated devices, started next to the hub by `npm start`: the Tiny House and the
 * e-stop button, on the same broker as real devices would use. Also the technician's fault
 * injection for live lessons and demonstrations (`sim.*` commands), which exist only while
 * simulators run.
 */
import { z } from "zod";
import type { CommandRegistry } from "../hub/src/api/commands.ts";
import type { HubConfig } from "../hub/src/config/schema.ts";
import { HubError } from "../hub/src/core/errors.ts";
import type { SimDevice } from "./common/contract-device.ts";
import { EstopButton } from "./estop-button/index.ts";
import { startTinyHouse, type TinyHouseHandle } from "./tiny-house/index.ts";

export interface DemoSimulators {
  house: TinyHouseHandle | null;
  button: EstopButton | null;
  devices(): Map<string, SimDevice>;
  stop(): Promise<void>;
}

export const ESTOP_BUTTON_ID = "estop-button";

export async function startDemoSimulators(config: Readonly<HubConfig>, brokerUrl: string): Promise<DemoSimulators> {
  const th = config.simulators.tinyHouse;
  const passwords = Object.fromEntries(config.devices.flatMap((d) => (d.kind === "mqtt" ? [[d.id, d.password]] : [])));
  const house = th.enabled
    ? await startTinyHouse({
        brokerUrl,
        site: config.site,
        passwords,
        speed: th.speed,
        seed: th.seed,
        periodMs: th.periodMs,
        ...(th.start !== undefined ? { startMs: Date.parse(th.start) } : {}),
      })
    : null;
  const buttonPassword = passwords[ESTOP_BUTTON_ID];
  const button = th.enabled && buttonPassword !== undefined ? new EstopButton({ brokerUrl, site: config.site, id: ESTOP_BUTTON_ID, password: buttonPassword, periodMs: th.periodMs }) : null;
  await button?.start();
  return {
    house,
    button,
    devices() {
      const all = new Map(house?.devices ?? []);
      if (button !== null) all.set(ESTOP_BUTTON_ID, button.device);
      return all;
    },
    async stop() {
      await button?.stop();
      await house?.stop();
    },
  };
}

const Faults = z
  .object({
    drop: z.number().min(0).max(1).optional(),
    delayMs: z.number().int().min(0).max(60_000).optional(),
    duplicate: z.boolean().optional(),
    garble: z.number().min(0).max(1).optional(),
    stuck: z.string().max(48).nullable().optional(),
    health: z.enum(["ok", "degraded", "fault"]).optional(),
  })
  .strict();

/** Fault injection for technicians while the demo runs: what a lesson about safety needs. */
export function registerSimCommands(registry: CommandRegistry, sims: DemoSimulators): void {
  const device = (id: string): SimDevice => {
    const d = sims.devices().get(id);
    if (d === undefined) throw new HubError("NOT_FOUND", `no simulated device "${id}"`);
    return d;
  };
  registry.register({
    name: "sim.leak",
    summary: "Simulator: starts or stops a water leak in the Tiny House.",
    roles: ["technician"],
    params: z.object({ on: z.boolean() }).strict(),
    target: () => "water",
    run: (p) => {
      if (sims.house === null) throw new HubError("NOT_FOUND", "the Tiny House simulator is not running");
      sims.house.model.setLeak(p.on);
      return { leak: p.on };
    },
  });
  registry.register({
    name: "sim.fault",
    summary: "Simulator: injects faults into a simulated device (drop, delay, duplicate, garble, stuck channel, health), or clears them.",
    roles: ["technician"],
    params: z.object({ device: z.string().max(48), faults: Faults.optional(), clear: z.boolean().optional() }).strict(),
    target: (p) => p.device,
    run: (p) => {
      const d = device(p.device);
      if (p.clear === true) d.clearFaults();
      if (p.faults !== undefined) d.inject(p.faults);
      return d.faults();
    },
  });
  registry.register({
    name: "sim.power",
    summary: "Simulator: crashes (no goodbye: the last will fires), restarts or reboots a simulated device.",
    roles: ["technician"],
    params: z.object({ device: z.string().max(48), action: z.enum(["crash", "restart", "reboot"]) }).strict(),
    target: (p) => p.device,
    run: async (p) => {
      const d = device(p.device);
      if (p.action === "crash") d.crash();
      else if (p.action === "restart") await d.restart();
      else d.reboot();
      return { device: p.device, action: p.action };
    },
  });
  registry.register({
    name: "sim.estopButton",
    summary: "Simulator: presses or releases the e-stop button.",
    roles: ["instructor", "technician"],
    params: z.object({ pressed: z.boolean() }).strict(),
    target: () => ESTOP_BUTTON_ID,
    run: (p) => {
      if (sims.button === null) throw new HubError("NOT_FOUND", "no simulated e-stop button");
      if (p.pressed) sims.button.press();
      else sims.button.release();
      return { pressed: p.pressed };
    },
  });
}
