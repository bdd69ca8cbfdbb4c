#include "server/auth/key_list_store.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/manifest/key_list.h"

namespace ota::server {
namespace {

ota::v1::KeyListRecord RecordFromRow(const pqxx::row& r) {
  ota::v1::KeyListRecord out;
  out.set_version(r["version"].as<uint64_t>());
  out.mutable_signed_key_list()->ParseFromString(pqxx::binarystring(r["signed_key_list"]).str());
  out.mutable_key_list()->ParseFromString(out.signed_key_list().key_list());
  out.set_published_unix(r["published_unix"].as<int64_t>());
  // text[] as "{a,b}": key ids are hex, so no quoting to undo.
  std::string ids = r["signing_key_ids"].c_str();
  if (ids.size() > 2) {
    ids = ids.substr(1, ids.size() - 2);
    size_t start = 0;
    while (start <= ids.size()) {
      size_t comma = ids.find(',', start);
      if (comma == std::string::npos) comma = ids.size();
      out.add_signing_key_ids(ids.substr(start, comma - start));
      start = comma + 1;
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<ota::v1::KeyListRecord> KeyListStore::Publish(
    const ota::v1::SignedKeyList& signed_list) {
  if (roots_ == nullptr || roots_->size() == 0) {
    return absl::FailedPreconditionError(
        "this otad has no root keys (--root_keys_file): key lists cannot be checked");
  }
  const int64_t now = clock_->NowUnix();
  ota::v1::KeyListRecord out;
  absl::Status s = db_->Transact([&](pqxx::work& txn) -> absl::Status {
    // One publisher at a time, so versions only go up.
    txn.exec("LOCK TABLE key_lists IN EXCLUSIVE MODE");
    const uint64_t latest =
        txn.exec("SELECT coalesce(max(version), 0) FROM key_lists")[0][0].as<uint64_t>();
    std::vector<std::string> signers;
    absl::StatusOr<ota::v1::KeyList> list =
        common::VerifyKeyList(signed_list, *roots_, latest, now, &signers);
    if (!list.ok()) return list.status();
    const std::string bytes = signed_list.SerializeAsString();
    const std::string ids = absl::StrCat("{", absl::StrJoin(signers, ","), "}");
    pqxx::result r = txn.exec_params(
        "INSERT INTO key_lists (version, signed_key_list, signing_key_ids, published_unix) "
        "VALUES ($1, $2, $3::text[], $4) RETURNING *",
        static_cast<int64_t>(list->version()), pqxx::binarystring(bytes.data(), bytes.size()), ids,
        now);
    out = RecordFromRow(r[0]);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<ota::v1::KeyListRecord> KeyListStore::Get(uint64_t version) {
  ota::v1::KeyListRecord out;
  bool found = false;
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    pqxx::result r =
        version == 0
            ? txn.exec("SELECT * FROM key_lists ORDER BY version DESC LIMIT 1")
            : txn.exec_params("SELECT * FROM key_lists WHERE version = $1",
                              static_cast<int64_t>(version));
    found = !r.empty();
    if (found) out = RecordFromRow(r[0]);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (!found) {
    return absl::NotFoundError(version == 0 ? "no key list is published"
                                            : absl::StrCat("key list version ", version,
                                                           " is not published"));
  }
  return out;
}

}  // namespace ota::server
