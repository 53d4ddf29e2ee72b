/**
 * The Tiny House as six devices on the contract: which channels and actuators each one has, how
 * its readings come out of the model, and how the actuators feed the model's local control.
 * Channel names carry their units and are relied on by the hub's default config and the dashboard.
 */
import type { SimActuator, SimChannel, SimDevice } from "../common/contract-device.ts";
import type { TinyHouseControls, TinyHouseState } from "./model.ts";

export const TINY_HOUSE_DEVICE_IDS = ["pv-inverter", "battery", "grid-meter", "heat-pump", "climate", "water"] as const;
export type TinyHouseDeviceId = (typeof TINY_HOUSE_DEVICE_IDS)[number];

/** A channel with the number of decimals it is published with. */
export interface TinyHouseChannel extends SimChannel {
  digits: number;
  read: (s: Readonly<TinyHouseState>) => number;
}

export interface TinyHouseDeviceDef {
  id: TinyHouseDeviceId;
  model: string;
  channels: Record<string, TinyHouseChannel>;
  actuators: Record<string, SimActuator>;
}

const W = (label: string, min: number, max: number, read: (s: Readonly<TinyHouseState>) => number): TinyHouseChannel => ({ unit: "W", min, max, label, digits: 0, read });
const C = (label: string, min: number, max: number, read: (s: Readonly<TinyHouseState>) => number): TinyHouseChannel => ({ unit: "°C", min, max, label, digits: 1, read });
const onOff = (label: string): SimActuator => ({ safe: 0, leaseMs: 10_000, min: 0, max: 1, label });

export const TINY_HOUSE_DEVICES: readonly TinyHouseDeviceDef[] = [
  {
    id: "pv-inverter",
    model: "TEC-SIM-PV",
    channels: {
      pvPowerW: W("Zonnepanelen vermogen", 0, 4000, (s) => s.pvPowerW),
      irradianceWm2: { unit: "W/m2", min: 0, max: 1400, label: "Instraling zon", digits: 0, read: (s) => s.irradianceWm2 },
      pvEnergyTodayWh: { unit: "Wh", min: 0, max: 40_000, label: "Zonne-opbrengst vandaag", digits: 0, read: (s) => s.pvEnergyTodayWh },
    },
    actuators: {},
  },
  {
    id: "battery",
    model: "TEC-SIM-BAT",
    channels: {
      batteryPowerW: W("Accuvermogen (+ ontladen, - laden)", -6000, 6000, (s) => s.batteryPowerW),
      socPct: { unit: "%", min: 0, max: 100, label: "Laadtoestand accu", digits: 2, read: (s) => s.socPct },
      batteryTempC: C("Temperatuur accu", -20, 80, (s) => s.batteryTempC),
    },
    actuators: { chargeEnable: onOff("Accu laden toestaan"), dischargeEnable: onOff("Accu ontladen toestaan") },
  },
  {
    id: "grid-meter",
    model: "TEC-SIM-P1",
    channels: {
      gridPowerW: W("Netvermogen (+ afname, - teruglevering)", -12_000, 12_000, (s) => s.gridPowerW),
      loadPowerW: W("Verbruik woning", 0, 15_000, (s) => s.loadPowerW),
      gridImportWh: { unit: "Wh", min: 0, max: 1e9, label: "Afgenomen van het net", digits: 1, read: (s) => s.gridImportWh },
      gridExportWh: { unit: "Wh", min: 0, max: 1e9, label: "Teruggeleverd aan het net", digits: 1, read: (s) => s.gridExportWh },
    },
    actuators: {},
  },
  {
    id: "heat-pump",
    model: "TEC-SIM-HP",
    channels: {
      hpPowerW: W("Warmtepomp elektrisch vermogen", 0, 3000, (s) => s.hpPowerW),
      hpHeatW: W("Warmtepomp warmteafgifte", 0, 10_000, (s) => s.hpHeatW),
      hpCop: { unit: "", min: 0, max: 8, label: "Rendement warmtepomp (COP)", digits: 2, read: (s) => s.hpCop },
      outdoorTempC: C("Buitentemperatuur", -30, 50, (s) => s.outdoorTempC),
      hpFlowLpm: { unit: "L/min", min: 0, max: 40, label: "Debiet warmtepomp", digits: 1, read: (s) => s.hpFlowLpm },
    },
    actuators: { compressorEnable: onOff("Compressor vrijgeven") },
  },
  {
    id: "climate",
    model: "TEC-SIM-CLIMATE",
    channels: {
      indoorTempC: C("Binnentemperatuur", -10, 50, (s) => s.indoorTempC),
      co2Ppm: { unit: "ppm", min: 300, max: 5000, label: "CO2-gehalte binnen", digits: 0, read: (s) => s.co2Ppm },
      ventilationPct: { unit: "%", min: 0, max: 100, label: "Ventilatorsnelheid", digits: 0, read: (s) => s.ventilationPct },
    },
    actuators: { ventilationEnable: onOff("Ventilatie aan") },
  },
  {
    id: "water",
    model: "TEC-SIM-WATER",
    channels: {
      tankTempC: C("Temperatuur warmwaterboiler", 0, 100, (s) => s.tankTempC),
      tankLevelPct: { unit: "%", min: 0, max: 100, label: "Niveau regenwatertank", digits: 1, read: (s) => s.tankLevelPct },
      pumpFlowLpm: { unit: "L/min", min: 0, max: 30, label: "Debiet regenwaterpomp", digits: 1, read: (s) => s.pumpFlowLpm },
      leak: { unit: "", min: 0, max: 1, label: "Lekdetectie", digits: 0, read: (s) => s.leak },
      pumpPowerW: W("Vermogen regenwaterpomp", 0, 1500, (s) => s.pumpPowerW),
      heaterPowerW: W("Vermogen boilerelement", 0, 3000, (s) => s.heaterPowerW),
    },
    actuators: { pumpEnable: onOff("Regenwaterpomp vrijgeven"), valveOpen: onOff("Waterklep open"), heaterEnable: onOff("Boilerelement vrijgeven") },
  },
];

/** The channel specs as announced in the meta (without the reader and rounding). */
export function channelSpecs(def: TinyHouseDeviceDef): Record<string, SimChannel> {
  return Object.fromEntries(Object.entries(def.channels).map(([name, { unit, min, max, label }]) => [name, label === undefined ? { unit, min, max } : { unit, min, max, label }]));
}

/**
 * The readings of one device from one model state: rounded, and clamped to the channel's range the
 * way a real sensor saturates (a CO2 sensor reads 5000 ppm at most). The power channels are whole
 * watts already, so the balance across devices survives the rounding.
 */
export function readingsOf(def: TinyHouseDeviceDef, state: Readonly<TinyHouseState>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, ch] of Object.entries(def.channels)) {
    const factor = 10 ** ch.digits;
    out[name] = Math.min(ch.max, Math.max(ch.min, Math.round(ch.read(state) * factor) / factor));
  }
  return out;
}

/** Local control: what the devices' actuators allow, read from the devices (a missing device reads safe). */
export function controlsFrom(devices: ReadonlyMap<string, SimDevice>): TinyHouseControls {
  const on = (device: TinyHouseDeviceId, actuator: string): boolean => (devices.get(device)?.actuator(actuator) ?? 0) >= 0.5;
  return {
    chargeEnable: on("battery", "chargeEnable"),
    dischargeEnable: on("battery", "dischargeEnable"),
    compressorEnable: on("heat-pump", "compressorEnable"),
    ventilationEnable: on("climate", "ventilationEnable"),
    pumpEnable: on("water", "pumpEnable"),
    valveOpen: on("water", "valveOpen"),
    heaterEnable: on("water", "heaterEnable"),
  };
}
