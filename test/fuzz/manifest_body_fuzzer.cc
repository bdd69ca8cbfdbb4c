// Fuzzes the Manifest body: the structure that only authenticated bytes
// reach on a device. ParseManifestBody on the input; an accepted manifest is
// then re-encoded, signed with a key of this process's own and verified
// against a trust store holding that key, and run through the policy for a
// few devices, as a device would after a genuine signature.
//
// Input: an encoded Manifest (the `manifest` bytes of a SignedManifest; the
// seeds are those of test/vectors/data). Aborts when an accepted manifest
// breaks a limit of limits.h, when the signer refuses or the verifier
// rejects what the parser accepted, or when CheckApplicable lets through a
// manifest the device must refuse.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/ecdsa.h"
#include "common/manifest/manifest.h"
#include "common/manifest/policy.h"
#include "common/manifest/trust_store.h"
#include "common/manifest/verifier.h"
#include "common/status/reason.h"
#include "test/fuzz/invariant.h"
#include "test/fuzz/manifest_invariants.h"

namespace {

using ota::fuzz::Require;
namespace common = ota::common;

struct Fixture {
  common::EcdsaP256PrivateKey key;
  common::TrustStore trust;
};

const Fixture& GetFixture() {
  static const Fixture* const fixture = [] {
    absl::StatusOr<common::EcdsaP256PrivateKey> key =
        common::EcdsaP256PrivateKey::Generate();
    Require(key.ok(), "no key");
    auto* f = new Fixture{*key, {}};
    f->trust.AddKey(key->PublicKey(), 0, 0, "fuzz");
    return f;
  }();
  return *fixture;
}

// Devices that take the manifest's own vendor and class, so that the policy
// goes past its first checks; their sequence, image and sizes vary.
std::vector<common::DeviceState> Devices(const ota::v1::Manifest& m) {
  common::DeviceState base;
  base.vendor_id = m.vendor_id();
  base.class_id = m.class_id();
  base.device_id = m.device_ids_size() > 0 ? m.device_ids(0) : "device-0001";
  std::vector<common::DeviceState> devices(4, base);
  devices[0].installed_sequence = 10;
  devices[1].installed_sequence = m.sequence_number() + 1;  // may wrap to 0
  devices[1].installed_sha256 = m.payload().precursor_sha256();
  devices[2].installed_sequence = m.has_downgrade()
                                      ? m.downgrade().max_installed_sequence()
                                      : UINT64_MAX;
  devices[2].slot_size = 1 << 20;
  devices[2].max_payload_size = 1 << 20;
  devices[3].installed_sequence = m.sequence_number() - 1;
  devices[3].component = "rootfs";
  devices[3].slot_size = m.payload().size();
  return devices;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ota::v1::SignedManifest unsigned_envelope;
  unsigned_envelope.set_manifest(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ota::v1::Manifest> m =
      common::ParseManifestBody(unsigned_envelope);
  if (!m.ok()) {
    Require(m.status().code() == absl::StatusCode::kInvalidArgument &&
                common::ReasonOf(m.status()) != ota::v1::REASON_UNSPECIFIED,
            "a refusal without INVALID_ARGUMENT and a reason",
            m.status().ToString());
    return 0;
  }
  ota::fuzz::CheckAcceptedManifest(*m);

  // What a signer makes of it must verify and give the same manifest.
  const Fixture& f = GetFixture();
  absl::StatusOr<ota::v1::SignedManifest> signed_manifest =
      common::SignManifest(*m, {&f.key});
  Require(signed_manifest.ok(), "the signer refuses an accepted manifest",
          signed_manifest.status().ToString());
  absl::StatusOr<common::VerifiedManifest> verified = common::VerifyManifest(
      signed_manifest->SerializeAsString(), f.trust, /*now_unix=*/0);
  Require(verified.ok(), "a freshly signed manifest does not verify",
          verified.status().ToString());
  Require(verified->manifest.SerializeAsString() == m->SerializeAsString(),
          "the verified manifest differs from the signed one");

  for (int64_t now : {int64_t{0}, m->created_unix(), m->expires_unix() - 1}) {
    for (const common::DeviceState& device : Devices(*m)) {
      absl::Status applicable = common::CheckApplicable(*m, device, now);
      if (applicable.ok()) {
        ota::fuzz::CheckApplicableManifest(*m, device, now);
      } else {
        Require(applicable.code() == absl::StatusCode::kFailedPrecondition &&
                    common::ReasonOf(applicable) != ota::v1::REASON_UNSPECIFIED,
                "a policy refusal without FAILED_PRECONDITION and a reason",
                applicable.ToString());
      }
    }
  }
  return 0;
}
