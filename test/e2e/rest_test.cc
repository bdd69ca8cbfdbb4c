// otad's REST gateway as a process: a private PostgreSQL, the real binary,
// curl on one side and gRPC stubs on the other. What one side creates the
// other reads back the same; lists take query parameters; errors are JSON
// with the HTTP status of their gRPC code; a campaign watch streams as
// server-sent events.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
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
#include "ota/v1/campaign_service.grpc.pb.h"
#include "ota/v1/certificate_service.grpc.pb.h"
#include "ota/v1/device_registry_service.grpc.pb.h"
#include "ota/v1/manifest_service.grpc.pb.h"
#include "test/pg/postgres_cluster.h"
#include "test/process/subprocess.h"

namespace ota {
namespace {

using google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;

struct Reply {
  int status = 0;
  std::string headers;
  std::string body;
};

// Runs curl with `args` against `url` and splits the answer.
Reply Curl(const std::string& args, const std::string& url) {
  std::string cmd = absl::StrCat("curl -s -i ", args, " '", url, "'");
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  Reply r;
  size_t end = out.find("\r\n\r\n");
  r.headers = out.substr(0, end);
  r.body = end == std::string::npos ? "" : out.substr(end + 4);
  sscanf(out.c_str(), "HTTP/1.1 %d", &r.status);
  return r;
}

// A JSON body for curl's -d, quoted for the shell.
std::string Data(const std::string& json) {
  return absl::StrCat("-X POST -H 'Content-Type: application/json' -d '", json, "'");
}

template <typename M>
M FromJson(const std::string& json) {
  M m;
  auto s = google::protobuf::util::JsonStringToMessage(json, &m);
  EXPECT_TRUE(s.ok()) << s.ToString() << " in " << json;
  return m;
}

std::string ErrorBody(int code, const std::string& status, const std::string& message) {
  return absl::StrCat("{\"code\":", code, ",\"status\":\"", status, "\",\"message\":\"",
                      absl::StrReplaceAll(message, {{"\\", "\\\\"}, {"\"", "\\\""}}), "\"}");
}

class RestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = testing::PostgresCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    auto url = cluster_->CreateDatabase();
    ASSERT_TRUE(url.ok()) << url.status();
    auto otad = testing::Subprocess::Start(
        {"server/otad", "--grpc_address=127.0.0.1:0", "--http_address=127.0.0.1:0",
         "--database_url=" + *url,
         "--blob_dir=" + std::string(std::getenv("TEST_TMPDIR")) + "/blobs",
         "--database_wait_seconds=1", "--engine_tick_ms=0", "--insecure"});
    ASSERT_TRUE(otad.ok()) << otad.status();
    otad_ = *std::move(otad);
    auto grpc_addr = otad_->WaitForLine("otad: gRPC listening on ", absl::Seconds(30));
    ASSERT_TRUE(grpc_addr.ok()) << grpc_addr.status();
    auto http_line = otad_->WaitForLine("otad: HTTP listening on ", absl::Seconds(5));
    ASSERT_TRUE(http_line.ok()) << http_line.status();
    http_ = "http://" + http_line->substr(0, http_line->find(' '));
    auto channel = grpc::CreateChannel(*grpc_addr, grpc::InsecureChannelCredentials());
    certs_ = v1::CertificateService::NewStub(channel);
    assets_ = v1::AssetService::NewStub(channel);
    manifests_ = v1::ManifestService::NewStub(channel);
    registry_ = v1::DeviceRegistryService::NewStub(channel);
    campaigns_ = v1::CampaignService::NewStub(channel);
  }

  void TearDown() override {
    // Client channels closed first, so otad's shutdown need not wait for them.
    certs_.reset();
    assets_.reset();
    manifests_.reset();
    registry_.reset();
    campaigns_.reset();
    if (otad_ != nullptr) {
      int status = otad_->Stop(SIGTERM);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    }
  }

  std::unique_ptr<testing::PostgresCluster> cluster_;
  std::unique_ptr<testing::Subprocess> otad_;
  std::string http_;
  std::unique_ptr<v1::CertificateService::Stub> certs_;
  std::unique_ptr<v1::AssetService::Stub> assets_;
  std::unique_ptr<v1::ManifestService::Stub> manifests_;
  std::unique_ptr<v1::DeviceRegistryService::Stub> registry_;
  std::unique_ptr<v1::CampaignService::Stub> campaigns_;
};

TEST_F(RestTest, BothWaysSeeTheSame) {
  // A certificate registered over REST reads back the same over gRPC.
  auto key = *common::EcdsaP256PrivateKey::Generate();
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  auto cert = *common::Certificate::SelfSigned(
      {"gw update key", "example.com", now - 60, now + 86400, false}, key);
  Reply r = Curl(Data(absl::StrCat(R"({"certificateDer":")", absl::Base64Escape(cert.der()),
                                   R"(","description":"REST key"})")),
                 http_ + "/v1/certificates");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.headers, HasSubstr("Content-Type: application/json"));
  auto rest_cert = FromJson<v1::Certificate>(r.body);
  EXPECT_EQ(rest_cert.certificate_der(), cert.der());
  EXPECT_EQ(rest_cert.description(), "REST key");
  {
    grpc::ClientContext ctx;
    v1::GetCertificateRequest req;
    req.set_key_id(rest_cert.key_id());
    v1::Certificate out;
    ASSERT_TRUE(certs_->GetCertificate(&ctx, req, &out).ok());
    EXPECT_TRUE(MessageDifferencer::Equals(out, rest_cert)) << out.DebugString();
  }
  r = Curl("", http_ + "/v1/certificates/" + rest_cert.key_id());
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(MessageDifferencer::Equals(FromJson<v1::Certificate>(r.body), rest_cert));

  // An asset uploaded over gRPC (a client stream, which has no REST form)
  // reads back the same over REST.
  const std::string payload(100000, 'p');
  const std::string sha = common::HexEncode(common::Sha256Digest(payload));
  {
    grpc::ClientContext ctx;
    v1::UploadAssetResponse done;
    auto writer = assets_->UploadAsset(&ctx, &done);
    v1::UploadAssetRequest h;
    h.mutable_header()->set_sha256(sha);
    h.mutable_header()->set_size(payload.size());
    h.mutable_header()->set_name("fw.img");
    ASSERT_TRUE(writer->Write(h));
    v1::UploadAssetRequest c;
    c.set_chunk(payload);
    ASSERT_TRUE(writer->Write(c));
    writer->WritesDone();
    ASSERT_TRUE(writer->Finish().ok());
    ASSERT_TRUE(done.complete());
    r = Curl("", http_ + "/v1/assets/" + sha);
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(MessageDifferencer::Equals(FromJson<v1::Asset>(r.body), done.asset())) << r.body;
    r = Curl("", http_ + "/v1/assets/" + sha + "/upload");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(FromJson<v1::GetUploadStatusResponse>(r.body).complete());
  }

  // A manifest uploaded over REST, read back over gRPC.
  v1::Manifest m;
  m.set_format_version(1);
  m.set_sequence_number(2);
  m.set_vendor_id(common::Uuid5(common::kDnsNamespaceUuid, "example.com"));
  m.set_class_id(common::Uuid5(m.vendor_id(), "gw"));
  m.set_created_unix(now);
  common::PayloadHasher hasher(1 << 16);
  hasher.Update(payload);
  common::SetPayloadDigests(hasher.Finish(), m.mutable_payload());
  m.mutable_payload()->add_uris(http_ + "/payloads/" + sha);
  m.mutable_payload()->set_format(v1::PAYLOAD_FORMAT_FULL);
  const std::string signed_manifest = common::SignManifest(m, {&key})->SerializeAsString();
  r = Curl(Data(absl::StrCat(R"({"signedManifest":")", absl::Base64Escape(signed_manifest),
                             R"("})")),
           http_ + "/v1/manifests");
  ASSERT_EQ(r.status, 200) << r.body;
  auto record = FromJson<v1::ManifestRecord>(r.body);
  {
    grpc::ClientContext ctx;
    v1::GetManifestRequest req;
    req.set_manifest_id(record.manifest_id());
    v1::ManifestRecord out;
    ASSERT_TRUE(manifests_->GetManifest(&ctx, req, &out).ok());
    EXPECT_TRUE(MessageDifferencer::Equals(out, record)) << out.DebugString();
  }

  // Devices: one registered over REST (attributes are a JSON map), one
  // over gRPC; a filtered list is the same both ways.
  const std::string vendor = common::UuidToString(m.vendor_id());
  const std::string klass = common::UuidToString(m.class_id());
  r = Curl(Data(absl::StrCat(R"({"deviceId":"gw-1","vendorId":")", vendor, R"(","classId":")",
                             klass, R"(","attributes":{"region":"eu"}})")),
           http_ + "/v1/devices");
  ASSERT_EQ(r.status, 200) << r.body;
  auto rest_device = FromJson<v1::Device>(r.body);
  EXPECT_EQ(rest_device.attributes().at("region"), "eu");
  {
    grpc::ClientContext ctx;
    v1::RegisterDeviceRequest req;
    req.set_device_id("gw-2");
    req.set_vendor_id(vendor);
    req.set_class_id(klass);
    (*req.mutable_attributes())["region"] = "us";
    v1::Device out;
    ASSERT_TRUE(registry_->RegisterDevice(&ctx, req, &out).ok());
    r = Curl("", http_ + "/v1/devices/gw-2");
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(MessageDifferencer::Equals(FromJson<v1::Device>(r.body), out)) << r.body;
  }
  {
    r = Curl("", http_ + "/v1/devices?filter=attr.region%20%3D%3D%20%22eu%22&page_size=10");
    ASSERT_EQ(r.status, 200) << r.body;
    auto rest_list = FromJson<v1::ListDevicesResponse>(r.body);
    ASSERT_EQ(rest_list.devices_size(), 1);
    EXPECT_EQ(rest_list.devices(0).device_id(), "gw-1");
    grpc::ClientContext ctx;
    v1::ListDevicesRequest req;
    req.set_filter("attr.region == \"eu\"");
    req.set_page_size(10);
    v1::ListDevicesResponse out;
    ASSERT_TRUE(registry_->ListDevices(&ctx, req, &out).ok());
    EXPECT_TRUE(MessageDifferencer::Equals(out, rest_list));

    r = Curl("", http_ + "/v1/devices?page_size=1");
    ASSERT_EQ(r.status, 200) << r.body;
    rest_list = FromJson<v1::ListDevicesResponse>(r.body);
    ASSERT_EQ(rest_list.devices_size(), 1);
    EXPECT_EQ(rest_list.devices(0).device_id(), "gw-1");
    EXPECT_FALSE(rest_list.next_page_token().empty());
    r = Curl("", http_ + "/v1/devices?page_size=1&page_token=" + rest_list.next_page_token());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(FromJson<v1::ListDevicesResponse>(r.body).devices(0).device_id(), "gw-2");
  }
  r = Curl("-X PATCH -d '{\"setAttributes\":{\"site\":\"berlin\"}}'", http_ + "/v1/devices/gw-1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr(R"("site":"berlin")"));

  // A campaign created and started over REST, read over gRPC.
  r = Curl(Data(absl::StrCat(R"({"name":"eu rollout","manifestId":")", record.manifest_id(),
                             R"(","deviceFilter":"attr.region == \"eu\"",)",
                             R"("policy":{"waves":[{"percent":50}],"successRatio":0.9}})")),
           http_ + "/v1/campaigns");
  ASSERT_EQ(r.status, 200) << r.body;
  auto campaign = FromJson<v1::Campaign>(r.body);
  EXPECT_EQ(campaign.state(), v1::CAMPAIGN_STATE_DRAFT);
  EXPECT_EQ(campaign.policy().waves(0).percent(), 50);
  {
    grpc::ClientContext ctx;
    v1::GetCampaignRequest req;
    req.set_campaign_id(campaign.campaign_id());
    v1::Campaign out;
    ASSERT_TRUE(campaigns_->GetCampaign(&ctx, req, &out).ok());
    EXPECT_TRUE(MessageDifferencer::Equals(out, campaign)) << out.DebugString() << r.body;
  }
  r = Curl("-X POST", http_ + "/v1/campaigns/" + campaign.campaign_id() + ":start");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(FromJson<v1::Campaign>(r.body).state(), v1::CAMPAIGN_STATE_ACTIVE);
  {
    r = Curl("", http_ + "/v1/campaigns?states=CAMPAIGN_STATE_ACTIVE&states=2&page_size=5&"
                         "manifest_id=" + record.manifest_id());
    ASSERT_EQ(r.status, 200) << r.body;
    auto rest_list = FromJson<v1::ListCampaignsResponse>(r.body);
    ASSERT_EQ(rest_list.campaigns_size(), 1);
    grpc::ClientContext ctx;
    v1::ListCampaignsRequest req;
    req.add_states(v1::CAMPAIGN_STATE_ACTIVE);
    req.add_states(v1::CAMPAIGN_STATE_SCHEDULED);
    req.set_page_size(5);
    req.set_manifest_id(record.manifest_id());
    v1::ListCampaignsResponse out;
    ASSERT_TRUE(campaigns_->ListCampaigns(&ctx, req, &out).ok());
    EXPECT_TRUE(MessageDifferencer::Equals(out, rest_list)) << out.DebugString() << r.body;
    r = Curl("", http_ + "/v1/campaigns?states=CAMPAIGN_STATE_DRAFT");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(FromJson<v1::ListCampaignsResponse>(r.body).campaigns_size(), 0);
  }

  // Its progress as server-sent events: the snapshot comes at once; the
  // stream stays open while the campaign runs.
  r = Curl("-N --max-time 2 -H 'Accept: text/event-stream'",
           http_ + "/v1/campaigns/" + campaign.campaign_id() + ":watch");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.headers, HasSubstr("Content-Type: text/event-stream"));
  ASSERT_TRUE(absl::StartsWith(r.body, "data: ")) << r.body;
  auto event = FromJson<v1::CampaignEvent>(r.body.substr(6, r.body.find("\n\n") - 6));
  EXPECT_EQ(event.kind(), v1::CAMPAIGN_EVENT_KIND_SNAPSHOT);
  EXPECT_EQ(event.campaign().campaign_id(), campaign.campaign_id());
  EXPECT_EQ(event.campaign().state(), v1::CAMPAIGN_STATE_ACTIVE);

  // Stopped over gRPC, watched as newline-delimited JSON: a final campaign
  // sends its snapshot and the stream ends.
  {
    grpc::ClientContext ctx;
    v1::StopCampaignRequest req;
    req.set_campaign_id(campaign.campaign_id());
    req.set_reason("enough");
    v1::Campaign out;
    ASSERT_TRUE(campaigns_->StopCampaign(&ctx, req, &out).ok());
  }
  r = Curl("-N --max-time 10", http_ + "/v1/campaigns/" + campaign.campaign_id() + ":watch");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.headers, HasSubstr("Content-Type: application/x-ndjson"));
  std::vector<std::string> lines = absl::StrSplit(r.body, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u) << r.body;
  event = FromJson<v1::CampaignEvent>(lines[0]);
  EXPECT_EQ(event.campaign().state(), v1::CAMPAIGN_STATE_STOPPED);
  EXPECT_EQ(event.campaign().state_reason(), "enough");
}

TEST_F(RestTest, Errors) {
  Reply r = Curl("", http_ + "/v1/devices/gw-9");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"code":5,"status":"NOT_FOUND","message":"device gw-9 does not exist"})");

  // A stream that fails before its first message answers with its status.
  r = Curl("", http_ + "/v1/campaigns/" + std::string(32, '0') + ":watch");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr(R"({"code":5,"status":"NOT_FOUND","message":")"));
  r = Curl("-H 'Accept: text/event-stream'", http_ + "/v1/campaigns/nope:watch");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, ErrorBody(3, "INVALID_ARGUMENT",
                              "campaign_id \"nope\" is not a campaign id (32 lowercase hex digits)"));

  // A filter that does not parse: the same message as over gRPC.
  r = Curl("", http_ + "/v1/devices?filter=attr.region%20%3D%3D");
  EXPECT_EQ(r.status, 400);
  {
    grpc::ClientContext ctx;
    v1::ListDevicesRequest req;
    req.set_filter("attr.region ==");
    v1::ListDevicesResponse out;
    grpc::Status s = registry_->ListDevices(&ctx, req, &out);
    ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(r.body, ErrorBody(3, "INVALID_ARGUMENT", s.error_message()));
  }

  r = Curl("", http_ + "/v1/devices?page_size=ten");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, ErrorBody(3, "INVALID_ARGUMENT",
                              "query parameter \"page_size\": field \"page_size\": \"ten\" is "
                              "not a 32-bit integer"));
  r = Curl("", http_ + "/v1/devices?colour=red");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, ErrorBody(3, "INVALID_ARGUMENT", "unknown query parameter \"colour\""));

  r = Curl(Data(R"({"certificateDer":"not base64!"})"), http_ + "/v1/certificates");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr(R"({"code":3,"status":"INVALID_ARGUMENT","message":"request body: )"));

  r = Curl("-X PUT", http_ + "/v1/devices/gw-1");
  EXPECT_EQ(r.status, 405);
  EXPECT_THAT(r.headers, HasSubstr("Allow: DELETE, GET, PATCH"));

  r = Curl("", http_ + "/v1/nothing/here");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, ErrorBody(5, "NOT_FOUND", "no route for /v1/nothing/here"));

  // Nothing published yet, and no fleet CA to issue device certificates.
  r = Curl("", http_ + "/v1/keyList");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, ErrorBody(5, "NOT_FOUND", "no key list is published"));
  r = Curl(Data(R"({"csrPem":"x"})"), http_ + "/v1/devices/gw-1:issueCertificate");
  EXPECT_EQ(r.status, 501);
  EXPECT_EQ(r.body, ErrorBody(12, "UNIMPLEMENTED",
                              "this otad has no fleet CA (--device_ca_cert_file): device "
                              "certificates are not issued"));

  // The HTTP server's other routes are untouched.
  EXPECT_EQ(Curl("", http_ + "/healthz").body, "ok\n");
}

TEST_F(RestTest, ServesOpenApi) {
  Reply r = Curl("", http_ + "/openapi.json");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.headers, HasSubstr("Content-Type: application/json"));
  google::protobuf::Value doc;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.body, &doc).ok());
  const auto& paths = doc.struct_value().fields().at("paths").struct_value().fields();
  EXPECT_EQ(paths.at("/v1/campaigns/{campaign_id}:start")
                .struct_value()
                .fields()
                .at("post")
                .struct_value()
                .fields()
                .at("operationId")
                .string_value(),
            "CampaignService_StartCampaign");
  EXPECT_THAT(r.body, HasSubstr(R"("description": "Starts a DRAFT campaign: SCHEDULED when )"))
      << "proto comments become descriptions";
}

}  // namespace
}  // namespace ota
