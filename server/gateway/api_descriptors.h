// The ota.v1 API's FileDescriptorSet with source info (comments), compiled
// into the binary for the OpenAPI document's descriptions.
#ifndef OTA_SERVER_GATEWAY_API_DESCRIPTORS_H_
#define OTA_SERVER_GATEWAY_API_DESCRIPTORS_H_

#include "absl/strings/string_view.h"

namespace ota::server::gateway {

// The serialized set: every file of proto/ota/v1 and what they import.
absl::string_view ApiDescriptorSet();

}  // namespace ota::server::gateway

#endif  // OTA_SERVER_GATEWAY_API_DESCRIPTORS_H_
