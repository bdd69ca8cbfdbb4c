#include "common/manifest/verifier.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/manifest/manifest.h"
#include "common/status/reason.h"

namespace ota::common {

absl::StatusOr<std::vector<std::string>> VerifySignatures(
    absl::string_view message,
    const google::protobuf::RepeatedPtrField<ota::v1::Signature>& signatures,
    const TrustStore& trust, int64_t now_unix, absl::string_view what) {
  std::vector<std::string> verified;
  std::vector<std::string> unknown;
  absl::Status key_problem;
  for (const ota::v1::Signature& sig : signatures) {
    const TrustedKey* key = trust.Find(sig.key_id());
    if (key == nullptr) {
      unknown.push_back(sig.key_id());
      continue;
    }
    if (key->revoked) {
      key_problem = ReasonError(
          absl::StatusCode::kPermissionDenied,
          ota::v1::REASON_CERTIFICATE_INVALID,
          absl::StrCat("signing key ", sig.key_id(), " (", key->description,
                       ") is revoked"));
      continue;
    }
    if ((key->not_before_unix != 0 && now_unix < key->not_before_unix) ||
        (key->not_after_unix != 0 && now_unix > key->not_after_unix)) {
      key_problem = ReasonError(
          absl::StatusCode::kPermissionDenied,
          ota::v1::REASON_CERTIFICATE_INVALID,
          absl::StrCat("signing key ", sig.key_id(), " (", key->description,
                       ") is valid only from ", key->not_before_unix, " to ",
                       key->not_after_unix, ", now is ", now_unix));
      continue;
    }
    // A trusted key's signature that fails means the bytes were altered:
    // refuse outright rather than look for another signature.
    if (absl::Status s = key->key.Verify(message, sig.signature()); !s.ok()) {
      return ReasonError(absl::StatusCode::kDataLoss,
                         ota::v1::REASON_SIGNATURE_INVALID,
                         absl::StrCat("signature by key ", sig.key_id(),
                                      " does not verify over the ", what, ": ",
                                      s.message()));
    }
    if (std::find(verified.begin(), verified.end(), sig.key_id()) ==
        verified.end()) {
      verified.push_back(sig.key_id());
    }
  }
  if (verified.size() < trust.threshold()) {
    if (!verified.empty()) {
      return ReasonError(
          absl::StatusCode::kPermissionDenied,
          ota::v1::REASON_SIGNATURE_THRESHOLD,
          absl::StrCat(verified.size(), " trusted key(s) signed, ",
                       trust.threshold(), " required"));
    }
    if (!key_problem.ok()) return key_problem;
    return ReasonError(absl::StatusCode::kPermissionDenied,
                       ota::v1::REASON_UNKNOWN_KEY,
                       absl::StrCat("no signature is by a trusted key (signed by ",
                                    absl::StrJoin(unknown, ", "), ")"));
  }
  return verified;
}

absl::StatusOr<VerifiedManifest> VerifyManifest(
    const ota::v1::SignedManifest& signed_manifest, const TrustStore& trust,
    int64_t now_unix, size_t max_size) {
  if (absl::Status s = CheckSignedManifestEnvelope(signed_manifest, max_size);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::vector<std::string>> verified = VerifySignatures(
      signed_manifest.manifest(), signed_manifest.signatures(), trust, now_unix, "manifest");
  if (!verified.ok()) return verified.status();
  absl::StatusOr<ota::v1::Manifest> manifest = ParseManifestBody(signed_manifest);
  if (!manifest.ok()) return manifest.status();
  return VerifiedManifest{signed_manifest, *std::move(manifest),
                          *std::move(verified)};
}

absl::StatusOr<VerifiedManifest> VerifyManifest(absl::string_view bytes,
                                                const TrustStore& trust,
                                                int64_t now_unix,
                                                size_t max_size) {
  absl::StatusOr<ota::v1::SignedManifest> sm = ParseSignedManifest(bytes, max_size);
  if (!sm.ok()) return sm.status();
  return VerifyManifest(*sm, trust, now_unix, max_size);
}

}  // namespace ota::common
