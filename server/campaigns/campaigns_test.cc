// The campaign store and rollout engine on a real PostgreSQL, with a fake
// clock and devices played by writing their reports.
#include "server/campaigns/campaigns.h"

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/crypto/bytes.h"
#include "common/crypto/sha256.h"
#include "common/manifest/uuid.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/campaigns/test_manifest.h"
#include "test/pg/postgres_test.h"

namespace ota::server {
namespace {

using ::ota::testing::IsOk;
using ::ota::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ota::v1::Campaign;

constexpr int64_t kNow = 1800000000;

class CampaignsTest : public ota::testing::PostgresTest {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(std::string url, cluster_->CreateDatabase());
    ASSERT_OK_AND_ASSIGN(db_, Database::Open(url, 4));
    ASSERT_TRUE(db_->Migrate().ok());
    vendor_ = common::Uuid5(common::kDnsNamespaceUuid, "example.com");
    class_ = common::Uuid5(vendor_, "gw");
    manifest_id_ = AddManifest(2, "new image");
    store_ = std::make_unique<CampaignStore>(db_.get(), &clock_);
    engine_ = std::make_unique<Engine>(db_.get(), &clock_, [this](const std::string&,
                                                                 const std::vector<std::string>& ids) {
      notified_.insert(notified_.end(), ids.begin(), ids.end());
      notify_sizes_.push_back(ids.size());
    });
  }

  // Stores a manifest (and its asset row) for vendor/class; returns its id.
  std::string AddManifest(uint64_t sequence, const std::string& image) {
    absl::StatusOr<std::string> id = InsertTestManifest(db_.get(), vendor_, class_, sequence, image);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.value_or("");
  }

  void AddDevices(int n, const std::string& region = "eu", int from = 1) {
    DeviceStore devices(db_.get());
    for (int i = from; i < from + n; ++i) {
      ASSERT_TRUE(devices.Register(absl::StrCat("dev-", 100 + i), common::UuidToString(vendor_),
                                   common::UuidToString(class_), {{"region", region}}, kNow)
                      .ok());
    }
  }

  absl::StatusOr<Campaign> Create(const std::string& name, ota::v1::RolloutPolicy policy,
                                  const std::string& filter = "",
                                  const std::string& manifest = "") {
    ota::v1::CreateCampaignRequest req;
    req.set_name(name);
    req.set_manifest_id(manifest.empty() ? manifest_id_ : manifest);
    req.set_device_filter(filter);
    *req.mutable_policy() = policy;
    return store_->Create(req);
  }

  // Devices with a deployment of `campaign` in `state`.
  std::vector<std::string> DevicesIn(const std::string& campaign, ota::v1::DeploymentState state) {
    std::vector<std::string> out;
    EXPECT_TRUE(db_->Transact([&](pqxx::work& txn) {
      for (const auto& r : txn.exec_params(
               "SELECT device_id FROM deployments WHERE campaign_id = $1 AND state = $2 "
               "ORDER BY device_id", campaign, static_cast<int>(state))) {
        out.push_back(r[0].c_str());
      }
      return absl::OkStatus();
    }).ok());
    return out;
  }

  // Every device of the campaign in `from` reports `to`.
  void Report(const std::string& campaign, ota::v1::DeploymentState from,
              ota::v1::DeploymentState to, size_t max = 1000,
              ota::v1::ReasonCode reason = ota::v1::REASON_UNSPECIFIED) {
    std::vector<std::string> ids = DevicesIn(campaign, from);
    for (size_t i = 0; i < ids.size() && i < max; ++i) {
      absl::StatusOr<ota::v1::Deployment> d = NextDeployment(db_.get(), ids[i], kNow * 1000);
      std::string dep_id = d.ok() ? d->deployment_id() : "";
      if (dep_id.empty()) {
        ASSERT_TRUE(db_->Transact([&](pqxx::work& txn) {
          dep_id = txn.exec_params("SELECT deployment_id FROM deployments WHERE campaign_id = $1 "
                                   "AND device_id = $2", campaign, ids[i])[0][0].c_str();
          return absl::OkStatus();
        }).ok());
      }
      ota::v1::StatusReport r;
      r.set_deployment_id(dep_id);
      r.set_state(to);
      r.set_reason(reason);
      ASSERT_TRUE(db_->Transact([&](pqxx::work& txn) {
        return ApplyReports(txn, ids[i], {r}, kNow * 1000);
      }).ok());
    }
  }

  common::FakeClock clock_{kNow * 1000};
  std::unique_ptr<Database> db_;
  std::unique_ptr<CampaignStore> store_;
  std::unique_ptr<Engine> engine_;
  std::vector<std::string> notified_;
  std::vector<size_t> notify_sizes_;
  std::string vendor_, class_, manifest_id_;
};
ota::v1::RolloutPolicy ThreeWaves() {
  ota::v1::RolloutPolicy p;
  p.add_waves()->set_device_count(2);
  p.add_waves()->set_percent(50);
  p.add_waves()->set_percent(100);
  p.set_success_ratio(1);
  p.set_failure_ratio(0.5);
  return p;
}

TEST_F(CampaignsTest, ThroughItsWavesToCompletion) {
  AddDevices(10);
  ASSERT_OK_AND_ASSIGN(Campaign c, Create("rollout", ThreeWaves()));
  EXPECT_EQ(c.state(), ota::v1::CAMPAIGN_STATE_DRAFT);
  EXPECT_EQ(c.stats().total_targeted(), 10u);
  ASSERT_OK_AND_ASSIGN(c, store_->Start(c.campaign_id()));
  EXPECT_EQ(c.state(), ota::v1::CAMPAIGN_STATE_ACTIVE);
  EXPECT_EQ(c.started_unix(), kNow);

  ASSERT_THAT(engine_->Tick(), IsOk());
  EXPECT_THAT(notified_, ::testing::ElementsAre("dev-101", "dev-102"));
  EXPECT_THAT(DevicesIn(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING), SizeIs(2));
  // Wave 1 is not done: no second wave yet.
  ASSERT_THAT(engine_->Tick(), IsOk());
  EXPECT_THAT(DevicesIn(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING), SizeIs(2));

  Report(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING, ota::v1::DEPLOYMENT_STATE_SUCCEEDED);
  ASSERT_THAT(engine_->Tick(), IsOk());
  // Wave 2: 50 % of 10, rounded up.
  EXPECT_THAT(DevicesIn(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING), SizeIs(5));
  ASSERT_OK_AND_ASSIGN(c, store_->Get(c.campaign_id()));
  EXPECT_EQ(c.current_wave(), 2u);
  EXPECT_EQ(c.stats().awaiting_wave(), 3u);

  Report(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING, ota::v1::DEPLOYMENT_STATE_SUCCEEDED);
  ASSERT_THAT(engine_->Tick(), IsOk());
  EXPECT_THAT(DevicesIn(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING), SizeIs(3));
  Report(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING, ota::v1::DEPLOYMENT_STATE_SUCCEEDED);
  ASSERT_THAT(engine_->Tick(), IsOk());
  ASSERT_OK_AND_ASSIGN(c, store_->Get(c.campaign_id()));
  EXPECT_EQ(c.state(), ota::v1::CAMPAIGN_STATE_COMPLETED);
  EXPECT_EQ(c.stats().total_targeted(), 10u);
  ASSERT_THAT(c.stats().waves(), SizeIs(3));
  EXPECT_EQ(c.stats().waves(1).device_count(), 5u);
  EXPECT_EQ(c.stats().waves(0).started_unix(), kNow);  // the fake clock's time
  EXPECT_EQ(c.stats().waves(2).success_ratio(), 1.0);
  EXPECT_THAT(c.state_reason(), HasSubstr("every targeted device finished (0 failed)"));
}

TEST_F(CampaignsTest, AutoStopsAtTheFailureRatio) {
  AddDevices(10);
  ota::v1::RolloutPolicy p;
  p.add_waves()->set_device_count(5);
  p.add_waves()->set_percent(100);
  p.set_failure_ratio(0.2);
  ASSERT_OK_AND_ASSIGN(Campaign c, Create("risky", p));
  ASSERT_THAT(store_->Start(c.campaign_id()), IsOk());
  ASSERT_THAT(engine_->Tick(), IsOk());
  Report(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING, ota::v1::DEPLOYMENT_STATE_FAILED, 1,
         ota::v1::REASON_DOWNLOAD_FAILED);
  ASSERT_THAT(engine_->Tick(), IsOk());
  ASSERT_OK_AND_ASSIGN(c, store_->Get(c.campaign_id()));
  EXPECT_EQ(c.state(), ota::v1::CAMPAIGN_STATE_ACTIVE) << "1 of 5 is 0.2, not above it";
  Report(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING, ota::v1::DEPLOYMENT_STATE_ROLLED_BACK,
         1, ota::v1::REASON_HEALTH_CHECK_FAILED);
  ASSERT_THAT(engine_->Tick(), IsOk());
  ASSERT_OK_AND_ASSIGN(c, store_->Get(c.campaign_id()));
  EXPECT_EQ(c.state(), ota::v1::CAMPAIGN_STATE_AUTO_STOPPED);
  EXPECT_EQ(c.state_reason(), "2 of 5 devices failed, above the 0.2 the policy allows");
  EXPECT_EQ(c.finished_unix(), kNow);
  // Not yet sent: cancelled. No second wave.
  EXPECT_THAT(DevicesIn(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_CANCELLED), SizeIs(3));
  ASSERT_THAT(c.stats().failure_reasons(), SizeIs(2));
  EXPECT_THAT(store_->Resume(c.campaign_id()),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("is CAMPAIGN_STATE_AUTO_STOPPED; cannot go to CAMPAIGN_STATE_ACTIVE")));
}

TEST_F(CampaignsTest, PauseHoldsDeploymentsAndResumeReleasesThem) {
  AddDevices(3);
  ASSERT_OK_AND_ASSIGN(Campaign c, Create("pausable", ota::v1::RolloutPolicy()));
  EXPECT_THAT(store_->Pause(c.campaign_id(), "x"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is CAMPAIGN_STATE_DRAFT")));
  ASSERT_THAT(store_->Start(c.campaign_id()), IsOk());
  ASSERT_THAT(engine_->Tick(), IsOk());
  ASSERT_OK_AND_ASSIGN(c, store_->Pause(c.campaign_id(), "waiting for the field team"));
  EXPECT_EQ(c.state_reason(), "waiting for the field team");
  EXPECT_THAT(NextDeployment(db_.get(), "dev-101", kNow * 1000),
              StatusIs(absl::StatusCode::kNotFound, "no deployment to send"));
  ASSERT_THAT(store_->Resume(c.campaign_id()), IsOk());
  ASSERT_OK_AND_ASSIGN(ota::v1::Deployment d, NextDeployment(db_.get(), "dev-101", kNow * 1000));
  EXPECT_EQ(d.campaign_id(), c.campaign_id());
  EXPECT_THAT(DevicesIn(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_NOTIFIED),
              ::testing::ElementsAre("dev-101"));
  ASSERT_OK_AND_ASSIGN(c, store_->Stop(c.campaign_id(), "enough"));
  EXPECT_EQ(c.state(), ota::v1::CAMPAIGN_STATE_STOPPED);
  EXPECT_THAT(DevicesIn(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_CANCELLED), SizeIs(2));
}

TEST_F(CampaignsTest, LateJoinersAndFilter) {
  AddDevices(2, "eu");
  AddDevices(2, "us", 10);
  ASSERT_OK_AND_ASSIGN(Campaign c,
                       Create("eu only", ota::v1::RolloutPolicy(), "attr.region == \"eu\""));
  EXPECT_EQ(c.stats().total_targeted(), 2u);
  ASSERT_THAT(store_->Start(c.campaign_id()), IsOk());
  ASSERT_THAT(engine_->Tick(), IsOk());
  EXPECT_THAT(DevicesIn(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING),
              ::testing::ElementsAre("dev-101", "dev-102"));
  AddDevices(1, "eu", 20);
  notified_.clear();
  ASSERT_THAT(engine_->Tick(), IsOk());
  EXPECT_THAT(notified_, ::testing::ElementsAre("dev-120"));
}

TEST_F(CampaignsTest, ConflictsAreVisibleAndOrdered) {
  AddDevices(2);
  ASSERT_OK_AND_ASSIGN(Campaign first, Create("first", ota::v1::RolloutPolicy()));
  ASSERT_THAT(store_->Start(first.campaign_id()), IsOk());
  ASSERT_THAT(engine_->Tick(), IsOk());
  std::string other = AddManifest(3, "newer image");
  ASSERT_OK_AND_ASSIGN(Campaign second, Create("second", ota::v1::RolloutPolicy(), "", other));
  ASSERT_THAT(store_->Start(second.campaign_id()), IsOk());
  ASSERT_THAT(engine_->Tick(), IsOk());
  ASSERT_OK_AND_ASSIGN(second, store_->Get(second.campaign_id()));
  EXPECT_EQ(second.stats().held_elsewhere(), 2u);
  ASSERT_THAT(second.conflicts(), SizeIs(1));
  EXPECT_EQ(second.conflicts(0).campaign_name(), "first");
  EXPECT_THAT(second.conflicts(0).sample_device_ids(), ::testing::ElementsAre("dev-101", "dev-102"));
  // The first campaign finishes; the second picks the devices up.
  Report(first.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING, ota::v1::DEPLOYMENT_STATE_SUCCEEDED);
  ASSERT_THAT(engine_->Tick(), IsOk());
  EXPECT_THAT(DevicesIn(second.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING), SizeIs(2));
  ASSERT_OK_AND_ASSIGN(first, store_->Get(first.campaign_id()));
  EXPECT_EQ(first.state(), ota::v1::CAMPAIGN_STATE_COMPLETED);
}

TEST_F(CampaignsTest, ScheduledStartAndBadInput) {
  AddDevices(1);
  ota::v1::RolloutPolicy p;
  p.set_start_unix(kNow + 60);
  ASSERT_OK_AND_ASSIGN(Campaign c, Create("later", p));
  ASSERT_OK_AND_ASSIGN(c, store_->Start(c.campaign_id()));
  EXPECT_EQ(c.state(), ota::v1::CAMPAIGN_STATE_SCHEDULED);
  ASSERT_THAT(engine_->Tick(), IsOk());
  EXPECT_THAT(DevicesIn(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING), SizeIs(0));
  clock_.AdvanceMillis(61000);
  ASSERT_THAT(engine_->Tick(), IsOk());
  EXPECT_THAT(DevicesIn(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING), SizeIs(1));

  EXPECT_THAT(Create("later", ota::v1::RolloutPolicy()),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       "a campaign named \"later\" is already open"));
  EXPECT_THAT(Create("bad filter", ota::v1::RolloutPolicy(), "attr.region =="),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("filter: at 14:")));
  ota::v1::RolloutPolicy bad;
  bad.add_waves()->set_percent(150);
  EXPECT_THAT(Create("bad wave", bad),
              StatusIs(absl::StatusCode::kInvalidArgument, "policy.waves[0].percent 150 is not in (0, 100]"));
  EXPECT_THAT(Create("no manifest", ota::v1::RolloutPolicy(), "", std::string(64, 'a')),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("does not exist")));
}

TEST_F(CampaignsTest, DeviceSeenOnItsOldImageIsRolledBack) {
  AddDevices(1);
  ASSERT_OK_AND_ASSIGN(Campaign c, Create("one", ota::v1::RolloutPolicy()));
  ASSERT_THAT(store_->Start(c.campaign_id()), IsOk());
  ASSERT_THAT(engine_->Tick(), IsOk());
  Report(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING, ota::v1::DEPLOYMENT_STATE_SUCCEEDED);
  ota::v1::InstalledImage running;
  running.set_sequence_number(2);
  running.set_image_sha256(common::Sha256Digest("new image"));
  ASSERT_THAT(DetectRollback(db_.get(), "dev-101", running, kNow * 1000), IsOk());
  EXPECT_THAT(DevicesIn(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_SUCCEEDED), SizeIs(1));
  running.set_sequence_number(1);
  running.set_image_sha256(common::Sha256Digest("old image"));
  ASSERT_THAT(DetectRollback(db_.get(), "dev-101", running, kNow * 1000), IsOk());
  EXPECT_THAT(DevicesIn(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_ROLLED_BACK), SizeIs(1));
}

}  // namespace
TEST_F(CampaignsTest, TheLastWaveGoesInChunksEachAnnouncedAtOnce) {
  AddDevices(5);
  engine_->set_last_wave_chunk(2);
  ota::v1::RolloutPolicy p;
  p.set_failure_ratio(1);
  ASSERT_OK_AND_ASSIGN(Campaign c, Create("chunked", p));
  ASSERT_THAT(store_->Start(c.campaign_id()), IsOk());
  ASSERT_THAT(engine_->Tick(), IsOk());
  // One Tick: three transactions of 2, 2 and 1 devices, each told at once.
  EXPECT_THAT(notify_sizes_, ::testing::ElementsAre(2, 2, 1));
  EXPECT_THAT(notified_, ::testing::ElementsAre("dev-101", "dev-102", "dev-103", "dev-104",
                                                "dev-105"));
  EXPECT_THAT(DevicesIn(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING), SizeIs(5));
  ASSERT_OK_AND_ASSIGN(c, store_->Get(c.campaign_id()));
  EXPECT_EQ(c.current_wave(), 1u);
  ASSERT_EQ(c.stats().waves_size(), 1);
  EXPECT_EQ(c.stats().waves(0).device_count(), 5u);
  // A late joiner comes with the next tick.
  notify_sizes_.clear();
  AddDevices(1, "eu", 6);
  ASSERT_THAT(engine_->Tick(), IsOk());
  EXPECT_THAT(notify_sizes_, ::testing::ElementsAre(1));
}

TEST_F(CampaignsTest, AWaveOutgrowingTheStatisticsIsAnalyzed) {
  // The planner's idea of the deployments table: rows as of the last
  // ANALYZE, -1 before the first.
  auto counted = [&] {
    double rows = 0;
    EXPECT_TRUE(db_->Transact([&](pqxx::work& txn) {
      rows = txn.exec("SELECT reltuples FROM pg_class WHERE oid = 'deployments'::regclass")[0][0]
                 .as<double>();
      return absl::OkStatus();
    }).ok());
    return rows;
  };
  // Only the engine analyzes here.
  ASSERT_TRUE(db_->Transact([&](pqxx::work& txn) {
    txn.exec("ALTER TABLE deployments SET (autovacuum_enabled = false)");
    return absl::OkStatus();
  }).ok());
  const double before = counted();
  AddDevices(20);
  ota::v1::RolloutPolicy p;
  p.set_failure_ratio(1);
  ASSERT_OK_AND_ASSIGN(Campaign small, Create("fleet", p));
  ASSERT_THAT(store_->Start(small.campaign_id()), IsOk());
  ASSERT_THAT(engine_->Tick(), IsOk());
  EXPECT_EQ(counted(), before);  // 20 rows: not worth a look

  // 1,200 late joiners, three chunks: analyzed once the inserted rows
  // outnumbered what the statistics counted.
  ASSERT_TRUE(db_->Transact([&](pqxx::work& txn) {
    txn.exec_params(
        "INSERT INTO devices (device_id, vendor_id, class_id, created_unix) "
        "SELECT 'bulk-' || lpad(i::text, 4, '0'), $1, $2, 0 FROM generate_series(1, 1200) i",
        common::UuidToString(vendor_), common::UuidToString(class_));
    return absl::OkStatus();
  }).ok());
  engine_->set_last_wave_chunk(500);
  notify_sizes_.clear();
  ASSERT_THAT(engine_->Tick(), IsOk());
  EXPECT_THAT(notify_sizes_, ::testing::ElementsAre(500, 500, 200));
  ASSERT_THAT(DevicesIn(small.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING), SizeIs(1220));
  // Analyzed after the second chunk (1,020 rows then), not after the third.
  EXPECT_EQ(counted(), 1020);
}

TEST_F(CampaignsTest, DownloadCapHoldsEachGroupToItsLimit) {
  AddDevices(3, "cell-a", 1);  // dev-101..103
  AddDevices(2, "cell-b", 4);  // dev-104..105
  DeviceStore devices(db_.get());
  ASSERT_TRUE(devices.Register("dev-200", common::UuidToString(vendor_),
                               common::UuidToString(class_), {}, kNow).ok());  // no region
  ota::v1::RolloutPolicy p;
  p.set_failure_ratio(1);
  p.mutable_download_cap()->set_attribute("region");
  p.mutable_download_cap()->set_max_concurrent(1);
  ASSERT_OK_AND_ASSIGN(Campaign c, Create("capped", p));
  ASSERT_THAT(store_->Start(c.campaign_id()), IsOk());
  ASSERT_THAT(engine_->Tick(), IsOk());
  // One device per group is woken: cell-a, cell-b and the group without the
  // attribute.
  EXPECT_THAT(notified_, ::testing::ElementsAre("dev-101", "dev-104", "dev-200"));
  const int64_t now_ms = kNow * 1000;
  ASSERT_THAT(NextDeployment(db_.get(), "dev-101", now_ms), IsOk());
  // dev-102 shares cell-a with dev-101, which is now NOTIFIED.
  EXPECT_THAT(NextDeployment(db_.get(), "dev-102", now_ms),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "1 devices with region \"cell-a\" are downloading; the campaign "
                       "allows 1"));
  ASSERT_THAT(NextDeployment(db_.get(), "dev-105", now_ms), IsOk());
  ASSERT_THAT(NextDeployment(db_.get(), "dev-200", now_ms), IsOk());
  // A NOTIFIED deployment is sent again (the device may not have got it).
  ASSERT_THAT(NextDeployment(db_.get(), "dev-101", now_ms), IsOk());

  notified_.clear();
  ASSERT_THAT(engine_->Tick(), IsOk());
  EXPECT_THAT(notified_, ::testing::IsEmpty());  // every group is full

  // dev-101 finishes its download: cell-a has room for one more.
  ota::v1::StatusReport r;
  ASSERT_OK_AND_ASSIGN(ota::v1::Deployment d, NextDeployment(db_.get(), "dev-101", now_ms));
  r.set_deployment_id(d.deployment_id());
  r.set_state(ota::v1::DEPLOYMENT_STATE_DOWNLOADED);
  ASSERT_TRUE(db_->Transact([&](pqxx::work& txn) {
    return ApplyReports(txn, "dev-101", {r}, now_ms);
  }).ok());
  ASSERT_THAT(engine_->Tick(), IsOk());
  EXPECT_THAT(notified_, ::testing::ElementsAre("dev-102"));
  // A deployment the asking stream wrote already is not looked up again.
  ASSERT_OK_AND_ASSIGN(ota::v1::Deployment d200, NextDeployment(db_.get(), "dev-200", now_ms));
  ASSERT_OK_AND_ASSIGN(auto sent, NextDeployments(db_.get(), {"dev-105", "dev-200"}, now_ms,
                                                  {d200.deployment_id()}));
  EXPECT_EQ(sent.count("dev-200"), 0u);
  EXPECT_EQ(sent.count("dev-105"), 1u);
  ASSERT_OK_AND_ASSIGN(sent, NextDeployments(db_.get(), {"dev-105", "dev-200"}, now_ms));
  EXPECT_EQ(sent.at("dev-200").deployment_id(), d200.deployment_id());
  // The batch lookup holds groups to the cap just the same.
  ASSERT_OK_AND_ASSIGN(auto batch, NextDeployments(db_.get(), {"dev-102", "dev-103"}, now_ms));
  EXPECT_EQ(batch.size(), 1u);
  EXPECT_EQ(batch.count("dev-102"), 1u);
  EXPECT_THAT(NextDeployment(db_.get(), "dev-103", now_ms),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("\"cell-a\"")));

  ota::v1::RolloutPolicy bad;
  bad.mutable_download_cap()->set_attribute("Cell");
  bad.mutable_download_cap()->set_max_concurrent(2);
  EXPECT_THAT(Create("bad-cap", bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "policy.download_cap.attribute \"Cell\" does not match "
                       "[a-z][a-z0-9_]{0,62}"));
  bad.mutable_download_cap()->set_attribute("cell");
  bad.mutable_download_cap()->set_max_concurrent(0);
  EXPECT_THAT(Create("bad-cap", bad),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "policy.download_cap.max_concurrent is zero"));
}

}  // namespace ota::server
