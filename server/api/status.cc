#include "server/api/status.h"

#include "absl/strings/str_cat.h"
#include "common/status/reason.h"

namespace ota::server {

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  std::string message(status.message());
  ota::v1::ReasonCode reason = common::ReasonOf(status);
  if (reason != ota::v1::REASON_UNSPECIFIED) {
    message = absl::StrCat(common::ReasonName(reason), ": ", message);
  }
  // absl and gRPC share the canonical code numbers.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message);
}

}  // namespace ota::server
