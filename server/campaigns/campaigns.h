// Campaigns: a manifest, a device filter and a rollout policy, moved through
// their states by operators (CampaignStore) and by the rollout engine
// (Engine::Tick), with one deployment per targeted device.
//
//   CampaignStore store(db, clock);
//   auto c = store.Create(request);          // DRAFT
//   store.Start(c->campaign_id());           // ACTIVE (or SCHEDULED)
//   Engine engine(db, clock, &hub);
//   engine.Tick();                           // waves, auto-stop, completion
//
// Each call is one transaction; the engine locks a campaign's row while it
// works on it (FOR UPDATE SKIP LOCKED), so several otad replicas may run
// the engine at once without working on the same campaign together.
#ifndef OTA_SERVER_CAMPAIGNS_CAMPAIGNS_H_
#define OTA_SERVER_CAMPAIGNS_CAMPAIGNS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/base/clock.h"
#include "ota/v1/campaign_service.pb.h"
#include "ota/v1/device.pb.h"
#include "server/cluster/events.h"
#include "server/store/database.h"
#include "server/store/stores.h"

namespace ota::server {

// True for states a deployment never leaves (except SUCCEEDED, which a
// later rollback may turn into ROLLED_BACK).
bool IsTerminal(ota::v1::DeploymentState state);

// Told which devices got a new deployment of a campaign, so their streams
// can send it.
using DeviceNotifier = std::function<void(const std::string& campaign_id,
                                          const std::vector<std::string>& device_ids)>;

class CampaignStore {
 public:
  // With a `replica_id`, every transition also tells the other otad
  // replicas (ClusterEvents::kCampaignChanged, at commit).
  CampaignStore(Database* db, const common::Clock* clock, std::string replica_id = "")
      : db_(db), clock_(clock), replica_id_(std::move(replica_id)) {}

  // Validates and stores a DRAFT. INVALID_ARGUMENT naming the field (name,
  // filter with its position, policy); NOT_FOUND for an unknown manifest;
  // ALREADY_EXISTS for a name in use by a campaign that is not final.
  absl::StatusOr<ota::v1::Campaign> Create(const ota::v1::CreateCampaignRequest& request);

  // The campaign with its statistics. NOT_FOUND when unknown.
  absl::StatusOr<ota::v1::Campaign> Get(const std::string& campaign_id);

  absl::StatusOr<Page<ota::v1::Campaign>> List(const ota::v1::ListCampaignsRequest& request);

  // A recorded state change of a campaign; `seq` grows with every change
  // of any campaign.
  struct StateChange {
    int64_t seq = 0;
    ota::v1::CampaignState to = ota::v1::CAMPAIGN_STATE_UNSPECIFIED;
    std::string reason;
  };
  // The campaign, with its transitions recorded after `after_seq` (in
  // order), read in one transaction: what WatchCampaign sends. Statistics
  // only `with_stats` (they count the campaign's deployments).
  struct Watched {
    ota::v1::Campaign campaign;
    std::vector<StateChange> transitions;
  };
  absl::StatusOr<Watched> Watch(const std::string& campaign_id, int64_t after_seq,
                                bool with_stats);

  // Operator transitions. FAILED_PRECONDITION naming the current state when
  // the transition does not fit it.
  absl::StatusOr<ota::v1::Campaign> Start(const std::string& campaign_id);
  absl::StatusOr<ota::v1::Campaign> Pause(const std::string& campaign_id, const std::string& reason);
  absl::StatusOr<ota::v1::Campaign> Resume(const std::string& campaign_id);
  // Also cancels the deployments not yet sent to their devices.
  absl::StatusOr<ota::v1::Campaign> Stop(const std::string& campaign_id, const std::string& reason);

  absl::StatusOr<Page<ota::v1::DeploymentRecord>> ListDeployments(
      const ota::v1::ListDeploymentsRequest& request);

 private:
  absl::StatusOr<ota::v1::Campaign> Transition(
      const std::string& campaign_id, const std::vector<ota::v1::CampaignState>& from,
      ota::v1::CampaignState to, const std::string& reason, bool cancel_pending);

  Database* db_;
  const common::Clock* clock_;
  std::string replica_id_;
};

// What a device stream sends: the device's open deployment of an ACTIVE
// campaign that it has not been sent yet (PENDING) or may not have
// received (NOTIFIED), marking it NOTIFIED. NOT_FOUND when there is none;
// RESOURCE_EXHAUSTED when the campaign's download cap holds it back (its
// group is full), until the engine wakes the device again.
absl::StatusOr<ota::v1::Deployment> NextDeployment(Database* db, const std::string& device_id,
                                                   int64_t now_ms);

// NextDeployment for many devices in one transaction: the deployment to
// send to each device of `device_ids` that has one (devices without one,
// or held back by a download cap, are left out), all marked NOTIFIED.
// First sends of capped campaigns go through NextDeployment one by one.
// Deployments named in `already_sent` (those the asking streams have
// written already) are left out, so a periodic look of a device that has
// its deployment costs no manifest read.
absl::StatusOr<std::map<std::string, ota::v1::Deployment>> NextDeployments(
    Database* db, const std::vector<std::string>& device_ids, int64_t now_ms,
    const std::vector<std::string>& already_sent = {});

// What one otad sends for a campaign to the devices whose streams it holds.
struct CampaignDeployments {
  // The campaign is ACTIVE without a download cap: these (device id,
  // deployment id) are NOTIFIED, all of `manifest`.
  std::vector<std::pair<std::string, std::string>> deployments;
  ota::v1::SignedManifest manifest;
  // The campaign is ACTIVE with a download cap: nothing was marked, and
  // `waiting` holds the devices asked about that have a PENDING deployment
  // of it, for NextDeployment, which holds each group to its cap.
  bool capped = false;
  std::vector<std::string> waiting;
};

// The devices a campaign pass asks about: every one of `ids`, and those
// within one of `ranges` (compared in the database's order of device ids,
// as the engine chose them) for which `keep` is true (all of them when
// `keep` is empty). A range is read whole and narrowed here: sending the
// database every id to keep cost more than the rows (67 ms a pass with
// 17,000 ids against a chunk of 10,000 devices).
struct DeviceSelection {
  std::vector<std::string> ids;
  std::vector<DeviceRange> ranges;
  std::function<bool(const std::string& device_id)> keep;
};

// The campaign-level counterpart of NextDeployments, for a wave that was
// just chosen: in one transaction, the open deployments of `campaign_id`
// still to send (PENDING or NOTIFIED) whose devices are in `devices`, the
// PENDING ones marked NOTIFIED by one UPDATE (the manifest read once). The
// engine writes deployments NOTIFIED already for devices that were online,
// so a wave usually needs only the read. Nothing when the campaign is
// unknown or not ACTIVE. PENDING rows another transaction has locked (a
// device's own lookup) are skipped, not waited for; that transaction sends
// them.
absl::StatusOr<CampaignDeployments> TakeCampaignDeployments(Database* db,
                                                            const std::string& campaign_id,
                                                            const DeviceSelection& devices,
                                                            int64_t now_ms);

// Applies a device's reports to its deployments (in seq order): state,
// reason, message, progress. Terminal deployments keep their state, except
// that a SUCCEEDED one may become ROLLED_BACK.
absl::Status ApplyReports(pqxx::work& txn, const std::string& device_id,
                          const std::vector<ota::v1::StatusReport>& reports, int64_t now_ms);

// ApplyReports for the reports of many calls, with a few statements per
// batch: the n-th report of every deployment is applied in the n-th round,
// so each deployment sees its reports in seq order as ApplyReports does.
absl::Status ApplyReportBatch(pqxx::work& txn, const std::vector<const DeviceReports*>& items);

// A device that connects running an older image than the one a SUCCEEDED
// deployment installed was rolled back (by hand, by its bootloader, by a
// reflash): that deployment becomes ROLLED_BACK with REASON_ROLLED_BACK.
absl::Status DetectRollback(Database* db, const std::string& device_id,
                            const ota::v1::InstalledImage& installed, int64_t now_ms);

// The rollout engine.
class Engine {
 public:
  // `notify` is told which devices got a deployment to send; with a
  // `replica_id` the other otad replicas are told too, one event per
  // campaign (ClusterEvents::kDeploymentsReady, at commit).
  Engine(Database* db, const common::Clock* clock, DeviceNotifier notify,
         std::string replica_id = "")
      : db_(db), clock_(clock), notify_(std::move(notify)), replica_id_(std::move(replica_id)) {}

  // One pass over every SCHEDULED and ACTIVE campaign: starts scheduled
  // ones, auto-stops on the failure ratio, starts the next wave when the
  // current one succeeded enough (and soaked), adds late joiners to the
  // last wave, completes finished campaigns. Under a download cap the
  // devices it notifies are the waiting ones whose group has room, at most
  // as many per group as there is room. The last wave is inserted in
  // chunks of last_wave_chunk devices, each in a transaction of its own
  // that tells `notify` (and the other replicas) at once, all before Tick
  // returns. Returns the first error.
  absl::Status Tick();

  // Devices added to a campaign's last wave per transaction (at least 1).
  void set_last_wave_chunk(size_t n) { last_wave_chunk_ = n < 1 ? 1 : n; }

 private:
  // One transaction over the campaign; `more` is set when the last wave
  // may have more devices to take, after `last_device` (read, and set to
  // the last device it took).
  absl::Status TickCampaign(const std::string& campaign_id, std::vector<std::string>* notified,
                            bool* more, std::string* last_device);
  // Analyzes the deployments table once the rows inserted since the last
  // time outnumber what its statistics count. A wave of 100,000 devices
  // lands within seconds, long before autovacuum looks: planning with the
  // statistics of an empty table, each device lookup scanned every
  // deployment (30-100 ms a batch, 31 s of PostgreSQL's CPU during one
  // 100,000-device wave). Doubling steps keep it to a few runs per wave.
  void KeepStatistics();

  Database* db_;
  const common::Clock* clock_;
  DeviceNotifier notify_;
  std::string replica_id_;
  size_t last_wave_chunk_ = 10000;
  size_t unanalyzed_ = 0;  // deployments inserted since KeepStatistics last analyzed
};

}  // namespace ota::server

#endif  // OTA_SERVER_CAMPAIGNS_CAMPAIGNS_H_
