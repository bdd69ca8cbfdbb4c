// Sends a campaign's new deployments to the devices connected to this otad
// with a few set-based statements per campaign event, in place of a lookup
// per device. When a replica learns that a campaign has chosen devices (its
// own engine, or another replica's event over LISTEN/NOTIFY, which names
// the range of device ids chosen), it takes the ids of the devices
// connected here among them, and in one transaction reads their deployments
// of the campaign still to send (TakeCampaignDeployments: NOTIFIED by the
// engine for devices online when chosen; PENDING ones are marked NOTIFIED),
// then, after the commit, hands each stream its message: the campaign id
// and signed manifest serialized once (SharedDeployment), each stream's
// message referencing those bytes. A stream that is gone by then gets the
// deployment when it connects again, as every NOTIFIED one is sent again.
//
// A campaign with a download cap is left to the per-device path: its
// waiting devices are woken (DeviceHub::Wake), and their lookups
// (NextDeployment) hold each group to its cap under the group's lock.
//
//   CampaignFanout fanout(db, &clock, &hub);
//   fanout.CampaignReady(campaign_id);              // resumed: every device here
//   fanout.CampaignReady(campaign_id, chosen);      // this replica's engine
//   fanout.CampaignReady(campaign_id, event.devices);  // another replica's engine
//
// Events queue for one thread of its own and are merged per campaign, so
// neither the engine nor the event listener waits for PostgreSQL or for
// the streams.
#ifndef OTA_SERVER_NOTIFY_CAMPAIGN_FANOUT_H_
#define OTA_SERVER_NOTIFY_CAMPAIGN_FANOUT_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/base/clock.h"
#include "server/cluster/events.h"
#include "server/notify/device_hub.h"
#include "server/store/database.h"

namespace prometheus {
class Counter;
class Registry;
}  // namespace prometheus

namespace ota::server {

class CampaignFanout {
 public:
  // Not owned; all must outlive this. `metrics` may be null.
  CampaignFanout(Database* db, const common::Clock* clock, DeviceHub* hub,
                 prometheus::Registry* metrics = nullptr);
  // Stops the thread; campaigns still queued are dropped (their devices
  // find the deployments at their periodic look or next connect).
  ~CampaignFanout();
  CampaignFanout(const CampaignFanout&) = delete;
  CampaignFanout& operator=(const CampaignFanout&) = delete;

  // Queue a pass over `campaign_id` and return at once. The pass is about
  // the devices connected here that are: every one; among `chosen` (the
  // devices the engine just chose, woken one by one if the campaign has a
  // download cap: the engine picked them to fit the cap); or within
  // `devices` (another replica's engine chose them).
  void CampaignReady(const std::string& campaign_id);
  void CampaignReady(const std::string& campaign_id, std::vector<std::string> chosen);
  void CampaignReady(const std::string& campaign_id, const DeviceRange& devices);

  // What one pass did.
  struct Pass {
    size_t connected = 0;  // devices with a stream here when it started
    size_t taken = 0;      // deployments to send (NOTIFIED after its transaction)
    size_t offered = 0;    // of those, taken as new by a stream still here
    size_t woken = 0;      // devices woken for the per-device path (cap)
  };

  // Which devices connected here a pass is about: `all`, or those among
  // `chosen` and those within one of `ranges`.
  struct Selection {
    bool all = false;
    std::vector<std::string> chosen;
    std::vector<DeviceRange> ranges;
    static Selection All() { return Selection{.all = true}; }
  };

  // One pass on the calling thread (what the queue's thread runs).
  absl::StatusOr<Pass> RunPass(const std::string& campaign_id, const Selection& which);

  // Waits until every pass queued before the call has run (tests).
  void Drain();

 private:
  // Merges `which` into the campaign's queued pass.
  void Enqueue(const std::string& campaign_id, Selection which);
  void Run();

  Database* const db_;
  const common::Clock* const clock_;
  DeviceHub* const hub_;
  prometheus::Counter* const sent_;
  prometheus::Counter* const capped_;

  absl::Mutex mu_;
  std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Selection> queued_ ABSL_GUARDED_BY(mu_);
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace ota::server

#endif  // OTA_SERVER_NOTIFY_CAMPAIGN_FANOUT_H_
