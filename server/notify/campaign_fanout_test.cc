// CampaignFanout on a real PostgreSQL, with the rollout engine choosing the
// deployments and fake streams attached to a DeviceHub.
#include "server/notify/campaign_fanout.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/base/clock.h"
#include "common/manifest/uuid.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "server/campaigns/campaigns.h"
#include "server/campaigns/test_manifest.h"
#include "server/store/stores.h"
#include "test/pg/postgres_test.h"

namespace ota::server {
namespace {

using ::ota::testing::IsOk;
using ::ota::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ota::v1::Campaign;

constexpr int64_t kNow = 1800000000;

// A device's stream as the hub sees it: what it was sent and how often it
// was woken.
struct FakeStream {
  std::vector<ota::v1::ServerMessage> sent;
  int woken = 0;
  bool closed = false;  // gone: drops what it is offered
  std::shared_ptr<DeviceHub::Waker> waker;
};

class CampaignFanoutTest : public ota::testing::PostgresTest {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(url_, cluster_->CreateDatabase());
    ASSERT_OK_AND_ASSIGN(db_, Database::Open(url_, 4));
    ASSERT_TRUE(db_->Migrate().ok());
    vendor_ = common::Uuid5(common::kDnsNamespaceUuid, "example.com");
    class_ = common::Uuid5(vendor_, "gw");
    ASSERT_OK_AND_ASSIGN(manifest_id_, InsertTestManifest(db_.get(), vendor_, class_, 2, "new"));
    store_ = std::make_unique<CampaignStore>(db_.get(), &clock_);
    engine_ = std::make_unique<Engine>(
        db_.get(), &clock_, [this](const std::string&, const std::vector<std::string>& ids) {
          chosen_.insert(chosen_.end(), ids.begin(), ids.end());
        });
    fanout_ = std::make_unique<CampaignFanout>(db_.get(), &clock_, &hub_, &metrics_);
  }

  void AddDevice(const std::string& id, const std::string& region = "eu") {
    DeviceStore devices(db_.get());
    ASSERT_TRUE(devices.Register(id, common::UuidToString(vendor_), common::UuidToString(class_),
                                 {{"region", region}}, kNow)
                    .ok());
  }

  // Attaches a fake stream for `id`.
  FakeStream* Connect(const std::string& id) {
    FakeStream* s = &streams_[id];
    s->waker = hub_.Attach(
        id, {.on_wake = [s] { s->woken++; },
             .on_deployment =
                 [s](const std::string& deployment_id,
                     const std::shared_ptr<const SharedDeployment>& shared) {
                   // As a real stream: the deployment it sent last is not
                   // sent again.
                   if (s->closed || (!s->sent.empty() &&
                                     s->sent.back().deployment().deployment_id() == deployment_id)) {
                     return false;
                   }
                   s->sent.push_back(shared->ProtoFor(deployment_id));
                   return true;
                 }});
    s->woken = 0;  // Attach is no wake
    return s;
  }

  // As when the device's stream opened on some replica.
  void MarkOnline(const std::string& id) {
    ASSERT_TRUE(db_->Transact([&](pqxx::work& txn) {
      txn.exec_params("UPDATE devices SET online = true WHERE device_id = $1", id);
      return absl::OkStatus();
    }).ok());
  }

  Campaign StartCampaign(const ota::v1::RolloutPolicy& policy, const std::string& name = "c") {
    ota::v1::CreateCampaignRequest req;
    req.set_name(name);
    req.set_manifest_id(manifest_id_);
    *req.mutable_policy() = policy;
    absl::StatusOr<Campaign> c = store_->Create(req);
    EXPECT_TRUE(c.ok()) << c.status();
    EXPECT_THAT(store_->Start(c->campaign_id()), IsOk());
    chosen_.clear();
    EXPECT_THAT(engine_->Tick(), IsOk());
    return *c;
  }

  // device id -> deployment id of `campaign`, for devices in `state`.
  std::map<std::string, std::string> In(const std::string& campaign,
                                        ota::v1::DeploymentState state) {
    std::map<std::string, std::string> out;
    EXPECT_TRUE(db_->Transact([&](pqxx::work& txn) {
      out.clear();
      for (const auto& r : txn.exec_params(
               "SELECT device_id, deployment_id FROM deployments WHERE campaign_id = $1 "
               "AND state = $2",
               campaign, static_cast<int>(state))) {
        out[r[0].c_str()] = r[1].c_str();
      }
      return absl::OkStatus();
    }).ok());
    return out;
  }

  static std::vector<std::string> Keys(const std::map<std::string, std::string>& m) {
    std::vector<std::string> out;
    for (const auto& [k, v] : m) out.push_back(k);
    return out;
  }

  std::string Metrics() {
    return prometheus::TextSerializer().Serialize(metrics_.Collect());
  }

  common::FakeClock clock_{kNow * 1000};
  std::string url_;
  std::unique_ptr<Database> db_;
  std::string vendor_, class_, manifest_id_;
  std::unique_ptr<CampaignStore> store_;
  std::unique_ptr<Engine> engine_;
  std::vector<std::string> chosen_;
  DeviceHub hub_;
  std::map<std::string, FakeStream> streams_;
  prometheus::Registry metrics_;
  std::unique_ptr<CampaignFanout> fanout_;
};
TEST_F(CampaignFanoutTest, AWaveReachesTheConnectedDevicesInOnePass) {
  for (int i = 1; i <= 5; ++i) AddDevice(absl::StrCat("dev-", i));
  Connect("dev-1");
  Connect("dev-2");
  Connect("dev-3");
  Connect("elsewhere");  // a stream here whose device the campaign does not target
  ota::v1::RolloutPolicy policy;
  policy.set_failure_ratio(1);
  Campaign c = StartCampaign(policy);
  ASSERT_EQ(chosen_.size(), 5u);
  const std::map<std::string, std::string> pending = In(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING);
  ASSERT_EQ(pending.size(), 5u);

  ASSERT_OK_AND_ASSIGN(CampaignFanout::Pass pass,
                       fanout_->RunPass(c.campaign_id(), {.chosen = chosen_}));
  EXPECT_EQ(pass.connected, 4u);
  EXPECT_EQ(pass.taken, 3u);
  EXPECT_EQ(pass.offered, 3u);
  EXPECT_EQ(pass.woken, 0u);
  // Durable before the streams had them: NOTIFIED in the database.
  EXPECT_THAT(Keys(In(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_NOTIFIED)),
              ElementsAre("dev-1", "dev-2", "dev-3"));
  EXPECT_THAT(Keys(In(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING)),
              ElementsAre("dev-4", "dev-5"));
  // Each stream got its own deployment with the campaign's manifest, and
  // none was woken for a lookup of its own.
  ASSERT_OK_AND_ASSIGN(ota::v1::Deployment resent, NextDeployment(db_.get(), "dev-1", kNow * 1000));
  for (const std::string id : {"dev-1", "dev-2", "dev-3"}) {
    const FakeStream& s = streams_[id];
    ASSERT_EQ(s.sent.size(), 1u) << id;
    EXPECT_EQ(s.sent[0].deployment().deployment_id(), pending.at(id));
    EXPECT_EQ(s.sent[0].deployment().campaign_id(), c.campaign_id());
    EXPECT_EQ(s.sent[0].deployment().manifest().SerializeAsString(),
              resent.manifest().SerializeAsString());
    EXPECT_EQ(s.woken, 0) << id;
  }
  EXPECT_THAT(streams_["elsewhere"].sent, IsEmpty());

  // A pass over every device here offers the NOTIFIED ones again (their
  // streams drop what they sent already); a device that connects later is
  // taken by the next pass.
  ASSERT_OK_AND_ASSIGN(pass, fanout_->RunPass(c.campaign_id(), CampaignFanout::Selection::All()));
  EXPECT_EQ(pass.taken, 3u);
  Connect("dev-4");
  ASSERT_OK_AND_ASSIGN(pass, fanout_->RunPass(c.campaign_id(), CampaignFanout::Selection::All()));
  EXPECT_EQ(pass.taken, 4u);
  EXPECT_EQ(pass.offered, 1u);  // dev-4's; the others' streams had theirs
  EXPECT_EQ(streams_["dev-4"].sent.size(), 1u);
  EXPECT_EQ(streams_["dev-1"].sent.size(), 1u);
  EXPECT_THAT(Keys(In(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING)), ElementsAre("dev-5"));
}

TEST_F(CampaignFanoutTest, DevicesOnlineWhenChosenAreWrittenNotifiedAndSentByRange) {
  for (int i = 1; i <= 4; ++i) AddDevice(absl::StrCat("dev-", i));
  for (int i = 1; i <= 3; ++i) {
    MarkOnline(absl::StrCat("dev-", i));
    Connect(absl::StrCat("dev-", i));
  }
  ota::v1::RolloutPolicy policy;
  policy.set_failure_ratio(1);
  Campaign c = StartCampaign(policy);
  // One write per deployment: the engine wrote the online devices' rows
  // NOTIFIED, the offline device's PENDING.
  const auto notified = In(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_NOTIFIED);
  EXPECT_THAT(Keys(notified), ElementsAre("dev-1", "dev-2", "dev-3"));
  EXPECT_THAT(Keys(In(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING)), ElementsAre("dev-4"));

  // Another replica's engine chose dev-2 to dev-4: only those are looked at.
  ASSERT_OK_AND_ASSIGN(CampaignFanout::Pass pass,
                       fanout_->RunPass(c.campaign_id(), {.ranges = {{"dev-2", "dev-4"}}}));
  EXPECT_EQ(pass.connected, 3u);
  EXPECT_EQ(pass.taken, 2u);
  EXPECT_EQ(pass.offered, 2u);
  EXPECT_THAT(streams_["dev-1"].sent, IsEmpty());
  for (const std::string id : {"dev-2", "dev-3"}) {
    ASSERT_EQ(streams_[id].sent.size(), 1u) << id;
    EXPECT_EQ(streams_[id].sent[0].deployment().deployment_id(), notified.at(id));
  }
  // A range reaching no device here, and an empty selection, take nothing.
  ASSERT_OK_AND_ASSIGN(pass, fanout_->RunPass(c.campaign_id(), {.ranges = {{"dev-5", "dev-9"}}}));
  EXPECT_EQ(pass.taken, 0u);
  ASSERT_OK_AND_ASSIGN(pass, fanout_->RunPass(c.campaign_id(), {}));
  EXPECT_EQ(pass.taken, 0u);

  // The offline device connects: its PENDING row is marked and sent.
  Connect("dev-4");
  ASSERT_OK_AND_ASSIGN(pass, fanout_->RunPass(c.campaign_id(), {.ranges = {{"dev-4", "dev-4"}}}));
  EXPECT_EQ(pass.taken, 1u);
  EXPECT_EQ(streams_["dev-4"].sent.size(), 1u);
  EXPECT_THAT(In(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING), IsEmpty());

  // Queued events: a range and the engine's own choice merge into one pass.
  fanout_->CampaignReady(c.campaign_id(), DeviceRange{"dev-1", "dev-1"});
  fanout_->CampaignReady(c.campaign_id(), std::vector<std::string>{"dev-3"});
  fanout_->Drain();
  EXPECT_EQ(streams_["dev-1"].sent.size(), 1u);
  // Deployments streams took as new, all passes: 2 + 1 + 1 (dev-3's
  // stream dropped its repeat).
  EXPECT_THAT(Metrics(), HasSubstr("otad_fanout_deployments_total 4\n"));
}

TEST_F(CampaignFanoutTest, ADeviceGoneMidPassGetsItsDeploymentWhenItConnectsAgain) {
  AddDevice("dev-1");
  AddDevice("dev-2");
  Connect("dev-1");
  FakeStream* leaving = Connect("dev-2");
  leaving->closed = true;  // its client went away while the pass ran
  ota::v1::RolloutPolicy policy;
  policy.set_failure_ratio(1);
  Campaign c = StartCampaign(policy);
  const auto pending = In(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING);
  ASSERT_OK_AND_ASSIGN(CampaignFanout::Pass pass, fanout_->RunPass(c.campaign_id(), CampaignFanout::Selection::All()));
  EXPECT_EQ(pass.taken, 2u);
  EXPECT_THAT(leaving->sent, IsEmpty());
  // A stream gone between the ids and the offer is not offered at all.
  hub_.Detach("dev-2", leaving->waker);
  ASSERT_OK_AND_ASSIGN(pass, fanout_->RunPass(c.campaign_id(), CampaignFanout::Selection::All()));
  EXPECT_EQ(pass.connected, 1u);
  EXPECT_EQ(pass.taken, 1u);  // dev-1's, again
  EXPECT_THAT(streams_["dev-1"].sent, ::testing::SizeIs(1));
  // NOTIFIED is "sent, maybe not received": the next connect sends it again.
  EXPECT_THAT(Keys(In(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_NOTIFIED)),
              ElementsAre("dev-1", "dev-2"));
  ASSERT_OK_AND_ASSIGN(ota::v1::Deployment again, NextDeployment(db_.get(), "dev-2", kNow * 1000));
  EXPECT_EQ(again.deployment_id(), pending.at("dev-2"));
  ASSERT_OK_AND_ASSIGN(auto batch, NextDeployments(db_.get(), {"dev-2"}, kNow * 1000));
  EXPECT_EQ(batch.at("dev-2").deployment_id(), pending.at("dev-2"));
}

TEST_F(CampaignFanoutTest, ADeploymentALookupHoldsIsSkippedNotWaitedFor) {
  AddDevice("dev-1");
  AddDevice("dev-2");
  Connect("dev-1");
  Connect("dev-2");
  ota::v1::RolloutPolicy policy;
  policy.set_failure_ratio(1);
  Campaign c = StartCampaign(policy);
  // Another transaction (a device's own lookup) has dev-2's row.
  pqxx::connection other(url_);
  pqxx::work holding(other);
  holding.exec_params("SELECT 1 FROM deployments WHERE device_id = $1 FOR UPDATE", "dev-2");
  ASSERT_OK_AND_ASSIGN(CampaignFanout::Pass pass, fanout_->RunPass(c.campaign_id(), CampaignFanout::Selection::All()));
  EXPECT_EQ(pass.taken, 1u);
  EXPECT_EQ(streams_["dev-1"].sent.size(), 1u);
  EXPECT_THAT(streams_["dev-2"].sent, IsEmpty());
  EXPECT_THAT(Keys(In(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING)), ElementsAre("dev-2"));
  holding.abort();
  // Released, the next pass takes it (and offers dev-1's again).
  ASSERT_OK_AND_ASSIGN(pass, fanout_->RunPass(c.campaign_id(), CampaignFanout::Selection::All()));
  EXPECT_EQ(pass.taken, 2u);
  EXPECT_EQ(streams_["dev-1"].sent.size(), 1u);
  EXPECT_EQ(streams_["dev-2"].sent.size(), 1u);
}

TEST_F(CampaignFanoutTest, ACappedCampaignIsLeftToTheLookupsThatHoldTheCap) {
  AddDevice("dev-1", "cell-a");
  AddDevice("dev-2", "cell-a");
  AddDevice("dev-3", "cell-a");
  AddDevice("dev-4", "cell-b");
  AddDevice("dev-5", "cell-b");
  for (int i = 1; i <= 5; ++i) {
    MarkOnline(absl::StrCat("dev-", i));
    Connect(absl::StrCat("dev-", i));
  }
  ota::v1::RolloutPolicy policy;
  policy.set_failure_ratio(1);
  policy.mutable_download_cap()->set_attribute("region");
  policy.mutable_download_cap()->set_max_concurrent(1);
  Campaign c = StartCampaign(policy);
  // The engine chose one device per group.
  EXPECT_THAT(chosen_, ElementsAre("dev-1", "dev-4"));

  ASSERT_OK_AND_ASSIGN(CampaignFanout::Pass pass,
                       fanout_->RunPass(c.campaign_id(), {.chosen = chosen_}));
  EXPECT_EQ(pass.taken, 0u);
  EXPECT_EQ(pass.offered, 0u);
  EXPECT_EQ(pass.woken, 2u);
  // Nothing was marked or sent early, online or not; only the chosen were
  // woken.
  EXPECT_EQ(In(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING).size(), 5u);
  EXPECT_THAT(In(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_NOTIFIED), IsEmpty());
  for (int i = 1; i <= 5; ++i) {
    const FakeStream& s = streams_[absl::StrCat("dev-", i)];
    EXPECT_THAT(s.sent, IsEmpty());
    EXPECT_EQ(s.woken, (i == 1 || i == 4) ? 1 : 0) << i;
  }
  // Another replica's event names no devices: every waiting one is woken,
  // and each lookup holds its group to the cap.
  ASSERT_OK_AND_ASSIGN(pass, fanout_->RunPass(c.campaign_id(), CampaignFanout::Selection::All()));
  EXPECT_EQ(pass.woken, 5u);
  EXPECT_EQ(In(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING).size(), 5u);
  ASSERT_THAT(NextDeployment(db_.get(), "dev-1", kNow * 1000), IsOk());
  EXPECT_THAT(NextDeployment(db_.get(), "dev-2", kNow * 1000),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("\"cell-a\"")));
  EXPECT_THAT(Metrics(), HasSubstr("otad_fanout_capped_wakes_total 7\n"));
  EXPECT_THAT(Metrics(), HasSubstr("otad_fanout_deployments_total 0\n"));
}

TEST_F(CampaignFanoutTest, APausedOrStoppedCampaignSendsNothing) {
  AddDevice("dev-1");
  Connect("dev-1");
  ota::v1::RolloutPolicy policy;
  policy.set_failure_ratio(1);
  Campaign c = StartCampaign(policy);
  ASSERT_THAT(store_->Pause(c.campaign_id(), "a look"), IsOk());
  ASSERT_OK_AND_ASSIGN(CampaignFanout::Pass pass, fanout_->RunPass(c.campaign_id(), CampaignFanout::Selection::All()));
  EXPECT_EQ(pass.taken, 0u);
  EXPECT_EQ(In(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_PENDING).size(), 1u);
  ASSERT_THAT(store_->Stop(c.campaign_id(), "enough"), IsOk());
  ASSERT_OK_AND_ASSIGN(pass, fanout_->RunPass(c.campaign_id(), CampaignFanout::Selection::All()));
  EXPECT_EQ(pass.taken, 0u);
  EXPECT_THAT(In(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_CANCELLED), ::testing::SizeIs(1));
  EXPECT_THAT(streams_["dev-1"].sent, IsEmpty());
  ASSERT_OK_AND_ASSIGN(pass, fanout_->RunPass("no-such-campaign", CampaignFanout::Selection::All()));
  EXPECT_EQ(pass.taken, 0u);
}

TEST_F(CampaignFanoutTest, QueuedEventsOfOneCampaignSendEachDeploymentOnce) {
  for (int i = 1; i <= 3; ++i) {
    AddDevice(absl::StrCat("dev-", i));
    Connect(absl::StrCat("dev-", i));
  }
  ota::v1::RolloutPolicy policy;
  policy.set_failure_ratio(1);
  Campaign c = StartCampaign(policy);
  fanout_->CampaignReady(c.campaign_id(), chosen_);
  fanout_->CampaignReady(c.campaign_id());
  fanout_->CampaignReady(c.campaign_id());
  fanout_->Drain();
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(streams_[absl::StrCat("dev-", i)].sent.size(), 1u);
  EXPECT_EQ(In(c.campaign_id(), ota::v1::DEPLOYMENT_STATE_NOTIFIED).size(), 3u);
}

}  // namespace
}  // namespace ota::server
