// A stable ReasonCode carried inside an absl::Status.
//
// Every rejection of a manifest, payload or deployment has both a canonical
// status code (for callers) and an ota.v1.ReasonCode (for devices' reports,
// metrics and dashboards). The reason travels as a status payload, so it
// survives being passed up through layers that add context.
//
//   return ReasonError(absl::StatusCode::kFailedPrecondition,
//                      ota::v1::REASON_ROLLBACK, "sequence 3 is below 7");
//   ...
//   if (ReasonOf(status) == ota::v1::REASON_ROLLBACK) ...
#ifndef OTA_COMMON_STATUS_REASON_H_
#define OTA_COMMON_STATUS_REASON_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ota/v1/manifest.pb.h"

namespace ota::common {

// A status with `code`, `message` and `reason` attached.
absl::Status ReasonError(absl::StatusCode code, ota::v1::ReasonCode reason,
                         absl::string_view message);

// The reason attached to `status`; REASON_UNSPECIFIED when there is none
// (including OK).
ota::v1::ReasonCode ReasonOf(const absl::Status& status);

// `status` with `context` and ": " put before its message; code and reason
// are kept.
absl::Status WithContext(const absl::Status& status, absl::string_view context);

// The enum name of `reason` ("REASON_ROLLBACK"), or its number when it is
// not a known value.
std::string ReasonName(ota::v1::ReasonCode reason);

}  // namespace ota::common

#endif  // OTA_COMMON_STATUS_REASON_H_
