// Sleeper: waiting as a dependency. Code that backs off between retries
// takes a Sleeper*, so tests pass a FakeSleeper (fake_sleeper.h) that
// records what was asked and returns at once.
//
//   RealSleeper sleeper;
//   sleeper.Sleep(absl::Milliseconds(250));
#ifndef OTA_DEVICE_DOWNLOAD_SLEEPER_H_
#define OTA_DEVICE_DOWNLOAD_SLEEPER_H_

#include "absl/time/time.h"

namespace ota::device {

class Sleeper {
 public:
  virtual ~Sleeper() = default;
  // Blocks the calling thread for `duration` (nothing for zero or less).
  virtual void Sleep(absl::Duration duration) = 0;
};

// Sleeps for real. Thread-safe.
class RealSleeper : public Sleeper {
 public:
  void Sleep(absl::Duration duration) override;
};

}  // namespace ota::device

#endif  // OTA_DEVICE_DOWNLOAD_SLEEPER_H_
