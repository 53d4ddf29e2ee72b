#include "tec_line.h"

namespace tec {

namespace {

const char kHex[] TEC_PROGMEM = "0123456789ABCDEF";

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;  // PROTOCOL.md writes upper case; accept both
  return -1;
}

bool isPrintable(char c) { return c >= 0x20 && c <= 0x7e; }
bool isUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool isAlpha(char c) { return isUpper(c) || (c >= 'a' && c <= 'z'); }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

bool validKey(const char* k) {
  if (!isAlpha(k[0])) return false;
  for (const char* p = k + 1; *p != '\0'; p++) {
    if (!isAlpha(*p) && !isDigit(*p)) return false;
  }
  return true;
}

bool sameString(const char* a, const char* b) { return strcmp(a, b) == 0; }

// Decodes %XX in place. Refuses a broken escape, a NUL, and a raw `=` (PROTOCOL.md: text holding
// `=` is percent-encoded, so a raw one means the sender framed the field wrongly).
bool percentDecode(char* s) {
  char* out = s;
  for (const char* in = s; *in != '\0'; in++) {
    if (*in == '=') return false;
    if (*in != '%') {
      *out++ = *in;
      continue;
    }
    int hi = hexValue(in[1]);
    int lo = hi < 0 ? -1 : hexValue(in[2]);
    if (lo < 0) return false;
    char c = static_cast<char>((hi << 4) | lo);
    if (c == '\0') return false;
    *out++ = c;
    in += 2;
  }
  *out = '\0';
  return true;
}

}  // namespace

uint8_t checksum(const char* data, size_t len) {
  uint8_t x = 0;
  for (size_t i = 0; i < len; i++) x ^= static_cast<uint8_t>(data[i]);
  return x;
}

FlashStr parseErrorName(ParseError e) {
  switch (e) {
    case ParseError::None: return TEC_F("none");
    case ParseError::Empty: return TEC_F("empty");
    case ParseError::Overlong: return TEC_F("overlong");
    case ParseError::Garbage: return TEC_F("garbage");
    case ParseError::BadChecksum: return TEC_F("bad-checksum");
    case ParseError::Malformed: return TEC_F("malformed");
    case ParseError::TooManyFields: return TEC_F("too-many-fields");
    case ParseError::MissingSeq: return TEC_F("missing-seq");
  }
  return TEC_F("unknown");
}

const char* Line::get(FlashStr key) const {
  for (uint8_t i = 0; i < count; i++) {
    if (flashEquals(key, keys[i])) return values[i];
  }
  return nullptr;
}

bool parseUint(const char* s, uint32_t* out) {
  if (s == nullptr || *s == '\0') return false;
  uint32_t v = 0;
  for (const char* p = s; *p != '\0'; p++) {
    if (!isDigit(*p)) return false;
    uint32_t d = static_cast<uint32_t>(*p - '0');
    if (v > (UINT32_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bool parseMilli(const char* s, Milli* out) {
  // 32-bit arithmetic only: 64-bit multiplication costs the AVR a library routine.
  const uint32_t kMaxWhole = INT32_MAX / 1000;
  if (s == nullptr) return false;
  bool negative = *s == '-';
  if (negative) s++;
  uint32_t whole = 0;
  int digits = 0;
  for (; isDigit(*s); s++, digits++) {
    whole = whole * 10 + static_cast<uint32_t>(*s - '0');
    if (whole > kMaxWhole) return false;
  }
  if (digits == 0) return false;  // "", "-", ".5"
  uint32_t fraction = 0;
  if (*s == '.') {
    s++;
    uint32_t scale = 100;
    int fractionDigits = 0;
    for (; isDigit(*s); s++, fractionDigits++) {
      fraction += static_cast<uint32_t>(*s - '0') * scale;  // past the third digit: cut off
      scale /= 10;
    }
    if (fractionDigits == 0) return false;  // "1."
  }
  if (*s != '\0') return false;
  uint32_t v = whole * 1000 + fraction;
  if (v > static_cast<uint32_t>(INT32_MAX)) return false;
  *out = negative ? -static_cast<Milli>(v) : static_cast<Milli>(v);
  return true;
}

ParseError parseLine(char* text, size_t len, Line& out) {
  out.type = "";
  out.count = 0;
  out.seq = 0;
  if (len == 0) return ParseError::Empty;
  if (len > kMaxLine) return ParseError::Overlong;
  for (size_t i = 0; i < len; i++) {
    if (!isPrintable(text[i])) return ParseError::Garbage;
  }
  // The first `*` ends the body: a raw `*` inside a value is never sent (it is percent-encoded).
  const char* star = static_cast<const char*>(memchr(text, '*', len));
  if (star == nullptr || static_cast<size_t>(star - text) != len - 3) return ParseError::BadChecksum;
  size_t bodyLen = len - 3;
  int hi = hexValue(star[1]);
  int lo = hexValue(star[2]);
  if (hi < 0 || lo < 0) return ParseError::BadChecksum;
  if (checksum(text, bodyLen) != static_cast<uint8_t>((hi << 4) | lo)) return ParseError::BadChecksum;
  text[bodyLen] = '\0';

  // Cut into words. Single spaces only: an empty word is a framing error.
  char* word = text;
  bool first = true;
  for (;;) {
    char* space = strchr(word, ' ');
    if (space != nullptr) *space = '\0';
    if (*word == '\0') return first ? ParseError::Garbage : ParseError::Malformed;
    if (first) {
      for (const char* p = word; *p != '\0'; p++) {
        if (!isUpper(*p)) return ParseError::Garbage;
      }
      out.type = word;
      first = false;
    } else {
      if (out.count == kMaxFields) return ParseError::TooManyFields;
      char* eq = strchr(word, '=');
      char* value = word + strlen(word);  // "" for a bare word
      if (eq != nullptr) {
        *eq = '\0';
        value = eq + 1;
      }
      if (!validKey(word) || !percentDecode(value)) return ParseError::Malformed;
      for (uint8_t i = 0; i < out.count; i++) {
        if (sameString(out.keys[i], word)) return ParseError::Malformed;
      }
      out.keys[out.count] = word;
      out.values[out.count] = value;
      out.count++;
    }
    if (space == nullptr) break;
    word = space + 1;
  }
  if (!parseUint(out.get(TEC_F("seq")), &out.seq)) return ParseError::MissingSeq;
  return ParseError::None;
}

LineReader::Result LineReader::feed(char c) {
  if (c != '\n') {
    if (len_ < sizeof(buf_) - 1) {
      buf_[len_++] = c;
    } else {
      overflow_ = true;  // keep swallowing until the newline, then refuse the whole line
    }
    return Result::Pending;
  }
  size_t n = len_;
  bool overflow = overflow_;
  len_ = 0;
  overflow_ = false;
  if (n > 0 && buf_[n - 1] == '\r') n--;
  buf_[n] = '\0';
  if (overflow || n > kMaxLine) {
    error_ = ParseError::Overlong;
    return Result::Error;
  }
  error_ = parseLine(buf_, n, line_);
  return error_ == ParseError::None ? Result::Line : Result::Error;
}

void LineWriter::put(char c) {
  if (len_ < kMaxLine) {
    buf_[len_++] = c;
  } else {
    overflow_ = true;
  }
}

void LineWriter::putFlash(FlashStr s) {
  for (const char* p = s.p; flashChar(p) != '\0'; p++) put(flashChar(p));
}

void LineWriter::putEncoded(char c) {
  uint8_t u = static_cast<uint8_t>(c);
  if (c == ' ' || c == '%' || c == '=' || c == '*' || u < 0x20 || u > 0x7e) {
    put('%');
    put(flashChar(kHex + (u >> 4)));
    put(flashChar(kHex + (u & 0x0f)));
  } else {
    put(c);
  }
}

void LineWriter::putUint(uint32_t v) {
  char digits[10];
  uint8_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) put(digits[--n]);
}

void LineWriter::startField(FlashStr key) {
  put(' ');
  putFlash(key);
  put('=');
}

void LineWriter::begin(FlashStr type, uint32_t seq) {
  len_ = 0;
  overflow_ = false;
  putFlash(type);
  u32(TEC_F("seq"), seq);
}

LineWriter& LineWriter::text(FlashStr key, const char* value) {
  startField(key);
  for (const char* p = value; p != nullptr && *p != '\0'; p++) putEncoded(*p);
  return *this;
}

LineWriter& LineWriter::text(FlashStr key, FlashStr value) {
  startField(key);
  return more(value);
}

LineWriter& LineWriter::u32(FlashStr key, uint32_t value) {
  startField(key);
  putUint(value);
  return *this;
}

LineWriter& LineWriter::i32(FlashStr key, int32_t value) {
  startField(key);
  if (value < 0) put('-');
  putUint(value < 0 ? 0u - static_cast<uint32_t>(value) : static_cast<uint32_t>(value));
  return *this;
}

LineWriter& LineWriter::fixed(FlashStr key, Milli value) {
  startField(key);
  uint32_t mag = value < 0 ? 0u - static_cast<uint32_t>(value) : static_cast<uint32_t>(value);
  if (value < 0) put('-');
  putUint(mag / 1000);
  uint32_t frac = mag % 1000;
  if (frac != 0) {
    put('.');
    for (uint32_t scale = 100; frac != 0; scale /= 10) {
      put(static_cast<char>('0' + frac / scale));
      frac %= scale;
    }
  }
  return *this;
}

LineWriter& LineWriter::more(FlashStr value) {
  for (const char* p = value.p; p != nullptr && flashChar(p) != '\0'; p++) putEncoded(flashChar(p));
  return *this;
}

LineWriter& LineWriter::moreU32(uint32_t value) {
  putUint(value);
  return *this;
}

bool LineWriter::finish() {
  uint8_t sum = checksum(buf_, len_);
  put('*');
  put(flashChar(kHex + (sum >> 4)));
  put(flashChar(kHex + (sum & 0x0f)));
  if (overflow_) {
    len_ = 0;
    buf_[0] = '\0';
    return false;
  }
  buf_[len_++] = '\n';  // room reserved beyond kMaxLine
  buf_[len_] = '\0';
  return true;
}

}  // namespace tec
