#include "common/crypto/sha256.h"

#include <string>

#include "common/crypto/bytes.h"
#include "gtest/gtest.h"

namespace ota::common {
namespace {

// FIPS 180-2 test vectors.
TEST(Sha256Test, KnownAnswers) {
  EXPECT_EQ(HexEncode(Sha256Digest("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Sha256Digest("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(
      HexEncode(Sha256Digest(
          "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, StreamingMatchesOneShotAtEverySplit) {
  std::string data;
  for (int i = 0; i < 300; ++i) data.push_back(static_cast<char>(i * 7));
  const std::string expected = Sha256Digest(data);
  for (size_t split = 0; split <= data.size(); split += 13) {
    Sha256 h;
    h.Update(absl::string_view(data).substr(0, split));
    h.Update(absl::string_view(data).substr(split));
    EXPECT_EQ(h.Finish(), expected) << "split at " << split;
  }
}

TEST(Sha256Test, FinishResetsForReuse) {
  Sha256 h;
  h.Update("abc");
  EXPECT_EQ(h.Finish(), Sha256Digest("abc"));
  h.Update("");
  EXPECT_EQ(h.Finish(), Sha256Digest(""));
}

TEST(Sha256Test, ACloneGoesOnIndependently) {
  Sha256 h;
  h.Update("ab");
  Sha256 copy = h.Clone();
  h.Update("c");
  copy.Update("x");
  EXPECT_EQ(h.Finish(), Sha256Digest("abc"));
  EXPECT_EQ(copy.Finish(), Sha256Digest("abx"));
}

TEST(Sha256Test, MillionAs) {
  Sha256 h;
  std::string block(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.Update(block);
  EXPECT_EQ(HexEncode(h.Finish()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha1ForUuidTest, KnownAnswer) {
  EXPECT_EQ(HexEncode(Sha1DigestForUuid("abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d");
}

}  // namespace
}  // namespace ota::common
