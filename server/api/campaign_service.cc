#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/api/services.h"
#include "server/api/status.h"

namespace ota::server {
namespace {

absl::Status CheckId(absl::string_view field, const std::string& id) {
  if (id.size() != 32 || id.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " \"", id, "\" is not a campaign id (32 lowercase hex digits)"));
  }
  return absl::OkStatus();
}

}  // namespace

grpc::Status CampaignServiceImpl::Answer(absl::StatusOr<ota::v1::Campaign> result,
                                         ota::v1::Campaign* response) {
  if (!result.ok()) return ToGrpc(result.status());
  *response = *std::move(result);
  if (deps_.wake_engine) deps_.wake_engine();
  if (deps_.campaign_changed) deps_.campaign_changed(response->campaign_id());
  return grpc::Status::OK;
}

grpc::Status CampaignServiceImpl::CreateCampaign(grpc::ServerContext* context,
                                                 const ota::v1::CreateCampaignRequest* request,
                                                 ota::v1::Campaign* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (absl::Status s = CheckSha256Hex("manifest_id", request->manifest_id()); !s.ok()) {
    return ToGrpc(s);
  }
  return Answer(store_.Create(*request), response);
}

grpc::Status CampaignServiceImpl::GetCampaign(grpc::ServerContext* context,
                                              const ota::v1::GetCampaignRequest* request,
                                              ota::v1::Campaign* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (absl::Status s = CheckId("campaign_id", request->campaign_id()); !s.ok()) return ToGrpc(s);
  absl::StatusOr<ota::v1::Campaign> c = store_.Get(request->campaign_id());
  if (!c.ok()) return ToGrpc(c.status());
  *response = *std::move(c);
  return grpc::Status::OK;
}

grpc::Status CampaignServiceImpl::ListCampaigns(grpc::ServerContext* context,
                                                const ota::v1::ListCampaignsRequest* request,
                                                ota::v1::ListCampaignsResponse* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  auto page = store_.List(*request);
  if (!page.ok()) return ToGrpc(page.status());
  for (auto& c : page->items) *response->add_campaigns() = std::move(c);
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status CampaignServiceImpl::StartCampaign(grpc::ServerContext* context,
                                                const ota::v1::StartCampaignRequest* request,
                                                ota::v1::Campaign* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (absl::Status s = CheckId("campaign_id", request->campaign_id()); !s.ok()) return ToGrpc(s);
  return Answer(store_.Start(request->campaign_id()), response);
}

grpc::Status CampaignServiceImpl::PauseCampaign(grpc::ServerContext* context,
                                                const ota::v1::PauseCampaignRequest* request,
                                                ota::v1::Campaign* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (absl::Status s = CheckId("campaign_id", request->campaign_id()); !s.ok()) return ToGrpc(s);
  return Answer(store_.Pause(request->campaign_id(), request->reason()), response);
}

grpc::Status CampaignServiceImpl::ResumeCampaign(grpc::ServerContext* context,
                                                 const ota::v1::ResumeCampaignRequest* request,
                                                 ota::v1::Campaign* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (absl::Status s = CheckId("campaign_id", request->campaign_id()); !s.ok()) return ToGrpc(s);
  return Answer(store_.Resume(request->campaign_id()), response);
}

grpc::Status CampaignServiceImpl::StopCampaign(grpc::ServerContext* context,
                                               const ota::v1::StopCampaignRequest* request,
                                               ota::v1::Campaign* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (absl::Status s = CheckId("campaign_id", request->campaign_id()); !s.ok()) return ToGrpc(s);
  return Answer(store_.Stop(request->campaign_id(), request->reason()), response);
}

grpc::Status CampaignServiceImpl::WatchCampaign(grpc::ServerContext* context,
                                                const ota::v1::WatchCampaignRequest* request,
                                                grpc::ServerWriter<ota::v1::CampaignEvent>* writer) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (absl::Status s = CheckId("campaign_id", request->campaign_id()); !s.ok()) return ToGrpc(s);
  const int interval_ms = request->min_interval_ms() > 0 ? request->min_interval_ms() : 1000;
  const absl::Duration interval = absl::Milliseconds(std::max(100, interval_ms));
  // State changes and new waves are looked for every 100 ms with a light
  // read (the campaign row and its new transitions) and each sent at once;
  // statistics, which count the campaign's deployments, at most every
  // `interval`.
  constexpr absl::Duration kLook = absl::Milliseconds(100);
  int64_t seen = 0;  // the last transition sent
  std::string last_stats;
  absl::Time last_sent = absl::Now();
  absl::Time stats_due = absl::InfinitePast();
  uint32_t last_wave = 0;
  bool first = true;
  while (!context->IsCancelled()) {
    const absl::Time now = absl::Now();
    bool with_stats = first || now >= stats_due;
    absl::StatusOr<CampaignStore::Watched> w = store_.Watch(request->campaign_id(), seen, with_stats);
    if (!w.ok()) return ToGrpc(w.status());
    if (!with_stats &&
        (!w->transitions.empty() || w->campaign.current_wave() != last_wave)) {
      with_stats = true;  // an event goes out: with the statistics of now
      w = store_.Watch(request->campaign_id(), seen, true);
      if (!w.ok()) return ToGrpc(w.status());
    }
    const ota::v1::Campaign& c = w->campaign;
    std::vector<ota::v1::CampaignEvent> events;
    auto add = [&](ota::v1::CampaignEventKind kind, ota::v1::Campaign campaign) {
      ota::v1::CampaignEvent& e = events.emplace_back();
      e.set_kind(kind);
      e.set_time_ms(deps_.clock->NowMillis());
      *e.mutable_campaign() = std::move(campaign);
    };
    const std::string stats = with_stats ? c.SerializeAsString() : last_stats;
    if (first) {
      add(ota::v1::CAMPAIGN_EVENT_KIND_SNAPSHOT, c);
    } else {
      // Every change, also one undone before this look (paused and resumed
      // within 100 ms): the campaign as it is, in the state it went to.
      for (const CampaignStore::StateChange& t : w->transitions) {
        ota::v1::Campaign at = c;
        at.set_state(t.to);
        at.set_state_reason(t.reason);
        add(ota::v1::CAMPAIGN_EVENT_KIND_STATE_CHANGED, std::move(at));
      }
      if (w->transitions.empty() && c.current_wave() != last_wave) {
        add(ota::v1::CAMPAIGN_EVENT_KIND_WAVE_STARTED, c);
      }
      if (events.empty() && with_stats) {
        if (stats != last_stats) {
          add(ota::v1::CAMPAIGN_EVENT_KIND_STATS_CHANGED, c);
        } else if (now - last_sent >= absl::Seconds(30)) {
          add(ota::v1::CAMPAIGN_EVENT_KIND_HEARTBEAT, c);
        }
      }
    }
    if (!w->transitions.empty()) seen = w->transitions.back().seq;
    if (with_stats) {
      last_stats = stats;
      stats_due = now + interval;
    }
    last_wave = c.current_wave();
    first = false;
    for (const ota::v1::CampaignEvent& e : events) {
      if (!writer->Write(e)) return grpc::Status::OK;
      last_sent = now;
    }
    if (c.state() == ota::v1::CAMPAIGN_STATE_COMPLETED ||
        c.state() == ota::v1::CAMPAIGN_STATE_STOPPED ||
        c.state() == ota::v1::CAMPAIGN_STATE_AUTO_STOPPED) {
      return grpc::Status::OK;
    }
    for (absl::Duration slept; slept < kLook && !context->IsCancelled();
         slept += absl::Milliseconds(50)) {
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  return grpc::Status::OK;
}

grpc::Status CampaignServiceImpl::ListDeployments(grpc::ServerContext* context,
                                                  const ota::v1::ListDeploymentsRequest* request,
                                                  ota::v1::ListDeploymentsResponse* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (absl::Status s = CheckId("campaign_id", request->campaign_id()); !s.ok()) return ToGrpc(s);
  auto page = store_.ListDeployments(*request);
  if (!page.ok()) return ToGrpc(page.status());
  for (auto& d : page->items) *response->add_deployments() = std::move(d);
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

}  // namespace ota::server
