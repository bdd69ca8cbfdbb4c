// Device download benchmark: one PayloadDownloader run of a payload served
// over HTTP into a FileBlockDevice, timed, with the process's peak RSS.
//
//   bazel build -c opt //bench:device_download_bench
//   device_download_bench --url=http://127.0.0.1:8080/payload.bin
//       --payload=/tmp/x/payload.bin --out=/tmp/x/slot.img   (one line)
//
// --payload is the same file the server serves: it is hashed first
// (untimed) into the manifest's size, sha256 and chunk digests, as
// ota-manifest would. The clock then runs over Download() alone: the HTTP
// transfer, every write into the slot file, each chunk's SHA-256, the
// whole-payload SHA-256, the flushes (fdatasync) at each checkpoint and,
// with --journal, a journal saved at each checkpoint as ota-device saves
// its own (write, fsync, rename, fsync of the folder; about as large, since
// it holds the manifest's chunk digests). --out must not exist; it is
// created at the payload's size (its blocks reserved) and left in place.
//
// Output, one line each:
//   download_seconds <s>
//   download_mb_per_s <MB/s, 10^6 bytes>
//   payload_bytes <n>
//   flushes <checkpoints reported>
//   rss_before_download_kib <VmRSS just before Download(): code and
//                            libraries mapped, digests computed>
//   peak_rss_kib <ru_maxrss of this process>
// bench/device_download.sh runs it beside curl and prints the ratios.
#include <sys/resource.h>

#include <fstream>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/base/file.h"
#include "common/manifest/payload_digest.h"
#include "common/status/reason.h"
#include "device/download/curl_transport.h"
#include "device/download/downloader.h"
#include "device/download/sleeper.h"
#include "device/slots/file_block_device.h"
#include "ota/v1/manifest.pb.h"

ABSL_FLAG(std::string, url, "", "where the payload is served");
ABSL_FLAG(std::string, payload, "", "the same payload as a local file, for its digests");
ABSL_FLAG(std::string, out, "", "the slot file to create and download into");
ABSL_FLAG(uint32_t, chunk_size, 1 << 20, "manifest chunk size in bytes");
ABSL_FLAG(uint64_t, checkpoint_bytes, 0,
          "DownloadOptions::checkpoint_bytes (0: flush after every chunk)");
ABSL_FLAG(int64_t, buffer_size, ota::device::CurlTransport::Options().buffer_size,
          "libcurl receive buffer in bytes");
ABSL_FLAG(std::string, journal, "",
          "when set, a journal file saved atomically at each checkpoint");

namespace {

// A "VmRSS:"-style field of /proc/self/status, in KiB; -1 if absent.
long StatusKib(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  }
  return -1;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "device_download_bench: %s (%s)\n",
               std::string(status.message()).c_str(),
               ota::common::ReasonName(ota::common::ReasonOf(status)).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "device_download_bench --url=URL --payload=FILE --out=SLOT_FILE");
  absl::ParseCommandLine(argc, argv);
  const std::string url = absl::GetFlag(FLAGS_url);
  const std::string payload_path = absl::GetFlag(FLAGS_payload);
  const std::string out = absl::GetFlag(FLAGS_out);
  if (url.empty() || payload_path.empty() || out.empty()) {
    std::fprintf(stderr, "--url, --payload and --out are required\n");
    return 2;
  }

  absl::StatusOr<ota::common::PayloadDigests> digests =
      ota::common::DigestFile(payload_path, absl::GetFlag(FLAGS_chunk_size));
  if (!digests.ok()) return Fail(digests.status());
  ota::v1::Payload payload;
  ota::common::SetPayloadDigests(*digests, &payload);
  payload.add_uris(url);

  absl::StatusOr<std::unique_ptr<ota::device::FileBlockDevice>> slot =
      ota::device::FileBlockDevice::Create(out, payload.size());
  if (!slot.ok()) return Fail(slot.status());
  ota::device::CurlTransport::Options transport_options;
  transport_options.buffer_size = absl::GetFlag(FLAGS_buffer_size);
  absl::StatusOr<std::unique_ptr<ota::device::CurlTransport>> transport =
      ota::device::CurlTransport::Create(transport_options);
  if (!transport.ok()) return Fail(transport.status());
  ota::device::RealSleeper sleeper;
  ota::device::DownloadOptions options;
  options.checkpoint_bytes = absl::GetFlag(FLAGS_checkpoint_bytes);
  options.attempts_per_uri = 1;
  ota::device::PayloadDownloader downloader(transport->get(), &sleeper, options);

  ota::device::DownloadProgress progress;
  int64_t flushes = 0;
  std::vector<std::string> uris(payload.uris().begin(), payload.uris().end());
  const std::string journal = absl::GetFlag(FLAGS_journal);
  const std::string journal_base = payload.SerializeAsString();
  const long rss_before = StatusKib("VmRSS");
  auto start = std::chrono::steady_clock::now();
  absl::Status status = downloader.Download(
      payload, uris, slot->get(), &progress,
      [&](const ota::device::DownloadProgress& p, uint64_t) {
        ++flushes;
        if (journal.empty()) return absl::OkStatus();
        return ota::common::WriteFileAtomically(
            journal, absl::StrCat(journal_base, p.verified_chunks, p.etag, p.uri_index),
            0600);
      });
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!status.ok()) return Fail(status);

  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("download_seconds %.3f\n", seconds);
  std::printf("download_mb_per_s %.1f\n", payload.size() / seconds / 1e6);
  std::printf("payload_bytes %llu\n", static_cast<unsigned long long>(payload.size()));
  std::printf("flushes %lld\n", static_cast<long long>(flushes));
  std::printf("rss_before_download_kib %ld\n", rss_before);
  std::printf("peak_rss_kib %ld\n", usage.ru_maxrss);
  return 0;
}
