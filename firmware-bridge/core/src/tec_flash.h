// Strings and tables that live in flash on an AVR and in ordinary memory everywhere else.
//
// An ATmega328P has 2 KB of RAM: every string literal the firmware keeps in RAM is copied there
// from flash at boot and stays for good. So the core never takes a plain `const char*` for a
// literal it owns; it takes a FlashStr, which the AVR build fills with PSTR() (PROGMEM) and reads
// with pgm_read_byte. On the ESP32 and on the host flash is memory-mapped and FlashStr is a plain
// pointer. Keeping the two kinds of pointer apart in the type system stops the classic bug of
// reading a PROGMEM address as if it were RAM.
#ifndef TEC_FLASH_H
#define TEC_FLASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

// TEC_F("text"): a FlashStr for a literal, usable inside functions (PSTR is a statement expression).
// It goes through flashStr() rather than FlashStr{...}: gcc-avr 5.4's LTO crashes (internal compiler
// error in lto_output_varpool_node) on a PSTR inside a braced initialiser.
#if defined(__AVR__)
#include <avr/pgmspace.h>
#define TEC_PROGMEM PROGMEM
#define TEC_F(literal) (::tec::flashStr(PSTR(literal)))
#else
#define TEC_PROGMEM
#define TEC_F(literal) (::tec::flashStr(literal))
#endif

namespace tec {

/** A NUL-terminated string in flash (PROGMEM on AVR). */
struct FlashStr {
  const char* p;
};

inline FlashStr flashStr(const char* p) {
  FlashStr s;
  s.p = p;
  return s;
}

inline char flashChar(const char* p) {
#if defined(__AVR__)
  return static_cast<char>(pgm_read_byte(p));
#else
  return *p;
#endif
}

/** Copies a table entry (a struct declared TEC_PROGMEM) into RAM. */
inline void flashCopy(void* dst, const void* src, size_t n) {
#if defined(__AVR__)
  memcpy_P(dst, src, n);
#else
  memcpy(dst, src, n);
#endif
}

inline size_t flashLen(FlashStr s) {
  size_t n = 0;
  if (s.p == nullptr) return 0;
  while (flashChar(s.p + n) != '\0') n++;
  return n;
}

/** True when the flash string equals the RAM string. */
inline bool flashEquals(FlashStr a, const char* ram) {
  if (a.p == nullptr || ram == nullptr) return false;
  size_t i = 0;
  for (;; i++) {
    char c = flashChar(a.p + i);
    if (c != ram[i]) return false;
    if (c == '\0') return true;
  }
}

}  // namespace tec

#endif
