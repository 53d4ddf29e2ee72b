/**
 * What the interlock engine reads: a channel's value, age and quality, and its device's state.
 * Fail-safe by construction: anything but a fresh, valid reading from an available device is a
 * reason to trip, with a reason people can read.
 */
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
  detail: Text;
}

export function inputProblem(ref: string, reading: InputReading | undefined): InputProblem | null {
  const device = ref.split(".")[0] ?? ref;
  if (reading === undefined) {
    return { input: ref, kind: "missing", detail: { nl: `meetwaarde ${ref} ontbreekt`, en: `reading ${ref} is missing` } };
  }
  if (!AVAILABLE.has(reading.deviceState)) {
    const nl = reading.deviceState === "fault" ? `apparaat ${device} meldt een storing` : `apparaat ${device} is ${reading.deviceState === "offline" ? "offline" : "niet bereikbaar"}`;
    const en = reading.deviceState === "fault" ? `device ${device} reports a fault` : `device ${device} is ${reading.deviceState === "offline" ? "offline" : "not available"}`;
    return { input: ref, kind: "offline", detail: { nl, en } };
  }
  switch (reading.quality) {
    case "ok":
      return reading.value === null ? { input: ref, kind: "missing", detail: { nl: `meetwaarde ${ref} ontbreekt`, en: `reading ${ref} is missing` } } : null;
    case "stale":
      return { input: ref, kind: "stale", detail: { nl: `meetwaarde ${ref} is verouderd`, en: `reading ${ref} is stale` } };
    case "invalid":
      return { input: ref, kind: "invalid", detail: { nl: `meetwaarde ${ref} is ongeldig`, en: `reading ${ref} is invalid` } };
    case "missing":
      return { input: ref, kind: "missing", detail: { nl: `meetwaarde ${ref} ontbreekt`, en: `reading ${ref} is missing` } };
  }
}
