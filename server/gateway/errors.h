// Errors of the REST gateway as JSON, with the HTTP status that goes with
// each gRPC code (the google.rpc mapping):
//
//   {"code":5,"status":"NOT_FOUND","message":"no certificate with key id 12ab"}
//
// is sent with HTTP 404.
#ifndef OTA_SERVER_GATEWAY_ERRORS_H_
#define OTA_SERVER_GATEWAY_ERRORS_H_

#include <string>

#include <grpcpp/support/status.h>

#include "absl/strings/string_view.h"

namespace ota::server::gateway {

// The HTTP status for `code`: OK 200, INVALID_ARGUMENT, FAILED_PRECONDITION
// and OUT_OF_RANGE 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403,
// NOT_FOUND 404, ALREADY_EXISTS and ABORTED 409, RESOURCE_EXHAUSTED 429,
// CANCELLED 499, UNIMPLEMENTED 501, UNAVAILABLE 503, DEADLINE_EXCEEDED 504,
// everything else 500.
int HttpStatusFromCode(grpc::StatusCode code);

// The code's canonical name, "NOT_FOUND"; "UNKNOWN" for numbers outside
// the enum.
absl::string_view StatusCodeName(grpc::StatusCode code);

// The JSON error object for `code` and `message`.
std::string ErrorJson(grpc::StatusCode code, absl::string_view message);

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(absl::string_view text);

}  // namespace ota::server::gateway

#endif  // OTA_SERVER_GATEWAY_ERRORS_H_
