#include "tools/ota_manifest/commands.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <ctime>
#include <functional>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/base/file.h"
#include "common/crypto/bytes.h"
#include "common/crypto/ecdsa.h"
#include "common/crypto/sha256.h"
#include "common/crypto/x509.h"
#include "common/manifest/key_list.h"
#include "common/manifest/manifest.h"
#include "common/manifest/payload_digest.h"
#include "common/manifest/policy.h"
#include "common/manifest/uuid.h"
#include "common/manifest/verifier.h"
#include "common/status/reason.h"
#include "tools/ota_manifest/input.pb.h"

namespace ota::tools {
namespace {

using common::HexEncode;
using common::ReasonName;
using common::ReasonOf;

constexpr char kEncryptionMode[] = "none-ecc-secp256r1-sha256";
constexpr char kDefaultsFile[] = ".ota_manifest.json";
constexpr size_t kMaxJsonSize = 1 << 20;

int64_t Now(int64_t fixed) {
  return fixed != 0 ? fixed : static_cast<int64_t>(std::time(nullptr));
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string Resolve(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir == ".") return path;
  return absl::StrCat(base_dir, "/", path);
}

// Exit code for a failed file access: a missing input is the user's
// mistake, anything else an I/O failure.
int IoExit(const absl::Status& s) {
  return s.code() == absl::StatusCode::kNotFound ? kExitUsage : kExitIo;
}

template <typename Message>
absl::Status ParseJsonFile(const std::string& path, Message* message) {
  absl::StatusOr<std::string> text = common::ReadFile(path, kMaxJsonSize);
  if (!text.ok()) return text.status();
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(*text, message, options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", std::string(status.message())));
  }
  return absl::OkStatus();
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = false;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

// Defaults file: an explicit path must exist; the implicit one may not.
absl::StatusOr<ota::tools::Defaults> LoadDefaults(const std::string& explicit_path,
                                                  std::string* loaded_from) {
  ota::tools::Defaults defaults;
  std::string path = explicit_path.empty() ? kDefaultsFile : explicit_path;
  if (explicit_path.empty() && !common::PathExists(path)) return defaults;
  if (absl::Status s = ParseJsonFile(path, &defaults); !s.ok()) return s;
  *loaded_from = path;
  return defaults;
}

// ---------------------------------------------------------------- init

std::string CArray(absl::string_view name, absl::string_view bytes) {
  std::string out = absl::StrCat("const uint8_t ", name, "[", bytes.size(), "] = {");
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i % 12 == 0) out += "\n   ";
    absl::StrAppend(&out, " 0x", HexEncode(bytes.substr(i, 1)), ",");
  }
  out += "\n};\n";
  return out;
}

std::string DefaultResourcesC(const InitOptions& o, absl::string_view vendor,
                              absl::string_view klass,
                              const common::Certificate& cert,
                              const std::string& key_id) {
  return absl::StrCat(
      "// Update resources for devices of ", o.model, " by ", o.domain, ".\n",
      "// Made by `ota-manifest init`. A device built with these trusts\n",
      "// manifests signed by the update key with id\n// ", key_id, ".\n",
      "#include <stdint.h>\n\n",
      "// vendor_id ", common::UuidToString(vendor), "\n",
      CArray("arm_uc_vendor_id", vendor), "\n",
      "// class_id ", common::UuidToString(klass), "\n",
      CArray("arm_uc_class_id", klass), "\n",
      "// The update certificate (DER), ", cert.subject(), "\n",
      CArray("arm_uc_default_certificate", cert.der()),
      "const uint32_t arm_uc_default_certificate_size = sizeof(arm_uc_default_certificate);\n\n",
      "// SHA-256 of the certificate\n",
      CArray("arm_uc_default_certificate_fingerprint", cert.Fingerprint()));
}

}  // namespace

int RunInit(const InitOptions& o, std::ostream& out, std::ostream& err) {
  if (o.domain.empty() || o.model.empty()) {
    err << "init needs -d <company domain> and -m <product model>\n";
    return kExitUsage;
  }
  if (o.validity_days <= 0) {
    err << "--validity-days must be positive\n";
    return kExitUsage;
  }
  const std::string cert_dir = Resolve(o.dir, "update-certificates");
  const std::string key_path = cert_dir + "/default.key.pem";
  const std::string cert_path = cert_dir + "/default.der";
  if (common::PathExists(key_path) && !o.force) {
    err << key_path << " exists; pass --force to replace the update key "
        << "(devices that trust the old certificate refuse manifests signed "
        << "by a new key)\n";
    return kExitUsage;
  }
  const std::string vendor = common::Uuid5(common::kDnsNamespaceUuid, o.domain);
  const std::string klass = common::Uuid5(vendor, o.model);

  absl::StatusOr<common::EcdsaP256PrivateKey> key =
      common::EcdsaP256PrivateKey::Generate();
  if (!key.ok()) {
    err << key.status().message() << "\n";
    return kExitIo;
  }
  const int64_t now = Now(o.now_unix);
  common::CertificateSpec spec;
  spec.common_name = absl::StrCat(o.model, " update key");
  spec.organization = o.domain;
  spec.not_before_unix = now - 3600;
  spec.not_after_unix = now + int64_t{o.validity_days} * 86400;
  absl::StatusOr<common::Certificate> cert =
      common::Certificate::SelfSigned(spec, *key);
  if (!cert.ok()) {
    err << cert.status().message() << "\n";
    return kExitIo;
  }
  const std::string key_id = key->PublicKey().KeyId();

  ota::tools::Defaults defaults;
  defaults.set_vendor_domain(o.domain);
  defaults.set_model_name(o.model);
  defaults.set_vendor_id(common::UuidToString(vendor));
  defaults.set_class_id(common::UuidToString(klass));
  defaults.set_private_key("update-certificates/default.key.pem");
  defaults.set_certificate("update-certificates/default.der");

  const std::string resources_path = Resolve(o.dir, "update_default_resources.c");
  const std::string defaults_path = Resolve(o.dir, kDefaultsFile);
  absl::Status s = common::MakeDirs(cert_dir);
  if (s.ok()) s = common::WriteFileAtomically(key_path, key->ToPem(), 0600);
  if (s.ok()) s = common::WriteFileAtomically(cert_path, cert->der(), 0644);
  if (s.ok()) {
    s = common::WriteFileAtomically(
        resources_path, DefaultResourcesC(o, vendor, klass, *cert, key_id));
  }
  if (s.ok()) s = common::WriteFileAtomically(defaults_path, ToJson(defaults));
  if (!s.ok()) {
    err << s.message() << "\n";
    return kExitIo;
  }
  out << "vendor_id   " << common::UuidToString(vendor) << "  (" << o.domain << ")\n"
      << "class_id    " << common::UuidToString(klass) << "  (" << o.model << ")\n"
      << "key_id      " << key_id << "\n"
      << "wrote       " << key_path << " (private, mode 0600)\n"
      << "            " << cert_path << " (" << cert->subject() << ", valid "
      << o.validity_days << " days)\n"
      << "            " << resources_path << "\n"
      << "            " << defaults_path << "\n";
  return kExitOk;
}

// -------------------------------------------------------------- create

namespace {

// An input error that names the JSON field.
struct FieldError {
  std::string field;
  std::string problem;
};

absl::StatusOr<std::string> UuidField(const std::string& value,
                                      const std::string& fallback,
                                      absl::string_view field,
                                      FieldError* error) {
  const std::string& text = value.empty() ? fallback : value;
  if (text.empty()) {
    *error = {std::string(field), "is missing (and no defaults file gives it)"};
    return absl::InvalidArgumentError("");
  }
  absl::StatusOr<std::string> uuid = common::ParseUuid(text);
  if (!uuid.ok()) {
    *error = {std::string(field), std::string(uuid.status().message())};
    return uuid.status();
  }
  return uuid;
}

}  // namespace

int RunCreate(const CreateOptions& o, std::ostream& out, std::ostream& err) {
  if (o.input.empty() || o.output.empty()) {
    err << "create needs -i <input.json> and -o <manifest file>\n";
    return kExitUsage;
  }
  ota::tools::ManifestInput in;
  if (absl::Status s = ParseJsonFile(o.input, &in); !s.ok()) {
    err << s.message() << "\n";
    return s.code() == absl::StatusCode::kInvalidArgument ? kExitUsage : IoExit(s);
  }
  std::string defaults_path;
  absl::StatusOr<ota::tools::Defaults> defaults = LoadDefaults(o.defaults, &defaults_path);
  if (!defaults.ok()) {
    err << defaults.status().message() << "\n";
    return defaults.status().code() == absl::StatusCode::kInvalidArgument
               ? kExitUsage
               : IoExit(defaults.status());
  }
  const std::string defaults_dir = defaults_path.empty() ? "." : DirOf(defaults_path);

  FieldError fe;
  auto fail = [&](const FieldError& e) {
    err << o.input << ": field " << e.field << " " << e.problem << "\n";
    return kExitUsage;
  };
  if (in.encryption_mode().empty()) {
    return fail({"encryptionMode", absl::StrCat("is missing (want \"", kEncryptionMode, "\")")});
  }
  if (in.encryption_mode() != kEncryptionMode) {
    return fail({"encryptionMode", absl::StrCat("is \"", in.encryption_mode(),
                                                "\"; only \"", kEncryptionMode,
                                                "\" is supported")});
  }
  absl::StatusOr<std::string> vendor =
      UuidField(in.vendor_id(), defaults->vendor_id(), "vendorId", &fe);
  if (!vendor.ok()) return fail(fe);
  absl::StatusOr<std::string> klass =
      UuidField(in.class_id(), defaults->class_id(), "classId", &fe);
  if (!klass.ok()) return fail(fe);
  if (in.payload_uri().empty()) return fail({"payloadUri", "is missing"});
  if (in.payload_file().empty()) return fail({"payloadFile", "is missing"});

  ota::v1::Manifest m;
  m.set_format_version(common::kManifestFormatVersion);
  const int64_t now = Now(o.now_unix);
  m.set_created_unix(now);
  m.set_sequence_number(in.sequence_number() != 0 ? in.sequence_number()
                                                  : static_cast<uint64_t>(now));
  m.set_vendor_id(*vendor);
  m.set_class_id(*klass);
  for (const std::string& id : in.device_ids()) m.add_device_ids(id);
  m.set_description(in.description());
  m.set_component(in.component());
  m.set_version(in.version());
  m.set_installed_size(in.installed_size());
  if (!in.expires_at().empty()) {
    absl::Time t;
    std::string parse_error;
    if (!absl::ParseTime(absl::RFC3339_full, in.expires_at(), &t, &parse_error)) {
      return fail({"expiresAt", absl::StrCat("\"", in.expires_at(),
                                             "\" is not an RFC 3339 time: ",
                                             parse_error)});
    }
    m.set_expires_unix(absl::ToUnixSeconds(t));
    if (m.expires_unix() <= now) {
      return fail({"expiresAt", absl::StrCat("\"", in.expires_at(), "\" is in the past")});
    }
  }
  if (in.has_downgrade()) {
    if (in.downgrade().max_installed_sequence() == 0) {
      return fail({"downgrade.maxInstalledSequence", "is missing or zero"});
    }
    m.mutable_downgrade()->set_max_installed_sequence(
        in.downgrade().max_installed_sequence());
    m.mutable_downgrade()->set_reason(in.downgrade().reason());
  }

  // Certificates: those listed, or the defaults file's own.
  std::vector<std::pair<std::string, std::string>> certs;  // file, uri
  for (int i = 0; i < in.certificates_size(); ++i) {
    if (in.certificates(i).file().empty()) {
      return fail({absl::StrCat("certificates[", i, "].file"), "is missing"});
    }
    certs.emplace_back(in.certificates(i).file(), in.certificates(i).uri());
  }
  if (certs.empty() && !defaults->certificate().empty()) {
    certs.emplace_back(Resolve(defaults_dir, defaults->certificate()), "");
  }
  for (size_t i = 0; i < certs.size(); ++i) {
    absl::StatusOr<std::string> bytes = common::ReadFile(certs[i].first);
    if (!bytes.ok()) {
      err << "certificates[" << i << "].file: " << bytes.status().message() << "\n";
      return IoExit(bytes.status());
    }
    absl::StatusOr<common::Certificate> cert = common::Certificate::Parse(*bytes);
    if (!cert.ok()) {
      return fail({absl::StrCat("certificates[", i, "].file"),
                   std::string(cert.status().message())});
    }
    ota::v1::CertificateReference* ref = m.add_certificates();
    ref->set_fingerprint(cert->Fingerprint());
    ref->set_uri(certs[i].second);
  }

  ota::v1::Payload* payload = m.mutable_payload();
  payload->add_uris(in.payload_uri());
  for (const std::string& mirror : in.mirror_uris()) payload->add_uris(mirror);
  if (in.payload_format().empty() || in.payload_format() == "full") {
    payload->set_format(ota::v1::PAYLOAD_FORMAT_FULL);
    if (!in.precursor_file().empty() || !in.precursor_sha256().empty()) {
      return fail({"precursorFile", "is set but payloadFormat is \"full\""});
    }
  } else if (in.payload_format() == "zstd-delta") {
    payload->set_format(ota::v1::PAYLOAD_FORMAT_ZSTD_DELTA);
    if (!in.precursor_sha256().empty()) {
      absl::StatusOr<std::string> raw = common::HexDecode(in.precursor_sha256());
      if (!raw.ok() || raw->size() != common::kDigestSize) {
        return fail({"precursorSha256", "is not 64 hex digits"});
      }
      payload->set_precursor_sha256(*raw);
    } else if (!in.precursor_file().empty()) {
      absl::StatusOr<common::PayloadDigests> pre =
          common::DigestFile(in.precursor_file(), common::kDefaultChunkSize);
      if (!pre.ok()) {
        err << "precursorFile: " << pre.status().message() << "\n";
        return IoExit(pre.status());
      }
      payload->set_precursor_sha256(pre->sha256);
    } else {
      return fail({"precursorFile", "is missing (a delta needs precursorFile or precursorSha256)"});
    }
  } else {
    return fail({"payloadFormat", absl::StrCat("is \"", in.payload_format(),
                                               "\"; want \"full\" or \"zstd-delta\"")});
  }
  uint32_t chunk = in.chunk_size() != 0 ? in.chunk_size() : common::kDefaultChunkSize;
  if (chunk < common::kMinChunkSize || chunk > common::kMaxChunkSize) {
    return fail({"chunkSize", absl::StrCat(chunk, " is outside ", common::kMinChunkSize,
                                           "..", common::kMaxChunkSize)});
  }
  absl::StatusOr<common::PayloadDigests> digests =
      common::DigestFile(in.payload_file(), chunk);
  if (!digests.ok()) {
    err << "payloadFile: " << digests.status().message() << "\n";
    return IoExit(digests.status());
  }
  if (digests->size == 0) return fail({"payloadFile", "is empty"});
  common::SetPayloadDigests(*digests, payload);

  std::string key_path = o.key;
  if (key_path.empty()) key_path = in.private_key();
  if (key_path.empty() && !defaults->private_key().empty()) {
    key_path = Resolve(defaults_dir, defaults->private_key());
  }
  if (key_path.empty()) {
    return fail({"privateKey", "is missing (pass -k, or run `ota-manifest init` first)"});
  }
  absl::StatusOr<std::string> pem = common::ReadFile(key_path, 1 << 16);
  if (!pem.ok()) {
    err << "private key: " << pem.status().message() << "\n";
    return IoExit(pem.status());
  }
  absl::StatusOr<common::EcdsaP256PrivateKey> key =
      common::EcdsaP256PrivateKey::FromPem(*pem);
  if (!key.ok()) {
    err << key_path << ": " << key.status().message() << "\n";
    return kExitUsage;
  }
  absl::StatusOr<ota::v1::SignedManifest> sm = common::SignManifest(m, {&*key});
  if (!sm.ok()) {
    err << "manifest refused: " << ReasonName(ReasonOf(sm.status())) << ": "
        << sm.status().message() << "\n";
    return kExitUsage;
  }
  std::string bytes = sm->SerializeAsString();
  if (absl::Status s = common::WriteFileAtomically(o.output, bytes); !s.ok()) {
    err << s.message() << "\n";
    return kExitIo;
  }
  out << "wrote " << o.output << " (" << bytes.size() << " bytes)\n"
      << "  sequence " << m.sequence_number() << ", payload " << digests->size
      << " bytes in " << digests->chunks.size() << " chunk(s), sha256 "
      << HexEncode(digests->sha256) << "\n"
      << "  signed by key " << key->PublicKey().KeyId() << "\n";
  return kExitOk;
}

// -------------------------------------------------------------- verify

int RunVerify(const VerifyOptions& o, std::ostream& out, std::ostream& err) {
  if (o.manifest.empty()) {
    err << "verify needs -m <manifest file>\n";
    return kExitUsage;
  }
  std::string defaults_path;
  absl::StatusOr<ota::tools::Defaults> defaults = LoadDefaults(o.defaults, &defaults_path);
  if (!defaults.ok()) {
    err << defaults.status().message() << "\n";
    return kExitUsage;
  }
  std::vector<std::string> cert_files = o.certificates;
  if (cert_files.empty() && !defaults->certificate().empty()) {
    cert_files.push_back(Resolve(DirOf(defaults_path), defaults->certificate()));
  }
  if (cert_files.empty()) {
    err << "verify needs -c <update certificate> (or a defaults file from init)\n";
    return kExitUsage;
  }
  common::TrustStore trust;
  trust.set_threshold(o.threshold);
  for (const std::string& file : cert_files) {
    absl::StatusOr<std::string> bytes = common::ReadFile(file);
    if (!bytes.ok()) {
      err << bytes.status().message() << "\n";
      return IoExit(bytes.status());
    }
    absl::StatusOr<common::Certificate> cert = common::Certificate::Parse(*bytes);
    absl::Status s = cert.ok() ? trust.AddCertificate(*cert) : cert.status();
    if (!s.ok()) {
      err << file << ": " << s.message() << "\n";
      return kExitUsage;
    }
  }
  // Read one byte past the limit so the parser, not the reader, reports an
  // oversized manifest with its reason.
  absl::StatusOr<std::string> bytes =
      common::ReadFile(o.manifest, common::kMaxSignedManifestSize + 1);
  if (!bytes.ok()) {
    if (bytes.status().code() == absl::StatusCode::kFailedPrecondition) {
      bytes = std::string(common::kMaxSignedManifestSize + 1, '\0');
    } else {
      err << bytes.status().message() << "\n";
      return IoExit(bytes.status());
    }
  }
  auto reject = [&](const absl::Status& s) {
    out << "REJECTED " << ReasonName(ReasonOf(s)) << ": " << s.message() << "\n";
    return kExitRejected;
  };
  const int64_t now = Now(o.now_unix);
  absl::StatusOr<common::VerifiedManifest> v = common::VerifyManifest(*bytes, trust, now);
  if (!v.ok()) return reject(v.status());
  const ota::v1::Manifest& m = v->manifest;
  out << "signature   OK, by key(s) " << absl::StrJoin(v->key_ids, ", ") << "\n";

  if (!o.payload.empty()) {
    absl::StatusOr<common::PayloadDigests> d =
        common::DigestFile(o.payload, m.payload().chunk_size());
    if (!d.ok()) {
      err << d.status().message() << "\n";
      return IoExit(d.status());
    }
    if (absl::Status s = common::CheckPayloadDigests(m.payload(), *d); !s.ok()) {
      return reject(s);
    }
    out << "payload     OK, " << d->size << " bytes match sha256 and "
        << d->chunks.size() << " chunk digest(s)\n";
  }

  std::string vendor_text = !o.vendor_id.empty() ? o.vendor_id : defaults->vendor_id();
  std::string class_text = !o.class_id.empty() ? o.class_id : defaults->class_id();
  if (!vendor_text.empty() && !class_text.empty()) {
    common::DeviceState device;
    absl::StatusOr<std::string> vendor = common::ParseUuid(vendor_text);
    absl::StatusOr<std::string> klass = common::ParseUuid(class_text);
    if (!vendor.ok() || !klass.ok()) {
      err << "--vendor-id/--class-id: "
          << (!vendor.ok() ? vendor.status() : klass.status()).message() << "\n";
      return kExitUsage;
    }
    device.vendor_id = *vendor;
    device.class_id = *klass;
    device.device_id = o.device_id;
    device.installed_sequence = o.installed_sequence;
    device.slot_size = o.slot_size;
    if (!o.installed_sha256.empty()) {
      absl::StatusOr<std::string> raw = common::HexDecode(o.installed_sha256);
      if (!raw.ok() || raw->size() != common::kDigestSize) {
        err << "--installed-sha256 is not 64 hex digits\n";
        return kExitUsage;
      }
      device.installed_sha256 = *raw;
    }
    if (absl::Status s = common::CheckApplicable(m, device, now); !s.ok()) {
      return reject(s);
    }
    out << "applicable  OK, for vendor " << common::UuidToString(*vendor)
        << " class " << common::UuidToString(*klass) << " over sequence "
        << o.installed_sequence << "\n";
  }
  out << "ACCEPTED sequence " << m.sequence_number() << "\n";
  return kExitOk;
}

// ---------------------------------------------------------------- show

namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

void Put(Struct* s, const std::string& key, const std::string& v) {
  (*s->mutable_fields())[key].set_string_value(v);
}
void PutNumber(Struct* s, const std::string& key, double v) {
  (*s->mutable_fields())[key].set_number_value(v);
}
void PutList(Struct* s, const std::string& key, const std::vector<std::string>& items) {
  auto* list = (*s->mutable_fields())[key].mutable_list_value();
  for (const std::string& i : items) list->add_values()->set_string_value(i);
}

std::string TimeText(int64_t unix) {
  if (unix == 0) return "never";
  return absl::FormatTime(absl::RFC3339_sec, absl::FromUnixSeconds(unix),
                          absl::UTCTimeZone());
}

}  // namespace

int RunShow(const ShowOptions& o, std::ostream& out, std::ostream& err) {
  if (o.manifest.empty()) {
    err << "show needs -m <manifest file>\n";
    return kExitUsage;
  }
  absl::StatusOr<std::string> bytes =
      common::ReadFile(o.manifest, common::kMaxSignedManifestSize);
  if (!bytes.ok()) {
    err << bytes.status().message() << "\n";
    return IoExit(bytes.status());
  }
  absl::StatusOr<ota::v1::SignedManifest> sm = common::ParseSignedManifest(*bytes);
  if (!sm.ok()) {
    err << ReasonName(ReasonOf(sm.status())) << ": " << sm.status().message() << "\n";
    return kExitRejected;
  }
  ota::v1::Manifest m;
  if (!m.ParseFromString(sm->manifest())) {
    err << "REASON_MALFORMED: the signed bytes are not a valid Manifest encoding\n";
    return kExitRejected;
  }
  absl::Status valid = common::ValidateManifestFields(m);
  const ota::v1::Payload& p = m.payload();
  std::vector<std::string> keys, uris, devices, certs;
  for (const auto& s : sm->signatures()) keys.push_back(s.key_id());
  for (const auto& u : p.uris()) uris.push_back(u);
  for (const auto& d : m.device_ids()) devices.push_back(d);
  for (const auto& c : m.certificates()) {
    certs.push_back(c.uri().empty() ? HexEncode(c.fingerprint())
                                    : absl::StrCat(HexEncode(c.fingerprint()), " ", c.uri()));
  }
  const char* format = p.format() == ota::v1::PAYLOAD_FORMAT_ZSTD_DELTA ? "zstd-delta"
                       : p.format() == ota::v1::PAYLOAD_FORMAT_FULL     ? "full"
                                                                        : "unknown";
  if (o.json) {
    Struct s;
    PutNumber(&s, "formatVersion", m.format_version());
    Put(&s, "sequenceNumber", absl::StrCat(m.sequence_number()));
    Put(&s, "vendorId", common::UuidToString(m.vendor_id()));
    Put(&s, "classId", common::UuidToString(m.class_id()));
    PutList(&s, "deviceIds", devices);
    Put(&s, "created", TimeText(m.created_unix()));
    Put(&s, "expires", TimeText(m.expires_unix()));
    Put(&s, "component", m.component());
    Put(&s, "version", m.version());
    Put(&s, "description", m.description());
    Struct payload;
    PutList(&payload, "uris", uris);
    Put(&payload, "size", absl::StrCat(p.size()));
    Put(&payload, "sha256", HexEncode(p.sha256()));
    PutNumber(&payload, "chunkSize", p.chunk_size());
    PutNumber(&payload, "chunks", p.chunk_sha256_size());
    Put(&payload, "format", format);
    if (!p.precursor_sha256().empty()) {
      Put(&payload, "precursorSha256", HexEncode(p.precursor_sha256()));
    }
    *(*s.mutable_fields())["payload"].mutable_struct_value() = payload;
    if (m.has_downgrade()) {
      Struct d;
      Put(&d, "maxInstalledSequence", absl::StrCat(m.downgrade().max_installed_sequence()));
      Put(&d, "reason", m.downgrade().reason());
      *(*s.mutable_fields())["downgrade"].mutable_struct_value() = d;
    }
    PutList(&s, "certificates", certs);
    PutList(&s, "signedBy", keys);
    Put(&s, "fields", valid.ok() ? "valid" : std::string(valid.message()));
    Put(&s, "signatures", "not verified (use verify)");
    out << ToJson(s);
    return kExitOk;
  }
  out << "manifest      " << o.manifest << " (" << bytes->size() << " bytes)\n"
      << "format        " << m.format_version() << "\n"
      << "sequence      " << m.sequence_number() << "\n"
      << "vendor_id     " << common::UuidToString(m.vendor_id()) << "\n"
      << "class_id      " << common::UuidToString(m.class_id()) << "\n"
      << "devices       " << (devices.empty() ? "all of the class" : absl::StrJoin(devices, ", ")) << "\n"
      << "created       " << TimeText(m.created_unix()) << "\n"
      << "expires       " << TimeText(m.expires_unix()) << "\n"
      << "component     " << m.component() << "\n"
      << "version       " << m.version() << "\n"
      << "description   " << m.description() << "\n"
      << "payload       " << format << ", " << p.size() << " bytes, " << p.chunk_sha256_size()
      << " chunk(s) of " << p.chunk_size() << "\n"
      << "  sha256      " << HexEncode(p.sha256()) << "\n";
  if (!p.precursor_sha256().empty()) {
    out << "  precursor   " << HexEncode(p.precursor_sha256()) << "\n";
  }
  for (const std::string& u : uris) out << "  uri         " << u << "\n";
  if (m.has_downgrade()) {
    out << "downgrade     over sequence <= " << m.downgrade().max_installed_sequence()
        << ": " << m.downgrade().reason() << "\n";
  }
  for (const std::string& c : certs) out << "certificate   " << c << "\n";
  for (const std::string& k : keys) out << "signed by     " << k << " (not verified: use verify)\n";
  if (!valid.ok()) {
    out << "INVALID       " << ReasonName(ReasonOf(valid)) << ": " << valid.message() << "\n";
  }
  return kExitOk;
}

// ---------------------------------------------------------------- main

namespace {

constexpr char kUsage[] = R"(usage: ota-manifest <command> [flags]

commands:
  init    -d <domain> -m <model> [--dir D] [--validity-days N] [--force]
          Make an update key, a self-signed update certificate, the device's
          trust resources (update_default_resources.c) and .ota_manifest.json.
  create  -i <input.json> -o <manifest> [-k <key.pem>] [--defaults F]
          Hash the payload and write a signed manifest. input.json takes the
          manifest-tool fields (encryptionMode, vendorId, classId, payloadUri,
          payloadFile, description, certificates[{uri,file}]) and
          sequenceNumber, expiresAt, precursorFile, precursorSha256,
          payloadFormat, deviceIds, component, version, chunkSize,
          mirrorUris, downgrade{maxInstalledSequence,reason}, privateKey.
  verify  -m <manifest> [-c <cert>]... [--payload F] [--threshold N]
          [--vendor-id U --class-id U] [--device-id ID]
          [--installed-sequence N] [--installed-sha256 HEX] [--slot-size N]
          [--now UNIX] [--defaults F]
          Check signatures, optionally the payload and applicability.
  show    -m <manifest> [--json]
          Print the manifest's fields without verifying it.
  key-list --root-key <key.pem>... -c <cert>... --version N [--threshold K]
          [--expires-at UNIX] -o <list>
          Write a root-signed update key list: the update certificates'
          keys (each trusted until its certificate expires), the number of
          them that must sign a manifest, signed by each root key. Devices
          holding a root key accept it when N is above the list they hold.

exit codes: 0 ok, 1 manifest rejected (reason printed), 2 usage or input
error (the field is named), 3 read/write or crypto failure.
)";

struct Flags {
  std::map<std::string, std::vector<std::string>> values;
  std::vector<std::string> switches;
};

// Parses "-x value", "--name value", "--name=value" and boolean switches.
bool ParseFlags(const std::vector<std::string>& args, size_t start,
                const std::vector<std::string>& switch_names, Flags* flags,
                std::string* error) {
  for (size_t i = start; i < args.size(); ++i) {
    std::string a = args[i];
    if (a.empty() || a[0] != '-') {
      *error = absl::StrCat("unexpected argument \"", a, "\"");
      return false;
    }
    std::string value;
    bool has_value = false;
    if (size_t eq = a.find('='); eq != std::string::npos && absl::StartsWith(a, "--")) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_value = true;
    }
    if (std::find(switch_names.begin(), switch_names.end(), a) != switch_names.end()) {
      flags->switches.push_back(a);
      continue;
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        *error = absl::StrCat("flag ", a, " needs a value");
        return false;
      }
      value = args[++i];
    }
    flags->values[a].push_back(value);
  }
  return true;
}

}  // namespace

int RunKeyList(const KeyListOptions& o, std::ostream& out, std::ostream& err) {
  if (o.root_keys.empty() || o.certificates.empty() || o.version == 0 || o.output.empty()) {
    err << "key-list needs --root-key, -c, --version and -o\n";
    return kExitUsage;
  }
  std::vector<common::EcdsaP256PrivateKey> roots;
  for (const std::string& path : o.root_keys) {
    absl::StatusOr<std::string> pem = common::ReadFile(path, 1 << 20);
    if (!pem.ok()) {
      err << pem.status().message() << "\n";
      return kExitIo;
    }
    absl::StatusOr<common::EcdsaP256PrivateKey> key = common::EcdsaP256PrivateKey::FromPem(*pem);
    if (!key.ok()) {
      err << "root key " << path << ": " << key.status().message() << "\n";
      return kExitUsage;
    }
    roots.push_back(*std::move(key));
  }
  ota::v1::KeyList list;
  list.set_version(o.version);
  list.set_created_unix(o.now_unix != 0 ? o.now_unix : absl::ToUnixSeconds(absl::Now()));
  list.set_expires_unix(o.expires_unix);
  list.set_threshold(o.threshold);
  for (const std::string& path : o.certificates) {
    absl::StatusOr<std::string> bytes = common::ReadFile(path, 1 << 20);
    if (!bytes.ok()) {
      err << bytes.status().message() << "\n";
      return kExitIo;
    }
    absl::StatusOr<common::Certificate> cert = common::Certificate::Parse(*bytes);
    absl::StatusOr<common::EcdsaP256PublicKey> key =
        cert.ok() ? cert->PublicKey() : absl::StatusOr<common::EcdsaP256PublicKey>(cert.status());
    if (!key.ok()) {
      err << "certificate " << path << ": " << key.status().message() << "\n";
      return kExitUsage;
    }
    ota::v1::UpdateKey* k = list.add_keys();
    k->set_key_id(key->KeyId());
    k->set_public_key_der(key->der());
    k->set_expires_unix(cert->not_after_unix());
    k->set_description(cert->subject());
  }
  std::vector<const common::EcdsaP256PrivateKey*> signers;
  for (const auto& r : roots) signers.push_back(&r);
  absl::StatusOr<ota::v1::SignedKeyList> signed_list = common::SignKeyList(list, signers);
  if (!signed_list.ok()) {
    err << signed_list.status().message() << "\n";
    return kExitUsage;
  }
  if (absl::Status s = common::WriteFileAtomically(o.output, signed_list->SerializeAsString());
      !s.ok()) {
    err << s.message() << "\n";
    return kExitIo;
  }
  out << "key list version " << list.version() << ": " << list.keys_size() << " key(s), "
      << list.threshold() << " must sign, signed by " << roots.size() << " root key(s) -> "
      << o.output << "\n";
  return kExitOk;
}

int Main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? err : out) << kUsage;
    return args.empty() ? kExitUsage : kExitOk;
  }
  const std::string& cmd = args[0];
  Flags flags;
  std::string error;
  if (!ParseFlags(args, 1, {"--force", "--json"}, &flags, &error)) {
    err << error << "\n\n" << kUsage;
    return kExitUsage;
  }
  std::vector<std::string> allowed;
  auto take = [&](std::initializer_list<const char*> names) -> std::string {
    for (const char* n : names) {
      allowed.push_back(n);
      auto it = flags.values.find(n);
      if (it != flags.values.end()) return it->second.back();
    }
    return "";
  };
  auto take_all = [&](const char* name) {
    allowed.push_back(name);
    auto it = flags.values.find(name);
    return it == flags.values.end() ? std::vector<std::string>{} : it->second;
  };
  auto has = [&](const char* name) {
    allowed.push_back(name);
    return std::find(flags.switches.begin(), flags.switches.end(), name) !=
           flags.switches.end();
  };
  bool number_error = false;
  auto number = [&](const std::string& text, const char* name, uint64_t* v) {
    if (!text.empty() && !absl::SimpleAtoi(text, v)) {
      err << "flag " << name << ": \"" << text << "\" is not a number\n";
      number_error = true;
    }
  };
  auto check_unknown = [&]() {
    for (const auto& [name, unused] : flags.values) {
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        err << "unknown flag " << name << " for " << cmd << "\n\n" << kUsage;
        return false;
      }
    }
    for (const std::string& name : flags.switches) {
      if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
        err << "unknown flag " << name << " for " << cmd << "\n\n" << kUsage;
        return false;
      }
    }
    return true;
  };
  uint64_t n = 0;
  if (cmd == "init") {
    InitOptions o;
    o.domain = take({"-d", "--domain"});
    o.model = take({"-m", "--model"});
    std::string dir = take({"--dir"});
    if (!dir.empty()) o.dir = dir;
    number(take({"--validity-days"}), "--validity-days", &n);
    if (n != 0) o.validity_days = static_cast<int>(n);
    n = 0;
    number(take({"--now"}), "--now", &n);
    o.now_unix = static_cast<int64_t>(n);
    o.force = has("--force");
    if (!check_unknown() || number_error) return kExitUsage;
    return RunInit(o, out, err);
  }
  if (cmd == "create") {
    CreateOptions o;
    o.input = take({"-i", "--input"});
    o.output = take({"-o", "--output"});
    o.key = take({"-k", "--key"});
    o.defaults = take({"--defaults"});
    number(take({"--now"}), "--now", &n);
    o.now_unix = static_cast<int64_t>(n);
    if (!check_unknown() || number_error) return kExitUsage;
    return RunCreate(o, out, err);
  }
  if (cmd == "verify") {
    VerifyOptions o;
    o.manifest = take({"-m", "--manifest"});
    o.certificates = take_all("-c");
    for (const std::string& c : take_all("--certificate")) o.certificates.push_back(c);
    o.defaults = take({"--defaults"});
    o.payload = take({"--payload"});
    o.vendor_id = take({"--vendor-id"});
    o.class_id = take({"--class-id"});
    o.device_id = take({"--device-id"});
    o.installed_sha256 = take({"--installed-sha256"});
    number(take({"--installed-sequence"}), "--installed-sequence", &o.installed_sequence);
    number(take({"--slot-size"}), "--slot-size", &o.slot_size);
    uint64_t threshold = 1;
    number(take({"--threshold"}), "--threshold", &threshold);
    o.threshold = static_cast<uint32_t>(threshold);
    number(take({"--now"}), "--now", &n);
    o.now_unix = static_cast<int64_t>(n);
    if (!check_unknown() || number_error) return kExitUsage;
    return RunVerify(o, out, err);
  }
  if (cmd == "key-list") {
    KeyListOptions o;
    o.root_keys = take_all("--root-key");
    o.certificates = take_all("-c");
    for (const std::string& c : take_all("--certificate")) o.certificates.push_back(c);
    o.output = take({"-o", "--output"});
    number(take({"--version"}), "--version", &o.version);
    uint64_t threshold = 1;
    number(take({"--threshold"}), "--threshold", &threshold);
    o.threshold = static_cast<uint32_t>(threshold);
    n = 0;
    number(take({"--expires-at"}), "--expires-at", &n);
    o.expires_unix = static_cast<int64_t>(n);
    n = 0;
    number(take({"--now"}), "--now", &n);
    o.now_unix = static_cast<int64_t>(n);
    if (!check_unknown() || number_error) return kExitUsage;
    return RunKeyList(o, out, err);
  }
  if (cmd == "show") {
    ShowOptions o;
    o.manifest = take({"-m", "--manifest"});
    o.json = has("--json");
    if (!check_unknown()) return kExitUsage;
    return RunShow(o, out, err);
  }
  err << "unknown command \"" << cmd << "\"\n\n" << kUsage;
  return kExitUsage;
}

}  // namespace ota::tools
