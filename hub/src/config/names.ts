/**
 * How the hub names a configured device or station in both languages: the config's `name` (Dutch)
 * and `nameEn`, and its channels' and actuators' `labels`. One place, so the registry, the
 * stations and their interlocks say the same name.
 */
import { PRINTER_CHANNEL_LABELS } from "../core/printers/channels.ts";
import { bilingualName } from "../core/texts/texts.ts";
import { asDeviceId, type DeviceId, type DeviceKind, type Text } from "../core/types.ts";
import type { DeviceConfig } from "./schema.ts";

export function deviceLabel(d: Pick<DeviceConfig, "name" | "nameEn">): Text {
  return bilingualName(d.name, d.nameEn);
}

/** The registry's declaration of every configured device, with its names in both languages. */
export function declaredDevices(devices: readonly DeviceConfig[]): Array<{ id: DeviceId; kind: DeviceKind; name: string; simulated: boolean; label: Text; labels: Readonly<Record<string, Text>>; protocol?: string }> {
  return devices.map((d) => ({
    id: asDeviceId(d.id),
    kind: d.kind,
    name: d.name,
    simulated: d.simulated,
    label: deviceLabel(d),
    labels: d.kind === "mqtt" || d.kind === "serial" ? d.labels : d.kind === "printer" ? PRINTER_CHANNEL_LABELS : {},
    ...(d.kind === "printer" ? { protocol: d.protocol } : {}),
  }));
}
