// PayloadDownloader: fetches a manifest's payload over HTTP into a block
// device, checking every chunk against the manifest as it arrives and
// resuming after any interruption from the last verified chunk.
//
//   PayloadDownloader downloader(&transport, &sleeper, DownloadOptions());
//   DownloadProgress progress = journal.Load();        // zeros the first time
//   absl::Status s = downloader.Download(
//       manifest.payload(), uris, &slot, &progress,
//       [&](const DownloadProgress& p, uint64_t bytes_done) {
//         return journal.Save(p);                      // after each chunk
//       });
//
// Security does not rest on the transport: a byte counts only once the
// chunk holding it has matched its SHA-256 in the signed manifest, and the
// whole payload must match payload.sha256 at the end. A poisoned cache or a
// bad mirror is therefore caught after one chunk, and bytes from two
// versions of an object can never be reported as verified together.
//
// Memory does not depend on the payload or chunk size: body bytes pass
// through a fixed ring of a few blocks (256 KiB in all) from the thread
// that receives them to a worker that writes them into the sink and feeds
// the chunk's and the whole payload's SHA-256 in one pass (Sha256Pair:
// two digests for about the price of one on CPUs with SHA instructions),
// so the digests and the writes overlap the transfer instead of following
// it (and, on a sink that allows it, a second worker takes the
// checkpoints).
// Both digests are computed over the bytes as written; reading the slot
// back is the installer's check (Updater does it before activation).
#ifndef OTA_DEVICE_DOWNLOAD_DOWNLOADER_H_
#define OTA_DEVICE_DOWNLOAD_DOWNLOADER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "device/download/http_transport.h"
#include "device/download/sleeper.h"
#include "device/slots/block_device.h"
#include "ota/v1/manifest.pb.h"

namespace ota::device {

// Where a download stands; the caller persists it between runs (its
// journal) and passes it back to resume.
struct DownloadProgress {
  // Chunks [0, verified_chunks) are in the sink, flushed, and matched their
  // digests.
  uint64_t verified_chunks = 0;
  // The ETag of the object those bytes came from (empty when the server
  // sent none). Sent as If-Range when resuming from the same URI.
  std::string etag;
  // Index into the URI list of the URI that served them.
  int uri_index = 0;
};

struct DownloadOptions {
  // Per request: a transfer slower than this many bytes per second for
  // low_speed_seconds fails with a deadline, as does one running longer
  // than total_timeout_seconds.
  int low_speed_bytes_per_second = 1024;
  int low_speed_seconds = 30;
  int total_timeout_seconds = 3600;
  // Failed attempts allowed per URI before the next one is tried. An
  // attempt that verified at least one new chunk resets the count, so a
  // flaky link that keeps making progress is never given up on.
  int attempts_per_uri = 3;
  // Before retrying the same URI after its n-th consecutive failure, sleep
  // a uniformly random time in [0, min(backoff_max, backoff_initial *
  // 2^(n-1))] ("full jitter": devices failing together do not come back
  // together). Moving on to the next URI does not sleep.
  absl::Duration backoff_initial = absl::Seconds(1);
  absl::Duration backoff_max = absl::Seconds(60);
  // Seeds the jitter; 0 seeds it from the clock and the process id.
  uint64_t jitter_seed = 0;
  // How often the sink is flushed and progress reported: after the first
  // verified chunk ending at least this many bytes after the last report,
  // and after the last chunk. 0 reports after every chunk. A bigger value
  // trades more re-fetching after a power cut for fewer flushes (each one
  // an fdatasync on a FileBlockDevice, and a journal write for the caller).
  // Within one Download call an interruption never re-fetches more than one
  // chunk whatever this is. When the sink flushes alongside writes
  // (BlockDevice::FlushesAlongsideWrites, a FileBlockDevice does), a
  // checkpoint runs while the next bytes are written; the one after it
  // waits for it, so every checkpoint is still taken, in order.
  uint64_t checkpoint_bytes = 0;
};

// Called after a checkpoint (see DownloadOptions::checkpoint_bytes; by
// default after every verified chunk), once the sink was flushed, on one of
// the download's worker threads (never two calls at once, in order, and
// never while the Download caller's code runs elsewhere):
// `progress` is what the caller persists, `bytes_done` the verified bytes
// (verified_chunks * chunk_size, capped at the payload size). A non-OK
// status stops the download and is returned as is.
using ChunkCallback = std::function<absl::Status(
    const DownloadProgress& progress, uint64_t bytes_done)>;

class PayloadDownloader {
 public:
  // Neither `transport` nor `sleeper` is owned; both must outlive this
  // object.
  PayloadDownloader(HttpTransport* transport, Sleeper* sleeper,
                    DownloadOptions options);

  // Fills `sink` bytes [0, payload.size()) with the payload.
  //
  // `sink` must read back what was written before it is flushed, and
  // Flush() must be cheap enough to call at each checkpoint: a
  // FileBlockDevice (a slot or a staging file) is; a ScriptBlockDevice,
  // which installs the whole image at each Flush(), is not a download sink.
  //
  // Resuming: the first progress->verified_chunks chunks are read back from
  // the sink once, to rebuild the whole-payload SHA-256; each is checked
  // against its digest on the way, and from the first one that no longer
  // matches (a sink that lost a write) the download starts over. Nothing
  // still valid is fetched again.
  //
  // `uris` are tried in order starting at progress->uri_index and wrapping
  // around, each up to options.attempts_per_uri times (see there). A
  // request asks exactly for [offset, size - 1] of the first unverified
  // chunk (no Range at offset 0) and sends If-Range with the recorded ETag
  // when the URI is the one that served the verified bytes (another
  // server's ETags mean nothing to it). Body bytes go straight into the
  // sink; at each chunk end the chunk's SHA-256 is compared with
  // payload.chunk_sha256(i). What the server may answer:
  //   - 206 from the offset: the normal case;
  //   - 206 from before the offset: the bytes before it are skipped;
  //   - 206 from after it, or without Content-Range: a failed attempt;
  //   - 200 (Range ignored, or If-Range did not match): the first `offset`
  //     body bytes are skipped;
  //   - 408, 429, 5xx: a failed attempt, retried; any other status: the
  //     URI is given up at once.
  // A chunk that does not match gives the URI up at once (a poisoned cache
  // or a bad mirror); the next URI resumes at that chunk's start. When the
  // ETag differs from the one recorded for this URI, the content changed
  // since the last resume: nothing is spliced (chunks are still checked one
  // by one) and a chunk that then fails is reported as
  // REASON_CONTENT_CHANGED. A declared Content-Length beyond the payload's
  // end, or a body byte past it, stops the request at once with
  // REASON_DOWNLOAD_OVERRUN and gives the URI up; no byte past
  // payload.size() is ever written.
  //
  // `progress` is updated at each checkpoint, just before `on_chunk` is
  // called; on return it is what was last reported (a download that stops
  // between checkpoints reports what was verified first, unless the sink
  // or the checkpoint itself failed).
  //
  // Returns OK once every chunk matched and the bytes written match
  // payload.sha256. Otherwise:
  //   INVALID_ARGUMENT, REASON_INVALID_FIELD: the payload's chunk fields are
  //     inconsistent (chunk_size 0, wrong digest count or length), or no
  //     URI is given while bytes remain to fetch;
  //   FAILED_PRECONDITION, REASON_PAYLOAD_TOO_LARGE: the sink is smaller
  //     than the payload;
  //   DATA_LOSS, REASON_PAYLOAD_DIGEST_MISMATCH: every chunk matched but the
  //     whole payload did not;
  //   the sink's code, REASON_STORAGE_ERROR: a sink read, write or flush
  //     failed (at once, no retry);
  //   CANCELLED: `*cancel` became true (checked between blocks, and about
  //     once a second during a stalled transfer);
  //   on_chunk's status, as is;
  //   when every URI failed, with each URI's last error in the message:
  //     DATA_LOSS, REASON_CHUNK_DIGEST_MISMATCH, REASON_CONTENT_CHANGED or
  //       REASON_DOWNLOAD_OVERRUN when that was the last URI's cause;
  //     DEADLINE_EXCEEDED, REASON_DOWNLOAD_TIMEOUT when every URI's last
  //       error was the low-speed limit or the total timeout;
  //     UNAVAILABLE, REASON_DOWNLOAD_FAILED otherwise.
  //
  // `sink`, `progress` and `cancel` are not owned. While a request runs,
  // `sink` and `on_chunk` are used from the download's own worker threads,
  // never concurrently with the caller, and Flush() beside Write() only
  // when the sink says it may. Not thread-safe: one Download at a time per
  // object.
  absl::Status Download(const ota::v1::Payload& payload,
                        const std::vector<std::string>& uris,
                        BlockDevice* sink, DownloadProgress* progress,
                        const ChunkCallback& on_chunk,
                        const std::atomic<bool>* cancel = nullptr);

 private:
  class Run;

  // How long to wait before the next attempt on a URI that has failed
  // `failures` (>= 1) times in a row.
  absl::Duration Backoff(int failures);

  HttpTransport* const transport_;
  Sleeper* const sleeper_;
  const DownloadOptions options_;
  std::mt19937_64 jitter_;
};

}  // namespace ota::device

#endif  // OTA_DEVICE_DOWNLOAD_DOWNLOADER_H_
