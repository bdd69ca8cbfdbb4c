// otad server-core benchmark: a gRPC client that drives a running otad and
// prints how fast it stores assets and devices.
//
//   bazel build -c opt //bench:otad_bench
//   otad_bench --address=127.0.0.1:7400 --mode=upload --file=image.bin
//   otad_bench --address=127.0.0.1:7400 --mode=register --devices=2000 --threads=8
//   otad_bench --address=127.0.0.1:7400 --mode=connect --devices=2000 --threads=8
//
// Modes:
//   upload    streams --file to AssetService.UploadAsset in 1 MiB chunks; the
//             file is hashed first (untimed) for the header's sha256, and
//             the clock runs from opening the stream to the final response.
//   register  DeviceRegistryService.RegisterDevice for --devices new ids
//             from --threads client threads, each on its own connection,
//             after an untimed warm-up of GetDevice calls.
//   connect   DeviceService.Connect for --devices ids from --threads client
//             threads; one connect lasts from the call to the first
//             keepalive on the stream. Streams stay open until all devices
//             are connected, then are cancelled.
//
// Device ids are <--id_prefix>-000001 and up, so `connect` with the prefix
// `register` used refreshes existing rows (what a pre-provisioned fleet
// does) and a fresh prefix creates them. bench/otad.sh starts PostgreSQL
// and otad, runs every mode next to its baseline and prints the ratios.
//
// Output: one table row per mode, "row count seconds rate unit p50_ms
// p99_ms max_ms"; the script reads the rate (column 4).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/crypto/bytes.h"
#include "common/crypto/sha256.h"
#include "ota/v1/asset_service.grpc.pb.h"
#include "ota/v1/device.grpc.pb.h"
#include "ota/v1/device_registry_service.grpc.pb.h"

ABSL_FLAG(std::string, address, "", "otad's gRPC address, host:port");
ABSL_FLAG(std::string, mode, "", "upload, register or connect");
ABSL_FLAG(std::string, file, "", "upload: the file to upload");
ABSL_FLAG(int, devices, 2000, "register, connect: how many devices");
ABSL_FLAG(int, threads, 8, "register, connect: concurrent client threads");
ABSL_FLAG(std::string, id_prefix, "bench",
          "register, connect: device ids are <prefix>-000001 and up");
ABSL_FLAG(bool, channel_per_device, true,
          "connect: each device opens its own connection, as a fleet does, and "
          "the connection setup counts in its connect time; false shares one "
          "connection per client thread");
ABSL_FLAG(double, hold_seconds, 0,
          "connect: keep the streams open this long after the last connect before "
          "cancelling them, to watch what idle streams cost the server");
ABSL_FLAG(double, timeout_seconds, 120, "deadline of each call; for upload, of the whole stream");

namespace ota::server {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kChunkSize = size_t{1} << 20;
// Vendor and class of every benchmark device, as 32 hex characters.
constexpr char kVendorHex[] = "6f74616462656e636876656e646f7201";
constexpr char kClassHex[] = "6f74616462656e6368636c6173730001";

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::chrono::system_clock::time_point Deadline() {
  return std::chrono::system_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(
                                                absl::GetFlag(FLAGS_timeout_seconds) * 1000));
}

absl::Status FromGrpc(absl::string_view what, const grpc::Status& s) {
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

// A channel of its own: the local subchannel pool keeps gRPC from sharing
// one TCP connection between channels to the same address.
std::shared_ptr<grpc::Channel> NewChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> ConnectedChannel(const std::string& address) {
  std::shared_ptr<grpc::Channel> channel = NewChannel(address);
  if (!channel->WaitForConnected(Deadline())) {
    return absl::UnavailableError(absl::StrCat("cannot connect to ", address));
  }
  return channel;
}

std::string DeviceId(int index) {
  return absl::StrFormat("%s-%06d", absl::GetFlag(FLAGS_id_prefix), index + 1);
}

// One measured mode: `count` operations (or bytes) in `seconds`, and the
// time of each operation where there are several.
struct Result {
  std::string row;
  int64_t count = 0;
  double seconds = 0;
  double rate = 0;
  std::string unit;
  std::vector<double> latencies_ms;
};

void PrintResult(Result r) {
  absl::PrintF("%-9s %10s %9s %10s %-5s %8s %8s %8s\n", "row", "count", "seconds", "rate", "unit",
               "p50_ms", "p99_ms", "max_ms");
  std::string p50 = "-", p99 = "-", max = "-";
  if (!r.latencies_ms.empty()) {
    std::vector<double>& l = r.latencies_ms;
    std::sort(l.begin(), l.end());
    auto at = [&](double q) {
      return absl::StrFormat("%.2f", l[std::min(l.size() - 1, static_cast<size_t>(q * l.size()))]);
    };
    p50 = at(0.50);
    p99 = at(0.99);
    max = absl::StrFormat("%.2f", l.back());
  }
  absl::PrintF("%-9s %10d %9.3f %10.1f %-5s %8s %8s %8s\n", r.row, r.count, r.seconds, r.rate,
               r.unit, p50, p99, max);
}

// ------------------------------------------------------------------ upload

// Reads exactly `n` bytes at `offset` into `out`.
absl::Status ReadAt(int fd, uint64_t offset, size_t n, char* out) {
  size_t done = 0;
  while (done < n) {
    ssize_t got = pread(fd, out + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      return absl::InternalError(absl::StrCat("read: ", got < 0 ? strerror(errno) : "short file"));
    }
    done += got;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> FileSha256Hex(int fd, uint64_t size) {
  common::Sha256 hasher;
  std::string buf(kChunkSize, '\0');
  for (uint64_t offset = 0; offset < size; offset += kChunkSize) {
    const size_t n = std::min<uint64_t>(kChunkSize, size - offset);
    if (absl::Status s = ReadAt(fd, offset, n, buf.data()); !s.ok()) return s;
    hasher.Update(absl::string_view(buf.data(), n));
  }
  return common::HexEncode(hasher.Finish());
}

absl::StatusOr<Result> Upload(const std::string& address, const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", strerror(errno)));
  struct FdCloser {
    int fd;
    ~FdCloser() { close(fd); }
  } closer{fd};
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is empty or unreadable"));
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  absl::StatusOr<std::string> sha = FileSha256Hex(fd, size);
  if (!sha.ok()) return sha.status();

  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ConnectedChannel(address);
  if (!channel.ok()) return channel.status();
  std::unique_ptr<ota::v1::AssetService::Stub> stub = ota::v1::AssetService::NewStub(*channel);
  {
    // Content already stored is answered after the header without reading
    // the data; such a run would measure nothing.
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    ota::v1::GetAssetRequest request;
    request.set_sha256(*sha);
    ota::v1::Asset asset;
    if (stub->GetAsset(&context, request, &asset).ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("otad already stores ", *sha, "; upload fresh content"));
    }
  }

  const Clock::time_point start = Clock::now();
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  ota::v1::UploadAssetResponse response;
  std::unique_ptr<grpc::ClientWriter<ota::v1::UploadAssetRequest>> writer =
      stub->UploadAsset(&context, &response);
  ota::v1::UploadAssetRequest request;
  ota::v1::UploadAssetHeader* header = request.mutable_header();
  header->set_sha256(*sha);
  header->set_size(size);
  header->set_name(path.substr(path.rfind('/') + 1));
  header->set_offset(0);
  bool open_stream = writer->Write(request);
  // The same request and string carry every chunk, so no chunk allocates.
  std::string* chunk = request.mutable_chunk();
  for (uint64_t offset = 0; open_stream && offset < size; offset += kChunkSize) {
    const size_t n = std::min<uint64_t>(kChunkSize, size - offset);
    chunk->resize(n);
    if (absl::Status s = ReadAt(fd, offset, n, chunk->data()); !s.ok()) {
      context.TryCancel();
      (void)writer->Finish();
      return s;
    }
    open_stream = writer->Write(request);
  }
  if (open_stream) writer->WritesDone();
  const grpc::Status status = writer->Finish();
  const double seconds = SecondsSince(start);
  if (!status.ok()) return FromGrpc("UploadAsset", status);
  if (!response.complete() || response.bytes_received() != size ||
      response.asset().sha256() != *sha) {
    return absl::DataLossError(absl::StrCat("upload did not complete: ", response.DebugString()));
  }

  Result r;
  r.row = "upload";
  r.count = static_cast<int64_t>(size);
  r.seconds = seconds;
  r.rate = size / seconds / 1e6;
  r.unit = "MB/s";
  absl::PrintF("upload: %d bytes in %d chunks of %d bytes, sha256 %s\n", size,
               (size + kChunkSize - 1) / kChunkSize, kChunkSize, *sha);
  return r;
}

// ------------------------------------------------------ register, connect

// Runs `op(thread, index)` for every index in [0, devices) from `threads`
// threads, records each call's time in `latencies_ms` (and, when given,
// when each call ended, in seconds from the start, in `done_seconds`) and
// returns the wall time of the whole run. The first failure stops every
// thread and is returned.
template <typename Op>
absl::StatusOr<double> RunConcurrent(int devices, int threads, Op op,
                                     std::vector<double>* latencies_ms,
                                     std::vector<double>* done_seconds = nullptr) {
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  absl::Mutex mu;
  absl::Status first_error;
  std::vector<std::vector<double>> per_thread(threads);
  std::vector<std::vector<double>> per_thread_done(threads);
  std::vector<std::thread> workers;
  const Clock::time_point start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = next++; i < devices && !failed; i = next++) {
        const Clock::time_point op_start = Clock::now();
        absl::Status s = op(t, i);
        if (!s.ok()) {
          absl::MutexLock lock(&mu);
          if (first_error.ok()) first_error = s;
          failed = true;
          return;
        }
        const Clock::time_point op_end = Clock::now();
        per_thread[t].push_back(
            std::chrono::duration<double, std::milli>(op_end - op_start).count());
        per_thread_done[t].push_back(std::chrono::duration<double>(op_end - start).count());
      }
    });
  }
  for (std::thread& w : workers) w.join();
  const double seconds = SecondsSince(start);
  if (!first_error.ok()) return first_error;
  for (int t = 0; t < threads; ++t) {
    latencies_ms->insert(latencies_ms->end(), per_thread[t].begin(), per_thread[t].end());
    if (done_seconds != nullptr) {
      done_seconds->insert(done_seconds->end(), per_thread_done[t].begin(),
                           per_thread_done[t].end());
    }
  }
  return seconds;
}

absl::StatusOr<std::vector<std::shared_ptr<grpc::Channel>>> ThreadChannels(
    const std::string& address, int threads) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int t = 0; t < threads; ++t) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> c = ConnectedChannel(address);
    if (!c.ok()) return c.status();
    channels.push_back(*std::move(c));
  }
  return channels;
}

absl::StatusOr<Result> Register(const std::string& address, int devices, int threads) {
  // Connections are up before the clock starts, as an operator's client
  // keeps its connection.
  auto channels = ThreadChannels(address, threads);
  if (!channels.ok()) return channels.status();
  std::vector<std::unique_ptr<ota::v1::DeviceRegistryService::Stub>> stubs;
  for (const auto& c : *channels) stubs.push_back(ota::v1::DeviceRegistryService::NewStub(c));

  // Untimed warm-up: otad opens its PostgreSQL connections on first use,
  // and those would otherwise be counted in the first registrations.
  auto warm_up = [&](int thread, int index) -> absl::Status {
    ota::v1::GetDeviceRequest request;
    request.set_device_id(absl::StrCat(absl::GetFlag(FLAGS_id_prefix), "-warm-up-", index));
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    ota::v1::Device device;
    grpc::Status s = stubs[thread]->GetDevice(&context, request, &device);
    if (s.error_code() != grpc::StatusCode::NOT_FOUND) {
      return FromGrpc(absl::StrCat("GetDevice ", request.device_id(), " (expected NOT_FOUND)"), s);
    }
    return absl::OkStatus();
  };
  std::vector<double> warm_up_ms;
  if (absl::StatusOr<double> w = RunConcurrent(threads * 20, threads, warm_up, &warm_up_ms);
      !w.ok()) {
    return w.status();
  }

  auto op = [&](int thread, int index) -> absl::Status {
    ota::v1::RegisterDeviceRequest request;
    request.set_device_id(DeviceId(index));
    request.set_vendor_id(kVendorHex);
    request.set_class_id(kClassHex);
    (*request.mutable_attributes())["region"] = "eu";
    grpc::ClientContext context;
    context.set_deadline(Deadline());
    ota::v1::Device device;
    grpc::Status s = stubs[thread]->RegisterDevice(&context, request, &device);
    if (!s.ok()) return FromGrpc(absl::StrCat("RegisterDevice ", request.device_id()), s);
    return absl::OkStatus();
  };
  Result r;
  absl::StatusOr<double> seconds = RunConcurrent(devices, threads, op, &r.latencies_ms);
  if (!seconds.ok()) return seconds.status();
  r.row = "register";
  r.count = devices;
  r.seconds = *seconds;
  r.rate = devices / *seconds;
  r.unit = "/s";
  return r;
}

// One device's open Connect stream.
struct DeviceStream {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientReader<ota::v1::ServerMessage>> reader;
};

absl::StatusOr<Result> Connect(const std::string& address, int devices, int threads) {
  const bool own_channel = absl::GetFlag(FLAGS_channel_per_device);
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  if (!own_channel) {
    auto c = ThreadChannels(address, threads);
    if (!c.ok()) return c.status();
    channels = *std::move(c);
  }
  absl::StatusOr<std::string> vendor = common::HexDecode(kVendorHex);
  absl::StatusOr<std::string> klass = common::HexDecode(kClassHex);
  if (!vendor.ok() || !klass.ok()) return absl::InternalError("bad vendor or class constant");
  const std::string image_sha256 = common::Sha256Digest("otad_bench factory image");

  std::vector<DeviceStream> streams(devices);
  auto op = [&](int thread, int index) -> absl::Status {
    DeviceStream& d = streams[index];
    d.channel = own_channel ? NewChannel(address) : channels[thread];
    ota::v1::ConnectRequest request;
    request.set_device_id(DeviceId(index));
    request.set_vendor_id(*vendor);
    request.set_class_id(*klass);
    ota::v1::InstalledImage* installed = request.mutable_installed();
    installed->set_active_slot("a");
    installed->set_image_sha256(image_sha256);
    installed->set_version("1.0.0");
    installed->set_component("rootfs");
    (*request.mutable_attributes())["region"] = "eu";
    request.set_client_version("otad_bench");
    request.set_slot_size(uint64_t{64} << 20);
    d.context = std::make_unique<grpc::ClientContext>();
    d.context->set_deadline(Deadline());
    d.reader = ota::v1::DeviceService::NewStub(d.channel)->Connect(d.context.get(), request);
    ota::v1::ServerMessage message;
    if (!d.reader->Read(&message)) {
      grpc::Status s = d.reader->Finish();
      d.reader.reset();
      return FromGrpc(absl::StrCat("Connect ", request.device_id()), s);
    }
    if (!message.has_keepalive()) {
      return absl::InternalError(
          absl::StrCat("Connect ", request.device_id(), ": first message is not a keepalive"));
    }
    return absl::OkStatus();
  };
  Result r;
  std::vector<double> done;
  absl::StatusOr<double> seconds = RunConcurrent(devices, threads, op, &r.latencies_ms, &done);
  if (seconds.ok() && absl::GetFlag(FLAGS_hold_seconds) > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(absl::GetFlag(FLAGS_hold_seconds)));
  }

  // Every stream opened is cancelled, whether or not the run succeeded.
  const Clock::time_point cancel_start = Clock::now();
  for (DeviceStream& d : streams) {
    if (d.reader == nullptr) continue;
    d.context->TryCancel();
    (void)d.reader->Finish();
  }
  const double cancel_seconds = SecondsSince(cancel_start);
  if (!seconds.ok()) return seconds.status();
  absl::PrintF("connect: %d streams open at once, %s; all cancelled in %.3f s\n", devices,
               own_channel ? "one connection per device" : "one connection per client thread",
               cancel_seconds);
  // Each open stream keeps costing the server, so the rate is shown for the
  // first and the last quarter of the devices as well.
  std::sort(done.begin(), done.end());
  const int quarter = devices / 4;
  if (quarter > 0) {
    const double first = done[quarter - 1];
    const double last = done[devices - 1] - done[devices - 1 - quarter];
    absl::PrintF(
        "connect: first %d devices at %.1f/s (0 to %d streams open), last %d at "
        "%.1f/s (%d to %d open)\n",
        quarter, quarter / first, quarter, quarter, last > 0 ? quarter / last : 0.0,
        devices - quarter, devices);
  }
  r.row = "connect";
  r.count = devices;
  r.seconds = *seconds;
  r.rate = devices / *seconds;
  r.unit = "/s";
  return r;
}

int Run() {
  const std::string address = absl::GetFlag(FLAGS_address);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const int devices = absl::GetFlag(FLAGS_devices);
  const int threads = absl::GetFlag(FLAGS_threads);
  if (address.empty()) {
    std::fprintf(stderr, "--address is required\n");
    return 2;
  }
  if (devices < 1 || threads < 1 || !(absl::GetFlag(FLAGS_timeout_seconds) > 0)) {
    std::fprintf(stderr, "--devices, --threads and --timeout_seconds must be positive\n");
    return 2;
  }
  absl::StatusOr<Result> result;
  if (mode == "upload") {
    if (absl::GetFlag(FLAGS_file).empty()) {
      std::fprintf(stderr, "upload needs --file\n");
      return 2;
    }
    result = Upload(address, absl::GetFlag(FLAGS_file));
  } else if (mode == "register") {
    result = Register(address, devices, threads);
  } else if (mode == "connect") {
    result = Connect(address, devices, threads);
  } else {
    std::fprintf(stderr, "--mode must be upload, register or connect\n");
    return 2;
  }
  if (!result.ok()) {
    std::fprintf(stderr, "otad_bench %s: %s\n", mode.c_str(), result.status().ToString().c_str());
    return 1;
  }
  if (mode != "upload") {
    absl::PrintF("%s: %d devices from %d client threads, ids %s..%s\n", mode, devices, threads,
                 DeviceId(0), DeviceId(devices - 1));
  }
  PrintResult(*std::move(result));
  return 0;
}

}  // namespace
}  // namespace ota::server

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "otad_bench --address=HOST:PORT --mode=upload|register|connect [--file=PATH] "
      "[--devices=N] [--threads=N]");
  absl::ParseCommandLine(argc, argv);
  return ota::server::Run();
}
