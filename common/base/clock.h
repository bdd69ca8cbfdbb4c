// Time as a dependency: code that needs "now" takes a Clock*, so tests pass
// a FakeClock and stay deterministic.
//
//   const Clock& clock = RealClock();
//   int64_t now = clock.NowUnix();
#ifndef OTA_COMMON_BASE_CLOCK_H_
#define OTA_COMMON_BASE_CLOCK_H_

#include <atomic>
#include <cstdint>

namespace ota::common {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, Unix milliseconds.
  virtual int64_t NowMillis() const = 0;
  // Wall-clock time, Unix seconds.
  int64_t NowUnix() const { return NowMillis() / 1000; }
};

// The system's clock; lives for the whole process.
const Clock& RealClock();

// A clock that moves only when told. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t now_millis) : now_(now_millis) {}
  int64_t NowMillis() const override { return now_.load(); }
  void SetMillis(int64_t now_millis) { now_.store(now_millis); }
  void AdvanceMillis(int64_t delta) { now_.fetch_add(delta); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace ota::common

#endif  // OTA_COMMON_BASE_CLOCK_H_
