// The one place where absl::Status becomes grpc::Status. A status that
// carries an ota.v1.ReasonCode gets the reason's name in front of its
// message ("REASON_ROLLBACK: sequence 3 is below 7"), so clients and people
// see the stable code as well as the text.
#ifndef OTA_SERVER_API_STATUS_H_
#define OTA_SERVER_API_STATUS_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"

namespace ota::server {

grpc::Status ToGrpc(const absl::Status& status);

}  // namespace ota::server

#endif  // OTA_SERVER_API_STATUS_H_
