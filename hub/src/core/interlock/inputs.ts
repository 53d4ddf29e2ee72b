/**
 * What the interlock engine reads: a channel's value, age and quality, and its device's state.
 * Fail-safe by construction: anything but a fresh, valid reading from an available device is a
 * reason to trip, with a reason people can read.
 */
import { text } from "../texts/texts.ts";
import type { ChannelQuality, DeviceState, Text } from "../types.ts";

export interface InputReading {
  value: number | null;
  at: number | null;
  quality: ChannelQuality;
  deviceState: DeviceState;
}

/** `undefined`: no such device or channel (never described): counted as missing. */
export type InputView = (ref: string) => InputReading | undefined;

/** Device states in which a reading can be trusted at all. */
const AVAILABLE: ReadonlySet<DeviceState> = new Set<DeviceState>(["ready", "degraded", "init", "stale"]);

export interface InputProblem {
  input: string;
  kind: "missing" | "stale" | "invalid" | "offline";
  /** For technicians: names the input or device ("reading climate.co2Ppm is stale"). */
  detail: Text;
  /** When the input's last value arrived (hub time), if ever: "no fresh value since 12:03". */
  lastAt: number | null;
}

export function inputProblem(ref: string, reading: InputReading | undefined): InputProblem | null {
  const device = ref.split(".")[0] ?? ref;
  if (reading === undefined) {
    return { input: ref, kind: "missing", detail: text("input.missing", { input: ref }), lastAt: null };
  }
  const lastAt = reading.at;
  if (!AVAILABLE.has(reading.deviceState)) {
    const key = reading.deviceState === "fault" ? "input.deviceFault" : reading.deviceState === "offline" ? "input.deviceOffline" : "input.deviceUnavailable";
    return { input: ref, kind: "offline", detail: text(key, { device }), lastAt };
  }
  switch (reading.quality) {
    case "ok":
      return reading.value === null ? { input: ref, kind: "missing", detail: text("input.missing", { input: ref }), lastAt } : null;
    case "stale":
      return { input: ref, kind: "stale", detail: text("input.stale", { input: ref }), lastAt };
    case "invalid":
      return { input: ref, kind: "invalid", detail: text("input.invalid", { input: ref }), lastAt };
    case "missing":
      return { input: ref, kind: "missing", detail: text("input.missing", { input: ref }), lastAt };
  }
}
