#include "common/status/reason.h"

#include "gtest/gtest.h"

namespace ota::common {
namespace {

TEST(ReasonTest, RoundTripsThroughStatus) {
  absl::Status s = ReasonError(absl::StatusCode::kFailedPrecondition,
                               ota::v1::REASON_ROLLBACK, "older");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "older");
  EXPECT_EQ(ReasonOf(s), ota::v1::REASON_ROLLBACK);
}

TEST(ReasonTest, NoneOnPlainStatusAndOk) {
  EXPECT_EQ(ReasonOf(absl::InternalError("x")), ota::v1::REASON_UNSPECIFIED);
  EXPECT_EQ(ReasonOf(absl::OkStatus()), ota::v1::REASON_UNSPECIFIED);
}

TEST(ReasonTest, ContextKeepsCodeAndReason) {
  absl::Status s = WithContext(
      ReasonError(absl::StatusCode::kDataLoss, ota::v1::REASON_CHUNK_DIGEST_MISMATCH,
                  "chunk 3"),
      "mirror http://m/x");
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(s.message(), "mirror http://m/x: chunk 3");
  EXPECT_EQ(ReasonOf(s), ota::v1::REASON_CHUNK_DIGEST_MISMATCH);
  EXPECT_TRUE(WithContext(absl::OkStatus(), "ctx").ok());
}

TEST(ReasonTest, Names) {
  EXPECT_EQ(ReasonName(ota::v1::REASON_EXPIRED), "REASON_EXPIRED");
  EXPECT_EQ(ReasonName(static_cast<ota::v1::ReasonCode>(9999)), "9999");
}

}  // namespace
}  // namespace ota::common
