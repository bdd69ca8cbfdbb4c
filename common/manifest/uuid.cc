#include "common/manifest/uuid.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/crypto/bytes.h"
#include "common/crypto/sha256.h"

namespace ota::common {

const absl::string_view kDnsNamespaceUuid(
    "\x6b\xa7\xb8\x10\x9d\xad\x11\xd1\x80\xb4\x00\xc0\x4f\xd4\x30\xc8", 16);

std::string Uuid5(absl::string_view namespace_uuid, absl::string_view name) {
  std::string hash = Sha1DigestForUuid(absl::StrCat(namespace_uuid, name));
  std::string uuid = hash.substr(0, 16);
  uuid[6] = static_cast<char>((uuid[6] & 0x0f) | 0x50);  // version 5
  uuid[8] = static_cast<char>((uuid[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return uuid;
}

std::string UuidToString(absl::string_view uuid) {
  std::string hex = HexEncode(uuid);
  if (hex.size() != 32) return hex;
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-",
                      hex.substr(12, 4), "-", hex.substr(16, 4), "-",
                      hex.substr(20));
}

absl::StatusOr<std::string> ParseUuid(absl::string_view text) {
  std::string hex = absl::StrReplaceAll(text, {{"-", ""}});
  if (hex.size() != 32) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text, "\" is not a UUID (want 32 hex digits, dashes optional)"));
  }
  absl::StatusOr<std::string> raw = HexDecode(hex);
  if (!raw.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not a UUID: ", raw.status().message()));
  }
  return raw;
}

}  // namespace ota::common
