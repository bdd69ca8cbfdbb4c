// Byte-string helpers shared by the crypto and manifest code: hex encoding
// and a comparison whose time does not depend on where inputs differ.
//
//   std::string hex = ota::common::HexEncode(digest);          // "9f86d0..."
//   absl::StatusOr<std::string> raw = ota::common::HexDecode(hex);
#ifndef OTA_COMMON_CRYPTO_BYTES_H_
#define OTA_COMMON_CRYPTO_BYTES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ota::common {

// Lowercase hex of `bytes`, two characters per byte.
std::string HexEncode(absl::string_view bytes);

// Bytes from hex (either case). INVALID_ARGUMENT on an odd length or a
// character outside [0-9a-fA-F].
absl::StatusOr<std::string> HexDecode(absl::string_view hex);

// True when `a` and `b` hold the same bytes. For secrets and MACs: the time
// taken depends only on the lengths, never on where the first difference is,
// so an attacker cannot learn a MAC byte by byte from response times.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

}  // namespace ota::common

#endif  // OTA_COMMON_CRYPTO_BYTES_H_
