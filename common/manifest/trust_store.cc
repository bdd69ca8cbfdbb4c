#include "common/manifest/trust_store.h"

#include "absl/strings/str_cat.h"

namespace ota::common {

absl::Status TrustStore::AddCertificate(const Certificate& certificate) {
  absl::StatusOr<EcdsaP256PublicKey> key = certificate.PublicKey();
  if (!key.ok()) return key.status();
  AddKey(*key, certificate.not_before_unix(), certificate.not_after_unix(),
         certificate.subject());
  return absl::OkStatus();
}

void TrustStore::AddKey(const EcdsaP256PublicKey& key, int64_t not_before_unix,
                        int64_t not_after_unix, std::string description) {
  keys_.insert_or_assign(key.KeyId(), TrustedKey{key, not_before_unix,
                                                 not_after_unix, false,
                                                 std::move(description)});
}

absl::Status TrustStore::Revoke(absl::string_view key_id) {
  auto it = keys_.find(key_id);
  if (it == keys_.end()) {
    return absl::NotFoundError(absl::StrCat("no trusted key ", key_id));
  }
  it->second.revoked = true;
  return absl::OkStatus();
}

const TrustedKey* TrustStore::Find(absl::string_view key_id) const {
  auto it = keys_.find(key_id);
  return it == keys_.end() ? nullptr : &it->second;
}

}  // namespace ota::common
