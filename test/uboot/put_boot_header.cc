// put_boot_header: writes one header copy, encoded by EncodeBootHeader, into
// a bootflags area file, for headers that ota-bootsim's commands never
// produce (a counter past 2^32, an active slot that is not bootable, many
// trial attempts):
//
//   put_boot_header FILE COPY [counter=N] [active=a|b] [trial=0|1]
//                   [left=N] [attempts=N] [bootable=a|b|ab|none]
//
// COPY is 0 or 1 (kBootHeaderCopyOffsets). Fields not given are zero,
// except bootable, which defaults to the active slot. A missing FILE is
// created as an erased (0xff) area of kBootFlagsSize bytes.
//
// Exit codes: 0 written; 2 bad arguments; 3 the file could not be written.
#include <cstdint>
#include <iostream>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "common/base/file.h"
#include "device/boot/boot_header.h"

namespace ota::device {
namespace {

int Usage(absl::string_view problem) {
  std::cerr << "put_boot_header: " << problem << "\n"
            << "usage: put_boot_header FILE 0|1 [counter=N] [active=a|b] "
               "[trial=0|1] [left=N] [attempts=N] [bootable=a|b|ab|none]\n";
  return 2;
}

int Run(int argc, char** argv) {
  if (argc < 3) return Usage("FILE and COPY are required");
  const std::string path = argv[1];
  const std::string copy = argv[2];
  if (copy != "0" && copy != "1") return Usage("COPY must be 0 or 1");

  BootHeader header;
  std::string bootable;
  for (int i = 3; i < argc; ++i) {
    absl::string_view arg = argv[i];
    size_t eq = arg.find('=');
    if (eq == absl::string_view::npos) return Usage("want name=value");
    absl::string_view name = arg.substr(0, eq);
    absl::string_view value = arg.substr(eq + 1);
    uint64_t number = 0;
    bool numeric = absl::SimpleAtoi(value, &number);
    if (name == "active" && (value == "a" || value == "b")) {
      header.active_slot = value == "a" ? Slot::kA : Slot::kB;
    } else if (name == "bootable" &&
               (value == "a" || value == "b" || value == "ab" ||
                value == "none")) {
      bootable = std::string(value);
    } else if (name == "counter" && numeric) {
      header.counter = number;
    } else if (name == "trial" && numeric && number <= 1) {
      header.trial = number == 1;
    } else if (name == "left" && numeric && number <= 255) {
      header.attempts_left = static_cast<uint8_t>(number);
    } else if (name == "attempts" && numeric && number <= 255) {
      header.trial_attempts = static_cast<uint8_t>(number);
    } else {
      return Usage("bad argument " + std::string(arg));
    }
  }
  if (bootable.empty()) bootable = SlotName(header.active_slot);
  header.slot(Slot::kA).bootable = bootable.find('a') != std::string::npos;
  header.slot(Slot::kB).bootable = bootable.find('b') != std::string::npos;

  absl::StatusOr<std::string> bytes = EncodeBootHeader(header);
  if (!bytes.ok()) return Usage(bytes.status().message());

  std::string area(kBootFlagsSize, '\xff');
  if (common::PathExists(path)) {
    absl::StatusOr<std::string> read = common::ReadFile(path);
    if (!read.ok()) {
      std::cerr << "put_boot_header: " << read.status().message() << "\n";
      return 3;
    }
    area = *std::move(read);
  }
  const uint64_t at = kBootHeaderCopyOffsets[copy == "0" ? 0 : 1];
  if (area.size() < at + kBootHeaderSize) {
    return Usage(path + " is too small for copy " + copy);
  }
  area.replace(at, kBootHeaderSize, *bytes);
  if (absl::Status s = common::WriteFileAtomically(path, area); !s.ok()) {
    std::cerr << "put_boot_header: " << s.message() << "\n";
    return 3;
  }
  return 0;
}

}  // namespace
}  // namespace ota::device

int main(int argc, char** argv) { return ota::device::Run(argc, argv); }
