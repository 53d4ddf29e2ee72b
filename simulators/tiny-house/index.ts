/**
 * The Tiny House simulator: one physics model, six contract devices on MQTT. The model steps on the
 * clock (real elapsed time times `speed`); all devices publish their telemetry in one go from the
 * same model state, so `load = pv + grid + battery` also holds across devices for the same `ts`.
 */
import { systemClock, type Clock, type Timer } from "../../hub/src/core/clock.ts";
import { SimDevice } from "../common/contract-device.ts";
import { TINY_HOUSE_DEVICES, channelSpecs, controlsFrom, readingsOf } from "./devices.ts";
import { TinyHouseModel, type TinyHouseParams } from "./model.ts";
import { MAX_SPEED, MIN_SPEED, nextLocalHour, SimClock, simAt, type SimClockView } from "./sim-clock.ts";

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
  /** The simulated clock to drive (one the hub also reads); default: a clock of its own. */
  simClock?: SimClock;
}

export interface TinyHouseHandle {
  devices: Map<string, SimDevice>;
  model: TinyHouseModel;
  /** The simulated clock: real time maps onto the model's time through it. */
  simClock: SimClock;
  /** Runs the day at `speed` simulated seconds per real second (1..3600) from now on; answers the new clock. */
  setSpeed(speed: number): SimClockView;
  /** Moves the simulation forward to the next time the house's clock shows `hour` (0..24); answers the new clock. */
  jumpToHour(hour: number): SimClockView;
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

  const simClock = opts.simClock ?? new SimClock();
  simClock.anchor({ anchorRealMs: clock.now(), anchorSimMs: model.state.timeMs, speed: opts.speed });
  const view = (): SimClockView => simClock.current() ?? { anchorRealMs: clock.now(), anchorSimMs: model.state.timeMs, speed: opts.speed };
  /** Steps the model to where the clock says it is now. */
  const advance = (): void => {
    const now = clock.now();
    const v = view();
    const behindS = (simAt(v, now) - model.state.timeMs) / 1000;
    model.setControls(controlsFrom(devices));
    if (behindS > MAX_STEP_REAL_S * v.speed) {
      // A stall is not simulated as one huge step: the clock starts again from where the model is.
      model.step(MAX_STEP_REAL_S * v.speed);
      simClock.anchor({ anchorRealMs: now, anchorSimMs: model.state.timeMs, speed: v.speed });
    } else {
      model.step(behindS);
    }
  };
  const setSpeed = (speed: number): SimClockView => {
    advance();
    simClock.anchor({ anchorRealMs: clock.now(), anchorSimMs: model.state.timeMs, speed: Math.min(MAX_SPEED, Math.max(MIN_SPEED, speed)) });
    return view();
  };
  const jumpToHour = (hour: number): SimClockView => {
    advance();
    const target = nextLocalHour(model.state.timeMs, Math.min(24, Math.max(0, hour)));
    // Stepped through, not set: the battery, the tank and today's energy stay consistent.
    model.step((target - model.state.timeMs) / 1000);
    simClock.anchor({ anchorRealMs: clock.now(), anchorSimMs: model.state.timeMs, speed: view().speed });
    for (const device of devices.values()) device.tick();
    return view();
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
  return { devices, model, simClock, setSpeed, jumpToHour, stop };
}
