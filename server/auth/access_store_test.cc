// Tokens, roles and the audit log on a real PostgreSQL.
#include "server/auth/access_store.h"

#include "common/base/clock.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test/pg/postgres_test.h"

namespace ota::server {
namespace {

using ::ota::testing::IsOk;
using ::ota::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ota::v1::Role;

constexpr int64_t kNow = 1800000000;

class AccessStoreTest : public ota::testing::PostgresTest {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(std::string url, cluster_->CreateDatabase());
    ASSERT_OK_AND_ASSIGN(db_, Database::Open(url, 2));
    ASSERT_TRUE(db_->Migrate().ok());
    store_ = std::make_unique<AccessStore>(db_.get(), &clock_);
  }
  common::FakeClock clock_{kNow * 1000};
  std::unique_ptr<Database> db_;
  std::unique_ptr<AccessStore> store_;
};
TEST_F(AccessStoreTest, CreateAuthenticateRevoke) {
  ASSERT_OK_AND_ASSIGN(auto created,
                       store_->CreateToken("ci", ota::v1::ROLE_OPERATOR, 0, "bootstrap"));
  EXPECT_THAT(created.secret(), MatchesRegex("ota_[0-9a-f]{16}_[0-9a-f]{64}"));
  EXPECT_EQ(created.secret().substr(4, 16), created.token().token_id());
  EXPECT_EQ(created.token().name(), "ci");
  EXPECT_EQ(created.token().created_by(), "bootstrap");
  EXPECT_EQ(created.token().created_unix(), kNow);

  ASSERT_OK_AND_ASSIGN(Principal who, store_->Authenticate(created.secret()));
  EXPECT_EQ(who.name, "ci");
  EXPECT_EQ(who.role, ota::v1::ROLE_OPERATOR);
  EXPECT_EQ(who.token_id, created.token().token_id());

  // A secret with the right id and a wrong tail, a malformed one.
  std::string wrong = created.secret();
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  EXPECT_THAT(store_->Authenticate(wrong),
              StatusIs(absl::StatusCode::kUnauthenticated, "the bearer token is not known"));
  EXPECT_THAT(store_->Authenticate("hunter2"),
              StatusIs(absl::StatusCode::kUnauthenticated, "the bearer token is malformed"));

  EXPECT_THAT(store_->CreateToken("ci", ota::v1::ROLE_VIEWER, 0, "x"),
              StatusIs(absl::StatusCode::kAlreadyExists, "a token named \"ci\" exists"));
  ASSERT_OK_AND_ASSIGN(auto revoked, store_->RevokeToken(created.token().token_id()));
  EXPECT_TRUE(revoked.revoked());
  EXPECT_EQ(revoked.revoked_unix(), kNow);
  EXPECT_THAT(store_->Authenticate(created.secret()),
              StatusIs(absl::StatusCode::kUnauthenticated, "token \"ci\" was revoked"));
  EXPECT_THAT(store_->RevokeToken(created.token().token_id()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already revoked")));
  EXPECT_THAT(store_->RevokeToken("00"), StatusIs(absl::StatusCode::kNotFound,
                                                  "token 00 does not exist"));
  // The name is free again once revoked.
  EXPECT_THAT(store_->CreateToken("ci", ota::v1::ROLE_VIEWER, 0, "x"), IsOk());
}

TEST_F(AccessStoreTest, ExpiryAndBadInput) {
  ASSERT_OK_AND_ASSIGN(auto t, store_->CreateToken("short", ota::v1::ROLE_VIEWER, kNow + 10, "a"));
  EXPECT_THAT(store_->Authenticate(t.secret()), IsOk());
  clock_.AdvanceMillis(10000);
  EXPECT_THAT(store_->Authenticate(t.secret()),
              StatusIs(absl::StatusCode::kUnauthenticated, "token \"short\" expired"));
  EXPECT_THAT(store_->CreateToken("", ota::v1::ROLE_VIEWER, 0, "a"),
              StatusIs(absl::StatusCode::kInvalidArgument, "name must be 1 to 64 characters"));
  EXPECT_THAT(store_->CreateToken("x", ota::v1::ROLE_UNSPECIFIED, 0, "a"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "role must be VIEWER, OPERATOR, PUBLISHER or ADMIN"));
  EXPECT_THAT(store_->CreateToken("x", ota::v1::ROLE_VIEWER, kNow, "a"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("is not in the future")));
}

TEST_F(AccessStoreTest, RolesIncludeWhatTheyShould) {
  auto who = [](Role r) { return Principal{"id", "t", r}; };
  EXPECT_THAT(Authorize(who(ota::v1::ROLE_ADMIN), ota::v1::ROLE_PUBLISHER), IsOk());
  EXPECT_THAT(Authorize(who(ota::v1::ROLE_OPERATOR), ota::v1::ROLE_VIEWER), IsOk());
  EXPECT_THAT(Authorize(who(ota::v1::ROLE_PUBLISHER), ota::v1::ROLE_VIEWER), IsOk());
  EXPECT_THAT(Authorize(who(ota::v1::ROLE_OPERATOR), ota::v1::ROLE_PUBLISHER),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "token \"t\" has role OPERATOR; this call needs PUBLISHER"));
  EXPECT_THAT(Authorize(who(ota::v1::ROLE_PUBLISHER), ota::v1::ROLE_OPERATOR),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "token \"t\" has role PUBLISHER; this call needs OPERATOR"));
  EXPECT_THAT(Authorize(who(ota::v1::ROLE_VIEWER), ota::v1::ROLE_OPERATOR),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "token \"t\" has role VIEWER; this call needs OPERATOR"));
  EXPECT_THAT(Authorize(who(ota::v1::ROLE_OPERATOR), ota::v1::ROLE_ADMIN),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "token \"t\" has role OPERATOR; this call needs ADMIN"));
  EXPECT_THAT(ParseRole("operator"), IsOk());
  EXPECT_EQ(*ParseRole("ROLE_ADMIN"), ota::v1::ROLE_ADMIN);
  EXPECT_THAT(ParseRole("root"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "role \"root\" is not one of viewer, operator, publisher, admin"));
}

TEST_F(AccessStoreTest, ListsPageNewestFirst) {
  for (int i = 0; i < 5; ++i) {
    clock_.AdvanceMillis(1000);
    ASSERT_THAT(store_->CreateToken("t" + std::to_string(i), ota::v1::ROLE_VIEWER, 0, "a"), IsOk());
  }
  ASSERT_OK_AND_ASSIGN(auto first, store_->ListTokens([] {
    ota::v1::ListTokensRequest r;
    r.set_page_size(3);
    return r;
  }()));
  ASSERT_EQ(first.items.size(), 3u);
  EXPECT_EQ(first.items[0].name(), "t4");
  ota::v1::ListTokensRequest next;
  next.set_page_size(3);
  next.set_page_token(first.next_page_token);
  ASSERT_OK_AND_ASSIGN(auto second, store_->ListTokens(next));
  ASSERT_EQ(second.items.size(), 2u);
  EXPECT_EQ(second.items[1].name(), "t0");
  EXPECT_EQ(second.next_page_token, "");
}

TEST_F(AccessStoreTest, AuditLogIsAppendOnly) {
  ota::v1::AuditEvent e;
  e.set_actor("ci");
  e.set_actor_token_id("abcd");
  e.set_action("/ota.v1.CampaignService/StartCampaign");
  e.set_target("campaigns/42");
  e.set_result_code(9);
  e.set_result_message("campaign 42 is ACTIVE");
  e.set_peer("ipv4:127.0.0.1:5000");
  ASSERT_THAT(store_->Audit(e), IsOk());
  e.set_actor("");
  e.set_result_code(16);
  ASSERT_THAT(store_->Audit(e), IsOk());
  ota::v1::ListAuditEventsRequest all;
  ASSERT_OK_AND_ASSIGN(auto page, store_->ListAuditEvents(all));
  ASSERT_EQ(page.items.size(), 2u);
  EXPECT_EQ(page.items[0].result_code(), 16);  // newest first
  EXPECT_EQ(page.items[1].actor(), "ci");
  EXPECT_EQ(page.items[1].target(), "campaigns/42");
  EXPECT_EQ(page.items[1].time_ms(), kNow * 1000);
  all.set_actor("ci");
  ASSERT_OK_AND_ASSIGN(page, store_->ListAuditEvents(all));
  EXPECT_EQ(page.items.size(), 1u);

  // Nobody rewrites history, not even with SQL.
  absl::Status s = db_->Transact([](pqxx::work& txn) {
    txn.exec("DELETE FROM audit_events");
    return absl::OkStatus();
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInternal, HasSubstr("audit_events is append-only")));
  s = db_->Transact([](pqxx::work& txn) {
    txn.exec("UPDATE audit_events SET actor = 'someone else'");
    return absl::OkStatus();
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInternal, HasSubstr("audit_events is append-only")));
}

}  // namespace
}  // namespace ota::server
