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
  const absl::Duration interval =
      absl::Milliseconds(request->min_interval_ms() > 0 ? request->min_interval_ms() : 1000);
  std::string last;
  absl::Time last_sent = absl::InfinitePast();
  ota::v1::CampaignState last_state = ota::v1::CAMPAIGN_STATE_UNSPECIFIED;
  uint32_t last_wave = 0;
  bool first = true;
  while (!context->IsCancelled()) {
    absl::StatusOr<ota::v1::Campaign> c = store_.Get(request->campaign_id());
    if (!c.ok()) return ToGrpc(c.status());
    std::string now_bytes = c->SerializeAsString();
    ota::v1::CampaignEvent event;
    event.set_time_ms(deps_.clock->NowMillis());
    if (first) {
      event.set_kind(ota::v1::CAMPAIGN_EVENT_KIND_SNAPSHOT);
    } else if (c->state() != last_state) {
      event.set_kind(ota::v1::CAMPAIGN_EVENT_KIND_STATE_CHANGED);
    } else if (c->current_wave() != last_wave) {
      event.set_kind(ota::v1::CAMPAIGN_EVENT_KIND_WAVE_STARTED);
    } else if (now_bytes != last) {
      event.set_kind(ota::v1::CAMPAIGN_EVENT_KIND_STATS_CHANGED);
    } else if (absl::Now() - last_sent >= absl::Seconds(30)) {
      event.set_kind(ota::v1::CAMPAIGN_EVENT_KIND_HEARTBEAT);
    }
    if (event.kind() != ota::v1::CAMPAIGN_EVENT_KIND_UNSPECIFIED) {
      *event.mutable_campaign() = *c;
      if (!writer->Write(event)) return grpc::Status::OK;
      last = now_bytes;
      last_sent = absl::Now();
      last_state = c->state();
      last_wave = c->current_wave();
      first = false;
    }
    if (c->state() == ota::v1::CAMPAIGN_STATE_COMPLETED ||
        c->state() == ota::v1::CAMPAIGN_STATE_STOPPED ||
        c->state() == ota::v1::CAMPAIGN_STATE_AUTO_STOPPED) {
      return grpc::Status::OK;
    }
    for (absl::Duration slept; slept < interval && !context->IsCancelled();
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
