// Which devices have a Connect stream open on this otad, and a way to wake
// a stream when its device has something new (a deployment). Thread-safe.
//
//   DeviceHub hub;
//   auto waker = hub.Attach("gw-1");      // held by the stream
//   if (waker->TakeWake()) { ...look for a deployment... }
//   hub.Wake({"gw-1", "gw-2"});           // from the rollout engine
#ifndef OTA_SERVER_NOTIFY_DEVICE_HUB_H_
#define OTA_SERVER_NOTIFY_DEVICE_HUB_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace ota::server {

class DeviceHub {
 public:
  // The wake flag of one stream.
  class Waker {
   public:
    // True (once) when Wake named this device since the last call.
    bool TakeWake() { return wake_.exchange(false); }

   private:
    friend class DeviceHub;
    std::atomic<bool> wake_{true};  // a new stream looks once at start
  };

  // Registers a stream for `device_id`; a newer stream replaces an older one.
  std::shared_ptr<Waker> Attach(const std::string& device_id);

  // Unregisters `waker` if it is still the device's current one.
  void Detach(const std::string& device_id, const std::shared_ptr<Waker>& waker);

  // Wakes the streams of `device_ids` that are connected here.
  void Wake(const std::vector<std::string>& device_ids);

  size_t connected() const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Waker>> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ota::server

#endif  // OTA_SERVER_NOTIFY_DEVICE_HUB_H_
