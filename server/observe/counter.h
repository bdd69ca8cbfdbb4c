// A single Prometheus counter, or none when there is no registry (tests and
// tools that build services without metrics).
//
//   prometheus::Counter* sent = NewCounter(registry, "otad_x_total", "What it counts");
//   if (sent != nullptr) sent->Increment();
#ifndef OTA_SERVER_OBSERVE_COUNTER_H_
#define OTA_SERVER_OBSERVE_COUNTER_H_

#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace ota::server {

// A counter without labels registered in `registry`, or null without one.
prometheus::Counter* NewCounter(prometheus::Registry* registry, const char* name,
                                const char* help);

}  // namespace ota::server

#endif  // OTA_SERVER_OBSERVE_COUNTER_H_
