// BlockDevice: a fixed-size array of bytes that survives power loss once
// flushed. A slot (root_a, root_b) and the bootflags area are each one.
//
//   std::unique_ptr<BlockDevice> slot = ...;  // one of the family below
//   absl::Status s = slot->Write(0, image);
//   if (s.ok()) s = slot->Flush();             // now it survives power loss
//   std::string back(image.size(), '\0');
//   if (s.ok()) s = slot->Read(0, back.data(), back.size());
//
// The family: file_block_device.h (a file, a block device or a raw MTD
// partition), script_block_device.h (installs through an activation script
// such as `ubiformat`), and for tests fake_block_device.h (in memory, with a
// durable copy) and faulty_block_device.h (loses power after the k-th write
// or flush).
#ifndef OTA_DEVICE_SLOTS_BLOCK_DEVICE_H_
#define OTA_DEVICE_SLOTS_BLOCK_DEVICE_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace ota::device {

class BlockDevice {
 public:
  virtual ~BlockDevice() = default;

  // The device's size in bytes. It does not change while the object lives.
  virtual absl::StatusOr<uint64_t> Size() const = 0;

  // Reads exactly `len` bytes at `offset` into `buf` (owned by the caller,
  // at least `len` bytes). OUT_OF_RANGE when `offset + len` is past Size(),
  // and then `buf` is untouched. A read sees every earlier successful Write
  // of this object, flushed or not, unless the implementation says
  // otherwise (ScriptBlockDevice installs its image at Flush()).
  virtual absl::Status Read(uint64_t offset, char* buf, size_t len) const = 0;

  // Writes all of `data` at `offset`. OUT_OF_RANGE when it would end past
  // Size(), and then nothing is written. The bytes may be lost, wholly or in
  // part, if power fails before the next successful Flush().
  virtual absl::Status Write(uint64_t offset, absl::string_view data) = 0;

  // Makes every earlier successful Write durable: after it returns OK, a
  // power loss no longer loses them.
  virtual absl::Status Flush() = 0;

  // Whether Flush() may run on one thread while Write() runs on another
  // (a Flush then covers at least every Write that returned before it
  // began). False unless an implementation says otherwise.
  virtual bool FlushesAlongsideWrites() const { return false; }
};

// For implementations: OK when [offset, offset + len) lies within a device
// of `size` bytes, else OUT_OF_RANGE naming the operation (`what`: "read",
// "write") and the device (`name`). Safe against `offset + len` overflowing.
inline absl::Status CheckBlockRange(absl::string_view what,
                                    absl::string_view name, uint64_t offset,
                                    uint64_t len, uint64_t size) {
  if (offset <= size && len <= size - offset) return absl::OkStatus();
  return absl::OutOfRangeError(absl::StrCat(what, " of ", len, " bytes at ",
                                            offset, " ends past the end of ",
                                            name, " (", size, " bytes)"));
}

}  // namespace ota::device

#endif  // OTA_DEVICE_SLOTS_BLOCK_DEVICE_H_
