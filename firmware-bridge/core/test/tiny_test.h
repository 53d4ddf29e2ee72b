// A test framework of our own in one header: TEST() registers a function, CHECK*() record
// failures and go on, main() (tiny_test_main.cpp) runs everything or the names given as arguments
// and exits non-zero on any failure. Enough for the core; nothing to download.
#ifndef TINY_TEST_H
#define TINY_TEST_H

#include <cstdio>
#include <cstring>
#include <string>
#include <type_traits>

namespace tiny {

struct Case {
  const char* name;
  void (*fn)();
  Case* next;
};

Case*& registry();
int& failures();

struct Register {
  Register(Case* c) {
    c->next = registry();
    registry() = c;
  }
};

inline void fail(const char* file, int line, const std::string& what) {
  std::printf("    %s:%d: %s\n", file, line, what.c_str());
  failures()++;
}

inline std::string show(const std::string& s) { return "\"" + s + "\""; }
inline std::string show(const char* s) { return s == nullptr ? std::string("nullptr") : show(std::string(s)); }
inline std::string show(bool b) { return b ? "true" : "false"; }
template <typename T>
std::string show(const T& v) {
  if constexpr (std::is_enum<T>::value) {
    return "enum " + std::to_string(static_cast<long long>(v));
  } else {
    return std::to_string(v);
  }
}

}  // namespace tiny

#define TINY_CAT2(a, b) a##b
#define TINY_CAT(a, b) TINY_CAT2(a, b)

#define TEST(name)                                                    \
  static void TINY_CAT(test_fn_, name)();                             \
  static tiny::Case TINY_CAT(test_case_, name) = {#name, &TINY_CAT(test_fn_, name), nullptr}; \
  static tiny::Register TINY_CAT(test_reg_, name)(&TINY_CAT(test_case_, name)); \
  static void TINY_CAT(test_fn_, name)()

#define CHECK(cond)                                          \
  do {                                                       \
    if (!(cond)) tiny::fail(__FILE__, __LINE__, "CHECK(" #cond ")"); \
  } while (0)

#define CHECK_EQ(actual, expected)                                                                  \
  do {                                                                                              \
    auto tiny_a = (actual);                                                                         \
    auto tiny_e = (expected);                                                                       \
    if (!(tiny_a == tiny_e))                                                                        \
      tiny::fail(__FILE__, __LINE__,                                                                \
                 std::string(#actual " == " #expected ": got ") + tiny::show(tiny_a) + ", want " + tiny::show(tiny_e)); \
  } while (0)

#define CHECK_STR(actual, expected)                                                                 \
  do {                                                                                              \
    const char* tiny_a = (actual);                                                                  \
    const char* tiny_e = (expected);                                                                \
    if (tiny_a == nullptr || tiny_e == nullptr ? tiny_a != tiny_e : std::strcmp(tiny_a, tiny_e) != 0) \
      tiny::fail(__FILE__, __LINE__,                                                                \
                 std::string(#actual ": got ") + tiny::show(tiny_a) + ", want " + tiny::show(tiny_e)); \
  } while (0)

#endif
