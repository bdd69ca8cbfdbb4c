// What a fuzz target does when the code under test breaks a promise that
// no sanitizer sees: print which one, with the input's details, and abort
// so that libFuzzer records the input as a crash.
//
//   Require(r.first <= r.last, "a partial range ends before it starts");
#ifndef OTA_TEST_FUZZ_INVARIANT_H_
#define OTA_TEST_FUZZ_INVARIANT_H_

#include <cstdio>
#include <cstdlib>

#include "absl/strings/string_view.h"

namespace ota::fuzz {

inline void Require(bool ok, const char* what, absl::string_view detail = "") {
  if (ok) return;
  std::fprintf(stderr, "invariant broken: %s\n%.*s\n", what,
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

}  // namespace ota::fuzz

#endif  // OTA_TEST_FUZZ_INVARIANT_H_
