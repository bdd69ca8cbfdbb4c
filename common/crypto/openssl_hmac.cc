// HmacSha256 on OpenSSL 3's EVP_Q_mac.
#include <openssl/evp.h>

#include "common/base/check.h"
#include "common/crypto/hmac.h"

namespace ota::common {

std::string HmacSha256(absl::string_view key, absl::string_view message) {
  std::string out(32, '\0');
  size_t len = 0;
  unsigned char* rc = EVP_Q_mac(
      nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
      reinterpret_cast<const unsigned char*>(message.data()), message.size(),
      reinterpret_cast<unsigned char*>(out.data()), out.size(), &len);
  OTA_CHECK(rc != nullptr && len == 32);
  return out;
}

}  // namespace ota::common
