// Which devices have a Connect stream open on this otad, and a way to wake
// a stream when its device has something new (a deployment). Thread-safe.
//
//   DeviceHub hub;
//   auto waker = hub.Attach("gw-1", {.on_wake = [] { ...look it up... },
//                                    .on_replaced = [] { ...end the stream... }});
//   hub.Wake({"gw-1", "gw-2"});           // from the rollout engine
//
// A campaign wave reaches the streams here without a lookup per device:
// CampaignFanout takes ConnectedIds(), marks their deployments NOTIFIED in
// one transaction and hands each stream its message with Offer.
//
// A stream that prefers to look for itself may attach without callbacks and
// check TakeWake() now and then.
#ifndef OTA_SERVER_NOTIFY_DEVICE_HUB_H_
#define OTA_SERVER_NOTIFY_DEVICE_HUB_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "server/notify/deployment_message.h"

namespace ota::server {

class DeviceHub {
 public:
  // What the hub tells a stream. Both run on the thread that called Wake or
  // Attach, outside the hub's lock; they must be quick (post work elsewhere)
  // and must not call back into the hub.
  struct Callbacks {
    // The device was named in Wake.
    std::function<void()> on_wake;
    // A newer stream of the same device attached; this one should end.
    std::function<void()> on_replaced;
    // Offer named the device: send it `deployment_id` of `shared`'s
    // campaign (already marked NOTIFIED). Returns false when the stream
    // drops it: it sent that deployment already, or it is ending.
    std::function<bool(const std::string& deployment_id,
                       const std::shared_ptr<const SharedDeployment>& shared)>
        on_deployment;
  };

  // The wake flag of one stream.
  class Waker {
   public:
    explicit Waker(Callbacks callbacks) : callbacks_(std::move(callbacks)) {}

    // True (once) when Wake named this device since the last call.
    bool TakeWake() { return wake_.exchange(false); }
    // True once a newer stream of the device attached.
    bool replaced() const { return replaced_.load(); }

   private:
    friend class DeviceHub;
    std::atomic<bool> wake_{true};  // a new stream looks once at start
    std::atomic<bool> replaced_{false};
    Callbacks callbacks_;
  };

  // Registers a stream for `device_id`; a newer stream replaces an older
  // one, whose on_replaced runs before this returns.
  std::shared_ptr<Waker> Attach(const std::string& device_id, Callbacks callbacks = {});

  // Unregisters `waker` if it is still the device's current one.
  void Detach(const std::string& device_id, const std::shared_ptr<Waker>& waker);

  // Wakes the streams of `device_ids` that are connected here; ids of
  // devices connected elsewhere are ignored.
  void Wake(const std::vector<std::string>& device_ids);

  // Hands each (device id, deployment id) of `deployments` to the device's
  // stream here (on_deployment). Returns how many streams took one as new
  // (not one they had sent already); devices gone since ConnectedIds get
  // the deployment when they connect again, as every NOTIFIED one is sent
  // again then.
  size_t Offer(const std::shared_ptr<const SharedDeployment>& shared,
               const std::vector<std::pair<std::string, std::string>>& deployments);

  // The ids of the devices with a stream here, in no particular order.
  std::vector<std::string> ConnectedIds() const;

  // How many devices have a stream here.
  size_t connected() const;

 private:
  mutable absl::Mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Waker>> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ota::server

#endif  // OTA_SERVER_NOTIFY_DEVICE_HUB_H_
