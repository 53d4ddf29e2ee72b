// Device-side safety of the TEC device contract (PROTOCOL.md, "Device-side safety"), the same on
// every carrier: the serial board (tec_serial_board.h) and the ESP32 over MQTT both drive it.
//
// - every actuator starts at its `safe` value;
// - a command holds for its lease (capped by the actuator's own leaseMs), then returns to safe;
// - with no hub heartbeat for 3 s, or the hub gone offline, every actuator returns to safe at once
//   and commands are refused (`hub-lost`) until heartbeats resume;
// - a refused handshake (serial REFUSE) keeps everything safe and refuses every command.
//
// Time is passed in as a millis()-style uint32_t, so tests drive it and a 49-day wrap is harmless
// (every comparison is on differences).
#ifndef TEC_SAFETY_H
#define TEC_SAFETY_H

#include <stdint.h>

#include "tec_flash.h"
#include "tec_line.h"

namespace tec {

/** PROTOCOL.md: "If no heartbeat has arrived for 3 s ... every actuator returns to safe". */
const uint32_t kHubTimeoutMs = 3000;
/** The contract's smallest lease (CommandMessage.leaseMs min 100). */
const uint32_t kMinLeaseMs = 100;
const uint8_t kMaxActuators = 8;

/** One actuator, declared TEC_PROGMEM by the board; strings are flash strings. */
struct ActuatorSpec {
  const char* name;   // camelCase with the unit in the name (PROTOCOL.md, "Names")
  const char* label;  // may be nullptr
  Milli safe;
  Milli min;
  Milli max;
  uint32_t leaseMs;  // the longest one command holds
  bool integer;      // a relay: 0 or 1, never 0.5
};

enum class CmdError : uint8_t {
  None = 0,
  NotWelcomed,  // serial: no WELCOME yet
  Refused,      // serial: the hub sent REFUSE
  HubLost,      // no heartbeat for kHubTimeoutMs, or the hub said it is offline
  UnknownActuator,
  BadValue,  // not a number, or a fraction for an integer actuator
  OutOfRange,
  BadLease,   // missing, or below kMinLeaseMs
  Inhibited,  // the board's own interlock holds the actuator safe
};
/** The `err=` / `error` text of a refused command. */
FlashStr cmdErrorName(CmdError e);

enum class SafeReason : uint8_t { Lease, HubLost, Refused, Inhibited };
/** Used in `EVENT type=actuator-safe detail=<actuator>:<reason>`. */
FlashStr safeReasonName(SafeReason r);

struct ActuatorState {
  Milli value;
  uint32_t sinceMs;  // when the current command was applied
  uint32_t leaseMs;
  bool held;  // a commanded non-safe value under a lease
  bool inhibited;
};

/** Drives an output. Called with the safe value at begin() and on every fallback. */
typedef void (*ApplyFn)(void* ctx, uint8_t index, Milli value);

/** Optional: told when an actuator that was held falls back to safe, and when the hub is lost. */
struct SafetyListener {
  void (*actuatorSafe)(void* ctx, uint8_t index, SafeReason why);
  void (*hubLost)(void* ctx);
  void* ctx;
};

class Safety {
 public:
  /** `specs` is a TEC_PROGMEM table of `count` (<= kMaxActuators) actuators. */
  Safety(const ActuatorSpec* specs, uint8_t count, ApplyFn apply, void* applyCtx);

  void setListener(const SafetyListener& l) { listener_ = l; }

  /** Every actuator to its safe value (again); commands refused until open()/welcome(). */
  void begin();
  /** Serial WELCOME: commands allowed; the welcome counts as the first heartbeat. */
  void welcome(uint32_t now);
  /** MQTT has no handshake: commands allowed once heartbeats arrive. */
  void open();
  /** Serial REFUSE: everything safe, every command refused, until welcome() or begin(). */
  void refuse();
  /** A hub heartbeat (serial BEAT, MQTT `_hub/heartbeat`). */
  void beat(uint32_t now);
  /** The hub is known to be gone (`_hub/status` offline, MQTT link lost): safe at once. */
  void hubLost();
  /** The board's own interlock: an inhibited actuator is held safe and refuses commands. */
  void inhibit(uint8_t index, bool on);

  /** Validates and applies one command. `value`/`leaseMs` are null when the field was absent. */
  CmdError command(uint32_t now, const char* actuator, const char* value, const char* leaseMs);
  CmdError command(uint32_t now, const char* actuator, Milli value, uint32_t leaseMs);

  /** Runs the lease and heartbeat clocks. Call every loop. */
  void poll(uint32_t now);

  bool hubAlive() const { return alive_; }
  bool welcomed() const { return gate_ == Gate::Open; }
  bool refused() const { return gate_ == Gate::Refused; }
  uint8_t count() const { return count_; }
  int find(const char* name) const;  // -1 when unknown
  ActuatorSpec spec(uint8_t index) const;
  Milli value(uint8_t index) const { return states_[index].value; }
  bool held(uint8_t index) const { return states_[index].held; }

 private:
  enum class Gate : uint8_t { Closed, Open, Refused };

  CmdError admit(uint32_t now) const;
  CmdError apply(uint32_t now, uint8_t index, Milli value, uint32_t leaseMs);
  void toSafe(uint8_t index, bool report, SafeReason why);
  void allToSafe(SafeReason why);

  const ActuatorSpec* specs_;
  uint8_t count_;
  ApplyFn apply_;
  void* applyCtx_;
  SafetyListener listener_;
  ActuatorState states_[kMaxActuators];
  Gate gate_;
  bool alive_;
  uint32_t lastBeatMs_;
};

}  // namespace tec

#endif
