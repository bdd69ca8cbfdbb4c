// Fuzzes the receiving side of signed manifests (common/manifest/): the
// envelope parser, the verifier against a trust store holding the test
// vectors' certificate, the body parser (also on bytes whose signatures did
// not verify, as `ota-manifest show` does) and the device policy.
//
// Input: an encoded SignedManifest; the seeds are test/vectors/data's.
// Aborts when an accepted envelope or body breaks a limit of limits.h, when
// the verifier accepts what the parser refused, when a refusal carries no
// ReasonCode, or when CheckApplicable lets through a manifest the device
// must refuse.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/bytes.h"
#include "common/crypto/x509.h"
#include "common/manifest/manifest.h"
#include "common/manifest/policy.h"
#include "common/manifest/trust_store.h"
#include "common/manifest/uuid.h"
#include "common/manifest/verifier.h"
#include "common/status/reason.h"
#include "test/fuzz/invariant.h"
#include "test/fuzz/manifest_invariants.h"

extern const unsigned char kTrustedCertificateDer[];
extern const size_t kTrustedCertificateDerSize;

namespace {

using ota::fuzz::Require;
namespace common = ota::common;

// The device and time of test/vectors/data/index.textproto.
constexpr int64_t kNow = 1800000000;

struct Fixture {
  common::TrustStore trust;
  common::DeviceState device;
  common::DeviceState small_device;  // a 64 KiB slot, 16 KiB payloads
};

const Fixture& GetFixture() {
  static const Fixture* const fixture = [] {
    auto* f = new Fixture;
    absl::StatusOr<common::Certificate> cert = common::Certificate::FromDer(
        absl::string_view(reinterpret_cast<const char*>(kTrustedCertificateDer),
                          kTrustedCertificateDerSize));
    Require(cert.ok(), "the trusted certificate does not parse");
    Require(f->trust.AddCertificate(*cert).ok(), "the trusted key");
    f->device.device_id = "device-0001";
    f->device.vendor_id = *common::ParseUuid("cfbff0d1-9375-5685-968c-48ce8b15ae17");
    f->device.class_id = *common::ParseUuid("ad06a868-7abd-56fa-938b-9aa0b273ccf9");
    f->device.installed_sequence = 10;
    f->device.installed_sha256 = *common::HexDecode(
        "26b802580e15afb044927e84617518c10665bd4aed1ee738b806729083fc52fa");
    f->small_device = f->device;
    f->small_device.slot_size = 64 << 10;
    f->small_device.max_payload_size = 16 << 10;
    return f;
  }();
  return *fixture;
}

void CheckRefusal(const absl::Status& status, absl::string_view step) {
  Require(!status.ok(), "expected a refusal", step);
  Require(common::ReasonOf(status) != ota::v1::REASON_UNSPECIFIED,
          "a refusal without a ReasonCode", status.ToString());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Fixture& f = GetFixture();
  absl::string_view bytes(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<ota::v1::SignedManifest> envelope =
      common::ParseSignedManifest(bytes);
  absl::StatusOr<ota::v1::Manifest> body =
      absl::InvalidArgumentError("no envelope");
  if (envelope.ok()) {
    Require(bytes.size() <= common::kMaxSignedManifestSize, "envelope size");
    Require(envelope->signatures_size() >= 1 &&
                envelope->signatures_size() <= common::kMaxSignatures,
            "signature count");
    for (const ota::v1::Signature& sig : envelope->signatures()) {
      Require(sig.algorithm() == ota::v1::ECDSA_P256_SHA256, "algorithm");
      Require(sig.key_id().size() == 64 && !sig.signature().empty(),
              "signature shape");
    }
    Require(common::CheckSignedManifestEnvelope(*envelope).ok(),
            "the parsed envelope fails its own check");
    body = common::ParseManifestBody(*envelope);
    if (body.ok()) {
      ota::fuzz::CheckAcceptedManifest(*body);
    } else {
      CheckRefusal(body.status(), "ParseManifestBody");
    }
  } else {
    CheckRefusal(envelope.status(), "ParseSignedManifest");
  }

  absl::StatusOr<common::VerifiedManifest> verified =
      common::VerifyManifest(bytes, f.trust, kNow);
  if (!verified.ok()) {
    CheckRefusal(verified.status(), "VerifyManifest");
    return 0;
  }
  Require(envelope.ok() && body.ok(),
          "the verifier accepted what the parsers refused");
  Require(!verified->key_ids.empty(), "verified without a key");
  for (const std::string& key_id : verified->key_ids) {
    Require(f.trust.Find(key_id) != nullptr, "verified by an untrusted key");
  }
  Require(verified->manifest.SerializeAsString() == body->SerializeAsString(),
          "the verifier's manifest differs from the parser's");
  ota::fuzz::CheckAcceptedManifest(verified->manifest);

  for (const common::DeviceState* device : {&f.device, &f.small_device}) {
    absl::Status applicable =
        common::CheckApplicable(verified->manifest, *device, kNow);
    if (applicable.ok()) {
      ota::fuzz::CheckApplicableManifest(verified->manifest, *device, kNow);
    } else {
      CheckRefusal(applicable, "CheckApplicable");
    }
  }
  return 0;
}
