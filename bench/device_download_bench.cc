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
//   download_cpu_seconds <user> user <system> system   (all threads)
//   download_mb_per_s <MB/s, 10^6 bytes>
//   payload_bytes <n>
//   flushes <checkpoints reported>
//   rss_before_download_kib <VmRSS just before Download(): code and
//                            libraries mapped, digests computed>
//   peak_before_download_kib <VmHWM then: the setup's own peak>
//   peak_rss_kib <ru_maxrss of this process>
// bench/device_download.sh runs it beside curl and prints the ratios.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/file.h"
#include "common/manifest/payload_digest.h"
#include "common/status/reason.h"
#include "device/download/curl_transport.h"
#include "device/download/downloader.h"
#include "device/download/sleeper.h"
#include "device/slots/file_block_device.h"
#include "ota/v1/manifest.pb.h"

namespace {

constexpr char kUsage[] =
    "usage: device_download_bench --url=URL --payload=FILE --out=SLOT_FILE\n"
    "  [--journal=FILE]           a journal saved atomically at each checkpoint\n"
    "  [--checkpoint_bytes=N]     DownloadOptions::checkpoint_bytes (0, the\n"
    "                             default: a checkpoint after every chunk)\n"
    "  [--chunk_size=N]           manifest chunk size in bytes (1048576)\n"
    "  [--buffer_size=N]          libcurl receive buffer in bytes\n";

// The command line. Parsed by hand: a flags library would weigh on the
// resident set this benchmark measures.
struct Flags {
  std::string url;
  std::string payload;
  std::string out;
  std::string journal;
  uint64_t checkpoint_bytes = 0;
  uint64_t chunk_size = 1 << 20;
  uint64_t buffer_size = ota::device::CurlTransport::Options().buffer_size;
};

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    size_t eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos) return false;
    std::string name = arg.substr(2, eq - 2);
    std::string value = arg.substr(eq + 1);
    bool ok = true;
    if (name == "url") {
      flags->url = value;
    } else if (name == "payload") {
      flags->payload = value;
    } else if (name == "out") {
      flags->out = value;
    } else if (name == "journal") {
      flags->journal = value;
    } else if (name == "checkpoint_bytes") {
      ok = absl::SimpleAtoi(value, &flags->checkpoint_bytes);
    } else if (name == "chunk_size") {
      ok = absl::SimpleAtoi(value, &flags->chunk_size) && flags->chunk_size > 0 &&
           flags->chunk_size <= UINT32_MAX;
    } else if (name == "buffer_size") {
      ok = absl::SimpleAtoi(value, &flags->buffer_size) && flags->buffer_size > 0;
    } else {
      ok = false;
    }
    if (!ok) return false;
  }
  return !flags->url.empty() && !flags->payload.empty() && !flags->out.empty();
}

// A "VmRSS:"-style field of /proc/self/status, in KiB; -1 if absent.
long StatusKib(const std::string& field) {
  std::FILE* status = std::fopen("/proc/self/status", "r");
  if (status == nullptr) return -1;
  char line[256];
  long kib = -1;
  const std::string prefix = field + ":";
  while (std::fgets(line, sizeof(line), status) != nullptr) {
    if (prefix.compare(0, prefix.size(), line, std::min(prefix.size(), std::strlen(line))) == 0) {
      kib = std::atol(line + prefix.size());
      break;
    }
  }
  std::fclose(status);
  return kib;
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "device_download_bench: %s (%s)\n",
               std::string(status.message()).c_str(),
               ota::common::ReasonName(ota::common::ReasonOf(status)).c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string url = flags.url;
  const std::string payload_path = flags.payload;
  const std::string out = flags.out;

  absl::StatusOr<ota::common::PayloadDigests> digests =
      ota::common::DigestFile(payload_path, static_cast<uint32_t>(flags.chunk_size));
  if (!digests.ok()) return Fail(digests.status());
  ota::v1::Payload payload;
  ota::common::SetPayloadDigests(*digests, &payload);
  payload.add_uris(url);

  absl::StatusOr<std::unique_ptr<ota::device::FileBlockDevice>> slot =
      ota::device::FileBlockDevice::Create(out, payload.size());
  if (!slot.ok()) return Fail(slot.status());
  ota::device::CurlTransport::Options transport_options;
  transport_options.buffer_size = static_cast<long>(flags.buffer_size);
  absl::StatusOr<std::unique_ptr<ota::device::CurlTransport>> transport =
      ota::device::CurlTransport::Create(transport_options);
  if (!transport.ok()) return Fail(transport.status());
  ota::device::RealSleeper sleeper;
  ota::device::DownloadOptions options;
  options.checkpoint_bytes = flags.checkpoint_bytes;
  options.attempts_per_uri = 1;
  ota::device::PayloadDownloader downloader(transport->get(), &sleeper, options);

  ota::device::DownloadProgress progress;
  int64_t flushes = 0;
  std::vector<std::string> uris(payload.uris().begin(), payload.uris().end());
  const std::string journal = flags.journal;
  const std::string journal_base = payload.SerializeAsString();
  const long rss_before = StatusKib("VmRSS");
  const long hwm_before = StatusKib("VmHWM");
  rusage usage_before{};
  getrusage(RUSAGE_SELF, &usage_before);
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
  auto cpu_seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  std::printf("download_seconds %.3f\n", seconds);
  std::printf("download_cpu_seconds %.3f user %.3f system\n",
              cpu_seconds(usage.ru_utime) - cpu_seconds(usage_before.ru_utime),
              cpu_seconds(usage.ru_stime) - cpu_seconds(usage_before.ru_stime));
  std::printf("download_mb_per_s %.1f\n", payload.size() / seconds / 1e6);
  std::printf("payload_bytes %llu\n", static_cast<unsigned long long>(payload.size()));
  std::printf("flushes %lld\n", static_cast<long long>(flushes));
  std::printf("rss_before_download_kib %ld\n", rss_before);
  std::printf("peak_before_download_kib %ld\n", hwm_before);
  std::printf("peak_rss_kib %ld\n", usage.ru_maxrss);
  return 0;
}
