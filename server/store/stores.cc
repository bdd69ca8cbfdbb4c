#include "server/store/stores.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <set>
#include <unordered_map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto/bytes.h"

namespace ota::server {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

std::string Bytes(const pqxx::field& f) { return pqxx::binarystring(f).str(); }

std::string AttributesJson(const std::map<std::string, std::string>& attributes) {
  google::protobuf::Struct s;
  for (const auto& [k, v] : attributes) (*s.mutable_fields())[k].set_string_value(v);
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(s, &json);
  return json;
}

template <typename Map>
void ParseAttributes(const std::string& json, Map* out) {
  google::protobuf::Struct s;
  if (!google::protobuf::util::JsonStringToMessage(json, &s).ok()) return;
  for (const auto& [k, v] : s.fields()) (*out)[k] = v.string_value();
}

// --------------------------------------------------------- certificates

constexpr char kCertificateColumns[] =
    "key_id, fingerprint, certificate_der, subject, issuer, not_before_unix, "
    "not_after_unix, description, revoked_unix, revocation_reason, created_unix";

ota::v1::Certificate CertificateFromRow(const pqxx::row& r) {
  ota::v1::Certificate c;
  c.set_key_id(r["key_id"].c_str());
  c.set_fingerprint(r["fingerprint"].c_str());
  c.set_certificate_der(Bytes(r["certificate_der"]));
  c.set_subject(r["subject"].c_str());
  c.set_issuer(r["issuer"].c_str());
  c.set_not_before_unix(r["not_before_unix"].as<int64_t>());
  c.set_not_after_unix(r["not_after_unix"].as<int64_t>());
  c.set_description(r["description"].c_str());
  c.set_revoked(!r["revoked_unix"].is_null());
  if (c.revoked()) c.set_revoked_unix(r["revoked_unix"].as<int64_t>());
  c.set_revocation_reason(r["revocation_reason"].c_str());
  c.set_created_unix(r["created_unix"].as<int64_t>());
  return c;
}

// --------------------------------------------------------------- assets

constexpr char kAssetColumns[] =
    "sha256, size, name, complete, bytes_received, created_unix, updated_unix";

ota::v1::Asset AssetFromRow(const pqxx::row& r) {
  ota::v1::Asset a;
  a.set_sha256(r["sha256"].c_str());
  a.set_size(r["size"].as<uint64_t>());
  a.set_name(r["name"].c_str());
  a.set_created_unix(r["created_unix"].as<int64_t>());
  a.set_download_path(absl::StrCat("/payloads/", a.sha256()));
  return a;
}

// ------------------------------------------------------------ manifests

constexpr char kManifestColumns[] =
    "manifest_id, signed_manifest, vendor_id, class_id, payload_sha256, "
    "signing_key_ids, created_unix";

absl::StatusOr<ota::v1::ManifestRecord> ManifestFromRow(const pqxx::row& r, bool full) {
  ota::v1::ManifestRecord m;
  m.set_manifest_id(r["manifest_id"].c_str());
  m.set_vendor_id(r["vendor_id"].c_str());
  m.set_class_id(r["class_id"].c_str());
  m.set_payload_sha256(r["payload_sha256"].c_str());
  m.set_created_unix(r["created_unix"].as<int64_t>());
  ota::v1::SignedManifest sm;
  if (!sm.ParseFromString(Bytes(r["signed_manifest"])) ||
      !m.mutable_manifest()->ParseFromString(sm.manifest())) {
    return absl::DataLossError(
        absl::StrCat("stored manifest ", m.manifest_id(), " does not parse"));
  }
  for (const auto& sig : sm.signatures()) m.add_signing_key_ids(sig.key_id());
  if (full) {
    *m.mutable_signed_manifest() = std::move(sm);
  } else {
    m.mutable_manifest()->mutable_payload()->clear_chunk_sha256();
  }
  return m;
}

// -------------------------------------------------------------- devices

constexpr char kDeviceColumns[] =
    "device_id, vendor_id, class_id, installed_slot, installed_sha256, installed_sequence, "
    "installed_version, installed_component, installed_trial, attributes::text AS attrs, "
    "assigned_attributes::text AS assigned, client_version, key_list_version, slot_size, "
    "online, first_seen_unix, last_seen_unix, created_unix, "
    // The deployment it works on (an open one) or last worked on.
    "(SELECT d.deployment_id || ' ' || d.state || ' ' || d.campaign_id FROM deployments d "
    "WHERE d.device_id = devices.device_id "
    "ORDER BY d.state IN (1, 2, 4, 5, 6, 7, 8) DESC, d.updated_ms DESC LIMIT 1) AS current";

ota::v1::Device DeviceFromRow(const pqxx::row& r) {
  ota::v1::Device d;
  d.set_device_id(r["device_id"].c_str());
  d.set_vendor_id(r["vendor_id"].c_str());
  d.set_class_id(r["class_id"].c_str());
  ota::v1::InstalledImage* i = d.mutable_installed();
  i->set_active_slot(r["installed_slot"].c_str());
  absl::StatusOr<std::string> sha = common::HexDecode(r["installed_sha256"].c_str());
  if (sha.ok()) i->set_image_sha256(*sha);
  i->set_sequence_number(r["installed_sequence"].as<uint64_t>());
  i->set_version(r["installed_version"].c_str());
  i->set_component(r["installed_component"].c_str());
  i->set_trial(r["installed_trial"].as<bool>());
  ParseAttributes(r["attrs"].c_str(), d.mutable_attributes());
  ParseAttributes(r["assigned"].c_str(), d.mutable_assigned_attributes());
  d.set_client_version(r["client_version"].c_str());
  d.set_key_list_version(r["key_list_version"].as<uint64_t>());
  d.set_slot_size(r["slot_size"].as<uint64_t>());
  d.set_online(r["online"].as<bool>());
  d.set_first_seen_unix(r["first_seen_unix"].as<int64_t>());
  d.set_last_seen_unix(r["last_seen_unix"].as<int64_t>());
  d.set_created_unix(r["created_unix"].as<int64_t>());
  if (!r["current"].is_null()) {
    std::vector<std::string> parts = absl::StrSplit(r["current"].c_str(), ' ');
    int state = 0;
    if (parts.size() == 3 && absl::SimpleAtoi(parts[1], &state)) {
      d.set_current_deployment_id(parts[0]);
      d.set_current_deployment_state(static_cast<ota::v1::DeploymentState>(state));
      d.set_current_campaign_id(parts[2]);
    }
  }
  return d;
}

absl::Status NotFound(absl::string_view what, absl::string_view id) {
  return absl::NotFoundError(absl::StrCat(what, " ", id, " does not exist"));
}

}  // namespace

int EffectivePageSize(int32_t requested) {
  if (requested <= 0) return kDefaultPageSize;
  return requested > kMaxPageSize ? kMaxPageSize : requested;
}

// ----------------------------------------------------- CertificateStore

absl::Status CertificateStore::Insert(const ota::v1::Certificate& c) {
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    txn.exec_params(
        absl::StrCat("INSERT INTO certificates (", kCertificateColumns,
                     ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, '', $9)"),
        c.key_id(), c.fingerprint(),
        pqxx::binarystring(c.certificate_der().data(), c.certificate_der().size()),
        c.subject(), c.issuer(), c.not_before_unix(), c.not_after_unix(), c.description(),
        c.created_unix());
    return absl::OkStatus();
  });
  if (s.code() == absl::StatusCode::kAlreadyExists) {
    return absl::AlreadyExistsError(
        absl::StrCat("a certificate for key ", c.key_id(), " is already registered"));
  }
  return s;
}

absl::StatusOr<ota::v1::Certificate> CertificateStore::Get(const std::string& key_id) {
  ota::v1::Certificate out;
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    pqxx::result r = txn.exec_params(
        absl::StrCat("SELECT ", kCertificateColumns, " FROM certificates WHERE key_id = $1"),
        key_id);
    if (r.empty()) return NotFound("certificate", key_id);
    out = CertificateFromRow(r[0]);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<Page<ota::v1::Certificate>> CertificateStore::List(int32_t page_size,
                                                                  const std::string& token,
                                                                  bool include_revoked) {
  const int limit = EffectivePageSize(page_size);
  Page<ota::v1::Certificate> page;
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    page.items.clear();
    pqxx::result r = txn.exec_params(
        absl::StrCat("SELECT ", kCertificateColumns,
                     " FROM certificates WHERE key_id > $1 AND ($2 OR revoked_unix IS NULL)"
                     " ORDER BY key_id LIMIT $3"),
        token, include_revoked, limit + 1);
    for (const auto& row : r) page.items.push_back(CertificateFromRow(row));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  page.Trim(limit, [](const auto& item) { return item.key_id(); });
  return page;
}

absl::StatusOr<ota::v1::Certificate> CertificateStore::Revoke(const std::string& key_id,
                                                              const std::string& reason,
                                                              int64_t now_unix) {
  ota::v1::Certificate out;
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    pqxx::result r = txn.exec_params(
        absl::StrCat("SELECT ", kCertificateColumns,
                     " FROM certificates WHERE key_id = $1 FOR UPDATE"),
        key_id);
    if (r.empty()) return NotFound("certificate", key_id);
    if (!r[0]["revoked_unix"].is_null()) {
      return absl::FailedPreconditionError(
          absl::StrCat("certificate ", key_id, " is already revoked"));
    }
    pqxx::result u = txn.exec_params(
        absl::StrCat("UPDATE certificates SET revoked_unix = $2, revocation_reason = $3 "
                     "WHERE key_id = $1 RETURNING ", kCertificateColumns),
        key_id, now_unix, reason);
    out = CertificateFromRow(u[0]);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::vector<ota::v1::Certificate>> CertificateStore::All() {
  std::vector<ota::v1::Certificate> out;
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    out.clear();
    for (const auto& row : txn.exec(absl::StrCat("SELECT ", kCertificateColumns,
                                                 " FROM certificates ORDER BY key_id"))) {
      out.push_back(CertificateFromRow(row));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

// ----------------------------------------------------------- AssetStore

absl::StatusOr<ota::v1::Asset> AssetStore::BeginUpload(const std::string& sha256,
                                                       uint64_t size, const std::string& name,
                                                       int64_t now_unix, bool* complete) {
  ota::v1::Asset out;
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    txn.exec_params(
        "INSERT INTO assets (sha256, size, name, created_unix, updated_unix) "
        "VALUES ($1, $2, $3, $4, $4) ON CONFLICT (sha256) DO NOTHING",
        sha256, size, name, now_unix);
    pqxx::result r = txn.exec_params(
        absl::StrCat("SELECT ", kAssetColumns, " FROM assets WHERE sha256 = $1"), sha256);
    out = AssetFromRow(r[0]);
    *complete = r[0]["complete"].as<bool>();
    if (out.size() != size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "asset ", sha256, " is recorded with size ", out.size(), ", not ", size));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status AssetStore::SetReceived(const std::string& sha256, uint64_t bytes,
                                     int64_t now_unix) {
  return db_->Transact([&](pqxx::work& txn) {
    txn.exec_params(
        "UPDATE assets SET bytes_received = $2, updated_unix = $3 WHERE sha256 = $1",
        sha256, bytes, now_unix);
    return absl::OkStatus();
  });
}

absl::StatusOr<ota::v1::Asset> AssetStore::MarkComplete(const std::string& sha256,
                                                        int64_t now_unix) {
  ota::v1::Asset out;
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    pqxx::result r = txn.exec_params(
        absl::StrCat("UPDATE assets SET complete = true, bytes_received = size, "
                     "updated_unix = $2 WHERE sha256 = $1 RETURNING ", kAssetColumns),
        sha256, now_unix);
    if (r.empty()) return NotFound("asset", sha256);
    out = AssetFromRow(r[0]);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<ota::v1::Asset> AssetStore::Get(const std::string& sha256, bool* complete,
                                               uint64_t* bytes_received,
                                               int64_t* updated_unix) {
  ota::v1::Asset out;
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    pqxx::result r = txn.exec_params(
        absl::StrCat("SELECT ", kAssetColumns, " FROM assets WHERE sha256 = $1"), sha256);
    if (r.empty()) return NotFound("asset", sha256);
    out = AssetFromRow(r[0]);
    if (complete) *complete = r[0]["complete"].as<bool>();
    if (bytes_received) *bytes_received = r[0]["bytes_received"].as<uint64_t>();
    if (updated_unix) *updated_unix = r[0]["updated_unix"].as<int64_t>();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<Page<ota::v1::Asset>> AssetStore::List(int32_t page_size,
                                                      const std::string& token) {
  const int limit = EffectivePageSize(page_size);
  Page<ota::v1::Asset> page;
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    page.items.clear();
    pqxx::result r = txn.exec_params(
        absl::StrCat("SELECT ", kAssetColumns,
                     " FROM assets WHERE complete AND sha256 > $1 ORDER BY sha256 LIMIT $2"),
        token, limit + 1);
    for (const auto& row : r) page.items.push_back(AssetFromRow(row));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  page.Trim(limit, [](const auto& item) { return item.sha256(); });
  return page;
}

absl::Status AssetStore::Delete(const std::string& sha256) {
  return db_->Transact([&](pqxx::work& txn) {
    pqxx::result r = txn.exec_params(
        "SELECT sha256 FROM assets WHERE sha256 = $1 FOR UPDATE", sha256);
    if (r.empty()) return NotFound("asset", sha256);
    pqxx::result users = txn.exec_params(
        "SELECT manifest_id FROM manifests WHERE payload_sha256 = $1 LIMIT 1", sha256);
    if (!users.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "asset ", sha256, " is the payload of manifest ", users[0][0].c_str()));
    }
    txn.exec_params("DELETE FROM assets WHERE sha256 = $1", sha256);
    return absl::OkStatus();
  });
}

// -------------------------------------------------------- ManifestStore

absl::Status ManifestStore::Insert(const ota::v1::ManifestRecord& m) {
  std::string key_ids = "{";
  for (int i = 0; i < m.signing_key_ids_size(); ++i) {
    absl::StrAppend(&key_ids, i ? "," : "", m.signing_key_ids(i));  // hex only
  }
  key_ids += "}";
  std::string bytes = m.signed_manifest().SerializeAsString();
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    txn.exec_params(
        "INSERT INTO manifests (manifest_id, signed_manifest, vendor_id, class_id, "
        "sequence_number, payload_sha256, payload_size, version, component, expires_unix, "
        "signing_key_ids, created_unix) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text[], $12)",
        m.manifest_id(), pqxx::binarystring(bytes.data(), bytes.size()), m.vendor_id(),
        m.class_id(), m.manifest().sequence_number(), m.payload_sha256(),
        m.manifest().payload().size(), m.manifest().version(), m.manifest().component(),
        m.manifest().expires_unix(), key_ids, m.created_unix());
    return absl::OkStatus();
  });
  if (s.code() == absl::StatusCode::kAlreadyExists) {
    return absl::AlreadyExistsError(
        absl::StrCat("manifest ", m.manifest_id(), " is already uploaded"));
  }
  if (s.code() == absl::StatusCode::kFailedPrecondition) {
    return absl::FailedPreconditionError(
        absl::StrCat("payload asset ", m.payload_sha256(), " is not uploaded"));
  }
  return s;
}

absl::StatusOr<ota::v1::ManifestRecord> ManifestStore::Get(const std::string& manifest_id) {
  absl::StatusOr<ota::v1::ManifestRecord> out = NotFound("manifest", manifest_id);
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    pqxx::result r = txn.exec_params(
        absl::StrCat("SELECT ", kManifestColumns, " FROM manifests WHERE manifest_id = $1"),
        manifest_id);
    if (r.empty()) return NotFound("manifest", manifest_id);
    out = ManifestFromRow(r[0], /*full=*/true);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<Page<ota::v1::ManifestRecord>> ManifestStore::List(
    const std::string& vendor_id, const std::string& class_id, int32_t page_size,
    const std::string& token) {
  const int limit = EffectivePageSize(page_size);
  Page<ota::v1::ManifestRecord> page;
  absl::Status s = db_->Transact([&](pqxx::work& txn) -> absl::Status {
    page.items.clear();
    pqxx::result r = txn.exec_params(
        absl::StrCat("SELECT ", kManifestColumns,
                     " FROM manifests WHERE manifest_id > $1 AND ($2 = '' OR vendor_id = $2)"
                     " AND ($3 = '' OR class_id = $3) ORDER BY manifest_id LIMIT $4"),
        token, vendor_id, class_id, limit + 1);
    for (const auto& row : r) {
      absl::StatusOr<ota::v1::ManifestRecord> m = ManifestFromRow(row, /*full=*/false);
      if (!m.ok()) return m.status();
      page.items.push_back(*std::move(m));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  page.Trim(limit, [](const auto& item) { return item.manifest_id(); });
  return page;
}

// ---------------------------------------------------------- DeviceStore

absl::StatusOr<ota::v1::Device> DeviceStore::Register(
    const std::string& device_id, const std::string& vendor_id, const std::string& class_id,
    const std::map<std::string, std::string>& assigned, int64_t now_unix) {
  ota::v1::Device out;
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    pqxx::result r = txn.exec_params(
        absl::StrCat("INSERT INTO devices (device_id, vendor_id, class_id, "
                     "assigned_attributes, created_unix) VALUES ($1, $2, $3, $4::jsonb, $5) "
                     "RETURNING ", kDeviceColumns),
        device_id, vendor_id, class_id, AttributesJson(assigned), now_unix);
    out = DeviceFromRow(r[0]);
    return absl::OkStatus();
  });
  if (s.code() == absl::StatusCode::kAlreadyExists) {
    return absl::AlreadyExistsError(absl::StrCat("device ", device_id, " is already registered"));
  }
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<ota::v1::Device> DeviceStore::Get(const std::string& device_id) {
  ota::v1::Device out;
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    pqxx::result r = txn.exec_params(
        absl::StrCat("SELECT ", kDeviceColumns, " FROM devices WHERE device_id = $1"),
        device_id);
    if (r.empty()) return NotFound("device", device_id);
    out = DeviceFromRow(r[0]);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<Page<ota::v1::Device>> DeviceStore::List(const std::string& where_sql,
                                                        const std::vector<std::string>& params,
                                                        bool online_only, int32_t page_size,
                                                        const std::string& token,
                                                        int64_t* total_size) {
  const int limit = EffectivePageSize(page_size);
  Page<ota::v1::Device> page;
  std::vector<std::string> all = params;
  const size_t n = all.size();
  all.push_back(token);
  all.push_back(absl::StrCat(limit + 1));
  const std::string where = absl::StrCat("(", where_sql.empty() ? "TRUE" : where_sql, ")",
                                         online_only ? " AND online" : "");
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    page.items.clear();
    pqxx::result r = txn.exec_params(
        absl::StrCat("SELECT ", kDeviceColumns, " FROM devices WHERE ", where,
                     " AND device_id > $", n + 1, " ORDER BY device_id LIMIT $", n + 2,
                     "::bigint"),
        pqxx::prepare::make_dynamic_params(all));
    for (const auto& row : r) page.items.push_back(DeviceFromRow(row));
    if (total_size != nullptr && token.empty()) {
      *total_size = txn.exec_params(absl::StrCat("SELECT count(*) FROM devices WHERE ", where),
                                    pqxx::prepare::make_dynamic_params(params))[0][0]
                        .as<int64_t>();
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  page.Trim(limit, [](const auto& item) { return item.device_id(); });
  return page;
}

absl::StatusOr<ota::v1::Device> DeviceStore::UpdateAttributes(
    const std::string& device_id, const std::map<std::string, std::string>& set,
    const std::vector<std::string>& remove) {
  ota::v1::Device out;
  std::string remove_array = "{";
  for (size_t i = 0; i < remove.size(); ++i) {
    absl::StrAppend(&remove_array, i ? "," : "", "\"", remove[i], "\"");
  }
  remove_array += "}";
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    pqxx::result r = txn.exec_params(
        absl::StrCat("UPDATE devices SET assigned_attributes = "
                     "(assigned_attributes - $3::text[]) || $2::jsonb "
                     "WHERE device_id = $1 RETURNING ", kDeviceColumns),
        device_id, AttributesJson(set), remove_array);
    if (r.empty()) return NotFound("device", device_id);
    out = DeviceFromRow(r[0]);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status DeviceStore::Delete(const std::string& device_id) {
  return db_->Transact([&](pqxx::work& txn) {
    pqxx::result r = txn.exec_params("DELETE FROM devices WHERE device_id = $1 RETURNING 1",
                                     device_id);
    if (r.empty()) return NotFound("device", device_id);
    return absl::OkStatus();
  });
}

absl::StatusOr<ota::v1::Device> DeviceStore::Connected(const DeviceHello& h,
                                                       int64_t now_unix) {
  ota::v1::Device out;
  absl::Status s = db_->Transact([&](pqxx::work& txn) -> absl::Status {
    // A device pre-registered for a vendor and class must connect as one.
    pqxx::result known = txn.exec_params(
        "SELECT vendor_id, class_id FROM devices WHERE device_id = $1 FOR UPDATE", h.device_id);
    if (!known.empty()) {
      const std::string vendor = known[0][0].c_str(), klass = known[0][1].c_str();
      if ((!vendor.empty() && vendor != h.vendor_id) || (!klass.empty() && klass != h.class_id)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "device ", h.device_id, " is registered as vendor ", vendor, " class ", klass,
            "; it connected as vendor ", h.vendor_id, " class ", h.class_id));
      }
    }
    pqxx::result r = txn.exec_params(
        absl::StrCat(
            "INSERT INTO devices (device_id, vendor_id, class_id, installed_slot, "
            "installed_sha256, installed_sequence, installed_version, installed_component, "
            "installed_trial, reported_attributes, client_version, key_list_version, "
            "slot_size, online, first_seen_unix, last_seen_unix, created_unix, "
            "installed_report_seq) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13, true, "
            "$14, $14, $14, $15) "
            "ON CONFLICT (device_id) DO UPDATE SET vendor_id = EXCLUDED.vendor_id, "
            "class_id = EXCLUDED.class_id, installed_slot = EXCLUDED.installed_slot, "
            "installed_sha256 = EXCLUDED.installed_sha256, "
            "installed_sequence = EXCLUDED.installed_sequence, "
            "installed_version = EXCLUDED.installed_version, "
            "installed_component = EXCLUDED.installed_component, "
            "installed_trial = EXCLUDED.installed_trial, "
            "reported_attributes = EXCLUDED.reported_attributes, "
            "client_version = EXCLUDED.client_version, "
            "key_list_version = EXCLUDED.key_list_version, slot_size = EXCLUDED.slot_size, "
            "online = true, last_seen_unix = EXCLUDED.last_seen_unix, "
            "installed_report_seq = EXCLUDED.installed_report_seq, "
            "first_seen_unix = CASE WHEN devices.first_seen_unix = 0 "
            "THEN EXCLUDED.first_seen_unix ELSE devices.first_seen_unix END "
            "RETURNING ", kDeviceColumns),
        h.device_id, h.vendor_id, h.class_id, h.installed.active_slot(),
        common::HexEncode(h.installed.image_sha256()), h.installed.sequence_number(),
        h.installed.version(), h.installed.component(), h.installed.trial(),
        AttributesJson(h.attributes), h.client_version, h.key_list_version, h.slot_size,
        now_unix, h.report_seq);
    out = DeviceFromRow(r[0]);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status DeviceStore::Disconnected(const std::string& device_id, int64_t now_unix) {
  return db_->Transact([&](pqxx::work& txn) {
    txn.exec_params(
        "UPDATE devices SET online = false, last_seen_unix = $2 WHERE device_id = $1",
        device_id, now_unix);
    return absl::OkStatus();
  });
}

absl::StatusOr<uint64_t> DeviceStore::StoreReports(
    const std::string& device_id, const std::vector<ota::v1::StatusReport>& reports,
    int64_t now_ms, const std::function<absl::Status(pqxx::work&)>& also) {
  uint64_t acked = 0;
  absl::Status s = db_->Transact([&](pqxx::work& txn) {
    pqxx::result d = txn.exec_params(
        "SELECT 1 FROM devices WHERE device_id = $1 FOR UPDATE", device_id);
    if (d.empty()) return NotFound("device", device_id);
    const ota::v1::StatusReport* newest_installed = nullptr;
    for (const ota::v1::StatusReport& r : reports) {
      const ota::v1::InstalledImage& i = r.installed();
      txn.exec_params(
          "INSERT INTO status_reports (device_id, seq, deployment_id, state, reason, message, "
          "bytes_done, bytes_total, device_time_ms, received_ms, installed_slot, "
          "installed_sha256, installed_sequence) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
          "ON CONFLICT (device_id, seq) DO NOTHING",
          device_id, r.seq(), r.deployment_id(), static_cast<int>(r.state()),
          static_cast<int>(r.reason()), r.message(), r.bytes_done(), r.bytes_total(),
          r.time_ms(), now_ms, i.active_slot(), common::HexEncode(i.image_sha256()),
          i.sequence_number());
      if (r.has_installed()) newest_installed = &r;
    }
    if (newest_installed != nullptr) {
      const ota::v1::InstalledImage& i = newest_installed->installed();
      // Only a report made after the state the row holds may replace it.
      txn.exec_params(
          "UPDATE devices SET installed_slot = $2, installed_sha256 = $3, "
          "installed_sequence = $4, installed_version = $5, installed_trial = $6, "
          "installed_report_seq = $7 WHERE device_id = $1 AND installed_report_seq < $7",
          device_id, i.active_slot(), common::HexEncode(i.image_sha256()), i.sequence_number(),
          i.version(), i.trial(), newest_installed->seq());
    }
    if (also) {
      if (absl::Status s = also(txn); !s.ok()) return s;
    }
    acked = txn.exec_params("SELECT coalesce(max(seq), 0) FROM status_reports "
                            "WHERE device_id = $1", device_id)[0][0].as<uint64_t>();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return acked;
}

std::string PgTextArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

namespace {

template <typename T>
std::string PgNumberArray(const std::vector<T>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) absl::StrAppend(&out, i ? "," : "", values[i]);
  out += '}';
  return out;
}

std::string PgBoolArray(const std::vector<bool>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) absl::StrAppend(&out, i ? "," : "", values[i] ? "t" : "f");
  out += '}';
  return out;
}

}  // namespace

namespace {

// Runs `sql` as the prepared statement `name` (prepared on first use on
// each connection): a batch runs the same few statements again and again.
template <typename... Args>
pqxx::result ExecPrepared(pqxx::work& txn, const char* name, const char* sql, Args&&... args) {
  txn.conn().prepare(name, sql);
  return txn.exec_prepared(name, std::forward<Args>(args)...);
}

}  // namespace

absl::Status DeviceStore::StoreReportBatch(
    std::vector<DeviceReports>* items,
    const std::function<absl::Status(pqxx::work&, const std::vector<const DeviceReports*>&)>&
        also) {
  std::set<std::string> ids;
  for (const DeviceReports& item : *items) ids.insert(item.device_id);
  const std::string id_array = PgTextArray(std::vector<std::string>(ids.begin(), ids.end()));
  return db_->Transact([&](pqxx::work& txn) -> absl::Status {
    // Locked in id order, so two batches never wait on each other in a cycle.
    std::set<std::string> known;
    for (const auto& row : ExecPrepared(
             txn, "report_batch_lock",
             "SELECT device_id FROM devices WHERE device_id = ANY($1::text[]) "
             "ORDER BY device_id FOR UPDATE",
             id_array)) {
      known.insert(row[0].c_str());
    }
    std::vector<DeviceReports*> stored;
    // Columns of every report of known devices, and per device the newest
    // report that carries an installed image.
    std::vector<std::string> device, deployment, message, slot, sha;
    std::vector<uint64_t> seq, bytes_done, bytes_total, sequence;
    std::vector<int> state, reason;
    std::vector<int64_t> device_time, received;
    std::unordered_map<std::string, const ota::v1::StatusReport*> newest;
    for (DeviceReports& item : *items) {
      if (known.count(item.device_id) == 0) {
        item.acked = NotFound("device", item.device_id);
        continue;
      }
      stored.push_back(&item);
      for (const ota::v1::StatusReport& r : item.reports) {
        const ota::v1::InstalledImage& i = r.installed();
        device.push_back(item.device_id);
        seq.push_back(r.seq());
        deployment.push_back(r.deployment_id());
        state.push_back(static_cast<int>(r.state()));
        reason.push_back(static_cast<int>(r.reason()));
        message.push_back(r.message());
        bytes_done.push_back(r.bytes_done());
        bytes_total.push_back(r.bytes_total());
        device_time.push_back(r.time_ms());
        received.push_back(item.now_ms);
        slot.push_back(i.active_slot());
        sha.push_back(common::HexEncode(i.image_sha256()));
        sequence.push_back(i.sequence_number());
        if (r.has_installed()) {
          const ota::v1::StatusReport*& n = newest[item.device_id];
          if (n == nullptr || n->seq() < r.seq()) n = &r;
        }
      }
    }
    if (!device.empty()) {
      ExecPrepared(
          txn, "report_batch_insert",
          "INSERT INTO status_reports (device_id, seq, deployment_id, state, reason, message, "
          "bytes_done, bytes_total, device_time_ms, received_ms, installed_slot, "
          "installed_sha256, installed_sequence) "
          "SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::int[], $5::int[], "
          "$6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::text[], "
          "$12::text[], $13::bigint[]) "
          "ON CONFLICT (device_id, seq) DO NOTHING",
          PgTextArray(device), PgNumberArray(seq), PgTextArray(deployment), PgNumberArray(state),
          PgNumberArray(reason), PgTextArray(message), PgNumberArray(bytes_done),
          PgNumberArray(bytes_total), PgNumberArray(device_time), PgNumberArray(received),
          PgTextArray(slot), PgTextArray(sha), PgNumberArray(sequence));
    }
    if (!newest.empty()) {
      std::vector<std::string> d, s, h, v;
      std::vector<uint64_t> n, q;
      std::vector<bool> t;
      for (const auto& [id, r] : newest) {
        const ota::v1::InstalledImage& i = r->installed();
        d.push_back(id);
        s.push_back(i.active_slot());
        h.push_back(common::HexEncode(i.image_sha256()));
        n.push_back(i.sequence_number());
        v.push_back(i.version());
        t.push_back(i.trial());
        q.push_back(r->seq());
      }
      // Only a report made after the state the row holds may replace it.
      ExecPrepared(
          txn, "report_batch_installed",
          "UPDATE devices SET installed_slot = u.slot, installed_sha256 = u.sha, "
          "installed_sequence = u.sequence, installed_version = u.version, "
          "installed_trial = u.trial, installed_report_seq = u.seq "
          "FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], "
          "$6::boolean[], $7::bigint[]) AS u(device_id, slot, sha, sequence, version, trial, seq) "
          "WHERE devices.device_id = u.device_id AND devices.installed_report_seq < u.seq",
          PgTextArray(d), PgTextArray(s), PgTextArray(h), PgNumberArray(n), PgTextArray(v),
          PgBoolArray(t), PgNumberArray(q));
    }
    if (also && !stored.empty()) {
      if (absl::Status s = also(txn, {stored.begin(), stored.end()}); !s.ok()) return s;
    }
    std::unordered_map<std::string, uint64_t> acked;
    if (!stored.empty()) {
      // One backward step down the primary key per device: max(seq) with
      // GROUP BY would read every report the device ever made.
      for (const auto& row : ExecPrepared(
               txn, "report_batch_acked",
               "SELECT d.id, (SELECT r.seq FROM status_reports r WHERE r.device_id = d.id "
               "ORDER BY r.seq DESC LIMIT 1) FROM unnest($1::text[]) AS d(id)",
               id_array)) {
        if (!row[1].is_null()) acked[row[0].c_str()] = row[1].as<uint64_t>();
      }
    }
    for (DeviceReports* item : stored) item->acked = acked[item->device_id];
    return absl::OkStatus();
  });
}

}  // namespace ota::server
