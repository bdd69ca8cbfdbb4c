// OTA_CHECK: stops the process on a programming error.
//
// For invariants only a bug can break (an OpenSSL call that cannot fail on
// valid arguments, out of memory). Bad input, a dead database or a broken
// download is an absl::Status, never a CHECK.
//
//   OTA_CHECK(ctx != nullptr);
#ifndef OTA_COMMON_BASE_CHECK_H_
#define OTA_COMMON_BASE_CHECK_H_

namespace ota::common::internal {

// Prints "file:line: check failed: expr" to stderr and aborts.
[[noreturn]] void CheckFailed(const char* file, int line, const char* expr);

}  // namespace ota::common::internal

#define OTA_CHECK(cond)                                               \
  do {                                                                \
    if (!(cond)) {                                                    \
      ::ota::common::internal::CheckFailed(__FILE__, __LINE__, #cond); \
    }                                                                 \
  } while (false)

#endif  // OTA_COMMON_BASE_CHECK_H_
