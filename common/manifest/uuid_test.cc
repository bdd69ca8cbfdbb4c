#include "common/manifest/uuid.h"

#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace ota::common {
namespace {

using ::ota::testing::StatusIs;

// Known answers from Python's uuid.uuid5.
TEST(UuidTest, Uuid5MatchesRfc4122) {
  std::string vendor = Uuid5(kDnsNamespaceUuid, "example.com");
  EXPECT_EQ(UuidToString(vendor), "cfbff0d1-9375-5685-968c-48ce8b15ae17");
  EXPECT_EQ(UuidToString(Uuid5(vendor, "gw-3610")),
            "ad06a868-7abd-56fa-938b-9aa0b273ccf9");
}

TEST(UuidTest, ParsesDashedAndPlainHex) {
  std::string raw = Uuid5(kDnsNamespaceUuid, "example.com");
  EXPECT_EQ(*ParseUuid("cfbff0d1-9375-5685-968c-48ce8b15ae17"), raw);
  EXPECT_EQ(*ParseUuid("CFBFF0D193755685968C48CE8B15AE17"), raw);
}

TEST(UuidTest, RejectsWrongLengthAndCharacters) {
  EXPECT_THAT(ParseUuid("1234"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "\"1234\" is not a UUID (want 32 hex digits, dashes optional)"));
  EXPECT_THAT(ParseUuid("zzbff0d1-9375-5685-968c-48ce8b15ae17"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("non-hex character at offset 0")));
}

}  // namespace
}  // namespace ota::common
