#include "device/download/sleeper.h"

#include "absl/time/clock.h"

namespace ota::device {

void RealSleeper::Sleep(absl::Duration duration) {
  if (duration > absl::ZeroDuration()) absl::SleepFor(duration);
}

}  // namespace ota::device
