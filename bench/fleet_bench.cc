// Fleet-scale load for otad's device API: many Connect streams per process
// on gRPC's callback client API, a campaign to notify them, and a stream of
// status reports. bench/fleet.sh runs it against one or several otad
// processes and prints the figures beside their baselines.
//
//   fleet_bench --mode=devices --targets=127.0.0.1:7400,127.0.0.1:7401 --devices=10000
//   fleet_bench --mode=setup --target=127.0.0.1:7400 --http=http://127.0.0.1:7480
//   fleet_bench --mode=start --target=127.0.0.1:7400 --campaign=<id>
//   fleet_bench --mode=reports --target=127.0.0.1:7400 --devices=2000 --concurrency=64
//
// Modes:
//   devices  opens --devices streams, device i on its own connection to
//            target i mod len(--targets) (or --streams_per_connection
//            devices on each connection), at most --connecting at a time;
//            prints "connected N T" once every stream has its first
//            message (T: Unix microseconds), then "notified N T" once every
//            stream got a deployment (T: the last arrival), and progress on
//            stderr. Holds the streams until SIGTERM, SIGINT or
//            --max_seconds, then cancels them and prints
//            "final connected=.. notified=.. failed=..".
//   setup    registers an update certificate, uploads a small payload and
//            a signed manifest for the benchmark's vendor and class, and
//            creates a one-wave campaign over every device; prints
//            "campaign ID".
//   start    prints "start_us T" and calls CampaignService.StartCampaign.
//   reports  registers --devices devices, then keeps --concurrency
//            ReportStatus calls in flight for --seconds, new reports
//            per call (--reports_per_call), devices in turn; prints
//            "reports N S RATE p50 p99" (reports acknowledged, seconds,
//            reports per second, call latencies in milliseconds).
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/crypto/bytes.h"
#include "common/crypto/ecdsa.h"
#include "common/crypto/sha256.h"
#include "common/crypto/x509.h"
#include "common/manifest/manifest.h"
#include "common/manifest/payload_digest.h"
#include "common/manifest/uuid.h"
#include "ota/v1/asset_service.grpc.pb.h"
#include "ota/v1/campaign_service.grpc.pb.h"
#include "ota/v1/certificate_service.grpc.pb.h"
#include "ota/v1/device.grpc.pb.h"
#include "ota/v1/device_registry_service.grpc.pb.h"
#include "ota/v1/manifest_service.grpc.pb.h"

ABSL_FLAG(std::string, mode, "", "devices, setup, start or reports");
ABSL_FLAG(std::string, targets, "", "devices: otad gRPC addresses, comma-separated");
ABSL_FLAG(std::string, target, "", "setup, start, reports: one otad gRPC address");
ABSL_FLAG(std::string, http, "http://127.0.0.1:7480", "setup: otad's HTTP base URL");
ABSL_FLAG(std::string, campaign, "", "start: the campaign id");
ABSL_FLAG(int, devices, 1000, "devices, reports: how many devices");
ABSL_FLAG(int, first, 0, "devices: index of the first device");
ABSL_FLAG(std::string, id_prefix, "dev", "device ids are <prefix>-<index, 7 digits>");
ABSL_FLAG(int, streams_per_connection, 1,
          "devices: streams sharing one connection (1: a connection per device, as a fleet "
          "connects directly; more: as behind an HTTP/2 proxy that multiplexes)");
ABSL_FLAG(int, connecting, 256, "devices: streams being opened at once at most");
ABSL_FLAG(double, max_seconds, 600, "devices: end by then whatever happens");
ABSL_FLAG(int, concurrency, 64, "reports: calls in flight");
ABSL_FLAG(double, seconds, 10, "reports: how long");
ABSL_FLAG(int, reports_per_call, 1,
          "reports: reports in each call (a device sends several when its outbox has them)");

namespace ota::bench {
namespace {

std::atomic<bool> g_stop{false};

int64_t NowMicros() { return absl::ToUnixMicros(absl::Now()); }

std::string Vendor() { return common::Uuid5(common::kDnsNamespaceUuid, "bench.example.com"); }
std::string Class() { return common::Uuid5(Vendor(), "fleet-bench"); }

std::string DeviceId(int index) {
  return absl::StrFormat("%s-%07d", absl::GetFlag(FLAGS_id_prefix), index);
}

// Small buffers and windows: a device stream carries little, and each
// client channel otherwise holds about 60 KB.
grpc::ChannelArguments SmallChannel() {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection per channel
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 16 << 10);
  args.SetInt(GRPC_ARG_HTTP2_HPACK_TABLE_SIZE_DECODER, 1024);
  args.SetInt(GRPC_ARG_HTTP2_HPACK_TABLE_SIZE_ENCODER, 1024);
  args.SetInt(GRPC_ARG_TCP_READ_CHUNK_SIZE, 4096);
  args.SetInt(GRPC_ARG_TCP_MIN_READ_CHUNK_SIZE, 1024);
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 8 << 20);
  return args;
}

// ----------------------------------------------------------------- devices

struct Fleet {
  std::atomic<int> connected{0};
  std::atomic<int> notified{0};
  std::atomic<int> failed{0};
  std::atomic<int> finished{0};
  std::atomic<int> opening{0};
  std::atomic<int64_t> last_notified_us{0};
  int total = 0;
};

class DeviceStream final : public grpc::ClientReadReactor<ota::v1::ServerMessage> {
 public:
  DeviceStream(Fleet* fleet, std::shared_ptr<grpc::Channel> channel, std::string id)
      : fleet_(fleet), channel_(std::move(channel)) {
    request_.set_device_id(std::move(id));
    request_.set_vendor_id(Vendor());
    request_.set_class_id(Class());
    request_.mutable_installed()->set_active_slot("a");
    request_.mutable_installed()->set_sequence_number(1);
    request_.mutable_installed()->set_version("1.0.0");
    request_.set_client_version("fleet_bench");
  }

  void Start() {
    ota::v1::DeviceService::NewStub(channel_)->async()->Connect(&context_, &request_, this);
    StartRead(&message_);
    StartCall();
  }

  void Cancel() { context_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows
    if (!connected_) {
      connected_ = true;
      fleet_->opening--;
      if (++fleet_->connected == fleet_->total) {
        absl::PrintF("connected %d %d\n", fleet_->total, NowMicros());
        fflush(stdout);
      }
    }
    if (message_.has_deployment() && !notified_) {
      notified_ = true;
      const int64_t now = NowMicros();
      int64_t last = fleet_->last_notified_us.load();
      while (last < now && !fleet_->last_notified_us.compare_exchange_weak(last, now)) {
      }
      if (++fleet_->notified == fleet_->total) {
        absl::PrintF("notified %d %d\n", fleet_->total, fleet_->last_notified_us.load());
        fflush(stdout);
      }
    }
    message_.Clear();
    StartRead(&message_);
  }

  void OnDone(const grpc::Status& s) override {
    if (!connected_) {
      fleet_->opening--;
      if (!g_stop) {
        fleet_->failed++;
        if (fleet_->failed <= 5) {
          absl::FPrintF(stderr, "%s: %d %s\n", request_.device_id(), s.error_code(),
                        s.error_message());
        }
      }
    }
    fleet_->finished++;
  }

 private:
  Fleet* fleet_;
  std::shared_ptr<grpc::Channel> channel_;
  grpc::ClientContext context_;
  ota::v1::ConnectRequest request_;
  ota::v1::ServerMessage message_;
  bool connected_ = false;  // touched by the reactor's callbacks only, one at a time
  bool notified_ = false;
};

int RunDevices() {
  std::vector<std::string> targets = absl::StrSplit(absl::GetFlag(FLAGS_targets), ',',
                                                    absl::SkipEmpty());
  if (targets.empty()) {
    absl::FPrintF(stderr, "--targets is empty\n");
    return 2;
  }
  Fleet fleet;
  fleet.total = absl::GetFlag(FLAGS_devices);
  const int first = absl::GetFlag(FLAGS_first);
  const int connecting = absl::GetFlag(FLAGS_connecting);
  const absl::Time deadline = absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_max_seconds));
  const grpc::ChannelArguments args = SmallChannel();
  const int per_connection = std::max(1, absl::GetFlag(FLAGS_streams_per_connection));
  std::shared_ptr<grpc::Channel> channel;
  std::vector<std::unique_ptr<DeviceStream>> streams;
  streams.reserve(fleet.total);
  absl::Time last_progress = absl::Now();
  auto progress = [&](bool force) {
    if (!force && absl::Now() - last_progress < absl::Seconds(5)) return;
    last_progress = absl::Now();
    absl::FPrintF(stderr, "fleet_bench: %d opened, %d connected, %d notified, %d failed\n",
                  static_cast<int>(streams.size()), fleet.connected.load(), fleet.notified.load(),
                  fleet.failed.load());
  };
  for (int i = 0; i < fleet.total && !g_stop && absl::Now() < deadline; ++i) {
    while (fleet.opening.load() >= connecting && !g_stop && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
      progress(false);
    }
    if (i % per_connection == 0) {
      const int group = i / per_connection;
      channel = grpc::CreateCustomChannel(targets[group % targets.size()],
                                          grpc::InsecureChannelCredentials(), args);
    }
    streams.push_back(std::make_unique<DeviceStream>(&fleet, channel, DeviceId(first + i)));
    fleet.opening++;
    streams.back()->Start();
    progress(false);
  }
  while (!g_stop && absl::Now() < deadline &&
         fleet.finished.load() < static_cast<int>(streams.size())) {
    absl::SleepFor(absl::Milliseconds(50));
    progress(false);
  }
  progress(true);
  for (auto& s : streams) s->Cancel();
  const absl::Time end = absl::Now() + absl::Seconds(60);
  while (fleet.finished.load() < static_cast<int>(streams.size()) && absl::Now() < end) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  absl::PrintF("final connected=%d notified=%d failed=%d last_notified_us=%d\n",
               fleet.connected.load(), fleet.notified.load(), fleet.failed.load(),
               fleet.last_notified_us.load());
  fflush(stdout);
  // Tearing down tens of thousands of channels one by one takes long and
  // measures nothing.
  std::quick_exit(fleet.finished.load() == static_cast<int>(streams.size()) ? 0 : 1);
}

// ------------------------------------------------------------------- setup

int Fail(absl::string_view what, const grpc::Status& s) {
  absl::FPrintF(stderr, "%s: %d %s\n", what, s.error_code(), s.error_message());
  return 1;
}

int RunSetup() {
  auto channel = grpc::CreateChannel(absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials());
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  auto key = common::EcdsaP256PrivateKey::Generate();
  auto cert = common::Certificate::SelfSigned(
      {"fleet bench update key", "bench.example.com", now - 60, now + 86400, false}, *key);
  if (!key.ok() || !cert.ok()) {
    absl::FPrintF(stderr, "cannot make a key and certificate\n");
    return 1;
  }
  {
    grpc::ClientContext ctx;
    ota::v1::RegisterCertificateRequest req;
    req.set_certificate_der(cert->der());
    ota::v1::Certificate out;
    grpc::Status s = ota::v1::CertificateService::NewStub(channel)->RegisterCertificate(&ctx, req, &out);
    if (!s.ok()) return Fail("RegisterCertificate", s);
  }
  std::string payload(64 << 10, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 31 + 7);
  const std::string sha = common::HexEncode(common::Sha256Digest(payload));
  {
    grpc::ClientContext ctx;
    ota::v1::UploadAssetResponse resp;
    auto writer = ota::v1::AssetService::NewStub(channel)->UploadAsset(&ctx, &resp);
    ota::v1::UploadAssetRequest h;
    h.mutable_header()->set_sha256(sha);
    h.mutable_header()->set_size(payload.size());
    writer->Write(h);
    ota::v1::UploadAssetRequest c;
    c.set_chunk(payload);
    writer->Write(c);
    writer->WritesDone();
    grpc::Status s = writer->Finish();
    if (!s.ok()) return Fail("UploadAsset", s);
  }
  ota::v1::Manifest m;
  m.set_format_version(1);
  m.set_sequence_number(2);
  m.set_vendor_id(Vendor());
  m.set_class_id(Class());
  m.set_created_unix(now);
  m.set_version("2.0.0");
  m.set_component("rootfs");
  common::PayloadHasher hasher(16 << 10);
  hasher.Update(payload);
  common::SetPayloadDigests(hasher.Finish(), m.mutable_payload());
  m.mutable_payload()->add_uris(absl::StrCat(absl::GetFlag(FLAGS_http), "/payloads/", sha));
  m.mutable_payload()->set_format(ota::v1::PAYLOAD_FORMAT_FULL);
  ota::v1::ManifestRecord record;
  {
    grpc::ClientContext ctx;
    ota::v1::UploadManifestRequest req;
    req.set_signed_manifest(common::SignManifest(m, {&*key})->SerializeAsString());
    grpc::Status s = ota::v1::ManifestService::NewStub(channel)->UploadManifest(&ctx, req, &record);
    if (!s.ok()) return Fail("UploadManifest", s);
  }
  ota::v1::Campaign campaign;
  {
    grpc::ClientContext ctx;
    ota::v1::CreateCampaignRequest req;
    req.set_name(absl::StrCat("fleet-bench-", now));
    req.set_manifest_id(record.manifest_id());
    grpc::Status s =
        ota::v1::CampaignService::NewStub(channel)->CreateCampaign(&ctx, req, &campaign);
    if (!s.ok()) return Fail("CreateCampaign", s);
  }
  absl::PrintF("campaign %s\n", campaign.campaign_id());
  return 0;
}

int RunStart() {
  auto channel = grpc::CreateChannel(absl::GetFlag(FLAGS_target), grpc::InsecureChannelCredentials());
  auto stub = ota::v1::CampaignService::NewStub(channel);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    absl::FPrintF(stderr, "cannot connect to %s\n", absl::GetFlag(FLAGS_target));
    return 1;
  }
  grpc::ClientContext ctx;
  ota::v1::StartCampaignRequest req;
  req.set_campaign_id(absl::GetFlag(FLAGS_campaign));
  ota::v1::Campaign out;
  const int64_t start = NowMicros();
  grpc::Status s = stub->StartCampaign(&ctx, req, &out);
  const int64_t answered = NowMicros();
  if (!s.ok()) return Fail("StartCampaign", s);
  absl::PrintF("start_us %d\nanswered_us %d\n", start, answered);
  return 0;
}

// ----------------------------------------------------------------- reports

// ReportStatus calls kept in flight: each answer starts the next call.
struct ReportLoad {
  ota::v1::DeviceService::Stub* stub;
  absl::Time end;
  int devices = 0;
  int per_call = 1;
  absl::Mutex mu;
  std::vector<uint64_t> seq ABSL_GUARDED_BY(mu);
  int next_device ABSL_GUARDED_BY(mu) = 0;
  int in_flight ABSL_GUARDED_BY(mu) = 0;
  int64_t acked ABSL_GUARDED_BY(mu) = 0;
  int64_t failed ABSL_GUARDED_BY(mu) = 0;
  std::vector<double> latencies_ms ABSL_GUARDED_BY(mu);

  void Next();
};

class ReportCall final : public grpc::ClientUnaryReactor {
 public:
  explicit ReportCall(ReportLoad* load) : load_(load) {
    {
      absl::MutexLock lock(&load->mu);
      const int d = load->next_device;
      load->next_device = (d + 1) % load->devices;
      request_.set_device_id(DeviceId(d));
      for (int i = 0; i < load->per_call; ++i) {
        ota::v1::StatusReport* r = request_.add_reports();
        r->set_seq(++load->seq[d]);
        r->set_state(ota::v1::DEPLOYMENT_STATE_DOWNLOADING);
        r->set_bytes_done(r->seq() * 4096);
        r->set_bytes_total(1 << 30);
        r->set_time_ms(absl::ToUnixMillis(absl::Now()));
      }
      ++load->in_flight;
    }
    sent_ = absl::Now();
    load->stub->async()->ReportStatus(&context_, &request_, &response_, this);
    StartCall();
  }

  void OnDone(const grpc::Status& s) override {
    const absl::Time now = absl::Now();
    bool again;
    {
      absl::MutexLock lock(&load_->mu);
      if (s.ok()) {
        ++load_->acked;
        load_->latencies_ms.push_back(absl::ToDoubleMilliseconds(now - sent_));
      } else if (++load_->failed <= 5) {
        absl::FPrintF(stderr, "ReportStatus: %d %s\n", s.error_code(), s.error_message());
      }
      again = now < load_->end && !g_stop;
    }
    // The next call counts itself in before this one counts itself out, so
    // in_flight reaches 0 only at the end.
    if (again) load_->Next();
    ReportLoad* load = load_;
    delete this;
    absl::MutexLock lock(&load->mu);
    --load->in_flight;
  }

 private:
  ReportLoad* load_;
  grpc::ClientContext context_;
  ota::v1::ReportStatusRequest request_;
  ota::v1::ReportStatusResponse response_;
  absl::Time sent_;
};

void ReportLoad::Next() { new ReportCall(this); }

int RunReports() {
  auto channel = grpc::CreateCustomChannel(absl::GetFlag(FLAGS_target),
                                           grpc::InsecureChannelCredentials(), SmallChannel());
  auto registry = ota::v1::DeviceRegistryService::NewStub(channel);
  auto devices = ota::v1::DeviceService::NewStub(channel);
  const int n = absl::GetFlag(FLAGS_devices);
  // Registration, untimed, a few calls in flight.
  {
    std::atomic<int> next{0}, failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int i = next++; i < n; i = next++) {
          grpc::ClientContext ctx;
          ota::v1::RegisterDeviceRequest req;
          req.set_device_id(DeviceId(i));
          req.set_vendor_id(common::UuidToString(Vendor()));
          req.set_class_id(common::UuidToString(Class()));
          ota::v1::Device out;
          grpc::Status s = registry->RegisterDevice(&ctx, req, &out);
          if (!s.ok() && s.error_code() != grpc::StatusCode::ALREADY_EXISTS) failed++;
        }
      });
    }
    for (auto& t : threads) t.join();
    if (failed > 0) {
      absl::FPrintF(stderr, "%d registrations failed\n", failed.load());
      return 1;
    }
  }
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  ReportLoad load;
  load.stub = devices.get();
  load.seq.assign(n, 0);
  load.devices = n;
  load.per_call = std::max(1, absl::GetFlag(FLAGS_reports_per_call));
  const absl::Time start = absl::Now();
  load.end = start + absl::Seconds(absl::GetFlag(FLAGS_seconds));
  for (int i = 0; i < concurrency; ++i) load.Next();
  {
    absl::MutexLock lock(&load.mu);
    load.mu.Await(absl::Condition(+[](int* f) { return *f == 0; }, &load.in_flight));
  }
  std::vector<double>& latencies_ms = load.latencies_ms;
  const int64_t acked = load.acked, failed = load.failed;
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto at = [&](double q) {
    return latencies_ms.empty()
               ? 0.0
               : latencies_ms[std::min(latencies_ms.size() - 1,
                                       static_cast<size_t>(q * latencies_ms.size()))];
  };
  // Reports acknowledged, seconds, reports per second, call latencies.
  absl::PrintF("reports %d %.3f %.1f %.2f %.2f\n", acked * load.per_call, seconds,
               acked * load.per_call / seconds, at(0.5), at(0.99));
  if (failed > 0) {
    absl::FPrintF(stderr, "%d calls failed\n", failed);
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace ota::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("fleet_bench --mode=devices|setup|start|reports ...");
  absl::ParseCommandLine(argc, argv);
  // As otad: no lock-order graph on every Mutex acquisition (Debian's
  // Abseil is a debug build), so the stub's own CPU stays small.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {};
  sa.sa_handler = +[](int) { ota::bench::g_stop = true; };
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "devices") return ota::bench::RunDevices();
  if (mode == "setup") return ota::bench::RunSetup();
  if (mode == "start") return ota::bench::RunStart();
  if (mode == "reports") return ota::bench::RunReports();
  absl::FPrintF(stderr, "--mode must be devices, setup, start or reports\n");
  return 2;
}
