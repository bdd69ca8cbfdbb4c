#include "server/auth/device_identity.h"

#include "absl/strings/str_cat.h"

namespace ota::server {

grpc::Status CheckDeviceIdentity(const grpc::ServerContextBase& context,
                                 const std::string& device_id, bool required) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  std::vector<grpc::string_ref> names;
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    names = auth->FindPropertyValues("x509_common_name");
  }
  if (names.empty()) {
    if (!required) return grpc::Status::OK;
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "devices must present a certificate of the fleet CA");
  }
  const std::string name(names.front().data(), names.front().size());
  if (name != device_id) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        absl::StrCat("the certificate is for device \"", name, "\", not \"",
                                     device_id, "\""));
  }
  return grpc::Status::OK;
}

}  // namespace ota::server
