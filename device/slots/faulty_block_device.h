// FaultyBlockDevice: a FakeBlockDevice that loses power after the k-th
// write or flush, for crash tests in the style of LevelDB's fault-injection
// Env.
//
// A PowerCut is the schedule, shared by every device on the same power
// supply: it counts writes and flushes across all of them and, when the
// k-th arrives, lets that operation reach the fake and then cuts power:
//   - the k-th call and every later call on any attached device (Size, Read,
//     Write, Flush) fail with UNAVAILABLE "power lost";
//   - every attached fake loses what was not flushed (LosePower());
//   - if tearing is on and the k-th operation was a write, a prefix of it
//     (its length drawn from the seed, anywhere from none to all of it)
//     reaches the medium anyway.
// After the cut, the test "reboots" by using the fakes directly, or new
// FaultyBlockDevices over them with a fresh PowerCut.
//
// A harness counts the operations of a clean run, then replays the run once
// per cut point:
//
//   int64_t total = CountOperations(RunUpdate);  // a run with k = 0
//   for (int64_t k = 1; k <= total; ++k) {
//     FakeBlockDevice flags(kSize), slot(kSize);
//     PowerCut cut({/*after_operations=*/k, /*tear_last_write=*/true,
//                   /*seed=*/static_cast<uint64_t>(k)});
//     FaultyBlockDevice faulty_flags(&flags, &cut), faulty_slot(&slot, &cut);
//     RunUpdate(faulty_flags, faulty_slot);  // fails at the k-th operation
//     CheckRecovers(flags, slot);            // old or new state, never broken
//   }
//
// Not thread-safe.
#ifndef OTA_DEVICE_SLOTS_FAULTY_BLOCK_DEVICE_H_
#define OTA_DEVICE_SLOTS_FAULTY_BLOCK_DEVICE_H_

#include <cstdint>
#include <random>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "device/slots/block_device.h"
#include "device/slots/fake_block_device.h"

namespace ota::device {

class PowerCut {
 public:
  struct Options {
    // Power is lost right after this many writes and flushes (1-based) over
    // all attached devices; 0 = never.
    int64_t after_operations = 0;
    // Whether the write that meets the cut reaches the medium in part.
    bool tear_last_write = false;
    // Chooses the length of the torn prefix.
    uint64_t seed = 1;
  };

  explicit PowerCut(Options options)
      : options_(options), random_(options.seed) {}
  PowerCut(const PowerCut&) = delete;
  PowerCut& operator=(const PowerCut&) = delete;

  // Writes and flushes seen so far, the one that met the cut included.
  int64_t operations() const { return operations_; }
  // Whether power has been lost.
  bool lost() const { return lost_; }
  // How many bytes of the torn write reached the medium (0 before a cut, or
  // when the cut met a flush or tearing is off).
  uint64_t torn_bytes() const { return torn_bytes_; }

 private:
  friend class FaultyBlockDevice;

  static absl::Status PowerLost() {
    return absl::UnavailableError("power lost");
  }

  void Attach(FakeBlockDevice* device) { devices_.push_back(device); }

  // Counts one write or flush; true when it is the one that meets the cut.
  bool CountOperation() {
    ++operations_;
    return options_.after_operations > 0 &&
           operations_ == options_.after_operations;
  }

  // Cuts power. `torn` is the device whose write of `data` at `offset` met
  // the cut, or null when a flush did.
  void Cut(FakeBlockDevice* torn, uint64_t offset, absl::string_view data) {
    lost_ = true;
    for (FakeBlockDevice* device : devices_) device->LosePower();
    if (torn != nullptr && options_.tear_last_write) {
      torn_bytes_ =
          std::uniform_int_distribution<uint64_t>(0, data.size())(random_);
      torn->WriteDurably(offset, data.substr(0, torn_bytes_));
    }
  }

  const Options options_;
  std::mt19937_64 random_;
  std::vector<FakeBlockDevice*> devices_;
  int64_t operations_ = 0;
  bool lost_ = false;
  uint64_t torn_bytes_ = 0;
};

class FaultyBlockDevice : public BlockDevice {
 public:
  // Neither `device` nor `power` is owned; both must outlive this object.
  FaultyBlockDevice(FakeBlockDevice* device, PowerCut* power)
      : device_(device), power_(power) {
    power_->Attach(device_);
  }

  absl::StatusOr<uint64_t> Size() const override {
    if (power_->lost()) return PowerCut::PowerLost();
    return device_->Size();
  }

  absl::Status Read(uint64_t offset, char* buf, size_t len) const override {
    if (power_->lost()) return PowerCut::PowerLost();
    return device_->Read(offset, buf, len);
  }

  absl::Status Write(uint64_t offset, absl::string_view data) override {
    if (power_->lost()) return PowerCut::PowerLost();
    if (absl::Status s = device_->Write(offset, data); !s.ok()) return s;
    if (power_->CountOperation()) {
      power_->Cut(device_, offset, data);
      return PowerCut::PowerLost();
    }
    return absl::OkStatus();
  }

  absl::Status Flush() override {
    if (power_->lost()) return PowerCut::PowerLost();
    if (absl::Status s = device_->Flush(); !s.ok()) return s;
    if (power_->CountOperation()) {
      power_->Cut(nullptr, 0, {});
      return PowerCut::PowerLost();
    }
    return absl::OkStatus();
  }

 private:
  FakeBlockDevice* const device_;
  PowerCut* const power_;
};

}  // namespace ota::device

#endif  // OTA_DEVICE_SLOTS_FAULTY_BLOCK_DEVICE_H_
