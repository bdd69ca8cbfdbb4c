#include "server/notify/campaign_fanout.h"

#include <memory>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/base/log.h"
#include "prometheus/counter.h"
#include "server/campaigns/campaigns.h"
#include "server/notify/deployment_message.h"
#include "server/observe/counter.h"

namespace ota::server {
CampaignFanout::CampaignFanout(Database* db, const common::Clock* clock, DeviceHub* hub,
                               prometheus::Registry* metrics)
    : db_(db),
      clock_(clock),
      hub_(hub),
      sent_(NewCounter(metrics, "otad_fanout_deployments_total",
                       "Deployments a campaign fanout handed to their streams, without a "
                       "lookup per device (each counted once per stream)")),
      capped_(NewCounter(metrics, "otad_fanout_capped_wakes_total",
                         "Devices of campaigns with a download cap woken for the per-device "
                         "lookup")) {
  thread_ = std::thread([this] { Run(); });
}

CampaignFanout::~CampaignFanout() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void CampaignFanout::CampaignReady(const std::string& campaign_id) {
  Enqueue(campaign_id, Selection::All());
}

void CampaignFanout::CampaignReady(const std::string& campaign_id,
                                   std::vector<std::string> chosen) {
  Enqueue(campaign_id, Selection{.chosen = std::move(chosen)});
}

void CampaignFanout::CampaignReady(const std::string& campaign_id, const DeviceRange& devices) {
  if (devices.all()) {
    Enqueue(campaign_id, Selection::All());
  } else {
    Enqueue(campaign_id, Selection{.ranges = {devices}});
  }
}

void CampaignFanout::Enqueue(const std::string& campaign_id, Selection which) {
  absl::MutexLock lock(&mu_);
  auto [it, fresh] = queued_.try_emplace(campaign_id);
  if (fresh) order_.push_back(campaign_id);
  Selection& q = it->second;
  if (q.all) return;
  if (which.all) {
    q = Selection::All();
    return;
  }
  q.chosen.insert(q.chosen.end(), std::make_move_iterator(which.chosen.begin()),
                  std::make_move_iterator(which.chosen.end()));
  q.ranges.insert(q.ranges.end(), which.ranges.begin(), which.ranges.end());
}

void CampaignFanout::Drain() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](CampaignFanout* f) ABSL_EXCLUSIVE_LOCKS_REQUIRED(f->mu_) {
        return f->stop_ || (f->order_.empty() && !f->running_);
      },
      this));
}

void CampaignFanout::Run() {
  while (true) {
    std::string campaign_id;
    Selection q;
    {
      absl::MutexLock lock(&mu_);
      running_ = false;
      mu_.Await(absl::Condition(
          +[](CampaignFanout* f) ABSL_EXCLUSIVE_LOCKS_REQUIRED(f->mu_) {
            return f->stop_ || !f->order_.empty();
          },
          this));
      if (stop_) return;
      campaign_id = std::move(order_.front());
      order_.pop_front();
      auto it = queued_.find(campaign_id);
      q = std::move(it->second);
      queued_.erase(it);
      running_ = true;
    }
    absl::StatusOr<Pass> pass = RunPass(campaign_id, q);
    if (!pass.ok()) {
      common::LogEvent(common::LogLevel::kError, "campaign.fanout",
                       {{"campaign_id", campaign_id}, {"error", pass.status().ToString()}});
      // The per-device lookups try again for the devices the engine chose;
      // the others find theirs at their periodic look.
      hub_->Wake(q.chosen);
    }
  }
}

absl::StatusOr<CampaignFanout::Pass> CampaignFanout::RunPass(const std::string& campaign_id,
                                                             const Selection& which) {
  Pass pass;
  const absl::Time started = absl::Now();
  std::vector<std::string> connected = hub_->ConnectedIds();
  pass.connected = connected.size();
  if (connected.empty()) return pass;
  DeviceSelection devices;
  absl::flat_hash_set<std::string> here;
  if (which.all) {
    devices.ids = std::move(connected);
  } else {
    here.insert(std::make_move_iterator(connected.begin()),
                std::make_move_iterator(connected.end()));
    // The engine's choice, narrowed here to the devices with a stream.
    for (const std::string& id : which.chosen) {
      if (here.contains(id)) devices.ids.push_back(id);
    }
    devices.ranges = which.ranges;
    devices.keep = [&here](const std::string& id) { return here.contains(id); };
  }
  absl::StatusOr<CampaignDeployments> found =
      TakeCampaignDeployments(db_, campaign_id, devices, clock_->NowMillis());
  if (!found.ok()) return found.status();
  if (found->capped) {
    pass.woken = found->waiting.size();
    hub_->Wake(found->waiting);
    if (capped_ != nullptr) capped_->Increment(static_cast<double>(pass.woken));
    return pass;
  }
  pass.taken = found->deployments.size();
  if (pass.taken == 0) return pass;
  // Committed: the streams may send now.
  const absl::Time committed = absl::Now();
  auto shared = std::make_shared<const SharedDeployment>(campaign_id, found->manifest);
  pass.offered = hub_->Offer(shared, found->deployments);
  if (sent_ != nullptr) sent_->Increment(static_cast<double>(pass.offered));
  common::LogEvent(common::LogLevel::kInfo, "campaign.fanout",
                   {{"campaign_id", campaign_id},
                    {"connected", absl::StrCat(pass.connected)},
                    {"notified", absl::StrCat(pass.taken)},
                    {"offered", absl::StrCat(pass.offered)},
                    {"db_ms", absl::StrCat(absl::ToInt64Milliseconds(committed - started))},
                    {"offer_ms", absl::StrCat(absl::ToInt64Milliseconds(absl::Now() - committed))}});
  return pass;
}

}  // namespace ota::server
