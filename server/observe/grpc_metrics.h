// Per-method gRPC metrics for every service of a server, by interceptor:
//
//   otad_grpc_requests_total{method, code}      calls finished, by status
//   otad_grpc_request_seconds{method}           latency of unary calls
//   otad_grpc_streams_open{method}              streaming calls under way
//
//   GrpcMetrics metrics(&registry);
//   builder.experimental().SetInterceptorCreators(metrics.Interceptors());
//
// A method with many long-lived calls may report its calls itself, with
// StreamOpened and Finished, and be left out of the interceptor: gRPC
// allocates each interceptor per call and keeps it as long as the call.
#ifndef OTA_SERVER_OBSERVE_GRPC_METRICS_H_
#define OTA_SERVER_OBSERVE_GRPC_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>
#include <vector>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace ota::server {

class GrpcMetrics {
 public:
  explicit GrpcMetrics(prometheus::Registry* registry);

  // A factory list for ServerBuilder::experimental().SetInterceptorCreators;
  // calls of the methods (full names) in `self_reported` are not
  // intercepted: their handlers call StreamOpened and Finished.
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
  Interceptors(std::vector<std::string> self_reported = {});

  // Records one finished call.
  void Finished(const std::string& method, bool streaming, grpc::StatusCode code,
                double seconds);
  void StreamOpened(const std::string& method);

 private:
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* latency_;
  prometheus::Family<prometheus::Gauge>* streams_;
};

}  // namespace ota::server

#endif  // OTA_SERVER_OBSERVE_GRPC_METRICS_H_
