// The serial framing of the TEC device contract (firmware-bridge/PROTOCOL.md, "Serial framing"):
//
//   TELE seq=42 ts=123456 tankTempC=54.2 leak=0*6B
//
// A line is a type word, `key=value` fields separated by single spaces, `*` and the XOR of every
// byte before it in two hex digits (as NMEA 0183), then `\n` (a `\r` before it is ignored); at
// most 240 characters. Text values are percent-encoded where they hold a space, `%`, `=` or `*`.
//
// Fixed buffers only, no heap: the reader parses in place and hands out pointers into its buffer.
#ifndef TEC_LINE_H
#define TEC_LINE_H

#include <stddef.h>
#include <stdint.h>

#include "tec_flash.h"

namespace tec {

/** Longest line, checksum included, `\r\n` excluded (PROTOCOL.md: "at most 240 characters"). */
const size_t kMaxLine = 240;
/** Fields per line, `seq` included. The hub's longest line (CMD) has five. */
const uint8_t kMaxFields = 12;

/** Numbers on the wire are fixed-point thousandths: 54.2 is 54200. No float code on the AVR. */
typedef int32_t Milli;
/** constexpr matters: a TEC_PROGMEM table initialised through a non-constexpr call would be
 *  initialised at run time, i.e. written to flash addresses, and silently read back as zeros. */
constexpr Milli milli(int32_t units) { return units * 1000; }

/** XOR of `len` bytes (the checksum of everything before the `*`). */
uint8_t checksum(const char* data, size_t len);

enum class ParseError : uint8_t {
  None = 0,
  Empty,        // a bare newline: ignored, not counted
  Overlong,     // more than kMaxLine characters
  Garbage,      // a byte outside printable ASCII, or no type word
  BadChecksum,  // missing, malformed or wrong `*XX`
  Malformed,    // empty field, bad key, bad percent escape, `=` in a value, repeated key
  TooManyFields,
  MissingSeq,   // no `seq=`, or not a decimal number
};
/** A short kebab-case name for counting and for `err=` fields. */
FlashStr parseErrorName(ParseError e);

/** One parsed line. The pointers point into the LineReader's buffer: valid until the next feed. */
struct Line {
  const char* type;
  uint32_t seq;
  uint8_t count;
  const char* keys[kMaxFields];
  const char* values[kMaxFields];  // percent-decoded; "" for `key=` and for a bare word

  /** The value of `key`, or nullptr when the line has no such field. */
  const char* get(FlashStr key) const;
  bool isType(FlashStr t) const { return flashEquals(t, type); }
};

/**
 * Parses `text` (one line without its `\n`, `\r` already stripped) in place: the buffer is cut
 * into NUL-terminated words and values are percent-decoded where they stand.
 */
ParseError parseLine(char* text, size_t len, Line& out);

/** Decimal unsigned integer, digits only, no sign: "0", "42". */
bool parseUint(const char* s, uint32_t* out);
/** Plain decimal ("-12.5", "1", "0.001") into thousandths; digits past the third are cut off. */
bool parseMilli(const char* s, Milli* out);

/** Collects bytes into lines and parses each one as it completes. */
class LineReader {
 public:
  enum class Result : uint8_t { Pending, Line, Error };

  LineReader() : len_(0), overflow_(false), error_(ParseError::None) {}

  Result feed(char c);
  const Line& line() const { return line_; }
  ParseError error() const { return error_; }
  void clear() { len_ = 0; overflow_ = false; }

 private:
  char buf_[kMaxLine + 2];  // the line, a possible trailing `\r`, and a NUL
  uint8_t len_;
  bool overflow_;
  ParseError error_;
  Line line_;
};

/**
 * Builds one outgoing line: begin(), fields, finish(). A line that would exceed kMaxLine is not
 * truncated but refused as a whole (finish() returns false), so a cut-off field never goes out.
 */
class LineWriter {
 public:
  LineWriter() : len_(0), overflow_(false) { buf_[0] = '\0'; }

  void begin(FlashStr type, uint32_t seq);
  LineWriter& text(FlashStr key, const char* value);  // percent-encoded RAM text
  LineWriter& text(FlashStr key, FlashStr value);     // percent-encoded flash text
  LineWriter& u32(FlashStr key, uint32_t value);
  LineWriter& i32(FlashStr key, int32_t value);
  LineWriter& fixed(FlashStr key, Milli value);  // 54200 -> "54.2", 1000 -> "1"
  /** Appends to the value of the last field: `text(key, a).more(b)` writes `key=ab`. */
  LineWriter& more(FlashStr value);
  LineWriter& moreU32(uint32_t value);
  /** Appends `*XX\n`. False if anything did not fit: the line must then not be sent. */
  bool finish();

  const char* data() const { return buf_; }
  size_t size() const { return len_; }

 private:
  void put(char c);
  void putFlash(FlashStr s);
  void putEncoded(char c);
  void putUint(uint32_t v);
  void startField(FlashStr key);

  char buf_[kMaxLine + 2];  // the line, `\n` and a NUL
  uint8_t len_;
  bool overflow_;
};

}  // namespace tec

#endif
