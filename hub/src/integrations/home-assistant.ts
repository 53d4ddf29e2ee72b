/**
 * Home Assistant MQTT discovery: the hub announces one `sensor` entity per channel of every MQTT
 * device in the config, and a `binary_sensor` for its own connection, as retained configs under
 * `<prefix>/`. Home Assistant then reads the readings straight from the devices' `tele` topics
 * (the documented contract, firmware-bridge/PROTOCOL.md); the hub publishes no states of its own.
 *
 * Field names and rules follow the Home Assistant docs for HA 2025.10 and later
 * (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery,
 * https://www.home-assistant.io/integrations/sensor.mqtt/,
 * https://www.home-assistant.io/integrations/binary_sensor.mqtt/): `default_entity_id`, not the
 * `object_id` key that HA 2025.10 deprecated and 2026.4 dropped; device classes and units as in
 * https://www.home-assistant.io/integrations/sensor/#device-class. A test validates every payload
 * against a strict schema of those documented fields (home-assistant.test.ts).
 *
 * Only devices whose readings are on the broker are announced: MQTT boards. Serial boards,
 * printers and robots reach the hub over their own wires and the hub does not republish their
 * readings on MQTT, so Home Assistant would have no state topic to read: they are skipped.
 *
 * What was announced is stored (SQLite, `ha_discovery`): the embedded broker keeps retained
 * messages in memory only, and a device or channel that is gone after a restart must still be
 * cleared in Home Assistant, by an empty retained config on each topic announced before. An empty
 * retained message is not kept by the broker, only delivered to who is connected, and Home
 * Assistant on the embedded broker is reconnecting just while the hub starts; so a removal is
 * sent again a few times over the next minutes (REMOVAL_REPEATS_MS), its record kept until then.
 */
import type { PublishOptions } from "../transports/mqtt-link.ts";
import type { Bus } from "../core/bus.ts";
import type { Clock, Timer } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { STALE_AFTER_PERIODS, type Registry } from "../core/registry/registry.ts";
import type { DeviceView } from "../core/types.ts";

/** One retained discovery config as published: its topic, whose it is, and the JSON. */
export interface Announcement {
  topic: string;
  /** The hub's device id, or HUB_ENTRY for the hub's own entity. */
  device: string;
  payload: string;
}

export interface AnnouncementStore {
  load(): Announcement[];
  save(a: Announcement): void;
  remove(topic: string): void;
}

export interface HomeAssistantContext {
  clock: Clock;
  logger: Logger;
  bus: Bus;
  registry: Pick<Registry, "ids" | "view" | "partLabel">;
  /** The hub's MQTT link (embedded broker or external). */
  link: {
    publish(topic: string, payload: string | Buffer, options?: PublishOptions): void;
    subscribe(filter: string, handler: (topic: string, payload: Buffer) => void): Promise<void>;
    onConnection(fn: (up: boolean) => void): void;
  };
  site: string;
  siteName: string;
  /** The discovery prefix (`homeassistant` unless Home Assistant was set up otherwise). */
  prefix: string;
  /** The hub's version, shown as the hub device's software version. */
  version: string;
  store: AnnouncementStore;
  /** 0 <= x < 1, for the jitter after Home Assistant's birth message (Math.random by default). */
  random?: () => number;
}

export const HUB_ENTRY = "_hub";
export const MANUFACTURER = "TEC Hub";
/**
 * After Home Assistant's birth message the configs are sent again, after a short random wait
 * (HA's docs ask for one, so that many publishers do not answer at the same instant).
 */
export const BIRTH_DELAY_MS = 2000;
export const BIRTH_JITTER_MS = 3000;
/** A removal is published at once and again this long after it (from the latest removal on). */
export const REMOVAL_REPEATS_MS: readonly number[] = [10_000, 30_000, 60_000, 300_000];

const RETAINED: PublishOptions = { retain: true, qos: 1 };

/** Device classes by unit, for the units the documented classes accept exactly (byte for byte). */
interface Classified {
  unit: string | null;
  deviceClass: string | null;
  stateClass: "measurement" | "total_increasing";
}

/**
 * Unit spellings devices use that Home Assistant writes differently: the same unit, in the string
 * HA accepts for the device class (a device's "W/m2" is HA's "W/m²").
 */
const UNIT_SPELLINGS: Readonly<Record<string, string>> = {
  C: "°C",
  degC: "°C",
  "W/m2": "W/m²",
  "m3/h": "m³/h",
  "l/min": "L/min",
};

const MEASUREMENT_CLASSES: Readonly<Record<string, string>> = {
  W: "power",
  kW: "power",
  "°C": "temperature",
  V: "voltage",
  mV: "voltage",
  A: "current",
  mA: "current",
  Hz: "frequency",
  "L/min": "volume_flow_rate",
  "m³/h": "volume_flow_rate",
  "W/m²": "irradiance",
};

/** What Home Assistant should make of a channel: its unit, device class and state class. */
export function classify(channel: string, rawUnit: string): Classified {
  const unit = UNIT_SPELLINGS[rawUnit] ?? rawUnit;
  if (unit === "") return { unit: null, deviceClass: null, stateClass: "measurement" };
  // Meter readings: a value that only grows (a daily total that starts again counts as a new cycle).
  if (unit === "Wh" || unit === "kWh") return { unit, deviceClass: "energy", stateClass: "total_increasing" };
  const byUnit = MEASUREMENT_CLASSES[unit];
  if (byUnit !== undefined) return { unit, deviceClass: byUnit, stateClass: "measurement" };
  // A percentage or ppm is only a class when the channel says what of.
  if (unit === "%" && /soc|battery/i.test(channel)) return { unit, deviceClass: "battery", stateClass: "measurement" };
  if (unit === "%" && /humid/i.test(channel)) return { unit, deviceClass: "humidity", stateClass: "measurement" };
  if (unit === "ppm" && /co2/i.test(channel)) return { unit, deviceClass: "carbon_dioxide", stateClass: "measurement" };
  return { unit, deviceClass: null, stateClass: "measurement" };
}

/** `pvPowerW` -> `pv_power_w`; dashes become underscores: HA entity ids are `[a-z0-9_]`. */
export function entitySlug(id: string): string {
  return id
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, "_");
}

/**
 * The ids of one site. Site and device ids have no `_` (lower-case letters, digits, dashes) and
 * channel names are letters and digits, so joining them with `_` can never make two equal.
 */
export function ids(site: string) {
  const hub = `tec_${site}`;
  return {
    hub,
    hubEntity: `${hub}_online`,
    device: (device: string) => `${hub}_${device}`,
    entity: (device: string, channel: string) => `${hub}_${device}_${channel}`,
  };
}

/** The template that takes one reading out of a `tele` message (`{ts, seq, readings: {name: value}}`). */
export function valueTemplate(channel: string): string {
  // A tele message may carry only some channels: an absent one renders '' (HA ignores an empty
  // value on a numeric sensor) instead of a template warning per message.
  return `{{ value_json.readings['${channel}'] | default('') }}`;
}

export class HomeAssistantDiscovery {
  /** What Home Assistant has been told, by config topic (a mirror of the store). */
  private readonly announced = new Map<string, Announcement>();
  /** Topics cleared and still to be cleared again (their rows hold an empty payload), by topic. */
  private readonly removals = new Map<string, Announcement>();
  private removalTimers: Timer[] = [];
  private readonly unsubscribe: Array<() => void> = [];
  private birthTimer: Timer | null = null;
  private started = false;
  private readonly random: () => number;

  /** No I/O here: the store is read and the link used from `start()`. */
  constructor(private readonly ctx: HomeAssistantContext) {
    this.random = ctx.random ?? Math.random;
  }

  /** Topics currently announced, for the hub's health page and tests. */
  topics(): string[] {
    return [...this.announced.keys()].sort();
  }

  async start(): Promise<void> {
    const { ctx } = this;
    this.started = true;
    try {
      for (const a of ctx.store.load()) (a.payload === "" ? this.removals : this.announced).set(a.topic, a);
    } catch (error) {
      // Without the record nothing can be cleared, but what exists is still announced.
      ctx.logger.error({ err: error }, "home assistant: the record of earlier announcements could not be read");
    }
    this.unsubscribe.push(ctx.bus.on("device:described", "home-assistant", () => this.reconcile(false)));
    // A broker that lost its retained messages (the embedded one after its thread restarted) is told again.
    ctx.link.onConnection((up) => {
      if (up && this.started) this.reconcile(true);
    });
    // Home Assistant's birth message: it has (re)started and wants the configs again.
    try {
      await ctx.link.subscribe(`${ctx.prefix}/status`, (_topic, payload) => {
        if (payload.toString("utf8").trim() === "online") this.onBirth();
      });
    } catch (error) {
      ctx.logger.error({ err: error }, "home assistant: cannot subscribe to its birth message; configs are retained and still announced");
    }
    this.reconcile(true);
    if (this.removals.size > 0) this.scheduleRemovals();
  }

  stop(): void {
    this.started = false;
    this.birthTimer?.cancel();
    this.birthTimer = null;
    for (const t of this.removalTimers.splice(0)) t.cancel();
    for (const u of this.unsubscribe.splice(0)) u();
  }

  /** Every config the hub means to have announced now, by topic. */
  desired(): Map<string, Announcement> {
    const { ctx } = this;
    const out = new Map<string, Announcement>();
    const hub = this.hubAnnouncement();
    out.set(hub.topic, hub);
    for (const id of ctx.registry.ids()) {
      const view = ctx.registry.view(id);
      if (view === undefined || view.kind !== "mqtt") continue;
      if (view.model === null) {
        // Not described since the hub started and nothing restored: keep what was announced.
        for (const a of this.announced.values()) if (a.device === id) out.set(a.topic, a);
        continue;
      }
      for (const a of this.deviceAnnouncements(view)) out.set(a.topic, a);
    }
    return out;
  }

  /**
   * Brings Home Assistant in line with `desired()`: configs that are new or changed are published,
   * configs announced before and no longer wanted get an empty retained payload (HA removes the
   * entity). `all`: publish every wanted config, changed or not (after a start or a birth).
   */
  private reconcile(all: boolean): void {
    const { ctx } = this;
    try {
      const want = this.desired();
      let removed = false;
      for (const [topic, old] of this.announced) {
        if (want.has(topic)) continue;
        ctx.link.publish(topic, "", RETAINED);
        this.announced.delete(topic);
        const removal = { topic, device: old.device, payload: "" };
        this.removals.set(topic, removal);
        this.persist(() => ctx.store.save(removal));
        removed = true;
        ctx.logger.info({ topic, device: old.device }, "home assistant: entity removed");
      }
      if (all) {
        for (const topic of this.removals.keys()) if (!want.has(topic)) ctx.link.publish(topic, "", RETAINED);
      }
      for (const [topic, a] of want) {
        const before = this.announced.get(topic);
        if (!all && before?.payload === a.payload) continue;
        ctx.link.publish(topic, a.payload, RETAINED);
        this.announced.set(topic, a);
        // Announced again (a device back in the config): no longer a removal.
        const wasRemoved = this.removals.delete(topic);
        if (wasRemoved || before?.payload !== a.payload || before.device !== a.device) this.persist(() => ctx.store.save(a));
      }
      if (removed) this.scheduleRemovals();
    } catch (error) {
      ctx.logger.error({ err: error }, "home assistant: announcing failed");
    }
  }

  /** Removals again at REMOVAL_REPEATS_MS from now; after the last one their records are dropped. */
  private scheduleRemovals(): void {
    const { ctx } = this;
    for (const t of this.removalTimers.splice(0)) t.cancel();
    const last = REMOVAL_REPEATS_MS.length - 1;
    this.removalTimers = REMOVAL_REPEATS_MS.map((ms, i) =>
      ctx.clock.setTimeout(() => {
        if (!this.started) return;
        for (const topic of this.removals.keys()) ctx.link.publish(topic, "", RETAINED);
        if (i !== last) return;
        for (const topic of [...this.removals.keys()]) {
          this.removals.delete(topic);
          this.persist(() => ctx.store.remove(topic));
        }
        this.removalTimers = [];
      }, ms),
    );
  }

  private persist(write: () => void): void {
    try {
      write();
    } catch (error) {
      this.ctx.logger.error({ err: error }, "home assistant: the record of announcements could not be updated");
    }
  }

  private onBirth(): void {
    if (!this.started || this.birthTimer !== null) return;
    const wait = BIRTH_DELAY_MS + Math.floor(this.random() * BIRTH_JITTER_MS);
    this.birthTimer = this.ctx.clock.setTimeout(() => {
      this.birthTimer = null;
      if (this.started) this.reconcile(true);
    }, wait);
  }

  private hubStatusTopic(): string {
    return `tec/${this.ctx.site}/_hub/status`;
  }

  private hubDevice(): Record<string, unknown> {
    const { ctx } = this;
    return { identifiers: [ids(ctx.site).hub], name: `TEC Hub ${ctx.siteName}`.slice(0, 120), manufacturer: MANUFACTURER, model: "TEC Hub", sw_version: ctx.version };
  }

  private origin(): Record<string, unknown> {
    return { name: "TEC Hub", sw_version: this.ctx.version };
  }

  /** The hub itself: a connectivity sensor on its retained `_hub/status` (last will `offline`). */
  private hubAnnouncement(): Announcement {
    const { ctx } = this;
    const id = ids(ctx.site);
    const payload = {
      name: "Verbinding",
      unique_id: id.hubEntity,
      default_entity_id: `binary_sensor.${entitySlug(id.hubEntity)}`,
      state_topic: this.hubStatusTopic(),
      payload_on: "online",
      payload_off: "offline",
      device_class: "connectivity",
      entity_category: "diagnostic",
      device: this.hubDevice(),
      origin: this.origin(),
    };
    return { topic: `${ctx.prefix}/binary_sensor/${id.hub}/online/config`, device: HUB_ENTRY, payload: JSON.stringify(payload) };
  }

  private deviceAnnouncements(view: DeviceView): Announcement[] {
    const { ctx } = this;
    const id = ids(ctx.site);
    const node = id.device(view.id);
    const deviceName = view.label.nl;
    const device: Record<string, unknown> = {
      identifiers: [node],
      name: deviceName,
      manufacturer: MANUFACTURER,
      ...(view.model !== null ? { model: view.model } : {}),
      ...(view.firmware !== null ? { sw_version: view.firmware } : {}),
      via_device: id.hub,
    };
    const availability = [this.hubStatusTopic(), `tec/${ctx.site}/${view.id}/status`].map((topic) => ({ topic, payload_available: "online", payload_not_available: "offline" }));
    return Object.entries(view.channels)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([channel, spec]) => {
        const c = classify(channel, spec.unit);
        const uniqueId = id.entity(view.id, channel);
        const payload = {
          name: entityName(ctx.registry.partLabel(view.id, channel).nl, deviceName),
          unique_id: uniqueId,
          default_entity_id: `sensor.${entitySlug(uniqueId)}`,
          state_topic: `tec/${ctx.site}/${view.id}/tele`,
          value_template: valueTemplate(channel),
          ...(c.unit !== null ? { unit_of_measurement: c.unit } : {}),
          ...(c.deviceClass !== null ? { device_class: c.deviceClass } : {}),
          state_class: c.stateClass,
          // The hub's own staleness rule (registry.ts): no reading for three periods.
          expire_after: Math.max(1, Math.ceil((spec.periodMs * STALE_AFTER_PERIODS) / 1000)),
          availability,
          availability_mode: "all",
          device,
          origin: this.origin(),
        };
        return { topic: `${ctx.prefix}/sensor/${node}/${channel}/config`, device: view.id, payload: JSON.stringify(payload) };
      });
  }
}

/**
 * The entity's own part of its name: HA shows "<device> <entity>" and strips (with a warning) an
 * entity name that starts with the device's name. Null: the device's main entity.
 */
export function entityName(label: string, deviceName: string): string | null {
  const trimmed = label.trim();
  if (deviceName !== "" && trimmed.toLowerCase().startsWith(deviceName.toLowerCase())) {
    const rest = trimmed.slice(deviceName.length).trim();
    return rest === "" ? null : rest;
  }
  return trimmed === "" ? null : trimmed;
}
