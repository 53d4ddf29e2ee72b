// The serial board: handshake, META, commands and ACKs, safety events, TELE and HEALTH lines.
#include <string>
#include <vector>

#include "tec_serial_board.h"
#include "tiny_test.h"

using tec::Milli;

namespace {

const char kPump[] = "pumpEnable";
const tec::ActuatorSpec kActuators[] = {{kPump, "Pomp", 0, 0, tec::milli(1), 10000, true}};
const tec::ChannelSpec kChannels[] = {
    {"tankTempC", "C", "Boiler temperatuur", 0, tec::milli(100), 1000},
    {"leak", "", nullptr, 0, tec::milli(1), 1000},
};

std::string line(const std::string& body) {
  char sum[4];
  std::snprintf(sum, sizeof sum, "%02X", tec::checksum(body.data(), body.size()));
  return body + "*" + sum + "\n";
}

struct Rig {
  std::vector<std::string> out;
  Milli pump = -1;
  uint32_t hubSeq = 0;
  tec::Safety safety{kActuators, 1, &Rig::apply, this};
  tec::SerialBoard board{tec::BoardInfo{TEC_F("TEC-TH-SERIAL"), TEC_F("1.0.0"), kChannels, 2}, safety, &Rig::write, this};

  static void apply(void* ctx, uint8_t, Milli v) { static_cast<Rig*>(ctx)->pump = v; }
  static void write(void* ctx, const char* data, size_t len) {
    static_cast<Rig*>(ctx)->out.push_back(std::string(data, len));
  }
  // Sends one hub line with the next hub seq; returns the lines the board wrote in answer.
  std::vector<std::string> send(const std::string& typeAndFields, uint32_t now) {
    std::string type = typeAndFields.substr(0, typeAndFields.find(' '));
    std::string rest = typeAndFields.size() > type.size() ? typeAndFields.substr(type.size()) : "";
    return raw(line(type + " seq=" + std::to_string(hubSeq++) + rest), now);
  }
  std::vector<std::string> raw(const std::string& bytes, uint32_t now) {
    size_t before = out.size();
    for (char c : bytes) board.feed(c, now);
    return std::vector<std::string>(out.begin() + static_cast<long>(before), out.end());
  }
  std::vector<std::string> poll(uint32_t now) {
    size_t before = out.size();
    board.poll(now);
    return std::vector<std::string>(out.begin() + static_cast<long>(before), out.end());
  }
};

bool startsWith(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

}  // namespace

TEST(boot_sends_hello_and_meta_with_valid_checksums_and_seq) {
  Rig r;
  r.board.begin(0, 17);
  CHECK_EQ(r.pump, 0);
  CHECK_EQ(r.out.size(), 6u);
  CHECK_EQ(r.out.at(0), std::string("\n"));  // ends a half line the hub may hold from before a reset
  CHECK_EQ(r.out.at(1), line("HELLO seq=0 proto=1 model=TEC-TH-SERIAL fw=1.0.0 boot=17"));
  CHECK_EQ(r.out.at(2), line("META seq=1 ch=tankTempC unit=C min=0 max=100 period=1000 label=Boiler%20temperatuur"));
  CHECK_EQ(r.out.at(3), line("META seq=2 ch=leak unit= min=0 max=1 period=1000"));
  CHECK_EQ(r.out.at(4), line("META seq=3 act=pumpEnable safe=0 lease=10000 min=0 max=1 label=Pomp"));
  CHECK_EQ(r.out.at(5), line("META seq=4 end=1 ch=2 act=1"));
}

TEST(hello_repeats_every_2s_until_welcome) {
  Rig r;
  r.board.begin(0, 1);
  CHECK(r.poll(1999).empty());
  std::vector<std::string> again = r.poll(2000);
  CHECK_EQ(again.size(), 1u);
  CHECK(startsWith(again.at(0), "HELLO seq=5 "));
  CHECK(r.send("WELCOME proto=2", 2100).empty());  // another protocol version: no welcome
  CHECK_EQ(r.board.counters().badLines, 1);
  CHECK_EQ(r.poll(4000).size(), 1u);
  CHECK(r.send("WELCOME proto=1", 4100).empty());
  CHECK(r.board.welcomed());
  r.send("BEAT", 5000);
  r.send("BEAT", 6000);
  CHECK(r.poll(6500).empty());
}

TEST(command_before_welcome_is_refused) {
  Rig r;
  r.board.begin(0, 1);
  std::vector<std::string> ack = r.send("CMD id=c1 act=pumpEnable value=1 lease=2000", 10);
  CHECK_EQ(ack.size(), 1u);
  CHECK_EQ(ack.at(0), line("ACK seq=5 id=c1 ok=0 err=not-welcomed"));
  CHECK_EQ(r.pump, 0);
}

TEST(command_lease_and_heartbeat_loss) {
  Rig r;
  r.board.begin(0, 1);
  r.send("WELCOME proto=1", 100);
  std::vector<std::string> ack = r.send("CMD id=c%201 act=pumpEnable value=1 lease=2000", 200);
  CHECK_EQ(ack.size(), 1u);
  CHECK_EQ(ack.at(0), line("ACK seq=5 id=c%201 ok=1"));
  CHECK_EQ(r.pump, tec::milli(1));
  r.send("BEAT", 1000);
  CHECK(r.poll(2199).empty());
  std::vector<std::string> ev = r.poll(2200);
  CHECK_EQ(ev.size(), 1u);
  CHECK_EQ(ev.at(0), line("EVENT seq=6 type=actuator-safe detail=pumpEnable:lease"));
  CHECK_EQ(r.pump, 0);

  r.send("BEAT", 2500);
  CHECK_EQ(r.send("CMD id=c2 act=pumpEnable value=1 lease=10000", 2600).size(), 1u);
  CHECK_EQ(r.pump, tec::milli(1));
  CHECK(r.poll(5499).empty());
  ev = r.poll(5500);  // 3 s after the beat at 2500
  CHECK_EQ(r.pump, 0);
  CHECK_EQ(ev.size(), 2u);
  CHECK(startsWith(ev.at(0), "EVENT seq=8 type=actuator-safe detail=pumpEnable:hub-lost*"));
  CHECK(startsWith(ev.at(1), "EVENT seq=9 type=hub-lost*"));
  ack = r.send("CMD id=c3 act=pumpEnable value=1 lease=10000", 5600);
  CHECK_EQ(ack.at(0), line("ACK seq=10 id=c3 ok=0 err=hub-lost"));
  CHECK_EQ(r.pump, 0);
  r.send("BEAT", 6000);  // beats resume
  ack = r.send("CMD id=c4 act=pumpEnable value=1 lease=10000", 6100);
  CHECK_EQ(ack.at(0), line("ACK seq=11 id=c4 ok=1"));
}

TEST(out_of_range_and_unknown_commands_are_refused) {
  Rig r;
  r.board.begin(0, 1);
  r.send("WELCOME proto=1", 0);
  CHECK_EQ(r.send("CMD id=a act=pumpEnable value=2 lease=1000", 1).at(0), line("ACK seq=5 id=a ok=0 err=out-of-range"));
  CHECK_EQ(r.send("CMD id=b act=heater value=1 lease=1000", 2).at(0), line("ACK seq=6 id=b ok=0 err=unknown-actuator"));
  CHECK_EQ(r.send("CMD id=c act=pumpEnable value=x lease=1000", 3).at(0), line("ACK seq=7 id=c ok=0 err=bad-value"));
  CHECK_EQ(r.send("CMD id=d act=pumpEnable value=1", 4).at(0), line("ACK seq=8 id=d ok=0 err=bad-lease"));
  CHECK_EQ(r.pump, 0);
  CHECK(r.send("CMD act=pumpEnable value=1 lease=1000", 5).empty());  // no id: nothing to answer
  CHECK_EQ(r.board.counters().badLines, 1);
  CHECK_EQ(r.pump, 0);
}

TEST(bad_lines_are_counted_and_ignored) {
  Rig r;
  r.board.begin(0, 1);
  r.send("WELCOME proto=1", 0);
  CHECK(r.raw("CMD seq=9 id=x act=pumpEnable value=1 lease=1000*00\n", 1).empty());
  CHECK(r.raw("CMD id=x act=pumpEnable value=1 lease=1000*00\n", 1).empty());
  CHECK(r.raw(std::string(400, '#') + "\n", 1).empty());
  CHECK(r.raw("\n\r\n", 1).empty());  // empty lines are not errors
  CHECK(r.raw(std::string("\xff\x00garbage\n", 10), 1).empty());
  CHECK_EQ(r.pump, 0);
  CHECK_EQ(r.board.counters().badLines, 4);
  r.hubSeq = 1;
  CHECK(r.send("PING", 2).empty());
  CHECK_EQ(r.board.counters().unknownTypes, 1);
  std::vector<std::string> h = r.send("BEAT", 3);  // keeps the link alive for health()
  CHECK(r.board.health(5000, TEC_F("ok"), 900, tec::FlashStr{nullptr}));
  CHECK_EQ(r.out.back(), line("HEALTH seq=5 state=ok up=5 boot=1 heap=900 detail=rx-bad:4,unknown:1,gaps:0"));
}

TEST(hub_seq_gaps_are_counted) {
  Rig r;
  r.board.begin(0, 1);
  r.send("WELCOME proto=1", 0);
  r.send("BEAT", 1);
  r.hubSeq += 3;
  r.send("BEAT", 2);
  r.hubSeq -= 1;
  r.send("BEAT", 3);  // a repeat
  CHECK_EQ(r.board.counters().seqGaps, 2);
}

TEST(refuse_keeps_safe_and_who_starts_over) {
  Rig r;
  r.board.begin(0, 1);
  r.send("WELCOME proto=1", 0);
  r.send("CMD id=a act=pumpEnable value=1 lease=5000", 1);
  CHECK_EQ(r.pump, tec::milli(1));
  r.send("REFUSE reason=old", 2);
  CHECK_EQ(r.pump, 0);
  CHECK_EQ(r.send("CMD id=b act=pumpEnable value=1 lease=5000", 3).at(0).find("err=refused") != std::string::npos, true);
  CHECK(r.poll(10000).empty());  // no HELLO repeats after a refusal
  CHECK(!r.board.tele(10000, nullptr));
  std::vector<std::string> again = r.send("WHO", 10001);
  CHECK_EQ(again.size(), 5u);
  CHECK(startsWith(again.at(0), "HELLO "));
  CHECK(startsWith(again.at(4), "META "));
  CHECK_EQ(r.poll(12001).size(), 1u);  // HELLO repeats again until a WELCOME
}

TEST(tele_only_once_welcomed_and_skips_missing_readings) {
  Rig r;
  r.board.begin(0, 1);
  Milli readings[2] = {54200, 0};
  CHECK(!r.board.tele(1000, readings));
  CHECK(!r.board.health(1000, TEC_F("ok"), -1, tec::FlashStr{nullptr}));
  r.send("WELCOME proto=1", 1000);
  CHECK(r.board.tele(2000, readings));
  CHECK_EQ(r.out.back(), line("TELE seq=5 ts=2000 tankTempC=54.2 leak=0"));
  readings[0] = tec::kNoReading;
  CHECK(r.board.tele(3000, readings));
  CHECK_EQ(r.out.back(), line("TELE seq=6 ts=3000 leak=0"));
  CHECK(r.board.health(3000, TEC_F("degraded"), -1, TEC_F("tankTempC sensor open")));
  CHECK_EQ(r.out.back(), line("HEALTH seq=7 state=degraded up=3 boot=1 detail=tankTempC%20sensor%20open"));
}
