// ScriptBlockDevice: a slot installed by an activation script, the way the
// seed's device installs root_a/root_b on raw NAND:
//
//   ubiformat /dev/${UPDATE_SLOT_MTD} -f $FIRMWARE -yes
//
// Write() stages the image in a temporary file; Flush() runs the configured
// command through /bin/sh with FIRMWARE set to that file and UPDATE_SLOT_MTD
// to the slot's MTD name, then deletes the file. Reads go to `read_path`
// through a read-only FileBlockDevice, so they show what is installed:
// staged writes become visible only after a successful Flush(). (After
// ubiformat, raw MTD reads differ from the image in UBI's erase counters;
// point `read_path` at what the image's digest covers.)
//
//   ScriptBlockDevice::Options options;
//   options.command = "ubiformat /dev/${UPDATE_SLOT_MTD} -f $FIRMWARE -yes";
//   options.slot_mtd = "mtd5";
//   options.read_path = "/dev/mtd5";
//   absl::StatusOr<std::unique_ptr<ScriptBlockDevice>> slot =
//       ScriptBlockDevice::Open(options);
//   ... (*slot)->Write(offset, chunk) for each chunk ...
//   absl::Status installed = (*slot)->Flush();   // runs ubiformat
//
// Not thread-safe.
#ifndef OTA_DEVICE_SLOTS_SCRIPT_BLOCK_DEVICE_H_
#define OTA_DEVICE_SLOTS_SCRIPT_BLOCK_DEVICE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "device/slots/block_device.h"
#include "device/slots/file_block_device.h"

namespace ota::device {

class ScriptBlockDevice : public BlockDevice {
 public:
  struct Options {
    // Run as `/bin/sh -c command` with the process's environment plus
    // UPDATE_SLOT_MTD and FIRMWARE.
    std::string command;
    // The value of UPDATE_SLOT_MTD, e.g. "mtd5".
    std::string slot_mtd;
    // What Read() and Size() use: the slot's device node, or a file.
    std::string read_path;
    // Where the image is staged until Flush().
    std::string staging_dir = "/tmp";
    // The command is killed (with its process group) when it runs longer.
    absl::Duration timeout = absl::Minutes(10);
    // How much of the command's stderr an error carries (its last bytes).
    size_t stderr_tail_bytes = 2048;
  };

  // Opens `options.read_path` read-only to learn the slot's size.
  // INVALID_ARGUMENT when `command` or `read_path` is empty or the timeout
  // is not positive; otherwise FileBlockDevice::Open's errors.
  static absl::StatusOr<std::unique_ptr<ScriptBlockDevice>> Open(
      Options options);

  // Deletes the staged image, if any.
  ~ScriptBlockDevice() override;
  ScriptBlockDevice(const ScriptBlockDevice&) = delete;
  ScriptBlockDevice& operator=(const ScriptBlockDevice&) = delete;

  // The size of `read_path`: the largest image the slot takes.
  absl::StatusOr<uint64_t> Size() const override;
  // Reads the installed content of `read_path`.
  absl::Status Read(uint64_t offset, char* buf, size_t len) const override;
  // Stages `data` at `offset` of the image (the image is as long as the
  // furthest byte written). OUT_OF_RANGE past Size(); INTERNAL when the
  // staging file cannot be created or written.
  absl::Status Write(uint64_t offset, absl::string_view data) override;
  // Installs the staged image by running the command; OK at once when
  // nothing is staged. On success the staged image is deleted and reads
  // show the new content. DEADLINE_EXCEEDED when the command outlives the
  // timeout; INTERNAL when it exits non-zero or dies by a signal, with the
  // tail of its stderr. On failure the staged image is kept, so Flush() may
  // be retried.
  absl::Status Flush() override;

  // The staged image's path; empty when nothing is staged.
  const std::string& staged_path() const { return staged_path_; }

 private:
  ScriptBlockDevice(Options options, std::unique_ptr<FileBlockDevice> reader,
                    uint64_t size);

  absl::Status RunCommand() const;
  void DropStaged();

  const Options options_;
  std::unique_ptr<FileBlockDevice> reader_;
  const uint64_t size_;
  std::string staged_path_;
  int staged_fd_ = -1;
};

}  // namespace ota::device

#endif  // OTA_DEVICE_SLOTS_SCRIPT_BLOCK_DEVICE_H_
