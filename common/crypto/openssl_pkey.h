// The OpenSSL object behind EcdsaP256PublicKey and EcdsaP256PrivateKey.
// Private to common/crypto's OpenSSL implementation.
#ifndef OTA_COMMON_CRYPTO_OPENSSL_PKEY_H_
#define OTA_COMMON_CRYPTO_OPENSSL_PKEY_H_

#include <openssl/evp.h>

#include <string>

namespace ota::common::internal {

struct Pkey {
  explicit Pkey(EVP_PKEY* p) : pkey(p) {}
  ~Pkey() { EVP_PKEY_free(pkey); }
  Pkey(const Pkey&) = delete;
  Pkey& operator=(const Pkey&) = delete;
  EVP_PKEY* pkey;
};

// The text of OpenSSL's most recent error on this thread, emptying its
// queue; "no detail" when the queue is empty.
std::string OpensslError();

}  // namespace ota::common::internal

#endif  // OTA_COMMON_CRYPTO_OPENSSL_PKEY_H_
