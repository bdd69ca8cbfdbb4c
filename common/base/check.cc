#include "common/base/check.h"

#include <cstdio>
#include <cstdlib>

namespace ota::common::internal {

void CheckFailed(const char* file, int line, const char* expr) {
  std::fprintf(stderr, "%s:%d: check failed: %s\n", file, line, expr);
  std::fflush(stderr);
  std::abort();
}

}  // namespace ota::common::internal
