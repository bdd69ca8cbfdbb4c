// The gateway over a service that uses every rule form the ota.v1 API does
// not: additional bindings, a custom method, a body that is one field,
// response_body, `**` and nested path variables, and well-known types.
#include <grpcpp/grpcpp.h>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/gateway/gateway.h"
#include "server/gateway/testdata/library.grpc.pb.h"

namespace ota::server::gateway {
namespace {

using ::testing::HasSubstr;

class FakeLibrary : public gatewaytest::Library::Service {
 public:
  grpc::Status GetShelf(grpc::ServerContext*, const gatewaytest::GetShelfRequest* req,
                        gatewaytest::Shelf* out) override {
    out->set_name(req->name());
    out->set_kind(req->kind());
    out->mutable_created()->set_seconds(1700000000);
    out->mutable_loan()->set_seconds(90);
    out->mutable_limit()->set_value(7);
    (*out->mutable_counts())["a"] = 3;
    return grpc::Status::OK;
  }
  grpc::Status UpdateShelf(grpc::ServerContext*, const gatewaytest::UpdateShelfRequest* req,
                           gatewaytest::Shelf* out) override {
    *out = req->shelf();
    if (req->validate_only()) out->set_name(out->name() + " (checked)");
    return grpc::Status::OK;
  }
  grpc::Status ListFiles(grpc::ServerContext*, const gatewaytest::ListFilesRequest* req,
                         gatewaytest::Files* out) override {
    out->add_paths(req->path());
    out->add_paths("x");
    if (req->has_since()) out->add_paths(absl::StrCat("since ", req->since().seconds()));
    if (req->has_max()) out->add_paths(absl::StrCat("max ", req->max().value()));
    if (req->has_age()) out->add_paths(absl::StrCat("age ", req->age().seconds()));
    return grpc::Status::OK;
  }
};

class LibraryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.RegisterService(&library_);
    server_ = builder.BuildAndStart();
    auto gateway = Gateway::Create(server_->InProcessChannel(grpc::ChannelArguments()),
                                   {"ota.gatewaytest.Library"});
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = *std::move(gateway);
  }
  void TearDown() override {
    gateway_.reset();
    server_->Shutdown();
  }

  HttpResponse Call(const std::string& method, const std::string& target,
                    const std::string& body = "") {
    HttpRequest r;
    r.method = method;
    r.target = target;
    r.path = target.substr(0, target.find('?'));
    r.body = body;
    return gateway_->Handle(r);
  }

  FakeLibrary library_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Gateway> gateway_;
};

TEST_F(LibraryTest, RoutesOfEveryRule) {
  std::vector<std::string> routes;
  for (const Route& r : gateway_->routes().routes()) {
    routes.push_back(absl::StrCat(r.http_method, " ", r.path.text(), " ", r.method->name(), " ",
                                  r.binding, " body=", r.body, " response_body=", r.response_body));
  }
  EXPECT_THAT(routes, ::testing::ElementsAre(
                          "GET /v1/{name=shelves/*} GetShelf 0 body= response_body=",
                          "GET /v1/archive/{name=shelves/*} GetShelf 1 body= response_body=",
                          "POST /v1/{name=shelves/*}:fetch GetShelf 2 body=* response_body=",
                          "MERGE /v1/{shelf.name=shelves/*} UpdateShelf 0 body=shelf response_body=",
                          "GET /v1/files/{path=**} ListFiles 0 body= response_body=paths"));
}

TEST_F(LibraryTest, AdditionalBindingsAndWellKnownTypes) {
  const std::string expected =
      R"({"name":"shelves/s1","counts":{"a":"3"},"blob":"","kind":"KIND_AUDIO",)"
      R"("created":"2023-11-14T22:13:20Z","loan":"90s","limit":"7"})";
  HttpResponse r = Call("GET", "/v1/shelves/s1?kind=KIND_AUDIO");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, expected);
  r = Call("GET", "/v1/archive/shelves/s1?kind=2");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, expected);
  r = Call("POST", "/v1/shelves/s1:fetch", R"({"kind":"KIND_AUDIO"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, expected);
  r = Call("GET", "/v1/archive/shelves/s1/more");
  EXPECT_EQ(r.status, 404);
}

TEST_F(LibraryTest, CustomMethodWithOneFieldAsBody) {
  HttpResponse r = Call("MERGE", "/v1/shelves/s2?validate_only=true",
                        R"({"kind":"KIND_PAPER","blob":"AQI=","name":"ignored"})");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr(R"j("name":"shelves/s2 (checked)")j")) << "the path wins";
  EXPECT_THAT(r.body, HasSubstr(R"("blob":"AQI=")"));
  EXPECT_THAT(r.body, HasSubstr(R"("kind":"KIND_PAPER")"));

  r = Call("MERGE", "/v1/shelves/s2?shelf.kind=KIND_PAPER", "{}");
  EXPECT_EQ(r.status, 400) << "fields under the body field come from the body";
  EXPECT_EQ(r.body,
            R"({"code":3,"status":"INVALID_ARGUMENT","message":"unknown query parameter \"shelf.kind\""})");

  r = Call("PUT", "/v1/shelves/s2");
  EXPECT_EQ(r.status, 405);
  EXPECT_THAT(r.headers, ::testing::Contains(std::make_pair(std::string("Allow"),
                                                            std::string("GET, MERGE"))));
}

TEST_F(LibraryTest, ResponseBodyAndDeepWildcard) {
  HttpResponse r = Call("GET", "/v1/files/a/b%2Fc/d.txt");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"(["a/b%2Fc/d.txt","x"])");
}

TEST_F(LibraryTest, WellKnownTypesInTheQuery) {
  HttpResponse r = Call("GET", "/v1/files/a?since=2023-11-14T22:13:20Z&max=7&age=90s");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"(["a","x","since 1700000000","max 7","age 90"])");
  r = Call("GET", "/v1/files/a?since=yesterday");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            R"({"code":3,"status":"INVALID_ARGUMENT","message":"query parameter \"since\": )"
            R"(field \"since\": \"yesterday\" is not a google.protobuf.Timestamp in JSON form"})");
  r = Call("GET", "/v1/files/a?max=many");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body,
            R"({"code":3,"status":"INVALID_ARGUMENT","message":"query parameter \"max\": )"
            R"(field \"value\": \"many\" is not a 64-bit integer"})");
}

TEST_F(LibraryTest, OpenApiOfEveryRule) {
  google::protobuf::Value doc;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(gateway_->openapi_json(), &doc).ok());
  const auto& paths = doc.struct_value().fields().at("paths").struct_value().fields();
  auto op = [&](const std::string& path, const std::string& method) {
    return paths.at(path).struct_value().fields().at(method).struct_value().fields();
  };
  EXPECT_EQ(op("/v1/{name}", "get").at("operationId").string_value(), "Library_GetShelf");
  EXPECT_EQ(op("/v1/archive/{name}", "get").at("operationId").string_value(), "Library_GetShelf_1");
  EXPECT_EQ(op("/v1/{name}:fetch", "post").at("operationId").string_value(), "Library_GetShelf_2");
  EXPECT_EQ(op("/v1/{shelf.name}", "merge").at("operationId").string_value(),
            "Library_UpdateShelf");
  std::string body;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(op("/v1/{shelf.name}", "merge")
                                                              .at("requestBody"), &body).ok());
  EXPECT_THAT(body, HasSubstr(R"("$ref":"#/components/schemas/ota.gatewaytest.Shelf")"));

  const auto& shelf = doc.struct_value().fields().at("components").struct_value().fields()
                          .at("schemas").struct_value().fields().at("ota.gatewaytest.Shelf")
                          .struct_value().fields().at("properties").struct_value().fields();
  auto json = [](const google::protobuf::Value& v) {
    std::string out;
    google::protobuf::util::MessageToJsonString(v, &out);
    return out;
  };
  EXPECT_THAT(json(shelf.at("created")), HasSubstr(R"("format":"date-time")"));
  EXPECT_THAT(json(shelf.at("loan")), HasSubstr(R"("type":"string")"));
  EXPECT_THAT(json(shelf.at("limit")), HasSubstr(R"("format":"int64")"));
  EXPECT_THAT(json(shelf.at("parent")), HasSubstr(R"("$ref":"#/components/schemas/ota.gatewaytest.Shelf")"));
  EXPECT_THAT(json(shelf.at("counts")), HasSubstr(R"("additionalProperties")"));

  std::vector<std::string> query;
  const auto list_files = op("/v1/files/{path}", "get");
  for (const auto& p : list_files.at("parameters").list_value().values()) {
    query.push_back(json(p));
  }
  EXPECT_THAT(query, ::testing::ElementsAre(HasSubstr(R"("name":"path")"),
                                            HasSubstr(R"("format":"date-time")"),
                                            HasSubstr(R"("format":"int64")"),
                                            HasSubstr(R"("name":"age")")));
}

}  // namespace
}  // namespace ota::server::gateway
