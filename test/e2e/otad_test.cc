// otad as a process: a private PostgreSQL, the real binary, gRPC and HTTP
// clients. Publishes a certificate, an asset (interrupted and resumed) and a
// manifest; downloads the payload over HTTP with a range; takes the
// database away and brings it back while otad runs; stops otad cleanly.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
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

// Runs a shell command and returns its stdout.
std::string Sh(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

TEST(OtadProcessTest, PublishDownloadOutageAndShutdown) {
  auto cluster = testing::PostgresCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto url = (*cluster)->CreateDatabase();
  ASSERT_TRUE(url.ok()) << url.status();

  auto otad = testing::Subprocess::Start(
      {"server/otad", "--grpc_address=127.0.0.1:0", "--http_address=127.0.0.1:0",
       "--database_url=" + *url, "--blob_dir=" + Tmp() + "/blobs", "--database_wait_seconds=1",
       "--insecure"});
  ASSERT_TRUE(otad.ok());
  auto grpc_addr = (*otad)->WaitForLine("otad: gRPC listening on ", absl::Seconds(30));
  ASSERT_TRUE(grpc_addr.ok()) << grpc_addr.status();
  auto http_line = (*otad)->WaitForLine("otad: HTTP listening on ", absl::Seconds(5));
  ASSERT_TRUE(http_line.ok()) << http_line.status();
  const std::string http = "http://" + http_line->substr(0, http_line->find(' '));
  EXPECT_EQ(Sh("curl -s " + http + "/healthz"), "ok\n");

  auto channel = grpc::CreateChannel(*grpc_addr, grpc::InsecureChannelCredentials());

  // The standard gRPC health service answers SERVING: a HealthCheckRequest
  // for the whole server is empty bytes, the answer is field 1 = 1.
  {
    grpc::GenericStub generic(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Slice empty;
    grpc::ByteBuffer request(&empty, 1), response;
    grpc::CompletionQueue cq;
    auto call = generic.PrepareUnaryCall(&ctx, "/grpc.health.v1.Health/Check", request, &cq);
    call->StartCall();
    grpc::Status status;
    call->Finish(&response, &status, reinterpret_cast<void*>(1));
    void* tag = nullptr;
    bool ok = false;
    ASSERT_TRUE(cq.Next(&tag, &ok));
    ASSERT_TRUE(status.ok()) << status.error_message();
    std::vector<grpc::Slice> slices;
    ASSERT_TRUE(response.Dump(&slices).ok());
    std::string bytes;
    for (const auto& sl : slices) bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
    EXPECT_EQ(bytes, std::string("\x08\x01", 2)) << "SERVING";
  }
  auto certs = v1::CertificateService::NewStub(channel);
  auto assets = v1::AssetService::NewStub(channel);
  auto manifests = v1::ManifestService::NewStub(channel);
  auto registry = v1::DeviceRegistryService::NewStub(channel);

  // The update certificate.
  auto key = *common::EcdsaP256PrivateKey::Generate();
  int64_t now = absl::ToUnixSeconds(absl::Now());
  auto cert = *common::Certificate::SelfSigned({"gw update key", "example.com", now - 60,
                                                now + 86400, false}, key);
  {
    grpc::ClientContext ctx;
    v1::RegisterCertificateRequest req;
    req.set_certificate_der(cert.der());
    v1::Certificate out;
    ASSERT_TRUE(certs->RegisterCertificate(&ctx, req, &out).ok());
  }

  // The payload, 5 MiB: the first stream is cut after 2 MiB.
  std::string payload(5 << 20, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>((i * 7919) >> 7);
  const std::string sha = common::HexEncode(common::Sha256Digest(payload));
  auto upload = [&](uint64_t offset, size_t stop_after, v1::UploadAssetResponse* out,
                    bool cancel) {
    grpc::ClientContext ctx;
    auto writer = assets->UploadAsset(&ctx, out);
    v1::UploadAssetRequest h;
    h.mutable_header()->set_sha256(sha);
    h.mutable_header()->set_size(payload.size());
    h.mutable_header()->set_offset(offset);
    writer->Write(h);
    for (size_t off = offset; off < stop_after; off += 1 << 20) {
      v1::UploadAssetRequest c;
      c.set_chunk(payload.substr(off, std::min<size_t>(1 << 20, stop_after - off)));
      writer->Write(c);
    }
    if (cancel) {
      // The connection drops mid-upload, as a client crash would.
      absl::SleepFor(absl::Milliseconds(300));
      ctx.TryCancel();
    } else {
      writer->WritesDone();
    }
    return writer->Finish();
  };
  v1::UploadAssetResponse r;
  EXPECT_EQ(upload(0, 2 << 20, &r, /*cancel=*/true).error_code(), grpc::StatusCode::CANCELLED);
  uint64_t resume_at = 0;
  for (int i = 0; i < 50; ++i) {
    grpc::ClientContext ctx;
    v1::GetUploadStatusRequest req;
    req.set_sha256(sha);
    v1::GetUploadStatusResponse st;
    ASSERT_TRUE(assets->GetUploadStatus(&ctx, req, &st).ok());
    resume_at = st.bytes_received();
    if (resume_at == 2 << 20) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(resume_at, 2u << 20) << "what arrived before the cut is kept";
  // The cut stream's handler may still be closing: ABORTED says "try again".
  grpc::Status resumed;
  for (int i = 0; i < 50; ++i) {
    resumed = upload(resume_at, payload.size(), &r, false);
    if (resumed.error_code() != grpc::StatusCode::ABORTED) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(resumed.ok()) << resumed.error_message();
  EXPECT_TRUE(r.complete());

  // The manifest.
  v1::Manifest m;
  m.set_format_version(1);
  m.set_sequence_number(2);
  m.set_vendor_id(common::Uuid5(common::kDnsNamespaceUuid, "example.com"));
  m.set_class_id(common::Uuid5(m.vendor_id(), "gw"));
  m.set_created_unix(now);
  common::PayloadHasher hasher(1 << 20);
  hasher.Update(payload);
  common::SetPayloadDigests(hasher.Finish(), m.mutable_payload());
  m.mutable_payload()->add_uris(http + "/payloads/" + sha);
  m.mutable_payload()->set_format(v1::PAYLOAD_FORMAT_FULL);
  {
    grpc::ClientContext ctx;
    v1::UploadManifestRequest req;
    req.set_signed_manifest(common::SignManifest(m, {&key})->SerializeAsString());
    v1::ManifestRecord rec;
    grpc::Status s = manifests->UploadManifest(&ctx, req, &rec);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // Devices download it over plain HTTP, with ranges.
  EXPECT_EQ(Sh("curl -s " + http + "/payloads/" + sha + " | sha256sum | cut -d' ' -f1"),
            sha + "\n");
  EXPECT_EQ(Sh("curl -s -r 1048576-1048585 " + http + "/payloads/" + sha),
            payload.substr(1048576, 10));
  EXPECT_THAT(Sh("curl -s " + http + "/metrics"),
              HasSubstr("otad_http_requests_total{code=\"206\"} 1"));

  // The database goes away: calls fail UNAVAILABLE, health says so.
  ASSERT_TRUE((*cluster)->Stop().ok());
  {
    grpc::ClientContext ctx;
    v1::RegisterDeviceRequest req;
    req.set_device_id("dev-1");
    req.set_vendor_id(common::UuidToString(m.vendor_id()));
    req.set_class_id(common::UuidToString(m.class_id()));
    v1::Device d;
    grpc::Status s = registry->RegisterDevice(&ctx, req, &d);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  }
  EXPECT_EQ(Sh("curl -s -o /dev/null -w '%{http_code}' " + http + "/healthz"), "503");
  // Payload downloads do not need the database.
  EXPECT_EQ(Sh("curl -s -o /dev/null -w '%{http_code}' " + http + "/payloads/" + sha), "200");

  // It comes back: otad recovers without a restart and nothing was lost.
  ASSERT_TRUE((*cluster)->Restart().ok());
  EXPECT_EQ(Sh("curl -s " + http + "/healthz"), "ok\n");
  {
    grpc::ClientContext ctx;
    v1::ListManifestsRequest req;
    v1::ListManifestsResponse resp;
    ASSERT_TRUE(manifests->ListManifests(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.manifests_size(), 1);
  }
  {
    grpc::ClientContext ctx;
    v1::RegisterDeviceRequest req;
    req.set_device_id("dev-1");
    req.set_vendor_id(common::UuidToString(m.vendor_id()));
    req.set_class_id(common::UuidToString(m.class_id()));
    v1::Device d;
    EXPECT_TRUE(registry->RegisterDevice(&ctx, req, &d).ok());
  }

  // SIGTERM: an orderly stop.
  int status = (*otad)->Stop(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace ota
