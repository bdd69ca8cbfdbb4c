// FaultServer's own behaviour, seen through CurlTransport: correct ranges
// first, then each fault.
#include "test/http/fault_server.h"

#include <memory>
#include <string>

#include "common/testing/status_matchers.h"
#include "device/download/curl_transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ota::testing {
namespace {

using ::ota::device::CurlTransport;
using ::ota::device::HttpFetch;
using ::ota::device::HttpHead;
using ::ota::device::HttpRange;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Optional;

class FaultServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 1000; ++i) content_.push_back(static_cast<char>('a' + i % 26));
    auto server = FaultServer::Start("/object", content_);
    ASSERT_THAT(server, IsOk());
    server_ = std::move(*server);
    auto transport = CurlTransport::Create();
    ASSERT_THAT(transport, IsOk());
    transport_ = std::move(*transport);
  }

  absl::StatusOr<HttpHead> Get(std::optional<HttpRange> range = std::nullopt,
                               std::string if_range = "") {
    HttpFetch fetch;
    fetch.url = server_->url();
    fetch.range = range;
    fetch.if_range = std::move(if_range);
    body_.clear();
    return transport_->Fetch(
        fetch, [](const HttpHead&) { return true; },
        [this](absl::string_view block) {
          body_.append(block.data(), block.size());
          return true;
        });
  }

  std::string content_;
  std::unique_ptr<FaultServer> server_;
  std::unique_ptr<CurlTransport> transport_;
  std::string body_;
};

TEST_F(FaultServerTest, ServesRanges) {
  absl::StatusOr<HttpHead> head = Get(HttpRange{10, 19});
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->status, 206);
  EXPECT_EQ(head->etag, "\"v1\"");
  EXPECT_THAT(head->content_range_first, Optional(Eq(10u)));
  EXPECT_EQ(body_, content_.substr(10, 10));

  head = Get(HttpRange{990, 5000});
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->status, 206);
  EXPECT_EQ(body_, content_.substr(990));

  head = Get(HttpRange{1000, 1001});
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->status, 416);

  ASSERT_EQ(server_->served().size(), 3u);
  EXPECT_EQ(server_->served()[0].range, "bytes=10-19");
  EXPECT_EQ(server_->served()[0].first, 10u);
  EXPECT_EQ(server_->served()[0].body_bytes, 10u);
  EXPECT_EQ(server_->body_bytes_sent(), 20u);
}

TEST_F(FaultServerTest, AnswersAStaleIfRangeWithTheWholeObject) {
  ASSERT_THAT(Get(HttpRange{10, 19}, "\"v1\""), IsOk());
  EXPECT_EQ(body_, content_.substr(10, 10));
  server_->SetContent("new");
  EXPECT_EQ(server_->etag(), "\"v2\"");
  absl::StatusOr<HttpHead> head = Get(HttpRange{1, 2}, "\"v1\"");
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->etag, "\"v2\"");
  EXPECT_EQ(body_, "new");
}

TEST_F(FaultServerTest, ServesOtherPathsNotFound) {
  HttpFetch fetch;
  fetch.url = server_->url() + "x";
  absl::StatusOr<HttpHead> head =
      transport_->Fetch(fetch, [](const HttpHead&) { return true; },
                        [](absl::string_view) { return true; });
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->status, 404);
}

TEST_F(FaultServerTest, CutsTheFirstResponsesOnly) {
  FaultServer::Faults faults;
  faults.cut_after_body_bytes = 100;
  faults.cut_responses = 1;
  server_->SetFaults(faults);
  EXPECT_THAT(Get(), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("partial")));
  EXPECT_EQ(body_, content_.substr(0, 100));
  EXPECT_THAT(Get(), IsOk());
  EXPECT_EQ(body_, content_);
}

TEST_F(FaultServerTest, PoisonsOneChunk) {
  FaultServer::Faults faults;
  faults.poison_chunk = 2;
  faults.chunk_size = 100;
  server_->SetFaults(faults);
  ASSERT_THAT(Get(), IsOk());
  ASSERT_EQ(body_.size(), content_.size());
  EXPECT_EQ(body_.substr(0, 200), content_.substr(0, 200));
  EXPECT_EQ(body_.substr(300), content_.substr(300));
  for (int i = 200; i < 300; ++i) {
    EXPECT_EQ(body_[i], static_cast<char>(content_[i] ^ 0x5a)) << i;
  }
}

TEST_F(FaultServerTest, IgnoresRangesAndShiftsThem) {
  FaultServer::Faults faults;
  faults.ignore_range = true;
  server_->SetFaults(faults);
  absl::StatusOr<HttpHead> head = Get(HttpRange{10, 19});
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(body_, content_);

  faults = FaultServer::Faults();
  faults.shift_range_first = -5;
  server_->SetFaults(faults);
  head = Get(HttpRange{10, 19});
  ASSERT_THAT(head, IsOk());
  EXPECT_THAT(head->content_range_first, Optional(Eq(5u)));
  EXPECT_EQ(body_, content_.substr(5, 15));
}

TEST_F(FaultServerTest, AppendsGarbage) {
  FaultServer::Faults faults;
  faults.garbage_bytes = 7;
  server_->SetFaults(faults);
  absl::StatusOr<HttpHead> head = Get();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->content_length, 1007u);
  EXPECT_EQ(body_, content_ + "GGGGGGG");

  faults.declare_garbage_length = false;
  server_->SetFaults(faults);
  head = Get();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->content_length, 0u);
  EXPECT_EQ(body_, content_ + "GGGGGGG");
}

TEST_F(FaultServerTest, ChangesContentFromTheNthRequest) {
  FaultServer::Faults faults;
  faults.change_from_request = 3;
  faults.changed_content = "changed";
  server_->SetFaults(faults);
  ASSERT_THAT(Get(), IsOk());
  ASSERT_THAT(Get(), IsOk());
  EXPECT_EQ(body_, content_);
  absl::StatusOr<HttpHead> head = Get();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->etag, "\"v2\"");
  EXPECT_EQ(body_, "changed");
  EXPECT_EQ(server_->requests(), 3);
}

TEST_F(FaultServerTest, AnswersWithTheStatusAsked) {
  FaultServer::Faults faults;
  faults.status = 500;
  server_->SetFaults(faults);
  absl::StatusOr<HttpHead> head = Get();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->status, 500);
  EXPECT_EQ(server_->served()[0].status, 500);
}

}  // namespace
}  // namespace ota::testing
