#include "tec_safety.h"

namespace tec {

FlashStr cmdErrorName(CmdError e) {
  switch (e) {
    case CmdError::None: return TEC_F("none");
    case CmdError::NotWelcomed: return TEC_F("not-welcomed");
    case CmdError::Refused: return TEC_F("refused");
    case CmdError::HubLost: return TEC_F("hub-lost");
    case CmdError::UnknownActuator: return TEC_F("unknown-actuator");
    case CmdError::BadValue: return TEC_F("bad-value");
    case CmdError::OutOfRange: return TEC_F("out-of-range");
    case CmdError::BadLease: return TEC_F("bad-lease");
    case CmdError::Inhibited: return TEC_F("inhibited");
  }
  return TEC_F("error");
}

FlashStr safeReasonName(SafeReason r) {
  switch (r) {
    case SafeReason::Lease: return TEC_F("lease");
    case SafeReason::HubLost: return TEC_F("hub-lost");
    case SafeReason::Refused: return TEC_F("refused");
    case SafeReason::Inhibited: return TEC_F("inhibited");
  }
  return TEC_F("safe");
}

Safety::Safety(const ActuatorSpec* specs, uint8_t count, ApplyFn apply, void* applyCtx)
    : specs_(specs),
      count_(count > kMaxActuators ? kMaxActuators : count),
      apply_(apply),
      applyCtx_(applyCtx),
      listener_(),
      states_(),
      gate_(Gate::Closed),
      alive_(false),
      lastBeatMs_(0) {}

ActuatorSpec Safety::spec(uint8_t index) const {
  ActuatorSpec s;
  flashCopy(&s, &specs_[index], sizeof s);
  return s;
}

int Safety::find(const char* name) const {
  for (uint8_t i = 0; i < count_; i++) {
    if (flashEquals(FlashStr{spec(i).name}, name)) return i;
  }
  return -1;
}

void Safety::toSafe(uint8_t index, bool report, SafeReason why) {
  ActuatorState& st = states_[index];
  bool wasHeld = st.held;
  st.value = spec(index).safe;
  st.held = false;
  // Re-driven even when already safe: idempotent, and it repairs an output disturbed by noise.
  apply_(applyCtx_, index, st.value);
  if (report && wasHeld && listener_.actuatorSafe != nullptr) listener_.actuatorSafe(listener_.ctx, index, why);
}

void Safety::allToSafe(SafeReason why) {
  for (uint8_t i = 0; i < count_; i++) toSafe(i, true, why);
}

void Safety::begin() {
  gate_ = Gate::Closed;
  alive_ = false;
  for (uint8_t i = 0; i < count_; i++) {
    states_[i].inhibited = false;
    toSafe(i, false, SafeReason::Refused);
  }
}

void Safety::welcome(uint32_t now) {
  gate_ = Gate::Open;
  beat(now);
}

void Safety::open() {
  if (gate_ != Gate::Refused) gate_ = Gate::Open;
}

void Safety::refuse() {
  gate_ = Gate::Refused;
  alive_ = false;
  allToSafe(SafeReason::Refused);
}

void Safety::beat(uint32_t now) {
  lastBeatMs_ = now;
  alive_ = true;
}

void Safety::hubLost() {
  bool was = alive_;
  alive_ = false;
  allToSafe(SafeReason::HubLost);
  if (was && listener_.hubLost != nullptr) listener_.hubLost(listener_.ctx);
}

void Safety::inhibit(uint8_t index, bool on) {
  if (index >= count_ || states_[index].inhibited == on) return;
  states_[index].inhibited = on;
  if (on) toSafe(index, true, SafeReason::Inhibited);
}

CmdError Safety::admit(uint32_t now) const {
  if (gate_ == Gate::Closed) return CmdError::NotWelcomed;
  if (gate_ == Gate::Refused) return CmdError::Refused;
  // A heartbeat that ran out counts even before poll() noticed it.
  if (!alive_ || now - lastBeatMs_ >= kHubTimeoutMs) return CmdError::HubLost;
  return CmdError::None;
}

CmdError Safety::command(uint32_t now, const char* actuator, const char* value, const char* leaseMs) {
  CmdError e = admit(now);
  if (e != CmdError::None) return e;
  int index = actuator == nullptr ? -1 : find(actuator);
  if (index < 0) return CmdError::UnknownActuator;
  Milli v = 0;
  if (value == nullptr || !parseMilli(value, &v)) return CmdError::BadValue;
  uint32_t lease = 0;
  if (leaseMs == nullptr || !parseUint(leaseMs, &lease)) return CmdError::BadLease;
  return apply(now, static_cast<uint8_t>(index), v, lease);
}

CmdError Safety::command(uint32_t now, const char* actuator, Milli value, uint32_t leaseMs) {
  CmdError e = admit(now);
  if (e != CmdError::None) return e;
  int index = actuator == nullptr ? -1 : find(actuator);
  if (index < 0) return CmdError::UnknownActuator;
  return apply(now, static_cast<uint8_t>(index), value, leaseMs);
}

CmdError Safety::apply(uint32_t now, uint8_t index, Milli value, uint32_t leaseMs) {
  ActuatorSpec s = spec(index);
  if (leaseMs < kMinLeaseMs) return CmdError::BadLease;
  if (s.integer && value % 1000 != 0) return CmdError::BadValue;
  if (value < s.min || value > s.max) return CmdError::OutOfRange;
  ActuatorState& st = states_[index];
  if (st.inhibited) return value == s.safe ? CmdError::None : CmdError::Inhibited;
  st.value = value;
  st.sinceMs = now;
  st.leaseMs = leaseMs < s.leaseMs ? leaseMs : s.leaseMs;  // PROTOCOL.md: capped by its own leaseMs
  st.held = value != s.safe;
  apply_(applyCtx_, index, value);
  return CmdError::None;
}

void Safety::poll(uint32_t now) {
  if (alive_ && now - lastBeatMs_ >= kHubTimeoutMs) hubLost();
  for (uint8_t i = 0; i < count_; i++) {
    ActuatorState& st = states_[i];
    if (st.held && now - st.sinceMs >= st.leaseMs) toSafe(i, true, SafeReason::Lease);
  }
}

}  // namespace tec
