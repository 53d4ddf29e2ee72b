#include <exception>
#include <vector>

#include "tiny_test.h"

namespace tiny {

Case*& registry() {
  static Case* head = nullptr;
  return head;
}

int& failures() {
  static int n = 0;
  return n;
}

}  // namespace tiny

int main(int argc, char** argv) {
  std::vector<tiny::Case*> cases;
  for (tiny::Case* c = tiny::registry(); c != nullptr; c = c->next) cases.insert(cases.begin(), c);
  int run = 0;
  int failed = 0;
  for (tiny::Case* c : cases) {
    bool wanted = argc < 2;
    for (int i = 1; i < argc; i++) wanted = wanted || std::strcmp(argv[i], c->name) == 0;
    if (!wanted) continue;
    int before = tiny::failures();
    try {
      c->fn();
    } catch (const std::exception& e) {  // e.g. .at() past the end: a failure, not a crash
      tiny::fail(__FILE__, __LINE__, std::string("exception: ") + e.what());
    }
    run++;
    bool ok = tiny::failures() == before;
    if (!ok) failed++;
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", c->name);
    std::fflush(stdout);
  }
  std::printf("%d tests, %d failed\n", run, failed);
  return failed == 0 && run > 0 ? 0 : 1;
}
