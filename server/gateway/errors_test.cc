#include "server/gateway/errors.h"

#include "gtest/gtest.h"

namespace ota::server::gateway {
namespace {

TEST(ErrorsTest, HttpStatusOfEachCode) {
  using C = grpc::StatusCode;
  const std::vector<std::tuple<C, int, const char*>> cases = {
      {C::OK, 200, "OK"},
      {C::CANCELLED, 499, "CANCELLED"},
      {C::UNKNOWN, 500, "UNKNOWN"},
      {C::INVALID_ARGUMENT, 400, "INVALID_ARGUMENT"},
      {C::DEADLINE_EXCEEDED, 504, "DEADLINE_EXCEEDED"},
      {C::NOT_FOUND, 404, "NOT_FOUND"},
      {C::ALREADY_EXISTS, 409, "ALREADY_EXISTS"},
      {C::PERMISSION_DENIED, 403, "PERMISSION_DENIED"},
      {C::RESOURCE_EXHAUSTED, 429, "RESOURCE_EXHAUSTED"},
      {C::FAILED_PRECONDITION, 400, "FAILED_PRECONDITION"},
      {C::ABORTED, 409, "ABORTED"},
      {C::OUT_OF_RANGE, 400, "OUT_OF_RANGE"},
      {C::UNIMPLEMENTED, 501, "UNIMPLEMENTED"},
      {C::INTERNAL, 500, "INTERNAL"},
      {C::UNAVAILABLE, 503, "UNAVAILABLE"},
      {C::DATA_LOSS, 500, "DATA_LOSS"},
      {C::UNAUTHENTICATED, 401, "UNAUTHENTICATED"},
  };
  for (const auto& [code, http, name] : cases) {
    EXPECT_EQ(HttpStatusFromCode(code), http) << name;
    EXPECT_EQ(StatusCodeName(code), name);
  }
  EXPECT_EQ(HttpStatusFromCode(static_cast<C>(99)), 500);
  EXPECT_EQ(StatusCodeName(static_cast<C>(99)), "UNKNOWN");
}

TEST(ErrorsTest, ErrorJson) {
  EXPECT_EQ(ErrorJson(grpc::StatusCode::NOT_FOUND, "no campaign \"c1\""),
            R"({"code":5,"status":"NOT_FOUND","message":"no campaign \"c1\""})");
  EXPECT_EQ(ErrorJson(grpc::StatusCode::INTERNAL, "a\\b\n\x01"),
            R"({"code":13,"status":"INTERNAL","message":"a\\b\n\u0001"})");
}

}  // namespace
}  // namespace ota::server::gateway
