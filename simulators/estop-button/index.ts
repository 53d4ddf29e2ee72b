/**
 * A simulated emergency-stop button on MQTT (the kind a technician wires to an ESP32 next to a
 * station): one channel, `pressed` (1 = pressed). It publishes its state every period and at once
 * when pressed or released. The hub treats a pressed button, and a button it no longer hears, as
 * an emergency stop.
 */
import type { Clock } from "../../hub/src/core/clock.ts";
import { SimDevice } from "../common/contract-device.ts";

export interface EstopButtonOptions {
  brokerUrl: string;
  site: string;
  id: string;
  password: string;
  periodMs: number;
  clock?: Clock;
}

export class EstopButton {
  readonly device: SimDevice;
  private pressed = 0;

  constructor(options: EstopButtonOptions) {
    this.device = new SimDevice({
      brokerUrl: options.brokerUrl,
      site: options.site,
      id: options.id,
      password: options.password,
      model: "TEC-SIM-ESTOP",
      channels: { pressed: { unit: "", min: 0, max: 1, label: "Noodstop ingedrukt" } },
      periodMs: options.periodMs,
      read: () => ({ pressed: this.pressed }),
      ...(options.clock !== undefined ? { clock: options.clock } : {}),
    });
  }

  start(): Promise<void> {
    return this.device.start();
  }

  stop(): Promise<void> {
    return this.device.stop();
  }

  press(): void {
    this.pressed = 1;
    this.device.tick();
  }

  release(): void {
    this.pressed = 0;
    this.device.tick();
  }
}
