/**
 * Telemetry messages for load generators: a fixed-size JSON template with numeric fields the
 * generator patches in place (see MqttLoad.run), so encoding costs the generator next to nothing.
 */
import { type TemplateFill, writePadded } from "./mqtt-load.ts";

/** A reading in the template: its channel, its width in characters, its value for a sequence number. */
export interface TemplateReading {
  channel: string;
  width: number;
  value: (seq: number) => number;
}

/**
 * `{"ts":…,"seq":…,"readings":{…}}` as the device contract has it, every number right-aligned in
 * its field (JSON allows the leading spaces), so every message has the same size.
 */
export function telemetryFill(readings: readonly TemplateReading[]): TemplateFill {
  const blank = (w: number) => "0".padStart(w, " ");
  const fields: Array<{ key: string; width: number; value: (seq: number, ts: number) => number }> = [
    { key: "ts", width: 13, value: (_seq, ts) => ts },
    { key: "seq", width: 10, value: (seq) => seq },
    ...readings.map((r) => ({ key: r.channel, width: r.width, value: (seq: number) => r.value(seq) })),
  ];
  const body = readings.map((r) => `"${r.channel}":${blank(r.width)}`).join(",");
  const template = `{"ts":${blank(13)},"seq":${blank(10)},"readings":{${body}}}`;
  // Offsets in order of appearance: "seq" and "ts" come before the readings, so indexOf from the
  // previous field's offset cannot hit a reading named the same.
  let from = 0;
  const offsets = fields.map((f) => {
    const key = `"${f.key}":`;
    const at = template.indexOf(key, from) + key.length;
    from = at;
    return at;
  });
  return {
    template,
    patch(packet, base, seq, ts) {
      fields.forEach((f, i) => writePadded(packet, base + (offsets[i] ?? 0), f.width, String(f.value(seq, ts))));
    },
  };
}
