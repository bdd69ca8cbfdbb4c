#include "common/manifest/key_list.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "common/manifest/verifier.h"
#include "common/status/reason.h"

namespace ota::common {
namespace {

absl::Status Invalid(const std::string& message) {
  return ReasonError(absl::StatusCode::kInvalidArgument, ota::v1::REASON_INVALID_FIELD, message);
}

}  // namespace

absl::Status ValidateKeyList(const ota::v1::KeyList& list) {
  if (list.version() == 0) return Invalid("key_list.version is zero");
  if (list.keys_size() == 0) return Invalid("key_list.keys is empty");
  std::set<std::string> seen;
  for (int i = 0; i < list.keys_size(); ++i) {
    const ota::v1::UpdateKey& k = list.keys(i);
    absl::StatusOr<EcdsaP256PublicKey> key = EcdsaP256PublicKey::FromDer(k.public_key_der());
    if (!key.ok()) {
      return Invalid(absl::StrCat("key_list.keys[", i, "].public_key_der: ", key.status().message()));
    }
    if (k.key_id() != key->KeyId()) {
      return Invalid(absl::StrCat("key_list.keys[", i, "].key_id \"", k.key_id(),
                                  "\" is not the SHA-256 of its key (", key->KeyId(), ")"));
    }
    if (!seen.insert(k.key_id()).second) {
      return Invalid(absl::StrCat("key_list.keys[", i, "] repeats key ", k.key_id()));
    }
  }
  if (list.threshold() < 1 || list.threshold() > static_cast<uint32_t>(list.keys_size())) {
    return Invalid(absl::StrCat("key_list.threshold ", list.threshold(), " is not between 1 and ",
                                list.keys_size(), " (the number of keys)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ota::v1::SignedKeyList> SignKeyList(
    const ota::v1::KeyList& list, const std::vector<const EcdsaP256PrivateKey*>& roots) {
  if (absl::Status s = ValidateKeyList(list); !s.ok()) return s;
  ota::v1::SignedKeyList out;
  out.set_key_list(list.SerializeAsString());
  for (const EcdsaP256PrivateKey* root : roots) {
    absl::StatusOr<std::string> sig = root->Sign(out.key_list());
    if (!sig.ok()) return sig.status();
    ota::v1::Signature* s = out.add_signatures();
    s->set_key_id(root->PublicKey().KeyId());
    s->set_algorithm(ota::v1::ECDSA_P256_SHA256);
    s->set_signature(*sig);
  }
  return out;
}

absl::StatusOr<ota::v1::KeyList> VerifyKeyList(const ota::v1::SignedKeyList& signed_list,
                                               const TrustStore& roots, uint64_t held_version,
                                               int64_t now_unix,
                                               std::vector<std::string>* signers) {
  if (signed_list.ByteSizeLong() > kMaxSignedKeyListSize) {
    return ReasonError(absl::StatusCode::kResourceExhausted, ota::v1::REASON_TOO_LARGE,
                       absl::StrCat("key list is ", signed_list.ByteSizeLong(),
                                    " bytes, at most ", kMaxSignedKeyListSize, " accepted"));
  }
  for (const ota::v1::Signature& sig : signed_list.signatures()) {
    if (sig.algorithm() != ota::v1::ECDSA_P256_SHA256) {
      return ReasonError(absl::StatusCode::kInvalidArgument,
                         ota::v1::REASON_UNSUPPORTED_ALGORITHM,
                         absl::StrCat("key list signature by ", sig.key_id(),
                                      " uses an unsupported algorithm"));
    }
  }
  absl::StatusOr<std::vector<std::string>> verified = VerifySignatures(
      signed_list.key_list(), signed_list.signatures(), roots, now_unix, "key list");
  if (!verified.ok()) return verified.status();
  ota::v1::KeyList list;
  if (!list.ParseFromString(signed_list.key_list())) {
    return ReasonError(absl::StatusCode::kInvalidArgument, ota::v1::REASON_MALFORMED,
                       "key list does not parse");
  }
  if (absl::Status s = ValidateKeyList(list); !s.ok()) return s;
  if (list.version() <= held_version) {
    return ReasonError(absl::StatusCode::kFailedPrecondition, ota::v1::REASON_ROLLBACK,
                       absl::StrCat("key list version ", list.version(),
                                    " is not above the held version ", held_version));
  }
  if (list.expires_unix() != 0 && list.expires_unix() <= now_unix) {
    return ReasonError(absl::StatusCode::kFailedPrecondition, ota::v1::REASON_EXPIRED,
                       absl::StrCat("key list version ", list.version(), " expired at ",
                                    list.expires_unix(), ", now is ", now_unix));
  }
  if (signers != nullptr) *signers = *std::move(verified);
  return list;
}

absl::StatusOr<TrustStore> TrustStoreFromKeyList(const ota::v1::KeyList& list) {
  if (absl::Status s = ValidateKeyList(list); !s.ok()) return s;
  TrustStore trust;
  for (const ota::v1::UpdateKey& k : list.keys()) {
    absl::StatusOr<EcdsaP256PublicKey> key = EcdsaP256PublicKey::FromDer(k.public_key_der());
    if (!key.ok()) return key.status();
    trust.AddKey(*key, 0, k.expires_unix(), k.description());
  }
  trust.set_threshold(list.threshold());
  return trust;
}

}  // namespace ota::common
