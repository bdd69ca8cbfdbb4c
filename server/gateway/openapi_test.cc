// The OpenAPI document of otad's admin services: every annotated RPC is
// there with its method and path, every $ref resolves, every path
// parameter is declared, and the JSON mapping's types are right.
#include "server/gateway/openapi.h"

#include <set>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/api/annotations.pb.h"
#include "gtest/gtest.h"
#include "server/gateway/admin_services.h"
#include "server/gateway/api_descriptors.h"
#include "server/gateway/proto_comments.h"

namespace ota::server::gateway {
namespace {

using google::protobuf::Value;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAreArray;

// Compact JSON with sorted keys, for exact comparisons.
std::string ToJson(const Value& v) {
  switch (v.kind_case()) {
    case Value::kStructValue: {
      std::map<std::string, const Value*> sorted;
      for (const auto& [k, f] : v.struct_value().fields()) sorted[k] = &f;
      std::string out = "{";
      for (const auto& [k, f] : sorted) {
        absl::StrAppend(&out, out.size() > 1 ? "," : "", "\"", k, "\":", ToJson(*f));
      }
      return out + "}";
    }
    case Value::kListValue: {
      std::string out = "[";
      for (const Value& e : v.list_value().values()) {
        absl::StrAppend(&out, out.size() > 1 ? "," : "", ToJson(e));
      }
      return out + "]";
    }
    case Value::kStringValue:
      return absl::StrCat("\"", v.string_value(), "\"");
    case Value::kBoolValue:
      return v.bool_value() ? "true" : "false";
    default:
      return "null";
  }
}

class OpenApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto routes = RoutesForServices(AdminServices());
    ASSERT_TRUE(routes.ok()) << routes.status();
    routes_ = *std::move(routes);
    text_ = OpenApiDocument(routes_, "OTA update service", "v1");
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(text_, &doc_).ok()) << text_;
  }

  const Value& At(const Value& v, const std::string& key) {
    static const Value* kNull = new Value();
    const auto& fields = v.struct_value().fields();
    auto it = fields.find(key);
    return it == fields.end() ? *kNull : it->second;
  }
  const Value& Paths() { return At(doc_, "paths"); }
  const Value& Schema(const std::string& name) {
    return At(At(At(doc_, "components"), "schemas"), name);
  }

  std::vector<Route> routes_;
  std::string text_;
  Value doc_;
};

TEST_F(OpenApiTest, KeysAreSorted) {
  EXPECT_TRUE(absl::StartsWith(text_, "{\n  \"components\": {\n    \"schemas\": {\n")) << text_.substr(0, 80);
  EXPECT_EQ(text_, OpenApiDocument(routes_, "OTA update service", "v1"));
}

TEST_F(OpenApiTest, Header) {
  EXPECT_EQ(At(doc_, "openapi").string_value(), "3.0.3");
  EXPECT_EQ(ToJson(At(doc_, "info")), R"({"title":"OTA update service","version":"v1"})");
  std::vector<std::string> tags;
  for (const Value& t : At(doc_, "tags").list_value().values()) {
    tags.push_back(At(t, "name").string_value());
  }
  EXPECT_THAT(tags, ElementsAre("AccessService", "AssetService", "CampaignService",
                                "CertificateService", "DeviceRegistryService", "ManifestService"));
}

TEST_F(OpenApiTest, EveryAnnotatedRpcIsAnOperation) {
  // Counted from the descriptors directly, not from the routes.
  std::vector<std::string> expected;
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  for (const std::string& name : AdminServices()) {
    const auto* service = pool->FindServiceByName(name);
    ASSERT_NE(service, nullptr) << name;
    for (int i = 0; i < service->method_count(); ++i) {
      const auto* m = service->method(i);
      if (!m->options().HasExtension(google::api::http)) continue;
      const auto& rule = m->options().GetExtension(google::api::http);
      std::string method, path;
      if (!rule.get().empty()) method = "get", path = rule.get();
      if (!rule.post().empty()) method = "post", path = rule.post();
      if (!rule.put().empty()) method = "put", path = rule.put();
      if (!rule.patch().empty()) method = "patch", path = rule.patch();
      if (!rule.delete_().empty()) method = "delete", path = rule.delete_();
      expected.push_back(absl::StrCat(method, " ", path, " ", service->name(), "_", m->name()));
    }
  }
  EXPECT_EQ(expected.size(), 32u);
  std::vector<std::string> found;
  std::set<std::string> ids;
  for (const auto& [path, item] : Paths().struct_value().fields()) {
    for (const auto& [method, op] : item.struct_value().fields()) {
      const std::string id = At(op, "operationId").string_value();
      EXPECT_TRUE(ids.insert(id).second) << "operationId " << id << " twice";
      found.push_back(absl::StrCat(method, " ", path, " ", id));
      EXPECT_EQ(At(op, "tags").list_value().values_size(), 1);
      EXPECT_TRUE(absl::StartsWith(id, At(op, "tags").list_value().values(0).string_value() + "_"));
      EXPECT_TRUE(At(At(op, "responses"), "200").has_struct_value()) << id;
      EXPECT_EQ(ToJson(At(At(At(At(At(op, "responses"), "default"), "content"),
                             "application/json"), "schema")),
                R"({"$ref":"#/components/schemas/Error"})");
    }
  }
  EXPECT_THAT(found, UnorderedElementsAreArray(expected));
  EXPECT_THAT(expected, ::testing::Contains("post /v1/campaigns/{campaign_id}:start "
                                            "CampaignService_StartCampaign"));
  EXPECT_THAT(expected, ::testing::Contains("patch /v1/devices/{device_id} "
                                            "DeviceRegistryService_UpdateDeviceAttributes"));
}

void CollectRefs(const Value& v, std::vector<std::string>* out) {
  if (v.has_struct_value()) {
    for (const auto& [k, f] : v.struct_value().fields()) {
      if (k == "$ref") out->push_back(f.string_value());
      CollectRefs(f, out);
    }
  } else if (v.has_list_value()) {
    for (const Value& e : v.list_value().values()) CollectRefs(e, out);
  }
}

TEST_F(OpenApiTest, EveryRefResolves) {
  std::vector<std::string> refs;
  CollectRefs(doc_, &refs);
  EXPECT_GT(refs.size(), 50u);
  for (const std::string& ref : refs) {
    ASSERT_TRUE(absl::StartsWith(ref, "#/components/schemas/")) << ref;
    EXPECT_TRUE(Schema(ref.substr(strlen("#/components/schemas/"))).has_struct_value()) << ref;
  }
}

TEST_F(OpenApiTest, EveryPathParameterIsDeclared) {
  for (const auto& [path, item] : Paths().struct_value().fields()) {
    std::set<std::string> in_path;
    for (size_t open = path.find('{'); open != std::string::npos; open = path.find('{', open + 1)) {
      in_path.insert(path.substr(open + 1, path.find('}', open) - open - 1));
    }
    for (const auto& [method, op] : item.struct_value().fields()) {
      std::set<std::string> declared;
      std::set<std::string> names;
      for (const Value& p : At(op, "parameters").list_value().values()) {
        const std::string name = At(p, "name").string_value();
        EXPECT_TRUE(names.insert(name).second) << path << " declares " << name << " twice";
        if (At(p, "in").string_value() == "path") {
          declared.insert(name);
          EXPECT_TRUE(At(p, "required").bool_value());
        } else {
          EXPECT_EQ(At(p, "in").string_value(), "query");
        }
        EXPECT_TRUE(At(p, "schema").has_struct_value()) << path << " " << name;
      }
      EXPECT_EQ(declared, in_path) << method << " " << path;
    }
  }
}

TEST_F(OpenApiTest, OperationsInDetail) {
  const Value& list = At(At(Paths(), "/v1/campaigns"), "get");
  EXPECT_EQ(ToJson(At(list, "parameters")),
            R"([{"in":"query","name":"states","required":false,"schema":{"items":{"$ref":)"
            R"("#/components/schemas/ota.v1.CampaignState"},"type":"array"}},)"
            R"({"in":"query","name":"manifest_id","required":false,"schema":{"type":"string"}},)"
            R"({"in":"query","name":"page_size","required":false,"schema":{"format":"int32",)"
            R"("type":"integer"}},)"
            R"({"in":"query","name":"page_token","required":false,"schema":{"type":"string"}}])");
  EXPECT_FALSE(At(list, "requestBody").has_struct_value());

  const Value& create = At(At(Paths(), "/v1/campaigns"), "post");
  EXPECT_EQ(ToJson(At(create, "parameters")), "[]");
  EXPECT_EQ(ToJson(At(create, "requestBody")),
            R"({"content":{"application/json":{"schema":{"$ref":)"
            R"("#/components/schemas/ota.v1.CreateCampaignRequest"}}},"required":true})");
  EXPECT_EQ(ToJson(At(At(create, "responses"), "200")),
            R"({"content":{"application/json":{"schema":{"$ref":)"
            R"("#/components/schemas/ota.v1.Campaign"}}},"description":"Campaign"})");

  const Value& watch = At(At(Paths(), "/v1/campaigns/{campaign_id}:watch"), "get");
  EXPECT_EQ(ToJson(At(watch, "parameters")),
            R"([{"in":"path","name":"campaign_id","required":true,"schema":{"type":"string"}},)"
            R"({"in":"query","name":"min_interval_ms","required":false,"schema":{"format":)"
            R"("int32","type":"integer"}}])");
  const Value& content = At(At(At(watch, "responses"), "200"), "content");
  EXPECT_EQ(ToJson(At(content, "application/x-ndjson")),
            R"({"schema":{"$ref":"#/components/schemas/ota.v1.CampaignEvent"}})");
  EXPECT_TRUE(At(content, "text/event-stream").has_struct_value());

  const Value& get_cert = At(At(Paths(), "/v1/certificates/{key_id}"), "get");
  EXPECT_EQ(At(get_cert, "operationId").string_value(), "CertificateService_GetCertificate");
}

TEST_F(OpenApiTest, SchemasFollowTheJsonMapping) {
  const Value& campaign = At(Schema("ota.v1.Campaign"), "properties");
  EXPECT_EQ(At(Schema("ota.v1.Campaign"), "type").string_value(), "object");
  EXPECT_EQ(ToJson(At(campaign, "createdUnix")), R"({"format":"int64","type":"string"})");
  EXPECT_EQ(ToJson(At(campaign, "currentWave")), R"({"format":"int64","type":"integer"})");
  EXPECT_EQ(ToJson(At(campaign, "state")), R"({"$ref":"#/components/schemas/ota.v1.CampaignState"})");
  EXPECT_EQ(ToJson(At(campaign, "policy")), R"({"$ref":"#/components/schemas/ota.v1.RolloutPolicy"})");
  EXPECT_EQ(ToJson(At(campaign, "conflicts")),
            R"({"items":{"$ref":"#/components/schemas/ota.v1.CampaignConflict"},"type":"array"})");
  EXPECT_EQ(ToJson(Schema("ota.v1.CampaignState")),
            R"({"enum":["CAMPAIGN_STATE_UNSPECIFIED","CAMPAIGN_STATE_DRAFT",)"
            R"("CAMPAIGN_STATE_SCHEDULED","CAMPAIGN_STATE_ACTIVE","CAMPAIGN_STATE_PAUSED",)"
            R"("CAMPAIGN_STATE_COMPLETED","CAMPAIGN_STATE_STOPPED","CAMPAIGN_STATE_AUTO_STOPPED"],)"
            R"("type":"string"})");
  EXPECT_EQ(ToJson(At(At(Schema("ota.v1.Wave"), "properties"), "percent")),
            R"({"format":"double","type":"number"})");
  EXPECT_EQ(ToJson(At(At(Schema("ota.v1.Certificate"), "properties"), "certificateDer")),
            R"({"format":"byte","type":"string"})");
  EXPECT_EQ(ToJson(At(At(Schema("ota.v1.Certificate"), "properties"), "revoked")),
            R"({"type":"boolean"})");
  EXPECT_EQ(ToJson(At(At(Schema("ota.v1.Device"), "properties"), "attributes")),
            R"({"additionalProperties":{"type":"string"},"type":"object"})");
  EXPECT_EQ(ToJson(At(At(Schema("ota.v1.Device"), "properties"), "slotSize")),
            R"({"format":"uint64","type":"string"})");
  EXPECT_EQ(ToJson(Schema("Error")),
            R"({"properties":{"code":{"format":"int32","type":"integer"},)"
            R"("message":{"type":"string"},"status":{"type":"string"}},"type":"object"})");
}

TEST_F(OpenApiTest, DescriptionsFromProtoComments) {
  auto comments = ProtoComments::Parse(ApiDescriptorSet());
  ASSERT_TRUE(comments.ok()) << comments.status();
  Value doc;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  OpenApiDocument(routes_, "OTA update service", "v1", comments->get()), &doc)
                  .ok());
  const Value& paths = At(doc, "paths");
  EXPECT_EQ(At(At(At(paths, "/v1/campaigns/{campaign_id}:start"), "post"), "description")
                .string_value(),
            "Starts a DRAFT campaign: SCHEDULED when policy.start_unix is in the\n"
            "future, otherwise ACTIVE with its first wave picked at once.");
  const Value& list = At(At(paths, "/v1/campaigns"), "get");
  EXPECT_EQ(At(list, "description").string_value(), "Lists campaigns, newest first.");
  EXPECT_EQ(ToJson(At(list, "parameters").list_value().values(1)),
            R"({"description":"Only campaigns deploying this manifest; empty means any.",)"
            R"("in":"query","name":"manifest_id","required":false,"schema":{"type":"string"}})");
  std::map<std::string, std::string> tags;
  for (const Value& t : At(doc, "tags").list_value().values()) {
    tags[At(t, "name").string_value()] = At(t, "description").string_value();
  }
  EXPECT_EQ(tags["CampaignService"], "Campaign management for service managers.");
  const Value& schemas = At(At(doc, "components"), "schemas");
  EXPECT_EQ(At(At(schemas, "ota.v1.Campaign"), "description").string_value(), "A campaign.");
  EXPECT_EQ(At(At(schemas, "ota.v1.CampaignState"), "description").string_value(),
            "Where a campaign stands.");
  const Value& props = At(At(schemas, "ota.v1.Campaign"), "properties");
  EXPECT_EQ(ToJson(At(props, "createdUnix")),
            R"({"description":"When it was created, Unix seconds.","format":"int64",)"
            R"("type":"string"})");
  EXPECT_EQ(ToJson(At(props, "state")), R"({"$ref":"#/components/schemas/ota.v1.CampaignState"})")
      << "nothing beside a $ref";
}

}  // namespace
}  // namespace ota::server::gateway
