#include "common/manifest/payload_digest.h"

#include <cstdio>
#include <fstream>

#include "common/crypto/sha256.h"
#include "common/status/reason.h"
#include "common/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace ota::common {
namespace {

using ::ota::testing::IsOk;
using ::ota::testing::StatusIs;
using ::testing::HasSubstr;

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 31 + 7) & 0xff);
  return s;
}

TEST(PayloadHasherTest, ChunksAndWholeMatchIndependentHashes) {
  const std::string data = Pattern(10000);
  PayloadHasher h(4096);
  // Feed in awkward pieces so chunk boundaries fall inside updates.
  for (size_t off = 0; off < data.size(); off += 777) {
    h.Update(absl::string_view(data).substr(off, 777));
  }
  PayloadDigests d = h.Finish();
  EXPECT_EQ(d.size, 10000u);
  EXPECT_EQ(d.chunk_size, 4096u);
  EXPECT_EQ(d.sha256, Sha256Digest(data));
  ASSERT_EQ(d.chunks.size(), 3u);
  EXPECT_EQ(d.chunks[0], Sha256Digest(data.substr(0, 4096)));
  EXPECT_EQ(d.chunks[1], Sha256Digest(data.substr(4096, 4096)));
  EXPECT_EQ(d.chunks[2], Sha256Digest(data.substr(8192)));
}

TEST(PayloadHasherTest, ExactMultipleHasNoEmptyTail) {
  PayloadHasher h(4096);
  h.Update(Pattern(8192));
  EXPECT_EQ(h.Finish().chunks.size(), 2u);
}

TEST(DigestFileTest, MatchesInMemoryAndReportsMissingFile) {
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/payload.bin";
  const std::string data = Pattern(3 * 4096 + 5);
  std::ofstream(path, std::ios::binary) << data;
  ASSERT_OK_AND_ASSIGN(PayloadDigests d, DigestFile(path, 4096));
  PayloadHasher h(4096);
  h.Update(data);
  PayloadDigests want = h.Finish();
  EXPECT_EQ(d.sha256, want.sha256);
  EXPECT_EQ(d.chunks, want.chunks);
  EXPECT_THAT(DigestFile(path + ".missing", 4096),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("cannot open")));
}

class CheckPayloadDigestsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = Pattern(3 * 4096);
    PayloadHasher h(4096);
    h.Update(data_);
    SetPayloadDigests(h.Finish(), &payload_);
  }
  PayloadDigests DigestOf(const std::string& data) {
    PayloadHasher h(4096);
    h.Update(data);
    return h.Finish();
  }
  std::string data_;
  ota::v1::Payload payload_;
};

TEST_F(CheckPayloadDigestsTest, AcceptsTheSameBytes) {
  EXPECT_THAT(CheckPayloadDigests(payload_, DigestOf(data_)), IsOk());
}

TEST_F(CheckPayloadDigestsTest, SizeMismatch) {
  absl::Status s = CheckPayloadDigests(payload_, DigestOf(data_ + "x"));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kDataLoss,
                          "payload is 12289 bytes, the manifest declares 12288"));
  EXPECT_EQ(ReasonOf(s), ota::v1::REASON_PAYLOAD_SIZE_MISMATCH);
}

TEST_F(CheckPayloadDigestsTest, NamesFirstBadChunk) {
  std::string bad = data_;
  bad[4096 + 10] ^= 1;
  absl::Status s = CheckPayloadDigests(payload_, DigestOf(bad));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kDataLoss, HasSubstr("chunk 1 sha256")));
  EXPECT_EQ(ReasonOf(s), ota::v1::REASON_CHUNK_DIGEST_MISMATCH);
}

TEST_F(CheckPayloadDigestsTest, WholeDigestMismatch) {
  payload_.set_sha256(std::string(32, 'x'));
  absl::Status s = CheckPayloadDigests(payload_, DigestOf(data_));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kDataLoss, HasSubstr("payload sha256 is")));
  EXPECT_EQ(ReasonOf(s), ota::v1::REASON_PAYLOAD_DIGEST_MISMATCH);
}

}  // namespace
}  // namespace ota::common
