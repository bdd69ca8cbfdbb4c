// Build, sign, serialize and parse signed manifests.
//
// Signing side (ota-manifest, tests):
//   ota::v1::Manifest m = ...;                    // fields filled in
//   absl::StatusOr<ota::v1::SignedManifest> sm = SignManifest(m, {&key});
//   std::string bytes = sm->SerializeAsString();
//
// Receiving side (otad, devices): VerifyManifest (verifier.h) checks the size
// limit before parsing, parses only the envelope, verifies the signatures
// over the exact signed bytes, and only then parses the Manifest inside, so
// the parser of the rich structure never sees unauthenticated bytes.
// Applicability to one device is CheckApplicable (policy.h).
#ifndef OTA_COMMON_MANIFEST_MANIFEST_H_
#define OTA_COMMON_MANIFEST_MANIFEST_H_

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/ecdsa.h"
#include "common/manifest/limits.h"
#include "ota/v1/manifest.pb.h"

namespace ota::common {

// OK when every field of `manifest` has a legal shape: the format version is
// known, ids are 16 bytes, digests 32 bytes, the chunk list matches the size,
// a delta names its precursor, limits hold. Otherwise INVALID_ARGUMENT with
// REASON_UNSUPPORTED_VERSION or REASON_INVALID_FIELD and the field's name.
absl::Status ValidateManifestFields(const ota::v1::Manifest& manifest);

// Serializes `manifest` once and signs those bytes with each key in order.
// Refuses (as ValidateManifestFields) a manifest a device would refuse, so a
// signer cannot publish one by mistake. `keys` must not be empty.
absl::StatusOr<ota::v1::SignedManifest> SignManifest(
    const ota::v1::Manifest& manifest,
    const std::vector<const EcdsaP256PrivateKey*>& keys);

// Adds one more signature over the already-signed bytes (a second key
// holder co-signs without re-serializing).
absl::Status AddSignature(const EcdsaP256PrivateKey& key,
                          ota::v1::SignedManifest* signed_manifest);

// Parses the envelope of an encoded SignedManifest, the only part read
// before signatures are checked. Errors, each INVALID_ARGUMENT with its
// reason: REASON_EMPTY (no bytes), REASON_TOO_LARGE (over `max_size`,
// checked before parsing), REASON_MALFORMED (not protobuf, truncated),
// REASON_SIGNATURE_MISSING, REASON_UNSUPPORTED_ALGORITHM, REASON_INVALID_FIELD
// (a signature's shape). Signatures are NOT verified here.
absl::StatusOr<ota::v1::SignedManifest> ParseSignedManifest(
    absl::string_view bytes, size_t max_size = kMaxSignedManifestSize);

// The same envelope checks on a SignedManifest already decoded (one that
// arrived inside a gRPC message).
absl::Status CheckSignedManifestEnvelope(
    const ota::v1::SignedManifest& signed_manifest,
    size_t max_size = kMaxSignedManifestSize);

// Parses and validates the signed Manifest bytes. Call it on bytes whose
// signatures verified (VerifyManifest in verifier.h does both), or to show an
// unverified manifest to a person. Errors: REASON_EMPTY, REASON_MALFORMED and
// those of ValidateManifestFields, all INVALID_ARGUMENT.
absl::StatusOr<ota::v1::Manifest> ParseManifestBody(
    const ota::v1::SignedManifest& signed_manifest);

}  // namespace ota::common

#endif  // OTA_COMMON_MANIFEST_MANIFEST_H_
