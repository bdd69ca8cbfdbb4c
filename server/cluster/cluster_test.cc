// Cluster events and the engine lease on a real PostgreSQL.
#include <mutex>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/cluster/events.h"
#include "server/cluster/lease.h"
#include "test/pg/postgres_cluster.h"

namespace ota::server {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Collects events; WaitFor polls until `n` have arrived or 10 s passed.
struct Inbox {
  std::mutex mu;
  std::vector<std::string> seen;
  ClusterEvents::Handler handler() {
    return [this](const ClusterEvent& e) {
      std::lock_guard<std::mutex> lock(mu);
      seen.push_back(e.kind + ":" + e.campaign_id +
                     (e.devices.all() ? "" : "[" + e.devices.first + ".." + e.devices.last + "]"));
    };
  }
  std::vector<std::string> WaitFor(size_t n) {
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (seen.size() >= n) return seen;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    std::lock_guard<std::mutex> lock(mu);
    return seen;
  }
};

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = ota::testing::PostgresCluster::Start();
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(*c);
    auto url = cluster_->CreateDatabase();
    ASSERT_TRUE(url.ok()) << url.status();
    url_ = *url;
  }
  void Publish(const std::string& replica, const std::string& kind, const std::string& id,
               bool commit = true, const DeviceRange& devices = {}) {
    pqxx::connection conn(url_);
    pqxx::work txn(conn);
    ClusterEvents::Publish(txn, replica, kind, id, devices);
    if (commit) txn.commit();
  }
  std::unique_ptr<ota::testing::PostgresCluster> cluster_;
  std::string url_;
};

TEST_F(ClusterTest, EventsReachOtherReplicasAtCommitOnly) {
  Inbox a, b;
  auto ea = ClusterEvents::Start(url_, "replica-a", a.handler(), 100);
  auto eb = ClusterEvents::Start(url_, "replica-b", b.handler(), 100);
  absl::SleepFor(absl::Milliseconds(500));  // both listening

  Publish("replica-a", ClusterEvents::kDeploymentsReady, "c1");
  Publish("replica-b", ClusterEvents::kCampaignChanged, "c2", /*commit=*/false);  // rolled back
  Publish("replica-b", ClusterEvents::kCampaignChanged, "c3");
  EXPECT_THAT(b.WaitFor(1), ElementsAre("deployments:c1"));
  EXPECT_THAT(a.WaitFor(1), ElementsAre("campaign:c3"));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(ea->received(), 1u);
  EXPECT_EQ(eb->received(), 1u);
}

TEST_F(ClusterTest, AnEventCarriesTheRangeOfDevicesChosen) {
  Inbox b;
  auto eb = ClusterEvents::Start(url_, "replica-b", b.handler(), 100);
  absl::SleepFor(absl::Milliseconds(500));
  Publish("replica-a", ClusterEvents::kDeploymentsReady, "c1", true,
          DeviceRange{"gw 0001", "gw 0999"});  // ids with spaces
  // Too long for one notification: sent as every device, never dropped.
  Publish("replica-a", ClusterEvents::kDeploymentsReady, "c2", true,
          DeviceRange{std::string(3000, 'a'), std::string(3000, 'z')});
  EXPECT_THAT(b.WaitFor(2), ElementsAre("deployments:c1[gw 0001..gw 0999]", "deployments:c2"));
}

TEST_F(ClusterTest, ListenerReconnectsAndAsksForResync) {
  Inbox b;
  auto eb = ClusterEvents::Start(url_, "replica-b", b.handler(), 100);
  absl::SleepFor(absl::Milliseconds(500));
  ASSERT_TRUE(cluster_->Stop().ok());
  ASSERT_TRUE(cluster_->Restart().ok());
  EXPECT_THAT(b.WaitFor(1), ElementsAre("resync:"));
  absl::SleepFor(absl::Milliseconds(300));
  Publish("replica-a", ClusterEvents::kDeploymentsReady, "c9");
  EXPECT_THAT(b.WaitFor(2), ElementsAre("resync:", "deployments:c9"));
}

TEST_F(ClusterTest, OneLeaseHolderAndTakeoverWhenItsSessionEnds) {
  AdvisoryLease first(url_, AdvisoryLease::kEngineKey);
  AdvisoryLease second(url_, AdvisoryLease::kEngineKey);
  EXPECT_TRUE(first.Hold());
  EXPECT_FALSE(second.Hold());
  EXPECT_TRUE(first.Hold());  // still held, connection checked
  EXPECT_FALSE(second.Hold());

  // The leader's session dies (as when its process or host does); the
  // call waits until the backend is gone.
  {
    pqxx::connection conn(url_);
    pqxx::nontransaction txn(conn);
    pqxx::result r = txn.exec(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_locks WHERE locktype = 'advisory' "
        "AND granted");
    ASSERT_EQ(r.size(), 1u);
  }
  EXPECT_TRUE(second.Hold());
  EXPECT_FALSE(first.Hold());  // finds its connection gone, gives up
  EXPECT_FALSE(first.held());
  EXPECT_FALSE(first.Hold());  // reconnected, but the lock is taken

  second.Release();
  EXPECT_TRUE(first.Hold());
}

TEST_F(ClusterTest, LeaseWithoutDatabaseIsNotHeld) {
  AdvisoryLease lease("postgresql:///nosuchdb?host=/nonexistent", AdvisoryLease::kEngineKey);
  EXPECT_FALSE(lease.Hold());
  EXPECT_FALSE(lease.held());
}

}  // namespace
}  // namespace ota::server
