#include "server/notify/timer_wheel.h"

#include "absl/time/clock.h"

namespace ota::server {

TimerWheel::TimerWheel(absl::Duration period, int slots)
    : tick_(period / (slots < 1 ? 1 : slots)), slots_(slots < 1 ? 1 : slots) {
  thread_ = std::thread([this] { Run(); });
}

TimerWheel::~TimerWheel() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

TimerWheel::Handle TimerWheel::Add(std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  const Handle h = next_++;
  slots_[h % slots_.size()].emplace(h, std::move(fn));
  ++size_;
  return h;
}

void TimerWheel::Remove(Handle handle) {
  absl::MutexLock lock(&mu_);
  size_ -= slots_[handle % slots_.size()].erase(handle);
}

size_t TimerWheel::size() const {
  absl::MutexLock lock(&mu_);
  return size_;
}

void TimerWheel::Run() {
  size_t slot = 0;
  absl::Time next = absl::Now() + tick_;
  absl::MutexLock lock(&mu_);
  while (true) {
    // Sleeps until the next tick, or until stopped.
    mu_.AwaitWithDeadline(absl::Condition(&stop_), next);
    if (stop_) return;
    if (absl::Now() < next) continue;
    next += tick_;
    slot = (slot + 1) % slots_.size();
    for (auto& [handle, fn] : slots_[slot]) fn();
  }
}

}  // namespace ota::server
