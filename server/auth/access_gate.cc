#include "server/auth/access_gate.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <grpcpp/support/byte_buffer.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/log.h"

namespace ota::server {

std::optional<ota::v1::Role> RequiredRole(absl::string_view method) {
  if (absl::StartsWith(method, "/ota.v1.DeviceService/") ||
      absl::StartsWith(method, "/grpc.health.v1.Health/")) {
    return std::nullopt;
  }
  if (absl::StartsWith(method, "/grpc.reflection.")) return ota::v1::ROLE_VIEWER;
  const size_t slash = method.rfind('/');
  const absl::string_view service = method.substr(0, slash == absl::string_view::npos ? 0 : slash);
  const bool reads = !ChangesState(method);
  if (service == "/ota.v1.CertificateService" || service == "/ota.v1.AssetService" ||
      service == "/ota.v1.ManifestService") {
    return reads ? ota::v1::ROLE_VIEWER : ota::v1::ROLE_PUBLISHER;
  }
  if (service == "/ota.v1.DeviceRegistryService" || service == "/ota.v1.CampaignService") {
    return reads ? ota::v1::ROLE_VIEWER : ota::v1::ROLE_OPERATOR;
  }
  return ota::v1::ROLE_ADMIN;
}

namespace {

// "StartCampaign" of "/ota.v1.CampaignService/StartCampaign".
absl::string_view MethodName(absl::string_view method) {
  const size_t slash = method.rfind('/');
  return method.substr(slash == absl::string_view::npos ? 0 : slash + 1);
}

}  // namespace

bool ChangesState(absl::string_view method) {
  const absl::string_view name = MethodName(method);
  return !(absl::StartsWith(name, "Get") || absl::StartsWith(name, "List") ||
           absl::StartsWith(name, "Watch"));
}

namespace {

// "campaigns/<id>" from the first id-like field of a request or response
// (or of a message one level down, as CreateTokenResponse.token), for the
// audit log.
std::string TargetOf(const google::protobuf::Message& request, int depth = 1) {
  static const std::pair<const char*, const char*> kIds[] = {
      {"campaign_id", "campaigns/"}, {"device_id", "devices/"},   {"manifest_id", "manifests/"},
      {"key_id", "certificates/"},   {"sha256", "assets/"},       {"token_id", "tokens/"}};
  const google::protobuf::Descriptor* d = request.GetDescriptor();
  const google::protobuf::Reflection* r = request.GetReflection();
  for (const auto& [field, prefix] : kIds) {
    const google::protobuf::FieldDescriptor* f = d->FindFieldByName(field);
    if (f != nullptr && f->type() == google::protobuf::FieldDescriptor::TYPE_STRING &&
        !f->is_repeated()) {
      const std::string v = r->GetString(request, f);
      if (!v.empty()) return absl::StrCat(prefix, v);
    }
  }
  for (int i = 0; depth > 0 && i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    if (f->type() == google::protobuf::FieldDescriptor::TYPE_MESSAGE && !f->is_repeated() &&
        r->HasField(request, f)) {
      std::string t = TargetOf(r->GetMessage(request, f), depth - 1);
      if (!t.empty()) return t;
    }
  }
  return "";
}

// Methods served raw: their messages reach interceptors as grpc::ByteBuffer,
// not as generated messages. DeviceService.Connect writes deployments that
// share their campaign's serialized manifest (SharedDeployment).
bool IsRaw(absl::string_view method) { return method == "/ota.v1.DeviceService/Connect"; }

// TargetOf the serialized request of a raw `method`, parsed as the method's
// input type.
std::string TargetOfRaw(absl::string_view method, const grpc::ByteBuffer& raw) {
  std::string full(method.substr(1));
  const size_t slash = full.rfind('/');
  if (slash != std::string::npos) full[slash] = '.';
  const google::protobuf::MethodDescriptor* md =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(full);
  if (md == nullptr) return "";
  const google::protobuf::Message* prototype =
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(md->input_type());
  if (prototype == nullptr) return "";
  std::unique_ptr<google::protobuf::Message> request(prototype->New());
  grpc::Slice bytes;
  if (!raw.DumpToSingleSlice(&bytes).ok() ||
      !request->ParseFromArray(bytes.begin(), static_cast<int>(bytes.size()))) {
    return "";
  }
  return TargetOf(*request);
}

// Calls that create a resource: the audit log names the resource made.
bool Creates(absl::string_view method) {
  const absl::string_view name = MethodName(method);
  return absl::StartsWith(name, "Create") || absl::StartsWith(name, "Register") ||
         absl::StartsWith(name, "Upload");
}

}  // namespace

class AccessInterceptor final : public grpc::experimental::Interceptor {
 public:
  AccessInterceptor(grpc::experimental::ServerRpcInfo* info, AccessGate* gate)
      : gate_(gate), context_(info->server_context()), method_(info->method()) {}
  ~AccessInterceptor() override { gate_->Forget(context_); }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      std::string authorization;
      auto* md = methods->GetRecvInitialMetadata();
      if (md != nullptr) {
        auto it = md->find("authorization");
        if (it != md->end()) authorization.assign(it->second.data(), it->second.size());
      }
      gate_->Decide(context_, method_, authorization);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        target_.empty() && absl::StartsWith(method_, "/ota.v1.")) {
      // Requests of the project's own services are generated messages.
      const void* m = methods->GetRecvMessage();
      if (m != nullptr && IsRaw(method_)) {
        target_ = TargetOfRaw(method_, *static_cast<const grpc::ByteBuffer*>(m));
      } else if (m != nullptr) {
        target_ = TargetOf(*static_cast<const google::protobuf::Message*>(m));
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE) &&
        Creates(method_) && absl::StartsWith(method_, "/ota.v1.") && !IsRaw(method_)) {
      const void* m = methods->GetSendMessage();
      if (m != nullptr) {
        std::string made = TargetOf(*static_cast<const google::protobuf::Message*>(m));
        if (!made.empty()) target_ = std::move(made);
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      gate_->Record(context_, method_, target_, context_->peer(), methods->GetSendStatus());
    }
    methods->Proceed();
  }

 private:
  AccessGate* gate_;
  grpc::ServerContextBase* context_;
  const std::string method_;
  std::string target_;
};

namespace {

class AccessInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  AccessInterceptorFactory(AccessGate* gate, std::vector<std::string> self_audited)
      : gate_(gate), self_audited_(std::move(self_audited)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    // gRPC takes a null interceptor as none for this call.
    if (std::find(self_audited_.begin(), self_audited_.end(), info->method()) !=
        self_audited_.end()) {
      return nullptr;
    }
    return new AccessInterceptor(info, gate_);
  }

 private:
  AccessGate* gate_;
  const std::vector<std::string> self_audited_;
};

// Refused calls and calls that change state are audited.
bool IsAudited(absl::string_view method, const grpc::Status& result) {
  const bool refused = result.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
                       result.error_code() == grpc::StatusCode::PERMISSION_DENIED;
  return refused || (RequiredRole(method).has_value() && ChangesState(method));
}

grpc::Status ToGrpcStatus(const absl::Status& s) {
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

}  // namespace

std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
AccessGate::Interceptors(std::vector<std::string> self_audited) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> out;
  out.push_back(std::make_unique<AccessInterceptorFactory>(this, std::move(self_audited)));
  return out;
}

void AccessGate::RecordResult(const grpc::ServerContextBase* context, const std::string& method,
                              const google::protobuf::Message& request,
                              const grpc::Status& result) const {
  if (!IsAudited(method, result)) return;
  Record(context, method, TargetOf(request), context->peer(), result);
}

void AccessGate::Decide(const grpc::ServerContextBase* context, const std::string& method,
                        const std::string& authorization) {
  Verdict v;
  const std::optional<ota::v1::Role> needed = RequiredRole(method);
  if (enforce_ && needed.has_value()) {
    constexpr absl::string_view kBearer = "Bearer ";
    if (authorization.empty()) {
      v.status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                              "this call needs a bearer token (authorization: Bearer ...)");
    } else if (!absl::StartsWith(authorization, kBearer)) {
      v.status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                              "the authorization header is not \"Bearer <token>\"");
    } else {
      absl::StatusOr<Principal> who = store_->Authenticate(authorization.substr(kBearer.size()));
      if (!who.ok()) {
        v.status = ToGrpcStatus(who.status());
      } else {
        v.principal = *who;
        v.status = ToGrpcStatus(Authorize(*who, *needed));
      }
    }
  }
  absl::MutexLock lock(&mu_);
  verdicts_[context] = std::move(v);
}

void AccessGate::Forget(const grpc::ServerContextBase* context) {
  absl::MutexLock lock(&mu_);
  verdicts_.erase(context);
}

grpc::Status AccessGate::Check(const grpc::ServerContextBase* context) const {
  absl::MutexLock lock(&mu_);
  auto it = verdicts_.find(context);
  if (it == verdicts_.end()) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "the call's access was not checked");
  }
  return it->second.status;
}

Principal AccessGate::Caller(const grpc::ServerContextBase* context) const {
  absl::MutexLock lock(&mu_);
  auto it = verdicts_.find(context);
  return it == verdicts_.end() ? Principal{} : it->second.principal;
}

void AccessGate::Record(const grpc::ServerContextBase* context, const std::string& method,
                        const std::string& target, const std::string& peer,
                        const grpc::Status& result) const {
  if (!IsAudited(method, result)) return;
  const Principal who = Caller(context);
  ota::v1::AuditEvent e;
  e.set_actor(who.name);
  e.set_actor_token_id(who.token_id);
  e.set_action(method);
  e.set_target(target);
  e.set_result_code(static_cast<int>(result.error_code()));
  e.set_result_message(result.error_message());
  e.set_peer(peer);
  if (absl::Status s = store_->Audit(e); !s.ok()) {
    common::LogEvent(common::LogLevel::kError, "audit.write",
                     {{"action", method}, {"target", target}, {"error", s.ToString()}});
  }
}

}  // namespace ota::server
