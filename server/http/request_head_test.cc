#include "server/http/request_head.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ota::server {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(FindHeadEnd, CompleteIncompleteAndForeign) {
  const std::string head = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  HeadEnd end = FindHeadEnd(head + "GET /b HTTP/1.1\r\n");
  EXPECT_EQ(end.kind, HeadEnd::kComplete);
  EXPECT_EQ(end.length, head.size());
  EXPECT_EQ(FindHeadEnd("GET /a HTTP/1.1\r\nHost: x\r\n").kind, HeadEnd::kIncomplete);
  EXPECT_EQ(FindHeadEnd("GET /a HTTP/1.1\r\nHost: x\r\n\r").kind, HeadEnd::kIncomplete);
  EXPECT_EQ(FindHeadEnd("").kind, HeadEnd::kIncomplete);
  EXPECT_EQ(FindHeadEnd("GET /a HTTP/1.0\n\n").kind, HeadEnd::kForeign);
  EXPECT_EQ(FindHeadEnd("\r\nGET /a HTTP/1.1\r\n\r\n").kind, HeadEnd::kForeign);
}

TEST(ParseRequestHead, PlainRequest) {
  std::optional<RequestHead> h = ParseRequestHead(
      "HEAD /payloads/ab?x=1 HTTP/1.0\r\nHost: h\r\nRange:  bytes=0-9 \r\n"
      "Connection: TE, Keep-Alive\r\n\r\n");
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->method, "HEAD");
  EXPECT_EQ(h->target, "/payloads/ab?x=1");
  EXPECT_EQ(h->minor_version, 0);
  EXPECT_THAT(h->fields, ElementsAre(Pair("Host", "h"), Pair("Range", "bytes=0-9"),
                                     Pair("Connection", "TE, Keep-Alive")));
  EXPECT_EQ(h->Field("range").value_or(""), "bytes=0-9");
  EXPECT_FALSE(h->Field("If-Range").has_value());
  EXPECT_TRUE(h->ConnectionHas("keep-alive"));
  EXPECT_FALSE(h->ConnectionHas("close"));
}

TEST(ParseRequestHead, AnythingUnusualIsRefused) {
  for (const char* head : {
           "GET /a HTTP/2.0\r\n\r\n",
           "GET  /a HTTP/1.1\r\n\r\n",
           "GET http://h/a HTTP/1.1\r\n\r\n",
           "GET /a\r\n\r\n",
           "G(T /a HTTP/1.1\r\n\r\n",
           "GET /a HTTP/1.1\r\nHost : h\r\n\r\n",
           "GET /a HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",
           "GET /a HTTP/1.1\r\nNoColon\r\n\r\n",
           "GET /a HTTP/1.1\r\nX: a\x01z\r\n\r\n",
       }) {
    EXPECT_FALSE(ParseRequestHead(head).has_value()) << head;
  }
}

TEST(Target, PathAndQueryAsLibmicrohttpdDecodesThem) {
  EXPECT_EQ(DecodePath("/payloads/%2e%2E%2fx+y%zz%4?q=1"), "/payloads/../x+y%zz%4");
  EXPECT_EQ(DecodePath("/a"), "/a");
  EXPECT_THAT(ParseQuery("/a?expires=17&sig=ab%43+d&flag&sig=last"),
              ElementsAre(Pair("expires", "17"), Pair("flag", ""), Pair("sig", "last")));
  EXPECT_THAT(ParseQuery("/a?k%20=v+w"), ElementsAre(Pair("k ", "v w")));
  EXPECT_TRUE(ParseQuery("/a").empty());
}

}  // namespace
}  // namespace ota::server
