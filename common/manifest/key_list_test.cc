#include "common/manifest/key_list.h"

#include "common/manifest/manifest.h"
#include "common/manifest/verifier.h"
#include "common/status/reason.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ota::common {
namespace {

using ::ota::testing::IsOk;
using ::ota::testing::StatusIs;
using ::testing::HasSubstr;

constexpr int64_t kNow = 1800000000;

class KeyListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto* k : {&root_, &root2_, &update1_, &update2_, &update3_}) {
      auto g = EcdsaP256PrivateKey::Generate();
      ASSERT_TRUE(g.ok());
      k->emplace(*std::move(g));
    }
    roots_.AddKey(root_->PublicKey(), 0, 0, "root 1");
    roots_.AddKey(root2_->PublicKey(), 0, 0, "root 2");
  }

  static ota::v1::UpdateKey Key(const EcdsaP256PrivateKey& k, int64_t expires = 0) {
    ota::v1::UpdateKey u;
    u.set_key_id(k.PublicKey().KeyId());
    u.set_public_key_der(k.PublicKey().der());
    u.set_expires_unix(expires);
    u.set_description("release key");
    return u;
  }

  ota::v1::KeyList List(uint64_t version, uint32_t threshold = 1) {
    ota::v1::KeyList l;
    l.set_version(version);
    l.set_created_unix(kNow);
    *l.add_keys() = Key(*update1_);
    *l.add_keys() = Key(*update2_);
    l.set_threshold(threshold);
    return l;
  }

  // A manifest signed by `keys`.
  ota::v1::SignedManifest Manifest(std::vector<const EcdsaP256PrivateKey*> keys) {
    ota::v1::Manifest m;
    m.set_format_version(1);
    m.set_sequence_number(7);
    m.set_vendor_id(std::string(16, 'v'));
    m.set_class_id(std::string(16, 'c'));
    m.mutable_payload()->set_size(1);
    m.mutable_payload()->set_sha256(std::string(32, 'x'));
    m.mutable_payload()->set_chunk_size(4096);
    m.mutable_payload()->set_format(ota::v1::PAYLOAD_FORMAT_FULL);
    m.mutable_payload()->add_chunk_sha256(std::string(32, 'x'));
    m.mutable_payload()->add_uris("http://example.com/p");
    auto sm = SignManifest(m, keys);
    EXPECT_TRUE(sm.ok()) << sm.status();
    return *sm;
  }

  std::optional<EcdsaP256PrivateKey> root_, root2_, update1_, update2_, update3_;
  TrustStore roots_;
};

TEST_F(KeyListTest, SignedListReplacesTheTrustedKeys) {
  ASSERT_OK_AND_ASSIGN(auto signed_list, SignKeyList(List(2), {&*root_}));
  ASSERT_OK_AND_ASSIGN(ota::v1::KeyList list, VerifyKeyList(signed_list, roots_, 1, kNow));
  EXPECT_EQ(list.version(), 2u);
  ASSERT_OK_AND_ASSIGN(TrustStore trust, TrustStoreFromKeyList(list));
  EXPECT_THAT(VerifyManifest(Manifest({&*update1_}), trust, kNow), IsOk());
  EXPECT_THAT(VerifyManifest(Manifest({&*update3_}), trust, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("no signature is by a trusted key")));
  // Version 3 drops update1 (compromised) and adds update3.
  ota::v1::KeyList next = List(3);
  next.mutable_keys(0)->CopyFrom(Key(*update3_));
  ASSERT_OK_AND_ASSIGN(auto signed_next, SignKeyList(next, {&*root_}));
  ASSERT_OK_AND_ASSIGN(list, VerifyKeyList(signed_next, roots_, 2, kNow));
  ASSERT_OK_AND_ASSIGN(trust, TrustStoreFromKeyList(list));
  EXPECT_THAT(VerifyManifest(Manifest({&*update1_}), trust, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       HasSubstr("no signature is by a trusted key")));
  EXPECT_THAT(VerifyManifest(Manifest({&*update3_}), trust, kNow), IsOk());
  // The old list cannot come back.
  absl::StatusOr<ota::v1::KeyList> replay = VerifyKeyList(signed_list, roots_, 3, kNow);
  EXPECT_THAT(replay, StatusIs(absl::StatusCode::kFailedPrecondition,
                               "key list version 2 is not above the held version 3"));
  EXPECT_EQ(ReasonOf(replay.status()), ota::v1::REASON_ROLLBACK);
}

TEST_F(KeyListTest, RootSignaturesAreRequired) {
  ASSERT_OK_AND_ASSIGN(auto by_update_key, SignKeyList(List(2), {&*update1_}));
  auto s = VerifyKeyList(by_update_key, roots_, 1, kNow);
  EXPECT_EQ(ReasonOf(s.status()), ota::v1::REASON_UNKNOWN_KEY);

  ASSERT_OK_AND_ASSIGN(auto tampered, SignKeyList(List(2), {&*root_}));
  ota::v1::KeyList changed = List(2);
  *changed.add_keys() = Key(*update3_);
  tampered.set_key_list(changed.SerializeAsString());
  s = VerifyKeyList(tampered, roots_, 1, kNow);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kDataLoss, HasSubstr("does not verify over the key list")));
  EXPECT_EQ(ReasonOf(s.status()), ota::v1::REASON_SIGNATURE_INVALID);

  // Two roots must sign when the device's roots say so.
  TrustStore two = roots_;
  two.set_threshold(2);
  ASSERT_OK_AND_ASSIGN(auto one_root, SignKeyList(List(2), {&*root_}));
  s = VerifyKeyList(one_root, two, 1, kNow);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied, "1 trusted key(s) signed, 2 required"));
  ASSERT_OK_AND_ASSIGN(auto both, SignKeyList(List(2), {&*root_, &*root2_}));
  EXPECT_THAT(VerifyKeyList(both, two, 1, kNow), IsOk());
}

TEST_F(KeyListTest, ThresholdOfUpdateKeysAndExpiry) {
  ASSERT_OK_AND_ASSIGN(auto signed_list, SignKeyList(List(2, /*threshold=*/2), {&*root_}));
  ASSERT_OK_AND_ASSIGN(auto list, VerifyKeyList(signed_list, roots_, 0, kNow));
  ASSERT_OK_AND_ASSIGN(TrustStore trust, TrustStoreFromKeyList(list));
  EXPECT_THAT(VerifyManifest(Manifest({&*update1_}), trust, kNow),
              StatusIs(absl::StatusCode::kPermissionDenied, "1 trusted key(s) signed, 2 required"));
  EXPECT_THAT(VerifyManifest(Manifest({&*update1_, &*update2_}), trust, kNow), IsOk());

  ota::v1::KeyList stale = List(5);
  stale.set_expires_unix(kNow - 1);
  ASSERT_OK_AND_ASSIGN(auto signed_stale, SignKeyList(stale, {&*root_}));
  auto s = VerifyKeyList(signed_stale, roots_, 4, kNow);
  EXPECT_EQ(ReasonOf(s.status()), ota::v1::REASON_EXPIRED);

  // A key that expires stops counting.
  ota::v1::KeyList expiring = List(6);
  expiring.mutable_keys(0)->set_expires_unix(kNow + 10);
  ASSERT_OK_AND_ASSIGN(trust, TrustStoreFromKeyList(expiring));
  EXPECT_THAT(VerifyManifest(Manifest({&*update1_}), trust, kNow), IsOk());
  EXPECT_THAT(VerifyManifest(Manifest({&*update1_}), trust, kNow + 11),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("is valid only from")));
}

TEST_F(KeyListTest, BadListsAreNamed) {
  ota::v1::KeyList l = List(0);
  EXPECT_THAT(ValidateKeyList(l), StatusIs(absl::StatusCode::kInvalidArgument, "key_list.version is zero"));
  l = List(1, 3);
  EXPECT_THAT(ValidateKeyList(l),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "key_list.threshold 3 is not between 1 and 2 (the number of keys)"));
  l = List(1);
  l.mutable_keys(1)->set_key_id("00");
  EXPECT_THAT(ValidateKeyList(l), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("key_list.keys[1].key_id \"00\" is not the SHA-256")));
  l = List(1);
  *l.add_keys() = l.keys(0);
  EXPECT_THAT(ValidateKeyList(l), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("key_list.keys[2] repeats key")));
  l = List(1);
  l.mutable_keys(0)->set_public_key_der("junk");
  EXPECT_THAT(ValidateKeyList(l), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("key_list.keys[0].public_key_der")));
}

}  // namespace
}  // namespace ota::common
