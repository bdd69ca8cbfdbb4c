#include "server/observe/counter.h"

namespace ota::server {

prometheus::Counter* NewCounter(prometheus::Registry* registry, const char* name,
                                const char* help) {
  if (registry == nullptr) return nullptr;
  return &prometheus::BuildCounter().Name(name).Help(help).Register(*registry).Add({});
}

}  // namespace ota::server
