#include "common/crypto/bytes.h"

#include "gtest/gtest.h"

namespace ota::common {
namespace {

TEST(HexTest, EncodesLowercase) {
  EXPECT_EQ(HexEncode(std::string("\x00\x7f\xab\xff", 4)), "007fabff");
  EXPECT_EQ(HexEncode(""), "");
}

TEST(HexTest, DecodesEitherCase) {
  EXPECT_EQ(*HexDecode("007FabfF"), std::string("\x00\x7f\xab\xff", 4));
}

TEST(HexTest, RejectsOddLength) {
  absl::StatusOr<std::string> r = HexDecode("abc");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "hex string has odd length 3");
}

TEST(HexTest, RejectsNonHexAndNamesOffset) {
  absl::StatusOr<std::string> r = HexDecode("00zz");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "hex string has a non-hex character at offset 2");
}

TEST(ConstantTimeEqualsTest, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

}  // namespace
}  // namespace ota::common
