#include "server/gateway/path_template.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ota::server::gateway {
namespace {

using ::ota::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

MATCHER_P2(Bound, field, value, "") { return arg.field_path == field && arg.value == value; }

PathTemplate MustParse(absl::string_view text) {
  absl::StatusOr<PathTemplate> t = PathTemplate::Parse(text);
  EXPECT_TRUE(t.ok()) << t.status();
  return *t;
}

TEST(PathTemplateTest, LiteralsOnly) {
  PathTemplate t = MustParse("/v1/campaigns");
  EXPECT_THAT(t.Match("/v1/campaigns"), ::testing::Optional(::testing::IsEmpty()));
  EXPECT_EQ(t.Match("/v1/campaigns/"), std::nullopt);
  EXPECT_EQ(t.Match("/v1/campaign"), std::nullopt);
  EXPECT_EQ(t.Match("/v1"), std::nullopt);
  EXPECT_EQ(t.Match("v1/campaigns"), std::nullopt);
  EXPECT_EQ(t.OpenApiPath(), "/v1/campaigns");
  EXPECT_EQ(t.verb(), "");
}

TEST(PathTemplateTest, SimpleVariable) {
  PathTemplate t = MustParse("/v1/certificates/{key_id}");
  EXPECT_THAT(t.variables(), ElementsAre("key_id"));
  EXPECT_THAT(*t.Match("/v1/certificates/ab12"), ElementsAre(Bound("key_id", "ab12")));
  EXPECT_EQ(t.Match("/v1/certificates/"), std::nullopt) << "a variable is never empty";
  EXPECT_EQ(t.Match("/v1/certificates/a/b"), std::nullopt) << "one segment only";
  EXPECT_EQ(t.OpenApiPath(), "/v1/certificates/{key_id}");
}

TEST(PathTemplateTest, PercentDecodingOfVariables) {
  PathTemplate t = MustParse("/v1/devices/{device_id}");
  EXPECT_THAT(*t.Match("/v1/devices/gw%201"), ElementsAre(Bound("device_id", "gw 1")));
  EXPECT_THAT(*t.Match("/v1/devices/a%2Fb"), ElementsAre(Bound("device_id", "a/b")))
      << "an encoded slash stays inside the one segment";
  EXPECT_THAT(*t.Match("/v1/devices/%e2%82%ac"), ElementsAre(Bound("device_id", "\xe2\x82\xac")));
  EXPECT_EQ(t.Match("/v1/devices/bad%2"), std::nullopt);
  EXPECT_EQ(t.Match("/v1/devices/bad%zz"), std::nullopt);
}

TEST(PathTemplateTest, Verb) {
  PathTemplate t = MustParse("/v1/campaigns/{campaign_id}:start");
  EXPECT_EQ(t.verb(), "start");
  EXPECT_THAT(*t.Match("/v1/campaigns/c1:start"), ElementsAre(Bound("campaign_id", "c1")));
  EXPECT_THAT(*t.Match("/v1/campaigns/a:b:start"), ElementsAre(Bound("campaign_id", "a:b")));
  EXPECT_EQ(t.Match("/v1/campaigns/c1:stop"), std::nullopt);
  EXPECT_EQ(t.Match("/v1/campaigns/c1"), std::nullopt);
  EXPECT_EQ(t.Match("/v1/campaigns/:start"), std::nullopt);
  EXPECT_EQ(t.OpenApiPath(), "/v1/campaigns/{campaign_id}:start");

  PathTemplate literal = MustParse("/v1/keyList:publish");
  EXPECT_THAT(literal.Match("/v1/keyList:publish"), ::testing::Optional(::testing::IsEmpty()));
}

TEST(PathTemplateTest, VariableWithPattern) {
  PathTemplate t = MustParse("/v1/{name=shelves/*/books/*}");
  EXPECT_THAT(*t.Match("/v1/shelves/s1/books/b%2F2"),
              ElementsAre(Bound("name", "shelves/s1/books/b%2F2")))
      << "a multi-segment value keeps %2F";
  EXPECT_THAT(*t.Match("/v1/shelves/s%201/books/b"),
              ElementsAre(Bound("name", "shelves/s 1/books/b")));
  EXPECT_EQ(t.Match("/v1/shelves/s1/books"), std::nullopt);
  EXPECT_EQ(t.Match("/v1/shelves/s1/cds/b"), std::nullopt);
  EXPECT_EQ(t.OpenApiPath(), "/v1/{name}");
}

TEST(PathTemplateTest, Wildcards) {
  PathTemplate any = MustParse("/v1/*/items");
  EXPECT_THAT(any.Match("/v1/x/items"), ::testing::Optional(::testing::IsEmpty()));
  EXPECT_EQ(any.Match("/v1/x/y/items"), std::nullopt);

  PathTemplate rest = MustParse("/files/{path=**}");
  EXPECT_THAT(*rest.Match("/files/a/b/c.txt"), ElementsAre(Bound("path", "a/b/c.txt")));
  EXPECT_THAT(*rest.Match("/files/a%2Fb/c"), ElementsAre(Bound("path", "a%2Fb/c")));
  EXPECT_THAT(*rest.Match("/files/one"), ElementsAre(Bound("path", "one")));

  PathTemplate rest_verb = MustParse("/v1/{name=objects/**}:get");
  EXPECT_THAT(*rest_verb.Match("/v1/objects/a/b:get"), ElementsAre(Bound("name", "objects/a/b")));

  PathTemplate bare = MustParse("/static/**");
  EXPECT_THAT(bare.Match("/static/css/site.css"), ::testing::Optional(::testing::IsEmpty()));
}

TEST(PathTemplateTest, NestedFieldPaths) {
  PathTemplate t = MustParse("/v1/{policy.download_cap.attribute}/x/{name}");
  EXPECT_THAT(t.variables(), ElementsAre("policy.download_cap.attribute", "name"));
  EXPECT_THAT(*t.Match("/v1/cell/x/n"),
              ElementsAre(Bound("policy.download_cap.attribute", "cell"), Bound("name", "n")));
  EXPECT_EQ(t.OpenApiPath(), "/v1/{policy.download_cap.attribute}/x/{name}");
}

TEST(PathTemplateTest, LiteralsCompareDecoded) {
  PathTemplate t = MustParse("/v1/a%20b");
  EXPECT_TRUE(t.Match("/v1/a%20b").has_value());
  EXPECT_TRUE(t.Match("/v1/a b").has_value());
}

TEST(PathTemplateTest, BadTemplatesAreRejected) {
  struct Case {
    const char* text;
    const char* why;
  };
  for (const Case& c : std::vector<Case>{
           {"", "must start with '/'"},
           {"v1/x", "must start with '/'"},
           {"/v1//x", "empty segment"},
           {"/v1/x/", "empty segment"},
           {"/v1/{id", "'{' without '}'"},
           {"/v1/id}", "'}' without '{'"},
           {"/v1/{a={b}}", "nested variables are not allowed"},
           {"/v1/{}", "bad field path \"\""},
           {"/v1/{a.}", "bad field path \"a.\""},
           {"/v1/{1a}", "bad field path \"1a\""},
           {"/v1/{a-b}", "bad field path \"a-b\""},
           {"/v1/{a}/{a}", "field \"a\" bound twice"},
           {"/v1/{a=}", "empty pattern for \"a\""},
           {"/v1/**/x", "'**' must be the last segment"},
           {"/v1/{a=**}/x", "'**' must be the last segment"},
           {"/v1/x:", "empty verb after ':'"},
           {"/v1/x:a/b", "reserved character ':'"},
           {"/v1/x{a}", "a variable must be a whole segment"},
           {"/v1/a=b", "reserved character '='"},
           {"/v1/a*", "reserved character '*'"},
           {"/v1/a%zz", "bad percent escape"},
           {"/v1/x:st*rt", "bad character '*' in verb"},
       }) {
    EXPECT_THAT(PathTemplate::Parse(c.text),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.why)))
        << c.text;
  }
}

TEST(PathTemplateTest, Specificity) {
  PathTemplate get = MustParse("/v1/campaigns/{campaign_id}");
  PathTemplate watch = MustParse("/v1/campaigns/{campaign_id}:watch");
  PathTemplate deployments = MustParse("/v1/campaigns/{campaign_id}/deployments");
  PathTemplate any = MustParse("/v1/campaigns/{campaign_id}/{x}");
  EXPECT_TRUE(watch.MoreSpecificThan(get));
  EXPECT_FALSE(get.MoreSpecificThan(watch));
  EXPECT_TRUE(deployments.MoreSpecificThan(any));
  EXPECT_FALSE(any.MoreSpecificThan(deployments));
}

TEST(PercentDecodeTest, Forms) {
  EXPECT_EQ(*PercentDecode("a%41%2fb"), "aA/b");
  EXPECT_EQ(*PercentDecode("a%41%2fb", /*keep_slash=*/true), "aA%2fb");
  EXPECT_THAT(PercentDecode("%4"), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("bad percent escape at position 0")));
}

}  // namespace
}  // namespace ota::server::gateway
