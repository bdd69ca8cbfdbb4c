// For tests of campaigns: stores a manifest row (and its asset row) as the
// manifest service would after checking it, without keys or signatures.
//
//   ASSERT_OK_AND_ASSIGN(std::string id,
//                        InsertTestManifest(db, vendor, class_id, 2, "image bytes"));
#ifndef OTA_SERVER_CAMPAIGNS_TEST_MANIFEST_H_
#define OTA_SERVER_CAMPAIGNS_TEST_MANIFEST_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "server/store/database.h"

namespace ota::server {

// `vendor_id` and `class_id` are 16-byte UUIDs; the payload is `image`.
// Returns the manifest id.
absl::StatusOr<std::string> InsertTestManifest(Database* db, const std::string& vendor_id,
                                               const std::string& class_id, uint64_t sequence,
                                               const std::string& image);

}  // namespace ota::server

#endif  // OTA_SERVER_CAMPAIGNS_TEST_MANIFEST_H_
