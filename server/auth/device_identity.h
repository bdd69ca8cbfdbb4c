// Which device is calling the device API: under mutual TLS, the common name
// of the client certificate that the TLS layer verified against the fleet
// CA. The device id in a request must be that one; it is never taken on
// the request's word.
//
//   if (grpc::Status s = CheckDeviceIdentity(*context, request->device_id(), ca_configured);
//       !s.ok()) return s;
#ifndef OTA_SERVER_AUTH_DEVICE_IDENTITY_H_
#define OTA_SERVER_AUTH_DEVICE_IDENTITY_H_

#include <grpcpp/grpcpp.h>

#include <string>

namespace ota::server {

// OK when the call's verified client certificate names `device_id`, or when
// no certificate is `required` (no fleet CA configured: development) and
// none was presented. UNAUTHENTICATED when one is required and missing;
// PERMISSION_DENIED when it names another device.
grpc::Status CheckDeviceIdentity(const grpc::ServerContextBase& context,
                                 const std::string& device_id, bool required);

}  // namespace ota::server

#endif  // OTA_SERVER_AUTH_DEVICE_IDENTITY_H_
