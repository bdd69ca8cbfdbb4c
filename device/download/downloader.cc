#include "device/download/downloader.h"

#include <unistd.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "common/crypto/bytes.h"
#include "common/crypto/sha256.h"
#include "common/status/reason.h"

namespace ota::device {
namespace {

using ota::common::ReasonError;

// The block in which verified bytes are read back from the sink.
constexpr size_t kReadBlock = 64 * 1024;

// How an attempt on one URI ended, which decides what comes next.
enum class Cause {
  kNone,            // every chunk is verified
  kRetry,           // connection, transfer or 408/429/5xx: retry after a backoff
  kDeadline,        // low-speed limit or total timeout: retry after a backoff
  kGiveUpUri,       // another HTTP status or an unusable URL: next URI
  kChunkMismatch,   // the URI serves wrong bytes: next URI
  kContentChanged,  // ... and its ETag changed since the last resume
  kOverrun,         // the URI sends more than the payload: next URI
  kStop,            // sink failure, cancel or the caller's status: return it
};

struct Attempt {
  Cause cause = Cause::kNone;
  absl::Status status;
};

bool IsRetryableStatus(int status) {
  return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

absl::Status StorageError(const absl::Status& status, absl::string_view what) {
  return ReasonError(status.code(), ota::v1::REASON_STORAGE_ERROR,
                     absl::StrCat(what, ": ", status.message()));
}

absl::Status InvalidPayload(absl::string_view message) {
  return ReasonError(absl::StatusCode::kInvalidArgument,
                     ota::v1::REASON_INVALID_FIELD, message);
}

uint64_t ClockSeed() {
  return static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())) ^
         (static_cast<uint64_t>(getpid()) << 32);
}

}  // namespace

// The state of one Download call.
class PayloadDownloader::Run {
 public:
  Run(const ota::v1::Payload& payload, BlockDevice* sink,
      DownloadProgress* progress, const ChunkCallback& on_chunk,
      const std::atomic<bool>* cancel, const DownloadOptions& options,
      HttpTransport* transport)
      : payload_(payload),
        size_(payload.size()),
        chunk_size_(payload.chunk_size()),
        sink_(sink),
        progress_(progress),
        on_chunk_(on_chunk),
        cancel_(cancel),
        options_(options),
        transport_(transport),
        buffer_(new char[kReadBlock]) {}

  // Checks the payload's chunk fields, the sink's size and the progress.
  absl::Status Validate() {
    if (size_ > 0 && chunk_size_ == 0) {
      return InvalidPayload("payload.chunk_size is 0");
    }
    chunk_count_ = size_ == 0 ? 0 : (size_ - 1) / chunk_size_ + 1;
    if (static_cast<uint64_t>(payload_.chunk_sha256_size()) != chunk_count_) {
      return InvalidPayload(absl::StrCat(
          "payload.chunk_sha256 has ", payload_.chunk_sha256_size(),
          " digests; ", size_, " bytes in chunks of ", chunk_size_, " make ",
          chunk_count_));
    }
    for (int i = 0; i < payload_.chunk_sha256_size(); ++i) {
      if (payload_.chunk_sha256(i).size() != ota::common::kSha256Size) {
        return InvalidPayload(
            absl::StrCat("payload.chunk_sha256[", i, "] is not 32 bytes"));
      }
    }
    if (payload_.sha256().size() != ota::common::kSha256Size) {
      return InvalidPayload("payload.sha256 is not 32 bytes");
    }
    absl::StatusOr<uint64_t> sink_size = sink_->Size();
    if (!sink_size.ok()) {
      return StorageError(sink_size.status(), "reading the sink's size");
    }
    if (*sink_size < size_) {
      return ReasonError(absl::StatusCode::kFailedPrecondition,
                         ota::v1::REASON_PAYLOAD_TOO_LARGE,
                         absl::StrCat("the payload is ", size_,
                                      " bytes; the sink holds ", *sink_size));
    }
    if (progress_->verified_chunks > chunk_count_) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the progress says ", progress_->verified_chunks,
          " chunks are verified; the payload has ", chunk_count_));
    }
    return absl::OkStatus();
  }

  // Reads the verified prefix back, checking each chunk and rebuilding the
  // whole-payload digest. A chunk that no longer matches (the sink lost a
  // write the journal counted) becomes the first one to fetch.
  absl::Status RebuildPrefix(int uri_count) {
    const uint64_t claimed = progress_->verified_chunks;
    if (progress_->uri_index >= 0 && progress_->uri_index < uri_count) {
      source_uri_ = progress_->uri_index;
      source_etag_ = progress_->etag;
    }
    for (uint64_t i = 0; i < claimed; ++i) {
      ota::common::Sha256 chunk;
      absl::Status s = ReadBack(ChunkStart(i), ChunkEnd(i), &chunk, &whole_);
      if (!s.ok()) return s;
      if (chunk.Finish() != payload_.chunk_sha256(i)) {
        whole_ = ota::common::Sha256();
        s = ReadBack(0, ChunkStart(i), nullptr, &whole_);
        if (!s.ok()) return s;
        progress_->verified_chunks = i;
        break;
      }
      verified_ = i + 1;
    }
    reported_ = verified_;
    return absl::OkStatus();
  }

  bool done() const { return verified_ == chunk_count_; }
  uint64_t verified() const { return verified_; }
  bool cancelled() const { return cancel_ != nullptr && cancel_->load(); }

  // One request to `uri` (index `uri_index`) for everything not verified.
  Attempt Fetch(int uri_index, const std::string& uri) {
    const uint64_t offset = ChunkStart(verified_);
    const std::string recorded_etag =
        uri_index == source_uri_ ? source_etag_ : std::string();
    HttpFetch fetch;
    fetch.url = uri;
    if (offset > 0) {
      fetch.range = HttpRange{offset, size_ - 1};
      // A weak validator never matches If-Range; sending it would only turn
      // every resume into a full 200.
      if (!absl::StartsWith(recorded_etag, "W/")) fetch.if_range = recorded_etag;
    }
    fetch.low_speed_bytes_per_second = options_.low_speed_bytes_per_second;
    fetch.low_speed_seconds = options_.low_speed_seconds;
    fetch.total_timeout_seconds = options_.total_timeout_seconds;
    fetch.cancel = cancel_;

    chunk_hash_ = ota::common::Sha256();
    uint64_t pos = offset;
    uint64_t skip = 0;
    bool changed = false;
    std::string etag;
    Attempt failure;
    auto fail = [&failure](Cause cause, absl::Status status) {
      failure = Attempt{cause, std::move(status)};
      return false;
    };

    auto on_head = [&](const HttpHead& head) {
      uint64_t first = 0;
      if (head.status == 206) {
        if (!head.content_range_first.has_value()) {
          return fail(Cause::kRetry,
                      absl::UnavailableError("206 without a usable Content-Range"));
        }
        first = *head.content_range_first;
        if (first > offset) {
          return fail(Cause::kRetry,
                      absl::UnavailableError(absl::StrCat(
                          "206 starts at byte ", first, "; asked from ", offset)));
        }
      } else if (head.status != 200) {
        return fail(IsRetryableStatus(head.status) ? Cause::kRetry : Cause::kGiveUpUri,
                    absl::UnavailableError(absl::StrCat("HTTP ", head.status)));
      }
      // Checked before any body byte: a server announcing more than the
      // payload (an endless-data attack, or another object) gets nothing
      // written.
      if (head.content_length > size_ - first) {
        return fail(Cause::kOverrun,
                    ReasonError(absl::StatusCode::kDataLoss,
                                ota::v1::REASON_DOWNLOAD_OVERRUN,
                                absl::StrCat("the server announces ",
                                             head.content_length, " bytes from byte ",
                                             first, "; the payload has ", size_)));
      }
      skip = offset - first;
      etag = head.etag;
      changed = !recorded_etag.empty() && !etag.empty() && etag != recorded_etag;
      return true;
    };

    auto on_body = [&](absl::string_view block) {
      if (skip > 0) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(skip, block.size()));
        block.remove_prefix(n);
        skip -= n;
      }
      while (!block.empty()) {
        if (pos == size_) {
          return fail(Cause::kOverrun,
                      ReasonError(absl::StatusCode::kDataLoss,
                                  ota::v1::REASON_DOWNLOAD_OVERRUN,
                                  absl::StrCat("the server sent more than the payload's ",
                                               size_, " bytes")));
        }
        const uint64_t end = ChunkEnd(verified_);
        size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), end - pos));
        absl::string_view part = block.substr(0, n);
        if (absl::Status s = sink_->Write(pos, part); !s.ok()) {
          return fail(Cause::kStop,
                      StorageError(s, absl::StrCat("writing payload bytes at ", pos)));
        }
        chunk_hash_.Update(part);
        pos += n;
        block.remove_prefix(n);
        if (pos == end) {
          Attempt a = CompleteChunk(uri_index, etag, changed, recorded_etag);
          if (a.cause != Cause::kNone) {
            failure = std::move(a);
            return false;
          }
        }
      }
      return true;
    };

    absl::StatusOr<HttpHead> head = transport_->Fetch(fetch, on_head, on_body);
    if (failure.cause != Cause::kNone) return failure;
    if (!head.ok()) {
      switch (head.status().code()) {
        case absl::StatusCode::kDeadlineExceeded:
          return Attempt{Cause::kDeadline, head.status()};
        case absl::StatusCode::kCancelled:
          return Attempt{Cause::kStop, absl::CancelledError("download cancelled")};
        case absl::StatusCode::kInvalidArgument:
          return Attempt{Cause::kGiveUpUri, head.status()};
        default:
          return Attempt{Cause::kRetry, head.status()};
      }
    }
    if (!done()) {
      return Attempt{Cause::kRetry,
                     absl::UnavailableError(absl::StrCat(
                         "the response ended at payload byte ", pos, " of ", size_))};
    }
    return Attempt{};
  }

  // Flushes the sink and reports every chunk verified since the last report.
  absl::Status Checkpoint() {
    if (verified_ == reported_) return absl::OkStatus();
    if (absl::Status s = sink_->Flush(); !s.ok()) {
      return StorageError(s, "flushing the sink");
    }
    reported_ = verified_;
    progress_->verified_chunks = verified_;
    progress_->etag = source_etag_;
    progress_->uri_index = source_uri_ < 0 ? 0 : source_uri_;
    if (!on_chunk_) return absl::OkStatus();
    return on_chunk_(*progress_, std::min(size_, ChunkStart(verified_)));
  }

  // Ends the download with `status`, first reporting what was verified
  // (unless the sink itself failed).
  absl::Status Stop(absl::Status status) {
    if (ota::common::ReasonOf(status) == ota::v1::REASON_STORAGE_ERROR) return status;
    if (absl::Status s = Checkpoint(); !s.ok()) return s;
    return status;
  }

  // Once every chunk is verified: the whole-payload check.
  absl::Status Finish() {
    if (absl::Status s = Checkpoint(); !s.ok()) return s;
    std::string digest = whole_.Finish();
    if (digest != payload_.sha256()) {
      return ReasonError(absl::StatusCode::kDataLoss,
                         ota::v1::REASON_PAYLOAD_DIGEST_MISMATCH,
                         absl::StrCat("the payload's sha256 is ",
                                      ota::common::HexEncode(digest),
                                      "; the manifest says ",
                                      ota::common::HexEncode(payload_.sha256())));
    }
    return absl::OkStatus();
  }

 private:
  uint64_t ChunkStart(uint64_t i) const {
    return std::min(size_, i * chunk_size_);
  }
  uint64_t ChunkEnd(uint64_t i) const { return ChunkStart(i + 1); }

  // Reads sink bytes [start, end) through the fixed buffer into the hashers
  // given (either may be null).
  absl::Status ReadBack(uint64_t start, uint64_t end, ota::common::Sha256* a,
                        ota::common::Sha256* b) {
    for (uint64_t at = start; at < end;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(kReadBlock, end - at));
      if (absl::Status s = sink_->Read(at, buffer_.get(), n); !s.ok()) {
        return StorageError(s, absl::StrCat("reading payload bytes at ", at));
      }
      absl::string_view data(buffer_.get(), n);
      if (a != nullptr) a->Update(data);
      if (b != nullptr) b->Update(data);
      at += n;
    }
    return absl::OkStatus();
  }

  // The current chunk has all its bytes: check it, and on a match count it,
  // add it to the whole-payload digest and checkpoint when due.
  Attempt CompleteChunk(int uri_index, const std::string& etag, bool changed,
                        const std::string& recorded_etag) {
    const uint64_t i = verified_;
    if (chunk_hash_.Finish() != payload_.chunk_sha256(static_cast<int>(i))) {
      std::string message =
          absl::StrCat("chunk ", i, " (bytes ", ChunkStart(i), "-", ChunkEnd(i) - 1,
                       ") does not match its sha256 in the manifest");
      if (changed) {
        return Attempt{Cause::kContentChanged,
                       ReasonError(absl::StatusCode::kDataLoss,
                                   ota::v1::REASON_CONTENT_CHANGED,
                                   absl::StrCat(message, "; the object changed since "
                                                "the last resume (ETag ", etag,
                                                ", was ", recorded_etag, ")"))};
      }
      return Attempt{Cause::kChunkMismatch,
                     ReasonError(absl::StatusCode::kDataLoss,
                                 ota::v1::REASON_CHUNK_DIGEST_MISMATCH, message)};
    }
    if (absl::Status s = ReadBack(ChunkStart(i), ChunkEnd(i), nullptr, &whole_);
        !s.ok()) {
      return Attempt{Cause::kStop, s};
    }
    verified_ = i + 1;
    source_uri_ = uri_index;
    source_etag_ = etag;
    const uint64_t since = ChunkStart(verified_) - ChunkStart(reported_);
    if (done() || since >= std::max<uint64_t>(1, options_.checkpoint_bytes)) {
      if (absl::Status s = Checkpoint(); !s.ok()) return Attempt{Cause::kStop, s};
    }
    if (cancelled()) {
      return Attempt{Cause::kStop, absl::CancelledError("download cancelled")};
    }
    return Attempt{};
  }

  const ota::v1::Payload& payload_;
  const uint64_t size_;
  const uint64_t chunk_size_;
  BlockDevice* const sink_;
  DownloadProgress* const progress_;
  const ChunkCallback& on_chunk_;
  const std::atomic<bool>* const cancel_;
  const DownloadOptions& options_;
  HttpTransport* const transport_;
  const std::unique_ptr<char[]> buffer_;

  uint64_t chunk_count_ = 0;
  uint64_t verified_ = 0;    // chunks checked, in the sink, maybe not flushed
  uint64_t reported_ = 0;    // chunks flushed and reported to the caller
  int source_uri_ = -1;      // the URI and ETag the verified bytes came from
  std::string source_etag_;
  ota::common::Sha256 whole_;       // over sink bytes [0, ChunkStart(verified_))
  ota::common::Sha256 chunk_hash_;  // over the current chunk's bytes so far
};

PayloadDownloader::PayloadDownloader(HttpTransport* transport, Sleeper* sleeper,
                                     DownloadOptions options)
    : transport_(transport),
      sleeper_(sleeper),
      options_(options),
      jitter_(options.jitter_seed != 0 ? options.jitter_seed : ClockSeed()) {}

absl::Duration PayloadDownloader::Backoff(int failures) {
  absl::Duration cap = options_.backoff_initial;
  for (int i = 1; i < failures && cap < options_.backoff_max; ++i) cap *= 2;
  cap = std::min(cap, options_.backoff_max);
  if (cap <= absl::ZeroDuration()) return absl::ZeroDuration();
  std::uniform_int_distribution<int64_t> draw(0, absl::ToInt64Microseconds(cap));
  return absl::Microseconds(draw(jitter_));
}

absl::Status PayloadDownloader::Download(const ota::v1::Payload& payload,
                                         const std::vector<std::string>& uris,
                                         BlockDevice* sink,
                                         DownloadProgress* progress,
                                         const ChunkCallback& on_chunk,
                                         const std::atomic<bool>* cancel) {
  Run run(payload, sink, progress, on_chunk, cancel, options_, transport_);
  if (absl::Status s = run.Validate(); !s.ok()) return s;
  const int uri_count = static_cast<int>(uris.size());
  if (absl::Status s = run.RebuildPrefix(uri_count); !s.ok()) return s;
  if (run.done()) return run.Finish();
  if (uris.empty()) return InvalidPayload("no payload URI to download from");

  const int first =
      progress->uri_index >= 0 && progress->uri_index < uri_count ? progress->uri_index : 0;
  std::vector<absl::Status> last_error(uri_count);
  std::vector<Cause> last_cause(uri_count, Cause::kNone);
  Cause cause = Cause::kNone;
  for (int k = 0; k < uri_count && !run.done(); ++k) {
    const int u = (first + k) % uri_count;
    int failures = 0;
    while (!run.done()) {
      if (run.cancelled()) return run.Stop(absl::CancelledError("download cancelled"));
      const uint64_t before = run.verified();
      Attempt attempt = run.Fetch(u, uris[u]);
      if (attempt.cause == Cause::kNone) break;
      if (attempt.cause == Cause::kStop) return run.Stop(attempt.status);
      // Bytes past the end came after the last chunk matched: the payload
      // is whole, but the server is not to be trusted with it.
      if (attempt.cause == Cause::kOverrun && run.done()) {
        return run.Stop(ota::common::WithContext(attempt.status, uris[u]));
      }
      last_error[u] = attempt.status;
      last_cause[u] = cause = attempt.cause;
      failures = run.verified() > before ? 1 : failures + 1;
      const bool retryable =
          attempt.cause == Cause::kRetry || attempt.cause == Cause::kDeadline;
      if (!retryable || failures >= options_.attempts_per_uri) break;
      sleeper_->Sleep(Backoff(failures));
    }
  }
  if (run.done()) return run.Finish();

  std::string message = "every payload URI failed:";
  bool all_deadlines = true;
  for (int u = 0; u < uri_count; ++u) {
    absl::StrAppend(&message, " ", uris[u], ": ", last_error[u].message(),
                    u + 1 < uri_count ? ";" : "");
    all_deadlines = all_deadlines && last_cause[u] == Cause::kDeadline;
  }
  absl::Status failed;
  switch (cause) {
    case Cause::kChunkMismatch:
      failed = ReasonError(absl::StatusCode::kDataLoss,
                           ota::v1::REASON_CHUNK_DIGEST_MISMATCH, message);
      break;
    case Cause::kContentChanged:
      failed = ReasonError(absl::StatusCode::kDataLoss,
                           ota::v1::REASON_CONTENT_CHANGED, message);
      break;
    case Cause::kOverrun:
      failed = ReasonError(absl::StatusCode::kDataLoss,
                           ota::v1::REASON_DOWNLOAD_OVERRUN, message);
      break;
    default:
      failed = all_deadlines
                   ? ReasonError(absl::StatusCode::kDeadlineExceeded,
                                 ota::v1::REASON_DOWNLOAD_TIMEOUT, message)
                   : ReasonError(absl::StatusCode::kUnavailable,
                                 ota::v1::REASON_DOWNLOAD_FAILED, message);
  }
  return run.Stop(failed);
}

}  // namespace ota::device
