// BootControl over the boot header in the bootflags area (device/boot).
// Which slot runs comes from the bootloader: a file it wrote (the simulated
// fleet's ota-bootsim, or a kernel command line copied at start), or, when
// none is configured, the header's active slot.
#ifndef OTA_DEVICE_CLIENT_HEADER_BOOT_CONTROL_H_
#define OTA_DEVICE_CLIENT_HEADER_BOOT_CONTROL_H_

#include <functional>
#include <string>

#include "device/boot/boot_header.h"
#include "device/client/boot_control.h"

namespace ota::device {

class HeaderBootControl : public BootControl {
 public:
  // `booted_slot_file` holds "a" or "b" (whitespace ignored); empty: the
  // header's active slot. `flags` is not owned.
  HeaderBootControl(BootFlags* flags, std::string booted_slot_file)
      : flags_(flags), booted_slot_file_(std::move(booted_slot_file)) {}

  absl::StatusOr<int> BootedSlot() override;
  absl::StatusOr<bool> InTrial() override;
  absl::Status MarkUnbootable(int slot) override;
  absl::Status SetTrial(int slot, uint64_t image_size, const std::string& image_sha256,
                        uint32_t attempts, uint64_t sequence) override;
  absl::Status Commit() override;
  absl::Status RollBack(int slot) override;

 private:
  BootFlags* flags_;
  std::string booted_slot_file_;
};

}  // namespace ota::device

#endif  // OTA_DEVICE_CLIENT_HEADER_BOOT_CONTROL_H_
