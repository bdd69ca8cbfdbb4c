// Applicability: may this device install this (already verified) manifest
// now? The checks a device makes before downloading, and the server makes
// before offering a deployment.
//
//   DeviceState d{...};
//   absl::Status s = CheckApplicable(verified.manifest, d, now);
//   // FAILED_PRECONDITION with REASON_ROLLBACK, REASON_EXPIRED, ...
#ifndef OTA_COMMON_MANIFEST_POLICY_H_
#define OTA_COMMON_MANIFEST_POLICY_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "ota/v1/manifest.pb.h"

namespace ota::common {

// What the policy needs to know about the device.
struct DeviceState {
  std::string device_id;
  std::string vendor_id;  // 16 raw bytes
  std::string class_id;   // 16 raw bytes
  // Components the device installs; empty accepts any.
  std::string component;
  // Sequence number of the running image (0 for a factory image).
  uint64_t installed_sequence = 0;
  // SHA-256 of the running image (32 raw bytes); empty when unknown, which
  // refuses every delta.
  std::string installed_sha256;
  // Largest payload the device accepts; 0 for no limit.
  uint64_t max_payload_size = 0;
  // Size of the inactive slot; 0 when unknown (not checked).
  uint64_t slot_size = 0;
};

// OK when `manifest` may be installed on `device` at `now_unix`. Otherwise
// FAILED_PRECONDITION with the first reason found, in this order:
// REASON_VENDOR_MISMATCH, REASON_CLASS_MISMATCH, REASON_DEVICE_MISMATCH,
// REASON_COMPONENT_MISMATCH, REASON_EXPIRED, REASON_SEQUENCE_NOT_NEWER /
// REASON_ROLLBACK / REASON_DOWNGRADE_NOT_AUTHORIZED, REASON_PRECURSOR_MISMATCH,
// REASON_PAYLOAD_TOO_LARGE.
absl::Status CheckApplicable(const ota::v1::Manifest& manifest,
                             const DeviceState& device, int64_t now_unix);

}  // namespace ota::common

#endif  // OTA_COMMON_MANIFEST_POLICY_H_
