// Runs a callback for each of many registered entries once per period, from
// one thread for all of them: the entries are spread over `slots` slots and
// the thread visits one slot every period / slots. Device streams use one
// wheel for keepalives and one for their periodic look for deployments, in
// place of a timer or a sleeping thread per stream.
//
//   TimerWheel keepalives(absl::Seconds(30), /*slots=*/300);
//   TimerWheel::Handle h = keepalives.Add([stream] { stream->Keepalive(); });
//   ...
//   keepalives.Remove(h);   // after this, the callback is not running and never runs
#ifndef OTA_SERVER_NOTIFY_TIMER_WHEEL_H_
#define OTA_SERVER_NOTIFY_TIMER_WHEEL_H_

#include <cstdint>
#include <functional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ota::server {

class TimerWheel {
 public:
  using Handle = uint64_t;

  // Starts the wheel's thread. `period` must be positive.
  TimerWheel(absl::Duration period, int slots);
  // Stops the thread; registered callbacks do not run any more.
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Registers `fn`, first run between now and one period from now (entries
  // go round-robin into the slots). `fn` runs on the wheel's thread under
  // its lock: it must be quick and must not call Add or Remove.
  Handle Add(std::function<void()> fn);

  // Unregisters; waits if `fn` is running right now.
  void Remove(Handle handle);

  size_t size() const;

 private:
  void Run();

  const absl::Duration tick_;
  mutable absl::Mutex mu_;
  std::vector<std::unordered_map<Handle, std::function<void()>>> slots_ ABSL_GUARDED_BY(mu_);
  Handle next_ ABSL_GUARDED_BY(mu_) = 0;
  size_t size_ ABSL_GUARDED_BY(mu_) = 0;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace ota::server

#endif  // OTA_SERVER_NOTIFY_TIMER_WHEEL_H_
