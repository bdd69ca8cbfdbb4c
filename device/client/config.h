// Loading ota-device's configuration file (JSON, lowerCamelCase keys, the
// fields of DeviceConfig in state.proto) and the trust store it names.
#ifndef OTA_DEVICE_CLIENT_CONFIG_H_
#define OTA_DEVICE_CLIENT_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/manifest/trust_store.h"
#include "device/client/state.pb.h"

namespace ota::device {

// Reads and checks `path`. INVALID_ARGUMENT naming the field for an unknown
// field, a missing required one (device_id, vendor_id, class_id,
// state_dir, trusted_certificates, bootflags, slot_a, slot_b) or a bad
// UUID; NOT_FOUND when the file is missing.
absl::StatusOr<DeviceConfig> LoadConfig(const std::string& path);

// A trust store of the certificates the config lists, with its threshold.
absl::StatusOr<common::TrustStore> LoadTrust(const DeviceConfig& config);

// The root keys of config.root_keys (PEM public keys or certificates),
// which sign update key lists. INVALID_ARGUMENT naming a file that does not
// parse.
absl::StatusOr<common::TrustStore> LoadRoots(const DeviceConfig& config);

}  // namespace ota::device

#endif  // OTA_DEVICE_CLIENT_CONFIG_H_
