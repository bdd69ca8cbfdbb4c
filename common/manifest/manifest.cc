#include "common/manifest/manifest.h"

#include "absl/strings/str_cat.h"
#include "common/status/reason.h"

namespace ota::common {
namespace {

using ota::v1::Manifest;
using ota::v1::SignedManifest;

absl::Status Invalid(ota::v1::ReasonCode reason, absl::string_view message) {
  return ReasonError(absl::StatusCode::kInvalidArgument, reason, message);
}

absl::Status BadField(absl::string_view field, absl::string_view problem) {
  return Invalid(ota::v1::REASON_INVALID_FIELD,
                 absl::StrCat("field ", field, ": ", problem));
}

absl::Status CheckLength(absl::string_view field, absl::string_view value,
                         size_t want) {
  if (value.size() != want) {
    return BadField(field, absl::StrCat("is ", value.size(), " bytes, want ",
                                        want));
  }
  return absl::OkStatus();
}

absl::Status CheckText(absl::string_view field, absl::string_view value,
                       size_t max) {
  if (value.size() > max) {
    return BadField(field, absl::StrCat("is ", value.size(),
                                        " bytes, at most ", max, " allowed"));
  }
  return absl::OkStatus();
}

absl::Status ValidatePayload(const ota::v1::Payload& p) {
  if (p.size() == 0) return BadField("payload.size", "is zero");
  if (absl::Status s = CheckLength("payload.sha256", p.sha256(), kDigestSize);
      !s.ok()) {
    return s;
  }
  if (p.chunk_size() < kMinChunkSize || p.chunk_size() > kMaxChunkSize) {
    return BadField("payload.chunk_size",
                    absl::StrCat(p.chunk_size(), " is outside ", kMinChunkSize,
                                 "..", kMaxChunkSize));
  }
  // Rounded up without adding first: size + chunk_size - 1 wraps for sizes
  // near 2^64, which would make an empty chunk list look complete.
  uint64_t want_chunks =
      p.size() / p.chunk_size() + (p.size() % p.chunk_size() != 0 ? 1 : 0);
  if (static_cast<uint64_t>(p.chunk_sha256_size()) != want_chunks) {
    return BadField("payload.chunk_sha256",
                    absl::StrCat("has ", p.chunk_sha256_size(),
                                 " entries, size and chunk_size need ",
                                 want_chunks));
  }
  for (int i = 0; i < p.chunk_sha256_size(); ++i) {
    if (p.chunk_sha256(i).size() != kDigestSize) {
      return BadField(absl::StrCat("payload.chunk_sha256[", i, "]"),
                      absl::StrCat("is ", p.chunk_sha256(i).size(),
                                   " bytes, want ", kDigestSize));
    }
  }
  if (p.uris_size() == 0) return BadField("payload.uris", "is empty");
  if (p.uris_size() > kMaxPayloadUris) {
    return BadField("payload.uris", absl::StrCat("has ", p.uris_size(),
                                                 " entries, at most ",
                                                 kMaxPayloadUris, " allowed"));
  }
  for (int i = 0; i < p.uris_size(); ++i) {
    const std::string& uri = p.uris(i);
    std::string name = absl::StrCat("payload.uris[", i, "]");
    if (uri.empty()) return BadField(name, "is empty");
    if (absl::Status s = CheckText(name, uri, kMaxUriLength); !s.ok()) return s;
  }
  switch (p.format()) {
    case ota::v1::PAYLOAD_FORMAT_FULL:
      if (!p.precursor_sha256().empty()) {
        return BadField("payload.precursor_sha256",
                        "is set on a full image");
      }
      break;
    case ota::v1::PAYLOAD_FORMAT_ZSTD_DELTA:
      return CheckLength("payload.precursor_sha256", p.precursor_sha256(),
                         kDigestSize);
    default:
      return BadField("payload.format",
                      absl::StrCat("value ", static_cast<int>(p.format()),
                                   " is not a known format"));
  }
  return absl::OkStatus();
}

absl::Status ValidateSignatureShape(const SignedManifest& sm) {
  if (sm.signatures_size() == 0) {
    return Invalid(ota::v1::REASON_SIGNATURE_MISSING,
                   "the manifest carries no signature");
  }
  if (sm.signatures_size() > kMaxSignatures) {
    return BadField("signatures", absl::StrCat("has ", sm.signatures_size(),
                                               " entries, at most ",
                                               kMaxSignatures, " allowed"));
  }
  for (int i = 0; i < sm.signatures_size(); ++i) {
    const ota::v1::Signature& sig = sm.signatures(i);
    if (sig.algorithm() != ota::v1::ECDSA_P256_SHA256) {
      return Invalid(ota::v1::REASON_UNSUPPORTED_ALGORITHM,
                     absl::StrCat("signatures[", i, "] uses algorithm ",
                                  static_cast<int>(sig.algorithm()),
                                  "; only ECDSA_P256_SHA256 is accepted"));
    }
    if (sig.key_id().size() != 2 * kDigestSize) {
      return BadField(absl::StrCat("signatures[", i, "].key_id"),
                      "is not 64 hex digits");
    }
    if (sig.signature().empty()) {
      return BadField(absl::StrCat("signatures[", i, "].signature"), "is empty");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateManifestFields(const Manifest& m) {
  if (m.format_version() != kManifestFormatVersion) {
    return Invalid(ota::v1::REASON_UNSUPPORTED_VERSION,
                   absl::StrCat("format_version ", m.format_version(),
                                " is not supported (this reader knows ",
                                kManifestFormatVersion, ")"));
  }
  if (m.sequence_number() == 0) return BadField("sequence_number", "is zero");
  if (absl::Status s = CheckLength("vendor_id", m.vendor_id(), kUuidSize);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckLength("class_id", m.class_id(), kUuidSize);
      !s.ok()) {
    return s;
  }
  if (m.device_ids_size() > kMaxDeviceIds) {
    return BadField("device_ids", absl::StrCat("has ", m.device_ids_size(),
                                               " entries, at most ",
                                               kMaxDeviceIds, " allowed"));
  }
  for (int i = 0; i < m.device_ids_size(); ++i) {
    if (m.device_ids(i).empty()) {
      return BadField(absl::StrCat("device_ids[", i, "]"), "is empty");
    }
  }
  if (m.expires_unix() < 0) return BadField("expires_unix", "is negative");
  if (m.expires_unix() != 0 && m.expires_unix() <= m.created_unix()) {
    return BadField("expires_unix", "is not after created_unix");
  }
  if (!m.has_payload()) return BadField("payload", "is missing");
  if (absl::Status s = ValidatePayload(m.payload()); !s.ok()) return s;
  if (m.payload().format() == ota::v1::PAYLOAD_FORMAT_FULL &&
      m.installed_size() != 0 && m.installed_size() != m.payload().size()) {
    return BadField("installed_size",
                    "differs from payload.size for a full image");
  }
  if (absl::Status s = CheckText("component", m.component(), 256); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckText("description", m.description(), kMaxTextLength);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckText("version", m.version(), 256); !s.ok()) return s;
  if (m.has_downgrade() && m.downgrade().max_installed_sequence() == 0) {
    return BadField("downgrade.max_installed_sequence", "is zero");
  }
  if (m.certificates_size() > kMaxCertificateReferences) {
    return BadField("certificates",
                    absl::StrCat("has ", m.certificates_size(),
                                 " entries, at most ",
                                 kMaxCertificateReferences, " allowed"));
  }
  for (int i = 0; i < m.certificates_size(); ++i) {
    if (absl::Status s =
            CheckLength(absl::StrCat("certificates[", i, "].fingerprint"),
                        m.certificates(i).fingerprint(), kDigestSize);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<SignedManifest> SignManifest(
    const Manifest& manifest,
    const std::vector<const EcdsaP256PrivateKey*>& keys) {
  if (keys.empty()) {
    return absl::InvalidArgumentError("signing needs at least one key");
  }
  if (absl::Status s = ValidateManifestFields(manifest); !s.ok()) return s;
  SignedManifest sm;
  if (!manifest.SerializeToString(sm.mutable_manifest())) {
    return absl::InternalError("manifest does not serialize");
  }
  if (sm.manifest().size() > kMaxSignedManifestSize) {
    return ReasonError(absl::StatusCode::kInvalidArgument,
                       ota::v1::REASON_TOO_LARGE,
                       absl::StrCat("manifest is ", sm.manifest().size(),
                                    " bytes, at most ", kMaxSignedManifestSize,
                                    " allowed"));
  }
  for (const EcdsaP256PrivateKey* key : keys) {
    if (absl::Status s = AddSignature(*key, &sm); !s.ok()) return s;
  }
  return sm;
}

absl::Status AddSignature(const EcdsaP256PrivateKey& key,
                          SignedManifest* signed_manifest) {
  absl::StatusOr<std::string> sig = key.Sign(signed_manifest->manifest());
  if (!sig.ok()) return sig.status();
  ota::v1::Signature* out = signed_manifest->add_signatures();
  out->set_key_id(key.PublicKey().KeyId());
  out->set_algorithm(ota::v1::ECDSA_P256_SHA256);
  out->set_signature(*std::move(sig));
  return absl::OkStatus();
}

absl::StatusOr<SignedManifest> ParseSignedManifest(absl::string_view bytes,
                                                   size_t max_size) {
  if (bytes.empty()) {
    return Invalid(ota::v1::REASON_EMPTY, "the manifest is empty (0 bytes)");
  }
  // The length is checked before parsing so that an oversized input costs
  // nothing to refuse.
  if (bytes.size() > max_size) {
    return Invalid(ota::v1::REASON_TOO_LARGE,
                   absl::StrCat("the manifest is ", bytes.size(),
                                " bytes, at most ", max_size, " allowed"));
  }
  SignedManifest sm;
  if (!sm.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Invalid(ota::v1::REASON_MALFORMED,
                   "the manifest is not a valid SignedManifest encoding "
                   "(truncated or corrupt)");
  }
  if (absl::Status s = CheckSignedManifestEnvelope(sm, max_size); !s.ok()) {
    return s;
  }
  return sm;
}

absl::Status CheckSignedManifestEnvelope(const SignedManifest& signed_manifest,
                                         size_t max_size) {
  if (signed_manifest.ByteSizeLong() > max_size) {
    return Invalid(ota::v1::REASON_TOO_LARGE,
                   absl::StrCat("the manifest is ", signed_manifest.ByteSizeLong(),
                                " bytes, at most ", max_size, " allowed"));
  }
  if (signed_manifest.manifest().empty()) {
    return Invalid(ota::v1::REASON_EMPTY, "the signed manifest bytes are empty");
  }
  return ValidateSignatureShape(signed_manifest);
}

absl::StatusOr<Manifest> ParseManifestBody(const SignedManifest& signed_manifest) {
  if (signed_manifest.manifest().empty()) {
    return Invalid(ota::v1::REASON_EMPTY, "the signed manifest bytes are empty");
  }
  Manifest manifest;
  if (!manifest.ParseFromString(signed_manifest.manifest())) {
    return Invalid(ota::v1::REASON_MALFORMED,
                   "the signed bytes are not a valid Manifest encoding");
  }
  if (absl::Status s = ValidateManifestFields(manifest); !s.ok()) return s;
  return manifest;
}

}  // namespace ota::common
