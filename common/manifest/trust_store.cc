#include "common/manifest/trust_store.h"

#include "absl/strings/match.h"
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

absl::Status TrustStore::AddPem(absl::string_view pem, const std::string& description) {
  constexpr absl::string_view kBegin = "-----BEGIN ", kEnd = "-----END ";
  size_t blocks = 0;
  for (size_t at = pem.find(kBegin); at != absl::string_view::npos;
       at = pem.find(kBegin, at + 1)) {
    const size_t end = pem.find(kEnd, at);
    const size_t close = end == absl::string_view::npos ? end : pem.find("-----", end + kEnd.size());
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(description, ": a PEM block has no end"));
    }
    const absl::string_view block = pem.substr(at, close + 5 - at);
    ++blocks;
    if (absl::StartsWith(block, "-----BEGIN CERTIFICATE")) {
      absl::StatusOr<Certificate> cert = Certificate::FromPem(block);
      absl::Status s = cert.ok() ? AddCertificate(*cert) : cert.status();
      if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat(description, ": ", s.message()));
      continue;
    }
    absl::StatusOr<EcdsaP256PublicKey> key = EcdsaP256PublicKey::FromPem(block);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(description, ": ", key.status().message()));
    }
    AddKey(*key, 0, 0, description);
  }
  if (blocks == 0) {
    return absl::InvalidArgumentError(absl::StrCat(description, ": no PEM block"));
  }
  return absl::OkStatus();
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
