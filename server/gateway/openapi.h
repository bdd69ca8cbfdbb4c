// An OpenAPI 3.0 document of gateway routes, made from the descriptors:
// one operation per route (operationId "Service_Method", tagged with the
// service), its path and query parameters, its request body and its
// answers (200 with the response, "default" with the error object), and a
// schema per message and enum in protobuf's JSON mapping: 64-bit integers
// as strings, bytes as base64 strings, enums as string enums, maps as
// objects with additionalProperties, well-known types as their JSON forms
// (Timestamp as a date-time string). With comments, the proto comments of
// services, methods, messages, enums and fields become descriptions.
#ifndef OTA_SERVER_GATEWAY_OPENAPI_H_
#define OTA_SERVER_GATEWAY_OPENAPI_H_

#include <string>
#include <vector>

#include "server/gateway/proto_comments.h"
#include "server/gateway/routes.h"

namespace ota::server::gateway {

// The document as JSON.
// The document as JSON; `comments` may be null (no descriptions).
std::string OpenApiDocument(const std::vector<Route>& routes, const std::string& title,
                            const std::string& version, const ProtoComments* comments = nullptr);

}  // namespace ota::server::gateway

#endif  // OTA_SERVER_GATEWAY_OPENAPI_H_
