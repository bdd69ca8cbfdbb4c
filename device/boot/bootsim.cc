#include "device/boot/bootsim.h"

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/base/file.h"
#include "common/crypto/bytes.h"
#include "common/crypto/sha256.h"
#include "device/boot/boot_header.h"
#include "device/slots/file_block_device.h"

namespace ota::device {
namespace {

constexpr char kUsage[] =
    "usage: ota-bootsim [boot] --bootflags FILE --slot-a FILE --slot-b FILE "
    "[--verify]\n"
    "       ota-bootsim init --bootflags FILE --slot-a FILE --slot-b FILE\n"
    "                   [--image-size N] [--sequence N]\n"
    "       ota-bootsim mark-unbootable --bootflags FILE --slot a|b\n"
    "       ota-bootsim set-trial --bootflags FILE --slot-a FILE --slot-b "
    "FILE\n"
    "                   --slot a|b [--attempts N] [--image-size N] "
    "[--sequence N]\n"
    "       ota-bootsim commit --bootflags FILE\n"
    "       ota-bootsim show --bootflags FILE\n";

// Parsed `--name value`, `--name=value` and `--verify` arguments.
class Flags {
 public:
  static absl::StatusOr<Flags> Parse(const std::string& command,
                                     const std::vector<std::string>& args,
                                     const std::set<std::string>& allowed) {
    Flags flags;
    for (size_t i = 0; i < args.size(); ++i) {
      std::string arg = args[i];
      if (!absl::StartsWith(arg, "--")) {
        return absl::InvalidArgumentError(
            absl::StrCat("unexpected argument \"", arg, "\" for ", command));
      }
      std::string name = arg.substr(2);
      std::optional<std::string> value;
      if (size_t eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
      if (allowed.count(name) == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown flag --", name, " for ", command));
      }
      if (name == "verify") {
        if (value) {
          return absl::InvalidArgumentError("--verify takes no value");
        }
        flags.values_[name] = "";
        continue;
      }
      if (!value) {
        if (i + 1 == args.size()) {
          return absl::InvalidArgumentError(
              absl::StrCat("--", name, " needs a value"));
        }
        value = args[++i];
      }
      flags.values_[name] = *value;
    }
    return flags;
  }

  bool Has(const std::string& name) const { return values_.count(name) > 0; }

  absl::StatusOr<std::string> Required(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end() || it->second.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " is required"));
    }
    return it->second;
  }

  // The value of --name as a number, or `fallback` when absent.
  absl::StatusOr<uint64_t> Number(const std::string& name,
                                  uint64_t fallback) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    uint64_t value;
    if (!absl::SimpleAtoi(it->second, &value)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", name, " must be a number, got \"", it->second, "\""));
    }
    return value;
  }

  absl::StatusOr<Slot> SlotFlag() const {
    absl::StatusOr<std::string> name = Required("slot");
    if (!name.ok()) return name.status();
    if (*name == "a") return Slot::kA;
    if (*name == "b") return Slot::kB;
    return absl::InvalidArgumentError(
        absl::StrCat("--slot must be a or b, got \"", *name, "\""));
  }

 private:
  std::map<std::string, std::string> values_;
};

// Exit code and message for a failed status: state refusals exit 1, bad
// input 2, everything else (files) 3.
int Fail(const absl::Status& status, std::ostream& err) {
  switch (status.code()) {
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kDataLoss:
      err << "ota-bootsim: " << status.message() << "\n";
      return kBootsimRefused;
    case absl::StatusCode::kInvalidArgument:
      err << "ota-bootsim: " << status.message() << "\n" << kUsage;
      return kBootsimUsage;
    default:
      err << "ota-bootsim: " << status.message() << "\n";
      return kBootsimIo;
  }
}

absl::StatusOr<std::unique_ptr<FileBlockDevice>> OpenBootflags(
    const Flags& flags) {
  absl::StatusOr<std::string> path = flags.Required("bootflags");
  if (!path.ok()) return path.status();
  return FileBlockDevice::Open(*path, FileBlockDevice::Mode::kReadWrite);
}

struct Slots {
  std::unique_ptr<FileBlockDevice> a, b;
  const FileBlockDevice& device(Slot slot) const {
    return slot == Slot::kA ? *a : *b;
  }
};

absl::StatusOr<Slots> OpenSlots(const Flags& flags) {
  Slots slots;
  for (Slot slot : {Slot::kA, Slot::kB}) {
    absl::StatusOr<std::string> path =
        flags.Required(absl::StrCat("slot-", SlotName(slot)));
    if (!path.ok()) return path.status();
    absl::StatusOr<std::unique_ptr<FileBlockDevice>> device =
        FileBlockDevice::Open(*path, FileBlockDevice::Mode::kReadOnly);
    if (!device.ok()) return device.status();
    (slot == Slot::kA ? slots.a : slots.b) = *std::move(device);
  }
  return slots;
}

// The image size (--image-size, or the whole slot) and its SHA-256.
absl::StatusOr<SlotState> DescribeImage(const Flags& flags,
                                        const FileBlockDevice& device) {
  absl::StatusOr<uint64_t> slot_size = device.Size();
  if (!slot_size.ok()) return slot_size.status();
  absl::StatusOr<uint64_t> size = flags.Number("image-size", *slot_size);
  if (!size.ok()) return size.status();
  absl::StatusOr<uint64_t> sequence = flags.Number("sequence", 0);
  if (!sequence.ok()) return sequence.status();
  if (*size > *slot_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("--image-size ", *size, " exceeds the slot's ", *slot_size,
                     " bytes (", device.path(), ")"));
  }
  SlotState state;
  state.bootable = true;
  state.image_size = *size;
  state.sequence = *sequence;
  std::string image(*size, '\0');
  if (absl::Status s = device.Read(0, image.data(), image.size()); !s.ok()) {
    return s;
  }
  state.image_sha256 = common::Sha256Digest(image);
  return state;
}

int RunBoot(const Flags& flags, std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::unique_ptr<FileBlockDevice>> bootflags =
      OpenBootflags(flags);
  if (!bootflags.ok()) return Fail(bootflags.status(), err);
  absl::StatusOr<Slots> slots = OpenSlots(flags);
  if (!slots.ok()) return Fail(slots.status(), err);
  BootFlags boot_flags(bootflags->get());
  BootOptions options;
  options.verify_image = flags.Has("verify");
  absl::StatusOr<BootDecision> decision =
      Boot(boot_flags, *slots->a, *slots->b, options);
  if (decision.ok()) {
    out << "boot " << SlotName(decision->slot) << ": " << decision->reason
        << "\n";
    return kBootsimOk;
  }
  absl::StatusCode code = decision.status().code();
  if (code != absl::StatusCode::kFailedPrecondition &&
      code != absl::StatusCode::kDataLoss) {
    return Fail(decision.status(), err);
  }
  // Nothing to boot: "no bootable slot: ..." from Boot, or a reason to add
  // it to ("no valid boot header ...").
  absl::string_view message = decision.status().message();
  if (!absl::StartsWith(message, "no bootable slot")) {
    out << "no bootable slot: ";
  }
  out << message << "\n";
  return kBootsimRefused;
}

int RunInit(const Flags& flags, std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::string> path = flags.Required("bootflags");
  if (!path.ok()) return Fail(path.status(), err);
  absl::StatusOr<Slots> slots = OpenSlots(flags);
  if (!slots.ok()) return Fail(slots.status(), err);
  absl::StatusOr<SlotState> image = DescribeImage(flags, *slots->a);
  if (!image.ok()) return Fail(image.status(), err);

  std::unique_ptr<FileBlockDevice> bootflags;
  if (common::PathExists(*path)) {
    absl::StatusOr<std::unique_ptr<FileBlockDevice>> opened =
        FileBlockDevice::Open(*path);
    if (!opened.ok()) return Fail(opened.status(), err);
    bootflags = *std::move(opened);
  } else {
    // A new area reads as erased NAND.
    absl::StatusOr<std::unique_ptr<FileBlockDevice>> created =
        FileBlockDevice::Create(*path, kBootFlagsSize);
    if (!created.ok()) return Fail(created.status(), err);
    bootflags = *std::move(created);
    if (absl::Status s =
            bootflags->Write(0, std::string(kBootFlagsSize, '\xff'));
        !s.ok()) {
      return Fail(s, err);
    }
  }
  BootFlags boot_flags(bootflags.get());
  if (absl::Status s = boot_flags.WriteFactoryHeader(
          Slot::kA, image->image_size, image->image_sha256, image->sequence);
      !s.ok()) {
    return Fail(s, err);
  }
  out << "factory header: slot a active and committed, " << image->image_size
      << " bytes, sha256 " << common::HexEncode(image->image_sha256) << "\n";
  return kBootsimOk;
}

int RunMarkUnbootable(const Flags& flags, std::ostream& out,
                      std::ostream& err) {
  absl::StatusOr<Slot> slot = flags.SlotFlag();
  if (!slot.ok()) return Fail(slot.status(), err);
  absl::StatusOr<std::unique_ptr<FileBlockDevice>> bootflags =
      OpenBootflags(flags);
  if (!bootflags.ok()) return Fail(bootflags.status(), err);
  BootFlags boot_flags(bootflags->get());
  if (absl::Status s = boot_flags.MarkSlotUnbootable(*slot); !s.ok()) {
    return Fail(s, err);
  }
  out << "slot " << SlotName(*slot) << " marked unbootable\n";
  return kBootsimOk;
}

int RunSetTrial(const Flags& flags, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Slot> slot = flags.SlotFlag();
  if (!slot.ok()) return Fail(slot.status(), err);
  absl::StatusOr<uint64_t> attempts = flags.Number("attempts", 3);
  if (!attempts.ok()) return Fail(attempts.status(), err);
  if (*attempts < 1 || *attempts > 255) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
                    "--attempts must be 1 to 255, got ", *attempts)),
                err);
  }
  absl::StatusOr<std::unique_ptr<FileBlockDevice>> bootflags =
      OpenBootflags(flags);
  if (!bootflags.ok()) return Fail(bootflags.status(), err);
  absl::StatusOr<Slots> slots = OpenSlots(flags);
  if (!slots.ok()) return Fail(slots.status(), err);
  absl::StatusOr<SlotState> image = DescribeImage(flags, slots->device(*slot));
  if (!image.ok()) return Fail(image.status(), err);
  BootFlags boot_flags(bootflags->get());
  if (absl::Status s =
          boot_flags.SetTrial(*slot, image->image_size, image->image_sha256,
                              static_cast<uint8_t>(*attempts), image->sequence);
      !s.ok()) {
    return Fail(s, err);
  }
  out << "slot " << SlotName(*slot) << " active on trial, " << *attempts
      << " attempt(s)\n";
  return kBootsimOk;
}

int RunCommit(const Flags& flags, std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::unique_ptr<FileBlockDevice>> bootflags =
      OpenBootflags(flags);
  if (!bootflags.ok()) return Fail(bootflags.status(), err);
  BootFlags boot_flags(bootflags->get());
  if (absl::Status s = boot_flags.Commit(); !s.ok()) return Fail(s, err);
  absl::StatusOr<BootHeader> header = boot_flags.Load();
  if (!header.ok()) return Fail(header.status(), err);
  out << "slot " << SlotName(header->active_slot) << " committed\n";
  return kBootsimOk;
}

int RunShow(const Flags& flags, std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::unique_ptr<FileBlockDevice>> bootflags =
      OpenBootflags(flags);
  if (!bootflags.ok()) return Fail(bootflags.status(), err);
  BootFlags boot_flags(bootflags->get());
  absl::StatusOr<BootHeader> header = boot_flags.Load();
  if (!header.ok()) return Fail(header.status(), err);
  out << "counter  " << header->counter << "\n";
  out << "active   " << SlotName(header->active_slot);
  if (header->trial) {
    out << " (trial, " << static_cast<int>(header->attempts_left) << " of "
        << static_cast<int>(header->trial_attempts) << " attempts left)";
  } else {
    out << " (committed)";
  }
  out << "\n";
  for (Slot slot : {Slot::kA, Slot::kB}) {
    const SlotState& state = header->slot(slot);
    out << "slot " << SlotName(slot) << "   "
        << (state.bootable ? "bootable" : "not bootable") << ", "
        << state.image_size << " bytes, sequence " << state.sequence
        << ", sha256 " << common::HexEncode(state.image_sha256) << "\n";
  }
  return kBootsimOk;
}

}  // namespace

int RunBootsim(const std::vector<std::string>& args, std::ostream& out,
               std::ostream& err) {
  std::string command = "boot";
  std::vector<std::string> rest = args;
  if (!rest.empty() && !absl::StartsWith(rest[0], "--")) {
    command = rest[0];
    rest.erase(rest.begin());
  }
  using Runner = int (*)(const Flags&, std::ostream&, std::ostream&);
  struct Command {
    Runner run;
    std::set<std::string> flags;
  };
  static const auto* commands = new std::map<std::string, Command>{
      {"boot", {RunBoot, {"bootflags", "slot-a", "slot-b", "verify"}}},
      {"init",
       {RunInit, {"bootflags", "slot-a", "slot-b", "image-size", "sequence"}}},
      {"mark-unbootable", {RunMarkUnbootable, {"bootflags", "slot"}}},
      {"set-trial",
       {RunSetTrial,
        {"bootflags", "slot-a", "slot-b", "slot", "attempts", "image-size",
         "sequence"}}},
      {"commit", {RunCommit, {"bootflags"}}},
      {"show", {RunShow, {"bootflags"}}},
  };
  if (command == "help" || command == "--help") {
    out << kUsage;
    return kBootsimOk;
  }
  auto it = commands->find(command);
  if (it == commands->end()) {
    err << "ota-bootsim: unknown command \"" << command << "\"\n" << kUsage;
    return kBootsimUsage;
  }
  absl::StatusOr<Flags> flags = Flags::Parse(command, rest, it->second.flags);
  if (!flags.ok()) return Fail(flags.status(), err);
  return it->second.run(*flags, out, err);
}

}  // namespace ota::device
