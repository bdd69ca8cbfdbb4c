#include "device/download/http_head_parser.h"

#include <optional>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ota::device {
namespace {

using ::testing::Eq;
using ::testing::Optional;

TEST(ParseHttpStatusLineTest, ReadsTheCodeOfEachVersion) {
  EXPECT_THAT(ParseHttpStatusLine("HTTP/1.1 206 Partial Content\r\n"), Optional(206));
  EXPECT_THAT(ParseHttpStatusLine("HTTP/1.0 404 Not Found\r\n"), Optional(404));
  EXPECT_THAT(ParseHttpStatusLine("HTTP/2 200 \r\n"), Optional(200));
  EXPECT_THAT(ParseHttpStatusLine("HTTP/2 200"), Optional(200));
  EXPECT_THAT(ParseHttpStatusLine("HTTP/1.1 100 Continue\r\n"), Optional(100));
}

TEST(ParseHttpStatusLineTest, RejectsWhatIsNotAStatusLine) {
  EXPECT_EQ(ParseHttpStatusLine("ETag: \"x\"\r\n"), std::nullopt);
  EXPECT_EQ(ParseHttpStatusLine("HTTP/1.1\r\n"), std::nullopt);
  EXPECT_EQ(ParseHttpStatusLine("HTTP/1.1 20 OK\r\n"), std::nullopt);
  EXPECT_EQ(ParseHttpStatusLine("HTTP/1.1 2000 OK\r\n"), std::nullopt);
  EXPECT_EQ(ParseHttpStatusLine("HTTP/1.1 2x0 OK\r\n"), std::nullopt);
  EXPECT_EQ(ParseHttpStatusLine("HTTP/1.1 099 Low\r\n"), std::nullopt);
  EXPECT_EQ(ParseHttpStatusLine("\r\n"), std::nullopt);
}

TEST(ParseContentRangeFirstTest, ReadsTheFirstPosition) {
  EXPECT_THAT(ParseContentRangeFirst("bytes 0-9/100"), Optional(Eq(0u)));
  EXPECT_THAT(ParseContentRangeFirst("bytes 100-199/1000"), Optional(Eq(100u)));
  EXPECT_THAT(ParseContentRangeFirst("bytes 5-5/*"), Optional(Eq(5u)));
  EXPECT_THAT(ParseContentRangeFirst("BYTES 7-8/9"), Optional(Eq(7u)));
  EXPECT_THAT(ParseContentRangeFirst("bytes 4294967296-4294967300/8589934592"),
              Optional(Eq(4294967296u)));
}

TEST(ParseContentRangeFirstTest, RejectsUnsatisfiedAndMalformedRanges) {
  EXPECT_EQ(ParseContentRangeFirst("bytes */100"), std::nullopt);
  EXPECT_EQ(ParseContentRangeFirst("items 0-9/100"), std::nullopt);
  EXPECT_EQ(ParseContentRangeFirst("bytes=0-9/100"), std::nullopt);
  EXPECT_EQ(ParseContentRangeFirst("bytes 9-0/100"), std::nullopt);
  EXPECT_EQ(ParseContentRangeFirst("bytes 0-100/100"), std::nullopt);
  EXPECT_EQ(ParseContentRangeFirst("bytes 0-9"), std::nullopt);
  EXPECT_EQ(ParseContentRangeFirst("bytes -1-9/100"), std::nullopt);
  EXPECT_EQ(ParseContentRangeFirst("bytes 0-9/1x0"), std::nullopt);
  EXPECT_EQ(ParseContentRangeFirst("bytes 99999999999999999999-1/2"), std::nullopt);
  EXPECT_EQ(ParseContentRangeFirst(""), std::nullopt);
}

TEST(HttpHeadParserTest, ParsesAPartialContentHead) {
  HttpHeadParser parser;
  parser.AddLine("HTTP/1.1 206 Partial Content\r\n");
  parser.AddLine("Content-Length: 100\r\n");
  parser.AddLine("ETag: \"v7\"\r\n");
  parser.AddLine("Content-Range: bytes 100-199/1000\r\n");
  parser.AddLine("Accept-Ranges: bytes\r\n");
  EXPECT_FALSE(parser.complete());
  parser.AddLine("\r\n");
  EXPECT_TRUE(parser.complete());
  EXPECT_EQ(parser.head().status, 206);
  EXPECT_EQ(parser.head().etag, "\"v7\"");
  EXPECT_THAT(parser.head().content_range_first, Optional(Eq(100u)));
  EXPECT_EQ(parser.head().content_length, 100u);
}

TEST(HttpHeadParserTest, NamesInAnyCaseAndValuesTrimmed) {
  HttpHeadParser parser;
  parser.AddLine("HTTP/2 206\r\n");
  parser.AddLine("etag:   W/\"weak\"  \r\n");
  parser.AddLine("content-range:bytes 3-4/5\r\n");
  parser.AddLine("CONTENT-LENGTH: 2\r\n");
  parser.AddLine("\r\n");
  EXPECT_EQ(parser.head().etag, "W/\"weak\"");
  EXPECT_THAT(parser.head().content_range_first, Optional(Eq(3u)));
  EXPECT_EQ(parser.head().content_length, 2u);
}

TEST(HttpHeadParserTest, AHeadWithoutTheOptionalFields) {
  HttpHeadParser parser;
  parser.AddLine("HTTP/1.1 200 OK\r\n");
  parser.AddLine("Transfer-Encoding: chunked\r\n");
  parser.AddLine("\r\n");
  EXPECT_EQ(parser.head().status, 200);
  EXPECT_EQ(parser.head().etag, "");
  EXPECT_EQ(parser.head().content_range_first, std::nullopt);
  EXPECT_EQ(parser.head().content_length, 0u);
}

TEST(HttpHeadParserTest, MalformedValuesAreLeftUnset) {
  HttpHeadParser parser;
  parser.AddLine("HTTP/1.1 206 Partial Content\r\n");
  parser.AddLine("Content-Range: bytes 10-5/100\r\n");
  parser.AddLine("Content-Length: -5\r\n");
  parser.AddLine("no colon here\r\n");
  parser.AddLine("\r\n");
  EXPECT_EQ(parser.head().status, 206);
  EXPECT_EQ(parser.head().content_range_first, std::nullopt);
  EXPECT_EQ(parser.head().content_length, 0u);
}

TEST(HttpHeadParserTest, ARedirectIsReplacedByTheFinalResponse) {
  HttpHeadParser parser;
  parser.AddLine("HTTP/1.1 302 Found\r\n");
  parser.AddLine("Location: http://mirror/payload\r\n");
  parser.AddLine("ETag: \"redirect\"\r\n");
  parser.AddLine("Content-Length: 20\r\n");
  parser.AddLine("\r\n");
  EXPECT_TRUE(parser.complete());
  parser.AddLine("HTTP/1.1 200 OK\r\n");
  EXPECT_FALSE(parser.complete());
  parser.AddLine("Content-Length: 1000\r\n");
  parser.AddLine("\r\n");
  EXPECT_TRUE(parser.complete());
  EXPECT_EQ(parser.head().status, 200);
  EXPECT_EQ(parser.head().etag, "");
  EXPECT_EQ(parser.head().content_length, 1000u);
}

TEST(HttpHeadParserTest, AnInterimResponseDoesNotCompleteTheHead) {
  HttpHeadParser parser;
  parser.AddLine("HTTP/1.1 100 Continue\r\n");
  parser.AddLine("\r\n");
  EXPECT_FALSE(parser.complete());
  parser.AddLine("HTTP/1.1 206 Partial Content\r\n");
  parser.AddLine("Content-Range: bytes 0-0/1\r\n");
  parser.AddLine("\r\n");
  EXPECT_TRUE(parser.complete());
  EXPECT_EQ(parser.head().status, 206);
  EXPECT_THAT(parser.head().content_range_first, Optional(Eq(0u)));
}

TEST(HttpHeadParserTest, LinesWithoutLineEndsWork) {
  HttpHeadParser parser;
  parser.AddLine("HTTP/1.1 200 OK");
  parser.AddLine("ETag: \"a\"");
  parser.AddLine("");
  EXPECT_TRUE(parser.complete());
  EXPECT_EQ(parser.head().etag, "\"a\"");
}

}  // namespace
}  // namespace ota::device
