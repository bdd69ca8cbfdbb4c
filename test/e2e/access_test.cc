// The authorization matrix against otad as a process: every admin RPC,
// with no token, with a token of every role, with a revoked and an expired
// token, over gRPC; and REST routes the same way through the gateway. The
// expected role of each RPC is written out here, not taken from otad, and
// an RPC missing from this table fails the test.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <future>
#include <map>

#include <google/protobuf/descriptor.h>

#include "google/api/annotations.pb.h"
#include "google/api/http.pb.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/base/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ota/v1/access_service.grpc.pb.h"
#include "ota/v1/asset_service.grpc.pb.h"
#include "ota/v1/campaign_service.grpc.pb.h"
#include "ota/v1/certificate_service.grpc.pb.h"
#include "ota/v1/device_registry_service.grpc.pb.h"
#include "ota/v1/manifest_service.grpc.pb.h"
#include "server/auth/access_store.h"
#include "server/store/database.h"
#include "test/e2e/otad_process.h"
#include "test/pg/postgres_cluster.h"
#include "test/process/subprocess.h"

namespace ota {
namespace {

using v1::Role;

constexpr Role V = v1::ROLE_VIEWER, O = v1::ROLE_OPERATOR, P = v1::ROLE_PUBLISHER,
               A = v1::ROLE_ADMIN;

const std::map<std::string, Role>& Expected() {
  static const auto* m = new std::map<std::string, Role>{
      {"ota.v1.CertificateService/RegisterCertificate", P},
      {"ota.v1.CertificateService/ListCertificates", V},
      {"ota.v1.CertificateService/GetCertificate", V},
      {"ota.v1.CertificateService/RevokeCertificate", P},
      {"ota.v1.AssetService/UploadAsset", P},
      {"ota.v1.AssetService/GetUploadStatus", V},
      {"ota.v1.AssetService/GetAsset", V},
      {"ota.v1.AssetService/ListAssets", V},
      {"ota.v1.AssetService/DeleteAsset", P},
      {"ota.v1.ManifestService/UploadManifest", P},
      {"ota.v1.ManifestService/GetManifest", V},
      {"ota.v1.ManifestService/ListManifests", V},
      {"ota.v1.DeviceRegistryService/RegisterDevice", O},
      {"ota.v1.DeviceRegistryService/GetDevice", V},
      {"ota.v1.DeviceRegistryService/ListDevices", V},
      {"ota.v1.DeviceRegistryService/UpdateDeviceAttributes", O},
      {"ota.v1.DeviceRegistryService/DeleteDevice", O},
      {"ota.v1.CampaignService/CreateCampaign", O},
      {"ota.v1.CampaignService/GetCampaign", V},
      {"ota.v1.CampaignService/ListCampaigns", V},
      {"ota.v1.CampaignService/StartCampaign", O},
      {"ota.v1.CampaignService/PauseCampaign", O},
      {"ota.v1.CampaignService/ResumeCampaign", O},
      {"ota.v1.CampaignService/StopCampaign", O},
      {"ota.v1.CampaignService/WatchCampaign", V},
      {"ota.v1.CampaignService/ListDeployments", V},
      {"ota.v1.AccessService/CreateToken", A},
      {"ota.v1.AccessService/ListTokens", A},
      {"ota.v1.AccessService/RevokeToken", A},
      {"ota.v1.AccessService/ListAuditEvents", A},
      {"ota.v1.AccessService/IssueDeviceCertificate", A},
      {"ota.v1.AccessService/PublishKeyList", A},
      {"ota.v1.AccessService/GetKeyList", A},
  };
  return *m;
}

bool Includes(Role have, Role needed) {
  return have == A || have == needed ||
         (needed == V && (have == O || have == P));
}

std::string Short(Role r) { return v1::Role_Name(r).substr(5); }

class AccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = testing::PostgresCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    auto url = cluster_->CreateDatabase();
    ASSERT_TRUE(url.ok()) << url.status();
    std::string grpc_address;
    auto otad = testing::StartOtad(*url, "access", {"--engine_tick_ms=0", "--plaintext"}, &grpc_address,
                                   &http_);
    ASSERT_TRUE(otad.ok()) << otad.status();
    otad_ = *std::move(otad);
    channel_ = grpc::CreateChannel(grpc_address, grpc::InsecureChannelCredentials());

    // Tokens straight into the database, as `otad token create` makes them.
    auto db = server::Database::Open(*url, 1);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    server::AccessStore store(db_.get(), &common::RealClock());
    for (Role r : {V, O, P, A}) {
      auto t = store.CreateToken(Short(r), r, 0, "test");
      ASSERT_TRUE(t.ok()) << t.status();
      secrets_[r] = t->secret();
    }
    auto revoked = store.CreateToken("gone", A, 0, "test");
    ASSERT_TRUE(revoked.ok());
    ASSERT_TRUE(store.RevokeToken(revoked->token().token_id()).ok());
    revoked_ = revoked->secret();
    auto expiring = store.CreateToken("old", A, common::RealClock().NowUnix() + 1, "test");
    ASSERT_TRUE(expiring.ok());
    expired_ = expiring->secret();
  }

  // Calls `method` ("pkg.Service/Method") with an empty request and the
  // given bearer secret (none when empty); returns the final status.
  grpc::Status Call(const google::protobuf::MethodDescriptor* m, const std::string& secret) {
    const std::string method = "/" + m->service()->full_name() + "/" + m->name();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!secret.empty()) ctx.AddMetadata("authorization", "Bearer " + secret);
    grpc::GenericStub stub(channel_);
    grpc::Slice empty;
    grpc::ByteBuffer request(&empty, 1);
    if (!m->client_streaming() && !m->server_streaming()) {
      grpc::ByteBuffer response;
      std::promise<grpc::Status> done;
      stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response,
                     [&done](grpc::Status s) { done.set_value(s); });
      return done.get_future().get();
    }
    grpc::CompletionQueue cq;
    auto call = stub.PrepareCall(&ctx, method, &cq);
    void* tag;
    bool ok;
    call->StartCall(reinterpret_cast<void*>(1));
    cq.Next(&tag, &ok);
    call->Write(request, reinterpret_cast<void*>(2));
    cq.Next(&tag, &ok);
    call->WritesDone(reinterpret_cast<void*>(3));
    cq.Next(&tag, &ok);
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(4));
    // A stream the server answers with messages first: read until Finish.
    while (cq.Next(&tag, &ok) && tag != reinterpret_cast<void*>(4)) {
    }
    return status;
  }

  // curl with an optional bearer secret; returns "STATUS BODY".
  std::string Rest(const std::string& method, const std::string& path,
                   const std::string& secret, const std::string& body = "") {
    std::string cmd = absl::StrCat("curl -s -w ' %{http_code}' -X ", method, " ");
    if (!secret.empty()) absl::StrAppend(&cmd, "-H 'Authorization: Bearer ", secret, "' ");
    if (!body.empty()) absl::StrAppend(&cmd, "-d '", body, "' ");
    absl::StrAppend(&cmd, "'http://", http_, path, "'");
    const std::string out = testing::RunCommand(cmd).output;
    const size_t sp = out.rfind(' ');
    return out.substr(sp + 1) + " " + out.substr(0, sp);
  }

  std::unique_ptr<testing::PostgresCluster> cluster_;
  std::unique_ptr<testing::Subprocess> otad_;
  std::unique_ptr<server::Database> db_;
  std::shared_ptr<grpc::Channel> channel_;
  std::string http_;
  std::map<Role, std::string> secrets_;
  std::string revoked_, expired_;
};

TEST_F(AccessTest, EveryRpcEveryRole) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  // Link the generated services in, so their descriptors are in the pool.
  (void)v1::AccessService::service_full_name();
  (void)v1::AssetService::service_full_name();
  (void)v1::CampaignService::service_full_name();
  (void)v1::CertificateService::service_full_name();
  (void)v1::DeviceRegistryService::service_full_name();
  (void)v1::ManifestService::service_full_name();
  size_t checked = 0;
  absl::SleepFor(absl::Seconds(1));  // the "old" token has expired by now
  for (const char* name : {"ota.v1.AccessService", "ota.v1.AssetService", "ota.v1.CampaignService",
                           "ota.v1.CertificateService", "ota.v1.DeviceRegistryService",
                           "ota.v1.ManifestService"}) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    for (int i = 0; i < service->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* m = service->method(i);
      const std::string key = service->full_name() + "/" + m->name();
      auto it = Expected().find(key);
      ASSERT_NE(it, Expected().end()) << key << " has no expected role in this test";
      const Role needed = it->second;
      SCOPED_TRACE(key);

      grpc::Status s = Call(m, "");
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
      EXPECT_EQ(s.error_message(), "this call needs a bearer token (authorization: Bearer ...)");
      s = Call(m, revoked_);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
      EXPECT_EQ(s.error_message(), "token \"gone\" was revoked");
      s = Call(m, expired_);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
      EXPECT_EQ(s.error_message(), "token \"old\" expired");
      for (Role r : {V, O, P, A}) {
        SCOPED_TRACE(Short(r));
        s = Call(m, secrets_[r]);
        if (Includes(r, needed)) {
          // Admitted: whatever the empty request gets, it is not a refusal.
          EXPECT_NE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
          EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
        } else {
          EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
          EXPECT_EQ(s.error_message(), absl::StrCat("token \"", Short(r), "\" has role ", Short(r),
                                                    "; this call needs ", Short(needed)));
        }
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, Expected().size());
}

TEST_F(AccessTest, RestIsGuardedTheSameWay) {
  EXPECT_EQ(Rest("GET", "/v1/campaigns", ""),
            "401 {\"code\":16,\"status\":\"UNAUTHENTICATED\",\"message\":\"this call needs a "
            "bearer token (authorization: Bearer ...)\"}");
  EXPECT_EQ(Rest("GET", "/v1/campaigns", secrets_[V]).substr(0, 4), "200 ");
  EXPECT_EQ(Rest("POST", "/v1/campaigns", secrets_[V], "{\"name\":\"x\"}"),
            "403 {\"code\":7,\"status\":\"PERMISSION_DENIED\",\"message\":\"token \\\"VIEWER\\\" "
            "has role VIEWER; this call needs OPERATOR\"}");
  EXPECT_EQ(Rest("GET", "/v1/tokens", secrets_[O]).substr(0, 4), "403 ");
  EXPECT_EQ(Rest("GET", "/v1/tokens", secrets_[A]).substr(0, 4), "200 ");
  EXPECT_EQ(Rest("GET", "/v1/devices", revoked_),
            "401 {\"code\":16,\"status\":\"UNAUTHENTICATED\",\"message\":\"token \\\"gone\\\" "
            "was revoked\"}");
  // What needs no token stays open.
  EXPECT_EQ(Rest("GET", "/healthz", ""), "200 ok\n");
  EXPECT_EQ(Rest("GET", "/openapi.json", "").substr(0, 4), "200 ");
}

// Every annotated REST route, each role: the same verdicts as over gRPC.
TEST_F(AccessTest, EveryRestRouteEveryRole) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  size_t routes = 0;
  for (const char* name : {"ota.v1.AccessService", "ota.v1.AssetService", "ota.v1.CampaignService",
                           "ota.v1.CertificateService", "ota.v1.DeviceRegistryService",
                           "ota.v1.ManifestService"}) {
    const google::protobuf::ServiceDescriptor* service = pool->FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    for (int i = 0; i < service->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* m = service->method(i);
      if (!m->options().HasExtension(google::api::http)) continue;
      const google::api::HttpRule& rule = m->options().GetExtension(google::api::http);
      std::string verb, tmpl;
      switch (rule.pattern_case()) {
        case google::api::HttpRule::kGet: verb = "GET", tmpl = rule.get(); break;
        case google::api::HttpRule::kPost: verb = "POST", tmpl = rule.post(); break;
        case google::api::HttpRule::kPut: verb = "PUT", tmpl = rule.put(); break;
        case google::api::HttpRule::kPatch: verb = "PATCH", tmpl = rule.patch(); break;
        case google::api::HttpRule::kDelete: verb = "DELETE", tmpl = rule.delete_(); break;
        default: continue;
      }
      // Every variable becomes a plain value.
      std::string path;
      for (size_t at = 0; at < tmpl.size();) {
        if (tmpl[at] == '{') {
          path += "x1";
          at = tmpl.find('}', at) + 1;
        } else {
          path += tmpl[at++];
        }
      }
      const std::string body = rule.body().empty() ? "" : "{}";
      const std::string key = service->full_name() + "/" + m->name();
      SCOPED_TRACE(verb + " " + path + " (" + key + ")");
      const Role needed = Expected().at(key);
      EXPECT_EQ(Rest(verb, path, "", body).substr(0, 4), "401 ");
      EXPECT_EQ(Rest(verb, path, revoked_, body).substr(0, 4), "401 ");
      for (Role r : {V, O, P, A}) {
        SCOPED_TRACE(Short(r));
        const std::string reply = Rest(verb, path, secrets_[r], body);
        if (Includes(r, needed)) {
          EXPECT_NE(reply.substr(0, 4), "401 ") << reply;
          EXPECT_NE(reply.substr(0, 4), "403 ") << reply;
        } else {
          EXPECT_EQ(reply, absl::StrCat("403 {\"code\":7,\"status\":\"PERMISSION_DENIED\",",
                                        "\"message\":\"token \\\"", Short(r), "\\\" has role ",
                                        Short(r), "; this call needs ", Short(needed), "\"}"));
        }
      }
      ++routes;
    }
  }
  EXPECT_EQ(routes, 32u);  // every annotated admin RPC (UploadAsset is a client stream)
}

TEST_F(AccessTest, AuditLogNamesActorsAndRefusals) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + secrets_[O]);
  auto registry = v1::DeviceRegistryService::NewStub(channel_);
  v1::RegisterDeviceRequest req;
  req.set_device_id("gw-1");
  req.set_vendor_id("cfbff0d1-9375-5685-968c-48ce8b15ae17");
  req.set_class_id("cbae6389-c432-5c0b-97d3-9c2f1766bc84");
  v1::Device d;
  grpc::Status s = registry->RegisterDevice(&ctx, req, &d);
  ASSERT_TRUE(s.ok()) << s.error_message();
  grpc::ClientContext denied;
  denied.AddMetadata("authorization", "Bearer " + secrets_[V]);
  v1::DeleteDeviceResponse deleted;
  EXPECT_EQ(registry->DeleteDevice(&denied, v1::DeleteDeviceRequest(), &deleted).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  grpc::ClientContext admin;
  admin.AddMetadata("authorization", "Bearer " + secrets_[A]);
  v1::ListAuditEventsResponse events;
  ASSERT_TRUE(v1::AccessService::NewStub(channel_)
                  ->ListAuditEvents(&admin, v1::ListAuditEventsRequest(), &events)
                  .ok());
  ASSERT_GE(events.events_size(), 2);
  const v1::AuditEvent& refused = events.events(0);
  EXPECT_EQ(refused.actor(), "VIEWER");
  EXPECT_EQ(refused.action(), "/ota.v1.DeviceRegistryService/DeleteDevice");
  EXPECT_EQ(refused.result_code(), static_cast<int>(grpc::StatusCode::PERMISSION_DENIED));
  EXPECT_EQ(refused.result_message(), "token \"VIEWER\" has role VIEWER; this call needs OPERATOR");
  const v1::AuditEvent& made = events.events(1);
  EXPECT_EQ(made.actor(), "OPERATOR");
  EXPECT_EQ(made.action(), "/ota.v1.DeviceRegistryService/RegisterDevice");
  EXPECT_EQ(made.target(), "devices/gw-1");
  EXPECT_EQ(made.result_code(), 0);
  EXPECT_THAT(made.peer(), ::testing::HasSubstr("127.0.0.1"));
}

}  // namespace
}  // namespace ota
