// ota-bootsim: the bootloader's side of the boot header, played on the host
// over slot images kept in files (device/boot/boot_header.h has the
// algorithm; deploy/uboot/boot.cmd is the same on the board).
//
//   ota-bootsim init --bootflags F --slot-a A --slot-b B
//       factory header: slot a active and committed with A's hash
//   ota-bootsim [boot] --bootflags F --slot-a A --slot-b B [--verify]
//       prints "boot a: committed", "boot b: trial attempt 2 of 3",
//       "boot a: fallback: attempts exhausted on b", ... or
//       "no bootable slot: ..." (exit 1)
// and, to play the update client's part from a shell:
//   ota-bootsim mark-unbootable --bootflags F --slot b
//   ota-bootsim set-trial --bootflags F --slot-a A --slot-b B --slot b
//       [--attempts 3] [--image-size N] [--sequence N]
//   ota-bootsim commit --bootflags F
//   ota-bootsim show --bootflags F
//
// Exit codes: 0 done; 1 no bootable slot, or the header's state refuses
// the command (e.g. commit with no trial); 2 usage; 3 a file could not be
// read or written.
#ifndef OTA_DEVICE_BOOT_BOOTSIM_H_
#define OTA_DEVICE_BOOT_BOOTSIM_H_

#include <ostream>
#include <string>
#include <vector>

namespace ota::device {

inline constexpr int kBootsimOk = 0;
inline constexpr int kBootsimRefused = 1;
inline constexpr int kBootsimUsage = 2;
inline constexpr int kBootsimIo = 3;

// Runs the command in `args` (argv without the program name); writes what
// a person reads to `out` and errors to `err`; returns the exit code.
int RunBootsim(const std::vector<std::string>& args, std::ostream& out,
               std::ostream& err);

}  // namespace ota::device

#endif  // OTA_DEVICE_BOOT_BOOTSIM_H_
