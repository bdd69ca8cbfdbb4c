#include "common/status/reason.h"

#include "absl/types/optional.h"

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ota::common {
namespace {

constexpr char kReasonUrl[] = "type.ota/ota.v1.ReasonCode";

}  // namespace

absl::Status ReasonError(absl::StatusCode code, ota::v1::ReasonCode reason,
                         absl::string_view message) {
  absl::Status status(code, message);
  status.SetPayload(kReasonUrl, absl::Cord(absl::StrCat(static_cast<int>(reason))));
  return status;
}

ota::v1::ReasonCode ReasonOf(const absl::Status& status) {
  absl::optional<absl::Cord> payload = status.GetPayload(kReasonUrl);
  int value = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &value) ||
      !ota::v1::ReasonCode_IsValid(value)) {
    return ota::v1::REASON_UNSPECIFIED;
  }
  return static_cast<ota::v1::ReasonCode>(value);
}

absl::Status WithContext(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  absl::Status out(status.code(), absl::StrCat(context, ": ", status.message()));
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) {
        out.SetPayload(url, payload);
      });
  return out;
}

std::string ReasonName(ota::v1::ReasonCode reason) {
  if (!ota::v1::ReasonCode_IsValid(reason)) {
    return absl::StrCat(static_cast<int>(reason));
  }
  return ota::v1::ReasonCode_Name(reason);
}

}  // namespace ota::common
