#include "absl/strings/str_cat.h"
#include "server/api/services.h"
#include "server/blobs/blob_store.h"

namespace ota::server {

absl::Status CheckDeviceId(absl::string_view field, absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
  if (id.size() > 128) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is ", id.size(), " characters, at most 128 allowed"));
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, " \"", id, "\" has a character outside [A-Za-z0-9._:-]"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckAttributeKey(absl::string_view field, absl::string_view key) {
  bool ok = !key.empty() && key.size() <= 63 && key[0] >= 'a' && key[0] <= 'z';
  for (char c : key) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " key \"", key, "\" does not match [a-z][a-z0-9_]{0,62}"));
  }
  return absl::OkStatus();
}

absl::Status CheckSha256Hex(absl::string_view field, absl::string_view hex) {
  if (!BlobStore::IsDigest(hex)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " \"", hex, "\" is not a SHA-256 in lowercase hex (64 characters)"));
  }
  return absl::OkStatus();
}

grpc::Status Admit(const ServiceDeps& deps, const grpc::ServerContextBase* context) {
  return deps.gate == nullptr ? grpc::Status::OK : deps.gate->Check(context);
}

}  // namespace ota::server
