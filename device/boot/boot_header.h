// The boot header: the record in the bootflags area that tells the
// bootloader which slot (root_a or root_b) to boot, and the logic that
// reads, writes and acts on it. The device's update client, ota-bootsim and
// deploy/uboot/boot.cmd (the same algorithm in U-Boot's shell) all follow
// this file.
//
//   BootFlags flags(&bootflags_device);
//   // Install into the inactive slot:
//   flags.MarkSlotUnbootable(Slot::kB);          // before the first byte
//   ... write the image to root_b, Flush() ...
//   flags.SetTrial(Slot::kB, size, sha256, /*attempts=*/3, sequence);
//   // reboot; the bootloader runs Boot(flags, root_a, root_b);
//   // once the new image is healthy:
//   flags.Commit();
//
// ## Layout
//
// The bootflags area (512 KiB at NAND offset 0x00B80000 in the seed's
// layout) holds two copies of the header: copy 0 at offset 0, copy 1 at
// offset 256 KiB (kBootHeaderCopyOffsets). Each copy is one 128-byte record,
// little-endian:
//
//   offset size field
//   0x00    8   magic "OTABOOT1"
//   0x08    2   version (1)
//   0x0A    1   active slot (0 = a, 1 = b)
//   0x0B    1   trial (0 or 1): the active slot has not been committed
//   0x0C    1   attempts left: trial boots still allowed
//   0x0D    1   trial attempts: attempts granted by SetTrial
//   0x0E    1   slot a bootable (0 or 1)
//   0x0F    1   slot b bootable (0 or 1)
//   0x10    8   counter: grows by one with every write
//   0x18    8   slot a image size in bytes
//   0x20    8   slot b image size in bytes
//   0x28    8   slot a sequence number (of the manifest it came from)
//   0x30    8   slot b sequence number
//   0x38   32   slot a image SHA-256
//   0x58   32   slot b image SHA-256
//   0x78    4   reserved, zero
//   0x7C    4   CRC-32/IEEE of bytes 0x00-0x7B
//
// Every future version keeps the magic at 0x00, the version at 0x08, the
// size of 128 bytes and the CRC in the last four bytes, so any reader can
// tell a whole record of another version from a damaged one.
//
// A copy is valid when its magic, CRC, version and fields check out
// (DecodeBootHeader). On NAND the two copies must lie in different erase
// blocks, so that erasing one never touches the other. 256 KiB apart suits
// erase blocks up to 256 KiB, and with the 128 KiB blocks of the seed's
// NAND leaves a spare block after each copy: U-Boot's nand read and write
// skip a bad block to the next good one, so a copy whose block goes bad
// moves into its spare, never onto the other copy.
//
// ## Writing (BootFlags::Write)
//
// Read both copies; the newest is the valid one with the higher counter
// (copy 0 on a tie). Write the new header, with counter = newest + 1, over
// the OTHER copy, then flush. A power cut before the flush completes leaves
// the newest copy untouched and the other one old or torn (bad CRC), so the
// next reader sees the old header; after the flush it sees the new one.
// There is no third outcome. With no valid copy at all (a blank area), the
// header goes to copy 0 with counter 1. A newest counter of 2^64 - 1 (which
// only a broken writer reaches) has no successor: the header then goes to
// the other copy with counter 1, is flushed, and goes over the newest copy
// with counter 2, which keeps the same two outcomes.
//
// ## Booting (Boot)
//
// 1. Load the newest valid copy. None: stop, "no valid boot header".
// 2. Take the active slot S as the candidate. It cannot boot when
//    - it is on trial with no attempts left ("attempts exhausted on S"), or
//    - it is not bootable ("S not bootable"), or
//    - with verification on, its content's SHA-256 over the recorded image
//      size differs from the recorded one ("sha256 mismatch on S").
// 3. If S can boot: on a trial, count the attempt (attempts left - 1) and
//    write the header before booting, so a crash during the boot still
//    used up an attempt; boot S ("trial attempt n of m", or "committed").
//    A fallback decided in step 4 is written here as well.
// 4. If S cannot boot: mark S not bootable, make the other slot active,
//    clear the trial, and go back to step 2 with it (once). If it cannot
//    boot either, stop with "no bootable slot" and write nothing.
// After Boot returns OK, the header's active slot is the slot booted, and
// it is durable.
//
// Not thread-safe; one process owns the bootflags area at a time.
#ifndef OTA_DEVICE_BOOT_BOOT_HEADER_H_
#define OTA_DEVICE_BOOT_BOOT_HEADER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "device/slots/block_device.h"

namespace ota::device {

enum class Slot : uint8_t { kA = 0, kB = 1 };

// The slot that is not `slot`.
inline Slot OtherSlot(Slot slot) {
  return slot == Slot::kA ? Slot::kB : Slot::kA;
}

// "a" or "b", as the seed's partitions root_a and root_b name them.
inline const char* SlotName(Slot slot) { return slot == Slot::kA ? "a" : "b"; }

inline constexpr char kBootHeaderMagic[] = "OTABOOT1";
inline constexpr uint16_t kBootHeaderVersion = 1;
inline constexpr size_t kBootHeaderSize = 128;
inline constexpr size_t kImageSha256Size = 32;
// Where each copy starts within the bootflags area.
inline constexpr uint64_t kBootHeaderCopyOffsets[2] = {0, 256 * 1024};
// The smallest bootflags device that holds both copies.
inline constexpr uint64_t kBootFlagsMinSize =
    kBootHeaderCopyOffsets[1] + kBootHeaderSize;
// The seed's bootflags partition.
inline constexpr uint64_t kBootFlagsSize = 512 * 1024;

// What the header records about one slot.
struct SlotState {
  // Whether the bootloader may boot it. False from the moment an image
  // starts to be written into it until SetTrial.
  bool bootable = false;
  // The image occupies the slot's first `image_size` bytes.
  uint64_t image_size = 0;
  // The image's SHA-256: 32 raw bytes.
  std::string image_sha256 = std::string(kImageSha256Size, '\0');
  // The sequence number of the manifest the image was installed from.
  uint64_t sequence = 0;

  friend bool operator==(const SlotState& a, const SlotState& b) {
    return a.bootable == b.bootable && a.image_size == b.image_size &&
           a.image_sha256 == b.image_sha256 && a.sequence == b.sequence;
  }
  friend bool operator!=(const SlotState& a, const SlotState& b) {
    return !(a == b);
  }
};

// One copy of the header, decoded. Version and CRC live only in the bytes.
struct BootHeader {
  // Grows by one with every write; BootFlags::Write sets it.
  uint64_t counter = 0;
  Slot active_slot = Slot::kA;
  // The active slot runs an image not yet committed.
  bool trial = false;
  // Trial boots still allowed; the bootloader counts them down.
  uint8_t attempts_left = 0;
  // Trial boots SetTrial allowed; for "attempt n of m".
  uint8_t trial_attempts = 0;
  // Indexed by Slot: slots[0] is a, slots[1] is b.
  std::array<SlotState, 2> slots;

  SlotState& slot(Slot s) { return slots[static_cast<int>(s)]; }
  const SlotState& slot(Slot s) const { return slots[static_cast<int>(s)]; }

  friend bool operator==(const BootHeader& a, const BootHeader& b) {
    return a.counter == b.counter && a.active_slot == b.active_slot &&
           a.trial == b.trial && a.attempts_left == b.attempts_left &&
           a.trial_attempts == b.trial_attempts && a.slots == b.slots;
  }
  friend bool operator!=(const BootHeader& a, const BootHeader& b) {
    return !(a == b);
  }
};

// The 128 bytes of `header`, CRC included. INVALID_ARGUMENT when a field
// cannot be encoded: an active slot other than a or b, an image SHA-256
// that is not 32 bytes, attempts left above trial attempts.
absl::StatusOr<std::string> EncodeBootHeader(const BootHeader& header);

// Parses one copy. The checks, in order:
//   INVALID_ARGUMENT  "boot header is N bytes, want 128"
//   DATA_LOSS         "bad magic"
//   DATA_LOSS         "bad CRC: stored 0x..., computed 0x..."
//   UNIMPLEMENTED     "unknown boot header version N (this build reads 1)"
//   DATA_LOSS         "bad active slot N", "bad trial flag N",
//                     "bad bootable flag N for slot a|b",
//                     "attempts left N exceed trial attempts M",
//                     "reserved bytes are not zero"
// The last group can only come from a broken writer: the CRC matched.
absl::StatusOr<BootHeader> DecodeBootHeader(absl::string_view bytes);

// Reads, writes and updates the two header copies on a bootflags device:
// the device side of the boot header, like Android's BootControl.
class BootFlags {
 public:
  // `device` is not owned and must outlive this object.
  explicit BootFlags(BlockDevice* device) : device_(device) {}

  // The newest valid copy (the higher counter; copy 0 on a tie).
  // DATA_LOSS "no valid boot header" with each copy's reason when neither
  // is valid; FAILED_PRECONDITION when the device is smaller than
  // kBootFlagsMinSize; the device's error when a read fails.
  absl::StatusOr<BootHeader> Load() const;

  // Writes `header` with counter = newest valid counter + 1 (1 when there
  // is none) over the copy that is not the newest valid one, then flushes.
  // Returns the counter written. `header.counter` is ignored. When the
  // newest counter is already 2^64 - 1, the header goes to both copies,
  // counter 1 over the other copy and then 2 over the newest, each flushed.
  // INVALID_ARGUMENT from EncodeBootHeader; the device's error when a
  // read, write or flush fails.
  absl::StatusOr<uint64_t> Write(const BootHeader& header);

  // Writes the factory header: `slot` active, committed and bootable with
  // the given image; the other slot not bootable.
  absl::Status WriteFactoryHeader(Slot slot, uint64_t image_size,
                                  absl::string_view image_sha256,
                                  uint64_t sequence);

  // Marks `slot` not bootable and forgets its image, before the first byte
  // of a new image is written into it. FAILED_PRECONDITION when `slot` is
  // the active slot, or when the active slot is itself on trial: the slot
  // about to be overwritten is then the only known-good image (commit
  // first). Load's and Write's errors otherwise.
  absl::Status MarkSlotUnbootable(Slot slot);

  // Switches to `slot` for a trial: records its image and makes it the
  // active slot, bootable, on trial with `attempts` boots to prove itself.
  // Call after the image is written and flushed. INVALID_ARGUMENT when
  // `image_sha256` is not 32 bytes or `attempts` is 0; FAILED_PRECONDITION
  // when `slot` is already active or the active slot is on trial.
  absl::Status SetTrial(Slot slot, uint64_t image_size,
                        absl::string_view image_sha256, uint8_t attempts,
                        uint64_t sequence);

  // Ends the trial of the active slot: it is now the committed image.
  // FAILED_PRECONDITION "no trial to commit" when there is none (also the
  // case after the bootloader fell back).
  absl::Status Commit();

 private:
  struct Copies;
  absl::StatusOr<Copies> ReadCopies() const;
  // Writes `bytes` over copy `copy` (0 or 1), then flushes.
  absl::Status WriteCopy(int copy, absl::string_view bytes);

  BlockDevice* const device_;
};

// OK when the first `state.image_size` bytes of `device` hash to
// `state.image_sha256`. DATA_LOSS "sha256 mismatch" (with both digests in
// hex) when they do not; OUT_OF_RANGE when the image would not fit in the
// device; the device's error when a read fails.
absl::Status VerifySlotImage(const BlockDevice& device, const SlotState& state);

struct BootOptions {
  // Hash the chosen slot's image before booting it, and fall back when it
  // does not match the header (step 2 above).
  bool verify_image = false;
};

struct BootDecision {
  Slot slot = Slot::kA;
  // Why this slot: "committed", "trial attempt 2 of 3",
  // "fallback: attempts exhausted on b", "fallback: sha256 mismatch on a",
  // "fallback: b not bootable", "fallback: cannot read b: ...".
  std::string reason;
};

// What the bootloader does at power-on (see "Booting" above): picks the slot
// to boot, counts trial attempts, falls back, and makes its choice durable
// in `flags` before returning it. FAILED_PRECONDITION "no bootable slot: ..."
// with both slots' reasons when neither can boot; Load's errors (DATA_LOSS
// "no valid boot header"); Write's errors, in which case nothing may boot
// (power is gone, or the bootflags device is failing).
absl::StatusOr<BootDecision> Boot(BootFlags& flags, const BlockDevice& slot_a,
                                  const BlockDevice& slot_b,
                                  const BootOptions& options = {});

}  // namespace ota::device

#endif  // OTA_DEVICE_BOOT_BOOT_HEADER_H_
