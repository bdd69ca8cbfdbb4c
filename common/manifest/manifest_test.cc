// Sign, parse, verify and policy, one test per rejection reason.
#include <cstdint>
#include <string>

#include "common/crypto/ecdsa.h"
#include "common/crypto/sha256.h"
#include "common/manifest/manifest.h"
#include "common/manifest/payload_digest.h"
#include "common/manifest/policy.h"
#include "common/manifest/uuid.h"
#include "common/manifest/verifier.h"
#include "common/status/reason.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ota::common {
namespace {

using ::ota::testing::IsOk;
using ::ota::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ota::v1::Manifest;
using ota::v1::SignedManifest;

constexpr int64_t kNow = 1800000000;

// The reason of a failed result, or REASON_UNSPECIFIED.
template <typename T>
ota::v1::ReasonCode Reason(const absl::StatusOr<T>& r) {
  return ReasonOf(r.status());
}
ota::v1::ReasonCode Reason(const absl::Status& s) { return ReasonOf(s); }

class ManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_ = *EcdsaP256PrivateKey::Generate();
    other_ = *EcdsaP256PrivateKey::Generate();
    trust_.AddKey(key_.PublicKey(), 0, 0, "release key");
    vendor_ = Uuid5(kDnsNamespaceUuid, "example.com");
    class_ = Uuid5(vendor_, "gw-3610");
    payload_ = std::string(10000, 'p');
    device_.device_id = "dev-1";
    device_.vendor_id = vendor_;
    device_.class_id = class_;
    device_.installed_sequence = 5;
    device_.installed_sha256 = Sha256Digest("old image");
  }

  Manifest Valid() {
    Manifest m;
    m.set_format_version(kManifestFormatVersion);
    m.set_sequence_number(10);
    m.set_vendor_id(vendor_);
    m.set_class_id(class_);
    m.set_created_unix(kNow - 100);
    m.set_component("rootfs");
    m.set_version("2.0.0");
    PayloadHasher h(4096);
    h.Update(payload_);
    ota::v1::Payload* p = m.mutable_payload();
    SetPayloadDigests(h.Finish(), p);
    p->add_uris("http://origin/payload.bin");
    p->set_format(ota::v1::PAYLOAD_FORMAT_FULL);
    return m;
  }

  SignedManifest Sign(const Manifest& m) {
    absl::StatusOr<SignedManifest> sm = SignManifest(m, {&key_});
    EXPECT_THAT(sm, IsOk());
    return *sm;
  }

  absl::StatusOr<VerifiedManifest> Verify(const SignedManifest& sm) {
    return VerifyManifest(sm.SerializeAsString(), trust_, kNow);
  }

  EcdsaP256PrivateKey key_ = *EcdsaP256PrivateKey::Generate();
  EcdsaP256PrivateKey other_ = *EcdsaP256PrivateKey::Generate();
  TrustStore trust_;
  std::string vendor_, class_, payload_;
  DeviceState device_;
};

TEST_F(ManifestTest, ValidManifestVerifiesAndApplies) {
  SignedManifest sm = Sign(Valid());
  ASSERT_OK_AND_ASSIGN(VerifiedManifest v, Verify(sm));
  EXPECT_EQ(v.manifest.sequence_number(), 10u);
  EXPECT_THAT(v.key_ids, ElementsAre(key_.PublicKey().KeyId()));
  EXPECT_EQ(v.signed_manifest.manifest(), sm.manifest());
  EXPECT_THAT(CheckApplicable(v.manifest, device_, kNow), IsOk());
}

TEST_F(ManifestTest, SignatureCoversExactSerializedBytes) {
  SignedManifest sm = Sign(Valid());
  EXPECT_EQ(sm.manifest(), Valid().SerializeAsString());
  EXPECT_EQ(sm.signatures(0).algorithm(), ota::v1::ECDSA_P256_SHA256);
  EXPECT_THAT(key_.PublicKey().Verify(sm.manifest(), sm.signatures(0).signature()),
              IsOk());
}

TEST_F(ManifestTest, Empty) {
  auto r = VerifyManifest("", trust_, kNow);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument,
                          "the manifest is empty (0 bytes)"));
  EXPECT_EQ(Reason(r), ota::v1::REASON_EMPTY);
}

TEST_F(ManifestTest, OversizedRefusedBeforeParsing) {
  std::string big(kMaxSignedManifestSize + 1, '\xff');
  auto r = VerifyManifest(big, trust_, kNow);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("at most 262144 allowed")));
  EXPECT_EQ(Reason(r), ota::v1::REASON_TOO_LARGE);
}

TEST_F(ManifestTest, Truncated) {
  std::string bytes = Sign(Valid()).SerializeAsString();
  auto r = VerifyManifest(bytes.substr(0, bytes.size() / 2), trust_, kNow);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("truncated or corrupt")));
  EXPECT_EQ(Reason(r), ota::v1::REASON_MALFORMED);
}

TEST_F(ManifestTest, NoSignature) {
  SignedManifest sm = Sign(Valid());
  sm.clear_signatures();
  auto r = Verify(sm);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument,
                          "the manifest carries no signature"));
  EXPECT_EQ(Reason(r), ota::v1::REASON_SIGNATURE_MISSING);
}

TEST_F(ManifestTest, UnsupportedAlgorithm) {
  SignedManifest sm = Sign(Valid());
  sm.mutable_signatures(0)->set_algorithm(
      static_cast<ota::v1::SignatureAlgorithm>(7));
  auto r = Verify(sm);
  EXPECT_EQ(Reason(r), ota::v1::REASON_UNSUPPORTED_ALGORITHM);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument,
                          HasSubstr("uses algorithm 7")));
}

TEST_F(ManifestTest, FlippedManifestByteIsSignatureInvalid) {
  SignedManifest sm = Sign(Valid());
  std::string* bytes = sm.mutable_manifest();
  (*bytes)[bytes->size() / 2] ^= 0x01;
  auto r = Verify(sm);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kDataLoss,
                          HasSubstr("does not verify over the manifest")));
  EXPECT_EQ(Reason(r), ota::v1::REASON_SIGNATURE_INVALID);
}

TEST_F(ManifestTest, FlippedSignatureByteIsSignatureInvalid) {
  SignedManifest sm = Sign(Valid());
  std::string* sig = sm.mutable_signatures(0)->mutable_signature();
  (*sig)[sig->size() - 3] ^= 0x01;
  auto r = Verify(sm);
  EXPECT_EQ(Reason(r), ota::v1::REASON_SIGNATURE_INVALID);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(ManifestTest, SignatureOverOtherBytes) {
  SignedManifest sm = Sign(Valid());
  Manifest other = Valid();
  other.set_sequence_number(11);
  SignedManifest other_sm = Sign(other);
  sm.mutable_signatures(0)->set_signature(other_sm.signatures(0).signature());
  auto r = Verify(sm);
  EXPECT_EQ(Reason(r), ota::v1::REASON_SIGNATURE_INVALID);
}

TEST_F(ManifestTest, UnknownKey) {
  absl::StatusOr<SignedManifest> sm = SignManifest(Valid(), {&other_});
  ASSERT_THAT(sm, IsOk());
  auto r = Verify(*sm);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kPermissionDenied,
                          "no signature is by a trusted key (signed by " +
                              other_.PublicKey().KeyId() + ")"));
  EXPECT_EQ(Reason(r), ota::v1::REASON_UNKNOWN_KEY);
}

TEST_F(ManifestTest, UnknownSignatureBesideTrustedOneIsIgnored) {
  absl::StatusOr<SignedManifest> sm = SignManifest(Valid(), {&other_, &key_});
  ASSERT_THAT(sm, IsOk());
  ASSERT_OK_AND_ASSIGN(VerifiedManifest v, Verify(*sm));
  EXPECT_THAT(v.key_ids, ElementsAre(key_.PublicKey().KeyId()));
}

TEST_F(ManifestTest, RevokedKey) {
  ASSERT_THAT(trust_.Revoke(key_.PublicKey().KeyId()), IsOk());
  auto r = Verify(Sign(Valid()));
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("is revoked")));
  EXPECT_EQ(Reason(r), ota::v1::REASON_CERTIFICATE_INVALID);
}

TEST_F(ManifestTest, ExpiredKey) {
  trust_.AddKey(key_.PublicKey(), 0, kNow - 1, "old key");
  auto r = Verify(Sign(Valid()));
  EXPECT_EQ(Reason(r), ota::v1::REASON_CERTIFICATE_INVALID);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kPermissionDenied,
                          HasSubstr("is valid only from 0 to 1799999999")));
}

TEST_F(ManifestTest, ThresholdNeedsDistinctKeys) {
  trust_.AddKey(other_.PublicKey(), 0, 0, "second key");
  trust_.set_threshold(2);
  SignedManifest once = Sign(Valid());
  ASSERT_THAT(AddSignature(key_, &once), IsOk());  // same key twice
  auto r = Verify(once);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kPermissionDenied,
                          "1 trusted key(s) signed, 2 required"));
  EXPECT_EQ(Reason(r), ota::v1::REASON_SIGNATURE_THRESHOLD);

  SignedManifest both = Sign(Valid());
  ASSERT_THAT(AddSignature(other_, &both), IsOk());
  ASSERT_OK_AND_ASSIGN(VerifiedManifest v, Verify(both));
  EXPECT_EQ(v.key_ids.size(), 2u);
}

TEST_F(ManifestTest, UnsupportedFormatVersionRefusedAtSigning) {
  Manifest m = Valid();
  m.set_format_version(2);
  auto r = SignManifest(m, {&key_});
  EXPECT_EQ(Reason(r), ota::v1::REASON_UNSUPPORTED_VERSION);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument,
                          "format_version 2 is not supported (this reader knows 1)"));
}

TEST_F(ManifestTest, SignedButInvalidBodyIsRefusedAfterVerification) {
  // A signer that bypasses SignManifest's validation still gets refused.
  Manifest m = Valid();
  m.set_vendor_id("short");
  SignedManifest sm;
  sm.set_manifest(m.SerializeAsString());
  ASSERT_THAT(AddSignature(key_, &sm), IsOk());
  auto r = Verify(sm);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument,
                          "field vendor_id: is 5 bytes, want 16"));
  EXPECT_EQ(Reason(r), ota::v1::REASON_INVALID_FIELD);
}

TEST_F(ManifestTest, FieldValidationNamesTheField) {
  struct Case {
    std::function<void(Manifest*)> mutate;
    std::string message;
  };
  std::vector<Case> cases = {
      {[](Manifest* m) { m->set_sequence_number(0); }, "field sequence_number: is zero"},
      {[](Manifest* m) { m->set_class_id(""); }, "field class_id: is 0 bytes, want 16"},
      {[](Manifest* m) { m->clear_payload(); }, "field payload: is missing"},
      {[](Manifest* m) { m->mutable_payload()->set_sha256("x"); },
       "field payload.sha256: is 1 bytes, want 32"},
      {[](Manifest* m) { m->mutable_payload()->set_chunk_size(100); },
       "field payload.chunk_size: 100 is outside 4096..67108864"},
      {[](Manifest* m) { m->mutable_payload()->mutable_chunk_sha256()->RemoveLast(); },
       "field payload.chunk_sha256: has 2 entries, size and chunk_size need 3"},
      {[](Manifest* m) { m->mutable_payload()->clear_uris(); },
       "field payload.uris: is empty"},
      {[](Manifest* m) { m->mutable_payload()->set_format(ota::v1::PAYLOAD_FORMAT_ZSTD_DELTA); },
       "field payload.precursor_sha256: is 0 bytes, want 32"},
      {[](Manifest* m) { m->mutable_payload()->set_precursor_sha256(std::string(32, 'a')); },
       "field payload.precursor_sha256: is set on a full image"},
      {[](Manifest* m) { m->set_expires_unix(m->created_unix()); },
       "field expires_unix: is not after created_unix"},
      {[](Manifest* m) { m->mutable_downgrade()->set_reason("x"); },
       "field downgrade.max_installed_sequence: is zero"},
      {[](Manifest* m) { m->add_device_ids(""); }, "field device_ids[0]: is empty"},
  };
  for (const Case& c : cases) {
    Manifest m = Valid();
    c.mutate(&m);
    absl::Status s = ValidateManifestFields(m);
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, c.message));
    EXPECT_EQ(ReasonOf(s), ota::v1::REASON_INVALID_FIELD) << c.message;
  }
}

TEST_F(ManifestTest, ChunkCountOfAHugeSizeDoesNotWrap) {
  // size + chunk_size - 1 wrapped, so a payload of 2^64 - 1 bytes with no
  // chunk digests at all was accepted (the manifest_body fuzz target's
  // invariant; test/fuzz/corpus/manifest_body/chunk_count_wraps).
  Manifest m = Valid();
  m.mutable_payload()->set_size(UINT64_MAX);
  m.mutable_payload()->set_chunk_size(4096);
  m.mutable_payload()->clear_chunk_sha256();
  absl::Status s = ValidateManifestFields(m);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          "field payload.chunk_sha256: has 0 entries, size and "
                          "chunk_size need 4503599627370496"));
  EXPECT_EQ(ReasonOf(s), ota::v1::REASON_INVALID_FIELD);
}

// Policy: one test per reason, each against an otherwise valid manifest.
class PolicyTest : public ManifestTest {
 protected:
  absl::Status Check(const Manifest& m) { return CheckApplicable(m, device_, kNow); }
};

TEST_F(PolicyTest, WrongVendor) {
  Manifest m = Valid();
  m.set_vendor_id(Uuid5(kDnsNamespaceUuid, "other.com"));
  absl::Status s = Check(m);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition,
                          HasSubstr("the device is of vendor cfbff0d1-9375-5685-968c-48ce8b15ae17")));
  EXPECT_EQ(Reason(s), ota::v1::REASON_VENDOR_MISMATCH);
}

TEST_F(PolicyTest, WrongClass) {
  Manifest m = Valid();
  m.set_class_id(Uuid5(vendor_, "other-model"));
  EXPECT_EQ(Reason(Check(m)), ota::v1::REASON_CLASS_MISMATCH);
}

TEST_F(PolicyTest, DeviceList) {
  Manifest m = Valid();
  m.add_device_ids("dev-2");
  absl::Status s = Check(m);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition,
                          "manifest lists 1 device(s) and not dev-1"));
  EXPECT_EQ(Reason(s), ota::v1::REASON_DEVICE_MISMATCH);
  m.add_device_ids("dev-1");
  EXPECT_THAT(Check(m), IsOk());
}

TEST_F(PolicyTest, Component) {
  device_.component = "bootloader";
  EXPECT_EQ(Reason(Check(Valid())), ota::v1::REASON_COMPONENT_MISMATCH);
}

TEST_F(PolicyTest, Expired) {
  Manifest m = Valid();
  m.set_expires_unix(kNow);
  absl::Status s = Check(m);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition,
                          "manifest expired at 1800000000 (now 1800000000)"));
  EXPECT_EQ(Reason(s), ota::v1::REASON_EXPIRED);
  m.set_expires_unix(kNow + 1);
  EXPECT_THAT(Check(m), IsOk());
}

TEST_F(PolicyTest, OlderSequenceIsRollback) {
  Manifest m = Valid();
  m.set_sequence_number(4);
  absl::Status s = Check(m);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition,
                          "sequence number 4 is below the installed 5 and no "
                          "downgrade is authorized"));
  EXPECT_EQ(Reason(s), ota::v1::REASON_ROLLBACK);
}

TEST_F(PolicyTest, EqualSequenceIsNotNewer) {
  Manifest m = Valid();
  m.set_sequence_number(5);
  EXPECT_EQ(Reason(Check(m)), ota::v1::REASON_SEQUENCE_NOT_NEWER);
}

TEST_F(PolicyTest, AuthorizedDowngrade) {
  Manifest m = Valid();
  m.set_sequence_number(3);
  m.mutable_downgrade()->set_max_installed_sequence(5);
  EXPECT_THAT(Check(m), IsOk());
  m.mutable_downgrade()->set_max_installed_sequence(4);
  absl::Status s = Check(m);
  EXPECT_EQ(Reason(s), ota::v1::REASON_DOWNGRADE_NOT_AUTHORIZED);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition,
                          HasSubstr("up to 4, the device runs 5")));
}

TEST_F(PolicyTest, DeltaPrecursor) {
  Manifest m = Valid();
  m.mutable_payload()->set_format(ota::v1::PAYLOAD_FORMAT_ZSTD_DELTA);
  m.mutable_payload()->set_precursor_sha256(Sha256Digest("another image"));
  EXPECT_EQ(Reason(Check(m)), ota::v1::REASON_PRECURSOR_MISMATCH);
  m.mutable_payload()->set_precursor_sha256(device_.installed_sha256);
  EXPECT_THAT(Check(m), IsOk());
  device_.installed_sha256.clear();
  EXPECT_THAT(Check(m), StatusIs(absl::StatusCode::kFailedPrecondition,
                                 HasSubstr("the device runs an unknown image")));
}

TEST_F(PolicyTest, PayloadAndSlotLimits) {
  device_.max_payload_size = 9999;
  absl::Status s = Check(Valid());
  EXPECT_EQ(Reason(s), ota::v1::REASON_PAYLOAD_TOO_LARGE);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition,
                          "payload is 10000 bytes, the device accepts at most 9999"));
  device_.max_payload_size = 0;
  device_.slot_size = 8192;
  EXPECT_THAT(Check(Valid()), StatusIs(absl::StatusCode::kFailedPrecondition,
                                       "image needs 10000 bytes, the slot holds 8192"));
}

}  // namespace
}  // namespace ota::common
