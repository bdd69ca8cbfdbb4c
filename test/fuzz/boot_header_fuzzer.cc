// Fuzzes the boot header (device/boot/boot_header.h): DecodeBootHeader on
// arbitrary copies, then the bootloader's Boot() on an arbitrary two-copy
// bootflags area, power-on after power-on, until it settles.
//
// Input: one option byte (bit 0: give copy 0 a correct CRC, bit 1: the same
// for copy 1, so that mutations reach the fields behind the CRC; bit 2:
// verify slot images), the two 128-byte copies (short input is padded with
// zeros), then the contents of slot a and slot b (the rest, halved).
//
// Aborts when a decoded copy does not encode back to the same bytes, or
// when Boot() breaks its contract: after it returns OK the header's active
// slot must be the slot booted, bootable and durable, a trial attempt must
// be counted, a committed boot writes nothing, "no bootable slot" writes
// nothing, and a trial must end within its attempts.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "device/boot/boot_header.h"
#include "device/boot/crc32.h"
#include "device/slots/fake_block_device.h"
#include "test/fuzz/invariant.h"

namespace {

using ota::fuzz::Require;
using namespace ota::device;

std::string Describe(const absl::StatusOr<BootHeader>& h) {
  if (!h.ok()) return h.status().ToString();
  return absl::StrCat("counter ", h->counter, " active ", SlotName(h->active_slot),
                      " trial ", h->trial, " attempts ", h->attempts_left, "/",
                      h->trial_attempts, " bootable ", h->slots[0].bootable,
                      h->slots[1].bootable);
}

// The two copies as the medium holds them.
std::string DurableCopies(const FakeBlockDevice& area) {
  const std::string& bytes = area.durable_contents();
  return bytes.substr(kBootHeaderCopyOffsets[0], kBootHeaderSize) +
         bytes.substr(kBootHeaderCopyOffsets[1], kBootHeaderSize);
}

void FixCrc(std::string& copy) {
  uint32_t crc = ota::device::Crc32(absl::string_view(copy).substr(0, 124));
  for (int i = 0; i < 4; ++i) copy[124 + i] = static_cast<char>(crc >> (8 * i));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  const uint8_t options = size > 0 ? data[0] : 0;
  std::string copies[2];
  for (int i = 0; i < 2; ++i) {
    size_t at = 1 + i * kBootHeaderSize;
    copies[i] = at < size ? std::string(input.substr(at, kBootHeaderSize)) : "";
    copies[i].resize(kBootHeaderSize, '\0');

    absl::StatusOr<BootHeader> decoded = DecodeBootHeader(copies[i]);
    if (decoded.ok()) {
      absl::StatusOr<std::string> encoded = EncodeBootHeader(*decoded);
      Require(encoded.ok() && *encoded == copies[i],
              "a decoded header does not encode to its bytes");
    }
    if (options & (1 << i)) FixCrc(copies[i]);
  }
  const size_t contents_at = 1 + 2 * kBootHeaderSize;
  absl::string_view contents =
      contents_at < size ? input.substr(contents_at) : absl::string_view();
  absl::string_view a = contents.substr(0, contents.size() / 2);
  absl::string_view b = contents.substr(contents.size() / 2);

  FakeBlockDevice area(kBootFlagsMinSize);
  area.WriteDurably(kBootHeaderCopyOffsets[0], copies[0]);
  area.WriteDurably(kBootHeaderCopyOffsets[1], copies[1]);
  FakeBlockDevice slot_a(a.size()), slot_b(b.size());
  slot_a.WriteDurably(0, a);
  slot_b.WriteDurably(0, b);
  BootFlags flags(&area);
  BootOptions boot_options;
  boot_options.verify_image = (options & 4) != 0;

  // 255 trial attempts at most, one fallback, then it must have settled.
  for (int power_on = 0; power_on < 260; ++power_on) {
    const absl::StatusOr<BootHeader> before = flags.Load();
    const std::string area_before = DurableCopies(area);
    absl::StatusOr<BootDecision> decision =
        Boot(flags, slot_a, slot_b, boot_options);
    if (!decision.ok()) {
      Require(DurableCopies(area) == area_before,
              "a refused boot wrote the header", decision.status().ToString());
      return 0;
    }
    Require(before.ok(), "booted without a valid header");
    area.LosePower();  // what Boot() wrote must be durable
    const absl::StatusOr<BootHeader> after = flags.Load();
    const std::string what =
        absl::StrCat("boot ", SlotName(decision->slot), ": ", decision->reason,
                     "\nbefore: ", Describe(before), "\nafter: ", Describe(after));
    Require(after.ok(), "no valid header after a boot", what);
    Require(after->active_slot == decision->slot,
            "the header's active slot is not the slot booted", what);
    Require(after->slot(decision->slot).bootable, "booted an unbootable slot",
            what);
    if (boot_options.verify_image) {
      Require(VerifySlotImage(decision->slot == Slot::kA ? slot_a : slot_b,
                              after->slot(decision->slot))
                  .ok(),
              "booted a slot whose image does not verify", what);
    }
    if (absl::StartsWith(decision->reason, "trial attempt")) {
      Require(before->trial && after->trial &&
                  after->attempts_left + 1 == before->attempts_left,
              "a trial attempt was not counted", what);
    } else if (decision->reason == "committed") {
      Require(DurableCopies(area) == area_before,
              "a committed boot wrote the header", what);
      return 0;
    } else {
      Require(absl::StartsWith(decision->reason, "fallback: ") && !after->trial,
              "an unexpected decision", what);
    }
  }
  Require(false, "the boots never settled");
  return 0;
}
