#include "server/http/range.h"

#include "gtest/gtest.h"

namespace ota::server {
namespace {

struct Case {
  const char* header;
  uint64_t size;
  ByteRange::Kind kind;
  uint64_t first, last;
};

TEST(RangeTest, Forms) {
  const Case cases[] = {
      {"", 100, ByteRange::kWhole, 0, 0},
      {"bytes=0-9", 100, ByteRange::kPartial, 0, 9},
      {"bytes=10-", 100, ByteRange::kPartial, 10, 99},
      {"bytes=-10", 100, ByteRange::kPartial, 90, 99},
      {"bytes=-1000", 100, ByteRange::kPartial, 0, 99},
      {"bytes=90-1000", 100, ByteRange::kPartial, 90, 99},
      {"BYTES=1-1", 100, ByteRange::kPartial, 1, 1},
      {" bytes= 5 - 6 ", 100, ByteRange::kPartial, 5, 6},
      {"bytes=99-99", 100, ByteRange::kPartial, 99, 99},
      // Unsatisfiable: 416.
      {"bytes=100-", 100, ByteRange::kUnsatisfiable, 0, 0},
      {"bytes=100-200", 100, ByteRange::kUnsatisfiable, 0, 0},
      {"bytes=-0", 100, ByteRange::kUnsatisfiable, 0, 0},
      {"bytes=0-0", 0, ByteRange::kUnsatisfiable, 0, 0},
      // Ignored: the whole representation.
      {"bytes=0-1,5-6", 100, ByteRange::kWhole, 0, 0},
      {"bytes=9-5", 100, ByteRange::kWhole, 0, 0},
      {"items=0-5", 100, ByteRange::kWhole, 0, 0},
      {"bytes=a-5", 100, ByteRange::kWhole, 0, 0},
      {"bytes=5", 100, ByteRange::kWhole, 0, 0},
      {"bytes=-", 100, ByteRange::kWhole, 0, 0},
      {"bytes=-+5", 100, ByteRange::kWhole, 0, 0},
      {"bytes=99999999999999999999-", 100, ByteRange::kWhole, 0, 0},
      {"bytes", 100, ByteRange::kWhole, 0, 0},
  };
  for (const Case& c : cases) {
    ByteRange r = ParseRange(c.header, c.size);
    EXPECT_EQ(r.kind, c.kind) << c.header;
    if (c.kind == ByteRange::kPartial) {
      EXPECT_EQ(r.first, c.first) << c.header;
      EXPECT_EQ(r.last, c.last) << c.header;
    }
  }
}

TEST(RangeTest, ContentRange) {
  EXPECT_EQ(ContentRange(ParseRange("bytes=10-19", 100), 100), "bytes 10-19/100");
  EXPECT_EQ(ContentRange(ParseRange("bytes=200-", 100), 100), "bytes */100");
}

}  // namespace
}  // namespace ota::server
