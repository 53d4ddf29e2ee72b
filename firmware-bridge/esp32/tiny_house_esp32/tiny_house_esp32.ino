// TEC Tiny House ESP32 board: the boiler tank temperature, a door switch and a leak probe, and the
// pump, heater and lights relays, speaking the TEC device contract over MQTT
// (firmware-bridge/PROTOCOL.md: status/meta/tele/health/ack/event, cmd/<actuator>, the hub's
// _hub/heartbeat and _hub/status).
//
// Device-side safety is the same C++ core the serial board uses (tec::Safety in firmware-bridge/
// core, host-tested there): leases, 3 s without a hub heartbeat -> every relay safe and commands
// refused, `_hub/status` offline or the MQTT link lost -> safe at once. On top: relay levels set
// before the pins become outputs, the task watchdog on the loop, local interlocks.
//
// MQTT over TLS when config.h defines TEC_MQTT_CA (the broker's CA, PEM): the broker's certificate
// is checked against it and against TEC_MQTT_HOST; without it, plain MQTT. Never unchecked TLS.
//
// Arduino-ESP32 core 3.x, PubSubClient 2.8, ArduinoJson 7. Build and flash: ../README.md.
#include <Arduino.h>
#include <ArduinoJson.h>
#include <Preferences.h>
#include <PubSubClient.h>
#include <WiFi.h>
#include <driver/gpio.h>
#include <esp_system.h>
#include <esp_task_wdt.h>
#include <math.h>

#include <tec_protocol.h>

#include "config.h"  // copy config.example.h, or let `tec-hub add-device` write it

#ifdef TEC_MQTT_CA
#include <WiFiClientSecure.h>
#elif TEC_MQTT_PORT == 8883
#error "port 8883 is MQTT over TLS: define TEC_MQTT_CA (the hub's CA, see config.example.h)"
#endif

#if !defined(ESP_ARDUINO_VERSION_MAJOR) || ESP_ARDUINO_VERSION_MAJOR < 3
#error "needs the Arduino-ESP32 core 3.x (ESP-IDF 5 task watchdog API)"
#endif

namespace {

// ---- The board ------------------------------------------------------------------------------------

// Relay drivers are active high with a pull-down on their input: during reset and the ~300 ms of
// the bootloader the pins float and the pull-down keeps the relays off. No strapping pins (0, 2,
// 5, 12, 15): their boot-time levels would reach the relays.
const gpio_num_t kRelayPins[] = {GPIO_NUM_25, GPIO_NUM_26, GPIO_NUM_27};
const int kTankTempPin = 34;  // ADC1 (ADC2 is unusable while Wi-Fi runs); TMP36, 10 mV/C, 500 mV at 0 C
const int kDoorPin = 32;      // reed switch to GND, closed = door shut
const int kLeakPin = 33;      // leak probe to GND, closed = water

const uint32_t kTelePeriodMs = 1000;
const uint32_t kHealthPeriodMs = 10000;
const uint16_t kKeepAliveS = 5;            // PROTOCOL.md lifecycle 1
const uint32_t kTaskWatchdogMs = 8000;     // > the longest blocking call, an MQTT connect (~5 s)
// One connect attempt blocks for at most the TCP connect (and, with TLS, the handshake), then, with
// the watchdog fed in between, the CONNACK (setSocketTimeout below). Each stays under the watchdog.
const int32_t kTcpConnectTimeoutMs = 3000;
#ifdef TEC_MQTT_CA
const unsigned long kTlsHandshakeTimeoutS = 3;  // ECDHE + ECDSA P-256: about a second on an ESP32
#endif
const tec::Milli kHeaterTripC = tec::milli(90);
const tec::Milli kHeaterResetC = tec::milli(85);

enum Channel : uint8_t { kChTankTemp, kChDoor, kChLeak, kChannelCount };
constexpr tec::ChannelSpec kChannels[kChannelCount] = {
    {"tankTempC", "C", "Boilertemperatuur", tec::milli(0), tec::milli(100), kTelePeriodMs},
    {"doorOpen", "", "Deur open", 0, tec::milli(1), kTelePeriodMs},
    {"leak", "", "Lekkage", 0, tec::milli(1), kTelePeriodMs},
};

enum Actuator : uint8_t { kPump, kHeater, kLights, kActuatorCount };
constexpr tec::ActuatorSpec kActuators[kActuatorCount] = {
    // name, label, safe, min, max, leaseMs, integer
    {"pumpEnable", "Pomp", 0, 0, tec::milli(1), 10000, true},
    {"heaterEnable", "Verwarming", 0, 0, tec::milli(1), 10000, true},
    {"lightsOn", "Verlichting", 0, 0, tec::milli(1), 60000, true},
};
static_assert(sizeof(kRelayPins) / sizeof(kRelayPins[0]) == kActuatorCount, "one relay pin per actuator");

const char kModel[] = "TEC-TH-ESP32";
const char kFirmware[] = "1.0.0";

void applyRelay(void*, uint8_t index, tec::Milli value) { gpio_set_level(kRelayPins[index], value != 0 ? 1 : 0); }

tec::Safety gSafety(kActuators, kActuatorCount, &applyRelay, nullptr);
#ifdef TEC_MQTT_CA
WiFiClientSecure gNet;  // checks the broker's certificate against TEC_MQTT_CA (setup)
#else
WiFiClient gNet;
#endif
PubSubClient gMqtt(gNet);
uint32_t gBoot = 0;
uint32_t gTeleSeq = 0;
uint32_t gLastTeleMs = 0;
uint32_t gLastHealthMs = 0;
uint32_t gNextConnectMs = 0;
uint32_t gBackoffMs = 1000;
uint32_t gRefusedMessages = 0;  // cmd payloads we could not even answer (no id, not JSON)
bool gWasConnected = false;
bool gHeaterTripped = false;
bool gPumpTripped = false;
const char* gResetEvent = nullptr;  // sent once after the first connect

// ---- Topics (PROTOCOL.md "Topics"): tec/<site>/<device>/<kind>, tec/<site>/_hub/<kind> ----------

String deviceTopic(const char* kind) { return String("tec/" TEC_SITE "/" TEC_DEVICE "/") + kind; }
const String kCmdPrefix = "tec/" TEC_SITE "/" TEC_DEVICE "/cmd/";
const String kHubHeartbeat = "tec/" TEC_SITE "/_hub/heartbeat";
const String kHubStatus = "tec/" TEC_SITE "/_hub/status";

double units(tec::Milli m) { return m / 1000.0; }

bool publishJson(const char* kind, const JsonDocument& doc, bool retained) {
  char buf[1024];
  size_t n = serializeJson(doc, buf, sizeof buf);
  if (n == 0 || n >= sizeof buf) return false;
  // PubSubClient publishes at QoS 0 only; the contract asks QoS 1 for status/meta/ack/event (see
  // README: on one healthy TCP connection the difference is a broker crash mid-delivery).
  return gMqtt.publish(deviceTopic(kind).c_str(), reinterpret_cast<const uint8_t*>(buf), n, retained);
}

void publishEvent(const char* type, const String& detail) {
  JsonDocument doc;
  doc["ts"] = millis();  // no RTC: uptime ms, which PROTOCOL.md allows
  doc["type"] = type;
  if (detail.length() > 0) doc["detail"] = detail;
  publishJson("event", doc, false);
}

void publishMeta() {
  JsonDocument doc;
  doc["contract"] = "1.0";
  doc["model"] = kModel;
  doc["firmware"] = kFirmware;
  doc["boot"] = gBoot;
  JsonObject channels = doc["channels"].to<JsonObject>();
  for (const tec::ChannelSpec& c : kChannels) {
    JsonObject o = channels[c.name].to<JsonObject>();
    o["unit"] = c.unit;
    o["min"] = units(c.min);
    o["max"] = units(c.max);
    o["periodMs"] = c.periodMs;
    o["label"] = c.label;
  }
  JsonObject actuators = doc["actuators"].to<JsonObject>();
  for (const tec::ActuatorSpec& a : kActuators) {
    JsonObject o = actuators[a.name].to<JsonObject>();
    o["safe"] = units(a.safe);
    o["leaseMs"] = a.leaseMs;
    o["min"] = units(a.min);
    o["max"] = units(a.max);
    o["label"] = a.label;
  }
  publishJson("meta", doc, true);
}

// ---- Sensors and local interlocks -------------------------------------------------------------------

tec::Milli readTankTemp() {
  uint32_t mv = analogReadMilliVolts(kTankTempPin);  // calibrated by the core
  if (mv < 30 || mv > 3100) return tec::kNoReading;  // open or shorted (3.3 V ADC range)
  return (static_cast<int32_t>(mv) - 500) * 100;
}

void readSensors(tec::Milli* r) {
  r[kChTankTemp] = readTankTemp();
  r[kChDoor] = digitalRead(kDoorPin) == HIGH ? tec::milli(1) : 0;
  r[kChLeak] = digitalRead(kLeakPin) == LOW ? tec::milli(1) : 0;
}

void localInterlocks(const tec::Milli* r) {
  tec::Milli t = r[kChTankTemp];
  bool heater = t == tec::kNoReading || t >= (gHeaterTripped ? kHeaterResetC : kHeaterTripC);
  if (heater != gHeaterTripped) {
    gHeaterTripped = heater;
    gSafety.inhibit(kHeater, heater);
    if (heater && gMqtt.connected()) publishEvent("local-trip", "heaterEnable: tank above 90 C or sensor fault");
  }
  bool pump = r[kChLeak] != 0;
  if (pump != gPumpTripped) {
    gPumpTripped = pump;
    gSafety.inhibit(kPump, pump);
    if (pump && gMqtt.connected()) publishEvent("local-trip", "pumpEnable: leak");
  }
}

// ---- Safety events (the same listener the serial board uses) ---------------------------------------

void onActuatorSafe(void*, uint8_t index, tec::SafeReason why) {
  if (!gMqtt.connected()) return;
  publishEvent("actuator-safe", String(kActuators[index].name) + ":" + tec::safeReasonName(why).p);
}

void onHubLost(void*) {
  if (gMqtt.connected()) publishEvent("hub-lost", "");
}

// ---- MQTT --------------------------------------------------------------------------------------------

void onCommand(const char* actuator, const uint8_t* payload, unsigned int length) {
  JsonDocument cmd;
  if (deserializeJson(cmd, payload, length) != DeserializationError::Ok || !cmd["id"].is<const char*>()) {
    gRefusedMessages++;  // no id: there is nothing an ack could answer
    return;
  }
  uint32_t now = millis();
  tec::CmdError e = tec::CmdError::None;
  JsonVariant value = cmd["value"];
  JsonVariant lease = cmd["leaseMs"];
  double v = value.is<double>() ? value.as<double>() : NAN;
  if (!isfinite(v) || fabs(v) > 2000000.0) {
    e = gSafety.command(now, actuator, nullptr, nullptr);  // the gate or the actuator, else bad-value
  } else {
    uint32_t leaseMs = lease.is<uint32_t>() ? lease.as<uint32_t>() : 0;  // 0: refused as bad-lease
    e = gSafety.command(now, actuator, static_cast<tec::Milli>(llround(v * 1000.0)), leaseMs);
  }
  JsonDocument ack;
  ack["id"] = cmd["id"];
  ack["ok"] = e == tec::CmdError::None;
  if (e != tec::CmdError::None) ack["error"] = tec::cmdErrorName(e).p;
  publishJson("ack", ack, false);
}

void onMessage(char* topic, uint8_t* payload, unsigned int length) {
  String t(topic);
  if (t == kHubHeartbeat) {
    gSafety.beat(millis());  // the payload's ts/seq are the hub's business
  } else if (t == kHubStatus) {
    // PROTOCOL.md: `_hub/status` offline -> every actuator safe at once, commands refused until
    // heartbeats resume. "online" changes nothing: the next heartbeat does.
    if (length == 7 && memcmp(payload, "offline", 7) == 0) gSafety.hubLost();
  } else if (t.startsWith(kCmdPrefix)) {
    onCommand(t.c_str() + kCmdPrefix.length(), payload, length);
  }
}

void publishHealth() {
  JsonDocument doc;
  bool sensorOk = readTankTemp() != tec::kNoReading;
  doc["state"] = sensorOk ? "ok" : "degraded";
  doc["uptimeS"] = millis() / 1000;  // wraps after 49 days; the boot counter is the reboot signal
  doc["boot"] = gBoot;
  doc["rssiDbm"] = WiFi.RSSI();
  doc["freeHeapB"] = ESP.getFreeHeap();
  if (!sensorOk) doc["detail"] = "tankTempC sensor open or shorted";
  else if (gRefusedMessages > 0) doc["detail"] = String("unanswerable commands: ") + gRefusedMessages;
  publishJson("health", doc, false);
}

void onConnected() {
  // PROTOCOL.md lifecycle 2 and 3: status, meta, health; then the subscriptions.
  gMqtt.publish(deviceTopic("status").c_str(), "online", true);
  publishMeta();
  publishHealth();
  gMqtt.subscribe((kCmdPrefix + "+").c_str(), 1);
  gMqtt.subscribe(kHubHeartbeat.c_str(), 1);
  gMqtt.subscribe(kHubStatus.c_str(), 1);
  gTeleSeq = 0;  // tele seq counts from 0 after every connect
  gSafety.open();
  if (gResetEvent != nullptr) {
    publishEvent("reset", gResetEvent);
    gResetEvent = nullptr;
  }
}

// Never blocks for long: Wi-Fi reconnects in the background (setAutoReconnect), MQTT is retried
// with a backoff. While either is down every relay is already safe (the hub cannot reach us).
void keepConnected(uint32_t now) {
  if (gMqtt.connected()) return;
  if (gWasConnected) {
    gWasConnected = false;
    gSafety.hubLost();
  }
  if (WiFi.status() != WL_CONNECTED || static_cast<int32_t>(now - gNextConnectMs) < 0) return;
  esp_task_wdt_reset();  // a connect attempt may block for its TCP (and TLS) and CONNACK timeouts
  // The socket (and TLS session) first, with a timeout of our own: WiFiClientSecure's default
  // connect timeout is 30 s and its handshake timeout 120 s, far past the watchdog. PubSubClient
  // then uses the connection it finds open.
  bool ok = gNet.connected() || gNet.connect(TEC_MQTT_HOST, TEC_MQTT_PORT, kTcpConnectTimeoutMs);
  esp_task_wdt_reset();
  if (ok) ok = gMqtt.connect(TEC_DEVICE, TEC_DEVICE, TEC_DEVICE_PASSWORD, deviceTopic("status").c_str(), 1, true, "offline");
  if (ok) {
    gWasConnected = true;
    gBackoffMs = 1000;
    onConnected();
  } else {
    gNextConnectMs = millis() + gBackoffMs;
    gBackoffMs = gBackoffMs >= 30000 ? 30000 : gBackoffMs * 2;
  }
}

const char* resetCause() {
  switch (esp_reset_reason()) {
    case ESP_RST_TASK_WDT: return "task-watchdog";
    case ESP_RST_INT_WDT: return "interrupt-watchdog";
    case ESP_RST_WDT: return "watchdog";
    case ESP_RST_PANIC: return "panic";
    case ESP_RST_BROWNOUT: return "brown-out";
    default: return nullptr;
  }
}

}  // namespace

void setup() {
  // Relays: the level first, then the direction (protocols-safety 6.3). Plain ESP-IDF calls:
  // Arduino-ESP32 3.x refuses digitalWrite() on a pin that is not yet an output.
  for (gpio_num_t pin : kRelayPins) {
    gpio_reset_pin(pin);
    gpio_set_level(pin, 0);
    gpio_set_direction(pin, GPIO_MODE_OUTPUT);
  }
  gSafety.setListener(tec::SafetyListener{&onActuatorSafe, &onHubLost, nullptr});
  gSafety.begin();
  pinMode(kDoorPin, INPUT_PULLUP);
  pinMode(kLeakPin, INPUT_PULLUP);

  // Task watchdog on the loop task, panicking (and so rebooting, relays safe) when it starves.
  esp_task_wdt_config_t wdt = {};
  wdt.timeout_ms = kTaskWatchdogMs;
  wdt.idle_core_mask = 0;
  wdt.trigger_panic = true;
  if (esp_task_wdt_reconfigure(&wdt) != ESP_OK) esp_task_wdt_init(&wdt);
  esp_task_wdt_add(nullptr);

  Preferences prefs;  // the boot counter in NVS (PROTOCOL.md: +1 at every start)
  prefs.begin("tec", false);
  gBoot = prefs.getUInt("boot", 0) + 1;
  prefs.putUInt("boot", gBoot);
  prefs.end();
  gResetEvent = resetCause();

  WiFi.mode(WIFI_STA);
  WiFi.setAutoReconnect(true);
  WiFi.begin(TEC_WIFI_SSID, TEC_WIFI_PASSWORD);
#ifdef TEC_MQTT_CA
  // The chain must end at this CA and the certificate must name TEC_MQTT_HOST (mbedTLS checks both;
  // without a clock it does not check the dates). The string is static: setCACert keeps the pointer.
  gNet.setCACert(TEC_MQTT_CA);
  gNet.setHandshakeTimeout(kTlsHandshakeTimeoutS);
#endif
  gMqtt.setServer(TEC_MQTT_HOST, TEC_MQTT_PORT);
  gMqtt.setCallback(onMessage);
  gMqtt.setKeepAlive(kKeepAliveS);
  gMqtt.setSocketTimeout(2);
  gMqtt.setBufferSize(1024);  // the retained meta is ~700 bytes
  gLastTeleMs = gLastHealthMs = millis();
}

void loop() {
  esp_task_wdt_reset();
  uint32_t now = millis();
  keepConnected(now);
  gMqtt.loop();  // delivers heartbeats and commands to onMessage()
  now = millis();
  gSafety.poll(now);  // leases and the 3 s heartbeat watch

  if (now - gLastTeleMs >= kTelePeriodMs) {
    gLastTeleMs = now - gLastTeleMs >= 2 * kTelePeriodMs ? now : gLastTeleMs + kTelePeriodMs;
    tec::Milli r[kChannelCount];
    readSensors(r);
    localInterlocks(r);
    if (gMqtt.connected()) {
      JsonDocument doc;
      doc["ts"] = now;
      doc["seq"] = gTeleSeq++;
      JsonObject readings = doc["readings"].to<JsonObject>();
      for (uint8_t i = 0; i < kChannelCount; i++) {
        if (r[i] != tec::kNoReading) readings[kChannels[i].name] = units(r[i]);
      }
      publishJson("tele", doc, false);
    }
  }
  if (now - gLastHealthMs >= kHealthPeriodMs) {
    gLastHealthMs = now;
    if (gMqtt.connected()) publishHealth();
  }
  delay(1);  // lets the idle task run (and feed its own watchdog)
}
