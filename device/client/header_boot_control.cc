#include "device/client/header_boot_control.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/base/file.h"

namespace ota::device {
namespace {

Slot ToSlot(int slot) { return slot == 1 ? Slot::kB : Slot::kA; }

}  // namespace

absl::StatusOr<int> HeaderBootControl::BootedSlot() {
  if (!booted_slot_file_.empty()) {
    absl::StatusOr<std::string> text = common::ReadFile(booted_slot_file_, 64);
    if (!text.ok()) return text.status();
    absl::string_view name = absl::StripAsciiWhitespace(*text);
    if (name == "a") return 0;
    if (name == "b") return 1;
    return absl::DataLossError(
        absl::StrCat(booted_slot_file_, " says \"", name, "\", not a or b"));
  }
  absl::StatusOr<BootHeader> header = flags_->Load();
  if (!header.ok()) return header.status();
  return static_cast<int>(header->active_slot);
}

absl::StatusOr<bool> HeaderBootControl::InTrial() {
  absl::StatusOr<int> booted = BootedSlot();
  if (!booted.ok()) return booted.status();
  absl::StatusOr<BootHeader> header = flags_->Load();
  if (!header.ok()) return header.status();
  return header->trial && static_cast<int>(header->active_slot) == *booted;
}

absl::Status HeaderBootControl::MarkUnbootable(int slot) {
  return flags_->MarkSlotUnbootable(ToSlot(slot));
}

absl::Status HeaderBootControl::SetTrial(int slot, uint64_t image_size,
                                         const std::string& image_sha256, uint32_t attempts,
                                         uint64_t sequence) {
  return flags_->SetTrial(ToSlot(slot), image_size, image_sha256,
                          static_cast<uint8_t>(attempts > 255 ? 255 : attempts), sequence);
}

absl::Status HeaderBootControl::Commit() { return flags_->Commit(); }

absl::Status HeaderBootControl::RollBack(int slot) {
  absl::StatusOr<BootHeader> header = flags_->Load();
  if (!header.ok()) return header.status();
  BootHeader next = *header;
  next.active_slot = ToSlot(slot);
  next.trial = false;
  next.attempts_left = 0;
  next.slot(ToSlot(slot)).bootable = true;
  next.slot(OtherSlot(ToSlot(slot))).bootable = false;
  absl::StatusOr<uint64_t> written = flags_->Write(next);
  return written.ok() ? absl::OkStatus() : written.status();
}

}  // namespace ota::device
