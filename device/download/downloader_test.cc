#include "device/download/downloader.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/manifest/payload_digest.h"
#include "common/status/reason.h"
#include "common/testing/status_matchers.h"
#include "device/download/curl_transport.h"
#include "device/download/fake_sleeper.h"
#include "device/slots/fake_block_device.h"
#include "device/slots/faulty_block_device.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ota/v1/manifest.pb.h"
#include "test/http/fault_server.h"

namespace ota::device {
namespace {

using ::ota::common::ReasonOf;
using ::ota::testing::FaultServer;
using ::ota::testing::IsOk;
using ::ota::testing::StatusIs;
using ::testing::_;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr uint32_t kChunk = 4096;

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(random());
  return s;
}

ota::v1::Payload Describe(const std::string& content) {
  ota::common::PayloadHasher hasher(kChunk);
  hasher.Update(content);
  ota::v1::Payload payload;
  ota::common::SetPayloadDigests(hasher.Finish(), &payload);
  return payload;
}

// A BlockDevice in front of a FakeBlockDevice that counts what is written
// and can refuse writes.
class CountingBlockDevice : public BlockDevice {
 public:
  explicit CountingBlockDevice(FakeBlockDevice* device) : device_(device) {}

  absl::StatusOr<uint64_t> Size() const override { return device_->Size(); }
  absl::Status Read(uint64_t offset, char* buf, size_t len) const override {
    return device_->Read(offset, buf, len);
  }
  absl::Status Write(uint64_t offset, absl::string_view data) override {
    written_ += data.size();
    end_ = std::max<uint64_t>(end_, offset + data.size());
    return device_->Write(offset, data);
  }
  absl::Status Flush() override {
    ++flushes_;
    return device_->Flush();
  }

  uint64_t written() const { return written_; }
  uint64_t end() const { return end_; }
  int flushes() const { return flushes_; }

 private:
  FakeBlockDevice* const device_;
  uint64_t written_ = 0;
  uint64_t end_ = 0;
  int flushes_ = 0;
};

// A thread-safe BlockDevice in front of a FakeBlockDevice that lets the
// downloader flush alongside writes, as a FileBlockDevice does; its
// `fail_flush`-th flush (1-based) fails.
class ConcurrentBlockDevice : public BlockDevice {
 public:
  explicit ConcurrentBlockDevice(FakeBlockDevice* device, int fail_flush = 0)
      : device_(device), fail_flush_(fail_flush) {}

  absl::StatusOr<uint64_t> Size() const override { return device_->Size(); }
  absl::Status Read(uint64_t offset, char* buf, size_t len) const override {
    absl::MutexLock lock(&mu_);
    return device_->Read(offset, buf, len);
  }
  absl::Status Write(uint64_t offset, absl::string_view data) override {
    absl::MutexLock lock(&mu_);
    return device_->Write(offset, data);
  }
  absl::Status Flush() override {
    absl::MutexLock lock(&mu_);
    if (++flushes_ == fail_flush_) return absl::InternalError("flush failed");
    return device_->Flush();
  }
  bool FlushesAlongsideWrites() const override { return true; }

 private:
  FakeBlockDevice* const device_;
  const int fail_flush_;
  mutable absl::Mutex mu_;
  int flushes_ = 0;
};

class DownloaderTest : public ::testing::Test {
 protected:
  // A payload of `chunks` whole chunks and `tail` more bytes, served by
  // `mirrors` servers; a sink with 1000 bytes of slack after it.
  void Serve(uint64_t chunks, uint64_t tail, int mirrors = 1) {
    content_ = RandomBytes(chunks * kChunk + tail, 17);
    payload_ = Describe(content_);
    for (int i = 0; i < mirrors; ++i) {
      auto server = FaultServer::Start(absl::StrCat("/payloads/m", i), content_);
      ASSERT_TRUE(server.ok()) << server.status();
      uris_.push_back((*server)->url());
      servers_.push_back(std::move(*server));
    }
    sink_ = std::make_unique<FakeBlockDevice>(content_.size() + kSlack, kFill);
    auto transport = CurlTransport::Create();
    ASSERT_TRUE(transport.ok()) << transport.status();
    transport_ = std::move(*transport);
  }

  static DownloadOptions Options() {
    DownloadOptions options;
    options.jitter_seed = 42;
    return options;
  }

  // One run of the device: starts from the journal, as after a reboot, and
  // records every report into it.
  absl::Status Download(PayloadDownloader& downloader, BlockDevice* sink,
                        const std::atomic<bool>* cancel = nullptr) {
    DownloadProgress progress = journal_;
    return downloader.Download(
        payload_, uris_, sink, &progress,
        [this](const DownloadProgress& p, uint64_t bytes_done) {
          journal_ = p;
          reports_.push_back(bytes_done);
          return on_chunk_status_;
        },
        cancel);
  }
  absl::Status Download(PayloadDownloader& downloader) {
    return Download(downloader, sink_.get());
  }

  // What the sink holds, and would hold after a power cut.
  std::string Image() const { return sink_->volatile_contents().substr(0, content_.size()); }
  std::string DurableImage() const {
    return sink_->durable_contents().substr(0, content_.size());
  }
  std::string Slack() const { return sink_->volatile_contents().substr(content_.size()); }

  static constexpr uint64_t kSlack = 1000;
  static constexpr char kFill = '\xee';

  std::string content_;
  ota::v1::Payload payload_;
  std::vector<std::unique_ptr<FaultServer>> servers_;
  std::vector<std::string> uris_;
  std::unique_ptr<FakeBlockDevice> sink_;
  std::unique_ptr<CurlTransport> transport_;
  FakeSleeper sleeper_;
  DownloadProgress journal_;
  std::vector<uint64_t> reports_;
  absl::Status on_chunk_status_;
};

TEST_F(DownloaderTest, DownloadsEveryChunkTheLastOneShort) {
  Serve(10, 123);
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  CountingBlockDevice sink(sink_.get());
  ASSERT_OK(Download(downloader, &sink));

  EXPECT_EQ(Image(), content_);
  EXPECT_EQ(DurableImage(), content_);
  EXPECT_EQ(Slack(), std::string(kSlack, kFill));
  EXPECT_EQ(sink.written(), content_.size());
  EXPECT_EQ(journal_.verified_chunks, 11u);
  EXPECT_EQ(journal_.etag, "\"v1\"");
  EXPECT_EQ(journal_.uri_index, 0);
  std::vector<uint64_t> expected;
  for (uint64_t i = 1; i <= 10; ++i) expected.push_back(i * kChunk);
  expected.push_back(content_.size());
  EXPECT_EQ(reports_, expected);
  EXPECT_EQ(sink.flushes(), 11);
  EXPECT_EQ(servers_[0]->requests(), 1);
  EXPECT_EQ(servers_[0]->body_bytes_sent(), content_.size());
  EXPECT_EQ(servers_[0]->served()[0].range, "");
  EXPECT_THAT(sleeper_.sleeps(), IsEmpty());
}

TEST_F(DownloaderTest, AnEmptyPayloadNeedsNoRequest) {
  Serve(0, 0);
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  ASSERT_OK(Download(downloader));
  EXPECT_EQ(servers_[0]->requests(), 0);
  EXPECT_THAT(reports_, IsEmpty());
}

// The device loses the connection, and its power, at 100 random points; each
// time it reboots, resumes from its journal and loses at most the one chunk
// it was in the middle of.
TEST_F(DownloaderTest, ResumesAfterCutsAt100RandomPoints) {
  Serve(256, 1000);
  std::mt19937_64 random(2024);
  std::set<uint64_t> picked;
  while (picked.size() < 100) {
    picked.insert(std::uniform_int_distribution<uint64_t>(1, content_.size() - 1)(random));
  }
  std::vector<uint64_t> points(picked.begin(), picked.end());

  DownloadOptions options = Options();
  options.attempts_per_uri = 1;
  uint64_t previous_cut = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    const uint64_t start = journal_.verified_chunks * kChunk;
    ASSERT_LT(start, points[i]);
    // What was lost: the part of a chunk received before the last cut.
    ASSERT_LE(previous_cut - std::min(previous_cut, start), kChunk) << "cut " << i;
    FaultServer::Faults faults;
    faults.cut_after_body_bytes = points[i] - start;
    servers_[0]->SetFaults(faults);

    PayloadDownloader downloader(transport_.get(), &sleeper_, options);
    ASSERT_THAT(Download(downloader),
                StatusIs(absl::StatusCode::kUnavailable, HasSubstr("partial")))
        << "cut " << i << " at byte " << points[i];
    sink_->LosePower();

    const FaultServer::Served served = servers_[0]->served().back();
    EXPECT_EQ(served.first, start);
    EXPECT_EQ(served.body_bytes, points[i] - start);
    EXPECT_EQ(served.if_range, start == 0 ? "" : "\"v1\"");
    EXPECT_EQ(journal_.verified_chunks, points[i] / kChunk) << "cut " << i;
    EXPECT_EQ(DurableImage().substr(0, journal_.verified_chunks * kChunk),
              content_.substr(0, journal_.verified_chunks * kChunk));
    previous_cut = points[i];
  }

  servers_[0]->SetFaults(FaultServer::Faults());
  PayloadDownloader downloader(transport_.get(), &sleeper_, options);
  ASSERT_OK(Download(downloader));
  sink_->LosePower();
  EXPECT_EQ(DurableImage(), content_);
  EXPECT_EQ(servers_[0]->requests(), 101);
  // Every byte once, plus less than a chunk per cut.
  EXPECT_LT(servers_[0]->body_bytes_sent(), content_.size() + 100 * kChunk);
  EXPECT_THAT(sleeper_.sleeps(), IsEmpty());
}

// Chunks several ring blocks long and no multiple of them: a request cut
// inside a chunk, then a chunk that does not match, are both taken back out
// of the whole-payload digest within one call, which still ends matching.
TEST_F(DownloaderTest, ChunksLongerThanTheRingAreTakenBackWhole) {
  constexpr uint32_t kBigChunk = 300 * 1024 + 7;
  content_ = RandomBytes(5 * kBigChunk + 1234, 99);
  ota::common::PayloadHasher hasher(kBigChunk);
  hasher.Update(content_);
  ota::common::SetPayloadDigests(hasher.Finish(), &payload_);
  for (int i = 0; i < 2; ++i) {
    auto server = FaultServer::Start(absl::StrCat("/payloads/m", i), content_);
    ASSERT_TRUE(server.ok()) << server.status();
    uris_.push_back((*server)->url());
    servers_.push_back(std::move(*server));
  }
  sink_ = std::make_unique<FakeBlockDevice>(content_.size(), kFill);
  auto transport = CurlTransport::Create();
  ASSERT_TRUE(transport.ok()) << transport.status();
  transport_ = std::move(*transport);
  FaultServer::Faults faults;
  faults.cut_after_body_bytes = 2 * kBigChunk + 100000;
  faults.cut_responses = 1;
  faults.poison_chunk = 3;
  faults.chunk_size = kBigChunk;
  servers_[0]->SetFaults(faults);

  DownloadOptions options = Options();
  options.attempts_per_uri = 3;
  PayloadDownloader downloader(transport_.get(), &sleeper_, options);
  ASSERT_OK(Download(downloader));
  EXPECT_EQ(Image(), content_);
  // Cut in chunk 2; again from chunk 2, which matched, and chunk 3 did not;
  // the second mirror from chunk 3.
  ASSERT_EQ(servers_[0]->requests(), 2);
  EXPECT_EQ(servers_[0]->served()[1].first, 2 * kBigChunk);
  ASSERT_EQ(servers_[1]->requests(), 1);
  EXPECT_EQ(servers_[1]->served()[0].first, 3 * kBigChunk);
  EXPECT_EQ(journal_.verified_chunks, 6u);
}

TEST_F(DownloaderTest, APoisonedMirrorIsLeftAfterOneChunk) {
  Serve(16, 0, 2);
  FaultServer::Faults poison;
  poison.poison_chunk = 3;
  poison.chunk_size = kChunk;
  servers_[0]->SetFaults(poison);
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  CountingBlockDevice sink(sink_.get());
  ASSERT_OK(Download(downloader, &sink));

  EXPECT_EQ(Image(), content_);
  // Chunks 0-3 from the first mirror (3 was bad), 3-15 from the second.
  EXPECT_EQ(sink.written(), content_.size() + kChunk);
  EXPECT_EQ(servers_[0]->requests(), 1);
  ASSERT_EQ(servers_[1]->requests(), 1);
  EXPECT_EQ(servers_[1]->served()[0].first, 3 * kChunk);
  // Another server's ETag is no validator for this one.
  EXPECT_EQ(servers_[1]->served()[0].if_range, "");
  EXPECT_EQ(journal_.uri_index, 1);
  EXPECT_THAT(sleeper_.sleeps(), IsEmpty());
}

TEST_F(DownloaderTest, EveryMirrorPoisoned) {
  Serve(16, 0, 2);
  FaultServer::Faults poison;
  poison.poison_chunk = 3;
  poison.chunk_size = kChunk;
  servers_[0]->SetFaults(poison);
  servers_[1]->SetFaults(poison);
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  absl::Status status = Download(downloader);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kDataLoss,
                               AllOf(HasSubstr(uris_[0] + ": chunk 3 (bytes 12288-16383) "
                                               "does not match its sha256"),
                                     HasSubstr(uris_[1] + ": chunk 3"))));
  EXPECT_EQ(ReasonOf(status), ota::v1::REASON_CHUNK_DIGEST_MISMATCH);
  EXPECT_EQ(journal_.verified_chunks, 3u);
  EXPECT_EQ(servers_[0]->requests(), 1);
  EXPECT_EQ(servers_[1]->requests(), 1);
  EXPECT_THAT(sleeper_.sleeps(), IsEmpty());
}

TEST_F(DownloaderTest, A200ToARangeRequestSkipsTheVerifiedPrefix) {
  Serve(12, 500);
  DownloadOptions options = Options();
  options.attempts_per_uri = 1;
  FaultServer::Faults cut;
  cut.cut_after_body_bytes = 5 * kChunk + 100;
  servers_[0]->SetFaults(cut);
  {
    PayloadDownloader downloader(transport_.get(), &sleeper_, options);
    ASSERT_THAT(Download(downloader), StatusIs(absl::StatusCode::kUnavailable, _));
  }
  ASSERT_EQ(journal_.verified_chunks, 5u);

  FaultServer::Faults ignore;
  ignore.ignore_range = true;
  servers_[0]->SetFaults(ignore);
  PayloadDownloader downloader(transport_.get(), &sleeper_, options);
  CountingBlockDevice sink(sink_.get());
  ASSERT_OK(Download(downloader, &sink));
  EXPECT_EQ(Image(), content_);
  EXPECT_EQ(sink.written(), content_.size() - 5 * kChunk);
  const FaultServer::Served served = servers_[0]->served()[1];
  EXPECT_EQ(served.range, absl::StrCat("bytes=", 5 * kChunk, "-", content_.size() - 1));
  EXPECT_EQ(served.if_range, "\"v1\"");
  EXPECT_EQ(served.status, 200);
}

TEST_F(DownloaderTest, A206FromBeforeTheOffsetIsTrimmed) {
  Serve(12, 500);
  journal_.verified_chunks = 4;
  ASSERT_OK(sink_->Write(0, content_.substr(0, 4 * kChunk)));
  FaultServer::Faults early;
  early.shift_range_first = -1000;
  servers_[0]->SetFaults(early);
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  CountingBlockDevice sink(sink_.get());
  ASSERT_OK(Download(downloader, &sink));
  EXPECT_EQ(Image(), content_);
  EXPECT_EQ(sink.written(), content_.size() - 4 * kChunk);
  EXPECT_EQ(servers_[0]->served()[0].first, 4 * kChunk - 1000);
}

TEST_F(DownloaderTest, A206FromAfterTheOffsetIsRefused) {
  Serve(12, 500);
  journal_.verified_chunks = 4;
  ASSERT_OK(sink_->Write(0, content_.substr(0, 4 * kChunk)));
  FaultServer::Faults late;
  late.shift_range_first = 1000;
  servers_[0]->SetFaults(late);
  DownloadOptions options = Options();
  options.attempts_per_uri = 2;
  PayloadDownloader downloader(transport_.get(), &sleeper_, options);
  CountingBlockDevice sink(sink_.get());
  absl::Status status = Download(downloader, &sink);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable,
                               HasSubstr("206 starts at byte 17384; asked from 16384")));
  EXPECT_EQ(ReasonOf(status), ota::v1::REASON_DOWNLOAD_FAILED);
  EXPECT_EQ(sink.written(), 0u);
  EXPECT_EQ(servers_[0]->requests(), 2);
}

// The object changes on the server between two requests of one download:
// If-Range makes the server answer 200 with the new bytes, which are never
// spliced onto the old ones.
TEST_F(DownloaderTest, ContentChangedBetweenResumes) {
  Serve(12, 500);
  FaultServer::Faults faults;
  faults.cut_after_body_bytes = 5 * kChunk + 100;
  faults.cut_responses = 1;
  faults.change_from_request = 2;
  faults.changed_content = RandomBytes(content_.size(), 99);
  servers_[0]->SetFaults(faults);
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  absl::Status status = Download(downloader);

  EXPECT_THAT(status, StatusIs(absl::StatusCode::kDataLoss,
                               HasSubstr("chunk 5 (bytes 20480-24575) does not match its "
                                         "sha256 in the manifest; the object changed since "
                                         "the last resume (ETag \"v2\", was \"v1\")")));
  EXPECT_EQ(ReasonOf(status), ota::v1::REASON_CONTENT_CHANGED);
  EXPECT_EQ(journal_.verified_chunks, 5u);
  EXPECT_EQ(journal_.etag, "\"v1\"");
  EXPECT_EQ(reports_.size(), 5u);
  EXPECT_EQ(DurableImage().substr(0, 5 * kChunk), content_.substr(0, 5 * kChunk));
  ASSERT_EQ(servers_[0]->requests(), 2);
  EXPECT_EQ(servers_[0]->served()[1].if_range, "\"v1\"");
  EXPECT_EQ(servers_[0]->served()[1].status, 200);
}

TEST_F(DownloaderTest, ContentChangedAcrossReboots) {
  Serve(12, 500);
  DownloadOptions options = Options();
  options.attempts_per_uri = 1;
  FaultServer::Faults cut;
  cut.cut_after_body_bytes = 7 * kChunk + 1;
  servers_[0]->SetFaults(cut);
  {
    PayloadDownloader downloader(transport_.get(), &sleeper_, options);
    ASSERT_THAT(Download(downloader), StatusIs(absl::StatusCode::kUnavailable, _));
  }
  sink_->LosePower();
  servers_[0]->SetFaults(FaultServer::Faults());
  servers_[0]->SetContent(RandomBytes(content_.size(), 5));
  reports_.clear();
  PayloadDownloader downloader(transport_.get(), &sleeper_, options);
  absl::Status status = Download(downloader);
  EXPECT_EQ(ReasonOf(status), ota::v1::REASON_CONTENT_CHANGED) << status;
  EXPECT_THAT(reports_, IsEmpty());
  EXPECT_EQ(journal_.verified_chunks, 7u);
  EXPECT_EQ(DurableImage().substr(0, 7 * kChunk), content_.substr(0, 7 * kChunk));
}

TEST_F(DownloaderTest, ANewETagOverTheSameBytesIsNoFailure) {
  Serve(12, 500);
  FaultServer::Faults faults;
  faults.cut_after_body_bytes = 5 * kChunk + 100;
  faults.cut_responses = 1;
  faults.change_from_request = 2;
  faults.changed_content = content_;
  servers_[0]->SetFaults(faults);
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  ASSERT_OK(Download(downloader));
  EXPECT_EQ(Image(), content_);
  EXPECT_EQ(journal_.etag, "\"v2\"");
}

TEST_F(DownloaderTest, AnAnnouncedOverrunIsRefusedBeforeAnyByte) {
  Serve(8, 10, 1);
  FaultServer::Faults faults;
  faults.garbage_bytes = 100;
  faults.declare_garbage_length = true;
  servers_[0]->SetFaults(faults);
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  CountingBlockDevice sink(sink_.get());
  absl::Status status = Download(downloader, &sink);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kDataLoss,
                               HasSubstr("the server announces 32878 bytes from byte 0; "
                                         "the payload has 32778")));
  EXPECT_EQ(ReasonOf(status), ota::v1::REASON_DOWNLOAD_OVERRUN);
  EXPECT_EQ(sink.written(), 0u);
  EXPECT_EQ(servers_[0]->requests(), 1);
  EXPECT_THAT(sleeper_.sleeps(), IsEmpty());
}

TEST_F(DownloaderTest, ABodyLongerThanThePayloadStopsAtItsEnd) {
  Serve(8, 10, 1);
  FaultServer::Faults faults;
  faults.garbage_bytes = 100000;
  faults.declare_garbage_length = false;
  servers_[0]->SetFaults(faults);
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  CountingBlockDevice sink(sink_.get());
  absl::Status status = Download(downloader, &sink);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kDataLoss,
                               uris_[0] + ": the server sent more than the payload's "
                                          "32778 bytes"));
  EXPECT_EQ(ReasonOf(status), ota::v1::REASON_DOWNLOAD_OVERRUN);
  // What came before the overrun is the payload, checked chunk by chunk.
  EXPECT_EQ(journal_.verified_chunks, 9u);
  EXPECT_EQ(sink.end(), content_.size());
  EXPECT_EQ(Slack(), std::string(kSlack, kFill));
  EXPECT_EQ(servers_[0]->requests(), 1);
}

// Waits for a real deadline (about a second): that is what it tests.
TEST_F(DownloaderTest, ATricklingServerTimesOut) {
  Serve(8, 10, 1);
  FaultServer::Faults faults;
  faults.trickle = true;
  servers_[0]->SetFaults(faults);
  DownloadOptions options = Options();
  options.low_speed_bytes_per_second = 1024;
  options.low_speed_seconds = 1;
  options.attempts_per_uri = 2;
  PayloadDownloader downloader(transport_.get(), &sleeper_, options);
  absl::Time start = absl::Now();
  absl::Status status = Download(downloader);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kDeadlineExceeded, HasSubstr("too slow")));
  EXPECT_EQ(ReasonOf(status), ota::v1::REASON_DOWNLOAD_TIMEOUT);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(servers_[0]->requests(), 2);
  EXPECT_EQ(sleeper_.sleeps().size(), 1u);
}

TEST_F(DownloaderTest, RetriesBackOffWithGrowingCappedJitter) {
  Serve(4, 0, 1);
  FaultServer::Faults faults;
  faults.status = 500;
  servers_[0]->SetFaults(faults);
  DownloadOptions options = Options();
  options.attempts_per_uri = 8;
  options.backoff_initial = absl::Seconds(1);
  options.backoff_max = absl::Seconds(8);
  PayloadDownloader downloader(transport_.get(), &sleeper_, options);
  absl::Status status = Download(downloader);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable,
                               HasSubstr(uris_[0] + ": HTTP 500")));
  EXPECT_EQ(ReasonOf(status), ota::v1::REASON_DOWNLOAD_FAILED);
  EXPECT_EQ(servers_[0]->requests(), 8);

  const std::vector<absl::Duration> sleeps = sleeper_.sleeps();
  ASSERT_EQ(sleeps.size(), 7u);
  const absl::Duration caps[] = {absl::Seconds(1), absl::Seconds(2), absl::Seconds(4),
                                 absl::Seconds(8), absl::Seconds(8), absl::Seconds(8),
                                 absl::Seconds(8)};
  for (size_t i = 0; i < sleeps.size(); ++i) {
    EXPECT_GE(sleeps[i], absl::ZeroDuration()) << i;
    EXPECT_LE(sleeps[i], caps[i]) << i;
  }
  // Growing: the capped draws reach past what the first cap allowed.
  EXPECT_GT(*std::max_element(sleeps.begin() + 3, sleeps.end()), absl::Seconds(2));
  // Jittered: no two draws alike, and the same seed gives the same schedule
  // while another seed does not.
  EXPECT_EQ(std::set<absl::Duration>(sleeps.begin(), sleeps.end()).size(), sleeps.size());
  FakeSleeper same_sleeper;
  PayloadDownloader same(transport_.get(), &same_sleeper, options);
  ASSERT_FALSE(Download(same).ok());
  EXPECT_EQ(same_sleeper.sleeps(), sleeps);
  FakeSleeper other_sleeper;
  options.jitter_seed = 43;
  PayloadDownloader other(transport_.get(), &other_sleeper, options);
  ASSERT_FALSE(Download(other).ok());
  EXPECT_NE(other_sleeper.sleeps(), sleeps);
}

TEST_F(DownloaderTest, ALinkThatKeepsProgressingIsNeverGivenUp) {
  Serve(8, 0, 1);
  FaultServer::Faults faults;
  faults.cut_after_body_bytes = kChunk + kChunk / 2;
  servers_[0]->SetFaults(faults);
  DownloadOptions options = Options();
  options.attempts_per_uri = 2;
  PayloadDownloader downloader(transport_.get(), &sleeper_, options);
  ASSERT_OK(Download(downloader));
  EXPECT_EQ(Image(), content_);
  // Each request verifies one chunk and re-fetches half of the next.
  EXPECT_EQ(servers_[0]->requests(), 8);
  ASSERT_EQ(sleeper_.sleeps().size(), 7u);
  for (absl::Duration d : sleeper_.sleeps()) EXPECT_LE(d, options.backoff_initial);
}

TEST_F(DownloaderTest, ANotFoundMirrorIsLeftAtOnce) {
  Serve(4, 7, 2);
  FaultServer::Faults faults;
  faults.status = 404;
  servers_[0]->SetFaults(faults);
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  ASSERT_OK(Download(downloader));
  EXPECT_EQ(Image(), content_);
  EXPECT_EQ(servers_[0]->requests(), 1);
  EXPECT_EQ(servers_[1]->requests(), 1);
  EXPECT_THAT(sleeper_.sleeps(), IsEmpty());
}

TEST_F(DownloaderTest, StartsAtTheRecordedUriAndWrapsAround) {
  Serve(4, 7, 3);
  FaultServer::Faults faults;
  faults.status = 404;
  servers_[1]->SetFaults(faults);
  servers_[2]->SetFaults(faults);
  journal_.uri_index = 1;
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  ASSERT_OK(Download(downloader));
  EXPECT_EQ(servers_[1]->requests(), 1);
  EXPECT_EQ(servers_[2]->requests(), 1);
  EXPECT_EQ(servers_[0]->requests(), 1);
  EXPECT_EQ(journal_.uri_index, 0);
}

TEST_F(DownloaderTest, TheErrorNamesEachUrisLastFailure) {
  Serve(4, 0, 2);
  FaultServer::Faults faults;
  faults.status = 500;
  servers_[0]->SetFaults(faults);
  servers_[1].reset();  // nothing listens there any more
  DownloadOptions options = Options();
  options.attempts_per_uri = 2;
  PayloadDownloader downloader(transport_.get(), &sleeper_, options);
  absl::Status status = Download(downloader);
  EXPECT_THAT(status,
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("every payload URI failed: " + uris_[0] + ": HTTP 500; "),
                             HasSubstr(uris_[1] + ": Couldn't connect to server"))));
  EXPECT_EQ(ReasonOf(status), ota::v1::REASON_DOWNLOAD_FAILED);
  EXPECT_EQ(sleeper_.sleeps().size(), 2u);
}

TEST_F(DownloaderTest, ResumesAfterTheVerifiedPrefixWithoutFetchingIt) {
  Serve(10, 1, 1);
  ASSERT_OK(sink_->Write(0, content_.substr(0, 3 * kChunk)));
  journal_ = DownloadProgress{3, "\"v1\"", 0};
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  ASSERT_OK(Download(downloader));
  EXPECT_EQ(Image(), content_);
  const FaultServer::Served served = servers_[0]->served()[0];
  EXPECT_EQ(served.range, absl::StrCat("bytes=12288-", content_.size() - 1));
  EXPECT_EQ(served.if_range, "\"v1\"");
  EXPECT_EQ(served.status, 206);
  EXPECT_EQ(servers_[0]->body_bytes_sent(), content_.size() - 3 * kChunk);
}

TEST_F(DownloaderTest, AVerifiedChunkTheSinkLostIsFetchedAgain) {
  Serve(10, 1, 1);
  std::string prefix = content_.substr(0, 5 * kChunk);
  prefix[2 * kChunk + 9] ^= 1;
  ASSERT_OK(sink_->Write(0, prefix));
  journal_ = DownloadProgress{5, "\"v1\"", 0};
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  ASSERT_OK(Download(downloader));
  EXPECT_EQ(Image(), content_);
  EXPECT_EQ(servers_[0]->served()[0].first, 2 * kChunk);
}

TEST_F(DownloaderTest, AWeakETagIsNotSentAsIfRange) {
  Serve(10, 1, 1);
  ASSERT_OK(sink_->Write(0, content_.substr(0, 3 * kChunk)));
  journal_ = DownloadProgress{3, "W/\"v1\"", 0};
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  ASSERT_OK(Download(downloader));
  EXPECT_EQ(servers_[0]->served()[0].if_range, "");
  EXPECT_EQ(servers_[0]->served()[0].status, 206);
}

TEST_F(DownloaderTest, CheckpointsAtTheConfiguredInterval) {
  Serve(10, 1, 1);
  FaultServer::Faults faults;
  faults.cut_after_body_bytes = 6 * kChunk + 5;
  servers_[0]->SetFaults(faults);
  DownloadOptions options = Options();
  options.checkpoint_bytes = 4 * kChunk;
  options.attempts_per_uri = 2;
  PayloadDownloader downloader(transport_.get(), &sleeper_, options);
  CountingBlockDevice sink(sink_.get());
  ASSERT_OK(Download(downloader, &sink));
  EXPECT_EQ(Image(), content_);
  // Chunks 0-3, then 4-7 (the cut fell in chunk 6, which the retry fetched
  // again from its start), then the rest.
  EXPECT_THAT(reports_, ElementsAre(4 * kChunk, 8 * kChunk, content_.size()));
  EXPECT_EQ(sink.flushes(), 3);
  EXPECT_EQ(servers_[0]->served()[1].first, 6 * kChunk);
}

TEST_F(DownloaderTest, CheckpointsAlongsideWritesAreTheSameCheckpoints) {
  Serve(10, 1, 1);
  FaultServer::Faults faults;
  faults.cut_after_body_bytes = 6 * kChunk + 5;
  faults.cut_responses = 1;
  servers_[0]->SetFaults(faults);
  DownloadOptions options = Options();
  options.checkpoint_bytes = 4 * kChunk;
  options.attempts_per_uri = 2;
  PayloadDownloader downloader(transport_.get(), &sleeper_, options);
  ConcurrentBlockDevice sink(sink_.get());
  ASSERT_OK(Download(downloader, &sink));
  EXPECT_EQ(Image(), content_);
  EXPECT_THAT(reports_, ElementsAre(4 * kChunk, 8 * kChunk, content_.size()));
  EXPECT_EQ(journal_.verified_chunks, 11u);
  sink_->LosePower();
  EXPECT_EQ(DurableImage(), content_);
}

TEST_F(DownloaderTest, EveryChunkCheckpointedAlongsideWrites) {
  Serve(40, 0, 1);
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  ConcurrentBlockDevice sink(sink_.get());
  ASSERT_OK(Download(downloader, &sink));
  ASSERT_EQ(reports_.size(), 40u);
  for (size_t i = 0; i < reports_.size(); ++i) EXPECT_EQ(reports_[i], (i + 1) * kChunk);
}

TEST_F(DownloaderTest, AFlushFailingAlongsideWritesStopsTheDownload) {
  Serve(40, 0, 2);
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  ConcurrentBlockDevice sink(sink_.get(), /*fail_flush=*/3);
  absl::Status status = Download(downloader, &sink);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInternal, HasSubstr("flush failed")));
  EXPECT_EQ(ReasonOf(status), ota::v1::REASON_STORAGE_ERROR);
  EXPECT_THAT(reports_, ElementsAre(kChunk, 2 * kChunk));
  EXPECT_EQ(servers_[1]->requests(), 0);
}

TEST_F(DownloaderTest, TheCallersErrorAlongsideWritesStopsTheDownload) {
  Serve(40, 0, 1);
  on_chunk_status_ = absl::InternalError("journal full");
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  ConcurrentBlockDevice sink(sink_.get());
  EXPECT_THAT(Download(downloader, &sink), StatusIs(absl::StatusCode::kInternal, "journal full"));
  EXPECT_EQ(reports_.size(), 1u);
  EXPECT_EQ(servers_[0]->requests(), 1);
}

TEST_F(DownloaderTest, StoppingBetweenCheckpointsReportsWhatWasVerified) {
  Serve(10, 1, 1);
  FaultServer::Faults faults;
  faults.cut_after_body_bytes = 6 * kChunk + 5;
  servers_[0]->SetFaults(faults);
  DownloadOptions options = Options();
  options.checkpoint_bytes = 4 * kChunk;
  options.attempts_per_uri = 1;
  PayloadDownloader downloader(transport_.get(), &sleeper_, options);
  ASSERT_THAT(Download(downloader), StatusIs(absl::StatusCode::kUnavailable, _));
  EXPECT_THAT(reports_, ElementsAre(4 * kChunk, 6 * kChunk));
  sink_->LosePower();
  EXPECT_EQ(DurableImage().substr(0, 6 * kChunk), content_.substr(0, 6 * kChunk));
}

TEST_F(DownloaderTest, CancelBeforeStarting) {
  Serve(4, 0, 1);
  std::atomic<bool> cancel{true};
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  EXPECT_THAT(Download(downloader, sink_.get(), &cancel),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("download cancelled")));
  EXPECT_EQ(servers_[0]->requests(), 0);
}

TEST_F(DownloaderTest, CancelBetweenChunks) {
  Serve(10, 0, 1);
  std::atomic<bool> cancel{false};
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  DownloadProgress progress;
  absl::Status status = downloader.Download(
      payload_, uris_, sink_.get(), &progress,
      [&cancel](const DownloadProgress& p, uint64_t) {
        if (p.verified_chunks == 3) cancel = true;
        return absl::OkStatus();
      },
      &cancel);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kCancelled, HasSubstr("download cancelled")));
  EXPECT_EQ(progress.verified_chunks, 3u);
  EXPECT_EQ(servers_[0]->requests(), 1);
}

TEST_F(DownloaderTest, CancelDuringAStalledTransfer) {
  Serve(4, 0, 1);
  FaultServer::Faults faults;
  faults.trickle = true;
  servers_[0]->SetFaults(faults);
  std::atomic<bool> cancel{false};
  std::thread canceller([&] {
    servers_[0]->WaitForRequests(1);
    cancel = true;
  });
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  absl::Time start = absl::Now();
  EXPECT_THAT(Download(downloader, sink_.get(), &cancel),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("download cancelled")));
  canceller.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));  // not the 30 s stall limit
  EXPECT_THAT(sleeper_.sleeps(), IsEmpty());
}

TEST_F(DownloaderTest, ASinkWriteFailureStopsAtOnce) {
  Serve(10, 0, 2);
  // Power fails at the sink's 5th write or flush.
  PowerCut power({/*after_operations=*/5, /*tear_last_write=*/false, /*seed=*/1});
  FaultyBlockDevice sink(sink_.get(), &power);
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  absl::Status status = Download(downloader, &sink);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("power lost")));
  EXPECT_EQ(ReasonOf(status), ota::v1::REASON_STORAGE_ERROR);
  EXPECT_EQ(servers_[0]->requests(), 1);
  EXPECT_EQ(servers_[1]->requests(), 0);
  EXPECT_THAT(sleeper_.sleeps(), IsEmpty());
}

TEST_F(DownloaderTest, TheCallersErrorStopsTheDownload) {
  Serve(10, 0, 1);
  on_chunk_status_ = absl::InternalError("journal full");
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  EXPECT_THAT(Download(downloader), StatusIs(absl::StatusCode::kInternal, "journal full"));
  EXPECT_EQ(reports_.size(), 1u);
  EXPECT_EQ(servers_[0]->requests(), 1);
}

TEST_F(DownloaderTest, TheWholePayloadDigestIsChecked) {
  Serve(4, 3, 1);
  std::string wrong = payload_.sha256();
  wrong[0] ^= 1;
  payload_.set_sha256(wrong);
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  absl::Status status = Download(downloader);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kDataLoss, HasSubstr("the manifest says")));
  EXPECT_EQ(ReasonOf(status), ota::v1::REASON_PAYLOAD_DIGEST_MISMATCH);
}

TEST_F(DownloaderTest, RefusesInconsistentChunkFields) {
  Serve(4, 3, 1);
  payload_.mutable_chunk_sha256()->RemoveLast();
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  absl::Status status = Download(downloader);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument,
                               "payload.chunk_sha256 has 4 digests; 16387 bytes in "
                               "chunks of 4096 make 5"));
  EXPECT_EQ(ReasonOf(status), ota::v1::REASON_INVALID_FIELD);
  EXPECT_EQ(servers_[0]->requests(), 0);
}

TEST_F(DownloaderTest, RefusesASinkTooSmall) {
  Serve(4, 3, 1);
  FakeBlockDevice small(content_.size() - 1);
  PayloadDownloader downloader(transport_.get(), &sleeper_, Options());
  absl::Status status = Download(downloader, &small);
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kFailedPrecondition,
                               "the payload is 16387 bytes; the sink holds 16386"));
  EXPECT_EQ(ReasonOf(status), ota::v1::REASON_PAYLOAD_TOO_LARGE);
}

}  // namespace
}  // namespace ota::device
