#include "server/gateway/api_descriptors.h"

#include <cstddef>

namespace ota::server::gateway {

extern const unsigned char kApiDescriptorSet[];
extern const size_t kApiDescriptorSetSize;

absl::string_view ApiDescriptorSet() {
  return absl::string_view(reinterpret_cast<const char*>(kApiDescriptorSet),
                           kApiDescriptorSetSize);
}

}  // namespace ota::server::gateway
