#include "server/observe/grpc_metrics.h"

#include <algorithm>
#include <chrono>
#include <optional>

namespace ota::server {
namespace {

const char* CodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {
      "OK",        "CANCELLED",         "UNKNOWN",           "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",    "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",      "UNAVAILABLE",       "DATA_LOSS",
      "UNAUTHENTICATED"};
  const int i = static_cast<int>(code);
  return i >= 0 && i < 17 ? kNames[i] : "UNKNOWN";
}

class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(grpc::experimental::ServerRpcInfo* info, GrpcMetrics* metrics)
      : metrics_(metrics),
        method_(info->method()),
        streaming_(info->type() != grpc::experimental::ServerRpcInfo::Type::UNARY),
        start_(std::chrono::steady_clock::now()) {
    if (streaming_) metrics_->StreamOpened(method_);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      code_ = methods->GetSendStatus().error_code();
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_CLOSE)) {
      closed_ = true;
    }
    methods->Proceed();
  }

  // The interceptor lives as long as the call: finishing is counted when
  // gRPC lets it go, whichever way the call ended.
  ~MetricsInterceptor() override {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    metrics_->Finished(method_, streaming_,
                       code_.value_or(closed_ ? grpc::StatusCode::CANCELLED
                                              : grpc::StatusCode::UNKNOWN),
                       seconds);
  }

 private:
  GrpcMetrics* metrics_;
  const std::string method_;
  const bool streaming_;
  const std::chrono::steady_clock::time_point start_;
  std::optional<grpc::StatusCode> code_;
  bool closed_ = false;
};

class Factory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  Factory(GrpcMetrics* metrics, std::vector<std::string> self_reported)
      : metrics_(metrics), self_reported_(std::move(self_reported)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    // gRPC takes a null interceptor as none for this call.
    if (std::find(self_reported_.begin(), self_reported_.end(), info->method()) !=
        self_reported_.end()) {
      return nullptr;
    }
    return new MetricsInterceptor(info, metrics_);
  }

 private:
  GrpcMetrics* metrics_;
  const std::vector<std::string> self_reported_;
};

}  // namespace

GrpcMetrics::GrpcMetrics(prometheus::Registry* registry)
    : requests_(&prometheus::BuildCounter()
                     .Name("otad_grpc_requests_total")
                     .Help("gRPC calls finished, by method and status code")
                     .Register(*registry)),
      latency_(&prometheus::BuildHistogram()
                    .Name("otad_grpc_request_seconds")
                    .Help("Latency of unary gRPC calls, by method")
                    .Register(*registry)),
      streams_(&prometheus::BuildGauge()
                    .Name("otad_grpc_streams_open")
                    .Help("Streaming gRPC calls under way, by method")
                    .Register(*registry)) {}

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
GrpcMetrics::Interceptors(std::vector<std::string> self_reported) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> out;
  out.push_back(std::make_unique<Factory>(this, std::move(self_reported)));
  return out;
}

void GrpcMetrics::StreamOpened(const std::string& method) {
  streams_->Add({{"method", method}}).Increment();
}

void GrpcMetrics::Finished(const std::string& method, bool streaming, grpc::StatusCode code,
                           double seconds) {
  requests_->Add({{"method", method}, {"code", CodeName(code)}}).Increment();
  if (streaming) {
    streams_->Add({{"method", method}}).Decrement();
    return;
  }
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  latency_->Add({{"method", method}}, kBuckets).Observe(seconds);
}

}  // namespace ota::server
