/** Part of the one dictionary (strings.ts): names of the Tiny House's devices, actuators and channels. */
import type { Lang } from "./lang.ts";

/**
 * English names for the Tiny House's ids, whose names and labels the hub has in Dutch only (from
 * the config and the devices' meta). Unknown ids show the hub's own text.
 */
export const NAMES: Readonly<Record<string, Record<Lang, string>>> = {
  "pv-inverter": { nl: "Zonnepanelen", en: "Solar panels" },
  battery: { nl: "Thuisaccu", en: "Home battery" },
  "grid-meter": { nl: "Slimme meter", en: "Smart meter" },
  "heat-pump": { nl: "Warmtepomp", en: "Heat pump" },
  climate: { nl: "Binnenklimaat", en: "Indoor climate" },
  water: { nl: "Water", en: "Water" },
  "estop-button": { nl: "Noodstopknop", en: "E-stop button" },
  "battery.chargeEnable": { nl: "Accu laden toestaan", en: "Allow battery charging" },
  "battery.dischargeEnable": { nl: "Accu ontladen toestaan", en: "Allow battery discharging" },
  "heat-pump.compressorEnable": { nl: "Compressor vrijgeven", en: "Enable compressor" },
  "climate.ventilationEnable": { nl: "Ventilatie aan", en: "Ventilation on" },
  "water.pumpEnable": { nl: "Regenwaterpomp vrijgeven", en: "Enable rain-water pump" },
  "water.valveOpen": { nl: "Waterklep open", en: "Water valve open" },
  "water.heaterEnable": { nl: "Boilerelement vrijgeven", en: "Enable tank heater" },
  "water.heaterPowerW": { nl: "Vermogen boilerelement", en: "Tank heater power" },
  "water.pumpFlowLpm": { nl: "Debiet regenwaterpomp", en: "Rain-water pump flow" },
  "water.pumpPowerW": { nl: "Vermogen regenwaterpomp", en: "Rain-water pump power" },
  "water.tankTempC": { nl: "Temperatuur warmwaterboiler", en: "Hot-water tank temperature" },
  "water.tankLevelPct": { nl: "Niveau regenwatertank", en: "Rain tank level" },
  "water.leak": { nl: "Lekdetectie", en: "Leak detection" },
  "heat-pump.hpPowerW": { nl: "Warmtepomp elektrisch vermogen", en: "Heat pump electric power" },
  "heat-pump.hpHeatW": { nl: "Warmtepomp warmteafgifte", en: "Heat pump heat output" },
  "heat-pump.hpCop": { nl: "Rendement warmtepomp (COP)", en: "Heat pump efficiency (COP)" },
  "heat-pump.outdoorTempC": { nl: "Buitentemperatuur", en: "Outdoor temperature" },
  "heat-pump.hpFlowLpm": { nl: "Debiet warmtepomp", en: "Heat pump flow" },
  "climate.ventilationPct": { nl: "Ventilatorsnelheid", en: "Fan speed" },
  "climate.indoorTempC": { nl: "Binnentemperatuur", en: "Indoor temperature" },
  "climate.co2Ppm": { nl: "CO2-gehalte binnen", en: "Indoor CO2" },
  "battery.batteryPowerW": { nl: "Accuvermogen (+ ontladen, - laden)", en: "Battery power (+ discharge, - charge)" },
  "battery.socPct": { nl: "Laadtoestand accu", en: "Battery state of charge" },
  "battery.batteryTempC": { nl: "Temperatuur accu", en: "Battery temperature" },
  "pv-inverter.pvPowerW": { nl: "Zonnepanelen vermogen", en: "Solar power" },
  "pv-inverter.irradianceWm2": { nl: "Instraling zon", en: "Solar irradiance" },
  "pv-inverter.pvEnergyTodayWh": { nl: "Zonne-opbrengst vandaag", en: "Solar yield today" },
  "grid-meter.gridPowerW": { nl: "Netvermogen (+ afname, - teruglevering)", en: "Grid power (+ import, - export)" },
  "grid-meter.loadPowerW": { nl: "Verbruik woning", en: "House consumption" },
  "grid-meter.gridImportWh": { nl: "Afgenomen van het net", en: "Imported from the grid" },
  "grid-meter.gridExportWh": { nl: "Teruggeleverd aan het net", en: "Exported to the grid" },
  "estop-button.pressed": { nl: "Noodstopknop ingedrukt", en: "E-stop button pressed" },
};
