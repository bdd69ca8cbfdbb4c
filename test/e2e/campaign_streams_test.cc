// Campaigns against otad as a process, a real PostgreSQL and device stubs on
// real gRPC Connect streams. The periodic look for deployments is set to ten
// minutes, so everything a device receives here was pushed to it.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/manifest/uuid.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ota/v1/campaign_service.grpc.pb.h"
#include "ota/v1/device_registry_service.grpc.pb.h"
#include "server/campaigns/test_manifest.h"
#include "server/store/database.h"
#include "test/e2e/device_stub.h"
#include "test/e2e/otad_process.h"
#include "test/pg/postgres_test.h"
#include "test/process/subprocess.h"

namespace ota {
namespace {

using ::testing::HasSubstr;
using ota::testing::DeviceStub;
using ota::testing::Running;
using ota::testing::WaitForDeployments;
using ota::v1::Campaign;

constexpr char kOld[] = "the old image";
constexpr char kNew[] = "the new image";

class CampaignStreamsTest : public ota::testing::PostgresTest {
 protected:
  void SetUp() override {
    auto url = cluster_->CreateDatabase();
    ASSERT_TRUE(url.ok()) << url.status();
    std::string address;
    auto otad = ota::testing::StartOtad(
        *url, ::testing::UnitTest::GetInstance()->current_test_info()->name(),
        {"--engine_tick_ms=100", "--deployment_poll_seconds=600", "--insecure"}, &address,
        &http_);
    ASSERT_TRUE(otad.ok()) << otad.status();
    otad_ = std::move(*otad);
    channel_ = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    campaigns_ = ota::v1::CampaignService::NewStub(channel_);
    vendor_ = common::Uuid5(common::kDnsNamespaceUuid, "example.com");
    class_ = common::Uuid5(vendor_, "gw");
    auto db = server::Database::Open(*url, 1);
    ASSERT_TRUE(db.ok()) << db.status();
    auto id = server::InsertTestManifest(db->get(), vendor_, class_, 2, kNew);
    ASSERT_TRUE(id.ok()) << id.status();
    manifest_id_ = *id;
  }

  void TearDown() override {
    devices_.clear();
    if (otad_ != nullptr) {
      EXPECT_EQ(otad_->Stop(), 0);
    }
  }

  DeviceStub* AddDevice(const std::string& id, const std::string& region = "eu") {
    devices_.push_back(
        std::make_unique<DeviceStub>(channel_, id, vendor_, class_,
                                     std::map<std::string, std::string>{{"region", region}}));
    devices_.back()->Connect(Running(1, kOld));
    return devices_.back().get();
  }

  Campaign StartCampaign(const ota::v1::RolloutPolicy& policy, const std::string& filter = "") {
    ota::v1::CreateCampaignRequest create;
    create.set_name("rollout");
    create.set_manifest_id(manifest_id_);
    create.set_device_filter(filter);
    *create.mutable_policy() = policy;
    Campaign c;
    grpc::ClientContext ctx1;
    grpc::Status s = campaigns_->CreateCampaign(&ctx1, create, &c);
    EXPECT_TRUE(s.ok()) << s.error_message();
    ota::v1::StartCampaignRequest start;
    start.set_campaign_id(c.campaign_id());
    grpc::ClientContext ctx2;
    s = campaigns_->StartCampaign(&ctx2, start, &c);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return c;
  }

  // Operator transitions over gRPC; `c` becomes the campaign as answered.
  grpc::Status Pause(Campaign* c, const std::string& reason) {
    ota::v1::PauseCampaignRequest req;
    req.set_campaign_id(c->campaign_id());
    req.set_reason(reason);
    grpc::ClientContext ctx;
    return campaigns_->PauseCampaign(&ctx, req, c);
  }
  grpc::Status Resume(Campaign* c) {
    ota::v1::ResumeCampaignRequest req;
    req.set_campaign_id(c->campaign_id());
    grpc::ClientContext ctx;
    return campaigns_->ResumeCampaign(&ctx, req, c);
  }
  grpc::Status Stop(Campaign* c, const std::string& reason) {
    ota::v1::StopCampaignRequest req;
    req.set_campaign_id(c->campaign_id());
    req.set_reason(reason);
    grpc::ClientContext ctx;
    return campaigns_->StopCampaign(&ctx, req, c);
  }

  Campaign Get(const std::string& id) {
    ota::v1::GetCampaignRequest get;
    get.set_campaign_id(id);
    Campaign c;
    grpc::ClientContext ctx;
    EXPECT_TRUE(campaigns_->GetCampaign(&ctx, get, &c).ok());
    return c;
  }

  // The campaign once it is in `state`, or as it is after `timeout`.
  Campaign WaitForState(const std::string& id, ota::v1::CampaignState state,
                        absl::Duration timeout = absl::Seconds(5)) {
    const absl::Time deadline = absl::Now() + timeout;
    Campaign c = Get(id);
    while (c.state() != state && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(50));
      c = Get(id);
    }
    return c;
  }

  // Devices of the campaign counted in `state`.
  static uint64_t Count(const Campaign& c, ota::v1::DeploymentState state) {
    for (const auto& sc : c.stats().state_counts()) {
      if (sc.state() == state) return sc.count();
    }
    return 0;
  }

  // otad's /metrics, as text.
  std::string Metrics() {
    return ota::testing::RunCommand("curl -s http://" + http_ + "/metrics").output;
  }

  std::unique_ptr<ota::testing::Subprocess> otad_;
  std::string http_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<ota::v1::CampaignService::Stub> campaigns_;
  std::vector<std::unique_ptr<DeviceStub>> devices_;
  std::string vendor_, class_, manifest_id_;
};
TEST_F(CampaignStreamsTest, WavesPauseResumeAndLateJoiners) {
  for (int i = 1; i <= 4; ++i) AddDevice(absl::StrCat("gw-", i));
  ota::v1::RolloutPolicy policy;
  policy.add_waves()->set_device_count(1);
  policy.add_waves()->set_percent(100);
  policy.set_success_ratio(1);
  policy.set_failure_ratio(1);
  Campaign c = StartCampaign(policy, "attr.region == \"eu\"");
  ASSERT_EQ(WaitForDeployments(devices_, 1, absl::Seconds(5)), 1u);
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(WaitForDeployments(devices_, 1, absl::Seconds(0)), 1u);

  // Paused: wave 1 succeeds but wave 2 waits.
  ASSERT_TRUE(Pause(&c, "a look at wave 1").ok());
  EXPECT_EQ(c.state(), ota::v1::CAMPAIGN_STATE_PAUSED);
  for (const auto& d : devices_) {
    if (!d->deployment_id().empty()) {
      ASSERT_TRUE(d->Report(ota::v1::DEPLOYMENT_STATE_SUCCEEDED, Running(2, kNew)).ok());
    }
  }
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(WaitForDeployments(devices_, 2, absl::Seconds(0)), 1u);

  ASSERT_TRUE(Resume(&c).ok());
  EXPECT_EQ(WaitForDeployments(devices_, 4, absl::Seconds(5)), 4u);

  // A late joiner that matches the filter is deployed at once; one that
  // does not is left alone.
  DeviceStub* late = AddDevice("gw-5");
  DeviceStub* elsewhere = AddDevice("gw-6", "us");
  EXPECT_TRUE(late->WaitForDeployment(absl::Seconds(5)));
  for (const auto& d : devices_) {
    if (d.get() == elsewhere) continue;
    ASSERT_TRUE(d->Report(ota::v1::DEPLOYMENT_STATE_DOWNLOADING, Running(1, kOld)).ok());
    ASSERT_TRUE(d->Report(ota::v1::DEPLOYMENT_STATE_SUCCEEDED, Running(2, kNew)).ok());
  }
  c = WaitForState(c.campaign_id(), ota::v1::CAMPAIGN_STATE_COMPLETED);
  EXPECT_EQ(c.state(), ota::v1::CAMPAIGN_STATE_COMPLETED);
  EXPECT_EQ(c.stats().total_targeted(), 5u);
  EXPECT_EQ(Count(c, ota::v1::DEPLOYMENT_STATE_SUCCEEDED), 5u);
  ASSERT_EQ(c.stats().waves_size(), 2);
  EXPECT_EQ(c.stats().waves(0).device_count(), 1u);
  EXPECT_EQ(c.stats().waves(1).device_count(), 4u);
  EXPECT_TRUE(elsewhere->deployment_ids().empty());

  // What an operator's dashboard reads.
  const std::string metrics = Metrics();
  EXPECT_THAT(metrics, HasSubstr("\notad_connected_devices 6\n"));
  EXPECT_THAT(metrics, HasSubstr("\notad_engine_leader 1\n"));
  EXPECT_THAT(metrics, HasSubstr("\notad_device_connects_total 6\n"));
  EXPECT_THAT(metrics, HasSubstr("\notad_status_reports_total 11\n"));
  EXPECT_THAT(metrics, HasSubstr(
      "otad_grpc_requests_total{code=\"OK\",method=\"/ota.v1.CampaignService/ResumeCampaign\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr(
      "otad_grpc_request_seconds_count{method=\"/ota.v1.CampaignService/StartCampaign\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr(
      "otad_grpc_streams_open{method=\"/ota.v1.DeviceService/Connect\"} 6\n"));
  // The campaign is COMPLETED, so its deployments no longer count as open.
  EXPECT_THAT(metrics, HasSubstr("otad_deployments{state=\"SUCCEEDED\"} 0\n"));
}

// Waits until `n` streams are registered, and the lookup each makes at
// connect has had its turn.
void WaitForStreams(const std::function<std::string()>& metrics, int n) {
  const std::string line = absl::StrCat("\notad_connected_devices ", n, "\n");
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (metrics().find(line) == std::string::npos && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  absl::SleepFor(absl::Milliseconds(200));
}

TEST_F(CampaignStreamsTest, AWatchSendsEveryStateChangeAtOnce) {
  AddDevice("gw-1");
  ota::v1::RolloutPolicy policy;
  policy.set_failure_ratio(1);
  Campaign c = StartCampaign(policy);
  grpc::ClientContext watch_ctx;
  // A failure here ends the read instead of hanging it.
  watch_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  ota::v1::WatchCampaignRequest req;
  req.set_campaign_id(c.campaign_id());
  req.set_min_interval_ms(60000);  // statistics a minute apart: changes must not wait
  auto watch = campaigns_->WatchCampaign(&watch_ctx, req);
  ota::v1::CampaignEvent e;
  ASSERT_TRUE(watch->Read(&e));
  EXPECT_EQ(e.kind(), ota::v1::CAMPAIGN_EVENT_KIND_SNAPSHOT);
  EXPECT_EQ(e.campaign().state(), ota::v1::CAMPAIGN_STATE_ACTIVE);

  // Paused and resumed back to back: both changes arrive, in order, though
  // the campaign is ACTIVE again before the watch looks.
  const absl::Time before = absl::Now();
  ASSERT_TRUE(Pause(&c, "a look").ok());
  ASSERT_TRUE(Resume(&c).ok());
  ASSERT_TRUE(watch->Read(&e));
  EXPECT_EQ(e.kind(), ota::v1::CAMPAIGN_EVENT_KIND_STATE_CHANGED);
  EXPECT_EQ(e.campaign().state(), ota::v1::CAMPAIGN_STATE_PAUSED);
  EXPECT_EQ(e.campaign().state_reason(), "a look");
  ASSERT_TRUE(watch->Read(&e));
  EXPECT_EQ(e.kind(), ota::v1::CAMPAIGN_EVENT_KIND_STATE_CHANGED);
  EXPECT_EQ(e.campaign().state(), ota::v1::CAMPAIGN_STATE_ACTIVE);
  // Not held back until the minute of statistics is up.
  EXPECT_LT(absl::Now() - before, absl::Seconds(30));

  // Stopped: the last change, then the stream ends.
  ASSERT_TRUE(Stop(&c, "enough").ok());
  ASSERT_TRUE(watch->Read(&e));
  EXPECT_EQ(e.kind(), ota::v1::CAMPAIGN_EVENT_KIND_STATE_CHANGED);
  EXPECT_EQ(e.campaign().state(), ota::v1::CAMPAIGN_STATE_STOPPED);
  EXPECT_EQ(e.campaign().state_reason(), "enough");
  EXPECT_FALSE(watch->Read(&e));
  EXPECT_TRUE(watch->Finish().ok());
}

TEST_F(CampaignStreamsTest, AWaveReachesEveryStreamInOneFanoutPass) {
  for (int i = 1; i <= 5; ++i) AddDevice(absl::StrCat("gw-", i));
  WaitForStreams([this] { return Metrics(); }, 5);
  ota::v1::RolloutPolicy policy;
  policy.set_failure_ratio(1);
  Campaign c = StartCampaign(policy);
  EXPECT_EQ(WaitForDeployments(devices_, 5, absl::Seconds(5)), 5u);
  c = Get(c.campaign_id());
  EXPECT_EQ(Count(c, ota::v1::DEPLOYMENT_STATE_NOTIFIED), 5u);
  EXPECT_EQ(Count(c, ota::v1::DEPLOYMENT_STATE_PENDING), 0u);
  for (const auto& d : devices_) EXPECT_EQ(d->deployment_ids().size(), 1u) << d->id();
  const std::string metrics = Metrics();
  EXPECT_THAT(metrics, HasSubstr("\notad_fanout_deployments_total 5\n"));
  EXPECT_THAT(metrics, HasSubstr("\notad_fanout_capped_wakes_total 0\n"));
}

TEST_F(CampaignStreamsTest, ADownloadCapHoldsDevicesBackOnTheStreams) {
  AddDevice("gw-1", "eu");
  AddDevice("gw-2", "eu");
  AddDevice("gw-3", "eu");
  DeviceStub* us = AddDevice("gw-4", "us");
  WaitForStreams([this] { return Metrics(); }, 4);
  ota::v1::RolloutPolicy policy;
  policy.set_failure_ratio(1);
  policy.mutable_download_cap()->set_attribute("region");
  policy.mutable_download_cap()->set_max_concurrent(1);
  Campaign c = StartCampaign(policy);
  // One device per region, and no more while they download.
  EXPECT_EQ(WaitForDeployments(devices_, 2, absl::Seconds(5)), 2u);
  absl::SleepFor(absl::Milliseconds(700));
  EXPECT_EQ(WaitForDeployments(devices_, 2, absl::Seconds(0)), 2u);
  EXPECT_TRUE(us->WaitForDeployment(absl::Seconds(0)));
  c = Get(c.campaign_id());
  EXPECT_EQ(Count(c, ota::v1::DEPLOYMENT_STATE_NOTIFIED), 2u);
  EXPECT_EQ(Count(c, ota::v1::DEPLOYMENT_STATE_PENDING), 2u);
  {
    const std::string metrics = Metrics();
    EXPECT_THAT(metrics, HasSubstr("\notad_fanout_deployments_total 0\n"));
    EXPECT_THAT(metrics, ::testing::Not(HasSubstr("\notad_fanout_capped_wakes_total 0\n")));
  }
  // The eu device that got it finishes downloading: the next one in eu goes.
  DeviceStub* first = nullptr;
  for (const auto& d : devices_) {
    if (d.get() != us && !d->deployment_id().empty()) first = d.get();
  }
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first->Report(ota::v1::DEPLOYMENT_STATE_DOWNLOADED, Running(1, kOld)).ok());
  EXPECT_EQ(WaitForDeployments(devices_, 3, absl::Seconds(5)), 3u);
  absl::SleepFor(absl::Milliseconds(700));
  EXPECT_EQ(WaitForDeployments(devices_, 3, absl::Seconds(0)), 3u);
  c = Get(c.campaign_id());
  EXPECT_EQ(Count(c, ota::v1::DEPLOYMENT_STATE_PENDING), 1u);
}

TEST_F(CampaignStreamsTest, AutoStopsAtTheFailureRatioAndDuplicateReportsCountOnce) {
  for (int i = 1; i <= 4; ++i) AddDevice(absl::StrCat("gw-", i));
  ota::v1::RolloutPolicy policy;
  policy.set_failure_ratio(0.25);
  Campaign c = StartCampaign(policy);
  ASSERT_EQ(WaitForDeployments(devices_, 4, absl::Seconds(5)), 4u);

  DeviceStub* first = devices_[0].get();
  uint64_t acked = 0;
  ASSERT_TRUE(first->Report(ota::v1::DEPLOYMENT_STATE_FAILED, Running(1, kOld),
                            ota::v1::REASON_INSTALL_FAILED, &acked).ok());
  EXPECT_EQ(acked, first->last_seq());
  // The same report again, as after a lost acknowledgement.
  ota::v1::ReportStatusRequest again;
  again.set_device_id(first->id());
  ota::v1::StatusReport* r = again.add_reports();
  r->set_seq(first->last_seq());
  r->set_deployment_id(first->deployment_id());
  r->set_state(ota::v1::DEPLOYMENT_STATE_FAILED);
  r->set_reason(ota::v1::REASON_INSTALL_FAILED);
  for (int i = 0; i < 3; ++i) {
    ota::v1::ReportStatusResponse response;
    ASSERT_TRUE(first->Send(again, &response).ok());
    EXPECT_EQ(response.acked_seq(), first->last_seq());
  }
  // One failure of four is not above 0.25.
  absl::SleepFor(absl::Milliseconds(500));
  c = Get(c.campaign_id());
  EXPECT_EQ(c.state(), ota::v1::CAMPAIGN_STATE_ACTIVE);
  EXPECT_EQ(Count(c, ota::v1::DEPLOYMENT_STATE_FAILED), 1u);
  {
    const std::string metrics = Metrics();
    EXPECT_THAT(metrics, HasSubstr("otad_deployments{state=\"FAILED\"} 1\n"));
    EXPECT_THAT(metrics, HasSubstr("otad_deployments{state=\"NOTIFIED\"} 3\n"));
  }

  ASSERT_TRUE(devices_[1]->Report(ota::v1::DEPLOYMENT_STATE_FAILED, Running(1, kOld),
                                  ota::v1::REASON_HEALTH_CHECK_FAILED).ok());
  c = WaitForState(c.campaign_id(), ota::v1::CAMPAIGN_STATE_AUTO_STOPPED);
  {
    const std::string metrics = Metrics();
    EXPECT_THAT(metrics, HasSubstr("otad_deployments{state=\"FAILED\"} 0\n"));  // final now
  }
  EXPECT_EQ(c.state(), ota::v1::CAMPAIGN_STATE_AUTO_STOPPED);
  EXPECT_EQ(c.state_reason(), "2 of 4 devices failed, above the 0.25 the policy allows");
  EXPECT_EQ(Count(c, ota::v1::DEPLOYMENT_STATE_FAILED), 2u);
  std::map<ota::v1::ReasonCode, uint64_t> reasons;
  for (const auto& rc : c.stats().failure_reasons()) reasons[rc.reason()] = rc.count();
  EXPECT_EQ(reasons, (std::map<ota::v1::ReasonCode, uint64_t>{
                         {ota::v1::REASON_INSTALL_FAILED, 1},
                         {ota::v1::REASON_HEALTH_CHECK_FAILED, 1}}));
}

TEST_F(CampaignStreamsTest, OfflineDeviceServedOnReconnectAndRollbackSeen) {
  DeviceStub* away = AddDevice("gw-1");
  DeviceStub* here = AddDevice("gw-2");
  away->Disconnect();
  ota::v1::RolloutPolicy policy;
  policy.set_failure_ratio(1);
  Campaign c = StartCampaign(policy);
  EXPECT_TRUE(here->WaitForDeployment(absl::Seconds(5)));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_TRUE(away->deployment_ids().empty());

  away->Connect(Running(1, kOld));  // the pending deployment is sent at once
  EXPECT_TRUE(away->WaitForDeployment(absl::Seconds(2)));
  for (DeviceStub* d : {away, here}) {
    ASSERT_TRUE(d->Report(ota::v1::DEPLOYMENT_STATE_SUCCEEDED, Running(2, kNew)).ok());
  }
  c = WaitForState(c.campaign_id(), ota::v1::CAMPAIGN_STATE_COMPLETED);
  EXPECT_EQ(c.state(), ota::v1::CAMPAIGN_STATE_COMPLETED);
  EXPECT_EQ(Count(c, ota::v1::DEPLOYMENT_STATE_SUCCEEDED), 2u);

  // gw-1 comes back on its old image (reflashed, or its bootloader fell back).
  away->Connect(Running(1, kOld));
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (Count(c, ota::v1::DEPLOYMENT_STATE_ROLLED_BACK) == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
    c = Get(c.campaign_id());
  }
  EXPECT_EQ(Count(c, ota::v1::DEPLOYMENT_STATE_ROLLED_BACK), 1u);
  EXPECT_EQ(Count(c, ota::v1::DEPLOYMENT_STATE_SUCCEEDED), 1u);

  // The registry shows each device's deployment.
  auto registry = ota::v1::DeviceRegistryService::NewStub(channel_);
  for (const auto& [id, state] :
       {std::pair{"gw-1", ota::v1::DEPLOYMENT_STATE_ROLLED_BACK},
        std::pair{"gw-2", ota::v1::DEPLOYMENT_STATE_SUCCEEDED}}) {
    grpc::ClientContext ctx;
    ota::v1::GetDeviceRequest get;
    get.set_device_id(id);
    ota::v1::Device d;
    ASSERT_TRUE(registry->GetDevice(&ctx, get, &d).ok());
    EXPECT_EQ(d.current_deployment_state(), state) << id;
    EXPECT_EQ(d.current_campaign_id(), c.campaign_id()) << id;
    EXPECT_EQ(d.current_deployment_id().size(), 32u) << id;
  }
}

}  // namespace
}  // namespace ota
