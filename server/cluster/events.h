// Campaign-level events shared by the otad replicas on one PostgreSQL, over
// LISTEN/NOTIFY on the channel "ota_events". An event names a campaign,
// never a device or a report, so a rollout of any size costs a handful of
// notifications:
//
//   kCampaignChanged   an operator started, paused, resumed or stopped it:
//                      the replica running the engine ticks at once;
//   kDeploymentsReady  the engine chose devices for it, within a range of
//                      device ids: each replica sends them to the ones
//                      whose streams it holds, with one transaction for
//                      all of them (CampaignFanout).
//
//   // In the transaction that makes the change; delivered at commit.
//   ClusterEvents::Publish(txn, replica_id, ClusterEvents::kDeploymentsReady, id,
//                          DeviceRange{first_chosen, last_chosen});
//
//   auto events = ClusterEvents::Start(url, replica_id, [&](const ClusterEvent& e) {...});
//
// Each replica receives the events of the others, not its own (it acted on
// those already). When the listening connection drops, the listener
// reconnects and reports kResync, since events may have been missed.
#ifndef OTA_SERVER_CLUSTER_EVENTS_H_
#define OTA_SERVER_CLUSTER_EVENTS_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <pqxx/pqxx>

#include "absl/strings/string_view.h"

namespace ota::server {

// Device ids from `first` to `last`, both included, in the database's
// order of device ids. An empty range means every device.
struct DeviceRange {
  std::string first;
  std::string last;
  bool all() const { return first.empty() && last.empty(); }
};

struct ClusterEvent {
  std::string kind;
  std::string campaign_id;  // empty for kResync
  // kDeploymentsReady: the devices the engine chose are in this range.
  DeviceRange devices;
};

class ClusterEvents {
 public:
  static constexpr char kChannel[] = "ota_events";
  static constexpr char kCampaignChanged[] = "campaign";
  static constexpr char kDeploymentsReady[] = "deployments";
  static constexpr char kResync[] = "resync";

  using Handler = std::function<void(const ClusterEvent&)>;

  // Listens on its own connection to `url` from a thread of its own, which
  // calls `handler` for every event another replica publishes. Connection
  // failures are retried every `retry_ms`; Start itself does not fail.
  static std::unique_ptr<ClusterEvents> Start(std::string url, std::string replica_id,
                                              Handler handler, int retry_ms = 1000);
  ~ClusterEvents();

  // Queues an event in `txn`; PostgreSQL delivers it when txn commits.
  // A range too long for a notification is sent as every device.
  static void Publish(pqxx::transaction_base& txn, absl::string_view replica_id,
                      absl::string_view kind, absl::string_view campaign_id,
                      const DeviceRange& devices = {});

  // A random id for this process, distinct among replicas.
  static std::string NewReplicaId();

  // Events received (for tests and metrics).
  uint64_t received() const { return received_.load(); }

 private:
  ClusterEvents(std::string url, std::string replica_id, Handler handler, int retry_ms)
      : url_(std::move(url)), replica_id_(std::move(replica_id)),
        handler_(std::move(handler)), retry_ms_(retry_ms) {}
  void Run();
  void Deliver(const std::string& payload);

  const std::string url_;
  const std::string replica_id_;
  const Handler handler_;
  const int retry_ms_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> received_{0};
  std::thread thread_;
};

}  // namespace ota::server

#endif  // OTA_SERVER_CLUSTER_EVENTS_H_
