// FileBlockDevice: a BlockDevice over a path. The path may be
//   - a regular file of fixed size (a slot image on the host, in tests and
//     in ota-bootsim),
//   - a block device such as /dev/mmcblk0p2 (size from BLKGETSIZE64),
//   - a raw MTD character device such as /dev/mtd5 (size from MEMGETINFO),
//     read-only: NAND must be erased before it is written, so installing to
//     raw flash goes through ScriptBlockDevice (ubiformat) instead.
// I/O is pread/pwrite through the page cache; Flush() is fdatasync. Writes
// start their own writeback once a few MiB have accumulated
// (sync_file_range), so a large image streams to the medium while it is
// written and a Flush() waits only for the last bytes, instead of the
// whole image sitting dirty in memory until the first Flush().
//
//   absl::StatusOr<std::unique_ptr<FileBlockDevice>> slot =
//       FileBlockDevice::Create("/tmp/root_b.img", 48 << 20);
//   absl::StatusOr<std::unique_ptr<FileBlockDevice>> live =
//       FileBlockDevice::Open("/dev/mtd5", FileBlockDevice::Mode::kReadOnly);
//
// Thread-compatible: concurrent Reads are safe, and so is a Flush
// concurrent with a Write; a Write concurrent with any other call on
// overlapping bytes is not.
#ifndef OTA_DEVICE_SLOTS_FILE_BLOCK_DEVICE_H_
#define OTA_DEVICE_SLOTS_FILE_BLOCK_DEVICE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "device/slots/block_device.h"

namespace ota::device {

class FileBlockDevice : public BlockDevice {
 public:
  enum class Mode { kReadOnly, kReadWrite };

  // Opens an existing file or device at `path`. Its size is taken once, here.
  // NOT_FOUND when `path` does not exist; PERMISSION_DENIED when it may not
  // be opened in `mode`; INVALID_ARGUMENT when it is neither a regular file,
  // a block device nor an MTD device; FAILED_PRECONDITION for an MTD device
  // opened kReadWrite; INTERNAL with the errno text otherwise.
  static absl::StatusOr<std::unique_ptr<FileBlockDevice>> Open(
      const std::string& path, Mode mode = Mode::kReadWrite);

  // Creates a regular file of `size` zero bytes at `path` (mode 0644), its
  // blocks reserved (fallocate) where the file system can, as a partition's
  // are, and opens it read-write. ALREADY_EXISTS when `path` exists; INTERNAL with
  // the errno text on other failures.
  static absl::StatusOr<std::unique_ptr<FileBlockDevice>> Create(
      const std::string& path, uint64_t size);

  ~FileBlockDevice() override;
  FileBlockDevice(const FileBlockDevice&) = delete;
  FileBlockDevice& operator=(const FileBlockDevice&) = delete;

  absl::StatusOr<uint64_t> Size() const override;
  absl::Status Read(uint64_t offset, char* buf, size_t len) const override;
  // FAILED_PRECONDITION when opened kReadOnly.
  absl::Status Write(uint64_t offset, absl::string_view data) override;
  // OK without doing anything when opened kReadOnly.
  absl::Status Flush() override;
  // True: fdatasync covers every write that returned before it.
  bool FlushesAlongsideWrites() const override { return true; }

  const std::string& path() const { return path_; }

 private:
  FileBlockDevice(std::string path, int fd, uint64_t size, Mode mode);

  // Starts writeback of the bytes written since the last start.
  void StartWriteback();

  const std::string path_;
  const int fd_;
  const uint64_t size_;
  const Mode mode_;
  // Written since writeback was last started: [dirty_begin_, dirty_end_).
  uint64_t dirty_begin_ = 0;
  uint64_t dirty_end_ = 0;
  bool writeback_hints_ = true;  // false once sync_file_range was refused
};

}  // namespace ota::device

#endif  // OTA_DEVICE_SLOTS_FILE_BLOCK_DEVICE_H_
