#include "server/store/database.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/pg/postgres_test.h"

namespace ota::server {
namespace {

using ::ota::testing::IsOk;
using ::ota::testing::PostgresCluster;
using ::ota::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class DatabaseTest : public ota::testing::PostgresTest {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(url_, cluster_->CreateDatabase());
    ASSERT_OK_AND_ASSIGN(db_, Database::Open(url_, 2));
  }
  std::string url_;
  std::unique_ptr<Database> db_;
};
TEST_F(DatabaseTest, MigrateAppliesOnceInOrder) {
  ASSERT_OK_AND_ASSIGN(std::vector<int> first, db_->Migrate());
  EXPECT_EQ(first.size(), Migrations().size());
  EXPECT_EQ(first.front(), 1);
  ASSERT_OK_AND_ASSIGN(std::vector<int> again, db_->Migrate());
  EXPECT_THAT(again, IsEmpty());
}

TEST_F(DatabaseTest, ErrorStatusIsReturnedAndRolledBack) {
  ASSERT_THAT(db_->Migrate(), IsOk());
  absl::Status s = db_->Transact([](pqxx::work& txn) {
    txn.exec("INSERT INTO assets (sha256, size, created_unix, updated_unix) VALUES ('a', 1, 0, 0)");
    return absl::FailedPreconditionError("changed my mind");
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition, "changed my mind"));
  int64_t count = -1;
  ASSERT_THAT(db_->Transact([&](pqxx::work& txn) {
    count = txn.exec1("SELECT count(*) FROM assets")[0].as<int64_t>();
    return absl::OkStatus();
  }), IsOk());
  EXPECT_EQ(count, 0);
}

TEST_F(DatabaseTest, ConstraintViolationsMapToCodes) {
  ASSERT_THAT(db_->Migrate(), IsOk());
  auto insert = [&](const std::string& sql) {
    return db_->Transact([&](pqxx::work& txn) {
      txn.exec(sql);
      return absl::OkStatus();
    });
  };
  ASSERT_THAT(insert("INSERT INTO assets (sha256, size, created_unix, updated_unix) VALUES ('a', 1, 0, 0)"), IsOk());
  EXPECT_THAT(insert("INSERT INTO assets (sha256, size, created_unix, updated_unix) VALUES ('a', 1, 0, 0)"),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("duplicate key")));
  EXPECT_THAT(insert("INSERT INTO assets (sha256, size, created_unix, updated_unix) VALUES ('b', 0, 0, 0)"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("check constraint")));
  EXPECT_THAT(insert("INSERT INTO manifests (manifest_id, signed_manifest, vendor_id, class_id, "
                     "sequence_number, payload_sha256, payload_size, signing_key_ids, created_unix) "
                     "VALUES ('m', '', 'v', 'c', 1, 'nope', 1, '{}', 0)"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("foreign key")));
  // Campaigns are kept: deleting one, or emptying the table, is refused.
  ASSERT_THAT(insert("INSERT INTO manifests (manifest_id, signed_manifest, vendor_id, class_id, "
                     "sequence_number, payload_sha256, payload_size, signing_key_ids, created_unix) "
                     "VALUES ('m', '', 'v', 'c', 1, 'a', 1, '{}', 0)"),
              IsOk());
  ASSERT_THAT(insert("INSERT INTO campaigns (campaign_id, name, manifest_id, policy, state, "
                     "created_unix) VALUES ('c', 'c', 'm', '', 1, 0)"),
              IsOk());
  for (const char* sql : {"DELETE FROM campaigns WHERE campaign_id = 'c'", "TRUNCATE campaigns CASCADE"}) {
    EXPECT_THAT(insert(sql), StatusIs(absl::StatusCode::kFailedPrecondition,
                                      HasSubstr("campaigns are kept as the record of their rollout")))
        << sql;
  }
}

TEST_F(DatabaseTest, RestartGivesUnavailableThenRecovers) {
  ASSERT_THAT(db_->Migrate(), IsOk());
  auto ping = [&] {
    return db_->Transact([](pqxx::work& txn) {
      txn.exec("SELECT 1");
      return absl::OkStatus();
    });
  };
  ASSERT_THAT(ping(), IsOk());
  ASSERT_THAT(cluster_->Stop(), IsOk());
  EXPECT_THAT(ping(), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("database")));
  EXPECT_THAT(ping(), StatusIs(absl::StatusCode::kUnavailable, HasSubstr("cannot connect")));
  ASSERT_THAT(cluster_->Restart(), IsOk());
  EXPECT_THAT(ping(), IsOk());
}

TEST(DatabaseOpenTest, UnreachableServerIsUnavailable) {
  EXPECT_THAT(Database::Open("postgresql://postgres@/none?host=/nonexistent", 1),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("cannot connect to the database")));
}

}  // namespace
}  // namespace ota::server
