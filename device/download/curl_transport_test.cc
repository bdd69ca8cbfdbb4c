#include "device/download/curl_transport.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/http/fault_server.h"

namespace ota::device {
namespace {

using ::ota::testing::FaultServer;
using ::ota::testing::IsOk;
using ::ota::testing::StatusIs;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Optional;

std::string Content(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + 7) % 251);
  return s;
}

class CurlTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    content_ = Content(100000);
    auto server = FaultServer::Start("/payload", content_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto transport = CurlTransport::Create();
    ASSERT_TRUE(transport.ok()) << transport.status();
    transport_ = std::move(*transport);
  }

  // Fetches `fetch`, collecting the body into body_ and the head given to
  // on_head into seen_head_.
  absl::StatusOr<HttpHead> Get(const HttpFetch& fetch) {
    body_.clear();
    head_calls_ = 0;
    return transport_->Fetch(
        fetch,
        [this](const HttpHead& head) {
          ++head_calls_;
          seen_head_ = head;
          return true;
        },
        [this](absl::string_view block) {
          body_.append(block.data(), block.size());
          return true;
        });
  }

  HttpFetch FetchOf(std::string url) {
    HttpFetch fetch;
    fetch.url = std::move(url);
    return fetch;
  }

  std::string content_;
  std::unique_ptr<FaultServer> server_;
  std::unique_ptr<CurlTransport> transport_;
  std::string body_;
  HttpHead seen_head_;
  int head_calls_ = 0;
};

TEST_F(CurlTransportTest, FetchesTheWholeObject) {
  absl::StatusOr<HttpHead> head = Get(FetchOf(server_->url()));
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->etag, "\"v1\"");
  EXPECT_EQ(head->content_length, content_.size());
  EXPECT_EQ(head->content_range_first, std::nullopt);
  EXPECT_EQ(head_calls_, 1);
  EXPECT_EQ(seen_head_.status, 200);
  EXPECT_EQ(body_, content_);
  ASSERT_EQ(server_->served().size(), 1u);
  EXPECT_EQ(server_->served()[0].range, "");
}

TEST_F(CurlTransportTest, AsksForTheRangeGiven) {
  HttpFetch fetch = FetchOf(server_->url());
  fetch.range = HttpRange{1000, 1999};
  absl::StatusOr<HttpHead> head = Get(fetch);
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->status, 206);
  EXPECT_THAT(head->content_range_first, Optional(Eq(1000u)));
  EXPECT_EQ(head->content_length, 1000u);
  EXPECT_EQ(body_, content_.substr(1000, 1000));
  EXPECT_EQ(server_->served()[0].range, "bytes=1000-1999");
  EXPECT_EQ(server_->served()[0].if_range, "");
}

TEST_F(CurlTransportTest, SendsIfRange) {
  HttpFetch fetch = FetchOf(server_->url());
  fetch.range = HttpRange{50000, 99999};
  fetch.if_range = "\"v1\"";
  ASSERT_THAT(Get(fetch), IsOk());
  EXPECT_EQ(seen_head_.status, 206);
  EXPECT_EQ(body_, content_.substr(50000));

  fetch.if_range = "\"v0\"";
  absl::StatusOr<HttpHead> head = Get(fetch);
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(body_, content_);
  ASSERT_EQ(server_->served().size(), 2u);
  EXPECT_EQ(server_->served()[0].if_range, "\"v1\"");
  EXPECT_EQ(server_->served()[1].if_range, "\"v0\"");
}

TEST_F(CurlTransportTest, ReusesTheConnection) {
  for (int i = 0; i < 3; ++i) ASSERT_THAT(Get(FetchOf(server_->url())), IsOk());
  EXPECT_EQ(server_->requests(), 3);
  EXPECT_EQ(server_->connections(), 1);
}

TEST_F(CurlTransportTest, AnErrorStatusIsAHead) {
  FaultServer::Faults faults;
  faults.status = 404;
  server_->SetFaults(faults);
  absl::StatusOr<HttpHead> head = Get(FetchOf(server_->url()));
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->status, 404);
  EXPECT_EQ(seen_head_.status, 404);
  EXPECT_EQ(head_calls_, 1);
}

TEST_F(CurlTransportTest, FollowsRedirects) {
  auto origin = FaultServer::Start("/elsewhere", "moved bytes");
  ASSERT_THAT(origin, IsOk());
  FaultServer::Faults faults;
  faults.status = 302;
  faults.location = (*origin)->url();
  server_->SetFaults(faults);
  absl::StatusOr<HttpHead> head = Get(FetchOf(server_->url()));
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->content_length, 11u);
  EXPECT_EQ(head_calls_, 1);
  EXPECT_EQ(body_, "moved bytes");
}

TEST_F(CurlTransportTest, StopsAfterFiveRedirects) {
  FaultServer::Faults faults;
  faults.status = 302;
  faults.location = server_->url();
  server_->SetFaults(faults);
  EXPECT_THAT(Get(FetchOf(server_->url())),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("redirects")));
  EXPECT_EQ(server_->requests(), 6);
}

TEST_F(CurlTransportTest, ACutTransferIsUnavailable) {
  FaultServer::Faults faults;
  faults.cut_after_body_bytes = 3000;
  server_->SetFaults(faults);
  EXPECT_THAT(Get(FetchOf(server_->url())),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("partial")));
  EXPECT_EQ(body_, content_.substr(0, 3000));
}

TEST_F(CurlTransportTest, ARefusedConnectionIsUnavailable) {
  std::string url = server_->url();
  server_.reset();
  EXPECT_THAT(Get(FetchOf(url)),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("connect")));
}

TEST_F(CurlTransportTest, OtherSchemesAreInvalid) {
  EXPECT_THAT(Get(FetchOf("ftp://127.0.0.1/payload")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not supported")));
  EXPECT_THAT(Get(FetchOf("file:///etc/hostname")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not supported")));
}

TEST_F(CurlTransportTest, ARefusedHeadStopsBeforeTheBody) {
  int bodies = 0;
  absl::StatusOr<HttpHead> head = transport_->Fetch(
      FetchOf(server_->url()), [](const HttpHead&) { return false; },
      [&bodies](absl::string_view) {
        ++bodies;
        return true;
      });
  EXPECT_THAT(head, StatusIs(absl::StatusCode::kCancelled, HasSubstr("receiver")));
  EXPECT_EQ(bodies, 0);
}

TEST_F(CurlTransportTest, ARefusedBlockStopsTheTransfer) {
  int bodies = 0;
  absl::StatusOr<HttpHead> head = transport_->Fetch(
      FetchOf(server_->url()), [](const HttpHead&) { return true; },
      [&bodies](absl::string_view) {
        ++bodies;
        return false;
      });
  EXPECT_THAT(head, StatusIs(absl::StatusCode::kCancelled, HasSubstr("receiver")));
  EXPECT_EQ(bodies, 1);
  // The handle is still good for the next request.
  EXPECT_THAT(Get(FetchOf(server_->url())), IsOk());
  EXPECT_EQ(body_, content_);
}

// The deadline tests wait for real deadlines (about a second each): that
// is what they test.
TEST_F(CurlTransportTest, ASlowTransferHitsTheLowSpeedLimit) {
  FaultServer::Faults faults;
  faults.trickle = true;
  server_->SetFaults(faults);
  HttpFetch fetch = FetchOf(server_->url());
  fetch.low_speed_bytes_per_second = 100;
  fetch.low_speed_seconds = 1;
  absl::Time start = absl::Now();
  EXPECT_THAT(Get(fetch), StatusIs(absl::StatusCode::kDeadlineExceeded,
                                   HasSubstr("too slow")));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST_F(CurlTransportTest, ALongTransferHitsTheTotalTimeout) {
  FaultServer::Faults faults;
  faults.trickle = true;
  server_->SetFaults(faults);
  HttpFetch fetch = FetchOf(server_->url());
  fetch.low_speed_bytes_per_second = 0;
  fetch.total_timeout_seconds = 1;
  absl::Time start = absl::Now();
  EXPECT_THAT(Get(fetch), StatusIs(absl::StatusCode::kDeadlineExceeded,
                                   HasSubstr("timed out")));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST_F(CurlTransportTest, CancelStopsAStalledTransfer) {
  FaultServer::Faults faults;
  faults.trickle = true;
  server_->SetFaults(faults);
  std::atomic<bool> cancel{false};
  HttpFetch fetch = FetchOf(server_->url());
  fetch.cancel = &cancel;
  std::thread canceller([&] {
    server_->WaitForRequests(1);
    cancel = true;
  });
  absl::Time start = absl::Now();
  EXPECT_THAT(Get(fetch), StatusIs(absl::StatusCode::kCancelled, HasSubstr("cancelled")));
  canceller.join();
  // Well before the 30 s low-speed limit.
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

}  // namespace
}  // namespace ota::device
