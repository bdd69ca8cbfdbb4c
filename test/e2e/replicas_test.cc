// Two otad replicas on one PostgreSQL, with device stubs on real gRPC
// streams: a campaign started through one replica reaches devices connected
// to the other at once (LISTEN/NOTIFY, not the periodic look, which is set
// to ten minutes here), each wave in one pass of the replica's campaign
// fanout; the replica leading the rollout engine is killed mid-campaign and
// the other takes the lead and finishes the campaign.
#include <grpcpp/grpcpp.h>

#include <signal.h>


#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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
#include "test/e2e/device_stub.h"
#include "test/e2e/otad_process.h"
#include "test/pg/postgres_cluster.h"
#include "test/process/subprocess.h"

namespace ota {
namespace {

using ota::testing::DeviceStub;
using ota::testing::Running;
using ota::testing::StartOtad;
using ota::testing::Subprocess;
using ota::testing::WaitForDeployments;

constexpr char kImage[] = "the new image";

// A counter's line in the otad's /metrics at `http`, e.g.
// "otad_fanout_deployments_total 3".
std::string MetricLine(const std::string& http, const std::string& name) {
  const std::string text = testing::RunCommand("curl -s http://" + http + "/metrics").output;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, name + " ")) return std::string(line);
  }
  return "";
}

TEST(ReplicasTest, CampaignCrossesReplicasAndSurvivesTheEngineLeadersDeath) {
  auto cluster = testing::PostgresCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  auto url = (*cluster)->CreateDatabase();
  ASSERT_TRUE(url.ok()) << url.status();

  const std::vector<std::string> flags = {"--engine_tick_ms=200",
                                           "--deployment_poll_seconds=600", "--insecure"};
  std::string addr_a, addr_b, http_a, http_b;
  auto a = StartOtad(*url, "a", flags, &addr_a, &http_a);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE((*a)->WaitForLine("otad: rollout engine: leading", absl::Seconds(10)).ok());
  auto b = StartOtad(*url, "b", flags, &addr_b, &http_b);
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE((*b)->WaitForLine("otad: rollout engine: standing by", absl::Seconds(10)).ok());

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
    devices.back()->Connect(Running(1, "the old image"));
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
  // B sent them in one pass over the campaign event, with no lookup per
  // device; A holds no stream and sent nothing. All three are NOTIFIED.
  EXPECT_EQ(MetricLine(http_b, "otad_fanout_deployments_total"), "otad_fanout_deployments_total 3");
  EXPECT_EQ(MetricLine(http_a, "otad_fanout_deployments_total"), "otad_fanout_deployments_total 0");
  ASSERT_TRUE((*db)->Transact([&](pqxx::work& txn) {
    EXPECT_EQ(txn.exec("SELECT count(*) FROM deployments WHERE state = 2")[0][0].as<int>(), 3);
    EXPECT_EQ(txn.exec("SELECT count(*) FROM deployments")[0][0].as<int>(), 3);
    return absl::OkStatus();
  }).ok());

  // The engine's replica dies; B takes the lead.
  (*a)->Stop(SIGKILL);
  ASSERT_TRUE((*b)->WaitForLine("otad: rollout engine: leading", absl::Seconds(10)).ok());

  for (const auto& d : devices) {
    if (!d->deployment_id().empty()) {
      grpc::Status s = d->Report(ota::v1::DEPLOYMENT_STATE_SUCCEEDED, Running(2, kImage));
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
  }
  // Wave 2, from B's engine, reaches the other three.
  EXPECT_EQ(WaitForDeployments(devices, 6, absl::Seconds(5)), 6u);
  EXPECT_EQ(MetricLine(http_b, "otad_fanout_deployments_total"), "otad_fanout_deployments_total 6");
  for (const auto& d : devices) {
    grpc::Status s = d->Report(ota::v1::DEPLOYMENT_STATE_SUCCEEDED, Running(2, kImage));
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
  EXPECT_EQ((*b)->Stop(), 0);
}

}  // namespace
}  // namespace ota
