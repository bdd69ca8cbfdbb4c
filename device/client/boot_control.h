// What the update pipeline needs from the bootloader's state: which slot
// runs, and the switches of an A/B update. The implementation over the
// boot header is HeaderBootControl (header_boot_control.h); slots are 0
// ("a") and 1 ("b").
//
// Contracts, in the order an update uses them:
//   MarkUnbootable(target)    before a byte of the image is written
//   SetTrial(target, ...)     after the image is verified: boot it next,
//                             as a trial with `attempts` tries
//   (reboot)
//   BootedSlot()              the slot the bootloader actually started
//   Commit()                  the trial image passed its health check
//   RollBack(previous)        it did not: boot `previous` again, for good
#ifndef OTA_DEVICE_CLIENT_BOOT_CONTROL_H_
#define OTA_DEVICE_CLIENT_BOOT_CONTROL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ota::device {

class BootControl {
 public:
  virtual ~BootControl() = default;

  // The slot the running system was booted from.
  virtual absl::StatusOr<int> BootedSlot() = 0;

  // True when the booted slot runs as an uncommitted trial.
  virtual absl::StatusOr<bool> InTrial() = 0;

  // Makes `slot` unbootable, durably, so that a half-written image can
  // never be started.
  virtual absl::Status MarkUnbootable(int slot) = 0;

  // Makes `slot` the one to boot next, as a trial with `attempts` tries,
  // recording the image's size, SHA-256 (32 bytes) and sequence number.
  virtual absl::Status SetTrial(int slot, uint64_t image_size, const std::string& image_sha256,
                                uint32_t attempts, uint64_t sequence) = 0;

  // Ends the trial of the booted slot: it stays the active one.
  virtual absl::Status Commit() = 0;

  // Makes `slot` active and committed and the other slot unbootable.
  virtual absl::Status RollBack(int slot) = 0;
};

// "a" or "b".
inline std::string SlotName(int slot) { return slot == 0 ? "a" : "b"; }

}  // namespace ota::device

#endif  // OTA_DEVICE_CLIENT_BOOT_CONTROL_H_
