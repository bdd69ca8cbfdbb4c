#include "device/client/config.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/file.h"
#include "common/crypto/x509.h"
#include "common/manifest/uuid.h"

namespace ota::device {

absl::StatusOr<DeviceConfig> LoadConfig(const std::string& path) {
  absl::StatusOr<std::string> text = common::ReadFile(path, 1 << 20);
  if (!text.ok()) return text.status();
  DeviceConfig config;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(*text, &config, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", std::string(parsed.message())));
  }
  auto missing = [&](const char* field) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": field ", field, " is missing"));
  };
  if (config.device_id().empty()) return missing("deviceId");
  if (config.vendor_id().empty()) return missing("vendorId");
  if (config.class_id().empty()) return missing("classId");
  if (config.state_dir().empty()) return missing("stateDir");
  // Update keys come from the factory's certificates or, with root keys,
  // from root-signed key lists.
  if (config.trusted_certificates().empty() && config.root_keys().empty()) {
    return missing("trustedCertificates (or rootKeys)");
  }
  if (config.bootflags().empty()) return missing("bootflags");
  if (config.slot_a().empty()) return missing("slotA");
  if (config.slot_b().empty()) return missing("slotB");
  for (auto [field, value] : {std::pair{"vendorId", &config.vendor_id()},
                              std::pair{"classId", &config.class_id()}}) {
    if (auto u = common::ParseUuid(*value); !u.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": field ", field, " ", u.status().message()));
    }
  }
  return config;
}

absl::StatusOr<common::TrustStore> LoadTrust(const DeviceConfig& config) {
  common::TrustStore trust;
  trust.set_threshold(config.signature_threshold());
  for (const std::string& file : config.trusted_certificates()) {
    absl::StatusOr<std::string> bytes = common::ReadFile(file, 1 << 20);
    if (!bytes.ok()) return bytes.status();
    absl::StatusOr<common::Certificate> cert = common::Certificate::Parse(*bytes);
    if (!cert.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": ", cert.status().message()));
    }
    if (absl::Status s = trust.AddCertificate(*cert); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": ", s.message()));
    }
  }
  return trust;
}

absl::StatusOr<common::TrustStore> LoadRoots(const DeviceConfig& config) {
  common::TrustStore roots;
  for (const std::string& file : config.root_keys()) {
    absl::StatusOr<std::string> pem = common::ReadFile(file, 1 << 20);
    if (!pem.ok()) return pem.status();
    if (absl::Status s = roots.AddPem(*pem, file); !s.ok()) return s;
  }
  return roots;
}

}  // namespace ota::device
