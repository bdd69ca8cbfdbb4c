// HMAC-SHA256, for expiring download URLs and other server-side tokens.
//
//   std::string mac = ota::common::HmacSha256(key, message);  // 32 raw bytes
#ifndef OTA_COMMON_CRYPTO_HMAC_H_
#define OTA_COMMON_CRYPTO_HMAC_H_

#include <string>

#include "absl/strings/string_view.h"

namespace ota::common {

// The 32-byte HMAC-SHA256 of `message` under `key`.
std::string HmacSha256(absl::string_view key, absl::string_view message);

}  // namespace ota::common

#endif  // OTA_COMMON_CRYPTO_HMAC_H_
