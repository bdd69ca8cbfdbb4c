// otad with TLS and a fleet CA, as a process: operators reach it over TLS
// with a token, a device certificate is issued from a CSR, and the device
// API admits a device only under its own certificate.
#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "common/base/file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ota/v1/access_service.grpc.pb.h"
#include "ota/v1/device.grpc.pb.h"
#include "ota/v1/device_registry_service.grpc.pb.h"
#include "server/auth/access_store.h"
#include "server/store/database.h"
#include "test/e2e/otad_process.h"
#include "test/pg/postgres_cluster.h"
#include "test/process/subprocess.h"

namespace ota {
namespace {

using ::testing::HasSubstr;

std::string Tmp() { return std::getenv("TEST_TMPDIR"); }

// Runs a shell command; returns its exit code, its output (stderr too) in
// `out`.
int Sh(const std::string& cmd, std::string* out = nullptr) {
  testing::CommandResult r = testing::RunCommand(cmd + " 2>&1");
  if (out != nullptr) *out = r.output;
  return r.exit_code;
}

std::string Read(const std::string& path) {
  auto s = common::ReadFile(path, 1 << 20);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.value_or("");
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = Tmp() + "/tls";
    // A fleet CA, and a server certificate for 127.0.0.1 that it issued.
    const std::string openssl = "cd " + dir_ + " && openssl ";
    ASSERT_EQ(Sh("mkdir -p " + dir_), 0);
    ASSERT_EQ(Sh(openssl + "ecparam -name prime256v1 -genkey -noout -out ca.key"), 0);
    ASSERT_EQ(Sh(openssl + "req -x509 -new -key ca.key -days 30 -subj '/CN=fleet CA/O=example.com' "
                 "-out ca.pem"), 0);
    ASSERT_EQ(Sh(openssl + "ecparam -name prime256v1 -genkey -noout -out server.key"), 0);
    ASSERT_EQ(Sh(openssl + "req -new -key server.key -subj '/CN=otad' -out server.csr"), 0);
    ASSERT_EQ(Sh("cd " + dir_ + " && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' >san.ext && "
                 "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
                 "-days 30 -extfile san.ext -out server.pem"), 0);
    // pkcs8, as EcdsaP256PrivateKey::FromPem reads it.
    ASSERT_EQ(Sh(openssl + "pkcs8 -topk8 -nocrypt -in ca.key -out ca.pk8"), 0);

    auto cluster = testing::PostgresCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    auto url = cluster_->CreateDatabase();
    ASSERT_TRUE(url.ok()) << url.status();
    auto otad = testing::StartOtad(
        *url, "tls",
        {"--engine_tick_ms=0", "--tls_cert_file=" + dir_ + "/server.pem",
         "--tls_key_file=" + dir_ + "/server.key", "--device_ca_cert_file=" + dir_ + "/ca.pem",
         "--device_ca_key_file=" + dir_ + "/ca.pk8"},
        &address_, &http_);
    ASSERT_TRUE(otad.ok()) << otad.status();
    otad_ = *std::move(otad);
    auto db = server::Database::Open(*url, 1);
    ASSERT_TRUE(db.ok()) << db.status();
    server::AccessStore access(db->get(), &common::RealClock());
    auto token = access.CreateToken("ops", ota::v1::ROLE_ADMIN, 0, "test");
    ASSERT_TRUE(token.ok()) << token.status();
    token_ = token->secret();
  }

  // A channel over TLS trusting the fleet CA, with a client certificate
  // when `cert` is not empty.
  std::shared_ptr<grpc::Channel> Channel(const std::string& cert = "", const std::string& key = "") {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = Read(dir_ + "/ca.pem");
    tls.pem_cert_chain = cert;
    tls.pem_private_key = key;
    return grpc::CreateChannel(address_, grpc::SslCredentials(tls));
  }

  // Issues a certificate for `device` through otactl; its key stays here.
  std::string Issue(const std::string& device, int validity_seconds = 0) {
    const std::string base = dir_ + "/" + device;
    EXPECT_EQ(Sh("openssl ecparam -name prime256v1 -genkey -noout -out " + base + ".key"), 0);
    EXPECT_EQ(Sh("openssl req -new -key " + base + ".key -subj '/CN=" + device + "' -out " + base +
                 ".csr"), 0);
    std::string out;
    EXPECT_EQ(Sh(absl::StrCat("tools/otactl/otactl --server=", address_, " --ca=", dir_,
                              "/ca.pem --token=", token_, " device cert ", device, " --csr=", base,
                              ".csr", validity_seconds ? absl::StrCat(" --validity=", validity_seconds)
                                                       : "",
                              " >", base, ".pem"), &out), 0) << out;
    return Read(base + ".pem");
  }

  // Connect as `device_id` on `channel`; the status once the stream ends or
  // after the first message (OK then).
  grpc::Status Connect(const std::shared_ptr<grpc::Channel>& channel, const std::string& device_id) {
    auto stub = ota::v1::DeviceService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ota::v1::ConnectRequest req;
    req.set_device_id(device_id);
    req.set_vendor_id(std::string(16, 'v'));
    req.set_class_id(std::string(16, 'c'));
    auto reader = stub->Connect(&ctx, req);
    ota::v1::ServerMessage m;
    if (reader->Read(&m)) {
      ctx.TryCancel();
      reader->Finish().ok();
      return grpc::Status::OK;
    }
    return reader->Finish();
  }

  std::string dir_, address_, http_, token_;
  std::unique_ptr<testing::PostgresCluster> cluster_;
  std::unique_ptr<testing::Subprocess> otad_;
};

TEST_F(TlsTest, DevicesProveWhoTheyAre) {
  // An operator registers two devices over TLS and has gw-1's CSR signed.
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token_);
    auto registry = ota::v1::DeviceRegistryService::NewStub(Channel());
    for (const char* id : {"gw-1", "gw-2"}) {
      grpc::ClientContext c;
      c.AddMetadata("authorization", "Bearer " + token_);
      ota::v1::RegisterDeviceRequest req;
      req.set_device_id(id);
      ota::v1::Device d;
      grpc::Status s = registry->RegisterDevice(&c, req, &d);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
  }
  const std::string cert = Issue("gw-1");
  ASSERT_THAT(cert, HasSubstr("-----BEGIN CERTIFICATE-----"));
  std::string verify;
  EXPECT_EQ(Sh("openssl verify -CAfile " + dir_ + "/ca.pem " + dir_ + "/gw-1.pem", &verify), 0)
      << verify;
  std::string subject;
  Sh("openssl x509 -noout -subject -in " + dir_ + "/gw-1.pem", &subject);
  EXPECT_EQ(subject, "subject=CN = gw-1\n");

  // A CSR for another name, or for an unknown device, is refused.
  {
    Sh("openssl req -new -key " + dir_ + "/gw-1.key -subj '/CN=gw-2' -out " + dir_ + "/wrong.csr");
    auto access = ota::v1::AccessService::NewStub(Channel());
    grpc::ClientContext c;
    c.AddMetadata("authorization", "Bearer " + token_);
    ota::v1::IssueDeviceCertificateRequest req;
    req.set_device_id("gw-1");
    req.set_csr_pem(Read(dir_ + "/wrong.csr"));
    ota::v1::IssueDeviceCertificateResponse resp;
    grpc::Status s = access->IssueDeviceCertificate(&c, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), "the request's common name \"gw-2\" is not the device id \"gw-1\"");
    grpc::ClientContext c2;
    c2.AddMetadata("authorization", "Bearer " + token_);
    req.set_device_id("gw-9");
    Sh("openssl req -new -key " + dir_ + "/gw-1.key -subj '/CN=gw-9' -out " + dir_ + "/gw9.csr");
    req.set_csr_pem(Read(dir_ + "/gw9.csr"));
    s = access->IssueDeviceCertificate(&c2, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  }

  const std::string key = Read(dir_ + "/gw-1.key");
  auto as_gw1 = Channel(cert, key);
  EXPECT_TRUE(Connect(as_gw1, "gw-1").ok());
  // gw-1's certificate cannot act for gw-2.
  grpc::Status s = Connect(as_gw1, "gw-2");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), "the certificate is for device \"gw-1\", not \"gw-2\"");
  {
    auto stub = ota::v1::DeviceService::NewStub(as_gw1);
    grpc::ClientContext c;
    ota::v1::ReportStatusRequest req;
    req.set_device_id("gw-2");
    ota::v1::ReportStatusResponse resp;
    s = stub->ReportStatus(&c, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(s.error_message(), "the certificate is for device \"gw-1\", not \"gw-2\"");
  }
  // No certificate at all.
  s = Connect(Channel(), "gw-1");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), "devices must present a certificate of the fleet CA");
  // An expired certificate: the TLS handshake itself fails.
  const std::string short_lived = Issue("gw-2", 1);
  absl::SleepFor(absl::Seconds(2));
  s = Connect(Channel(short_lived, Read(dir_ + "/gw-2.key")), "gw-2");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  // Plaintext to the TLS port gets nowhere.
  s = Connect(grpc::CreateChannel(address_, grpc::InsecureChannelCredentials()), "gw-1");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  // The refused streams are in the audit log, newest first, with the
  // device they claimed; the admitted one is not.
  {
    grpc::ClientContext c;
    c.AddMetadata("authorization", "Bearer " + token_);
    ota::v1::ListAuditEventsResponse events;
    s = ota::v1::AccessService::NewStub(Channel())
            ->ListAuditEvents(&c, ota::v1::ListAuditEventsRequest(), &events);
    ASSERT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> connects;
    for (const ota::v1::AuditEvent& e : events.events()) {
      if (e.action() != "/ota.v1.DeviceService/Connect") continue;
      EXPECT_EQ(e.actor(), "");
      EXPECT_THAT(e.peer(), HasSubstr("127.0.0.1"));
      connects.push_back(absl::StrCat(e.target(), " ", e.result_code(), " ", e.result_message()));
    }
    EXPECT_THAT(connects,
                ::testing::ElementsAre(
                    "devices/gw-1 16 devices must present a certificate of the fleet CA",
                    "devices/gw-2 7 the certificate is for device \"gw-1\", not \"gw-2\""));
  }

  // The HTTP port speaks TLS with the same certificate: REST with a token,
  // and plaintext is not answered.
  std::string out;
  EXPECT_EQ(Sh("curl -s --cacert " + dir_ + "/ca.pem https://" + http_ + "/healthz", &out), 0);
  EXPECT_EQ(out, "ok\n");
  EXPECT_EQ(Sh("curl -s --cacert " + dir_ + "/ca.pem -H 'Authorization: Bearer " + token_ +
               "' https://" + http_ + "/v1/devices/gw-1", &out), 0);
  EXPECT_THAT(out, HasSubstr("\"deviceId\":\"gw-1\""));
  EXPECT_NE(Sh("curl -s -m 5 http://" + http_ + "/healthz", &out), 0);
  // Every Connect stream is counted by the status it ended with (the
  // admitted one ended when the device left).
  EXPECT_EQ(Sh("curl -s --cacert " + dir_ + "/ca.pem https://" + http_ + "/metrics", &out), 0);
  for (const char* code : {"OK", "PERMISSION_DENIED", "UNAUTHENTICATED"}) {
    EXPECT_THAT(out, HasSubstr(absl::StrCat("otad_grpc_requests_total{code=\"", code,
                                            "\",method=\"/ota.v1.DeviceService/Connect\"} 1\n")));
  }
  EXPECT_THAT(out, HasSubstr("otad_grpc_streams_open{method=\"/ota.v1.DeviceService/Connect\"} 0\n"));
}

TEST_F(TlsTest, NoTlsNeedsAnExplicitFlag) {
  auto url = cluster_->CreateDatabase();
  ASSERT_TRUE(url.ok()) << url.status();
  std::string out;
  EXPECT_EQ(Sh("server/otad --grpc_address=127.0.0.1:0 --http_address=127.0.0.1:0 "
               "--database_url='" + *url + "' --blob_dir=" + dir_ + "/blobs-refused", &out), 2);
  EXPECT_THAT(out, HasSubstr("otad: no TLS certificate: pass --tls_cert_file and --tls_key_file, "
                             "or --plaintext (tokens without TLS), or --insecure (development)"));
}

}  // namespace
}  // namespace ota
