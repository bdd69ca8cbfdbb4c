// ota-device: the update client every device runs.
//
//   ota-device --config /etc/ota/device.json             # the daemon
//   ota-device --config ... install --manifest fw.manifest [--payload-uri URL]
//   ota-device --config ... status
//
// The daemon keeps one Connect stream to otad, runs each deployment it is
// sent through the A/B pipeline (device/client/updater.h), and sends its
// status reports from a persistent outbox. `install` runs one manifest from
// a file, as a stand-alone device would. Exit status 100 asks the
// supervisor to reboot (when no reboot command is configured).
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <random>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/crypto/bytes.h"
#include "common/crypto/sha256.h"
#include "common/manifest/key_list.h"
#include "common/manifest/manifest.h"
#include "common/manifest/uuid.h"
#include "common/status/reason.h"
#include "device/boot/boot_header.h"
#include "device/client/config.h"
#include "device/client/header_boot_control.h"
#include "device/client/hook.h"
#include "device/client/persistent.h"
#include "device/client/reporter.h"
#include "device/client/updater.h"
#include "device/download/curl_transport.h"
#include "device/download/downloader.h"
#include "device/download/sleeper.h"
#include "device/slots/file_block_device.h"
#include "device/slots/script_block_device.h"
#include "ota/v1/device.grpc.pb.h"

ABSL_FLAG(std::string, config, "/etc/ota/device.json", "the device's configuration file");
ABSL_FLAG(std::string, manifest, "", "install: the signed manifest file");
ABSL_FLAG(std::vector<std::string>, payload_uri, {},
          "install: payload URLs tried before the manifest's own");

namespace ota::device {
namespace {

constexpr int kRebootExitStatus = 100;
constexpr char kClientVersion[] = "ota-device/1";

std::atomic<bool> g_stop{false};

// Reboots by running a command, or by exiting with kRebootExitStatus for a
// supervisor; either way the outbox is flushed first, best effort.
class ProcessRebooter : public Rebooter {
 public:
  ProcessRebooter(std::string command, std::function<void()> before)
      : command_(std::move(command)), before_(std::move(before)) {}
  absl::Status Reboot() override {
    if (before_) before_();
    std::cout << "ota-device: rebooting" << std::endl;
    if (command_.empty()) std::exit(kRebootExitStatus);
    int rc = std::system(command_.c_str());
    if (rc != 0) return absl::InternalError(absl::StrCat("reboot command exited ", rc));
    // The system goes down; wait for it.
    while (true) absl::SleepFor(absl::Seconds(60));
  }

 private:
  std::string command_;
  std::function<void()> before_;
};

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kIdle: return "idle";
    case Outcome::kRejected: return "rejected";
    case Outcome::kFailed: return "failed";
    case Outcome::kDeferred: return "deferred";
    case Outcome::kRebooting: return "rebooting";
    case Outcome::kSucceeded: return "succeeded";
    case Outcome::kRolledBack: return "rolled back";
    case Outcome::kInterrupted: return "interrupted";
  }
  return "?";
}

void Log(const std::string& what) { std::cout << "ota-device: " << what << std::endl; }

// Everything one run of the process holds.
struct Device {
  DeviceConfig config;
  common::TrustStore trust;
  // The root keys key lists must be signed by, and the list held.
  common::TrustStore roots;
  uint64_t key_list_version = 0;
  std::unique_ptr<ProtoFile<ota::v1::SignedKeyList>> key_list;
  std::unique_ptr<BlockDevice> bootflags_device;
  std::unique_ptr<BlockDevice> slots[2];
  std::unique_ptr<BlockDevice> staging;
  std::unique_ptr<BootFlags> flags;
  std::unique_ptr<HeaderBootControl> boot;
  std::unique_ptr<CurlTransport> transport;
  RealSleeper sleeper;
  std::unique_ptr<PayloadDownloader> downloader;
  std::unique_ptr<HookRunner> hooks;
  std::unique_ptr<ProcessRebooter> rebooter;
  std::unique_ptr<ReportOutbox> outbox;
  std::unique_ptr<ProtoFile<Journal>> journal;
  std::unique_ptr<ProtoFile<Installed>> installed;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<ota::v1::DeviceService::Stub> stub;
  std::unique_ptr<Reporter> reporter;
  std::unique_ptr<Updater> updater;
};

absl::StatusOr<std::unique_ptr<BlockDevice>> OpenSlot(const DeviceConfig& c, int slot) {
  const std::string& path = slot == 0 ? c.slot_a() : c.slot_b();
  if (c.install_command().empty()) {
    auto d = FileBlockDevice::Open(path);
    if (!d.ok()) return d.status();
    return std::unique_ptr<BlockDevice>(std::move(*d));
  }
  ScriptBlockDevice::Options options;
  options.command = c.install_command();
  options.slot_mtd = slot == 0 ? c.slot_a_mtd() : c.slot_b_mtd();
  options.read_path = path;
  options.staging_dir = c.state_dir();
  auto d = ScriptBlockDevice::Open(options);
  if (!d.ok()) return d.status();
  return std::unique_ptr<BlockDevice>(std::move(*d));
}

absl::StatusOr<std::unique_ptr<Device>> Build(const std::string& config_path) {
  auto d = std::make_unique<Device>();
  absl::StatusOr<DeviceConfig> config = LoadConfig(config_path);
  if (!config.ok()) return config.status();
  d->config = *config;
  const DeviceConfig& c = d->config;
  absl::StatusOr<common::TrustStore> trust = LoadTrust(c);
  if (!trust.ok()) return trust.status();
  d->trust = *std::move(trust);
  if (absl::Status s = common::MakeDirs(c.state_dir()); !s.ok()) return s;
  absl::StatusOr<common::TrustStore> roots = LoadRoots(c);
  if (!roots.ok()) return roots.status();
  d->roots = *std::move(roots);
  // A key list accepted before replaces the factory's update certificates.
  d->key_list = std::make_unique<ProtoFile<ota::v1::SignedKeyList>>(c.state_dir() + "/key_list.pb");
  if (d->roots.size() > 0) {
    absl::StatusOr<ota::v1::SignedKeyList> held = d->key_list->Load();
    if (held.ok() && !held->key_list().empty()) {
      absl::StatusOr<ota::v1::KeyList> list =
          common::VerifyKeyList(*held, d->roots, 0, absl::ToUnixSeconds(absl::Now()));
      absl::StatusOr<common::TrustStore> from_list =
          list.ok() ? common::TrustStoreFromKeyList(*list)
                    : absl::StatusOr<common::TrustStore>(list.status());
      if (from_list.ok()) {
        d->trust = *std::move(from_list);
        d->key_list_version = list->version();
      } else {
        Log(absl::StrCat("held key list not used: ", from_list.status().message()));
      }
    }
  }

  auto flags_device = FileBlockDevice::Open(c.bootflags());
  if (!flags_device.ok()) return flags_device.status();
  d->bootflags_device = std::move(*flags_device);
  for (int i = 0; i < 2; ++i) {
    auto slot = OpenSlot(c, i);
    if (!slot.ok()) return slot.status();
    d->slots[i] = *std::move(slot);
  }
  if (!c.install_command().empty()) {
    const std::string path = c.state_dir() + "/download.img";
    absl::StatusOr<uint64_t> size = d->slots[0]->Size();
    if (!size.ok()) return size.status();
    auto staging = common::PathExists(path) ? FileBlockDevice::Open(path)
                                            : FileBlockDevice::Create(path, *size);
    if (!staging.ok()) return staging.status();
    d->staging = std::move(*staging);
  }
  d->flags = std::make_unique<BootFlags>(d->bootflags_device.get());
  d->boot = std::make_unique<HeaderBootControl>(d->flags.get(), c.booted_slot_file());

  CurlTransport::Options transport_options;
  transport_options.ca_file = c.tls_ca_file();  // payloads over https from otad
  auto transport = CurlTransport::Create(transport_options);
  if (!transport.ok()) return transport.status();
  d->transport = *std::move(transport);
  DownloadOptions options;
  if (c.low_speed_bytes_per_second() != 0) {
    options.low_speed_bytes_per_second = c.low_speed_bytes_per_second();
  }
  if (c.low_speed_seconds() != 0) options.low_speed_seconds = c.low_speed_seconds();
  if (c.download_timeout_seconds() != 0) options.total_timeout_seconds = c.download_timeout_seconds();
  if (c.attempts_per_uri() != 0) options.attempts_per_uri = c.attempts_per_uri();
  // A journal checkpoint (fdatasync of the slot) every 8 MiB rather than
  // every chunk: an interruption re-fetches at most that much.
  options.checkpoint_bytes = 8 << 20;
  d->downloader = std::make_unique<PayloadDownloader>(d->transport.get(), &d->sleeper, options);
  d->hooks = std::make_unique<HookRunner>(
      absl::Seconds(c.hook_timeout_seconds() == 0 ? 60 : c.hook_timeout_seconds()));
  d->outbox = std::make_unique<ReportOutbox>(c.state_dir() + "/outbox.pb");
  if (absl::Status s = d->outbox->Open(); !s.ok()) return s;
  d->journal = std::make_unique<ProtoFile<Journal>>(c.state_dir() + "/journal.pb");
  d->installed = std::make_unique<ProtoFile<Installed>>(c.state_dir() + "/installed.pb");
  if (!c.server().empty()) {
    std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
    if (!c.tls_ca_file().empty()) {
      // TLS, proving who this device is with its fleet certificate.
      grpc::SslCredentialsOptions tls;
      for (auto [path, out] : {std::pair{&c.tls_ca_file(), &tls.pem_root_certs},
                               std::pair{&c.tls_cert_file(), &tls.pem_cert_chain},
                               std::pair{&c.tls_key_file(), &tls.pem_private_key}}) {
        if (path->empty()) continue;
        absl::StatusOr<std::string> pem = common::ReadFile(*path, 1 << 20);
        if (!pem.ok()) {
          return absl::InvalidArgumentError(absl::StrCat("TLS: ", pem.status().message()));
        }
        *out = *std::move(pem);
      }
      credentials = grpc::SslCredentials(tls);
    }
    d->channel = grpc::CreateChannel(c.server(), credentials);
    d->stub = ota::v1::DeviceService::NewStub(d->channel);
    d->reporter = std::make_unique<Reporter>(c.device_id(), d->outbox.get(), d->stub.get());
  }
  Device* raw = d.get();
  d->rebooter = std::make_unique<ProcessRebooter>(c.reboot_command(), [raw] {
    if (raw->reporter) (void)raw->reporter->Flush(absl::Seconds(3));
  });
  UpdaterDeps deps;
  deps.config = &d->config;
  deps.trust = &d->trust;
  deps.boot = d->boot.get();
  deps.slots[0] = d->slots[0].get();
  deps.slots[1] = d->slots[1].get();
  deps.staging = d->staging.get();
  deps.downloader = d->downloader.get();
  deps.hooks = d->hooks.get();
  deps.rebooter = d->rebooter.get();
  deps.outbox = d->outbox.get();
  deps.journal = d->journal.get();
  deps.installed = d->installed.get();
  deps.clock = &common::RealClock();
  deps.cancel = &g_stop;
  d->updater = std::make_unique<Updater>(deps);
  return d;
}


int Status(Device& d) {
  ota::v1::InstalledImage img = d.updater->Current();
  std::cout << "device      " << d.config.device_id() << "\n"
            << "slot        " << img.active_slot() << (img.trial() ? " (trial)" : "") << "\n"
            << "version     " << img.version() << "\n"
            << "sequence    " << img.sequence_number() << "\n"
            << "sha256      " << common::HexEncode(img.image_sha256()) << "\n";
  absl::StatusOr<Journal> j = d.journal->Load();
  if (j.ok() && !j->deployment_id().empty()) {
    std::cout << "deployment  " << j->deployment_id() << " at " << Step_Name(j->step())
              << " into slot " << j->target_slot() << "\n";
  }
  std::cout << "outbox      " << d.outbox->size() << " report(s) not yet acknowledged\n";
  return 0;
}

int Install(Device& d) {
  const std::string path = absl::GetFlag(FLAGS_manifest);
  absl::StatusOr<std::string> bytes = common::ReadFile(path, 1 << 20);
  if (!bytes.ok()) {
    std::cerr << "ota-device: " << bytes.status().message() << "\n";
    return 2;
  }
  ota::v1::Deployment deployment;
  absl::StatusOr<ota::v1::SignedManifest> envelope = common::ParseSignedManifest(*bytes);
  if (!envelope.ok()) {
    std::cerr << "ota-device: " << path << ": "
              << ota::v1::ReasonCode_Name(common::ReasonOf(envelope.status())) << ": "
              << envelope.status().message() << "\n";
    return 1;
  }
  *deployment.mutable_manifest() = *std::move(envelope);
  deployment.set_deployment_id(
      absl::StrCat("local-", common::HexEncode(common::Sha256Digest(*bytes)).substr(0, 16)));
  for (const std::string& uri : absl::GetFlag(FLAGS_payload_uri)) {
    deployment.add_payload_uris(uri);
  }
  Outcome o = d.updater->Run(deployment);
  Log(absl::StrCat("install ", OutcomeName(o)));
  if (d.reporter) (void)d.reporter->Flush(absl::Seconds(5));
  for (const auto& r : d.outbox->Pending(1000)) {
    if (r.deployment_id() != deployment.deployment_id()) continue;
    std::cout << "  " << ota::v1::DeploymentState_Name(r.state())
              << (r.reason() ? " " + ota::v1::ReasonCode_Name(r.reason()) : "")
              << (r.message().empty() ? "" : ": " + r.message()) << "\n";
  }
  return o == Outcome::kRebooting || o == Outcome::kSucceeded ? 0 : 1;
}

ota::v1::ConnectRequest Hello(Device& d) {
  ota::v1::ConnectRequest req;
  req.set_device_id(d.config.device_id());
  req.set_vendor_id(common::ParseUuid(d.config.vendor_id()).value_or(""));
  req.set_class_id(common::ParseUuid(d.config.class_id()).value_or(""));
  *req.mutable_installed() = d.updater->Current();
  for (const auto& [k, v] : d.config.attributes()) (*req.mutable_attributes())[k] = v;
  req.set_client_version(kClientVersion);
  absl::StatusOr<uint64_t> size = d.slots[0]->Size();
  req.set_slot_size(size.ok() ? *size : 0);
  req.set_report_seq(d.outbox->LastSeq());
  req.set_key_list_version(d.key_list_version);
  return req;
}

// A key list from the server: kept and trusted when the root keys signed
// it and it is newer than the one held.
void TakeKeyList(Device& d, const ota::v1::SignedKeyList& signed_list) {
  if (d.roots.size() == 0) {
    Log("key list ignored: no root keys configured");
    return;
  }
  absl::StatusOr<ota::v1::KeyList> list = common::VerifyKeyList(
      signed_list, d.roots, d.key_list_version, absl::ToUnixSeconds(absl::Now()));
  absl::StatusOr<common::TrustStore> trust =
      list.ok() ? common::TrustStoreFromKeyList(*list)
                : absl::StatusOr<common::TrustStore>(list.status());
  if (!trust.ok()) {
    Log(absl::StrCat("key list refused: ", ota::v1::ReasonCode_Name(common::ReasonOf(trust.status())),
                     ": ", trust.status().message()));
    return;
  }
  if (absl::Status s = d.key_list->Save(signed_list); !s.ok()) {
    Log(absl::StrCat("key list not kept: ", s.message()));
    return;
  }
  d.trust = *std::move(trust);
  d.key_list_version = list->version();
  Log(absl::StrCat("key list version ", list->version(), " accepted: ", list->keys_size(),
                   " update key(s), ", list->threshold(), " must sign"));
}

int RunDaemon(Device& d) {
  Outcome recovered = d.updater->Recover();
  if (recovered != Outcome::kIdle) Log(absl::StrCat("recovered: ", OutcomeName(recovered)));
  if (d.stub == nullptr) {
    std::cerr << "ota-device: no server in the configuration; use `install`\n";
    return 2;
  }
  // Reports go out from their own thread, so a long download never holds
  // them back.
  // The server knows the device only after its first Connect.
  std::atomic<bool> registered{false};
  std::thread reporting([&d, &registered] {
    while (!g_stop) {
      if (registered && d.outbox->size() > 0) {
        absl::Status s = d.reporter->Flush();
        if (!s.ok()) Log(s.ToString());
      }
      for (int i = 0; i < 10 && !g_stop; ++i) absl::SleepFor(absl::Milliseconds(100));
    }
  });
  std::mt19937_64 rng(std::random_device{}());
  absl::Duration backoff = absl::Seconds(1);
  const absl::Duration max_backoff =
      absl::Seconds(d.config.max_reconnect_seconds() == 0 ? 60 : d.config.max_reconnect_seconds());
  while (!g_stop) {
    grpc::ClientContext ctx;
    std::atomic<grpc::ClientContext*> live{&ctx};
    std::thread watcher([&] {
      while (!g_stop && live.load() != nullptr) absl::SleepFor(absl::Milliseconds(100));
      if (live.load() != nullptr) ctx.TryCancel();
    });
    auto reader = d.stub->Connect(&ctx, Hello(d));
    ota::v1::ServerMessage msg;
    bool connected = false;
    while (reader->Read(&msg)) {
      if (!connected) {
        connected = true;
        registered = true;
        backoff = absl::Seconds(1);
        Log("connected to " + d.config.server());
      }
      if (msg.has_key_list()) TakeKeyList(d, msg.key_list());
      if (msg.has_deployment()) {
        const ota::v1::Deployment& dep = msg.deployment();
        Log("deployment " + dep.deployment_id());
        Outcome o;
        do {
          o = d.updater->Run(dep);
          Log(absl::StrCat("deployment ", dep.deployment_id(), ": ", OutcomeName(o)));
          if (o == Outcome::kDeferred || o == Outcome::kInterrupted) {
            for (int i = 0; i < 300 && !g_stop; ++i) absl::SleepFor(absl::Milliseconds(100));
          }
        } while (!g_stop && (o == Outcome::kDeferred || o == Outcome::kInterrupted));
      }
    }
    grpc::Status s = reader->Finish();
    live = nullptr;
    watcher.join();
    if (g_stop) break;
    Log(absl::StrCat("stream ended (", s.error_message(), "); reconnecting"));
    // Full jitter, so a fleet that lost the server does not return at once.
    absl::Duration wait = absl::Milliseconds(std::uniform_int_distribution<int64_t>(
        0, absl::ToInt64Milliseconds(backoff))(rng));
    for (absl::Duration slept; slept < wait && !g_stop; slept += absl::Milliseconds(100)) {
      absl::SleepFor(absl::Milliseconds(100));
    }
    backoff = std::min(backoff * 2, max_backoff);
  }
  reporting.join();
  (void)d.reporter->Flush(absl::Seconds(3));
  Log("stopped");
  return 0;
}

}  // namespace
}  // namespace ota::device

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "ota-device --config FILE [run | install --manifest FILE [--payload_uri URL] | status]");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  const std::string command = rest.size() > 1 ? rest[1] : "run";
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = [](int) { ota::device::g_stop = true; };
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  auto device = ota::device::Build(absl::GetFlag(FLAGS_config));
  if (!device.ok()) {
    std::cerr << "ota-device: " << device.status().message() << "\n";
    return 2;
  }
  if (command == "status") return ota::device::Status(**device);
  if (command == "install") return ota::device::Install(**device);
  if (command == "run") return ota::device::RunDaemon(**device);
  std::cerr << "ota-device: unknown command " << command << " (run, install, status)\n";
  return 2;
}
