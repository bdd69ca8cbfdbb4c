#include "server/gateway/request_fields.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ota/v1/campaign_service.pb.h"
#include "ota/v1/certificate_service.pb.h"
#include "ota/v1/device_registry_service.pb.h"

namespace ota::server::gateway {
namespace {

using ::ota::testing::IsOk;
using ::ota::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Pair;

TEST(ParseQueryTest, DecodesInOrderKeepingRepeats) {
  auto q = ParseQuery("page_size=10&states=A&states=B&name=a+b%26c&flag&&x=%3D");
  ASSERT_THAT(q, IsOk());
  EXPECT_THAT(*q, ElementsAre(Pair("page_size", "10"), Pair("states", "A"), Pair("states", "B"),
                              Pair("name", "a b&c"), Pair("flag", ""), Pair("x", "=")));
  EXPECT_THAT(*ParseQuery(""), ElementsAre());
  EXPECT_THAT(ParseQuery("a=%G1"), StatusIs(absl::StatusCode::kInvalidArgument,
                                             "bad percent escape at position 0 of \"%G1\""));
}

TEST(SetFieldFromTextTest, Scalars) {
  v1::ListCampaignsRequest r;
  EXPECT_THAT(SetFieldFromText(&r, "page_size", "25"), IsOk());
  EXPECT_THAT(SetFieldFromText(&r, "pageToken", "t1"), IsOk()) << "JSON names work too";
  EXPECT_THAT(SetFieldFromText(&r, "manifest_id", "m 1"), IsOk());
  EXPECT_EQ(r.page_size(), 25);
  EXPECT_EQ(r.page_token(), "t1");
  EXPECT_EQ(r.manifest_id(), "m 1");

  v1::ListCertificatesRequest c;
  EXPECT_THAT(SetFieldFromText(&c, "include_revoked", "true"), IsOk());
  EXPECT_TRUE(c.include_revoked());
  EXPECT_THAT(SetFieldFromText(&c, "include_revoked", "0"), IsOk());
  EXPECT_FALSE(c.include_revoked());

  v1::ListDeploymentsRequest d;
  EXPECT_THAT(SetFieldFromText(&d, "wave", "4294967295"), IsOk());
  EXPECT_EQ(d.wave(), 4294967295u);
}

TEST(SetFieldFromTextTest, RepeatedEnumsByNameOrNumber) {
  v1::ListCampaignsRequest r;
  EXPECT_THAT(SetFieldFromText(&r, "states", "CAMPAIGN_STATE_ACTIVE"), IsOk());
  EXPECT_THAT(SetFieldFromText(&r, "states", "4"), IsOk());
  EXPECT_THAT(r.states(), ElementsAre(v1::CAMPAIGN_STATE_ACTIVE, v1::CAMPAIGN_STATE_PAUSED));
  EXPECT_THAT(SetFieldFromText(&r, "states", "RUNNING"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "field \"states\": \"RUNNING\" is not a value of ota.v1.CampaignState"));
  EXPECT_THAT(SetFieldFromText(&r, "states", "99"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "field \"states\": \"99\" is not a value of ota.v1.CampaignState"));
}

TEST(SetFieldFromTextTest, NestedFields) {
  v1::CreateCampaignRequest r;
  EXPECT_THAT(SetFieldFromText(&r, "policy.start_unix", "-5"), IsOk());
  EXPECT_THAT(SetFieldFromText(&r, "policy.downloadCap.attribute", "cell"), IsOk());
  EXPECT_THAT(SetFieldFromText(&r, "policy.success_ratio", "0.75"), IsOk());
  EXPECT_EQ(r.policy().start_unix(), -5);
  EXPECT_EQ(r.policy().download_cap().attribute(), "cell");
  EXPECT_EQ(r.policy().success_ratio(), 0.75);
}

TEST(SetFieldFromTextTest, BytesAsBase64) {
  v1::RegisterCertificateRequest r;
  EXPECT_THAT(SetFieldFromText(&r, "certificate_der", "AP8="), IsOk());
  EXPECT_EQ(r.certificate_der(), std::string("\x00\xff", 2));
  EXPECT_THAT(SetFieldFromText(&r, "certificate_der", "AP-A"), IsOk()) << "URL-safe";
  EXPECT_EQ(r.certificate_der(), std::string("\x00\xff\x80", 3));
  EXPECT_THAT(SetFieldFromText(&r, "certificate_der", "A*"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "field \"certificate_der\": \"A*\" is not base64"));
}

TEST(SetFieldFromTextTest, Refusals) {
  v1::ListCampaignsRequest r;
  EXPECT_THAT(SetFieldFromText(&r, "page_size", "ten"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "field \"page_size\": \"ten\" is not a 32-bit integer"));
  EXPECT_THAT(SetFieldFromText(&r, "page_size", "4294967296"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "field \"page_size\": \"4294967296\" is not a 32-bit integer"));
  EXPECT_THAT(SetFieldFromText(&r, "pageSize2", "1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "unknown field \"pageSize2\" in ota.v1.ListCampaignsRequest"));
  EXPECT_THAT(SetFieldFromText(&r, "page_size.x", "1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "field \"page_size.x\": \"page_size\" is not a message"));

  v1::ListCertificatesRequest c;
  EXPECT_THAT(SetFieldFromText(&c, "include_revoked", "yes"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "field \"include_revoked\": \"yes\" is not true or false"));

  v1::CreateCampaignRequest cc;
  EXPECT_THAT(SetFieldFromText(&cc, "policy", "x"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "field \"policy\" is a message; name one of its fields"));
  EXPECT_THAT(SetFieldFromText(&cc, "policy.waves.percent", "5"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "field \"policy.waves.percent\": \"waves\" is repeated"));

  v1::RegisterDeviceRequest d;
  EXPECT_THAT(SetFieldFromText(&d, "attributes", "a"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "field \"attributes\" is a map; send it in a JSON body"));
}

}  // namespace
}  // namespace ota::server::gateway
