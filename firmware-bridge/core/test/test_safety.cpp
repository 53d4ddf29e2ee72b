// Leases, the hub heartbeat watch and command validation, driven by a test clock.
#include <string>
#include <vector>

#include "tec_safety.h"
#include "tiny_test.h"

using tec::CmdError;
using tec::Safety;
using tec::SafeReason;

namespace {

const char kPump[] = "pumpEnable";
const char kDimmer[] = "dimmerPct";
const tec::ActuatorSpec kSpecs[] = {
    {kPump, "Pomp", 0, 0, tec::milli(1), 10000, true},
    {kDimmer, nullptr, tec::milli(10), 0, tec::milli(100), 5000, false},
};

struct Rig {
  std::vector<tec::Milli> outputs = std::vector<tec::Milli>(2, -1);
  std::vector<std::string> events;
  Safety safety{kSpecs, 2, &Rig::apply, this};

  Rig() {
    tec::SafetyListener l;
    l.actuatorSafe = &Rig::safe;
    l.hubLost = &Rig::lost;
    l.ctx = this;
    safety.setListener(l);
    safety.begin();
  }
  static void apply(void* ctx, uint8_t i, tec::Milli v) { static_cast<Rig*>(ctx)->outputs.at(i) = v; }
  static void safe(void* ctx, uint8_t i, SafeReason why) {
    static_cast<Rig*>(ctx)->events.push_back(std::string(kSpecs[i].name) + ":" + tec::safeReasonName(why).p);
  }
  static void lost(void* ctx) { static_cast<Rig*>(ctx)->events.push_back("hub-lost"); }
};

}  // namespace

TEST(starts_safe_and_refuses_before_welcome) {
  Rig r;
  CHECK_EQ(r.outputs[0], 0);
  CHECK_EQ(r.outputs[1], tec::milli(10));
  CHECK(r.safety.command(0, kPump, tec::milli(1), 1000) == CmdError::NotWelcomed);
  r.safety.beat(0);  // a beat is no welcome
  CHECK(r.safety.command(0, kPump, tec::milli(1), 1000) == CmdError::NotWelcomed);
  CHECK_EQ(r.outputs[0], 0);
}

TEST(command_applies_and_lease_runs_out_to_safe) {
  Rig r;
  r.safety.welcome(1000);
  CHECK(r.safety.command(1000, kPump, tec::milli(1), 2000) == CmdError::None);
  CHECK_EQ(r.outputs[0], tec::milli(1));
  for (uint32_t t = 1000; t < 3000; t += 500) {
    r.safety.beat(t);
    r.safety.poll(t);
  }
  r.safety.poll(2999);
  CHECK_EQ(r.outputs[0], tec::milli(1));
  r.safety.poll(3000);
  CHECK_EQ(r.outputs[0], 0);
  CHECK_EQ(r.events.size(), 1u);
  CHECK_EQ(r.events.at(0), std::string("pumpEnable:lease"));
  r.safety.poll(4000);  // reported once
  CHECK_EQ(r.events.size(), 1u);
}

TEST(refresh_extends_the_lease) {
  Rig r;
  r.safety.welcome(0);
  CHECK(r.safety.command(0, kPump, tec::milli(1), 1000) == CmdError::None);
  r.safety.beat(700);
  CHECK(r.safety.command(700, kPump, tec::milli(1), 1000) == CmdError::None);
  r.safety.poll(1500);
  CHECK_EQ(r.outputs[0], tec::milli(1));
  r.safety.poll(1700);
  CHECK_EQ(r.outputs[0], 0);
}

TEST(lease_is_capped_by_the_actuator) {
  Rig r;
  r.safety.welcome(0);
  CHECK(r.safety.command(0, kDimmer, tec::milli(50), 3600000) == CmdError::None);
  for (uint32_t t = 0; t <= 4900; t += 700) r.safety.beat(t);
  r.safety.poll(4999);
  CHECK_EQ(r.outputs[1], tec::milli(50));
  r.safety.poll(5000);  // the dimmer's own leaseMs
  CHECK_EQ(r.outputs[1], tec::milli(10));
}

TEST(heartbeat_loss_makes_everything_safe_and_refuses_commands) {
  Rig r;
  r.safety.welcome(0);
  CHECK(r.safety.command(0, kPump, tec::milli(1), 10000) == CmdError::None);
  CHECK(r.safety.command(0, kDimmer, tec::milli(80), 5000) == CmdError::None);
  r.safety.beat(1000);
  r.safety.poll(3999);
  CHECK(r.safety.hubAlive());
  CHECK_EQ(r.outputs[0], tec::milli(1));
  r.safety.poll(4000);  // 3 s after the last beat
  CHECK(!r.safety.hubAlive());
  CHECK_EQ(r.outputs[0], 0);
  CHECK_EQ(r.outputs[1], tec::milli(10));
  CHECK_EQ(r.events.size(), 3u);
  CHECK_EQ(r.events.at(0), std::string("pumpEnable:hub-lost"));
  CHECK_EQ(r.events.at(1), std::string("dimmerPct:hub-lost"));
  CHECK_EQ(r.events.at(2), std::string("hub-lost"));
  CHECK(r.safety.command(4100, kPump, tec::milli(1), 1000) == CmdError::HubLost);
  CHECK_EQ(r.outputs[0], 0);
  r.safety.beat(5000);  // beats resume: commands again, nothing switched back on by itself
  CHECK_EQ(r.outputs[0], 0);
  CHECK(r.safety.command(5000, kPump, tec::milli(1), 1000) == CmdError::None);
  CHECK_EQ(r.outputs[0], tec::milli(1));
}

TEST(stale_heartbeat_refuses_even_before_poll) {
  Rig r;
  r.safety.welcome(0);
  CHECK(r.safety.command(3000, kPump, tec::milli(1), 1000) == CmdError::HubLost);
  CHECK_EQ(r.outputs[0], 0);
}

TEST(hub_offline_is_safe_at_once) {
  Rig r;
  r.safety.open();
  r.safety.beat(0);
  CHECK(r.safety.command(0, kPump, tec::milli(1), 10000) == CmdError::None);
  r.safety.hubLost();
  CHECK_EQ(r.outputs[0], 0);
  CHECK(r.safety.command(10, kPump, tec::milli(1), 10000) == CmdError::HubLost);
}

TEST(validates_commands) {
  Rig r;
  r.safety.welcome(0);
  CHECK(r.safety.command(0, "boilerEnable", tec::milli(1), 1000) == CmdError::UnknownActuator);
  CHECK(r.safety.command(0, nullptr, tec::milli(1), 1000) == CmdError::UnknownActuator);
  CHECK(r.safety.command(0, kPump, tec::milli(2), 1000) == CmdError::OutOfRange);
  CHECK(r.safety.command(0, kPump, -tec::milli(1), 1000) == CmdError::OutOfRange);
  CHECK(r.safety.command(0, kDimmer, tec::milli(101), 1000) == CmdError::OutOfRange);
  CHECK(r.safety.command(0, kPump, 500, 1000) == CmdError::BadValue);  // 0.5 of a relay
  CHECK(r.safety.command(0, kDimmer, 500, 1000) == CmdError::None);    // a dimmer takes 0.5
  CHECK(r.safety.command(0, kPump, tec::milli(1), 99) == CmdError::BadLease);
  CHECK(r.safety.command(0, kPump, "1", nullptr) == CmdError::BadLease);
  CHECK(r.safety.command(0, kPump, "one", "1000") == CmdError::BadValue);
  CHECK(r.safety.command(0, kPump, nullptr, "1000") == CmdError::BadValue);
  CHECK(r.safety.command(0, kPump, "1e3", "1000") == CmdError::BadValue);
  CHECK(r.safety.command(0, kPump, "1", "-5") == CmdError::BadLease);
  CHECK_EQ(r.outputs[0], 0);  // nothing refused was applied
  CHECK(r.safety.command(0, kPump, "1", "1000") == CmdError::None);
  CHECK_EQ(r.outputs[0], tec::milli(1));
  CHECK_STR(tec::cmdErrorName(CmdError::OutOfRange).p, "out-of-range");
  CHECK_STR(tec::cmdErrorName(CmdError::HubLost).p, "hub-lost");
}

TEST(refuse_keeps_everything_safe) {
  Rig r;
  r.safety.welcome(0);
  CHECK(r.safety.command(0, kPump, tec::milli(1), 5000) == CmdError::None);
  r.safety.refuse();
  CHECK_EQ(r.outputs[0], 0);
  CHECK(r.safety.refused());
  r.safety.beat(10);
  CHECK(r.safety.command(10, kPump, tec::milli(1), 5000) == CmdError::Refused);
  r.safety.open();  // MQTT's open() does not undo a refusal
  CHECK(r.safety.command(10, kPump, tec::milli(1), 5000) == CmdError::Refused);
  r.safety.welcome(20);  // a later WELCOME does
  CHECK(r.safety.command(20, kPump, tec::milli(1), 5000) == CmdError::None);
}

TEST(inhibit_holds_safe) {
  Rig r;
  r.safety.welcome(0);
  CHECK(r.safety.command(0, kPump, tec::milli(1), 5000) == CmdError::None);
  r.safety.inhibit(0, true);
  CHECK_EQ(r.outputs[0], 0);
  CHECK_EQ(r.events.at(0), std::string("pumpEnable:inhibited"));
  CHECK(r.safety.command(10, kPump, tec::milli(1), 5000) == CmdError::Inhibited);
  CHECK(r.safety.command(10, kPump, 0, 5000) == CmdError::None);  // safe is always allowed
  r.safety.inhibit(0, false);
  CHECK(r.safety.command(20, kPump, tec::milli(1), 5000) == CmdError::None);
  CHECK_EQ(r.outputs[0], tec::milli(1));
}

TEST(millis_wrap_around) {
  Rig r;
  uint32_t t0 = 0xFFFFFC00u;  // 1 s before the 49-day wrap
  r.safety.welcome(t0);
  CHECK(r.safety.command(t0, kPump, tec::milli(1), 2000) == CmdError::None);
  r.safety.beat(t0 + 1000);  // wraps to 0xE8
  r.safety.poll(t0 + 1999);
  CHECK_EQ(r.outputs[0], tec::milli(1));
  r.safety.poll(t0 + 2000);
  CHECK_EQ(r.outputs[0], 0);
  r.safety.poll(t0 + 3999);
  CHECK(r.safety.hubAlive());
  r.safety.poll(t0 + 4000);
  CHECK(!r.safety.hubAlive());
}
