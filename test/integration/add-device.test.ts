/**
 * `tec-hub add-device` as a person runs it: the YAML block it prints goes into a config that passes
 * the schema, the hash in it verifies the secret in the board's config.h, a hub started with that
 * config lets a real MQTT client in with that id and secret (and nobody with a wrong one), and the
 * config.h defines every macro the ESP32 sketch uses, compiles, and carries the broker's CA
 * byte for byte when the broker has TLS.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import mqtt from "mqtt";
import { parse as parseYaml, parseDocument, stringify } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { verifySecret } from "../../hub/src/api/auth.ts";
import { parseConfig } from "../../hub/src/config/load.ts";
import type { DeviceView } from "../../hub/src/core/types.ts";
import { ensureSelfSignedCerts } from "../../hub/src/broker/tls-certs.ts";
import { bootHarness, connectMqtt, SITE, TEST_META, until } from "./harness.ts";

type Ok<T> = { ok: true; result: T };

const ROOT = path.resolve(import.meta.dirname, "../..");
const SKETCH_DIR = path.join(ROOT, "firmware-bridge/esp32/tiny_house_esp32");
const dir = mkdtempSync(path.join(os.tmpdir(), "tec-add-device-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function addDevice(...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", "hub/src/cli.ts", "add-device", ...args], { cwd: ROOT, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The YAML block and the config.h from add-device's output. */
function split(stdout: string): { yaml: string; header: string } {
  const at = stdout.indexOf("\n// ---- ");
  expect(at).toBeGreaterThan(0);
  return { yaml: stdout.slice(0, at), header: stdout.slice(stdout.indexOf("\n", at + 1) + 1) };
}

const define = (header: string, name: string): string | undefined => new RegExp(`^#define ${name} (.*?)(?:\\s+//.*)?$`, "m").exec(header)?.[1];
const cStringValue = (literal: string | undefined): string => JSON.parse(literal ?? "null") as string;

/** The TEC_ macros the sketch takes from its config.h (the ones it does not define itself). */
function sketchMacros(): Set<string> {
  const sketch = readFileSync(path.join(SKETCH_DIR, "tiny_house_esp32.ino"), "utf8");
  const used = new Set(sketch.match(/\bTEC_[A-Z0-9_]+\b/g) ?? []);
  for (const m of sketch.matchAll(/^\s*#define (TEC_[A-Z0-9_]+)/gm)) used.delete(m[1] ?? "");
  return used;
}
/** Macros the sketch uses only when they are defined (`#ifdef`, `#if defined(...)`). */
const OPTIONAL = new Set(["TEC_MQTT_CA"]);

const hasGpp = spawnSync("g++", ["--version"]).status === 0;

/**
 * Compiles `header` with the macros used as the sketch uses them (string literals pasted into
 * topics, the port as a number, the CA as a C string) and runs it; answers what it printed.
 */
function compileAndRun(header: string, name: string): { ok: boolean; out: string } {
  const folder = path.join(dir, name);
  mkdirSync(folder, { recursive: true });
  writeFileSync(path.join(folder, "config.h"), header);
  writeFileSync(
    path.join(folder, "main.cpp"),
    [
      "#include <cstdint>",
      "#include <cstdio>",
      '#include "config.h"',
      'const char* topic = "tec/" TEC_SITE "/" TEC_DEVICE "/status";',
      "const uint16_t port = TEC_MQTT_PORT;",
      "int main() {",
      '  std::printf("%s\\n%s\\n%s\\n%s\\n%u\\n%s\\n", TEC_WIFI_SSID, TEC_WIFI_PASSWORD, TEC_MQTT_HOST, TEC_DEVICE_PASSWORD, static_cast<unsigned>(port), topic);',
      "#ifdef TEC_MQTT_CA",
      '  std::fputs(TEC_MQTT_CA, stdout);',
      "#endif",
      "  return 0;",
      "}",
    ].join("\n"),
  );
  const exe = path.join(folder, "main");
  const cc = spawnSync("g++", ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-o", exe, path.join(folder, "main.cpp")], { encoding: "utf8" });
  if (cc.status !== 0) return { ok: false, out: `${cc.stdout}${cc.stderr}` };
  const r = spawnSync(exe, { encoding: "utf8" });
  return { ok: r.status === 0, out: r.stdout };
}

describe("tec-hub add-device --kind mqtt (ESP32)", () => {
  it(
    "prints a block that passes the schema with the secret's hash, and a config.h with that secret that the broker takes",
    async () => {
      // The demo config on the plain port (TLS has its own test below), its data folder a temp one.
      const demoFile = path.join(dir, "demo-plain.yaml");
      const demoRaw = parseDocument(readFileSync(path.join(ROOT, "config/demo.yaml"), "utf8")).toJS() as { broker: object; storage: object };
      writeFileSync(demoFile, stringify({ ...demoRaw, broker: { ...demoRaw.broker, tls: null }, storage: { ...demoRaw.storage, path: path.join(dir, "demo-data", "hub.db") } }));
      const r = addDevice("--kind", "mqtt", "--id", "greenhouse-1", "--name", 'Kas "1"', "--config", demoFile);
      expect(r.stderr).toMatch(/secret is shown this once/);
      expect(r.code).toBe(0);
      const { yaml, header } = split(r.stdout);

      // The block, pasted under devices: of the demo config, passes the schema.
      const block = parseYaml(yaml) as Array<Record<string, unknown>>;
      expect(block).toHaveLength(1);
      const device = block[0] ?? {};
      expect(device).toMatchObject({ kind: "mqtt", id: "greenhouse-1", name: 'Kas "1"' });
      const demo = parseDocument(readFileSync(path.join(ROOT, "config/demo.yaml"), "utf8")).toJS() as { devices: unknown[] };
      const merged = { ...demo, devices: [...demo.devices, device] };
      const { config } = parseConfig(merged, "merged");
      expect(config.devices.find((d) => d.id === "greenhouse-1")).toMatchObject({ kind: "mqtt" });
      // Also as a file, through check-config, as a person would.
      const file = path.join(dir, "merged.yaml");
      writeFileSync(file, stringify(merged));
      const check = spawnSync(process.execPath, ["--import", "tsx", "hub/src/cli.ts", "check-config", file], { cwd: ROOT, encoding: "utf8" });
      expect(check.status).toBe(0);

      // The hash is of the secret in config.h, and nothing in the block is the secret itself.
      const password = String(device.password);
      expect(password).toMatch(/^scrypt\$16384\$/);
      const secret = cStringValue(define(header, "TEC_DEVICE_PASSWORD"));
      expect(secret).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(yaml).not.toContain(secret);
      expect(await verifySecret(secret, password)).toBe(true);
      expect(await verifySecret(`${secret}x`, password)).toBe(false);
      expect(cStringValue(define(header, "TEC_DEVICE"))).toBe("greenhouse-1");
      expect(cStringValue(define(header, "TEC_SITE"))).toBe(config.site);

      // A hub with that block lets the board in with its id and secret, and its readings through.
      const h = await bootHarness({ devices: [{ kind: "mqtt", id: "greenhouse-1", name: "Kas 1", password }] });
      try {
        const dev = await h.device("greenhouse-1", { password: secret, clientId: cStringValue(define(header, "TEC_DEVICE")) });
        await dev.describe(TEST_META);
        await dev.tele({ powerW: 12, tempC: 20 });
        const view = await until(async () => {
          const v = (await h.get<Ok<DeviceView>>("/api/devices/greenhouse-1")).body.result;
          return v.state === "ready" ? v : undefined;
        }, 30_000, "greenhouse-1 ready");
        expect(view.channels.powerW?.value).toBe(12);
        // A reconnect (the board after a Wi-Fi drop) gets in again.
        await dev.end();
        const again = await h.device("greenhouse-1", { password: secret, clientId: "greenhouse-1" });
        await again.end();
        // The hash itself, or a wrong secret, does not log in.
        for (const wrong of [password, `${secret.slice(0, -1)}A`]) {
          const refused = mqtt.connect(h.mqttUrl, { username: "greenhouse-1", password: wrong, clientId: "greenhouse-1-x", reconnectPeriod: 0, protocolVersion: 4 });
          const error = await new Promise<Error>((resolve) => refused.once("error", resolve));
          expect(error.message).toMatch(/Bad username or password|bad user name or password/i);
          refused.end(true);
        }
      } finally {
        await h.close();
      }

      // config.h defines every macro the sketch takes from it, and compiles as the sketch uses them.
      for (const m of sketchMacros()) if (!OPTIONAL.has(m)) expect(define(header, m), `config.h defines ${m}`).toBeDefined();
      expect(define(header, "TEC_MQTT_CA")).toBeUndefined();
      expect(Number(define(header, "TEC_MQTT_PORT"))).toBe(config.broker.port);
      if (hasGpp) {
        const run = compileAndRun(header, "plain");
        expect(run.ok, run.out).toBe(true);
        expect(run.out.split("\n")[3]).toBe(secret);
        expect(run.out.split("\n")[5]).toBe(`tec/${config.site}/greenhouse-1/status`);
      }
    },
    180_000,
  );

  it(
    "embeds the broker's CA and the TLS port when the broker has TLS, and stops the build while the CA is not made yet",
    () => {
      const data = path.join(dir, "tls-site");
      const cfgFile = path.join(dir, "tls.yaml");
      writeFileSync(
        cfgFile,
        stringify({
          site: "school",
          siteName: "A school",
          broker: { host: "0.0.0.0", tls: { port: 8883, hostnames: ["hub.school.lan"] } },
          storage: { path: path.join(data, "hub.db") },
          devices: [],
        }),
      );
      // Before the hub ever ran: no CA yet.
      const before = addDevice("--kind", "mqtt", "--id", "door-2", "--config", cfgFile);
      expect(before.code).toBe(0);
      expect(before.stderr).toMatch(/start the hub once to make it/);
      const early = split(before.stdout).header;
      expect(early).toMatch(/^#error /m);
      expect(define(early, "TEC_MQTT_PORT")).toBe("8883");
      if (hasGpp) expect(compileAndRun(early, "no-ca").ok).toBe(false);

      // Once the CA exists (the hub made it), it is in config.h as a C string, byte for byte.
      const pem = ["-----BEGIN CERTIFICATE-----", "MIIBdzCCAR2gAwIBAgIUfake+/only=for\\the\"test", "AbCdEf0123456789+/==", "-----END CERTIFICATE-----", ""].join("\n");
      mkdirSync(path.join(data, "tls"), { recursive: true });
      writeFileSync(path.join(data, "tls", "ca.crt"), pem);
      const after = addDevice("--kind", "mqtt", "--id", "door-2", "--config", cfgFile);
      expect(after.code).toBe(0);
      const { header } = split(after.stdout);
      expect(header).not.toMatch(/#error/);
      expect(define(header, "TEC_MQTT_PORT")).toBe("8883");
      expect(cStringValue(define(header, "TEC_MQTT_HOST"))).toBe("hub.school.lan");
      expect(header).toMatch(/^#define TEC_MQTT_CA \\$/m);
      for (const m of sketchMacros()) expect(header, `config.h defines ${m}`).toMatch(new RegExp(`^#define ${m}\\b`, "m"));
      if (hasGpp) {
        const run = compileAndRun(header, "ca");
        expect(run.ok, run.out).toBe(true);
        expect(run.out.split("\n").slice(6).join("\n")).toBe(pem);
      }
    },
    120_000,
  );

  it(
    "over TLS: a client that trusts only the CA in config.h (as the ESP32 does with setCACert) logs in with the secret; one trusting another CA does not",
    async () => {
      // The hub's self-made CA, made first (as the hub's first start would), so add-device can embed it.
      const folder = path.join(dir, "tls-hub");
      await ensureSelfSignedCerts(path.join(folder, "tls"), []);
      const cfgFile = path.join(dir, "tls-hub.yaml");
      const broker = { mode: "embedded" as const, host: "127.0.0.1", port: 0, tls: { port: 0 }, observer: { username: "observer", password: "observer" } };
      writeFileSync(cfgFile, stringify({ site: SITE, siteName: "Test site", broker, storage: { path: path.join(folder, "hub.db") }, devices: [] }));
      const r = addDevice("--kind", "mqtt", "--id", "door-3", "--host", "127.0.0.1", "--config", cfgFile);
      expect(r.code, r.stderr).toBe(0);
      const { yaml, header } = split(r.stdout);
      const device = (parseYaml(yaml) as Array<Record<string, unknown>>)[0] ?? {};
      const secret = cStringValue(define(header, "TEC_DEVICE_PASSWORD"));
      // The CA exactly as the C compiler would hand it to setCACert: the string literals joined.
      const caLiteral = /^#define TEC_MQTT_CA \\\n((?: {2}".*"(?: \\)?\n)+)/m.exec(header)?.[1] ?? "";
      const ca = caLiteral
        .split("\n")
        .filter((l) => l.trim().length > 0)
        .map((l) => cStringValue(l.trim().replace(/ \\$/, "")))
        .join("");
      expect(ca).toBe(readFileSync(path.join(folder, "tls", "ca.crt"), "utf8").trim() + "\n");

      const h = await bootHarness({ broker, storage: { path: path.join(folder, "hub.db"), flushMs: 100 }, devices: [{ kind: "mqtt", id: "door-3", name: "Deur 3", password: String(device.password) }] });
      try {
        const tlsPort = h.hub.mqttTlsPort;
        expect(tlsPort).not.toBeNull();
        expect(define(header, "TEC_MQTT_PORT")).toBe("0");
        const url = `mqtts://${cStringValue(define(header, "TEC_MQTT_HOST"))}:${tlsPort ?? 0}`;
        const board = await connectMqtt(url, { ca, rejectUnauthorized: true, username: "door-3", password: secret, clientId: "door-3" });
        await board.publishAsync(`tec/${SITE}/door-3/status`, "online", { qos: 1, retain: true });
        await board.endAsync();

        const other = await ensureSelfSignedCerts(path.join(dir, "other-ca"), []);
        const stranger = mqtt.connect(url, { ca: other.ca, rejectUnauthorized: true, username: "door-3", password: secret, clientId: "door-3", reconnectPeriod: 0, protocolVersion: 4 });
        const error = await new Promise<Error>((resolve) => stranger.once("error", resolve));
        expect(error.message).toMatch(/self[- ]signed|unable to verify|certificate/i);
        stranger.end(true);
      } finally {
        await h.close();
      }
    },
    180_000,
  );

  it("refuses an id already in the config, a bad id (naming the pattern), and MQTT on an Arduino board", () => {
    const dup = addDevice("--kind", "mqtt", "--id", "pv-inverter", "--config", "config/demo.yaml");
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/device "pv-inverter" is already in the config \(devices\.\d+\)/);
    expect(dup.stdout).toBe("");

    const bad = addDevice("--kind", "mqtt", "--id", "Green House", "--config", "config/demo.yaml");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("/^[a-z0-9][a-z0-9-]{0,47}$/");
    expect(bad.stdout).toBe("");

    const arduino = addDevice("--kind", "mqtt", "--id", "board-7", "--board", "arduino", "--config", "config/demo.yaml");
    expect(arduino.code).toBe(2);
    expect(arduino.stderr).toMatch(/Arduino boards here speak the serial contract.*not MQTT; use --kind serial --board arduino/);
  }, 120_000);

  it("prints the serial block for an Arduino board, which passes the schema", () => {
    const r = addDevice("--kind", "serial", "--id", "board-7", "--name", "Bord 7", "--config", "config/demo.yaml");
    expect(r.code).toBe(0);
    const block = parseYaml(r.stdout) as Array<Record<string, unknown>>;
    expect(block[0]).toMatchObject({ kind: "serial", id: "board-7", url: "serial:///dev/ttyACM0?baud=115200" });
    expect(r.stdout).not.toMatch(/password|#define/);
    const demo = parseDocument(readFileSync(path.join(ROOT, "config/demo.yaml"), "utf8")).toJS() as { devices: unknown[] };
    expect(parseConfig({ ...demo, devices: [...demo.devices, block[0]] }).config.devices.at(-1)).toMatchObject({ kind: "serial", id: "board-7" });
  }, 120_000);
});

describe("the ESP32 sketch's config", () => {
  it("config.example.h defines every macro the sketch takes from config.h, TEC_MQTT_CA only as an example", () => {
    const example = readFileSync(path.join(SKETCH_DIR, "config.example.h"), "utf8");
    const macros = sketchMacros();
    expect(macros).toContain("TEC_MQTT_CA");
    for (const m of macros) if (!OPTIONAL.has(m)) expect(define(example, m), `config.example.h defines ${m}`).toBeDefined();
    // Only as an example, in a comment: a board without it speaks plain MQTT.
    expect(define(example, "TEC_MQTT_CA")).toBeUndefined();
    expect(example).toMatch(/^\s+#define TEC_MQTT_CA \\$/m);
  });

  /**
   * The sketch run through the real C preprocessor with `header` as its config.h (Arduino's headers
   * stubbed: no ESP32 toolchain here), so its #if logic is what is tested, not its text.
   */
  function preprocess(header: string, name: string): { ok: boolean; out: string } {
    const folder = path.join(dir, `pp-${name}`);
    const stubs = path.join(folder, "stubs");
    mkdirSync(path.join(stubs, "driver"), { recursive: true });
    for (const h of ["Arduino.h", "ArduinoJson.h", "Preferences.h", "PubSubClient.h", "WiFi.h", "WiFiClientSecure.h", "driver/gpio.h", "esp_system.h", "esp_task_wdt.h", "tec_protocol.h"]) {
      writeFileSync(path.join(stubs, h), `int stub_${h.replace(/\W/g, "_")};\n`);
    }
    writeFileSync(path.join(folder, "config.h"), header);
    writeFileSync(path.join(folder, "sketch.cpp"), readFileSync(path.join(SKETCH_DIR, "tiny_house_esp32.ino"), "utf8"));
    const r = spawnSync("g++", ["-E", "-P", "-DESP_ARDUINO_VERSION_MAJOR=3", "-I", stubs, path.join(folder, "sketch.cpp")], { encoding: "utf8" });
    return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
  }

  it.skipIf(!hasGpp)("verifies the broker against TEC_MQTT_CA when it is defined, speaks plain MQTT without it, and never turns checking off", () => {
    const sketch = readFileSync(path.join(SKETCH_DIR, "tiny_house_esp32.ino"), "utf8");
    expect(sketch).not.toMatch(/setInsecure/);
    const example = readFileSync(path.join(SKETCH_DIR, "config.example.h"), "utf8");
    const ca = '#define TEC_MQTT_CA "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n"\n';

    const tls = preprocess(`${example.replace(/TEC_MQTT_PORT 1883/, "TEC_MQTT_PORT 8883")}${ca}`, "tls");
    expect(tls.ok, tls.out).toBe(true);
    expect(tls.out).toContain("stub_WiFiClientSecure_h");
    expect(tls.out).toMatch(/\bWiFiClientSecure gNet;/);
    expect(tls.out).toMatch(/gNet\.setCACert\("-----BEGIN CERTIFICATE-----/);
    expect(tls.out).toMatch(/gNet\.setHandshakeTimeout\(/);
    expect(tls.out).toMatch(/gNet\.connect\("192\.168\.1\.10", 8883, kTcpConnectTimeoutMs\)/);

    const plain = preprocess(example, "plain");
    expect(plain.ok, plain.out).toBe(true);
    expect(plain.out).toMatch(/\bWiFiClient gNet;/);
    expect(plain.out).not.toMatch(/WiFiClientSecure|setCACert/);

    // The TLS port without a CA is a build error, not a board that cannot connect (or connects unchecked).
    const noCa = preprocess(example.replace(/TEC_MQTT_PORT 1883/, "TEC_MQTT_PORT 8883"), "no-ca");
    expect(noCa.ok).toBe(false);
    expect(noCa.out).toMatch(/port 8883 is MQTT over TLS: define TEC_MQTT_CA/);
  });
});
