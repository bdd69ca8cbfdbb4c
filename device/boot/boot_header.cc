#include "device/boot/boot_header.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/crypto/bytes.h"
#include "common/crypto/sha256.h"
#include "device/boot/crc32.h"

namespace ota::device {
namespace {

// Field offsets; the table in boot_header.h is the reference.
constexpr size_t kMagicAt = 0x00;
constexpr size_t kVersionAt = 0x08;
constexpr size_t kActiveSlotAt = 0x0A;
constexpr size_t kTrialAt = 0x0B;
constexpr size_t kAttemptsLeftAt = 0x0C;
constexpr size_t kTrialAttemptsAt = 0x0D;
constexpr size_t kBootableAt = 0x0E;  // + slot
constexpr size_t kCounterAt = 0x10;
constexpr size_t kImageSizeAt = 0x18;  // + 8 * slot
constexpr size_t kSequenceAt = 0x28;   // + 8 * slot
constexpr size_t kSha256At = 0x38;     // + 32 * slot
constexpr size_t kReservedAt = 0x78;
constexpr size_t kCrcAt = 0x7C;
constexpr size_t kMagicSize = 8;

static_assert(kSha256At + 2 * kImageSha256Size == kReservedAt);
static_assert(kCrcAt + 4 == kBootHeaderSize);

void PutLittleEndian(std::string& out, size_t at, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) {
    out[at + i] = static_cast<char>((value >> (8 * i)) & 0xFF);
  }
}

uint64_t GetLittleEndian(absl::string_view in, size_t at, int bytes) {
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) {
    value = (value << 8) | static_cast<uint8_t>(in[at + i]);
  }
  return value;
}

std::string Hex32(uint32_t value) { return absl::StrFormat("0x%08x", value); }

}  // namespace

absl::StatusOr<std::string> EncodeBootHeader(const BootHeader& header) {
  if (header.active_slot != Slot::kA && header.active_slot != Slot::kB) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad active slot ", static_cast<int>(header.active_slot)));
  }
  if (header.attempts_left > header.trial_attempts) {
    return absl::InvalidArgumentError(
        absl::StrCat("attempts left ", header.attempts_left,
                     " exceed trial attempts ", header.trial_attempts));
  }
  std::string out(kBootHeaderSize, '\0');
  out.replace(kMagicAt, kMagicSize, kBootHeaderMagic, kMagicSize);
  PutLittleEndian(out, kVersionAt, kBootHeaderVersion, 2);
  out[kActiveSlotAt] = static_cast<char>(header.active_slot);
  out[kTrialAt] = header.trial ? 1 : 0;
  out[kAttemptsLeftAt] = static_cast<char>(header.attempts_left);
  out[kTrialAttemptsAt] = static_cast<char>(header.trial_attempts);
  PutLittleEndian(out, kCounterAt, header.counter, 8);
  for (int s = 0; s < 2; ++s) {
    const SlotState& slot = header.slots[s];
    if (slot.image_sha256.size() != kImageSha256Size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "image sha256 of slot ", SlotName(static_cast<Slot>(s)), " is ",
          slot.image_sha256.size(), " bytes, want ", kImageSha256Size));
    }
    out[kBootableAt + s] = slot.bootable ? 1 : 0;
    PutLittleEndian(out, kImageSizeAt + 8 * s, slot.image_size, 8);
    PutLittleEndian(out, kSequenceAt + 8 * s, slot.sequence, 8);
    out.replace(kSha256At + kImageSha256Size * s, kImageSha256Size,
                slot.image_sha256);
  }
  PutLittleEndian(out, kCrcAt, Crc32(absl::string_view(out).substr(0, kCrcAt)),
                  4);
  return out;
}

absl::StatusOr<BootHeader> DecodeBootHeader(absl::string_view bytes) {
  if (bytes.size() != kBootHeaderSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "boot header is ", bytes.size(), " bytes, want ", kBootHeaderSize));
  }
  if (bytes.substr(kMagicAt, kMagicSize) != kBootHeaderMagic) {
    return absl::DataLossError("bad magic");
  }
  uint32_t stored = static_cast<uint32_t>(GetLittleEndian(bytes, kCrcAt, 4));
  uint32_t computed = Crc32(bytes.substr(0, kCrcAt));
  if (stored != computed) {
    return absl::DataLossError(absl::StrCat("bad CRC: stored ", Hex32(stored),
                                            ", computed ", Hex32(computed)));
  }
  uint64_t version = GetLittleEndian(bytes, kVersionAt, 2);
  if (version != kBootHeaderVersion) {
    return absl::UnimplementedError(absl::StrCat("unknown boot header version ",
                                                 version, " (this build reads ",
                                                 kBootHeaderVersion, ")"));
  }
  BootHeader header;
  uint8_t active = static_cast<uint8_t>(bytes[kActiveSlotAt]);
  if (active > 1) {
    return absl::DataLossError(absl::StrCat("bad active slot ", active));
  }
  header.active_slot = static_cast<Slot>(active);
  uint8_t trial = static_cast<uint8_t>(bytes[kTrialAt]);
  if (trial > 1) {
    return absl::DataLossError(absl::StrCat("bad trial flag ", trial));
  }
  header.trial = trial == 1;
  header.attempts_left = static_cast<uint8_t>(bytes[kAttemptsLeftAt]);
  header.trial_attempts = static_cast<uint8_t>(bytes[kTrialAttemptsAt]);
  if (header.attempts_left > header.trial_attempts) {
    return absl::DataLossError(
        absl::StrCat("attempts left ", header.attempts_left,
                     " exceed trial attempts ", header.trial_attempts));
  }
  header.counter = GetLittleEndian(bytes, kCounterAt, 8);
  for (int s = 0; s < 2; ++s) {
    SlotState& slot = header.slots[s];
    uint8_t bootable = static_cast<uint8_t>(bytes[kBootableAt + s]);
    if (bootable > 1) {
      return absl::DataLossError(absl::StrCat("bad bootable flag ", bootable,
                                              " for slot ",
                                              SlotName(static_cast<Slot>(s))));
    }
    slot.bootable = bootable == 1;
    slot.image_size = GetLittleEndian(bytes, kImageSizeAt + 8 * s, 8);
    slot.sequence = GetLittleEndian(bytes, kSequenceAt + 8 * s, 8);
    slot.image_sha256 = std::string(
        bytes.substr(kSha256At + kImageSha256Size * s, kImageSha256Size));
  }
  if (GetLittleEndian(bytes, kReservedAt, 4) != 0) {
    return absl::DataLossError("reserved bytes are not zero");
  }
  return header;
}

// ---------------------------------------------------------------------------
// BootFlags

struct BootFlags::Copies {
  std::optional<BootHeader> header[2];
  absl::Status error[2];
  // The newest valid copy, or -1 when neither is valid.
  int newest = -1;
};

absl::StatusOr<BootFlags::Copies> BootFlags::ReadCopies() const {
  absl::StatusOr<uint64_t> size = device_->Size();
  if (!size.ok()) return size.status();
  if (*size < kBootFlagsMinSize) {
    return absl::FailedPreconditionError(
        absl::StrCat("bootflags device is ", *size, " bytes, needs at least ",
                     kBootFlagsMinSize));
  }
  Copies copies;
  for (int i = 0; i < 2; ++i) {
    std::string bytes(kBootHeaderSize, '\0');
    if (absl::Status s = device_->Read(kBootHeaderCopyOffsets[i], bytes.data(),
                                       bytes.size());
        !s.ok()) {
      return s;
    }
    absl::StatusOr<BootHeader> header = DecodeBootHeader(bytes);
    if (header.ok()) {
      copies.header[i] = *std::move(header);
    } else {
      copies.error[i] = header.status();
    }
  }
  if (copies.header[0] && copies.header[1]) {
    copies.newest =
        copies.header[1]->counter > copies.header[0]->counter ? 1 : 0;
  } else if (copies.header[0]) {
    copies.newest = 0;
  } else if (copies.header[1]) {
    copies.newest = 1;
  }
  return copies;
}

absl::StatusOr<BootHeader> BootFlags::Load() const {
  absl::StatusOr<Copies> copies = ReadCopies();
  if (!copies.ok()) return copies.status();
  if (copies->newest < 0) {
    return absl::DataLossError(absl::StrCat(
        "no valid boot header (copy 0: ", copies->error[0].message(),
        "; copy 1: ", copies->error[1].message(), ")"));
  }
  return *copies->header[copies->newest];
}

absl::StatusOr<uint64_t> BootFlags::Write(const BootHeader& header) {
  absl::StatusOr<Copies> copies = ReadCopies();
  if (!copies.ok()) return copies.status();
  int target = 0;
  BootHeader next = header;
  next.counter = 1;
  if (copies->newest >= 0) {
    target = 1 - copies->newest;
    next.counter = copies->header[copies->newest]->counter + 1;
  }
  absl::StatusOr<std::string> bytes = EncodeBootHeader(next);
  if (!bytes.ok()) return bytes.status();
  if (next.counter == 0) {
    // The newest copy's counter is at its largest value (only a broken
    // writer gets there): no copy could ever outrank it, and every later
    // write, trial attempts included, would be lost. Count again from 1:
    // the other copy first, while the newest still rules, so that a power
    // cut leaves the old header; then the newest copy itself, with 2 (torn,
    // it leaves the new header in the other copy).
    next.counter = 1;
    bytes = EncodeBootHeader(next);
    if (absl::Status s = WriteCopy(target, *bytes); !s.ok()) return s;
    target = copies->newest;
    next.counter = 2;
    bytes = EncodeBootHeader(next);
  }
  if (absl::Status s = WriteCopy(target, *bytes); !s.ok()) return s;
  return next.counter;
}

absl::Status BootFlags::WriteCopy(int copy, absl::string_view bytes) {
  if (absl::Status s = device_->Write(kBootHeaderCopyOffsets[copy], bytes);
      !s.ok()) {
    return s;
  }
  return device_->Flush();
}

absl::Status BootFlags::WriteFactoryHeader(Slot slot, uint64_t image_size,
                                           absl::string_view image_sha256,
                                           uint64_t sequence) {
  BootHeader header;
  header.active_slot = slot;
  SlotState& state = header.slot(slot);
  state.bootable = true;
  state.image_size = image_size;
  state.image_sha256 = std::string(image_sha256);
  state.sequence = sequence;
  return Write(header).status();
}

absl::Status BootFlags::MarkSlotUnbootable(Slot slot) {
  absl::StatusOr<BootHeader> header = Load();
  if (!header.ok()) return header.status();
  if (header->active_slot == slot) {
    return absl::FailedPreconditionError(absl::StrCat(
        "slot ", SlotName(slot), " is active: it cannot be written"));
  }
  if (header->trial) {
    return absl::FailedPreconditionError(absl::StrCat(
        "slot ", SlotName(header->active_slot), " is on trial and slot ",
        SlotName(slot), " holds the last committed image: commit first"));
  }
  if (header->slot(slot) == SlotState{}) return absl::OkStatus();
  header->slot(slot) = SlotState{};
  return Write(*header).status();
}

absl::Status BootFlags::SetTrial(Slot slot, uint64_t image_size,
                                 absl::string_view image_sha256,
                                 uint8_t attempts, uint64_t sequence) {
  if (image_sha256.size() != kImageSha256Size) {
    return absl::InvalidArgumentError(
        absl::StrCat("image sha256 is ", image_sha256.size(), " bytes, want ",
                     kImageSha256Size));
  }
  if (attempts == 0) {
    return absl::InvalidArgumentError("a trial needs at least one attempt");
  }
  absl::StatusOr<BootHeader> header = Load();
  if (!header.ok()) return header.status();
  if (header->active_slot == slot) {
    return absl::FailedPreconditionError(
        absl::StrCat("slot ", SlotName(slot), " is already active"));
  }
  if (header->trial) {
    return absl::FailedPreconditionError(
        absl::StrCat("slot ", SlotName(header->active_slot),
                     " is on trial: commit it first"));
  }
  if (header->slot(slot).bootable) {
    return absl::FailedPreconditionError(absl::StrCat(
        "slot ", SlotName(slot),
        " was not marked unbootable before its image was written"));
  }
  SlotState& state = header->slot(slot);
  state.bootable = true;
  state.image_size = image_size;
  state.image_sha256 = std::string(image_sha256);
  state.sequence = sequence;
  header->active_slot = slot;
  header->trial = true;
  header->attempts_left = attempts;
  header->trial_attempts = attempts;
  return Write(*header).status();
}

absl::Status BootFlags::Commit() {
  absl::StatusOr<BootHeader> header = Load();
  if (!header.ok()) return header.status();
  if (!header->trial) {
    return absl::FailedPreconditionError(
        absl::StrCat("no trial to commit: slot ", SlotName(header->active_slot),
                     " is active and committed"));
  }
  header->trial = false;
  header->attempts_left = 0;
  header->trial_attempts = 0;
  return Write(*header).status();
}

// ---------------------------------------------------------------------------
// The bootloader

absl::Status VerifySlotImage(const BlockDevice& device,
                             const SlotState& state) {
  absl::StatusOr<uint64_t> size = device.Size();
  if (!size.ok()) return size.status();
  if (state.image_size > *size) {
    return absl::OutOfRangeError(absl::StrCat("image of ", state.image_size,
                                              " bytes does not fit a slot of ",
                                              *size, " bytes"));
  }
  common::Sha256 hasher;
  std::string chunk(std::min<uint64_t>(state.image_size, 64 * 1024), '\0');
  for (uint64_t done = 0; done < state.image_size;) {
    size_t n = std::min<uint64_t>(chunk.size(), state.image_size - done);
    if (absl::Status s = device.Read(done, chunk.data(), n); !s.ok()) return s;
    hasher.Update(absl::string_view(chunk.data(), n));
    done += n;
  }
  std::string actual = hasher.Finish();
  if (actual != state.image_sha256) {
    return absl::DataLossError(absl::StrCat(
        "sha256 mismatch: header has ", common::HexEncode(state.image_sha256),
        ", slot holds ", common::HexEncode(actual)));
  }
  return absl::OkStatus();
}

namespace {

// Why `slot` cannot boot under `header`; empty when it can.
std::string Refusal(const BootHeader& header, Slot slot,
                    const BlockDevice& device, const BootOptions& options) {
  const char* name = SlotName(slot);
  if (header.trial && header.active_slot == slot && header.attempts_left == 0) {
    return absl::StrCat("attempts exhausted on ", name);
  }
  if (!header.slot(slot).bootable) return absl::StrCat(name, " not bootable");
  if (options.verify_image) {
    absl::Status verified = VerifySlotImage(device, header.slot(slot));
    if (verified.code() == absl::StatusCode::kDataLoss) {
      return absl::StrCat("sha256 mismatch on ", name);
    }
    if (!verified.ok()) {
      return absl::StrCat("cannot read ", name, ": ", verified.message());
    }
  }
  return "";
}

}  // namespace

absl::StatusOr<BootDecision> Boot(BootFlags& flags, const BlockDevice& slot_a,
                                  const BlockDevice& slot_b,
                                  const BootOptions& options) {
  absl::StatusOr<BootHeader> loaded = flags.Load();
  if (!loaded.ok()) return loaded.status();
  BootHeader header = *std::move(loaded);
  bool changed = false;
  std::vector<std::string> refusals;
  for (int candidate = 0; candidate < 2; ++candidate) {
    Slot slot = header.active_slot;
    std::string refusal =
        Refusal(header, slot, slot == Slot::kA ? slot_a : slot_b, options);
    if (refusal.empty()) {
      BootDecision decision;
      decision.slot = slot;
      if (header.trial) {
        int attempt = header.trial_attempts - header.attempts_left + 1;
        decision.reason = absl::StrCat("trial attempt ", attempt, " of ",
                                       header.trial_attempts);
        --header.attempts_left;
        changed = true;
      } else if (!refusals.empty()) {
        decision.reason = absl::StrCat("fallback: ", refusals.front());
      } else {
        decision.reason = "committed";
      }
      if (changed) {
        absl::StatusOr<uint64_t> written = flags.Write(header);
        if (!written.ok()) {
          return absl::Status(
              written.status().code(),
              absl::StrCat("cannot record the boot of ", SlotName(slot), " (",
                           decision.reason, "): ", written.status().message()));
        }
      }
      return decision;
    }
    refusals.push_back(refusal);
    header.slot(slot).bootable = false;
    header.active_slot = OtherSlot(slot);
    header.trial = false;
    header.attempts_left = 0;
    header.trial_attempts = 0;
    changed = true;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("no bootable slot: ", absl::StrJoin(refusals, "; ")));
}

}  // namespace ota::device
