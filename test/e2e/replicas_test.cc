// Two otad replicas on one PostgreSQL, with device stubs on real gRPC
// streams: a campaign started through one replica reaches devices connected
// to the other at once (LISTEN/NOTIFY, not the periodic look, which is set
// to ten minutes here); the replica leading the rollout engine is killed
// mid-campaign and the other takes the lead and finishes the campaign.
#include <grpcpp/grpcpp.h>

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/crypto/sha256.h"
#include "common/manifest/uuid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ota/v1/campaign_service.grpc.pb.h"
#include "ota/v1/device.grpc.pb.h"
#include "server/campaigns/test_manifest.h"
#include "server/store/database.h"
#include "test/pg/postgres_cluster.h"
#include "test/process/subprocess.h"

namespace ota {
namespace {

using ota::testing::Subprocess;

constexpr char kImage[] = "the new image";

std::string Tmp() { return std::getenv("TEST_TMPDIR"); }

std::unique_ptr<Subprocess> StartOtad(const std::string& url, const std::string& name,
                                      std::string* grpc_address) {
  auto otad = Subprocess::Start(
      {"server/otad", "--grpc_address=127.0.0.1:0", "--http_address=127.0.0.1:0",
       "--database_url=" + url, "--blob_dir=" + Tmp() + "/blobs-" + name,
       "--engine_tick_ms=200", "--deployment_poll_seconds=600"});
  EXPECT_TRUE(otad.ok()) << otad.status();
  if (!otad.ok()) return nullptr;
  auto addr = (*otad)->WaitForLine("otad: gRPC listening on ", absl::Seconds(30));
  EXPECT_TRUE(addr.ok()) << addr.status();
  *grpc_address = addr.value_or("");
  return std::move(*otad);
}

// A device that holds a Connect stream and notes the deployments it gets.
class DeviceStub {
 public:
  DeviceStub(std::shared_ptr<grpc::Channel> channel, std::string id, const std::string& vendor,
             const std::string& class_id)
      : stub_(ota::v1::DeviceService::NewStub(channel)), id_(std::move(id)) {
    ota::v1::ConnectRequest request;
    request.set_device_id(id_);
    request.set_vendor_id(vendor);
    request.set_class_id(class_id);
    request.mutable_installed()->set_sequence_number(1);
    request.mutable_installed()->set_image_sha256(common::Sha256Digest("the old image"));
    reader_ = stub_->Connect(&context_, request);
    thread_ = std::thread([this] {
      ota::v1::ServerMessage m;
      while (reader_->Read(&m)) {
        if (m.has_deployment()) {
          std::lock_guard<std::mutex> lock(mu_);
          deployment_id_ = m.deployment().deployment_id();
        }
      }
    });
  }
  ~DeviceStub() {
    context_.TryCancel();
    thread_.join();
  }

  std::string deployment_id() {
    std::lock_guard<std::mutex> lock(mu_);
    return deployment_id_;
  }

  // Reports the deployment SUCCEEDED, running the new image.
  grpc::Status Succeed() {
    ota::v1::ReportStatusRequest request;
    request.set_device_id(id_);
    ota::v1::StatusReport* r = request.add_reports();
    r->set_seq(++seq_);
    r->set_deployment_id(deployment_id());
    r->set_state(ota::v1::DEPLOYMENT_STATE_SUCCEEDED);
    r->mutable_installed()->set_sequence_number(2);
    r->mutable_installed()->set_image_sha256(common::Sha256Digest(kImage));
    grpc::ClientContext context;
    ota::v1::ReportStatusResponse response;
    return stub_->ReportStatus(&context, request, &response);
  }

 private:
  std::unique_ptr<ota::v1::DeviceService::Stub> stub_;
  std::string id_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<ota::v1::ServerMessage>> reader_;
  std::thread thread_;
  std::mutex mu_;
  std::string deployment_id_;
  uint64_t seq_ = 0;
};

// How many of `devices` have a deployment, waiting up to `timeout` for `n`.
size_t WaitForDeployments(const std::vector<std::unique_ptr<DeviceStub>>& devices, size_t n,
                          absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  size_t have = 0;
  while (true) {
    have = 0;
    for (const auto& d : devices) have += !d->deployment_id().empty();
    if (have >= n || absl::Now() > deadline) return have;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

TEST(ReplicasTest, CampaignCrossesReplicasAndSurvivesTheEngineLeadersDeath) {
  auto cluster = testing::PostgresCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto url = (*cluster)->CreateDatabase();
  ASSERT_TRUE(url.ok()) << url.status();

  std::string addr_a, addr_b;
  std::unique_ptr<Subprocess> a = StartOtad(*url, "a", &addr_a);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->WaitForLine("otad: rollout engine: leading", absl::Seconds(10)).ok());
  std::unique_ptr<Subprocess> b = StartOtad(*url, "b", &addr_b);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(b->WaitForLine("otad: rollout engine: standing by", absl::Seconds(10)).ok());

  const std::string vendor = common::Uuid5(common::kDnsNamespaceUuid, "example.com");
  const std::string class_id = common::Uuid5(vendor, "gw");
  auto db = server::Database::Open(*url, 1);
  ASSERT_TRUE(db.ok()) << db.status();
  auto manifest_id = server::InsertTestManifest(db->get(), vendor, class_id, 2, kImage);
  ASSERT_TRUE(manifest_id.ok()) << manifest_id.status();

  // Six devices, all on replica B.
  auto channel_b = grpc::CreateChannel(addr_b, grpc::InsecureChannelCredentials());
  std::vector<std::unique_ptr<DeviceStub>> devices;
  for (int i = 1; i <= 6; ++i) {
    devices.push_back(
        std::make_unique<DeviceStub>(channel_b, absl::StrCat("gw-", i), vendor, class_id));
  }
  {  // wait until all six are registered
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    int64_t n = 0;
    while (absl::Now() < deadline && n < 6) {
      ASSERT_TRUE((*db)->Transact([&](pqxx::work& txn) {
        n = txn.exec("SELECT count(*) FROM devices WHERE online")[0][0].as<int64_t>();
        return absl::OkStatus();
      }).ok());
      absl::SleepFor(absl::Milliseconds(50));
    }
    ASSERT_EQ(n, 6);
  }

  // Created and started through B; A runs the engine.
  auto campaigns_b = ota::v1::CampaignService::NewStub(channel_b);
  ota::v1::CreateCampaignRequest create;
  create.set_name("two waves");
  create.set_manifest_id(*manifest_id);
  create.mutable_policy()->add_waves()->set_device_count(3);
  create.mutable_policy()->add_waves()->set_percent(100);
  create.mutable_policy()->set_success_ratio(1);
  create.mutable_policy()->set_failure_ratio(1);
  ota::v1::Campaign campaign;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(campaigns_b->CreateCampaign(&ctx, create, &campaign).ok());
  }
  {
    grpc::ClientContext ctx;
    ota::v1::StartCampaignRequest start;
    start.set_campaign_id(campaign.campaign_id());
    ASSERT_TRUE(campaigns_b->StartCampaign(&ctx, start, &campaign).ok());
  }
  // Wave 1 reaches three devices on B, chosen by A's engine, well before the
  // ten-minute look.
  EXPECT_EQ(WaitForDeployments(devices, 3, absl::Seconds(5)), 3u);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(WaitForDeployments(devices, 3, absl::Seconds(0)), 3u);  // and no more

  // The engine's replica dies; B takes the lead.
  a->Stop(SIGKILL);
  ASSERT_TRUE(b->WaitForLine("otad: rollout engine: leading", absl::Seconds(10)).ok());

  for (const auto& d : devices) {
    if (!d->deployment_id().empty()) {
      grpc::Status s = d->Succeed();
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
  }
  // Wave 2, from B's engine, reaches the other three.
  EXPECT_EQ(WaitForDeployments(devices, 6, absl::Seconds(5)), 6u);
  for (const auto& d : devices) {
    grpc::Status s = d->Succeed();
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    grpc::ClientContext ctx;
    ota::v1::GetCampaignRequest get;
    get.set_campaign_id(campaign.campaign_id());
    ASSERT_TRUE(campaigns_b->GetCampaign(&ctx, get, &campaign).ok());
    if (campaign.state() == ota::v1::CAMPAIGN_STATE_COMPLETED) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(campaign.state(), ota::v1::CAMPAIGN_STATE_COMPLETED);
  EXPECT_EQ(campaign.stats().total_targeted(), 6u);
  devices.clear();
  EXPECT_EQ(b->Stop(), 0);
}

}  // namespace
}  // namespace ota
