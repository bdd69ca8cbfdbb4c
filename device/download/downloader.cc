#include "device/download/downloader.h"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "common/crypto/bytes.h"
#include "common/crypto/sha256.h"
#include "common/crypto/sha256_pair.h"
#include "common/status/reason.h"

namespace ota::device {
namespace {

using ota::common::ReasonError;

// Body bytes go from the receiving thread to the workers through a ring of
// kRingBlocks blocks of kBlockSize bytes; it is also where a resumed prefix
// is read back. Memory therefore does not grow with the payload or the
// chunk size.
constexpr size_t kBlockSize = 64 * 1024;
constexpr int kRingBlocks = 4;

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

// A run of payload bytes in a ring block.
struct Block {
  uint64_t offset = 0;  // payload offset of data[0]
  size_t size = 0;
  const char* data = nullptr;
};

// The ring between one producer (the thread receiving the body) and one
// consumer that sees every block, in order. A block is reused once the
// consumer is done with it. A producer that finds the ring full sleeps
// until half of it is free again, and a consumer that ran dry until two
// blocks wait for it (or the ring is closed), so threads wake once per few
// blocks rather than once per block.
class Ring {
 public:
  explicit Ring(char* memory) : memory_(memory) {}

  // Producer: the next free block's memory (kBlockSize bytes), waiting for
  // the slowest consumer if every block is taken.
  char* Acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    if (produced_ - consumed_ == kRingBlocks) {
      producer_waiting_ = true;
      producer_cv_.wait(lock, [this] { return produced_ - consumed_ <= kRingBlocks / 2; });
      producer_waiting_ = false;
    }
    return Slot(produced_);
  }
  // Producer: hands the block from Acquire, holding `size` bytes from
  // payload `offset`, to the consumer.
  void Publish(uint64_t offset, size_t size) {
    std::lock_guard<std::mutex> lock(mu_);
    Block& b = blocks_[produced_ % kRingBlocks];
    b.offset = offset;
    b.size = size;
    b.data = Slot(produced_);
    ++produced_;
    if (consumer_waiting_ && Ready()) consumer_cv_.notify_one();
  }
  // Producer: no more blocks.
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    consumer_cv_.notify_all();
  }

  // Consumer: the next block, waiting for one; false once the ring is
  // closed and every block was seen. Release() it when done.
  bool Next(Block* block) {
    std::unique_lock<std::mutex> lock(mu_);
    if (consumed_ == produced_ && !closed_) {
      consumer_waiting_ = true;
      consumer_cv_.wait(lock, [this] { return Ready() || closed_; });
      consumer_waiting_ = false;
    }
    if (consumed_ == produced_) return false;
    *block = blocks_[consumed_ % kRingBlocks];
    return true;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    ++consumed_;
    if (producer_waiting_ && produced_ - consumed_ <= kRingBlocks / 2) {
      producer_cv_.notify_one();
    }
  }

 private:
  // Whether a consumer that ran dry has enough to wake for: two blocks
  // (the rest comes with Close()).
  bool Ready() const { return produced_ - consumed_ >= 2; }
  char* Slot(int64_t n) { return memory_ + (n % kRingBlocks) * kBlockSize; }

  char* const memory_;
  std::mutex mu_;
  std::condition_variable producer_cv_;
  std::condition_variable consumer_cv_;
  Block blocks_[kRingBlocks];
  int64_t produced_ = 0;
  int64_t consumed_ = 0;
  bool closed_ = false;
  bool producer_waiting_ = false;
  bool consumer_waiting_ = false;
};

}  // namespace

// The state of one Download call.
//
// Threads: Fetch runs on the caller's thread, which receives the body and
// copies it into the ring. Behind it, for the length of one request, the
// sink worker writes each block into the sink and feeds it to the chunk's
// and the whole payload's SHA-256 in one pass (Sha256Pair), checks each
// chunk against its digest and checkpoints (so on_chunk runs on it). With a
// sink that flushes alongside writes, a second worker takes the
// checkpoints (flush, then on_chunk), one at a time, while the sink worker
// writes on. Both digests are kept as of the last verified chunk's end (a
// copy of their state, taken at each chunk that matches) so that a chunk
// that fails, or a request cut in the middle of one, is taken back out
// without hashing the verified prefix again. Every other member is touched
// by one thread at a time: the workers start after Fetch set up the
// request and are joined before it looks at the outcome.
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
        memory_(new char[kBlockSize * kRingBlocks]),
        background_checkpoints_(sink->FlushesAlongsideWrites()) {}

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
      ota::common::Sha256Pair hashes = at_verified_;
      if (absl::Status s = ReadBack(ChunkStart(i), ChunkEnd(i), &hashes); !s.ok()) {
        return s;
      }
      if (hashes.FinishFirst() != payload_.chunk_sha256(i)) {
        progress_->verified_chunks = i;
        break;
      }
      verified_ = i + 1;
      at_verified_ = hashes;
    }
    reported_ = requested_ = verified_;
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

    hashes_ = at_verified_;
    uint64_t pos = offset;  // the next body byte's payload offset
    uint64_t skip = 0;
    Attempt failure;        // the receiving side's
    auto fail = [&failure](Cause cause, absl::Status status) {
      failure = Attempt{cause, std::move(status)};
      return false;
    };
    attempt_ = AttemptSource{uri_index, recorded_etag, std::string(), false};
    sink_failure_ = Attempt{};
    sink_failed_ = false;
    checkpoint_pending_ = checkpoint_closed_ = false;
    checkpoint_error_ = absl::OkStatus();

    Ring ring(memory_.get());
    char* block = nullptr;  // the block being filled, from `block_offset`
    uint64_t block_offset = 0;
    size_t block_size = 0;
    std::thread sink_worker([&] { SinkWorker(&ring); });
    std::thread checkpoint_worker;
    if (background_checkpoints_) checkpoint_worker = std::thread([&] { CheckpointWorker(); });

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
      // The workers read these only from blocks published after this.
      attempt_.etag = head.etag;
      attempt_.changed =
          !recorded_etag.empty() && !head.etag.empty() && head.etag != recorded_etag;
      return true;
    };

    auto on_body = [&](absl::string_view data) {
      // The sink worker failed (a chunk, the sink, the caller, a cancel):
      // nothing more is worth receiving.
      if (sink_failed_.load(std::memory_order_relaxed)) return false;
      if (skip > 0) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(skip, data.size()));
        data.remove_prefix(n);
        skip -= n;
      }
      while (!data.empty()) {
        if (pos == size_) {
          return fail(Cause::kOverrun,
                      ReasonError(absl::StatusCode::kDataLoss,
                                  ota::v1::REASON_DOWNLOAD_OVERRUN,
                                  absl::StrCat("the server sent more than the payload's ",
                                               size_, " bytes")));
        }
        if (block == nullptr) {
          block = ring.Acquire();
          block_offset = pos;
          block_size = 0;
        }
        size_t n = std::min<size_t>(data.size(), kBlockSize - block_size);
        n = static_cast<size_t>(std::min<uint64_t>(n, size_ - pos));
        std::memcpy(block + block_size, data.data(), n);
        block_size += n;
        pos += n;
        data.remove_prefix(n);
        // The payload's last byte goes at once, so the last chunk is
        // checked before anything that may follow it.
        if (block_size == kBlockSize || pos == size_) {
          ring.Publish(block_offset, block_size);
          block = nullptr;
        }
      }
      return true;
    };

    absl::StatusOr<HttpHead> head = transport_->Fetch(fetch, on_head, on_body);
    if (block != nullptr && block_size > 0) ring.Publish(block_offset, block_size);
    ring.Close();
    sink_worker.join();
    if (checkpoint_worker.joinable()) {
      CloseCheckpoints();
      checkpoint_worker.join();
    }

    // A failed checkpoint concerns the earliest bytes, the sink worker's
    // failure earlier ones than the receiving side's.
    if (!checkpoint_error_.ok()) return Attempt{Cause::kStop, std::move(checkpoint_error_)};
    if (sink_failure_.cause != Cause::kNone) return std::move(sink_failure_);
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
  absl::Status Checkpoint() { return Checkpoint(Mark{verified_, source_uri_, source_etag_}); }

  // Ends the download with `status`, first reporting what was verified
  // (unless the sink itself or a checkpoint failed).
  absl::Status Stop(absl::Status status) {
    if (checkpoint_failed_ ||
        ota::common::ReasonOf(status) == ota::v1::REASON_STORAGE_ERROR) {
      return status;
    }
    if (absl::Status s = Checkpoint(); !s.ok()) return s;
    return status;
  }

  // Once every chunk is verified: the whole-payload check.
  absl::Status Finish() {
    if (absl::Status s = Checkpoint(); !s.ok()) return s;
    std::string digest = at_verified_.FinishSecond();
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

  // Reads sink bytes [start, end) through the ring's memory into both
  // `hashes`. Only while no request runs.
  absl::Status ReadBack(uint64_t start, uint64_t end, ota::common::Sha256Pair* hashes) {
    for (uint64_t at = start; at < end;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(kBlockSize, end - at));
      if (absl::Status s = sink_->Read(at, memory_.get(), n); !s.ok()) {
        return StorageError(s, absl::StrCat("reading payload bytes at ", at));
      }
      hashes->Update(absl::string_view(memory_.get(), n));
      at += n;
    }
    return absl::OkStatus();
  }

  // What a checkpoint records: the verified chunks and their source.
  struct Mark {
    uint64_t verified = 0;
    int uri = -1;
    std::string etag;
  };

  absl::Status Checkpoint(const Mark& mark) {
    if (mark.verified == reported_) return absl::OkStatus();
    if (absl::Status s = sink_->Flush(); !s.ok()) {
      checkpoint_failed_ = true;
      return StorageError(s, "flushing the sink");
    }
    reported_ = mark.verified;
    progress_->verified_chunks = mark.verified;
    progress_->etag = mark.etag;
    progress_->uri_index = mark.uri < 0 ? 0 : mark.uri;
    if (!on_chunk_) return absl::OkStatus();
    absl::Status s = on_chunk_(*progress_, std::min(size_, ChunkStart(mark.verified)));
    if (!s.ok()) checkpoint_failed_ = true;
    return s;
  }

  // The sink worker's side of a due checkpoint. With a sink that flushes
  // alongside writes, the checkpoint is handed to the checkpoint worker
  // (waiting for the one before it to end), so the pipeline goes on while
  // the medium catches up; otherwise it is taken here.
  absl::Status RequestCheckpoint() {
    Mark mark{verified_, source_uri_, source_etag_};
    requested_ = verified_;
    if (!background_checkpoints_) return Checkpoint(mark);
    std::unique_lock<std::mutex> lock(checkpoint_mu_);
    checkpoint_cv_.wait(lock, [this] { return !checkpoint_pending_ || !checkpoint_error_.ok(); });
    if (!checkpoint_error_.ok()) return checkpoint_error_;
    checkpoint_ = std::move(mark);
    checkpoint_pending_ = true;
    checkpoint_cv_.notify_all();
    return absl::OkStatus();
  }

  // The checkpoint worker: takes each checkpoint handed to it, in order.
  void CheckpointWorker() {
    std::unique_lock<std::mutex> lock(checkpoint_mu_);
    while (true) {
      checkpoint_cv_.wait(lock, [this] { return checkpoint_pending_ || checkpoint_closed_; });
      if (!checkpoint_pending_) return;
      Mark mark = checkpoint_;
      lock.unlock();
      absl::Status s = Checkpoint(mark);
      lock.lock();
      checkpoint_pending_ = false;
      if (!s.ok()) {
        checkpoint_error_ = std::move(s);
        sink_failed_ = true;
        checkpoint_cv_.notify_all();
        return;
      }
      checkpoint_cv_.notify_all();
    }
  }

  void CloseCheckpoints() {
    std::lock_guard<std::mutex> lock(checkpoint_mu_);
    checkpoint_closed_ = true;
    checkpoint_cv_.notify_all();
  }

  // The sink worker: every block into the sink and the chunk digest, each
  // chunk checked at its end. After a failure it only lets blocks go by.
  void SinkWorker(Ring* ring) {
    Block b;
    while (ring->Next(&b)) {
      // sink_failed_ alone: a checkpoint failed.
      if (sink_failure_.cause == Cause::kNone && !sink_failed_.load()) {
        Attempt a = Store(b);
        if (a.cause != Cause::kNone) {
          sink_failure_ = std::move(a);
          sink_failed_ = true;
        }
      }
      ring->Release();
    }
  }

  Attempt Store(const Block& b) {
    absl::string_view data(b.data, b.size);
    uint64_t pos = b.offset;
    while (!data.empty()) {
      // Written up to the chunk's end, then checked: no byte after a chunk
      // that does not match reaches the sink.
      const uint64_t end = ChunkEnd(verified_);
      size_t n = static_cast<size_t>(std::min<uint64_t>(data.size(), end - pos));
      absl::string_view part = data.substr(0, n);
      if (absl::Status s = sink_->Write(pos, part); !s.ok()) {
        return Attempt{Cause::kStop,
                       StorageError(s, absl::StrCat("writing payload bytes at ", pos))};
      }
      hashes_.Update(part);
      pos += n;
      data.remove_prefix(n);
      if (pos == end) {
        Attempt a = CompleteChunk();
        if (a.cause != Cause::kNone) return a;
      }
    }
    return Attempt{};
  }

  // The current chunk has all its bytes: check it, and on a match count it,
  // add it to the whole-payload digest and checkpoint when due.
  Attempt CompleteChunk() {
    const uint64_t i = verified_;
    const std::string& etag = attempt_.etag;
    const std::string& recorded_etag = attempt_.recorded_etag;
    const bool changed = attempt_.changed;
    if (hashes_.FinishFirst() != payload_.chunk_sha256(static_cast<int>(i))) {
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
    verified_ = i + 1;
    at_verified_ = hashes_;
    source_uri_ = attempt_.uri_index;
    source_etag_ = etag;
    const uint64_t since = ChunkStart(verified_) - ChunkStart(requested_);
    if (done() || since >= std::max<uint64_t>(1, options_.checkpoint_bytes)) {
      if (absl::Status s = RequestCheckpoint(); !s.ok()) return Attempt{Cause::kStop, s};
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
  // The ring's blocks.
  const std::unique_ptr<char[]> memory_;

  uint64_t chunk_count_ = 0;
  uint64_t verified_ = 0;    // chunks checked, in the sink, maybe not flushed
  uint64_t reported_ = 0;    // chunks flushed and reported to the caller
  uint64_t requested_ = 0;   // chunks of the last checkpoint asked for
  bool checkpoint_failed_ = false;  // a flush or on_chunk failed: no more
  int source_uri_ = -1;      // the URI and ETag the verified bytes came from
  std::string source_etag_;
  // First the current chunk's digest, second the whole payload's: as of
  // the bytes stored so far, and as of ChunkStart(verified_).
  ota::common::Sha256Pair hashes_;
  ota::common::Sha256Pair at_verified_;

  // Where the current request's bytes come from.
  struct AttemptSource {
    int uri_index = 0;
    std::string recorded_etag;  // the ETag recorded for this URI, if any
    std::string etag;           // the response's
    bool changed = false;       // both known and different
  };
  AttemptSource attempt_;
  Attempt sink_failure_;                  // the sink worker's, this request
  std::atomic<bool> sink_failed_{false};  // sink_failure_ is set

  // Checkpoints taken off the sink worker (see RequestCheckpoint).
  const bool background_checkpoints_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  Mark checkpoint_;                  // the one handed over
  bool checkpoint_pending_ = false;  // ... and not taken yet
  bool checkpoint_closed_ = false;   // no more this request
  absl::Status checkpoint_error_;    // the first that failed, this request
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
