// The serial line codec: checksum, parsing, refusals, encoding and round trips.
#include <string>

#include "tec_line.h"
#include "tiny_test.h"

using tec::LineReader;
using tec::LineWriter;
using tec::ParseError;

namespace {

std::string withChecksum(const std::string& body) {
  char sum[4];
  std::snprintf(sum, sizeof sum, "%02X", tec::checksum(body.data(), body.size()));
  return body + "*" + sum;
}

// Feeds a whole text (newlines included) and returns the result of the last byte.
LineReader::Result feedAll(LineReader& r, const std::string& text) {
  LineReader::Result last = LineReader::Result::Pending;
  for (char c : text) last = r.feed(c);
  return last;
}

ParseError parse(const std::string& line) {
  LineReader r;
  LineReader::Result res = feedAll(r, line + "\n");
  return res == LineReader::Result::Line ? ParseError::None : r.error();
}

}  // namespace

TEST(checksum_is_xor_of_bytes_before_star) {
  CHECK_EQ(tec::checksum("", 0), 0);
  CHECK_EQ(tec::checksum("A", 1), 0x41);
  CHECK_EQ(tec::checksum("AB", 2), 0x41 ^ 0x42);
  // PROTOCOL.md's sample line shows *6B, but the XOR of its bytes is 0x28: the sample is wrong,
  // the rule ("the XOR of every byte before the *", as NMEA 0183) is what is implemented.
  const char* sample = "TELE seq=42 ts=123456 tankTempC=54.2 leak=0";
  CHECK_EQ(tec::checksum(sample, std::strlen(sample)), 0x28);
  CHECK_EQ(parse(std::string(sample) + "*28"), ParseError::None);
  CHECK_EQ(parse(std::string(sample) + "*6B"), ParseError::BadChecksum);
}

TEST(parses_type_seq_and_fields) {
  LineReader r;
  CHECK(feedAll(r, withChecksum("CMD seq=7 id=abc act=pumpEnable value=1 lease=2000") + "\r\n") ==
        LineReader::Result::Line);
  const tec::Line& l = r.line();
  CHECK_STR(l.type, "CMD");
  CHECK_EQ(l.seq, 7u);
  CHECK_EQ(l.count, 5);
  CHECK_STR(l.get(TEC_F("id")), "abc");
  CHECK_STR(l.get(TEC_F("act")), "pumpEnable");
  CHECK_STR(l.get(TEC_F("lease")), "2000");
  CHECK(l.get(TEC_F("nothing")) == nullptr);
  CHECK(l.isType(TEC_F("CMD")));
}

TEST(empty_values_and_bare_words) {
  LineReader r;
  CHECK(feedAll(r, withChecksum("META seq=3 end ch=3 unit=") + "\n") == LineReader::Result::Line);
  CHECK_STR(r.line().get(TEC_F("end")), "");
  CHECK_STR(r.line().get(TEC_F("unit")), "");
  CHECK_STR(r.line().get(TEC_F("ch")), "3");
}

TEST(percent_decoding) {
  LineReader r;
  CHECK(feedAll(r, withChecksum("EVENT seq=1 detail=Boiler%20temperatuur%3D90%25%2A") + "\n") ==
        LineReader::Result::Line);
  CHECK_STR(r.line().get(TEC_F("detail")), "Boiler temperatuur=90%*");
  CHECK_EQ(parse(withChecksum("EVENT seq=1 detail=%2")), ParseError::Malformed);
  CHECK_EQ(parse(withChecksum("EVENT seq=1 detail=%G0")), ParseError::Malformed);
  CHECK_EQ(parse(withChecksum("EVENT seq=1 detail=%00")), ParseError::Malformed);
  CHECK_EQ(parse(withChecksum("EVENT seq=1 detail=a=b")), ParseError::Malformed);
}

TEST(refuses_bad_checksums) {
  std::string good = withChecksum("BEAT seq=1");
  CHECK_EQ(parse(good), ParseError::None);
  std::string wrong = good;
  wrong[wrong.size() - 1] = wrong[wrong.size() - 1] == '0' ? '1' : '0';
  CHECK_EQ(parse(wrong), ParseError::BadChecksum);
  CHECK_EQ(parse("BEAT seq=1"), ParseError::BadChecksum);                // none at all
  CHECK_EQ(parse("BEAT seq=1*"), ParseError::BadChecksum);               // no digits
  CHECK_EQ(parse("BEAT seq=1*4"), ParseError::BadChecksum);              // one digit
  CHECK_EQ(parse(good + "0"), ParseError::BadChecksum);                  // three digits
  CHECK_EQ(parse("BEAT seq=1*ZZ"), ParseError::BadChecksum);             // not hex
  CHECK_EQ(parse(withChecksum("BEAT seq=1 x=a*b")), ParseError::BadChecksum);  // raw star
  // A flipped data byte is caught too.
  std::string flipped = good;
  flipped[5] = 'x';
  CHECK_EQ(parse(flipped), ParseError::BadChecksum);
  // Lower-case hex is accepted (NMEA readers do the same); the board always writes upper case.
  std::string lower = withChecksum("BEAT seq=12");
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'F' && &c > &lower[10] ? c - 'A' + 'a' : c);
  CHECK_EQ(parse(lower), ParseError::None);
}

TEST(refuses_missing_or_bad_seq) {
  CHECK_EQ(parse(withChecksum("BEAT")), ParseError::MissingSeq);
  CHECK_EQ(parse(withChecksum("BEAT id=1")), ParseError::MissingSeq);
  CHECK_EQ(parse(withChecksum("BEAT seq=")), ParseError::MissingSeq);
  CHECK_EQ(parse(withChecksum("BEAT seq=-1")), ParseError::MissingSeq);
  CHECK_EQ(parse(withChecksum("BEAT seq=1x")), ParseError::MissingSeq);
  CHECK_EQ(parse(withChecksum("BEAT seq=4294967296")), ParseError::MissingSeq);
  CHECK_EQ(parse(withChecksum("BEAT seq=4294967295")), ParseError::None);
}

TEST(refuses_garbage) {
  CHECK_EQ(parse(withChecksum("beat seq=1")), ParseError::Garbage);
  CHECK_EQ(parse(withChecksum(" BEAT seq=1")), ParseError::Garbage);
  CHECK_EQ(parse(withChecksum("BEAT seq=1\x01")), ParseError::Garbage);
  CHECK_EQ(parse(withChecksum("BEAT seq=1 x=\xc3\xa9")), ParseError::Garbage);
  CHECK_EQ(parse(std::string("\0\0BEAT", 6)), ParseError::Garbage);
  CHECK_EQ(parse("~~~~~~~~"), ParseError::BadChecksum);
  CHECK_EQ(parse(withChecksum("BEAT  seq=1")), ParseError::Malformed);   // double space
  CHECK_EQ(parse(withChecksum("BEAT seq=1 ")), ParseError::Malformed);   // trailing space
  CHECK_EQ(parse(withChecksum("BEAT seq=1 9x=1")), ParseError::Malformed);
  CHECK_EQ(parse(withChecksum("BEAT seq=1 =1")), ParseError::Malformed);
  CHECK_EQ(parse(withChecksum("BEAT seq=1 seq=2")), ParseError::Malformed);  // repeated key
  CHECK_EQ(parse(""), ParseError::Empty);
}

TEST(refuses_overlong_lines_and_recovers) {
  std::string body = "EVENT seq=1 detail=";
  std::string fits = withChecksum(body + std::string(tec::kMaxLine - body.size() - 3, 'x'));
  CHECK_EQ(fits.size(), tec::kMaxLine);
  CHECK_EQ(parse(fits), ParseError::None);
  CHECK_EQ(parse(fits + "\r"), ParseError::None);  // the \r does not count
  std::string tooLong = withChecksum(body + std::string(tec::kMaxLine - body.size() - 2, 'x'));
  CHECK_EQ(parse(tooLong), ParseError::Overlong);
  LineReader r;
  CHECK(feedAll(r, std::string(5000, 'A') + "\n") == LineReader::Result::Error);
  CHECK_EQ(r.error(), ParseError::Overlong);
  CHECK(feedAll(r, withChecksum("BEAT seq=2") + "\n") == LineReader::Result::Line);
  CHECK_EQ(r.line().seq, 2u);
}

TEST(refuses_too_many_fields) {
  std::string body = "X seq=1";
  for (int i = 0; i < tec::kMaxFields - 1; i++) body += " k" + std::to_string(i) + "=1";
  CHECK_EQ(parse(withChecksum(body)), ParseError::None);
  CHECK_EQ(parse(withChecksum(body + " one=more")), ParseError::TooManyFields);
}

TEST(numbers) {
  tec::Milli m = 0;
  CHECK(tec::parseMilli("54.2", &m));
  CHECK_EQ(m, 54200);
  CHECK(tec::parseMilli("-12.5", &m));
  CHECK_EQ(m, -12500);
  CHECK(tec::parseMilli("0.001", &m));
  CHECK_EQ(m, 1);
  CHECK(tec::parseMilli("0.0019", &m));  // past the third decimal: cut off
  CHECK_EQ(m, 1);
  CHECK(tec::parseMilli("2147483.647", &m));
  CHECK_EQ(m, 2147483647);
  CHECK(!tec::parseMilli("2147483.648", &m));
  CHECK(!tec::parseMilli("99999999", &m));
  for (const char* bad : {"", "-", ".5", "1.", "1e3", "0x10", "1,5", "+1", " 1", "1 "}) {
    if (tec::parseMilli(bad, &m)) tiny::fail(__FILE__, __LINE__, std::string("parseMilli accepted ") + bad);
  }
  uint32_t u = 0;
  CHECK(tec::parseUint("4294967295", &u));
  CHECK_EQ(u, 4294967295u);
  CHECK(!tec::parseUint("", &u));
  CHECK(!tec::parseUint(nullptr, &u));
}

TEST(writer_formats_numbers) {
  LineWriter w;
  w.begin(TEC_F("TELE"), 0);
  w.fixed(TEC_F("a"), 54200).fixed(TEC_F("b"), -12500).fixed(TEC_F("c"), 0).fixed(TEC_F("d"), 1);
  w.fixed(TEC_F("e"), INT32_MIN).i32(TEC_F("f"), -7).u32(TEC_F("g"), 4294967295u);
  CHECK(w.finish());
  std::string expect = "TELE seq=0 a=54.2 b=-12.5 c=0 d=0.001 e=-2147483.648 f=-7 g=4294967295";
  CHECK_EQ(std::string(w.data()), withChecksum(expect) + "\n");
}

TEST(writer_percent_encodes_text) {
  LineWriter w;
  w.begin(TEC_F("EVENT"), 3);
  w.text(TEC_F("detail"), "tank above 90 C: 5% = *\n\xff");
  CHECK(w.finish());
  CHECK_EQ(std::string(w.data()), withChecksum("EVENT seq=3 detail=tank%20above%2090%20C:%205%25%20%3D%20%2A%0A%FF") + "\n");
}

TEST(round_trip_through_reader) {
  const char* texts[] = {"plain", "with space", "100%", "a=b", "x*y", "tab\there", "", "ünïcode"};
  for (const char* t : texts) {
    LineWriter w;
    w.begin(TEC_F("ACK"), 99);
    w.text(TEC_F("id"), t).u32(TEC_F("ok"), 0).fixed(TEC_F("v"), -1500);
    CHECK(w.finish());
    LineReader r;
    LineReader::Result res = feedAll(r, std::string(w.data(), w.size()));
    CHECK(res == LineReader::Result::Line);
    if (res != LineReader::Result::Line) continue;
    CHECK_STR(r.line().type, "ACK");
    CHECK_EQ(r.line().seq, 99u);
    CHECK_STR(r.line().get(TEC_F("id")), t);
    tec::Milli v = 0;
    CHECK(tec::parseMilli(r.line().get(TEC_F("v")), &v));
    CHECK_EQ(v, -1500);
  }
}

TEST(writer_refuses_a_line_that_does_not_fit) {
  LineWriter w;
  w.begin(TEC_F("EVENT"), 1);
  w.text(TEC_F("detail"), std::string(300, 'x').c_str());
  CHECK(!w.finish());
  CHECK_EQ(w.size(), 0u);
  // Exactly kMaxLine characters still fit.
  std::string body = "EVENT seq=1 detail=";
  w.begin(TEC_F("EVENT"), 1);
  w.text(TEC_F("detail"), std::string(tec::kMaxLine - body.size() - 3, 'y').c_str());
  CHECK(w.finish());
  CHECK_EQ(w.size(), tec::kMaxLine + 1);
}
