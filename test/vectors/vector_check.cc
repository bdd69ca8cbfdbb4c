#include "test/vectors/vector_check.h"

#include <google/protobuf/text_format.h>

#include "absl/strings/str_cat.h"
#include "common/base/file.h"
#include "common/crypto/bytes.h"
#include "common/crypto/x509.h"
#include "common/manifest/payload_digest.h"
#include "common/manifest/policy.h"
#include "common/manifest/uuid.h"
#include "common/manifest/verifier.h"
#include "common/status/reason.h"

namespace ota::testvectors {
namespace {

absl::StatusOr<common::DeviceState> ToDevice(const DeviceUnderTest& d) {
  common::DeviceState out;
  out.device_id = d.device_id();
  absl::StatusOr<std::string> vendor = common::ParseUuid(d.vendor_id());
  if (!vendor.ok()) return vendor.status();
  absl::StatusOr<std::string> klass = common::ParseUuid(d.class_id());
  if (!klass.ok()) return klass.status();
  absl::StatusOr<std::string> sha = common::HexDecode(d.installed_sha256());
  if (!sha.ok()) return sha.status();
  out.vendor_id = *vendor;
  out.class_id = *klass;
  out.installed_sha256 = *sha;
  out.installed_sequence = d.installed_sequence();
  out.slot_size = d.slot_size();
  return out;
}

absl::Status Check(const std::string& dir, const Vector& v,
                   const common::TrustStore& trust) {
  absl::StatusOr<std::string> bytes =
      common::ReadFile(absl::StrCat(dir, "/", v.name(), ".manifest"));
  if (!bytes.ok()) return absl::InternalError(bytes.status().message());
  absl::StatusOr<common::VerifiedManifest> verified =
      common::VerifyManifest(*bytes, trust, v.now_unix());
  if (!verified.ok()) return verified.status();
  absl::StatusOr<common::DeviceState> device = ToDevice(v.device());
  if (!device.ok()) return absl::InternalError(device.status().message());
  if (absl::Status s = common::CheckApplicable(verified->manifest, *device, v.now_unix());
      !s.ok()) {
    return s;
  }
  if (!v.payload_file().empty()) {
    absl::StatusOr<common::PayloadDigests> digests = common::DigestFile(
        absl::StrCat(dir, "/", v.payload_file()),
        verified->manifest.payload().chunk_size());
    if (!digests.ok()) return absl::InternalError(digests.status().message());
    return common::CheckPayloadDigests(verified->manifest.payload(), *digests);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<Outcome>> CheckVectorSet(const std::string& dir) {
  absl::StatusOr<std::string> text = common::ReadFile(absl::StrCat(dir, "/", kIndexFile));
  if (!text.ok()) return text.status();
  VectorSet set;
  if (!google::protobuf::TextFormat::ParseFromString(*text, &set)) {
    return absl::InvalidArgumentError(absl::StrCat(dir, "/", kIndexFile, " does not parse"));
  }
  absl::StatusOr<std::string> der =
      common::ReadFile(absl::StrCat(dir, "/", set.trusted_certificate()));
  if (!der.ok()) return der.status();
  absl::StatusOr<common::Certificate> cert = common::Certificate::FromDer(*der);
  if (!cert.ok()) return cert.status();
  common::TrustStore trust;
  if (absl::Status s = trust.AddCertificate(*cert); !s.ok()) return s;

  std::vector<Outcome> outcomes;
  for (const Vector& v : set.vectors()) {
    Outcome o{v, Check(dir, v, trust)};
    if (o.status.code() == absl::StatusCode::kInternal) return o.status;
    outcomes.push_back(std::move(o));
  }
  return outcomes;
}

bool Matches(const Outcome& o) {
  return common::ReasonOf(o.status) == o.vector.expected_reason() &&
         absl::StatusCodeToString(o.status.code()) == o.vector.expected_code();
}

std::string Describe(const Outcome& o) {
  return absl::StrCat(o.vector.name(), ": want ",
                      common::ReasonName(o.vector.expected_reason()), "/",
                      o.vector.expected_code(), ", got ",
                      common::ReasonName(common::ReasonOf(o.status)), "/",
                      absl::StatusCodeToString(o.status.code()), " (",
                      o.status.message(), ")");
}

}  // namespace ota::testvectors
