// The gateway in front of an in-process gRPC server with hand-written
// services, through the real HTTP server and curl.
#include "server/gateway/gateway.h"

#include <grpcpp/grpcpp.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ota/v1/campaign_service.grpc.pb.h"
#include "ota/v1/certificate_service.grpc.pb.h"
#include "server/gateway/admin_services.h"
#include "server/http/http_server.h"

namespace ota::server::gateway {
namespace {

using ::testing::HasSubstr;

std::string Metadata(grpc::ServerContext* ctx, const std::string& key) {
  auto it = ctx->client_metadata().find(key);
  return it == ctx->client_metadata().end() ? "" : std::string(it->second.data(), it->second.size());
}

class FakeCertificates : public v1::CertificateService::Service {
 public:
  grpc::Status GetCertificate(grpc::ServerContext* ctx, const v1::GetCertificateRequest* req,
                              v1::Certificate* out) override {
    if (req->key_id() != "k1") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("no certificate with key id ", req->key_id()));
    }
    out->set_key_id("k1");
    out->set_certificate_der(std::string("\x00\xff", 2));
    out->set_not_after_unix(1700000000);
    out->set_description(Metadata(ctx, "authorization"));
    out->set_issuer(Metadata(ctx, "x-request-id"));
    return grpc::Status::OK;
  }
  grpc::Status RegisterCertificate(grpc::ServerContext*, const v1::RegisterCertificateRequest* req,
                                   v1::Certificate* out) override {
    out->set_key_id("k2");
    out->set_certificate_der(req->certificate_der());
    out->set_description(req->description());
    return grpc::Status::OK;
  }
  grpc::Status ListCertificates(grpc::ServerContext*, const v1::ListCertificatesRequest* req,
                                v1::ListCertificatesResponse* out) override {
    for (int i = 0; i < req->page_size(); ++i) out->add_certificates()->set_key_id(absl::StrCat(i));
    out->set_next_page_token(absl::StrCat(req->page_token(), req->include_revoked() ? "+r" : ""));
    return grpc::Status::OK;
  }
  grpc::Status RevokeCertificate(grpc::ServerContext*, const v1::RevokeCertificateRequest* req,
                                 v1::Certificate* out) override {
    out->set_key_id(req->key_id());
    out->set_revoked(true);
    out->set_revocation_reason(req->reason());
    return grpc::Status::OK;
  }
};

class FakeCampaigns : public v1::CampaignService::Service {
 public:
  grpc::Status ListCampaigns(grpc::ServerContext*, const v1::ListCampaignsRequest* req,
                             v1::ListCampaignsResponse* out) override {
    for (int s : req->states()) {
      v1::Campaign* c = out->add_campaigns();
      c->set_state(static_cast<v1::CampaignState>(s));
      c->set_manifest_id(req->manifest_id());
    }
    return grpc::Status::OK;
  }
  grpc::Status PauseCampaign(grpc::ServerContext*, const v1::PauseCampaignRequest* req,
                             v1::Campaign* out) override {
    out->set_campaign_id(req->campaign_id());
    out->set_state(v1::CAMPAIGN_STATE_PAUSED);
    out->set_state_reason(req->reason());
    return grpc::Status::OK;
  }
  grpc::Status WatchCampaign(grpc::ServerContext* ctx, const v1::WatchCampaignRequest* req,
                             grpc::ServerWriter<v1::CampaignEvent>* writer) override {
    if (req->campaign_id() == "forever") {
      v1::CampaignEvent e;
      e.set_kind(v1::CAMPAIGN_EVENT_KIND_SNAPSHOT);
      writer->Write(e);
      while (!ctx->IsCancelled()) absl::SleepFor(absl::Milliseconds(10));
      watch_cancelled.Notify();
      return grpc::Status::CANCELLED;
    }
    if (req->campaign_id() != "c1") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "no campaign " + req->campaign_id());
    }
    for (int i = 1; i <= 3; ++i) {
      v1::CampaignEvent e;
      e.set_kind(i == 1 ? v1::CAMPAIGN_EVENT_KIND_SNAPSHOT : v1::CAMPAIGN_EVENT_KIND_STATS_CHANGED);
      e.mutable_campaign()->set_campaign_id("c1");
      e.set_time_ms(i);
      writer->Write(e);
    }
    return grpc::Status::OK;
  }
  absl::Notification watch_cancelled;
};

struct Reply {
  int status = 0;
  std::string headers;
  std::string body;
};

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&certificates_);
    builder.RegisterService(&campaigns_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    GatewayOptions gateway_options;
    gateway_options.stream_keepalive = absl::Milliseconds(200);
    auto gateway = Gateway::Create(server_->InProcessChannel(grpc::ChannelArguments()),
                                   AdminServices(), gateway_options);
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = *std::move(gateway);
    HttpServerOptions options;
    options.address = "127.0.0.1:0";
    // Shorter than any test's stream: a quiet stream must outlive it.
    options.idle_timeout_seconds = 1;
    auto rest = [this](const HttpRequest& r) { return gateway_->Handle(r); };
    auto http = HttpServer::Start(options, {{"/v1/", rest}, {"/openapi.json", rest}});
    ASSERT_TRUE(http.ok()) << http.status();
    http_ = *std::move(http);
    base_ = absl::StrCat("http://127.0.0.1:", http_->port());
  }

  void TearDown() override {
    http_.reset();
    server_->Shutdown();
  }

  // Runs curl with `args` (the URL path is appended to the base URL).
  Reply Curl(const std::string& args, const std::string& path) {
    std::string cmd = absl::StrCat("curl -s -i ", args, " '", base_, path, "'");
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

  FakeCertificates certificates_;
  FakeCampaigns campaigns_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<HttpServer> http_;
  std::string base_;
};

TEST_F(GatewayTest, GetWithPathVariableAndMetadata) {
  Reply r = Curl("-H 'Authorization: Bearer t0k' -H 'X-Request-Id: req-7'", "/v1/certificates/k1");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.headers, HasSubstr("Content-Type: application/json"));
  EXPECT_EQ(r.body,
            R"({"keyId":"k1","certificateDer":"AP8=","fingerprint":"","subject":"",)"
            R"("issuer":"req-7","notBeforeUnix":"0","notAfterUnix":"1700000000",)"
            R"("description":"Bearer t0k","revoked":false,"revokedUnix":"0",)"
            R"("revocationReason":"","createdUnix":"0"})");
}

TEST_F(GatewayTest, ErrorsAsJson) {
  Reply r = Curl("", "/v1/certificates/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"code":5,"status":"NOT_FOUND","message":"no certificate with key id nope"})");

  r = Curl("", "/v1/certificates/a%2Fb%20c");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body,
            R"({"code":5,"status":"NOT_FOUND","message":"no certificate with key id a/b c"})");

  r = Curl("", "/v1/certificates?page_size=1&colour=red");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            R"({"code":3,"status":"INVALID_ARGUMENT","message":"unknown query parameter \"colour\""})");

  r = Curl("", "/v1/certificates/k1?key_id=k2");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            R"({"code":3,"status":"INVALID_ARGUMENT","message":"unknown query parameter \"key_id\""})");

  r = Curl("", "/v1/certificates?page_size=many");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            R"({"code":3,"status":"INVALID_ARGUMENT","message":"query parameter \"page_size\": )"
            R"(field \"page_size\": \"many\" is not a 32-bit integer"})");

  r = Curl("-X POST -d '{\"certificateDer\": 5}'", "/v1/certificates");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr(R"({"code":3,"status":"INVALID_ARGUMENT","message":"request body: )"));

  r = Curl("-X POST -d '{\"nope\": 1}'", "/v1/certificates");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("request body: "));
  EXPECT_THAT(r.body, HasSubstr("nope"));

  r = Curl("-X POST -d '{}'", "/v1/certificates?description=x");
  EXPECT_EQ(r.status, 400) << "with body \"*\" every field comes from the body";
  EXPECT_EQ(r.body,
            R"({"code":3,"status":"INVALID_ARGUMENT","message":"unknown query parameter \"description\""})");
}

TEST_F(GatewayTest, NoRouteAndWrongMethod) {
  Reply r = Curl("", "/v1/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"code":5,"status":"NOT_FOUND","message":"no route for /v1/nothing"})");

  r = Curl("-X DELETE", "/v1/certificates");
  EXPECT_EQ(r.status, 405);
  EXPECT_THAT(r.headers, HasSubstr("Allow: GET, POST"));
  EXPECT_EQ(r.body,
            R"({"code":12,"status":"UNIMPLEMENTED","message":"method DELETE is not allowed on /v1/certificates"})");

  r = Curl("-X POST", "/openapi.json");
  EXPECT_EQ(r.status, 405);
  EXPECT_THAT(r.headers, HasSubstr("Allow: GET"));
}

TEST_F(GatewayTest, ServiceNotRunningIsUnimplemented) {
  // AccessService has routes but no implementation on this server.
  Reply r = Curl("", "/v1/tokens");
  EXPECT_EQ(r.status, 501);
  EXPECT_THAT(r.body, HasSubstr(R"({"code":12,"status":"UNIMPLEMENTED")"));
}

TEST_F(GatewayTest, PostBodyAndVerb) {
  Reply r = Curl("-X POST -d '{\"certificateDer\":\"AQID\",\"description\":\"lab key\"}'",
                 "/v1/certificates");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr(R"("keyId":"k2","certificateDer":"AQID")"));
  EXPECT_THAT(r.body, HasSubstr(R"("description":"lab key")"));

  r = Curl("-X POST -d '{\"reason\":\"compromised\"}'", "/v1/certificates/k9:revoke");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr(R"("keyId":"k9")"));
  EXPECT_THAT(r.body, HasSubstr(R"("revoked":true)"));
  EXPECT_THAT(r.body, HasSubstr(R"("revocationReason":"compromised")"));

  r = Curl("-X POST", "/v1/campaigns/c%3A1:pause");
  EXPECT_EQ(r.status, 200) << "an empty body is an empty message";
  EXPECT_THAT(r.body, HasSubstr(R"("campaignId":"c:1")"));
  EXPECT_THAT(r.body, HasSubstr(R"("state":"CAMPAIGN_STATE_PAUSED")"));
}

TEST_F(GatewayTest, QueryParameters) {
  Reply r = Curl("", "/v1/certificates?page_size=2&page_token=p%20q&includeRevoked=true");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr(R"("nextPageToken":"p q+r")"));
  EXPECT_THAT(r.body, HasSubstr(R"({"keyId":"0",)"));
  EXPECT_THAT(r.body, HasSubstr(R"({"keyId":"1",)"));

  r = Curl("", "/v1/campaigns?states=CAMPAIGN_STATE_ACTIVE&states=6&manifest_id=m1");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr(R"("manifestId":"m1")"));
  EXPECT_THAT(r.body, HasSubstr(R"("state":"CAMPAIGN_STATE_ACTIVE")"));
  EXPECT_THAT(r.body, HasSubstr(R"("state":"CAMPAIGN_STATE_STOPPED")"));
}

TEST_F(GatewayTest, StreamAsServerSentEvents) {
  Reply r = Curl("-N -H 'Accept: text/event-stream'", "/v1/campaigns/c1:watch");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.headers, HasSubstr("Content-Type: text/event-stream"));
  EXPECT_THAT(r.headers, HasSubstr("Transfer-Encoding: chunked"));
  std::vector<std::string> events = absl::StrSplit(r.body, "\n\n", absl::SkipEmpty());
  ASSERT_EQ(events.size(), 3u) << r.body;
  EXPECT_THAT(events[0], HasSubstr(R"(data: {"kind":"CAMPAIGN_EVENT_KIND_SNAPSHOT","campaign":{"campaignId":"c1")"));
  EXPECT_THAT(events[2], HasSubstr(R"("timeMs":"3"})"));
}

TEST_F(GatewayTest, StreamAsNdjson) {
  Reply r = Curl("-N", "/v1/campaigns/c1:watch?min_interval_ms=100");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.headers, HasSubstr("Content-Type: application/x-ndjson"));
  std::vector<std::string> lines = absl::StrSplit(r.body, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << r.body;
  EXPECT_THAT(lines[1], HasSubstr(R"({"kind":"CAMPAIGN_EVENT_KIND_STATS_CHANGED")"));
}

TEST_F(GatewayTest, StreamErrorBeforeFirstMessageHasItsStatus) {
  Reply r = Curl("-N -H 'Accept: text/event-stream'", "/v1/campaigns/c2:watch");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, R"({"code":5,"status":"NOT_FOUND","message":"no campaign c2"})");
}

TEST_F(GatewayTest, ClientLeavingCancelsTheStream) {
  Reply r = Curl("-N --max-time 1 -H 'Accept: text/event-stream'", "/v1/campaigns/forever:watch");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("data: {\"kind\":\"CAMPAIGN_EVENT_KIND_SNAPSHOT\""));
  EXPECT_THAT(r.body, HasSubstr("\n\n: keepalive\n\n"));
  EXPECT_TRUE(campaigns_.watch_cancelled.WaitForNotificationWithTimeout(absl::Seconds(10)))
      << "the gRPC call is cancelled once the client is gone";
}

TEST_F(GatewayTest, QuietStreamOutlivesTheIdleTimeout) {
  Reply r = Curl("-N --max-time 3 -H 'Accept: text/event-stream'", "/v1/campaigns/forever:watch");
  EXPECT_EQ(r.status, 200);
  std::vector<std::string> events = absl::StrSplit(r.body, "\n\n", absl::SkipEmpty());
  EXPECT_GE(events.size(), 10u) << "a keepalive every 200 ms for 3 s, the connection kept: "
                                << r.body;
  EXPECT_TRUE(campaigns_.watch_cancelled.WaitForNotificationWithTimeout(absl::Seconds(10)));
}

TEST_F(GatewayTest, StopsWithAStreamOpen) {
  // The client stays; the HTTP server stops under it (otad shutting down).
  FILE* p = popen(absl::StrCat("curl -s -N --max-time 20 '", base_,
                               "/v1/campaigns/forever:watch'").c_str(), "r");
  char line[256];
  ASSERT_NE(fgets(line, sizeof(line), p), nullptr);
  EXPECT_THAT(line, HasSubstr("CAMPAIGN_EVENT_KIND_SNAPSHOT"));
  http_.reset();
  EXPECT_TRUE(campaigns_.watch_cancelled.WaitForNotificationWithTimeout(absl::Seconds(10)));
  pclose(p);
}

TEST_F(GatewayTest, ServesOpenApi) {
  Reply r = Curl("", "/openapi.json");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, gateway_->openapi_json());
  EXPECT_THAT(r.body, HasSubstr("\"openapi\": \"3.0.3\""));
}

}  // namespace
}  // namespace ota::server::gateway
