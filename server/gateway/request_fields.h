// Filling request messages from the parts of an HTTP request that are not
// JSON: path variables and query parameters, by dotted field path.
//
//   auto query = ParseQuery("page_size=10&states=CAMPAIGN_STATE_ACTIVE&states=4");
//   for (const auto& [name, value] : *query) {
//     absl::Status s = SetFieldFromText(&request, name, value);
//   }
//
// Text forms: decimal numbers; "true"/"false" (or "1"/"0") for bools; enum
// values by name or number; bytes as base64 (standard or URL-safe, padding
// optional); strings as they are; Timestamp, Duration and FieldMask in
// their JSON forms ("2024-05-01T10:00:00Z", "1.5s", "a,b.c"); wrappers as
// their value. A repeated field takes one value per occurrence.
#ifndef OTA_SERVER_GATEWAY_REQUEST_FIELDS_H_
#define OTA_SERVER_GATEWAY_REQUEST_FIELDS_H_

#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ota::server::gateway {

// The decoded name=value pairs of a query string (without the '?'), in
// order; '+' stands for a space and a name without '=' has an empty value.
// INVALID_ARGUMENT on a bad percent escape.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    absl::string_view query);

// The fields along dotted `field_path` from `type`, each part named by its
// proto name or its JSON name. INVALID_ARGUMENT when a part names no field,
// or a part before the last is not a singular message field.
absl::StatusOr<std::vector<const google::protobuf::FieldDescriptor*>> ResolveFieldPath(
    const google::protobuf::Descriptor* type, absl::string_view field_path);

// Sets (or, when repeated, appends to) the field at `field_path` of
// `message` from `value`, creating the messages along the path.
// INVALID_ARGUMENT naming the field when the path does not resolve, the
// field is a map or a message other than the well-known types above, or
// the value does not parse for its type.
absl::Status SetFieldFromText(google::protobuf::Message* message, absl::string_view field_path,
                              absl::string_view value);

}  // namespace ota::server::gateway

#endif  // OTA_SERVER_GATEWAY_REQUEST_FIELDS_H_
