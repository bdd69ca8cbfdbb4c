#include "server/campaigns/test_manifest.h"

#include "common/crypto/bytes.h"
#include "common/crypto/sha256.h"
#include "common/manifest/uuid.h"
#include "ota/v1/manifest.pb.h"

namespace ota::server {

absl::StatusOr<std::string> InsertTestManifest(Database* db, const std::string& vendor_id,
                                               const std::string& class_id, uint64_t sequence,
                                               const std::string& image) {
  ota::v1::Manifest m;
  m.set_format_version(1);
  m.set_sequence_number(sequence);
  m.set_vendor_id(vendor_id);
  m.set_class_id(class_id);
  m.mutable_payload()->set_sha256(common::Sha256Digest(image));
  m.mutable_payload()->set_size(image.size());
  ota::v1::SignedManifest sm;
  sm.set_manifest(m.SerializeAsString());
  const std::string bytes = sm.SerializeAsString();
  const std::string id = common::HexEncode(common::Sha256Digest(bytes));
  const std::string sha = common::HexEncode(common::Sha256Digest(image));
  absl::Status s = db->Transact([&](pqxx::work& txn) {
    txn.exec_params("INSERT INTO assets (sha256, size, complete, created_unix, updated_unix) "
                    "VALUES ($1, $2, true, 0, 0) ON CONFLICT DO NOTHING",
                    sha, static_cast<int64_t>(image.size()));
    txn.exec_params("INSERT INTO manifests (manifest_id, signed_manifest, vendor_id, class_id, "
                    "sequence_number, payload_sha256, payload_size, signing_key_ids, created_unix) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, '{}', 0)",
                    id, pqxx::binarystring(bytes.data(), bytes.size()),
                    common::UuidToString(vendor_id), common::UuidToString(class_id), sequence, sha,
                    static_cast<int64_t>(image.size()));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return id;
}

}  // namespace ota::server
