/**
 * The Tiny House simulator: one physics model, six contract devices on MQTT. The model steps on the
 * clock (real elapsed time times `speed`); all devices publish their telemetry in one go from the
 * same model state, so `load = pv + grid + battery` also holds across devices for the same `ts`.
 */
import { systemClock, type Clock, type Timer } from "../../hub/src/core/clock.ts";
import { SimDevice } from "../common/contract-device.ts";
import { TINY_HOUSE_DEVICES, channelSpecs, controlsFrom, readingsOf } from "./devices.ts";
import { TinyHouseModel, type TinyHouseParams } from "./model.ts";

export interface TinyHouseOptions {
  brokerUrl: string;
  site: string;
  /** MQTT password per device id; a device without one is left out (and logged). */
  passwords: Record<string, string>;
  /** Simulated seconds per real second. */
  speed: number;
  /** Simulated start time, ms since the epoch; default: the clock's now. */
  startMs?: number;
  seed: number;
  /** Overrides of the physics defaults (e.g. `leakProbabilityPerH` for random leaks). */
  params?: Partial<TinyHouseParams>;
  /** Real milliseconds between telemetry messages of each device. */
  periodMs: number;
  clock?: Clock;
  logger?: (msg: string) => void;
  /** Real milliseconds between model steps; default min(200, periodMs). */
  stepMs?: number;
  /** mqtt.js reconnect period after broker loss; default 1000. */
  reconnectPeriodMs?: number;
}

export interface TinyHouseHandle {
  devices: Map<string, SimDevice>;
  model: TinyHouseModel;
  /** Clean shutdown: every device publishes `offline` and disconnects, every timer is cancelled. */
  stop(): Promise<void>;
}

/** A longer gap (a stalled event loop, a suspended laptop) is not simulated as one huge step. */
const MAX_STEP_REAL_S = 5;

export async function startTinyHouse(opts: TinyHouseOptions): Promise<TinyHouseHandle> {
  const clock = opts.clock ?? systemClock;
  const log = opts.logger ?? (() => {});
  const model = new TinyHouseModel({ startMs: opts.startMs ?? clock.now(), seed: opts.seed, params: opts.params });
  const devices = new Map<string, SimDevice>();
  for (const def of TINY_HOUSE_DEVICES) {
    const password = opts.passwords[def.id];
    if (password === undefined) {
      log(`tiny-house: no password for ${def.id}, device left out`);
      continue;
    }
    const device = new SimDevice({
      brokerUrl: opts.brokerUrl,
      site: opts.site,
      id: def.id,
      password,
      model: def.model,
      channels: channelSpecs(def),
      actuators: def.actuators,
      periodMs: opts.periodMs,
      externalTick: true,
      read: () => readingsOf(def, model.state),
      clock,
      seed: opts.seed,
      logger: log,
      reconnectPeriodMs: opts.reconnectPeriodMs,
    });
    devices.set(def.id, device);
  }

  let last = clock.now();
  const advance = (): void => {
    const now = clock.now();
    const realS = Math.min(MAX_STEP_REAL_S, Math.max(0, (now - last) / 1000));
    last = now;
    model.setControls(controlsFrom(devices));
    model.step(realS * opts.speed);
  };
  const timers: Timer[] = [
    clock.setInterval(advance, opts.stepMs ?? Math.min(200, opts.periodMs)),
    clock.setInterval(() => {
      advance();
      for (const device of devices.values()) device.tick();
    }, opts.periodMs),
  ];

  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      for (const timer of timers) timer.cancel();
      await Promise.all([...devices.values()].map((d) => d.stop()));
    })();
    return stopped;
  };

  try {
    await Promise.all([...devices.values()].map((d) => d.start()));
  } catch (error) {
    await stop();
    throw error;
  }
  log(`tiny-house: ${devices.size} devices online at ${opts.speed}x speed`);
  return { devices, model, stop };
}
