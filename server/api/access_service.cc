#include "absl/strings/str_cat.h"
#include "server/api/services.h"
#include "server/api/status.h"

namespace ota::server {

grpc::Status AccessServiceImpl::CreateToken(grpc::ServerContext* context,
                                            const ota::v1::CreateTokenRequest* request,
                                            ota::v1::CreateTokenResponse* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  const std::string by = deps_.gate == nullptr ? "" : deps_.gate->Caller(context).name;
  absl::StatusOr<ota::v1::CreateTokenResponse> created =
      store_->CreateToken(request->name(), request->role(), request->expires_unix(), by);
  if (!created.ok()) return ToGrpc(created.status());
  *response = *std::move(created);
  return grpc::Status::OK;
}

grpc::Status AccessServiceImpl::ListTokens(grpc::ServerContext* context,
                                           const ota::v1::ListTokensRequest* request,
                                           ota::v1::ListTokensResponse* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  absl::StatusOr<Page<ota::v1::AccessToken>> page = store_->ListTokens(*request);
  if (!page.ok()) return ToGrpc(page.status());
  for (auto& t : page->items) *response->add_tokens() = std::move(t);
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status AccessServiceImpl::RevokeToken(grpc::ServerContext* context,
                                            const ota::v1::RevokeTokenRequest* request,
                                            ota::v1::AccessToken* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  absl::StatusOr<ota::v1::AccessToken> t = store_->RevokeToken(request->token_id());
  if (!t.ok()) return ToGrpc(t.status());
  *response = *std::move(t);
  return grpc::Status::OK;
}

grpc::Status AccessServiceImpl::ListAuditEvents(grpc::ServerContext* context,
                                                const ota::v1::ListAuditEventsRequest* request,
                                                ota::v1::ListAuditEventsResponse* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  absl::StatusOr<Page<ota::v1::AuditEvent>> page = store_->ListAuditEvents(*request);
  if (!page.ok()) return ToGrpc(page.status());
  for (auto& e : page->items) *response->add_events() = std::move(e);
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status AccessServiceImpl::IssueDeviceCertificate(
    grpc::ServerContext* context, const ota::v1::IssueDeviceCertificateRequest*,
    ota::v1::IssueDeviceCertificateResponse*) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      "this otad has no fleet CA: device certificates are not issued");
}

grpc::Status AccessServiceImpl::PublishKeyList(grpc::ServerContext* context,
                                               const ota::v1::PublishKeyListRequest*,
                                               ota::v1::KeyListRecord*) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "update key lists are not served yet");
}

grpc::Status AccessServiceImpl::GetKeyList(grpc::ServerContext* context,
                                           const ota::v1::GetKeyListRequest*,
                                           ota::v1::KeyListRecord*) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "update key lists are not served yet");
}

}  // namespace ota::server
