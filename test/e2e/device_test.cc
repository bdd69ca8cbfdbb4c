// ota-device as a process against otad as a process: a file-backed device
// (bootflags, two slots, ota-bootsim as its bootloader) installs a signed
// manifest whose payload otad serves over HTTP, reboots into the trial
// slot, commits after its health check, and its reports reach otad's
// database through the outbox.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/base/file.h"
#include "common/crypto/bytes.h"
#include "common/crypto/ecdsa.h"
#include "common/crypto/sha256.h"
#include "common/crypto/x509.h"
#include "common/manifest/manifest.h"
#include "common/manifest/payload_digest.h"
#include "common/manifest/uuid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ota/v1/asset_service.grpc.pb.h"
#include "ota/v1/certificate_service.grpc.pb.h"
#include "ota/v1/device_registry_service.grpc.pb.h"
#include "ota/v1/manifest_service.grpc.pb.h"
#include "test/pg/postgres_cluster.h"
#include "test/process/subprocess.h"

namespace ota {
namespace {

using ::testing::HasSubstr;

std::string Tmp() { return std::getenv("TEST_TMPDIR"); }

struct ShResult {
  int status;
  std::string output;
};

ShResult Sh(const std::string& cmd) {
  ShResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string Pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 2654435761u + seed) >> 11);
  return s;
}

TEST(DeviceProcessTest, InstallRebootCommitAndReport) {
  const std::string dir = Tmp() + "/e2e";
  ASSERT_TRUE(common::MakeDirs(dir + "/dev").ok());
  auto cluster = testing::PostgresCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto url = (*cluster)->CreateDatabase();
  ASSERT_TRUE(url.ok());
  auto otad = testing::Subprocess::Start(
      {"server/otad", "--grpc_address=127.0.0.1:0", "--http_address=127.0.0.1:0",
       "--database_url=" + *url, "--blob_dir=" + dir + "/blobs", "--insecure"});
  ASSERT_TRUE(otad.ok());
  auto grpc_addr = (*otad)->WaitForLine("otad: gRPC listening on ", absl::Seconds(30));
  ASSERT_TRUE(grpc_addr.ok()) << grpc_addr.status();
  auto http_line = (*otad)->WaitForLine("otad: HTTP listening on ", absl::Seconds(5));
  ASSERT_TRUE(http_line.ok());
  const std::string http = "http://" + http_line->substr(0, http_line->find(' '));
  auto channel = grpc::CreateChannel(*grpc_addr, grpc::InsecureChannelCredentials());

  // The firmware developer's side: key, certificate, payload, manifest.
  auto key = *common::EcdsaP256PrivateKey::Generate();
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  auto cert = *common::Certificate::SelfSigned({"gw update key", "example.com", now - 60,
                                                now + 86400, false}, key);
  ASSERT_TRUE(common::WriteFileAtomically(dir + "/update.der", cert.der()).ok());
  {
    grpc::ClientContext ctx;
    v1::RegisterCertificateRequest req;
    req.set_certificate_der(cert.der());
    v1::Certificate out;
    ASSERT_TRUE(v1::CertificateService::NewStub(channel)->RegisterCertificate(&ctx, req, &out).ok());
  }
  const std::string payload = Pattern(700000, 2);
  const std::string sha = common::HexEncode(common::Sha256Digest(payload));
  {
    grpc::ClientContext ctx;
    v1::UploadAssetResponse resp;
    auto writer = v1::AssetService::NewStub(channel)->UploadAsset(&ctx, &resp);
    v1::UploadAssetRequest h;
    h.mutable_header()->set_sha256(sha);
    h.mutable_header()->set_size(payload.size());
    writer->Write(h);
    v1::UploadAssetRequest c;
    c.set_chunk(payload);
    writer->Write(c);
    writer->WritesDone();
    ASSERT_TRUE(writer->Finish().ok());
    ASSERT_TRUE(resp.complete());
  }
  v1::Manifest m;
  m.set_format_version(1);
  m.set_sequence_number(2);
  m.set_vendor_id(common::Uuid5(common::kDnsNamespaceUuid, "example.com"));
  m.set_class_id(common::Uuid5(m.vendor_id(), "gw-3610"));
  m.set_created_unix(now);
  m.set_version("2.0.0");
  m.set_component("rootfs");
  common::PayloadHasher hasher(64 << 10);
  hasher.Update(payload);
  common::SetPayloadDigests(hasher.Finish(), m.mutable_payload());
  // The first URI is dead: the device must go on to the next.
  m.mutable_payload()->add_uris("http://127.0.0.1:1/payloads/" + sha);
  m.mutable_payload()->add_uris(http + "/payloads/" + sha);
  m.mutable_payload()->set_format(v1::PAYLOAD_FORMAT_FULL);
  const std::string signed_bytes = common::SignManifest(m, {&key})->SerializeAsString();
  ASSERT_TRUE(common::WriteFileAtomically(dir + "/fw.manifest", signed_bytes).ok());
  {
    grpc::ClientContext ctx;
    v1::UploadManifestRequest req;
    req.set_signed_manifest(signed_bytes);
    v1::ManifestRecord rec;
    ASSERT_TRUE(v1::ManifestService::NewStub(channel)->UploadManifest(&ctx, req, &rec).ok());
  }

  // The device: flash as files, the factory image in slot a.
  const std::string d = dir + "/dev";
  const std::string factory = Pattern(300000, 1);
  ASSERT_TRUE(common::WriteFileAtomically(d + "/slot_a", factory + std::string((1 << 20) - factory.size(), '\0')).ok());
  ASSERT_TRUE(common::WriteFileAtomically(d + "/slot_b", std::string(1 << 20, '\0')).ok());
  ASSERT_TRUE(common::WriteFileAtomically(d + "/bootflags", std::string(512 << 10, '\xff')).ok());
  const std::string flash = absl::StrCat("--bootflags ", d, "/bootflags --slot-a ", d,
                                         "/slot_a --slot-b ", d, "/slot_b");
  ShResult init = Sh(absl::StrCat("device/boot/ota-bootsim init ", flash, " --image-size ",
                             factory.size()));
  ASSERT_EQ(init.status, 0) << init.output;
  auto bootloader = [&]() {
    ShResult r = Sh("device/boot/ota-bootsim boot --verify " + flash);
    EXPECT_EQ(r.status, 0) << r.output;
    std::string slot = r.output.substr(5, 1);  // "boot a ..."
    EXPECT_TRUE(common::WriteFileAtomically(d + "/booted", slot).ok());
    return r.output;
  };
  EXPECT_THAT(bootloader(), HasSubstr("boot a"));
  std::ofstream(d + "/health") << "#!/bin/sh\ntest \"$OTA_VERSION\" = 2.0.0\n";
  chmod((d + "/health").c_str(), 0755);
  std::ofstream(d + "/device.json") << absl::StrCat(R"({
    "deviceId": "gw-0001",
    "vendorId": ")", common::UuidToString(m.vendor_id()), R"(",
    "classId": ")", common::UuidToString(m.class_id()), R"(",
    "server": ")", *grpc_addr, R"(",
    "stateDir": ")", d, R"(/state",
    "trustedCertificates": [")", dir, R"(/update.der"],
    "bootflags": ")", d, R"(/bootflags",
    "slotA": ")", d, R"(/slot_a",
    "slotB": ")", d, R"(/slot_b",
    "bootedSlotFile": ")", d, R"(/booted",
    "healthHook": ")", d, R"(/health",
    "factoryVersion": "1.0.0",
    "attributes": {"region": "eu"}
  })");
  const std::string device = "device/ota-device --config " + d + "/device.json";

  // Install: verify, download (skipping the dead mirror), stage the trial,
  // and ask for a reboot (exit 100: no reboot command configured).
  ShResult install = Sh(device + " install --manifest " + dir + "/fw.manifest");
  EXPECT_EQ(install.status, 100) << install.output;
  ShResult status = Sh(device + " status");
  EXPECT_THAT(status.output, HasSubstr("deployment  local-"));
  EXPECT_THAT(status.output, HasSubstr("at STEP_ACTIVATED into slot b"));

  // The bootloader starts slot b as a trial; the daemon checks health,
  // commits and reports to otad.
  EXPECT_THAT(bootloader(), HasSubstr("boot b"));
  auto daemon = testing::Subprocess::Start(
      {"device/ota-device", "--config=" + d + "/device.json"});
  ASSERT_TRUE(daemon.ok());
  auto recovered = (*daemon)->WaitForLine("ota-device: recovered: ", absl::Seconds(30));
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(*recovered, "succeeded");
  auto connected = (*daemon)->WaitForLine("ota-device: connected to ", absl::Seconds(30));
  ASSERT_TRUE(connected.ok()) << connected.status();

  auto registry = v1::DeviceRegistryService::NewStub(channel);
  v1::Device dev;
  bool reported = false;
  for (int i = 0; i < 100 && !reported; ++i) {
    grpc::ClientContext ctx;
    v1::GetDeviceRequest req;
    req.set_device_id("gw-0001");
    if (registry->GetDevice(&ctx, req, &dev).ok() && dev.online() &&
        dev.installed().sequence_number() == 2 && Sh(device + " status").output.find("outbox      0") != std::string::npos) {
      reported = true;
    } else {
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  ASSERT_TRUE(reported) << Sh(device + " status").output;
  EXPECT_EQ(dev.installed().active_slot(), "b");
  EXPECT_EQ(dev.installed().version(), "2.0.0");
  EXPECT_EQ(dev.installed().image_sha256(), common::Sha256Digest(payload));
  EXPECT_EQ(dev.attributes().at("region"), "eu");
  EXPECT_EQ(common::ReadFile(d + "/slot_b")->substr(0, payload.size()), payload);
  // Committed: the bootloader stays on b without a trial.
  int stopped = (*daemon)->Stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(stopped) && WEXITSTATUS(stopped) == 0);
  std::string again = bootloader();
  EXPECT_THAT(again, HasSubstr("boot b"));
  EXPECT_THAT(again, HasSubstr("committed"));
  (*otad)->Stop(SIGTERM);
}

}  // namespace
}  // namespace ota
