/**
 * What the simulated Marlin prints, in one place, spelled as Marlin 2.1's language.h spells it
 * (`Error:` is SERIAL_ERROR_START, `echo:` is SERIAL_ECHO_START). Hosts match on these.
 */

import type { Rng } from "../common/rng.ts";

export const FIRMWARE_VERSION = "Marlin 2.1.2.1 (sim)";

export const MARLIN_STRINGS = {
  /** STR_ERR_LINE_NO, STR_ERR_CHECKSUM_MISMATCH, STR_ERR_NO_CHECKSUM: the last good N follows. */
  errLineNo: "Line Number is not Last Line Number+1, Last Line: ",
  errChecksum: "checksum mismatch, Last Line: ",
  errNoChecksum: "No Checksum with line number, Last Line: ",
  /** STR_ERR_KILLED */
  errKilled: "Error:Printer halted. kill() called!",
  /** STR_ERR_STOPPED (printed with `Error:` by stop(), bare for a move received while stopped). */
  errStopped: "Printer stopped due to errors. Fix the error and use M999 to restart. (Temperature is reset. Set it after restarting)",
  /** STR_STOPPED_HEATER: after "Thermal Runaway" etc., before the heater id (0 or bed). */
  stoppedHeater: ", system stopped! Heater_ID: ",
  /** STR_BUSY_PROCESSING behind SERIAL_ECHO_MSG. */
  busyProcessing: "echo:busy: processing",
  /** OctoPrint's virtual printer says this on M112 before Marlin's kill message. */
  emergencyKilled: "echo:EMERGENCY SHUTDOWN DETECTED. KILLED.",
} as const;

/** The power-up output (MarlinCore.cpp setup()), with an optional bootloader-garbage line first. */
export function bannerLines(garbage: string | null): string[] {
  return [
    ...(garbage !== null ? [garbage] : []),
    "start",
    "echo: External Reset",
    FIRMWARE_VERSION,
    "echo: Last Updated: 2023-07-02 | Author: (TEC Hub simulator)",
    "echo: Compiled: Jul  2 2023",
    "echo: Free Memory: 2648  PlannerBufferBytes: 1232",
    "echo:SD card ok",
  ];
}

/** Capabilities in Marlin's M115 order, with BUSY_PROTOCOL (OctoPrint's name) at the end. */
const CAPABILITIES: ReadonlyArray<readonly [string, 0 | 1]> = [
  ["SERIAL_XON_XOFF", 0],
  ["BINARY_FILE_TRANSFER", 0],
  ["EEPROM", 0],
  ["VOLUMETRIC", 0],
  ["AUTOREPORT_POS", 0],
  ["AUTOREPORT_TEMP", 1],
  ["PROGRESS", 1],
  ["PRINT_JOB", 1],
  ["AUTOLEVEL", 0],
  ["RUNOUT", 0],
  ["Z_PROBE", 0],
  ["LEVELING_DATA", 0],
  ["BUILD_PERCENT", 1],
  ["SOFTWARE_POWER", 0],
  ["TOGGLE_LIGHTS", 0],
  ["CASE_LIGHT_BRIGHTNESS", 0],
  ["EMERGENCY_PARSER", 1],
  ["HOST_ACTION_COMMANDS", 0],
  ["PROMPT_SUPPORT", 0],
  ["SDCARD", 0],
  ["REPEAT", 0],
  ["SD_WRITE", 0],
  ["AUTOREPORT_SD_STATUS", 0],
  ["LONG_FILENAME", 0],
  ["LFN_WRITE", 0],
  ["CUSTOM_FIRMWARE_UPLOAD", 0],
  ["EXTENDED_M20", 0],
  ["THERMAL_PROTECTION", 1],
  ["MOTION_MODES", 0],
  ["ARCS", 0],
  ["BABYSTEPPING", 0],
  ["CHAMBER_TEMPERATURE", 0],
  ["COOLER_TEMPERATURE", 0],
  ["MEATPACK", 0],
  ["CONFIG_EXPORT", 0],
  ["BUSY_PROTOCOL", 1],
];

/** M115's reply lines (before the ok). */
export function firmwareInfoLines(machineType: string, uuid: string, thermalProtection: boolean): string[] {
  return [
    `FIRMWARE_NAME:${FIRMWARE_VERSION} SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 MACHINE_TYPE:${machineType} EXTRUDER_COUNT:1 UUID:${uuid}`,
    ...CAPABILITIES.map(([name, on]) => `Cap:${name}:${name === "THERMAL_PROTECTION" ? (thermalProtection ? 1 : 0) : on}`),
  ];
}

/** 1-8 random bytes 0x80..0xFF: line noise, a bootloader, a baud-rate mismatch. */
export function garbageLine(rng: Rng): string {
  const n = 1 + Math.floor(rng.next() * 8);
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(0x80 + Math.floor(rng.next() * 0x80));
  return s;
}

/** A version-4 UUID from the seeded generator, so a simulated printer keeps its identity. */
export function uuidFrom(rng: Rng): string {
  const hex = (n: number): string => {
    let s = "";
    for (let i = 0; i < n; i++) s += Math.floor(rng.next() * 16).toString(16);
    return s;
  };
  return `${hex(8)}-${hex(4)}-4${hex(3)}-${"89ab"[Math.floor(rng.next() * 4)] ?? "8"}${hex(3)}-${hex(12)}`;
}
