// Root-signed update key lists: how the update keys a fleet trusts are
// replaced, and a compromised or expired one revoked, without reflashing.
//
// A device holds root keys installed at manufacture. The update keys that
// may sign manifests come in a KeyList carrying a version and signed by
// root keys; a device accepts a list only with a version above the one it
// holds, so an old list (with a key since revoked) cannot be replayed.
//
//   auto signed_list = SignKeyList(list, {&root_key});
//   auto list = VerifyKeyList(*signed_list, roots, held_version, now);
//   auto trust = TrustStoreFromKeyList(*list);   // for VerifyManifest
#ifndef OTA_COMMON_MANIFEST_KEY_LIST_H_
#define OTA_COMMON_MANIFEST_KEY_LIST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/crypto/ecdsa.h"
#include "common/manifest/trust_store.h"
#include "ota/v1/manifest.pb.h"

namespace ota::common {

// Largest encoded SignedKeyList accepted.
inline constexpr size_t kMaxSignedKeyListSize = 64 << 10;

// Checks `list`'s fields: version at least 1, keys that parse as P-256 with
// key_id equal to SHA-256 of their DER, no key twice, threshold between 1
// and the number of keys. INVALID_ARGUMENT, REASON_INVALID_FIELD naming the
// field otherwise.
absl::Status ValidateKeyList(const ota::v1::KeyList& list);

// Serializes `list` once and signs those bytes with each of `roots`.
absl::StatusOr<ota::v1::SignedKeyList> SignKeyList(
    const ota::v1::KeyList& list, const std::vector<const EcdsaP256PrivateKey*>& roots);

// The list inside `signed_list`, once root signatures meeting `roots`'
// threshold verify over its exact bytes (the errors of VerifySignatures),
// its fields are valid, it is newer than `held_version`
// (FAILED_PRECONDITION, REASON_ROLLBACK otherwise) and not stale at
// `now_unix` (FAILED_PRECONDITION, REASON_EXPIRED). RESOURCE_EXHAUSTED,
// REASON_TOO_LARGE above kMaxSignedKeyListSize. `signers`, when not null,
// gets the root keys whose signatures verified.
absl::StatusOr<ota::v1::KeyList> VerifyKeyList(const ota::v1::SignedKeyList& signed_list,
                                               const TrustStore& roots, uint64_t held_version,
                                               int64_t now_unix,
                                               std::vector<std::string>* signers = nullptr);

// The manifest trust store a verified list makes: its keys, each until its
// expiry, and its threshold.
absl::StatusOr<TrustStore> TrustStoreFromKeyList(const ota::v1::KeyList& list);

}  // namespace ota::common

#endif  // OTA_COMMON_MANIFEST_KEY_LIST_H_
