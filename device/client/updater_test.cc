// The A/B pipeline over fake flash: the happy path, every refusal, the
// health check and the bootloader's fallback, and power cut after every
// single write or flush of the flash through install, activation, boot,
// commit and rollback.
#include "device/client/updater.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/crypto/ecdsa.h"
#include "common/crypto/sha256.h"
#include "common/manifest/manifest.h"
#include "common/manifest/payload_digest.h"
#include "common/manifest/uuid.h"
#include "device/boot/boot_header.h"
#include "device/client/header_boot_control.h"
#include "device/download/fake_sleeper.h"
#include "device/download/memory_transport.h"
#include "device/slots/fake_block_device.h"
#include "device/slots/faulty_block_device.h"
#include "device/slots/file_block_device.h"
#include "device/slots/script_block_device.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ota::device {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1800000000;
constexpr uint64_t kSlotSize = 64 << 10;
constexpr uint32_t kChunk = 4096;


class RecordingRebooter : public Rebooter {
 public:
  absl::Status Reboot() override {
    ++reboots;
    return absl::OkStatus();
  }
  int reboots = 0;
};

std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + seed * 7919) >> 3);
  return s;
}

std::string WriteScript(const std::string& path, const std::string& body) {
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  chmod(path.c_str(), 0755);
  return path;
}

// One device: flash (bootflags + two slots on one power supply), its state
// folder, and a fresh Updater per "boot".
class Device {
 public:
  Device(const std::string& dir, const common::TrustStore* trust, const std::string& factory)
      : dir_(dir), trust_(trust), flags_(kBootFlagsSize), slot_a_(kSlotSize), slot_b_(kSlotSize) {
    (void)common::MakeDirs(dir_);
    config_.set_device_id("gw-1");
    config_.set_vendor_id(common::UuidToString(common::Uuid5(common::kDnsNamespaceUuid, "example.com")));
    config_.set_class_id(common::UuidToString(
        common::Uuid5(common::Uuid5(common::kDnsNamespaceUuid, "example.com"), "gw")));
    config_.set_state_dir(dir_);
    config_.set_trial_attempts(2);
    config_.set_factory_version("1.0");
    config_.set_booted_slot_file(dir_ + "/booted");
    config_.set_health_hook(WriteScript(dir_ + "/health", "test -e " + dir_ + "/unhealthy && exit 1; exit 0"));
    // The factory image in slot a, committed, as the factory writes it.
    EXPECT_TRUE(slot_a_.Write(0, factory).ok());
    EXPECT_TRUE(slot_a_.Flush().ok());
    BootFlags flags(&flags_);
    EXPECT_TRUE(flags.WriteFactoryHeader(Slot::kA, factory.size(), common::Sha256Digest(factory), 0).ok());
    EXPECT_TRUE(common::WriteFileAtomically(dir_ + "/booted", "a").ok());
  }

  // Starts the device software over the flash, optionally with a power cut
  // schedule (null: power never fails).
  void Start(PowerCut* cut, const std::string& payload) {
    power_ = std::make_unique<PowerCut>(PowerCut::Options{});
    PowerCut* p = cut != nullptr ? cut : power_.get();
    f_flags_ = std::make_unique<FaultyBlockDevice>(&flags_, p);
    f_a_ = std::make_unique<FaultyBlockDevice>(&slot_a_, p);
    f_b_ = std::make_unique<FaultyBlockDevice>(&slot_b_, p);
    boot_flags_ = std::make_unique<BootFlags>(f_flags_.get());
    boot_ = std::make_unique<HeaderBootControl>(boot_flags_.get(), config_.booted_slot_file());
    transport_ = std::make_unique<MemoryTransport>(payload);
    downloader_ = std::make_unique<PayloadDownloader>(transport_.get(), &sleeper_, DownloadOptions{});
    hooks_ = std::make_unique<HookRunner>(absl::Seconds(10));
    outbox_ = std::make_unique<ReportOutbox>(dir_ + "/outbox.pb");
    EXPECT_TRUE(outbox_->Open().ok());
    journal_ = std::make_unique<ProtoFile<Journal>>(dir_ + "/journal.pb");
    installed_ = std::make_unique<ProtoFile<Installed>>(dir_ + "/installed.pb");
    UpdaterDeps deps;
    deps.config = &config_;
    deps.trust = trust_;
    deps.boot = boot_.get();
    deps.slots[0] = f_a_.get();
    deps.slots[1] = f_b_.get();
    deps.downloader = downloader_.get();
    deps.hooks = hooks_.get();
    deps.rebooter = &rebooter_;
    deps.outbox = outbox_.get();
    deps.journal = journal_.get();
    deps.installed = installed_.get();
    deps.clock = &clock_;
    updater_ = std::make_unique<Updater>(deps);
  }

  // Plays the bootloader over the durable flash; records what it booted.
  absl::StatusOr<BootDecision> Bootloader() {
    BootFlags flags(&flags_);
    absl::StatusOr<BootDecision> d = Boot(flags, slot_a_, slot_b_, BootOptions{true});
    if (d.ok()) {
      EXPECT_TRUE(common::WriteFileAtomically(dir_ + "/booted", SlotName(d->slot)).ok());
    }
    return d;
  }

  std::vector<ota::v1::DeploymentState> States() {
    std::vector<ota::v1::DeploymentState> out;
    for (const auto& r : outbox_->Pending(1000)) out.push_back(r.state());
    return out;
  }
  ota::v1::StatusReport Last() { return outbox_->Pending(1000).back(); }

  std::string dir_;
  const common::TrustStore* trust_;
  DeviceConfig config_;
  FakeBlockDevice flags_, slot_a_, slot_b_;
  std::unique_ptr<PowerCut> power_;
  std::unique_ptr<FaultyBlockDevice> f_flags_, f_a_, f_b_;
  std::unique_ptr<BootFlags> boot_flags_;
  std::unique_ptr<HeaderBootControl> boot_;
  std::unique_ptr<MemoryTransport> transport_;
  FakeSleeper sleeper_;
  std::unique_ptr<PayloadDownloader> downloader_;
  std::unique_ptr<HookRunner> hooks_;
  RecordingRebooter rebooter_;
  std::unique_ptr<ReportOutbox> outbox_;
  std::unique_ptr<ProtoFile<Journal>> journal_;
  std::unique_ptr<ProtoFile<Installed>> installed_;
  common::FakeClock clock_{kNow * 1000};
  std::unique_ptr<Updater> updater_;
};

class UpdaterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = *common::EcdsaP256PrivateKey::Generate();
    trust_.AddKey(key_.PublicKey(), 0, 0, "release");
    factory_ = Pattern(30000, 1);
    payload_ = Pattern(5 * kChunk + 1000, 2);
  }

  ota::v1::Deployment MakeDeployment(uint64_t sequence = 2,
                                     const common::EcdsaP256PrivateKey* key = nullptr) {
    ota::v1::Manifest m;
    m.set_format_version(1);
    m.set_sequence_number(sequence);
    m.set_vendor_id(common::Uuid5(common::kDnsNamespaceUuid, "example.com"));
    m.set_class_id(common::Uuid5(m.vendor_id(), "gw"));
    m.set_created_unix(kNow - 10);
    m.set_version("2.0");
    common::PayloadHasher h(kChunk);
    h.Update(payload_);
    common::SetPayloadDigests(h.Finish(), m.mutable_payload());
    m.mutable_payload()->add_uris("http://mirror/payload");
    m.mutable_payload()->set_format(ota::v1::PAYLOAD_FORMAT_FULL);
    ota::v1::Deployment d;
    d.set_deployment_id(absl::StrCat("dep-", sequence));
    d.set_campaign_id("camp-1");
    *d.mutable_manifest() = *common::SignManifest(m, {key ? key : &key_});
    return d;
  }

  std::string Dir() {
    return absl::StrCat(std::getenv("TEST_TMPDIR"), "/",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name(), "-",
                        runs_++);
  }

  common::EcdsaP256PrivateKey key_ = *common::EcdsaP256PrivateKey::Generate();
  common::TrustStore trust_;
  std::string factory_, payload_;
  int runs_ = 0;
};

TEST_F(UpdaterTest, InstallRebootCommit) {
  Device d(Dir(), &trust_, factory_);
  d.Start(nullptr, payload_);
  EXPECT_EQ(d.updater_->Recover(), Outcome::kIdle);
  EXPECT_EQ(d.updater_->Current().version(), "1.0");
  EXPECT_EQ(d.updater_->Run(MakeDeployment()), Outcome::kRebooting);
  EXPECT_EQ(d.rebooter_.reboots, 1);
  absl::StatusOr<BootDecision> boot = d.Bootloader();
  ASSERT_TRUE(boot.ok()) << boot.status();
  EXPECT_EQ(boot->slot, Slot::kB);
  d.Start(nullptr, payload_);
  EXPECT_TRUE(d.updater_->Current().trial());
  EXPECT_EQ(d.updater_->Recover(), Outcome::kSucceeded);
  ota::v1::InstalledImage now = d.updater_->Current();
  EXPECT_EQ(now.active_slot(), "b");
  EXPECT_EQ(now.sequence_number(), 2u);
  EXPECT_FALSE(now.trial());
  EXPECT_EQ(now.image_sha256(), common::Sha256Digest(payload_));
  EXPECT_THAT(d.States(),
              ElementsAre(ota::v1::DEPLOYMENT_STATE_DOWNLOADING, ota::v1::DEPLOYMENT_STATE_DOWNLOADING,
                          ota::v1::DEPLOYMENT_STATE_DOWNLOADING, ota::v1::DEPLOYMENT_STATE_DOWNLOADING,
                          ota::v1::DEPLOYMENT_STATE_DOWNLOADING, ota::v1::DEPLOYMENT_STATE_DOWNLOADING,
                          ota::v1::DEPLOYMENT_STATE_DOWNLOADED, ota::v1::DEPLOYMENT_STATE_INSTALLING,
                          ota::v1::DEPLOYMENT_STATE_REBOOTING, ota::v1::DEPLOYMENT_STATE_SUCCEEDED));
  EXPECT_EQ(d.Last().installed().sequence_number(), 2u);
  // Committed: the bootloader keeps booting b, no trial left.
  boot = d.Bootloader();
  EXPECT_EQ(boot->slot, Slot::kB);
  EXPECT_EQ(d.updater_->Recover(), Outcome::kIdle);
}
TEST_F(UpdaterTest, RefusalsChangeNothing) {
  Device d(Dir(), &trust_, factory_);
  d.Start(nullptr, payload_);
  auto stranger = *common::EcdsaP256PrivateKey::Generate();
  EXPECT_EQ(d.updater_->Run(MakeDeployment(2, &stranger)), Outcome::kRejected);
  EXPECT_EQ(d.Last().state(), ota::v1::DEPLOYMENT_STATE_REJECTED);
  EXPECT_EQ(d.Last().reason(), ota::v1::REASON_UNKNOWN_KEY);

  ota::v1::Deployment tampered = MakeDeployment();
  (*tampered.mutable_manifest()->mutable_manifest())[20] ^= 1;
  EXPECT_EQ(d.updater_->Run(tampered), Outcome::kRejected);
  EXPECT_EQ(d.Last().reason(), ota::v1::REASON_SIGNATURE_INVALID);

  // Too large for the slot: refused before any download.
  payload_ = Pattern(kSlotSize + 1, 3);
  EXPECT_EQ(d.updater_->Run(MakeDeployment()), Outcome::kRejected);
  EXPECT_EQ(d.Last().reason(), ota::v1::REASON_PAYLOAD_TOO_LARGE);
  EXPECT_EQ(d.transport_->requests(), 0);

  // The flash is as the factory left it.
  BootFlags flags(&d.flags_);
  EXPECT_EQ(flags.Load()->active_slot, Slot::kA);
  EXPECT_TRUE(flags.Load()->slot(Slot::kB).bootable == false);
  EXPECT_EQ(d.updater_->Recover(), Outcome::kIdle);
}

TEST_F(UpdaterTest, RollbackAfterCommitIsRefusedAndEqualIsSkipped) {
  Device d(Dir(), &trust_, factory_);
  d.Start(nullptr, payload_);
  ASSERT_EQ(d.updater_->Run(MakeDeployment(5)), Outcome::kRebooting);
  ASSERT_TRUE(d.Bootloader().ok());
  d.Start(nullptr, payload_);
  ASSERT_EQ(d.updater_->Recover(), Outcome::kSucceeded);
  EXPECT_EQ(d.updater_->Run(MakeDeployment(4)), Outcome::kRejected);
  EXPECT_EQ(d.Last().reason(), ota::v1::REASON_ROLLBACK);
  EXPECT_EQ(d.updater_->Run(MakeDeployment(5)), Outcome::kRejected);
  EXPECT_EQ(d.Last().state(), ota::v1::DEPLOYMENT_STATE_SKIPPED);
}

TEST_F(UpdaterTest, FailedHealthCheckRollsBack) {
  Device d(Dir(), &trust_, factory_);
  d.Start(nullptr, payload_);
  ASSERT_EQ(d.updater_->Run(MakeDeployment()), Outcome::kRebooting);
  ASSERT_EQ(d.Bootloader()->slot, Slot::kB);
  ASSERT_TRUE(common::WriteFileAtomically(d.dir_ + "/unhealthy", "").ok());
  d.Start(nullptr, payload_);
  EXPECT_EQ(d.updater_->Recover(), Outcome::kRolledBack);
  EXPECT_EQ(d.rebooter_.reboots, 2);
  EXPECT_EQ(d.Last().state(), ota::v1::DEPLOYMENT_STATE_ROLLED_BACK);
  EXPECT_EQ(d.Last().reason(), ota::v1::REASON_HEALTH_CHECK_FAILED);
  EXPECT_THAT(d.Last().message(), HasSubstr("health hook exited with status 1"));
  // The report names the image the device returns to, not the abandoned one.
  EXPECT_EQ(d.Last().installed().active_slot(), "a");
  EXPECT_EQ(d.Last().installed().version(), "1.0");
  absl::StatusOr<BootDecision> boot = d.Bootloader();
  ASSERT_TRUE(boot.ok());
  EXPECT_EQ(boot->slot, Slot::kA);
  d.Start(nullptr, payload_);
  EXPECT_EQ(d.updater_->Recover(), Outcome::kIdle);
  EXPECT_EQ(d.updater_->Current().version(), "1.0");
}

TEST_F(UpdaterTest, CrashLoopingImageFallsBackAndIsReported) {
  Device d(Dir(), &trust_, factory_);
  d.Start(nullptr, payload_);
  ASSERT_EQ(d.updater_->Run(MakeDeployment()), Outcome::kRebooting);
  // The new image dies before ota-device starts, every time.
  absl::StatusOr<BootDecision> boot;
  for (int i = 0; i < 5; ++i) {
    boot = d.Bootloader();
    ASSERT_TRUE(boot.ok()) << boot.status();
    if (boot->slot == Slot::kA) break;
  }
  ASSERT_EQ(boot->slot, Slot::kA) << "the bootloader must fall back";
  d.Start(nullptr, payload_);
  EXPECT_EQ(d.updater_->Recover(), Outcome::kRolledBack);
  EXPECT_EQ(d.Last().state(), ota::v1::DEPLOYMENT_STATE_ROLLED_BACK);
  EXPECT_EQ(d.Last().reason(), ota::v1::REASON_BOOT_FAILED);
  EXPECT_EQ(d.Last().installed().active_slot(), "a");
}

TEST_F(UpdaterTest, InstallHookDefersThenGoes) {
  Device d(Dir(), &trust_, factory_);
  d.config_.set_install_hook(WriteScript(d.dir_ + "/install", "test -e " + d.dir_ + "/busy && exit 75; exit 0"));
  ASSERT_TRUE(common::WriteFileAtomically(d.dir_ + "/busy", "").ok());
  d.Start(nullptr, payload_);
  EXPECT_EQ(d.updater_->Run(MakeDeployment()), Outcome::kDeferred);
  EXPECT_EQ(d.Last().state(), ota::v1::DEPLOYMENT_STATE_DEFERRED);
  EXPECT_EQ(d.Last().reason(), ota::v1::REASON_HOOK_DEFERRED);
  int fetched = d.transport_->requests();
  std::remove((d.dir_ + "/busy").c_str());
  // A restart in between keeps the downloaded image: nothing is fetched again.
  d.Start(nullptr, payload_);
  EXPECT_EQ(d.updater_->Recover(), Outcome::kRebooting);
  EXPECT_EQ(d.transport_->requests(), 0);
  EXPECT_GT(fetched, 0);
}

TEST_F(UpdaterTest, AnotherDeploymentWhileOneRunsIsRefused) {
  Device d(Dir(), &trust_, factory_);
  d.config_.set_install_hook(WriteScript(d.dir_ + "/install", "exit 75"));
  d.Start(nullptr, payload_);
  ASSERT_EQ(d.updater_->Run(MakeDeployment(2)), Outcome::kDeferred);
  EXPECT_EQ(d.updater_->Run(MakeDeployment(3)), Outcome::kRejected);
  EXPECT_EQ(d.Last().deployment_id(), "dep-3");
  EXPECT_EQ(d.Last().reason(), ota::v1::REASON_WRONG_STATE);
}

// Slots written by an activation script (the seed's ubiformat): the payload
// is downloaded into a staging file and handed to the script once, at
// install time.
TEST_F(UpdaterTest, ActivationScriptSlotInstallsFromStaging) {
  Device d(Dir(), &trust_, factory_);
  const std::string installed_b = d.dir_ + "/mtd_b.img";
  ASSERT_TRUE(common::WriteFileAtomically(installed_b, std::string(kSlotSize, '\0')).ok());
  ScriptBlockDevice::Options options;
  options.command = "echo \"$UPDATE_SLOT_MTD\" >> " + d.dir_ +
                    "/script.log; dd if=\"$FIRMWARE\" of=" + installed_b +
                    " conv=notrunc status=none";
  options.slot_mtd = "mtd6";
  options.read_path = installed_b;
  options.staging_dir = d.dir_;
  auto script_slot = ScriptBlockDevice::Open(options);
  ASSERT_TRUE(script_slot.ok()) << script_slot.status();
  auto staging = FileBlockDevice::Create(d.dir_ + "/download.img", kSlotSize);
  ASSERT_TRUE(staging.ok());
  d.Start(nullptr, payload_);
  UpdaterDeps deps;
  deps.config = &d.config_;
  deps.trust = &trust_;
  deps.boot = d.boot_.get();
  deps.slots[0] = d.f_a_.get();
  deps.slots[1] = script_slot->get();
  deps.staging = staging->get();
  deps.downloader = d.downloader_.get();
  deps.hooks = d.hooks_.get();
  deps.rebooter = &d.rebooter_;
  deps.outbox = d.outbox_.get();
  deps.journal = d.journal_.get();
  deps.installed = d.installed_.get();
  deps.clock = &d.clock_;
  Updater updater(deps);
  EXPECT_EQ(updater.Run(MakeDeployment()), Outcome::kRebooting);
  // The script ran once, for slot b's MTD device, and wrote the image.
  EXPECT_EQ(*common::ReadFile(d.dir_ + "/script.log"), "mtd6\n");
  EXPECT_EQ(common::ReadFile(installed_b)->substr(0, payload_.size()), payload_);
}

// Power is cut after the k-th write or flush of the flash, for every k of
// a whole update (install, activation, boot, then commit or, with a failing
// health check, rollback), with the last write torn. After each cut the
// bootloader must boot a slot whose image matches its header, and the
// device must end on the new image, committed, or cleanly on the old one.
class PowerCutTest : public UpdaterTest, public ::testing::WithParamInterface<bool> {};

TEST_P(PowerCutTest, AtEveryFlashOperation) {
  const bool healthy = GetParam();
  // One pass of the device's life: recover, take the deployment unless it
  // was already reported rolled back (the server stops offering it), boot
  // into the result, recover again.
  auto run_to_end = [&](Device& d, PowerCut* cut) -> Outcome {
    d.Start(cut, payload_);
    Outcome o = d.updater_->Recover();
    bool rolled_back = false;
    for (const auto& r : d.outbox_->Pending(1000)) {
      rolled_back |= r.state() == ota::v1::DEPLOYMENT_STATE_ROLLED_BACK;
    }
    if (o == Outcome::kIdle && !rolled_back) o = d.updater_->Run(MakeDeployment());
    if (o == Outcome::kRebooting || o == Outcome::kRolledBack) {
      if (!d.Bootloader().ok()) return Outcome::kInterrupted;
      d.Start(cut, payload_);
      o = d.updater_->Recover();
      if (o == Outcome::kRolledBack) {
        if (!d.Bootloader().ok()) return Outcome::kInterrupted;
        d.Start(cut, payload_);
        o = d.updater_->Recover();
      }
    }
    return o;
  };
  auto make_device = [&]() {
    auto d = std::make_unique<Device>(Dir(), &trust_, factory_);
    if (!healthy) EXPECT_TRUE(common::WriteFileAtomically(d->dir_ + "/unhealthy", "").ok());
    return d;
  };
  int64_t total = 0;
  {
    auto d = make_device();
    PowerCut counting(PowerCut::Options{});
    run_to_end(*d, &counting);
    d->Start(nullptr, payload_);
    ASSERT_EQ(d->updater_->Current().sequence_number(), healthy ? 2u : 0u);
    total = counting.operations();
  }
  ASSERT_GT(total, 10);
  int ended_new = 0, ended_old = 0;
  for (int64_t k = 1; k <= total; ++k) {
    auto d = make_device();
    PowerCut cut(PowerCut::Options{k, /*tear_last_write=*/true, static_cast<uint64_t>(k)});
    run_to_end(*d, &cut);
    ASSERT_TRUE(cut.lost()) << "k=" << k;
    // Power returns: the bootloader must find a good slot...
    absl::StatusOr<BootDecision> boot = d->Bootloader();
    ASSERT_TRUE(boot.ok()) << "k=" << k << ": " << boot.status();
    BootFlags flags(&d->flags_);
    absl::StatusOr<BootHeader> header = flags.Load();
    ASSERT_TRUE(header.ok()) << "k=" << k;
    const BlockDevice& booted = boot->slot == Slot::kA ? static_cast<BlockDevice&>(d->slot_a_)
                                                       : static_cast<BlockDevice&>(d->slot_b_);
    EXPECT_TRUE(VerifySlotImage(booted, header->slot(boot->slot)).ok())
        << "k=" << k << ": slot " << SlotName(boot->slot) << " does not match its header";
    // ...and the device, carried on with power on, ends in a clean state.
    for (int round = 0; round < 6; ++round) {
      Outcome o = run_to_end(*d, nullptr);
      if (o == Outcome::kSucceeded || o == Outcome::kIdle) break;
    }
    d->Start(nullptr, payload_);
    ota::v1::InstalledImage now = d->updater_->Current();
    EXPECT_FALSE(now.trial()) << "k=" << k;
    if (now.sequence_number() == 2) {
      ++ended_new;
      EXPECT_TRUE(healthy) << "k=" << k << ": an unhealthy image was kept";
      EXPECT_EQ(now.active_slot(), "b") << "k=" << k;
    } else {
      ++ended_old;
      EXPECT_EQ(now.active_slot(), "a") << "k=" << k;
      EXPECT_EQ(now.version(), "1.0") << "k=" << k;
      EXPECT_EQ(d->Bootloader()->slot, Slot::kA) << "k=" << k;
    }
    EXPECT_EQ(d->updater_->Recover(), Outcome::kIdle) << "k=" << k;
  }
  std::cout << "power cut at each of " << total << " flash operations ("
            << (healthy ? "commit" : "rollback") << " path): " << ended_new
            << " ended on the new image, " << ended_old << " on the old one\n";
  EXPECT_EQ(ended_new + ended_old, total);
  EXPECT_EQ(healthy ? ended_new : ended_old, total);
}

INSTANTIATE_TEST_SUITE_P(CommitAndRollback, PowerCutTest, ::testing::Bool());

}  // namespace
}  // namespace ota::device
