#include <algorithm>

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
    grpc::ServerContext* context, const ota::v1::IssueDeviceCertificateRequest* request,
    ota::v1::IssueDeviceCertificateResponse* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (ca_ == nullptr) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        "this otad has no fleet CA (--device_ca_cert_file): device "
                        "certificates are not issued");
  }
  if (absl::Status s = CheckDeviceId("device_id", request->device_id()); !s.ok()) {
    return ToGrpc(s);
  }
  if (request->validity_seconds() < 0) {
    return ToGrpc(absl::InvalidArgumentError("validity_seconds is negative"));
  }
  absl::StatusOr<common::CertificateRequest> csr =
      common::ParseCertificateRequest(request->csr_pem());
  if (!csr.ok()) return ToGrpc(absl::InvalidArgumentError(csr.status().message()));
  if (csr->common_name != request->device_id()) {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("the request's common name \"", csr->common_name,
                     "\" is not the device id \"", request->device_id(), "\"")));
  }
  if (absl::StatusOr<ota::v1::Device> d = devices_.Get(request->device_id()); !d.ok()) {
    return ToGrpc(d.status());
  }
  const int64_t now = deps_.clock->NowUnix();
  int64_t validity = request->validity_seconds() == 0 ? int64_t{365} * 24 * 3600
                                                      : request->validity_seconds();
  validity = std::min(validity, ca_->max_validity_seconds);
  common::CertificateSpec spec;
  spec.common_name = request->device_id();
  spec.not_before_unix = now - 300;  // clocks of devices drift
  spec.not_after_unix = std::min(now + validity, ca_->certificate.not_after_unix());
  absl::StatusOr<common::Certificate> cert =
      common::Certificate::Issue(spec, csr->public_key, ca_->key, &ca_->certificate);
  if (!cert.ok()) return ToGrpc(cert.status());
  response->set_certificate_pem(cert->ToPem());
  response->add_ca_chain_pem(ca_->certificate.ToPem());
  response->set_serial_number(cert->serial_hex());
  response->set_not_after_unix(cert->not_after_unix());
  return grpc::Status::OK;
}

grpc::Status AccessServiceImpl::PublishKeyList(grpc::ServerContext* context,
                                               const ota::v1::PublishKeyListRequest* request,
                                               ota::v1::KeyListRecord* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (key_lists_ == nullptr) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "key lists are not served here");
  }
  absl::StatusOr<ota::v1::KeyListRecord> r = key_lists_->Publish(request->signed_key_list());
  if (!r.ok()) return ToGrpc(r.status());
  *response = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status AccessServiceImpl::GetKeyList(grpc::ServerContext* context,
                                           const ota::v1::GetKeyListRequest* request,
                                           ota::v1::KeyListRecord* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (key_lists_ == nullptr) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "key lists are not served here");
  }
  absl::StatusOr<ota::v1::KeyListRecord> r = key_lists_->Get(request->version());
  if (!r.ok()) return ToGrpc(r.status());
  *response = *std::move(r);
  return grpc::Status::OK;
}

}  // namespace ota::server
