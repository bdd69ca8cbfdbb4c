// Sends a campaign's new deployments to the devices connected to this otad
// with a few set-based statements per campaign event, in place of a lookup
// per device. When a replica learns that a campaign has chosen devices (its
// own engine, or another replica's event over LISTEN/NOTIFY), it takes the
// ids of the devices connected here, and in one transaction marks their
// PENDING deployments of the campaign NOTIFIED (TakeCampaignDeployments),
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
//   fanout.CampaignReady(campaign_id);            // another replica's event
//   fanout.CampaignReady(campaign_id, chosen);    // this replica's engine
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

  // Queues a pass over `campaign_id` and returns at once. `chosen`: the
  // devices the engine just chose, woken one by one if the campaign has a
  // download cap (the engine picked them to fit the cap); empty means every
  // waiting device connected here.
  void CampaignReady(const std::string& campaign_id, std::vector<std::string> chosen = {});

  // What one pass did.
  struct Pass {
    size_t connected = 0;  // devices with a stream here when it started
    size_t taken = 0;      // deployments marked NOTIFIED in its transaction
    size_t offered = 0;    // of those, handed to a stream still here
    size_t woken = 0;      // devices woken for the per-device path (cap)
  };

  // One pass on the calling thread (what the queue's thread runs).
  // `all_waiting`: under a cap, wake every waiting device connected here,
  // not only `chosen`.
  absl::StatusOr<Pass> RunPass(const std::string& campaign_id,
                               const std::vector<std::string>& chosen, bool all_waiting);

  // Waits until every pass queued before the call has run (tests).
  void Drain();

 private:
  struct Queued {
    std::vector<std::string> chosen;
    bool all_waiting = false;
  };
  void Run();

  Database* const db_;
  const common::Clock* const clock_;
  DeviceHub* const hub_;
  prometheus::Counter* const sent_;
  prometheus::Counter* const capped_;

  absl::Mutex mu_;
  std::deque<std::string> order_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Queued> queued_ ABSL_GUARDED_BY(mu_);
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace ota::server

#endif  // OTA_SERVER_NOTIFY_CAMPAIGN_FANOUT_H_
