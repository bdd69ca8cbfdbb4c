#include "common/manifest/policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/crypto/bytes.h"
#include "common/manifest/uuid.h"
#include "common/status/reason.h"

namespace ota::common {
namespace {

absl::Status NotApplicable(ota::v1::ReasonCode reason,
                           absl::string_view message) {
  return ReasonError(absl::StatusCode::kFailedPrecondition, reason, message);
}

}  // namespace

absl::Status CheckApplicable(const ota::v1::Manifest& m,
                             const DeviceState& device, int64_t now_unix) {
  if (m.vendor_id() != device.vendor_id) {
    return NotApplicable(ota::v1::REASON_VENDOR_MISMATCH,
                         absl::StrCat("manifest is for vendor ",
                                      UuidToString(m.vendor_id()),
                                      ", the device is of vendor ",
                                      UuidToString(device.vendor_id)));
  }
  if (m.class_id() != device.class_id) {
    return NotApplicable(ota::v1::REASON_CLASS_MISMATCH,
                         absl::StrCat("manifest is for class ",
                                      UuidToString(m.class_id()),
                                      ", the device is of class ",
                                      UuidToString(device.class_id)));
  }
  if (m.device_ids_size() > 0 &&
      std::find(m.device_ids().begin(), m.device_ids().end(),
                device.device_id) == m.device_ids().end()) {
    return NotApplicable(ota::v1::REASON_DEVICE_MISMATCH,
                         absl::StrCat("manifest lists ", m.device_ids_size(),
                                      " device(s) and not ", device.device_id));
  }
  if (!device.component.empty() && !m.component().empty() &&
      m.component() != device.component) {
    return NotApplicable(ota::v1::REASON_COMPONENT_MISMATCH,
                         absl::StrCat("manifest installs component \"",
                                      m.component(), "\", the device updates \"",
                                      device.component, "\""));
  }
  if (m.expires_unix() != 0 && now_unix >= m.expires_unix()) {
    return NotApplicable(ota::v1::REASON_EXPIRED,
                         absl::StrCat("manifest expired at ", m.expires_unix(),
                                      " (now ", now_unix, ")"));
  }
  const uint64_t seq = m.sequence_number();
  const uint64_t installed = device.installed_sequence;
  if (seq == installed) {
    return NotApplicable(ota::v1::REASON_SEQUENCE_NOT_NEWER,
                         absl::StrCat("sequence number ", seq,
                                      " is already installed"));
  }
  if (seq < installed) {
    if (!m.has_downgrade()) {
      return NotApplicable(ota::v1::REASON_ROLLBACK,
                           absl::StrCat("sequence number ", seq,
                                        " is below the installed ", installed,
                                        " and no downgrade is authorized"));
    }
    if (installed > m.downgrade().max_installed_sequence()) {
      return NotApplicable(
          ota::v1::REASON_DOWNGRADE_NOT_AUTHORIZED,
          absl::StrCat("downgrade to ", seq, " is authorized only over ",
                       "sequence numbers up to ",
                       m.downgrade().max_installed_sequence(),
                       ", the device runs ", installed));
    }
  }
  if (m.payload().format() == ota::v1::PAYLOAD_FORMAT_ZSTD_DELTA &&
      m.payload().precursor_sha256() != device.installed_sha256) {
    return NotApplicable(
        ota::v1::REASON_PRECURSOR_MISMATCH,
        absl::StrCat("delta applies to image ",
                     HexEncode(m.payload().precursor_sha256()),
                     ", the device runs ",
                     device.installed_sha256.empty()
                         ? std::string("an unknown image")
                         : HexEncode(device.installed_sha256)));
  }
  if (device.max_payload_size != 0 &&
      m.payload().size() > device.max_payload_size) {
    return NotApplicable(ota::v1::REASON_PAYLOAD_TOO_LARGE,
                         absl::StrCat("payload is ", m.payload().size(),
                                      " bytes, the device accepts at most ",
                                      device.max_payload_size));
  }
  uint64_t installed_size =
      m.installed_size() != 0 ? m.installed_size() : m.payload().size();
  if (device.slot_size != 0 && installed_size > device.slot_size) {
    return NotApplicable(ota::v1::REASON_PAYLOAD_TOO_LARGE,
                         absl::StrCat("image needs ", installed_size,
                                      " bytes, the slot holds ",
                                      device.slot_size));
  }
  return absl::OkStatus();
}

}  // namespace ota::common
