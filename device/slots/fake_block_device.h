// FakeBlockDevice: an in-memory BlockDevice for tests that models what
// survives a power cut. It keeps two images:
//   - the volatile image: what Read() sees; every Write() lands here;
//   - the durable image: what the medium holds; Flush() copies the volatile
//     image into it.
// LosePower() drops every write not yet flushed (volatile := durable), as a
// power cut followed by a reboot would.
//
//   FakeBlockDevice slot(64 << 10);
//   ASSERT_OK(slot.Write(0, "new"));
//   slot.LosePower();                  // "new" is gone: never flushed
//   ASSERT_OK(slot.Write(0, "new"));
//   ASSERT_OK(slot.Flush());
//   slot.LosePower();                  // "new" stays
//
// Not thread-safe.
#ifndef OTA_DEVICE_SLOTS_FAKE_BLOCK_DEVICE_H_
#define OTA_DEVICE_SLOTS_FAKE_BLOCK_DEVICE_H_

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "device/slots/block_device.h"

namespace ota::device {

class FakeBlockDevice : public BlockDevice {
 public:
  // A device of `size` bytes, each `fill` (erased NAND reads 0xff), durable.
  explicit FakeBlockDevice(uint64_t size, char fill = '\0')
      : volatile_(size, fill), durable_(size, fill) {}

  absl::StatusOr<uint64_t> Size() const override { return volatile_.size(); }

  absl::Status Read(uint64_t offset, char* buf, size_t len) const override {
    if (absl::Status s = CheckBlockRange("read", "fake block device", offset,
                                         len, volatile_.size());
        !s.ok()) {
      return s;
    }
    if (len > 0) std::memcpy(buf, volatile_.data() + offset, len);
    return absl::OkStatus();
  }

  absl::Status Write(uint64_t offset, absl::string_view data) override {
    if (absl::Status s = CheckBlockRange("write", "fake block device", offset,
                                         data.size(), volatile_.size());
        !s.ok()) {
      return s;
    }
    volatile_.replace(offset, data.size(), data.data(), data.size());
    return absl::OkStatus();
  }

  absl::Status Flush() override {
    durable_ = volatile_;
    return absl::OkStatus();
  }

  // A power cut: every write since the last Flush() is lost.
  void LosePower() { volatile_ = durable_; }

  // Puts `data` at `offset` on the medium itself (both images), as a write
  // that reached the medium before a cut would. For failure injection
  // (FaultyBlockDevice's torn writes) and for test setup. `offset` and
  // `data` must lie within the device.
  void WriteDurably(uint64_t offset, absl::string_view data) {
    durable_.replace(offset, data.size(), data.data(), data.size());
    volatile_.replace(offset, data.size(), data.data(), data.size());
  }

  // What Read() sees.
  const std::string& volatile_contents() const { return volatile_; }
  // What would survive a power cut now.
  const std::string& durable_contents() const { return durable_; }

 private:
  std::string volatile_;
  std::string durable_;
};

}  // namespace ota::device

#endif  // OTA_DEVICE_SLOTS_FAKE_BLOCK_DEVICE_H_
