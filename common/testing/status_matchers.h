// gMock matchers for absl::Status and absl::StatusOr, so tests assert the
// exact error:
//
//   EXPECT_THAT(Parse(bytes), StatusIs(absl::StatusCode::kDataLoss,
//                                      HasSubstr("sha256")));
//   EXPECT_THAT(Parse(good), IsOk());
//   ASSERT_OK_AND_ASSIGN(auto m, Parse(good));
#ifndef OTA_COMMON_TESTING_STATUS_MATCHERS_H_
#define OTA_COMMON_TESTING_STATUS_MATCHERS_H_

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ota::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = GetStatus(arg);
  if (!s.ok()) *result_listener << "status is " << s;
  return s.ok();
}

MATCHER_P2(StatusIs, code, message_matcher,
           "has code " + absl::StatusCodeToString(code)) {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code &&
         ::testing::ExplainMatchResult(message_matcher, std::string(s.message()),
                                       result_listener);
}

}  // namespace ota::testing

#define OTA_STATUS_CONCAT_INNER_(a, b) a##b
#define OTA_STATUS_CONCAT_(a, b) OTA_STATUS_CONCAT_INNER_(a, b)

// Asserts that `expr` (a StatusOr) is OK and moves its value into `lhs`.
#define ASSERT_OK_AND_ASSIGN(lhs, expr)                                     \
  auto OTA_STATUS_CONCAT_(status_or_, __LINE__) = (expr);                   \
  ASSERT_TRUE(OTA_STATUS_CONCAT_(status_or_, __LINE__).ok())                \
      << OTA_STATUS_CONCAT_(status_or_, __LINE__).status();                 \
  lhs = *std::move(OTA_STATUS_CONCAT_(status_or_, __LINE__))

#define ASSERT_OK(expr) ASSERT_THAT((expr), ::ota::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT((expr), ::ota::testing::IsOk())

#endif  // OTA_COMMON_TESTING_STATUS_MATCHERS_H_
