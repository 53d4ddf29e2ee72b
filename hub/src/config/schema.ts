/**
 * The hub's configuration: the single source of truth for its shape, bounds, units and defaults.
 * Every object is `.strict()`, so an unknown key is an error that names its path.
 */
import { z } from "zod";
import { DEVICE_ID_PATTERN } from "../../../firmware-bridge/contract/messages.ts";
import { InterlockRule, SafetyConfig } from "./interlocks.ts";
import { SessionsConfig, UsersConfig } from "./users.ts";

/** How the hub talks to a printer (see `protocol` of a printer device). */
export const PRINTER_PROTOCOLS = ["marlin", "ultimaker", "bambu-lan", "prusalink", "moonraker", "octoprint"] as const;
export type PrinterProtocol = (typeof PRINTER_PROTOCOLS)[number];

const port = z.number().int().min(0).max(65535);
const deviceId = z
  .string()
  .regex(DEVICE_ID_PATTERN, "must be lower-case letters, digits and dashes (at most 48), starting with a letter or digit");
const secret = z.string().min(1).max(200);
/** A device's or station's name as people read it (Dutch, the centre's first language). */
const deviceName = z.string().min(1).max(80);
/** The same name in English, for screens switched to English; without it, `name` shows in both languages. */
const deviceNameEn = z.string().min(1).max(80).optional();
/**
 * Names of a device's channels and actuators in both languages, by their own name
 * (`pumpEnable: { nl: Regenwaterpomp vrijgeven, en: Enable rain-water pump }`). Without one, the
 * label the device declares in its meta (one language) is shown in both, else the bare name.
 */
const partLabels = z
  .record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9]{0,47}$/), z.object({ nl: z.string().min(1).max(80), en: z.string().min(1).max(80) }).strict())
  .default({});

/** Certificate files (PEM). A relative path is relative to the working directory. */
const TlsFiles = z
  .object({
    /** The server's certificate (with any intermediates after it). */
    cert: z.string().min(1),
    key: z.string().min(1),
    /** The CA that signed `cert`, shown to clients that must trust it (the banner prints its path). */
    ca: z.string().min(1).optional(),
  })
  .strict();

const HttpConfig = z
  .object({
    /** Where the dashboard, REST API and live stream listen. */
    host: z.string().default("0.0.0.0"),
    port: port.default(8080),
    /** HTTPS for the dashboard and API when set; plain HTTP otherwise. */
    tls: TlsFiles.nullable().default(null),
  })
  .strict();

const BrokerTlsConfig = z
  .object({
    /** MQTT over TLS; 8883 is its registered port. */
    port: port.default(8883),
    /**
     * The certificate files. Without them the hub makes its own CA and a server certificate under
     * `<data folder>/tls/` on first start (and keeps them): clients trust `ca.crt` from there.
     */
    files: TlsFiles.optional(),
    /** Names the self-made server certificate is valid for (besides localhost and 127.0.0.1). */
    hostnames: z.array(z.string().min(1).max(253)).max(16).default([]),
  })
  .strict();

const Account = z.object({ username: z.string().min(1).max(64), password: secret }).strict();

const BrokerLimitsConfig = z
  .object({
    /** Sessions one device account may hold at once (its board, and say a flashing tool). */
    maxConnectionsPerDevice: z.number().int().min(1).max(64).default(4),
    /** Sessions the observer account may hold at once: technicians' tools, not thousands. */
    maxObserverConnections: z.number().int().min(1).max(10_000).default(32),
    /** Sessions of all accounts together. */
    maxConnections: z.number().int().min(1).max(100_000).default(20_000),
    /** Subscriptions one session may hold. */
    maxSubscriptionsPerClient: z.number().int().min(1).max(10_000).default(32),
    /** Messages per second one observer session is sent at most (bursts of twice that); the rest it misses, counted. */
    observerMessagesPerS: z.number().int().min(1).default(500),
    /** Messages per second all observer sessions together are sent at most. */
    observerTotalMessagesPerS: z.number().int().min(1).default(5000),
    /** A subscriber whose socket holds more than this many unsent bytes gets no more messages until it drains. */
    maxSubscriberBacklogB: z.number().int().min(16_384).max(64 * 1024 * 1024).default(262_144),
    /** Longest keep-alive accepted (s); a CONNECT asking for 0 (none) or more is given this one. */
    maxKeepaliveS: z.number().int().min(5).max(3600).default(60),
    /** A connection that has not completed its CONNECT within this time is closed. */
    connectTimeoutMs: z.number().int().min(500).max(60_000).default(10_000),
    /** Messages the broker's thread hands the hub and the hub has not yet taken; beyond this, readings for the hub are dropped and counted. */
    maxHubBacklog: z.number().int().min(1000).default(50_000),
    /** The same for one device's messages (a flooding device fills its own share, never another's). */
    maxHubBacklogPerDevice: z.number().int().min(100).default(5000),
  })
  .strict();

const BrokerConfig = z
  .object({
    /** `embedded`: the hub runs its own aedes broker. `external`: the hub connects to `url`. */
    mode: z.enum(["embedded", "external"]).default("embedded"),
    host: z.string().default("0.0.0.0"),
    /** Port of the embedded broker (ignored in external mode). */
    port: port.default(1883),
    /** Whether the embedded broker also listens without TLS on `port`; false: TLS only (needs `tls`). */
    plain: z.boolean().default(true),
    /** MQTT over TLS next to (or, with `plain: false`, instead of) the plain listener; null: off. */
    tls: BrokerTlsConfig.nullable().default(null),
    /** URL of the external broker, for example `mqtt://127.0.0.1:1883`. */
    url: z.string().url().optional(),
    /** The hub's own account on an external broker. */
    hub: Account.optional(),
    /** Read-only account for technicians' tools (MQTT Explorer, mosquitto_sub); null to disable. */
    observer: Account.nullable().default(null),
    /** Limits of the embedded broker (README, "Security"). */
    limits: BrokerLimitsConfig.prefault({}),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (!b.plain && b.tls === null) ctx.addIssue({ code: "custom", path: ["plain"], message: "plain: false needs tls (the broker would not listen at all)" });
    if (b.mode === "external" && b.url === undefined) {
      ctx.addIssue({ code: "custom", path: ["url"], message: "external mode needs the broker's url" });
    }
  });

const IntakeConfig = z
  .object({
    /** Messages per second from all devices together; beyond this the hub sheds and says so. */
    maxMessagesPerS: z.number().int().min(1).default(150_000),
    /** Messages per second from one device. */
    maxDeviceMessagesPerS: z.number().int().min(1).default(5_000),
  })
  .strict();

const StorageConfig = z
  .object({
    /** SQLite file (WAL mode); a relative path is relative to the working directory. */
    path: z.string().default("data/tec-hub.db"),
    /** How often buffered samples are committed: a `kill -9` loses at most this much telemetry. */
    flushMs: z.number().int().min(50).max(1000).default(250),
    rawRetentionH: z.number().min(1).max(24 * 31).default(48),
    minuteRetentionD: z.number().min(1).max(3650).default(90),
    /**
     * Free space on the database's file system below which technicians get a warning alarm and
     * the history tiers are trimmed (storage/disk-guard.ts), so that the audit log keeps room (MB).
     */
    diskLowFreeMB: z.number().int().min(16).max(1_000_000).default(2048),
    /** Below this, a critical alarm and a deeper trim of the history; the audit log is never trimmed (MB). */
    diskCriticalFreeMB: z.number().int().min(8).max(1_000_000).default(512),
    /** After a burst of writes, the WAL is checkpointed and cut back once it is larger than this (MB). */
    walCheckpointMB: z.number().int().min(1).max(4096).default(16),
    /** How often free space and the WAL's size are checked (s). */
    diskCheckS: z.number().int().min(1).max(3600).default(30),
    /** Online backups of the database on a schedule, the oldest removed beyond `keep`. */
    backup: z
      .object({
        enabled: z.boolean().default(true),
        /** Where backups go; default `<data folder>/backups`. Best on another disk. */
        folder: z.string().min(1).optional(),
        /** Hours between backups; the first one this long after the start. */
        everyH: z.number().min(0.01).max(24 * 31).default(24),
        /** Backups kept; older ones are removed after a new one succeeded. */
        keep: z.number().int().min(1).max(1000).default(7),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .refine((s) => s.diskCriticalFreeMB < s.diskLowFreeMB, { path: ["diskCriticalFreeMB"], message: "must be below diskLowFreeMB" });

const LiveConfig = z
  .object({
    /** Live frames per second sent to each dashboard, whatever the input rate. */
    maxFramesPerS: z.number().int().min(1).max(60).default(40),
    /** A dashboard with more than this many frames queued on its socket skips frames and gets a snapshot when it catches up. */
    maxClientBacklogFrames: z.number().int().min(2).max(1000).default(50),
    /**
     * Readings per second the live frames carry at most. Below it every changed reading goes out at
     * the next frame; above it (thousands of devices) frames of readings alone come less often and
     * coalesce more, so building them never crowds out the interlocks. State, interlock, alarm and
     * station changes are never held back.
     */
    maxValuesPerS: z.number().int().min(1000).default(20_000),
  })
  .strict();

const OpcuaConfig = z
  .object({
    /** The hub's own OPC UA server: readings, device health and interlock states for PLCs and SCADA. Read-only. */
    enabled: z.boolean().default(true),
    host: z.string().default("0.0.0.0"),
    /** 4840 is OPC UA's registered port. */
    port: port.default(4840),
    /** The server's certificates and trust lists. */
    pkiFolder: z.string().default("data/opcua"),
  })
  .strict();

const MqttDevice = z
  .object({
    kind: z.literal("mqtt"),
    id: deviceId,
    name: deviceName,
    nameEn: deviceNameEn,
    /** The device's MQTT password on the embedded broker; its username is its id. */
    password: secret,
    /** Values from this device are marked "simulated" on every screen. */
    simulated: z.boolean().default(false),
    /**
     * Actuator values the hub holds while nothing forbids them, re-sent within each lease. Anything
     * not listed stays at the safe value the device declares.
     */
    hold: z.record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9]{0,47}$/), z.number()).default({}),
    labels: partLabels,
  })
  .strict();

const SerialBoardDevice = z
  .object({
    kind: z.literal("serial"),
    id: deviceId,
    name: deviceName,
    nameEn: deviceNameEn,
    /** `serial:///dev/ttyUSB0?baud=115200`, `serial://?vid=2341&pid=0043&serial=…`, `tcp://…`; `sim://` in the demo. */
    url: z.string().min(1).max(300),
    simulated: z.boolean().default(false),
    /** As for MQTT devices: actuator values the hub holds while nothing forbids them. */
    hold: z.record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9]{0,47}$/), z.number()).default({}),
    labels: partLabels,
  })
  .strict();

const PrinterDevice = z
  .object({
    kind: z.literal("printer"),
    id: deviceId,
    name: deviceName,
    nameEn: deviceNameEn,
    /**
     * Where the printer is: `serial:///dev/ttyACM0?baud=115200`, `serial://?vid=2c99&pid=0002&serial=…`,
     * `tcp://host:port`; `sim://` for the demo's simulated printer (the demo runner fills it in).
     */
    url: z.string().min(1).max(300),
    /**
     * How the hub talks to it: `marlin` (G-code on a cable or TCP, the hub streams every line) or a
     * network printer's own API, which stores and runs the file itself: `ultimaker` (`http://host`,
     * local API v1, digest pair in `auth.user`/`auth.password`), `bambu-lan` (`mqtts://host:8883`,
     * `auth.serial` and `auth.accessCode`; uploads over FTPS on 990), `prusalink` (`http://host`,
     * `auth.apiKey` or digest `auth.user`/`auth.password`), `moonraker` (`ws://host:7125/websocket`,
     * optional `auth.apiKey`), `octoprint` (`http://host:5000`, `auth.apiKey`).
     */
    protocol: z.enum(PRINTER_PROTOCOLS).default("marlin"),
    /** What a network printer's API wants from the hub. Secrets: never logged, never shown. */
    auth: z
      .object({
        apiKey: z.string().min(1).max(200).optional(),
        user: z.string().min(1).max(100).optional(),
        password: z.string().min(1).max(200).optional(),
        accessCode: z.string().min(1).max(64).optional(),
        serial: z.string().min(1).max(64).optional(),
        /** SHA-256 fingerprint of the printer's TLS certificate (Bambu Lab's is not signed by a CA the hub knows); pinned when given. */
        fingerprint: z.string().regex(/^([0-9A-Fa-f]{2}:?){32}$/, "must be a SHA-256 fingerprint (64 hex digits, colons allowed)").optional(),
      })
      .strict()
      .optional(),
    /** A network printer that sends no status for this long is lost (a trip if it was printing); it is reconnected. */
    lostAfterS: z.number().min(2).max(300).default(15),
    simulated: z.boolean().default(false),
    /** The enclosure door (`<device>.<channel>`, 1 = open): an MQTT contact, or a network printer's own (`<printer id>.doorOpen`, where it reports one). Open = no start, pause if printing; unheard = no start. */
    door: z.string().regex(/^[a-z0-9][a-z0-9-]{0,47}\.[a-zA-Z][a-zA-Z0-9]{0,47}$/, 'must be "<device>.<channel>"').optional(),
    /** Folder of approved demo models (`.gcode`; `.3mf`, `.bgcode`, `.ufp` for the network printers that take them), relative to the working directory. */
    catalogue: z.string().default("printers/catalogue"),
    /** Heaters on without a job for this long are switched off. */
    idleHeaterTimeoutS: z.number().int().min(10).max(24 * 3600).default(600),
    /** Who may reset a printer's latched trips (firmware halt, thermal watchdog). */
    resetRoles: z.array(z.enum(["instructor", "technician"])).min(1).default(["technician"]),
  })
  .strict();

const staffRoles = z.array(z.enum(["instructor", "technician"])).min(1);
const programName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,47}$/, "must be lower-case letters, digits and dashes");

const RobotOpcuaDevice = z
  .object({
    kind: z.literal("robot-opcua"),
    id: deviceId,
    name: deviceName,
    nameEn: deviceNameEn,
    /** `opc.tcp://host:port`; `sim://` for the demo's simulated cell (the demo runner fills it in). */
    endpoint: z.string().min(1).max(300),
    simulated: z.boolean().default(false),
    /** Namespace URI of the cell's own nodes, and its names under DI's DeviceSet (OPC 40010). */
    vendorNamespace: z.string().min(1).default("urn:tec-hub:simulators:robot-cell"),
    cell: z.string().min(1).max(64).default("SimCell"),
    arm: z.string().min(1).max(64).default("Arm"),
    axes: z.number().int().min(1).max(12).default(6),
    /** Browse-path templates to replace for a real controller (`{di}`, `{robotics}`, `{vendor}` become namespace indices). */
    paths: z
      .object(
        Object.fromEntries(
          ["operationalMode", "emergencyStop", "protectiveStop", "doorClosed", "programState", "loadedProgram", "lastError", "programList", "programsObject", "loadProgram", "startProgram", "stopProgram", "resetFault"].map((k) => [k, z.string().min(1).max(500).optional()]),
        ),
      )
      .strict()
      .default({}),
    /** The approved programs instructors may start (the cell may offer more). */
    programs: z.array(programName).min(1),
    resetRoles: staffRoles.default(["instructor", "technician"]),
  })
  .strict();

const RobotFirmataDevice = z
  .object({
    kind: z.literal("robot-firmata"),
    id: deviceId,
    name: deviceName,
    nameEn: deviceNameEn,
    /**
     * Where the board is. StandardFirmata on USB: `serial:///dev/ttyACM0`, better a stable
     * `serial:///dev/serial/by-id/usb-…-if00` or `serial://?vid=2341&pid=0043&serial=…` (looked up
     * on every connect, so a replugged Uno that comes back as another ttyACM is found again); 57600
     * baud unless `?baud=` says otherwise. StandardFirmataWiFi on an ESP32 or ESP8266:
     * `tcp://host:3030` (3030 when no port is given). `sim://` in the demo.
     */
    url: z.string().min(1).max(300),
    /**
     * From opening the link to the Firmata handshake's end; past it the attempt fails, says what
     * that usually means, and is retried. A Uno resets when its port opens and StandardFirmata
     * answers only after 2.2-2.5 s (bootloader, then it blinks its version): keep a margin (ms).
     */
    handshakeTimeoutMs: z.number().int().min(1000).max(120_000).default(10_000),
    simulated: z.boolean().default(false),
    servos: z
      .array(z.object({ pin: z.number().int().min(2).max(53), minDeg: z.number().min(0).max(180), maxDeg: z.number().min(0).max(180), homeDeg: z.number().min(0).max(180) }).strict())
      .min(4, "a Firmata arm has 4 to 6 joints")
      .max(6, "a Firmata arm has 4 to 6 joints"),
    /** A digital input that is 1 while the arm's guard is closed. */
    doorPin: z.number().int().min(2).max(53).optional(),
    /** The hub drives the servos itself, so it enforces this speed (degrees per second). */
    maxSpeedDegS: z.number().min(5).max(360).default(60),
    programs: z.record(programName, z.array(z.object({ anglesDeg: z.array(z.number().min(0).max(180)).min(1), durationMs: z.number().int().min(50).max(60_000) }).strict()).min(1)),
    resetRoles: staffRoles.default(["instructor", "technician"]),
  })
  .strict();

export const DeviceConfig = z.discriminatedUnion("kind", [MqttDevice, SerialBoardDevice, PrinterDevice, RobotOpcuaDevice, RobotFirmataDevice]);
export type DeviceConfig = z.infer<typeof DeviceConfig>;

const TinyHouseSimConfig = z
  .object({
    enabled: z.boolean().default(true),
    /** Simulated seconds per real second: 1 is real time, 1440 runs a day in a minute. */
    speed: z.number().min(0.1).max(100_000).default(60),
    /** Simulated start time (ISO 8601); default: now. */
    start: z.string().datetime({ offset: true }).optional(),
    seed: z.number().int().default(42),
    /** Real milliseconds between telemetry messages of each simulated device. */
    periodMs: z.number().int().min(50).max(60_000).default(1000),
  })
  .strict();

const SimulatorsConfig = z
  .object({
    tinyHouse: TinyHouseSimConfig.default({ enabled: true, speed: 60, seed: 42, periodMs: 1000 }),
  })
  .strict();

const IntegrationsConfig = z
  .object({
    /** Home Assistant MQTT discovery: one sensor entity per channel, retained under `prefix`. */
    homeAssistant: z
      .object({
        enabled: z.boolean().default(false),
        prefix: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/).default("homeassistant"),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export const HubConfig = z
  .object({
    /** Topic segment of this site: `tec/<site>/...`. */
    site: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "must be lower-case letters, digits and dashes"),
    siteName: z.string().min(1).max(120),
    /** Marks the demo config: demo passwords are expected here and nowhere else. */
    demo: z.boolean().default(false),
    http: HttpConfig.prefault({}),
    broker: BrokerConfig.prefault({}),
    intake: IntakeConfig.default({ maxMessagesPerS: 150_000, maxDeviceMessagesPerS: 5_000 }),
    storage: StorageConfig.prefault({}),
    live: LiveConfig.prefault({}),
    opcua: OpcuaConfig.default({ enabled: true, host: "0.0.0.0", port: 4840, pkiFolder: "data/opcua" }),
    devices: z.array(DeviceConfig).default([]),
    /** The hub's interlocks: a secondary, fail-safe layer behind hardwired e-stops and device firmware. */
    interlocks: z.array(InterlockRule).default([]),
    safety: SafetyConfig.default({ estopResetRoles: ["instructor", "technician"], estopButtons: [], estopFromHubMachine: true }),
    /** Who may log in (instructors with a PIN, technicians with a password); nobody by default. */
    users: UsersConfig,
    sessions: SessionsConfig,
    simulators: SimulatorsConfig.default({ tinyHouse: { enabled: true, speed: 60, seed: 42, periodMs: 1000 } }),
    /** Tools people in this field already run, fed by the hub. */
    integrations: IntegrationsConfig.prefault({}),
  })
  .strict()
  .superRefine(
    (c, ctx) => {
      // Runs even when other keys are invalid (see `when`), so every problem is reported at once:
      // the values may therefore be malformed here, and are checked before use.
      const devices: unknown[] = Array.isArray(c.devices) ? c.devices : [];
      const idOf = (d: unknown): string | undefined => (typeof d === "object" && d !== null && "id" in d && typeof d.id === "string" ? d.id : undefined);
      const seen = new Map<string, number>();
      devices.forEach((d, i) => {
        const id = idOf(d);
        if (id === undefined) return;
        const first = seen.get(id);
        if (first !== undefined) ctx.addIssue({ code: "custom", path: ["devices", i, "id"], message: `duplicate device id "${id}" (also devices.${first})` });
        else seen.set(id, i);
      });
      const interlocks: unknown[] = Array.isArray(c.interlocks) ? c.interlocks : [];
      const ruleIds = new Map<string, number>();
      interlocks.forEach((r, i) => {
        const id = idOf(r);
        if (id === undefined) return;
        if (id === "estop") ctx.addIssue({ code: "custom", path: ["interlocks", i, "id"], message: `"estop" is the built-in emergency stop` });
        const first = ruleIds.get(id);
        if (first !== undefined) ctx.addIssue({ code: "custom", path: ["interlocks", i, "id"], message: `duplicate interlock id "${id}" (also interlocks.${first})` });
        else ruleIds.set(id, i);
      });
      // Every device an interlock or e-stop button names must be declared (a typo would be a rule that can never be satisfied).
      const known = new Set(devices.map(idOf).filter((d): d is string => d !== undefined));
      const refs = (value: unknown, path: Array<string | number>): void => {
        if (typeof value === "string" && /^[a-z0-9][a-z0-9-]*\.[a-zA-Z]/.test(value) && (path.at(-1) === "input" || path.at(-1) === "actuator" || path.at(-1) === "door" || path.at(-2) === "forbids" || path.at(-2) === "estopButtons")) {
          const device = value.split(".")[0] ?? "";
          if (!known.has(device)) ctx.addIssue({ code: "custom", path, message: `"${value}" names device "${device}", which is not declared under devices` });
        } else if (Array.isArray(value)) value.forEach((v, i) => refs(v, [...path, i]));
        else if (typeof value === "object" && value !== null) for (const [k, v] of Object.entries(value)) refs(v, [...path, k]);
      };
      refs(c.interlocks, ["interlocks"]);
      devices.forEach((d, i) => {
        if (typeof d === "object" && d !== null && "door" in d) refs(d.door, ["devices", i, "door"]);
      });
      refs(c.safety, ["safety"]);
      const broker: Record<string, unknown> = typeof c.broker === "object" && c.broker !== null ? c.broker : {};
      const accounts = [broker.observer, broker.hub].map((a) => (typeof a === "object" && a !== null && "username" in a && typeof a.username === "string" ? a.username : undefined));
      for (const name of accounts) {
        if (name === undefined) continue;
        const clash = devices.findIndex((d) => idOf(d) === name);
        if (clash >= 0) ctx.addIssue({ code: "custom", path: ["devices", clash, "id"], message: `"${name}" is also a broker account name` });
      }
    },
    { when: () => true },
  );
export type HubConfig = z.infer<typeof HubConfig>;
export type HubConfigInput = z.input<typeof HubConfig>;
