// Who may call which admin RPC, decided once per call by an interceptor and
// enforced by the first line of every admin method:
//
//   AccessGate gate(&access_store, /*enforce=*/true);
//   builder.experimental().SetInterceptorCreators(gate.Interceptors());
//   ...
//   grpc::Status CampaignServiceImpl::StartCampaign(grpc::ServerContext* context, ...) {
//     if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
//
// The caller shows a bearer token (`authorization: Bearer ota_...`, gRPC
// metadata or the HTTP header the REST gateway forwards); RequiredRole
// says what each method needs. A call without a valid token is
// UNAUTHENTICATED, one whose role falls short PERMISSION_DENIED, each with
// the reason. Every call that changes state, and every refused call, is
// appended to the audit log with its actor, method, target and result.
//
// Not enforcing (development mode): every call is admitted, and changes are
// still audited, with no actor.
#ifndef OTA_SERVER_AUTH_ACCESS_GATE_H_
#define OTA_SERVER_AUTH_ACCESS_GATE_H_

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/auth/access_store.h"

namespace ota::server {

// The role a gRPC method (full name, "/ota.v1.CampaignService/StartCampaign")
// needs; nullopt when no token is asked for (the device API, which devices
// reach with their certificates, and the health service). Methods this
// table does not know need ADMIN.
std::optional<ota::v1::Role> RequiredRole(absl::string_view method);

// True for the admin methods that change state (everything but Get*,
// List* and Watch*): those are audited.
bool ChangesState(absl::string_view method);

class AccessGate {
 public:
  AccessGate(AccessStore* store, bool enforce) : store_(store), enforce_(enforce) {}

  // A factory list for ServerBuilder::experimental().SetInterceptorCreators.
  // Calls of the methods (full names) in `self_audited` are not
  // intercepted, as gRPC allocates an interceptor per call and keeps it as
  // long as the call: only for methods that need no token (RequiredRole is
  // nullopt; Check would refuse their calls), whose handlers pass each
  // call's final status to RecordResult.
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
  Interceptors(std::vector<std::string> self_audited = {});

  // What the interceptor does with the final status of a call: appends it
  // to the audit log if the call was refused or changed state. `request`
  // names the call's target, as the interceptor reads it from the request.
  void RecordResult(const grpc::ServerContextBase* context, const std::string& method,
                    const google::protobuf::Message& request, const grpc::Status& result) const;

  // The verdict for the call of `context`. A call the interceptor did not
  // see is refused (INTERNAL), so a method can never be reached unchecked.
  grpc::Status Check(const grpc::ServerContextBase* context) const;

  // The principal of the call (empty name when none), for services that
  // record who did something.
  Principal Caller(const grpc::ServerContextBase* context) const;

  bool enforcing() const { return enforce_; }

 private:
  friend class AccessInterceptor;
  struct Verdict {
    grpc::Status status;
    Principal principal;
  };
  void Decide(const grpc::ServerContextBase* context, const std::string& method,
              const std::string& authorization);
  void Forget(const grpc::ServerContextBase* context);
  void Record(const grpc::ServerContextBase* context, const std::string& method,
              const std::string& target, const std::string& peer,
              const grpc::Status& result) const;

  AccessStore* store_;
  const bool enforce_;
  mutable absl::Mutex mu_;
  std::map<const grpc::ServerContextBase*, Verdict> verdicts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ota::server

#endif  // OTA_SERVER_AUTH_ACCESS_GATE_H_
