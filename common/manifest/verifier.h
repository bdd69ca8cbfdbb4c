// Signature verification: the gate every manifest passes before anything
// else of it is believed.
//
//   absl::StatusOr<VerifiedManifest> v = VerifyManifest(bytes, trust, now);
//   if (!v.ok()) report(ReasonOf(v.status()), v.status().message());
//
// Order of work: envelope size and shape, then signatures over the exact
// signed bytes, then (only for authenticated bytes) the Manifest inside.
#ifndef OTA_COMMON_MANIFEST_VERIFIER_H_
#define OTA_COMMON_MANIFEST_VERIFIER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/manifest/limits.h"
#include "common/manifest/trust_store.h"
#include "ota/v1/manifest.pb.h"

namespace ota::common {

// A manifest whose signatures met the trust store's threshold.
struct VerifiedManifest {
  ota::v1::SignedManifest signed_manifest;
  ota::v1::Manifest manifest;
  // Distinct trusted keys whose signatures verified, in signature order.
  std::vector<std::string> key_ids;
};

// Verifies `signed_manifest` against `trust` at `now_unix`, then parses its
// body. Errors, beyond ParseSignedManifest's and ParseManifestBody's:
// - DATA_LOSS, REASON_SIGNATURE_INVALID: a signature by a trusted key does
//   not verify (the bytes or the signature were altered);
// - PERMISSION_DENIED, REASON_CERTIFICATE_INVALID: the only trusted signers
//   are revoked or outside their validity window;
// - PERMISSION_DENIED, REASON_UNKNOWN_KEY: no signature is by a trusted key;
// - PERMISSION_DENIED, REASON_SIGNATURE_THRESHOLD: fewer distinct trusted
//   keys signed than trust.threshold().
absl::StatusOr<VerifiedManifest> VerifyManifest(
    const ota::v1::SignedManifest& signed_manifest, const TrustStore& trust,
    int64_t now_unix, size_t max_size = kMaxSignedManifestSize);

// The distinct trusted keys whose `signatures` over `message` verify, at
// least trust.threshold() of them, with the signature errors above
// otherwise; `what` names the message in them ("manifest", "key list").
absl::StatusOr<std::vector<std::string>> VerifySignatures(
    absl::string_view message,
    const google::protobuf::RepeatedPtrField<ota::v1::Signature>& signatures,
    const TrustStore& trust, int64_t now_unix, absl::string_view what);

// The same for an encoded SignedManifest.
absl::StatusOr<VerifiedManifest> VerifyManifest(
    absl::string_view bytes, const TrustStore& trust, int64_t now_unix,
    size_t max_size = kMaxSignedManifestSize);

}  // namespace ota::common

#endif  // OTA_COMMON_MANIFEST_VERIFIER_H_
