// The records otad keeps in PostgreSQL: update certificates, assets,
// manifests and devices. Each store is a thin, typed layer over Database;
// records are the v1 API's messages, so no second model drifts from the
// wire format. Every method is one transaction.
//
// Paging: List methods return at most `page_size` records (0 means 100,
// anything above 1000 means 1000) ordered by key, and a next-page token that
// is empty on the last page.
#ifndef OTA_SERVER_STORE_STORES_H_
#define OTA_SERVER_STORE_STORES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ota/v1/asset_service.pb.h"
#include "ota/v1/certificate_service.pb.h"
#include "ota/v1/device.pb.h"
#include "ota/v1/device_registry_service.pb.h"
#include "ota/v1/manifest_service.pb.h"
#include "server/store/database.h"

namespace ota::server {

// Page size actually used for a requested one.
int EffectivePageSize(int32_t requested);

template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_page_token;

  // Lists read one row more than `limit` to learn whether another page
  // follows; this drops that row and sets the token to the last key kept.
  template <typename KeyOf>
  void Trim(int limit, KeyOf key_of) {
    if (static_cast<int>(items.size()) <= limit) return;
    items.resize(limit);
    next_page_token = key_of(items.back());
  }
};

class CertificateStore {
 public:
  explicit CertificateStore(Database* db) : db_(db) {}

  // ALREADY_EXISTS when a certificate with the same key id is registered.
  absl::Status Insert(const ota::v1::Certificate& certificate);
  // NOT_FOUND when unknown.
  absl::StatusOr<ota::v1::Certificate> Get(const std::string& key_id);
  absl::StatusOr<Page<ota::v1::Certificate>> List(int32_t page_size,
                                                  const std::string& page_token,
                                                  bool include_revoked);
  // NOT_FOUND when unknown; FAILED_PRECONDITION when already revoked.
  absl::StatusOr<ota::v1::Certificate> Revoke(const std::string& key_id,
                                              const std::string& reason, int64_t now_unix);
  // Every certificate, revoked ones included, for building a trust store.
  absl::StatusOr<std::vector<ota::v1::Certificate>> All();

 private:
  Database* db_;
};

// Upload bookkeeping and the catalogue of payloads. The bytes live in the
// BlobStore; a row is `complete` only after the blob is in place.
class AssetStore {
 public:
  explicit AssetStore(Database* db) : db_(db) {}

  // Records an upload of `sha256` (hex) and `size`, or returns the existing
  // record. INVALID_ARGUMENT when a record for the digest has another size.
  absl::StatusOr<ota::v1::Asset> BeginUpload(const std::string& sha256, uint64_t size,
                                             const std::string& name, int64_t now_unix,
                                             bool* complete);
  absl::Status SetReceived(const std::string& sha256, uint64_t bytes, int64_t now_unix);
  absl::StatusOr<ota::v1::Asset> MarkComplete(const std::string& sha256, int64_t now_unix);
  // NOT_FOUND when unknown; `complete` tells whether the upload finished.
  absl::StatusOr<ota::v1::Asset> Get(const std::string& sha256, bool* complete,
                                     uint64_t* bytes_received, int64_t* updated_unix);
  // Complete assets only.
  absl::StatusOr<Page<ota::v1::Asset>> List(int32_t page_size, const std::string& page_token);
  // NOT_FOUND when unknown; FAILED_PRECONDITION naming a manifest when one
  // uses the asset.
  absl::Status Delete(const std::string& sha256);

 private:
  Database* db_;
};

class ManifestStore {
 public:
  explicit ManifestStore(Database* db) : db_(db) {}

  // ALREADY_EXISTS for the same manifest id; FAILED_PRECONDITION when the
  // payload asset is not recorded.
  absl::Status Insert(const ota::v1::ManifestRecord& record);
  absl::StatusOr<ota::v1::ManifestRecord> Get(const std::string& manifest_id);
  // Filters by vendor and class (dashed UUIDs) when not empty. Listed
  // records leave out signed_manifest and the chunk digests.
  absl::StatusOr<Page<ota::v1::ManifestRecord>> List(const std::string& vendor_id,
                                                     const std::string& class_id,
                                                     int32_t page_size,
                                                     const std::string& page_token);

 private:
  Database* db_;
};

// What a device tells on Connect.
struct DeviceHello {
  std::string device_id;
  std::string vendor_id;  // dashed UUID
  std::string class_id;
  ota::v1::InstalledImage installed;
  std::map<std::string, std::string> attributes;
  std::string client_version;
  uint64_t key_list_version = 0;
  uint64_t slot_size = 0;
  uint64_t report_seq = 0;
};

// One ReportStatus call's reports, for DeviceStore::StoreReportBatch.
struct DeviceReports {
  std::string device_id;
  std::vector<ota::v1::StatusReport> reports;  // seq increasing
  int64_t now_ms = 0;
  // Set by StoreReportBatch: the highest seq stored for the device, or
  // NOT_FOUND when the device is unknown.
  absl::StatusOr<uint64_t> acked = absl::UnknownError("not stored");
};

// A PostgreSQL array literal of `values` ('{"a","b"}'), for a parameter
// cast to text[].
std::string PgTextArray(const std::vector<std::string>& values);

class DeviceStore {
 public:
  explicit DeviceStore(Database* db) : db_(db) {}

  // Pre-provisions a device. ALREADY_EXISTS when known.
  absl::StatusOr<ota::v1::Device> Register(const std::string& device_id,
                                           const std::string& vendor_id,
                                           const std::string& class_id,
                                           const std::map<std::string, std::string>& assigned,
                                           int64_t now_unix);
  absl::StatusOr<ota::v1::Device> Get(const std::string& device_id);
  // `where_sql` is a boolean SQL expression over the devices table whose
  // parameters are $1..$N = `params` (from DeviceFilter::ToSql).
  absl::StatusOr<Page<ota::v1::Device>> List(const std::string& where_sql,
                                             const std::vector<std::string>& params,
                                             bool online_only, int32_t page_size,
                                             const std::string& page_token,
                                             int64_t* total_size);
  // Sets and removes operator-assigned attributes. NOT_FOUND when unknown.
  absl::StatusOr<ota::v1::Device> UpdateAttributes(
      const std::string& device_id, const std::map<std::string, std::string>& set,
      const std::vector<std::string>& remove);
  // NOT_FOUND when unknown.
  absl::Status Delete(const std::string& device_id);

  // Registers or refreshes a device from its Connect: identity, what it
  // runs, its reported attributes; marks it online.
  absl::StatusOr<ota::v1::Device> Connected(const DeviceHello& hello, int64_t now_unix);
  // Marks it offline.
  absl::Status Disconnected(const std::string& device_id, int64_t now_unix);

  // Stores `reports` of a device in one transaction, each once per seq (a
  // resent report is not stored twice), and records the installed image of
  // the newest report that carries one. Returns the highest seq stored for
  // the device. NOT_FOUND when the device is unknown.
  // `also` runs inside the same transaction (the campaigns apply the
  // reports to their deployments there).
  absl::StatusOr<uint64_t> StoreReports(
      const std::string& device_id, const std::vector<ota::v1::StatusReport>& reports,
      int64_t now_ms, const std::function<absl::Status(pqxx::work&)>& also = nullptr);

  // StoreReports for many calls at once, in one transaction (a group
  // commit): a handful of statements for the whole batch, whatever its
  // size. Calls may name the same device and resend the same seqs. Sets
  // each item's `acked`; an unknown device fails its own items only.
  // `also` runs inside the transaction with the items of known devices.
  // Returns the transaction's status: when it is not OK nothing was stored
  // and the items' `acked` are not meaningful.
  absl::Status StoreReportBatch(
      std::vector<DeviceReports>* items,
      const std::function<absl::Status(pqxx::work&, const std::vector<const DeviceReports*>&)>&
          also = nullptr);

 private:
  Database* db_;
};

}  // namespace ota::server

#endif  // OTA_SERVER_STORE_STORES_H_
