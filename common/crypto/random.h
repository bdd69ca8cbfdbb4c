// Bytes from the operating system's cryptographically secure generator
// (OpenSSL's DRBG), for secrets: tokens, keys, nonces.
//
//   std::string secret = ota::common::RandomBytes(32);
#ifndef OTA_COMMON_CRYPTO_RANDOM_H_
#define OTA_COMMON_CRYPTO_RANDOM_H_

#include <cstddef>
#include <string>

namespace ota::common {

// `n` random bytes. Aborts if the generator fails (it cannot be seeded),
// since no caller can do anything safe without randomness.
std::string RandomBytes(size_t n);

}  // namespace ota::common

#endif  // OTA_COMMON_CRYPTO_RANDOM_H_
