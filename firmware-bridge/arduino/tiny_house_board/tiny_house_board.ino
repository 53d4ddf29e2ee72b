// TEC Tiny House serial board: an Arduino Uno (ATmega328P, 16 MHz) that measures the boiler tank
// temperature, a door switch and a leak sensor, drives the pump, heater and lights relays, and
// speaks the TEC serial framing (firmware-bridge/PROTOCOL.md) to the hub at 115200 baud.
//
// Safety does not depend on the hub (PROTOCOL.md, "Device-side safety"):
// - the relay pins are driven to their safe (off) level before main() runs (.init3 below), and
//   again with digitalWrite() before pinMode(OUTPUT) in setup();
// - the AVR hardware watchdog (1 s) resets a board whose loop hangs, which makes every output
//   safe again; it is cleared and switched off first thing after a reset, as avr-libc advises;
// - a command holds for its lease; 3 s without a BEAT makes everything safe (tec::Safety);
// - local interlocks: the heater is held off above 90 C or with a broken sensor, the pump
//   during a leak, whatever the hub says.
//
// Wiring, build and flashing: ../README.md.
#include <avr/eeprom.h>
#include <avr/io.h>
#include <avr/wdt.h>

#include <tec_protocol.h>

// ---- Before main(): outputs safe, watchdog off ------------------------------------------------

// The reset cause, saved before it is cleared; .noinit so the C runtime does not zero it later.
uint8_t gResetFlags __attribute__((section(".noinit")));

// .init3 runs after the stack is set up and before .data/.bss are initialised and before main():
// nothing from the Arduino core has run yet. It may only use registers and constants (no RAM
// tables: .data is not copied yet). After a watchdog reset the watchdog stays enabled at its
// shortest period, so it must be switched off here or the board would reset again in setup()
// (avr-libc, <avr/wdt.h>: "the watchdog timer remains active even after a system reset").
extern "C" void tecEarlyInit(void) __attribute__((naked, used, section(".init3")));
extern "C" void tecEarlyInit(void) {
  gResetFlags = MCUSR;
  MCUSR = 0;
  wdt_disable();
  // Relays on D7 = PD7, D8 = PB0, D9 = PB1 (the Uno's pin map). Level first, then direction, so
  // the pin never drives high for a single cycle (protocols-safety 6.3). Keep in step with kRelayPins.
  PORTD &= ~_BV(PD7);
  PORTB &= ~(_BV(PB0) | _BV(PB1));
  DDRD |= _BV(PD7);
  DDRB |= _BV(PB0) | _BV(PB1);
}

// avr-libc's heap bounds, for the free RAM in HEALTH.
extern "C" char __heap_start;
extern "C" char* __brkval;

// ---- What the board is ---------------------------------------------------------------------------

namespace {

const uint8_t kTankTempPin = A0;  // TMP36: 10 mV/C, 500 mV at 0 C
const uint8_t kDoorPin = 4;       // reed switch to GND, closed = door shut
const uint8_t kLeakPin = 5;       // leak probe to GND, closed = water
// Active-high relay drivers with a pull-down on the driver input: low is off, and a board in
// reset (pins floating) cannot energise a relay. Index = actuator index in kActuators.
const uint8_t kRelayPins[] = {7, 8, 9};

const uint32_t kTelePeriodMs = 1000;
const uint32_t kHealthPeriodMs = 10000;
const tec::Milli kHeaterTripC = tec::milli(90);
const tec::Milli kHeaterResetC = tec::milli(85);

const char kTankTempC[] TEC_PROGMEM = "tankTempC";
const char kTankTempLabel[] TEC_PROGMEM = "Boilertemperatuur";
const char kDoorOpen[] TEC_PROGMEM = "doorOpen";
const char kDoorLabel[] TEC_PROGMEM = "Deur open";
const char kLeak[] TEC_PROGMEM = "leak";
const char kLeakLabel[] TEC_PROGMEM = "Lekkage";
const char kUnitC[] TEC_PROGMEM = "C";
const char kNoUnit[] TEC_PROGMEM = "";

enum Channel : uint8_t { kChTankTemp, kChDoor, kChLeak, kChannelCount };
constexpr tec::ChannelSpec kChannels[kChannelCount] TEC_PROGMEM = {
    {kTankTempC, kUnitC, kTankTempLabel, tec::milli(0), tec::milli(100), kTelePeriodMs},
    {kDoorOpen, kNoUnit, kDoorLabel, 0, tec::milli(1), kTelePeriodMs},
    {kLeak, kNoUnit, kLeakLabel, 0, tec::milli(1), kTelePeriodMs},
};

const char kPumpEnable[] TEC_PROGMEM = "pumpEnable";
const char kPumpLabel[] TEC_PROGMEM = "Pomp";
const char kHeaterEnable[] TEC_PROGMEM = "heaterEnable";
const char kHeaterLabel[] TEC_PROGMEM = "Verwarming";
const char kLightsOn[] TEC_PROGMEM = "lightsOn";
const char kLightsLabel[] TEC_PROGMEM = "Verlichting";

enum Actuator : uint8_t { kPump, kHeater, kLights, kActuatorCount };
constexpr tec::ActuatorSpec kActuators[kActuatorCount] TEC_PROGMEM = {
    // name, label, safe, min, max, leaseMs, integer
    {kPumpEnable, kPumpLabel, 0, 0, tec::milli(1), 10000, true},
    {kHeaterEnable, kHeaterLabel, 0, 0, tec::milli(1), 10000, true},
    {kLightsOn, kLightsLabel, 0, 0, tec::milli(1), 60000, true},
};
static_assert(sizeof(kRelayPins) == kActuatorCount, "one relay pin per actuator");

// The boot counter (PROTOCOL.md: +1 at every start, kept in non-volatile memory).
uint32_t gBootCounter EEMEM;

void applyRelay(void*, uint8_t index, tec::Milli value) {
  digitalWrite(kRelayPins[index], value != 0 ? HIGH : LOW);
}

void writeSerial(void*, const char* data, size_t len) {
  Serial.write(reinterpret_cast<const uint8_t*>(data), len);
}

tec::Safety gSafety(kActuators, kActuatorCount, &applyRelay, nullptr);
const char kModel[] TEC_PROGMEM = "TEC-TH-SERIAL";
const char kFirmware[] TEC_PROGMEM = "1.0.0";
tec::SerialBoard gBoard(tec::BoardInfo{tec::FlashStr{kModel}, tec::FlashStr{kFirmware}, kChannels, kChannelCount},
                        gSafety, &writeSerial, nullptr);

uint32_t gLastTeleMs = 0;
uint32_t gLastHealthMs = 0;
bool gHeaterTripped = false;
bool gPumpTripped = false;

uint32_t nextBoot() {
  uint32_t stored = eeprom_read_dword(&gBootCounter);
  uint32_t boot = stored == 0xFFFFFFFFu ? 1 : stored + 1;  // an erased EEPROM reads all ones
  eeprom_update_dword(&gBootCounter, boot);
  return boot;
}

int freeRamB() {
  char top;
  return static_cast<int>(&top - (__brkval == nullptr ? &__heap_start : __brkval));
}

// TMP36 in thousandths of a degree, or kNoReading when the input sits at a rail (open or short).
tec::Milli readTankTemp() {
  uint16_t sum = 0;
  for (uint8_t i = 0; i < 4; i++) sum += analogRead(kTankTempPin);
  uint16_t raw = sum / 4;
  if (raw < 8 || raw > 1015) return tec::kNoReading;
  int32_t mv = (static_cast<int32_t>(raw) * 5000 + 512) / 1024;
  return (mv - 500) * 100;  // 10 mV per degree
}

void readSensors(tec::Milli* readings) {
  readings[kChTankTemp] = readTankTemp();
  readings[kChDoor] = digitalRead(kDoorPin) == HIGH ? tec::milli(1) : 0;
  readings[kChLeak] = digitalRead(kLeakPin) == LOW ? tec::milli(1) : 0;
}

// The board's own interlocks, with hysteresis; the hub hears about each trip as an EVENT.
void localInterlocks(const tec::Milli* readings) {
  tec::Milli t = readings[kChTankTemp];
  bool heaterTrip = gHeaterTripped ? (t == tec::kNoReading || t >= kHeaterResetC)
                                   : (t == tec::kNoReading || t >= kHeaterTripC);
  if (heaterTrip != gHeaterTripped) {
    gHeaterTripped = heaterTrip;
    gSafety.inhibit(kHeater, heaterTrip);
    if (heaterTrip) gBoard.event(TEC_F("local-trip"), TEC_F("heaterEnable: tank above 90 C or sensor fault"));
  }
  bool pumpTrip = readings[kChLeak] != 0;
  if (pumpTrip != gPumpTripped) {
    gPumpTripped = pumpTrip;
    gSafety.inhibit(kPump, pumpTrip);
    if (pumpTrip) gBoard.event(TEC_F("local-trip"), TEC_F("pumpEnable: leak"));
  }
}

}  // namespace

void setup() {
  // The watchdog first: a hang anywhere from here on resets the board.
  wdt_enable(WDTO_1S);
  for (uint8_t i = 0; i < kActuatorCount; i++) {
    digitalWrite(kRelayPins[i], LOW);  // the level before the direction
    pinMode(kRelayPins[i], OUTPUT);
  }
  pinMode(kDoorPin, INPUT_PULLUP);
  pinMode(kLeakPin, INPUT_PULLUP);
  Serial.begin(115200);

  uint32_t now = millis();
  gBoard.begin(now, nextBoot());
  if (gResetFlags & _BV(WDRF)) gBoard.event(TEC_F("reset"), TEC_F("watchdog"));
  if (gResetFlags & _BV(BORF)) gBoard.event(TEC_F("reset"), TEC_F("brown-out"));
  gLastTeleMs = now;
  gLastHealthMs = now;
}

void loop() {
  wdt_reset();
  uint32_t now = millis();
  while (Serial.available() > 0) gBoard.feed(static_cast<char>(Serial.read()), now);
  gBoard.poll(now);

  if (now - gLastTeleMs >= kTelePeriodMs) {
    // Keep the 1 s cadence; after a long stall start over rather than send a burst.
    gLastTeleMs = now - gLastTeleMs >= 2 * kTelePeriodMs ? now : gLastTeleMs + kTelePeriodMs;
    tec::Milli readings[kChannelCount];
    readSensors(readings);
    localInterlocks(readings);
    gBoard.tele(now, readings);
  }
  if (now - gLastHealthMs >= kHealthPeriodMs) {
    gLastHealthMs = now;
    bool sensorOk = readTankTemp() != tec::kNoReading;
    gBoard.health(now, sensorOk ? TEC_F("ok") : TEC_F("degraded"), freeRamB(),
                  sensorOk ? tec::FlashStr{nullptr} : TEC_F("tankTempC sensor open or shorted"));
  }
}
