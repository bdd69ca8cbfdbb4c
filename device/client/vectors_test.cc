// Every manifest vector of test/vectors/ through the device's own pipeline:
// each attack is refused with its reason, and where the manifest alone
// tells, before a single payload byte is requested.
#include <google/protobuf/text_format.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/base/file.h"
#include "common/crypto/bytes.h"
#include "common/crypto/x509.h"
#include "common/manifest/manifest.h"
#include "common/manifest/uuid.h"
#include "common/status/reason.h"
#include "device/boot/boot_header.h"
#include "device/client/header_boot_control.h"
#include "device/client/updater.h"
#include "device/download/fake_sleeper.h"
#include "device/download/memory_transport.h"
#include "device/slots/fake_block_device.h"
#include "gtest/gtest.h"
#include "test/vectors/vectors.pb.h"

namespace ota::device {
namespace {

constexpr char kDir[] = "test/vectors/data";


class NoReboot : public Rebooter {
 public:
  absl::Status Reboot() override { return absl::OkStatus(); }
};

// What the device must do with each vector, by name; the rest follow the
// vector's own verdict.
struct Expectation {
  ota::v1::DeploymentState state;
  ota::v1::ReasonCode reason;
  bool fetches;  // whether payload bytes may be requested
};

Expectation Expect(const testvectors::Vector& v) {
  const std::string& n = v.name();
  // Deltas are not applied by this client: refused before download.
  if (n == "delta_valid") {
    return {ota::v1::DEPLOYMENT_STATE_REJECTED, ota::v1::REASON_INVALID_FIELD, false};
  }
  // Found only in the payload: the download fails at the first bad chunk,
  // or when the server has fewer bytes than declared.
  if (n == "payload_chunk_mismatch") {
    return {ota::v1::DEPLOYMENT_STATE_FAILED, ota::v1::REASON_CHUNK_DIGEST_MISMATCH, true};
  }
  if (n == "payload_size_mismatch") {
    return {ota::v1::DEPLOYMENT_STATE_FAILED, ota::v1::REASON_DOWNLOAD_FAILED, true};
  }
  if (v.expected_reason() == ota::v1::REASON_UNSPECIFIED) {
    return {ota::v1::DEPLOYMENT_STATE_REBOOTING, ota::v1::REASON_UNSPECIFIED, true};
  }
  return {ota::v1::DEPLOYMENT_STATE_REJECTED, v.expected_reason(), false};
}

TEST(DeviceVectorsTest, EveryVectorThroughThePipeline) {
  std::string text = *common::ReadFile(absl::StrCat(kDir, "/index.textproto"));
  testvectors::VectorSet set;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &set));
  common::TrustStore trust;
  ASSERT_TRUE(trust.AddCertificate(*common::Certificate::FromDer(
                  *common::ReadFile(absl::StrCat(kDir, "/", set.trusted_certificate()))))
                  .ok());
  const std::string payload = *common::ReadFile(absl::StrCat(kDir, "/payload.bin"));
  int checked = 0;
  for (const testvectors::Vector& v : set.vectors()) {
    SCOPED_TRACE(v.name());
    const std::string bytes = *common::ReadFile(absl::StrCat(kDir, "/", v.name(), ".manifest"));
    // What the device does with bytes off the wire: the envelope first.
    absl::StatusOr<ota::v1::SignedManifest> envelope = common::ParseSignedManifest(bytes);
    if (!envelope.ok()) {
      EXPECT_EQ(common::ReasonOf(envelope.status()), v.expected_reason());
      ++checked;
      continue;
    }
    const std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", v.name());
    ASSERT_TRUE(common::MakeDirs(dir).ok());
    const uint64_t slot_size = v.device().slot_size() != 0 ? v.device().slot_size() : 1 << 20;
    FakeBlockDevice flags_dev(kBootFlagsSize), slot_a(slot_size), slot_b(slot_size);
    BootFlags flags(&flags_dev);
    const std::string sha = *common::HexDecode(v.device().installed_sha256());
    ASSERT_TRUE(flags.WriteFactoryHeader(Slot::kA, 0, sha, v.device().installed_sequence()).ok());
    ASSERT_TRUE(common::WriteFileAtomically(dir + "/booted", "a").ok());
    HeaderBootControl boot(&flags, dir + "/booted");
    DeviceConfig config;
    config.set_device_id(v.device().device_id());
    config.set_vendor_id(v.device().vendor_id());
    config.set_class_id(v.device().class_id());
    ProtoFile<Installed> installed(dir + "/installed.pb");
    Installed was;
    was.mutable_image()->set_active_slot("a");
    was.mutable_image()->set_image_sha256(sha);
    was.mutable_image()->set_sequence_number(v.device().installed_sequence());
    ASSERT_TRUE(installed.Save(was).ok());
    ProtoFile<Journal> journal(dir + "/journal.pb");
    ReportOutbox outbox(dir + "/outbox.pb");
    ASSERT_TRUE(outbox.Open().ok());
    MemoryTransport transport(payload);
    FakeSleeper sleeper;
    DownloadOptions options;
    options.attempts_per_uri = 2;
    PayloadDownloader downloader(&transport, &sleeper, options);
    HookRunner hooks(absl::Seconds(5));
    NoReboot rebooter;
    common::FakeClock clock(v.now_unix() * 1000);
    UpdaterDeps deps;
    deps.config = &config;
    deps.trust = &trust;
    deps.boot = &boot;
    deps.slots[0] = &slot_a;
    deps.slots[1] = &slot_b;
    deps.downloader = &downloader;
    deps.hooks = &hooks;
    deps.rebooter = &rebooter;
    deps.outbox = &outbox;
    deps.journal = &journal;
    deps.installed = &installed;
    deps.clock = &clock;
    Updater updater(deps);

    ota::v1::Deployment d;
    d.set_deployment_id(v.name());
    *d.mutable_manifest() = *envelope;
    updater.Run(d);
    Expectation want = Expect(v);
    const ota::v1::StatusReport last = outbox.Pending(1000).back();
    EXPECT_EQ(last.state(), want.state) << last.message();
    EXPECT_EQ(last.reason(), want.reason) << last.message();
    if (!want.fetches) {
      EXPECT_EQ(transport.requests(), 0) << "refused only after asking for payload bytes";
      EXPECT_EQ(flags.Load()->slot(Slot::kB).bootable, false);
    }
    ++checked;
  }
  EXPECT_EQ(checked, set.vectors_size());
}

}  // namespace
}  // namespace ota::device
