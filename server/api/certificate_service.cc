#include "absl/strings/str_cat.h"
#include "common/crypto/bytes.h"
#include "common/crypto/x509.h"
#include "server/api/services.h"
#include "server/api/status.h"

namespace ota::server {

grpc::Status CertificateServiceImpl::RegisterCertificate(
    grpc::ServerContext* context, const ota::v1::RegisterCertificateRequest* request,
    ota::v1::Certificate* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (request->certificate_der().empty()) {
    return ToGrpc(absl::InvalidArgumentError("certificate_der is empty"));
  }
  if (request->description().size() > 4096) {
    return ToGrpc(absl::InvalidArgumentError("description is longer than 4096 bytes"));
  }
  absl::StatusOr<common::Certificate> cert =
      common::Certificate::Parse(request->certificate_der());
  if (!cert.ok()) {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("certificate_der: ", cert.status().message())));
  }
  absl::StatusOr<common::EcdsaP256PublicKey> key = cert->PublicKey();
  if (!key.ok()) {
    return ToGrpc(absl::InvalidArgumentError(
        absl::StrCat("certificate_der: ", key.status().message())));
  }
  const int64_t now = deps_.clock->NowUnix();
  if (cert->not_after_unix() < now) {
    return ToGrpc(absl::FailedPreconditionError(
        absl::StrCat("certificate ", cert->subject(), " expired at ", cert->not_after_unix())));
  }
  ota::v1::Certificate record;
  record.set_key_id(key->KeyId());
  record.set_certificate_der(cert->der());
  record.set_fingerprint(common::HexEncode(cert->Fingerprint()));
  record.set_subject(cert->subject());
  record.set_issuer(cert->issuer());
  record.set_not_before_unix(cert->not_before_unix());
  record.set_not_after_unix(cert->not_after_unix());
  record.set_description(request->description());
  record.set_created_unix(now);
  if (absl::Status s = store_.Insert(record); !s.ok()) return ToGrpc(s);
  *response = record;
  return grpc::Status::OK;
}

grpc::Status CertificateServiceImpl::ListCertificates(
    grpc::ServerContext* context, const ota::v1::ListCertificatesRequest* request,
    ota::v1::ListCertificatesResponse* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  auto page = store_.List(request->page_size(), request->page_token(),
                          request->include_revoked());
  if (!page.ok()) return ToGrpc(page.status());
  for (auto& c : page->items) *response->add_certificates() = std::move(c);
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status CertificateServiceImpl::GetCertificate(grpc::ServerContext* context,
                                                    const ota::v1::GetCertificateRequest* request,
                                                    ota::v1::Certificate* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (absl::Status s = CheckSha256Hex("key_id", request->key_id()); !s.ok()) return ToGrpc(s);
  auto c = store_.Get(request->key_id());
  if (!c.ok()) return ToGrpc(c.status());
  *response = *std::move(c);
  return grpc::Status::OK;
}

grpc::Status CertificateServiceImpl::RevokeCertificate(
    grpc::ServerContext* context, const ota::v1::RevokeCertificateRequest* request,
    ota::v1::Certificate* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (absl::Status s = CheckSha256Hex("key_id", request->key_id()); !s.ok()) return ToGrpc(s);
  auto c = store_.Revoke(request->key_id(), request->reason(), deps_.clock->NowUnix());
  if (!c.ok()) return ToGrpc(c.status());
  *response = *std::move(c);
  return grpc::Status::OK;
}

}  // namespace ota::server
