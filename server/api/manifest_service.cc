#include "absl/strings/str_cat.h"
#include "common/crypto/bytes.h"
#include "common/crypto/sha256.h"
#include "common/crypto/x509.h"
#include "common/manifest/manifest.h"
#include "common/manifest/payload_digest.h"
#include "common/manifest/uuid.h"
#include "common/manifest/verifier.h"
#include "common/status/reason.h"
#include "server/api/services.h"
#include "server/api/status.h"

namespace ota::server {

absl::StatusOr<ota::v1::ManifestRecord> ManifestServiceImpl::Accept(
    const ota::v1::UploadManifestRequest& request) {
  if (request.signed_manifest().empty()) {
    return common::ReasonError(absl::StatusCode::kInvalidArgument, ota::v1::REASON_EMPTY,
                               "signed_manifest is empty");
  }
  // The trust store is the registered certificates, revoked ones marked so
  // their signatures count for nothing.
  absl::StatusOr<std::vector<ota::v1::Certificate>> certs = certificates_.All();
  if (!certs.ok()) return certs.status();
  common::TrustStore trust;
  for (const ota::v1::Certificate& c : *certs) {
    absl::StatusOr<common::Certificate> parsed = common::Certificate::FromDer(c.certificate_der());
    if (!parsed.ok()) continue;
    if (!trust.AddCertificate(*parsed).ok()) continue;
    if (c.revoked()) (void)trust.Revoke(c.key_id());
  }
  const int64_t now = deps_.clock->NowUnix();
  absl::StatusOr<common::VerifiedManifest> v =
      common::VerifyManifest(request.signed_manifest(), trust, now);
  if (!v.ok()) return v.status();
  const ota::v1::Manifest& m = v->manifest;
  if (m.expires_unix() != 0 && m.expires_unix() <= now) {
    return common::ReasonError(absl::StatusCode::kFailedPrecondition, ota::v1::REASON_EXPIRED,
                               absl::StrCat("manifest expired at ", m.expires_unix()));
  }

  const std::string payload_sha = common::HexEncode(m.payload().sha256());
  bool complete = false;
  absl::StatusOr<ota::v1::Asset> asset = assets_.Get(payload_sha, &complete, nullptr, nullptr);
  if (absl::IsNotFound(asset.status()) || (asset.ok() && !complete)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "payload asset ", payload_sha, " is not uploaded", asset.ok() ? " completely" : ""));
  }
  if (!asset.ok()) return asset.status();
  if (asset->size() != m.payload().size()) {
    return common::ReasonError(
        absl::StatusCode::kFailedPrecondition, ota::v1::REASON_PAYLOAD_SIZE_MISMATCH,
        absl::StrCat("manifest declares ", m.payload().size(), " bytes, asset ", payload_sha,
                     " has ", asset->size()));
  }
  // Chunk digests are checked against the stored bytes, so a manifest that
  // would fail on every device is refused here instead.
  absl::StatusOr<common::PayloadDigests> digests =
      common::DigestFile(deps_.blobs->BlobPath(payload_sha), m.payload().chunk_size());
  if (!digests.ok()) return digests.status();
  if (absl::Status s = common::CheckPayloadDigests(m.payload(), *digests); !s.ok()) {
    return common::ReasonError(absl::StatusCode::kFailedPrecondition, common::ReasonOf(s),
                               absl::StrCat("stored payload: ", s.message()));
  }

  ota::v1::ManifestRecord record;
  record.set_manifest_id(common::HexEncode(common::Sha256Digest(request.signed_manifest())));
  *record.mutable_manifest() = m;
  *record.mutable_signed_manifest() = v->signed_manifest;
  for (const std::string& k : v->key_ids) record.add_signing_key_ids(k);
  record.set_created_unix(now);
  record.set_vendor_id(common::UuidToString(m.vendor_id()));
  record.set_class_id(common::UuidToString(m.class_id()));
  record.set_payload_sha256(payload_sha);
  return record;
}

grpc::Status ManifestServiceImpl::UploadManifest(grpc::ServerContext* context,
                                                 const ota::v1::UploadManifestRequest* request,
                                                 ota::v1::ManifestRecord* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  absl::StatusOr<ota::v1::ManifestRecord> record = Accept(*request);
  if (!record.ok()) return ToGrpc(record.status());
  if (!request->validate_only()) {
    if (absl::Status s = store_.Insert(*record); !s.ok()) return ToGrpc(s);
  }
  *response = *std::move(record);
  return grpc::Status::OK;
}

grpc::Status ManifestServiceImpl::GetManifest(grpc::ServerContext* context,
                                              const ota::v1::GetManifestRequest* request,
                                              ota::v1::ManifestRecord* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  if (absl::Status s = CheckSha256Hex("manifest_id", request->manifest_id()); !s.ok()) {
    return ToGrpc(s);
  }
  auto m = store_.Get(request->manifest_id());
  if (!m.ok()) return ToGrpc(m.status());
  *response = *std::move(m);
  return grpc::Status::OK;
}

grpc::Status ManifestServiceImpl::ListManifests(grpc::ServerContext* context,
                                                const ota::v1::ListManifestsRequest* request,
                                                ota::v1::ListManifestsResponse* response) {
  if (grpc::Status s = Admit(deps_, context); !s.ok()) return s;
  std::string vendor, klass;
  for (auto [field, in, out] : {std::make_tuple("vendor_id", &request->vendor_id(), &vendor),
                                std::make_tuple("class_id", &request->class_id(), &klass)}) {
    if (in->empty()) continue;
    absl::StatusOr<std::string> raw = common::ParseUuid(*in);
    if (!raw.ok()) {
      return ToGrpc(absl::InvalidArgumentError(absl::StrCat(field, ": ", raw.status().message())));
    }
    *out = common::UuidToString(*raw);
  }
  auto page = store_.List(vendor, klass, request->page_size(), request->page_token());
  if (!page.ok()) return ToGrpc(page.status());
  for (auto& m : page->items) *response->add_manifests() = std::move(m);
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

}  // namespace ota::server
