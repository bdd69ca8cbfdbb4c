// The limits of common/manifest/limits.h restated for the manifest fuzz
// targets: every manifest the parser accepts must hold them, and every
// manifest CheckApplicable lets through must fit the device. Written
// independently of manifest.cc so that a mistake there shows up here.
#ifndef OTA_TEST_FUZZ_MANIFEST_INVARIANTS_H_
#define OTA_TEST_FUZZ_MANIFEST_INVARIANTS_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/manifest/limits.h"
#include "common/manifest/policy.h"
#include "ota/v1/manifest.pb.h"
#include "test/fuzz/invariant.h"

namespace ota::fuzz {

// Aborts unless `m`, which ParseManifestBody accepted, has a legal shape.
inline void CheckAcceptedManifest(const ota::v1::Manifest& m) {
  using namespace ota::common;  // the limits
  const std::string d = m.ShortDebugString();
  Require(m.format_version() == kManifestFormatVersion, "format_version", d);
  Require(m.sequence_number() != 0, "sequence_number is zero", d);
  Require(m.vendor_id().size() == kUuidSize, "vendor_id size", d);
  Require(m.class_id().size() == kUuidSize, "class_id size", d);
  Require(m.device_ids_size() <= kMaxDeviceIds, "too many device_ids", d);
  for (const std::string& id : m.device_ids()) {
    Require(!id.empty(), "an empty device id", d);
  }
  Require(m.expires_unix() >= 0, "expires_unix is negative", d);
  Require(m.expires_unix() == 0 || m.expires_unix() > m.created_unix(),
          "expires_unix is not after created_unix", d);
  Require(m.has_payload(), "no payload", d);
  const ota::v1::Payload& p = m.payload();
  Require(p.size() > 0, "payload.size is zero", d);
  Require(p.sha256().size() == kDigestSize, "payload.sha256 size", d);
  Require(p.chunk_size() >= kMinChunkSize && p.chunk_size() <= kMaxChunkSize,
          "payload.chunk_size out of range", d);
  // Without overflow: size / chunk, plus one for a partial last chunk.
  const uint64_t chunks =
      p.size() / p.chunk_size() + (p.size() % p.chunk_size() != 0 ? 1 : 0);
  Require(static_cast<uint64_t>(p.chunk_sha256_size()) == chunks,
          "the chunk list does not cover payload.size",
          absl::StrCat(p.chunk_sha256_size(), " chunk digests for ", chunks,
                       " chunks: ", d));
  for (const std::string& digest : p.chunk_sha256()) {
    Require(digest.size() == kDigestSize, "a chunk digest's size", d);
  }
  Require(p.uris_size() >= 1 && p.uris_size() <= kMaxPayloadUris,
          "payload.uris count", d);
  for (const std::string& uri : p.uris()) {
    Require(!uri.empty() && uri.size() <= kMaxUriLength, "a uri's length", d);
  }
  if (p.format() == ota::v1::PAYLOAD_FORMAT_FULL) {
    Require(p.precursor_sha256().empty(), "a full image with a precursor", d);
    Require(m.installed_size() == 0 || m.installed_size() == p.size(),
            "installed_size of a full image", d);
  } else {
    Require(p.format() == ota::v1::PAYLOAD_FORMAT_ZSTD_DELTA,
            "an unknown payload format", d);
    Require(p.precursor_sha256().size() == kDigestSize,
            "a delta's precursor size", d);
  }
  Require(m.component().size() <= 256, "component length", d);
  Require(m.description().size() <= kMaxTextLength, "description length", d);
  Require(m.version().size() <= 256, "version length", d);
  Require(!m.has_downgrade() || m.downgrade().max_installed_sequence() != 0,
          "a downgrade over sequence 0", d);
  Require(m.certificates_size() <= kMaxCertificateReferences,
          "too many certificates", d);
  for (const ota::v1::CertificateReference& c : m.certificates()) {
    Require(c.fingerprint().size() == kDigestSize, "a fingerprint's size", d);
  }
}

// Aborts when CheckApplicable let `m` through for `device` at `now` though
// it should not have.
inline void CheckApplicableManifest(const ota::v1::Manifest& m,
                                    const ota::common::DeviceState& device,
                                    int64_t now) {
  const std::string d = m.ShortDebugString();
  Require(m.vendor_id() == device.vendor_id, "applicable: vendor", d);
  Require(m.class_id() == device.class_id, "applicable: class", d);
  bool listed = m.device_ids_size() == 0;
  for (const std::string& id : m.device_ids()) listed |= id == device.device_id;
  Require(listed, "applicable: device list", d);
  Require(m.expires_unix() == 0 || now < m.expires_unix(),
          "applicable: expired", d);
  Require(m.sequence_number() != device.installed_sequence,
          "applicable: same sequence", d);
  if (m.sequence_number() < device.installed_sequence) {
    Require(m.has_downgrade() && device.installed_sequence <=
                                     m.downgrade().max_installed_sequence(),
            "applicable: an unauthorized downgrade", d);
  }
  if (m.payload().format() == ota::v1::PAYLOAD_FORMAT_ZSTD_DELTA) {
    Require(m.payload().precursor_sha256() == device.installed_sha256,
            "applicable: a delta over another image", d);
  }
  Require(device.max_payload_size == 0 ||
              m.payload().size() <= device.max_payload_size,
          "applicable: payload too large", d);
  const uint64_t installed =
      m.installed_size() != 0 ? m.installed_size() : m.payload().size();
  Require(device.slot_size == 0 || installed <= device.slot_size,
          "applicable: image larger than the slot", d);
}

}  // namespace ota::fuzz

#endif  // OTA_TEST_FUZZ_MANIFEST_INVARIANTS_H_
