#include "common/crypto/sha256_pair.h"

#include <cstdint>
#include <random>
#include <string>

#include "common/crypto/bytes.h"
#include "common/crypto/sha256.h"
#include "gtest/gtest.h"

namespace ota::common {
namespace {

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(gen());
  return out;
}

TEST(Sha256PairTest, KnownAnswersOnBothStreams) {
  Sha256Pair pair;
  EXPECT_EQ(HexEncode(pair.FinishFirst()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  pair.Update("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
  EXPECT_EQ(HexEncode(pair.FinishFirst()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(HexEncode(pair.FinishSecond()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256PairTest, MillionAs) {
  Sha256Pair pair;
  std::string block(1000, 'a');
  for (int i = 0; i < 1000; ++i) pair.Update(block);
  const std::string want = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
  EXPECT_EQ(HexEncode(pair.FinishFirst()), want);
  EXPECT_EQ(HexEncode(pair.FinishSecond()), want);
}

// Chunks of every size around block boundaries, fed in uneven pieces: each
// chunk's digest and the whole digest match OpenSSL's one-shot SHA-256.
TEST(Sha256PairTest, ChunksAndWholeMatchOneShotDigests) {
  const std::string data = RandomBytes(64 * 1024 + 77, 1);
  std::mt19937 gen(2);
  for (size_t chunk : {size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{128},
                       size_t{1000}, size_t{4096}, size_t{64 * 1024}}) {
    Sha256Pair pair;
    size_t chunk_start = 0;
    size_t pos = 0;
    while (pos < data.size()) {
      const size_t chunk_end = std::min(data.size(), chunk_start + chunk);
      size_t piece = std::min<size_t>(chunk_end - pos, 1 + gen() % 700);
      pair.Update(absl::string_view(data).substr(pos, piece));
      pos += piece;
      if (pos == chunk_end) {
        ASSERT_EQ(HexEncode(pair.FinishFirst()),
                  HexEncode(Sha256Digest(
                      absl::string_view(data).substr(chunk_start, chunk_end - chunk_start))))
            << "chunk size " << chunk << " at " << chunk_start;
        chunk_start = chunk_end;
      }
    }
    EXPECT_EQ(HexEncode(pair.FinishSecond()), HexEncode(Sha256Digest(data)))
        << "chunk size " << chunk;
  }
}

// The second stream ahead of the first by a prefix that is not a whole
// number of blocks: the streams stand at different block offsets and are
// updated one after the other, with the same results.
TEST(Sha256PairTest, StreamsAtDifferentOffsets) {
  const std::string prefix = RandomBytes(100, 3);
  const std::string data = RandomBytes(10000, 4);
  Sha256Pair pair;
  pair.UpdateSecond(prefix);
  for (size_t pos = 0; pos < data.size(); pos += 999) {
    pair.Update(absl::string_view(data).substr(pos, 999));
  }
  EXPECT_EQ(pair.FinishFirst(), Sha256Digest(data));
  EXPECT_EQ(pair.FinishSecond(), Sha256Digest(prefix + data));
}

TEST(Sha256PairTest, ACopyIsASnapshotOfBothStreams) {
  const std::string data = RandomBytes(4096, 5);
  Sha256Pair pair;
  pair.Update(absl::string_view(data).substr(0, 1024));
  Sha256Pair saved = pair;
  pair.Update(absl::string_view(data).substr(1024));
  EXPECT_EQ(pair.FinishSecond(), Sha256Digest(data));
  saved.Update("x");
  EXPECT_EQ(saved.FinishFirst(), Sha256Digest(data.substr(0, 1024) + "x"));
  EXPECT_EQ(saved.FinishSecond(), Sha256Digest(data.substr(0, 1024) + "x"));
}

// Past 2^32 bits (512 MiB) the bit count carries into its high word; the
// padding must carry it too.
TEST(Sha256PairTest, LengthPastFourGigabits) {
  const std::string block = RandomBytes(1 << 20, 6);
  Sha256Pair pair;
  Sha256 reference;
  for (int i = 0; i < 513; ++i) {
    pair.Update(block);
    reference.Update(block);
  }
  pair.Update("tail");
  reference.Update("tail");
  EXPECT_EQ(HexEncode(pair.FinishSecond()), HexEncode(reference.Finish()));
}

}  // namespace
}  // namespace ota::common
