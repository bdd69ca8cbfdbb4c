// Name-based UUIDs (RFC 4122 version 5) for vendor and class ids, as the
// seed's manifest-tool makes them:
//
//   vendor_id = Uuid5(kDnsNamespaceUuid, "example.com")
//   class_id  = Uuid5(vendor_id, "gw-3610")
#ifndef OTA_COMMON_MANIFEST_UUID_H_
#define OTA_COMMON_MANIFEST_UUID_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ota::common {

// The RFC 4122 namespace for DNS names, 16 raw bytes.
extern const absl::string_view kDnsNamespaceUuid;

// The version-5 UUID of `name` in `namespace_uuid` (16 raw bytes each).
std::string Uuid5(absl::string_view namespace_uuid, absl::string_view name);

// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" for 16 raw bytes.
std::string UuidToString(absl::string_view uuid);

// 16 raw bytes from the dashed form or from 32 hex digits (the seed's
// "128-bit GUID in HEX"). INVALID_ARGUMENT otherwise.
absl::StatusOr<std::string> ParseUuid(absl::string_view text);

}  // namespace ota::common

#endif  // OTA_COMMON_MANIFEST_UUID_H_
