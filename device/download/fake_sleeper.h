// FakeSleeper: a Sleeper for tests. Sleep() returns at once and records the
// duration asked for, so a test can check a backoff schedule without
// waiting for it.
//
//   FakeSleeper sleeper;
//   PayloadDownloader downloader(&transport, &sleeper, options);
//   ...
//   EXPECT_THAT(sleeper.sleeps(), ElementsAre(...));
//
// Thread-safe.
#ifndef OTA_DEVICE_DOWNLOAD_FAKE_SLEEPER_H_
#define OTA_DEVICE_DOWNLOAD_FAKE_SLEEPER_H_

#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "device/download/sleeper.h"

namespace ota::device {

class FakeSleeper : public Sleeper {
 public:
  void Sleep(absl::Duration duration) override {
    absl::MutexLock lock(&mu_);
    sleeps_.push_back(duration);
  }

  // Every duration asked for, in order.
  std::vector<absl::Duration> sleeps() const {
    absl::MutexLock lock(&mu_);
    return sleeps_;
  }

  // The sum of sleeps().
  absl::Duration total() const {
    absl::MutexLock lock(&mu_);
    absl::Duration sum;
    for (absl::Duration d : sleeps_) sum += d;
    return sum;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<absl::Duration> sleeps_;
};

}  // namespace ota::device

#endif  // OTA_DEVICE_DOWNLOAD_FAKE_SLEEPER_H_
