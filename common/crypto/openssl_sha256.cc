// Sha256 on OpenSSL 3's EVP interface.
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <utility>

#include "common/base/check.h"
#include "common/crypto/sha256.h"

namespace ota::common {

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
  ~State() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  OTA_CHECK(state_->ctx != nullptr);
  OTA_CHECK((EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr)) == 1);
}

Sha256::Sha256(std::unique_ptr<State> state) : state_(std::move(state)) {}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::Update(absl::string_view data) {
  OTA_CHECK((EVP_DigestUpdate(state_->ctx, data.data(), data.size())) == 1);
}

std::string Sha256::Finish() {
  std::string out(kSha256Size, '\0');
  unsigned int len = 0;
  OTA_CHECK((EVP_DigestFinal_ex(state_->ctx,
                              reinterpret_cast<unsigned char*>(out.data()),
                              &len)) == 1);
  OTA_CHECK((len) == kSha256Size);
  OTA_CHECK((EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr)) == 1);
  return out;
}

Sha256 Sha256::Clone() const {
  auto state = std::make_unique<State>();
  state->ctx = EVP_MD_CTX_new();
  OTA_CHECK(state->ctx != nullptr);
  OTA_CHECK((EVP_MD_CTX_copy_ex(state->ctx, state_->ctx)) == 1);
  return Sha256(std::move(state));
}

std::string Sha256Digest(absl::string_view data) {
  std::string out(kSha256Size, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string Sha1DigestForUuid(absl::string_view data) {
  std::string out(SHA_DIGEST_LENGTH, '\0');
  SHA1(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

}  // namespace ota::common
