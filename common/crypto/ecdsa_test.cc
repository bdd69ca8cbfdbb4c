#include "common/crypto/ecdsa.h"

#include <string>

#include "common/crypto/bytes.h"
#include "common/crypto/sha256.h"
#include "common/crypto/x509.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ota::common {
namespace {

using ::ota::testing::IsOk;
using ::ota::testing::StatusIs;
using ::testing::HasSubstr;

// A P-384 key (openssl ecparam -name secp384r1 -genkey | openssl pkey).
constexpr char kP384Pem[] = R"(-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDD1Hgy/QqZyWdyI+rTh
n8jr0vkNnqXN2pp9tCb6V9bN3O/I+Cin0RSW6mONYqQGZJChZANiAAQfC+wmXLOA
QwODbKNLBe/lpqhx9ATae5yg5hfLBeb2BtDNvt8WXFBDxiYjnhrKYzjsiQOHyu2g
kPph6s5uBnn4FlBOuMNQFzByWfyYhrTovQo4Ww2EJSAT7h4oNrnmcJ0=
-----END PRIVATE KEY-----
)";

TEST(EcdsaTest, SignVerifyRoundTrip) {
  ASSERT_OK_AND_ASSIGN(EcdsaP256PrivateKey key, EcdsaP256PrivateKey::Generate());
  ASSERT_OK_AND_ASSIGN(std::string sig, key.Sign("firmware"));
  EXPECT_THAT(key.PublicKey().Verify("firmware", sig), IsOk());
}

TEST(EcdsaTest, AlteredMessageIsDataLoss) {
  ASSERT_OK_AND_ASSIGN(EcdsaP256PrivateKey key, EcdsaP256PrivateKey::Generate());
  ASSERT_OK_AND_ASSIGN(std::string sig, key.Sign("firmware"));
  EXPECT_THAT(key.PublicKey().Verify("firmwarE", sig),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("does not verify with key " +
                                 key.PublicKey().KeyId())));
}

TEST(EcdsaTest, OtherKeyIsDataLoss) {
  ASSERT_OK_AND_ASSIGN(EcdsaP256PrivateKey a, EcdsaP256PrivateKey::Generate());
  ASSERT_OK_AND_ASSIGN(EcdsaP256PrivateKey b, EcdsaP256PrivateKey::Generate());
  ASSERT_OK_AND_ASSIGN(std::string sig, a.Sign("m"));
  EXPECT_THAT(b.PublicKey().Verify("m", sig),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("does not verify")));
}

TEST(EcdsaTest, GarbageSignatureIsInvalidArgument) {
  ASSERT_OK_AND_ASSIGN(EcdsaP256PrivateKey key, EcdsaP256PrivateKey::Generate());
  EXPECT_THAT(key.PublicKey().Verify("m", "not a signature"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "signature is not DER ECDSA-Sig-Value"));
  ASSERT_OK_AND_ASSIGN(std::string sig, key.Sign("m"));
  EXPECT_THAT(key.PublicKey().Verify("m", sig + "x"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "signature is not DER ECDSA-Sig-Value"));
}

TEST(EcdsaTest, PemRoundTripKeepsKey) {
  ASSERT_OK_AND_ASSIGN(EcdsaP256PrivateKey key, EcdsaP256PrivateKey::Generate());
  std::string pem = key.ToPem();
  EXPECT_THAT(pem, HasSubstr("-----BEGIN PRIVATE KEY-----"));
  ASSERT_OK_AND_ASSIGN(EcdsaP256PrivateKey again, EcdsaP256PrivateKey::FromPem(pem));
  EXPECT_EQ(again.PublicKey().der(), key.PublicKey().der());
  ASSERT_OK_AND_ASSIGN(std::string sig, again.Sign("m"));
  EXPECT_THAT(key.PublicKey().Verify("m", sig), IsOk());
}

TEST(EcdsaTest, KeyIdIsHexSha256OfSpki) {
  ASSERT_OK_AND_ASSIGN(EcdsaP256PrivateKey key, EcdsaP256PrivateKey::Generate());
  EcdsaP256PublicKey pub = key.PublicKey();
  EXPECT_EQ(pub.KeyId(), HexEncode(Sha256Digest(pub.der())));
  EXPECT_EQ(pub.KeyId().size(), 64u);
  ASSERT_OK_AND_ASSIGN(EcdsaP256PublicKey parsed, EcdsaP256PublicKey::FromDer(pub.der()));
  EXPECT_EQ(parsed.KeyId(), pub.KeyId());
}

TEST(EcdsaTest, RefusesOtherCurve) {
  EXPECT_THAT(EcdsaP256PrivateKey::FromPem(kP384Pem),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "EC key is on curve secp384r1, not P-256"));
}

TEST(EcdsaTest, RefusesGarbageKeys) {
  EXPECT_THAT(EcdsaP256PublicKey::FromDer("junk"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("does not parse as DER SubjectPublicKeyInfo")));
  EXPECT_THAT(EcdsaP256PrivateKey::FromPem("junk"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("does not parse as unencrypted PEM")));
}

TEST(CertificateTest, SelfSignedCarriesSpecAndKey) {
  ASSERT_OK_AND_ASSIGN(EcdsaP256PrivateKey key, EcdsaP256PrivateKey::Generate());
  CertificateSpec spec;
  spec.common_name = "gw-3610";
  spec.organization = "example.com";
  spec.not_before_unix = 1700000000;
  spec.not_after_unix = 2000000000;
  ASSERT_OK_AND_ASSIGN(Certificate cert, Certificate::SelfSigned(spec, key));
  EXPECT_EQ(cert.subject(), "CN=gw-3610,O=example.com");
  EXPECT_EQ(cert.common_name(), "gw-3610");
  EXPECT_EQ(cert.issuer(), cert.subject());
  EXPECT_EQ(cert.not_before_unix(), 1700000000);
  EXPECT_EQ(cert.not_after_unix(), 2000000000);
  ASSERT_OK_AND_ASSIGN(EcdsaP256PublicKey pub, cert.PublicKey());
  EXPECT_EQ(pub.der(), key.PublicKey().der());
  EXPECT_THAT(cert.VerifySignedBy(pub), IsOk());
  EXPECT_EQ(cert.Fingerprint(), Sha256Digest(cert.der()));

  ASSERT_OK_AND_ASSIGN(Certificate from_pem, Certificate::Parse(cert.ToPem()));
  EXPECT_EQ(from_pem.der(), cert.der());
  ASSERT_OK_AND_ASSIGN(Certificate from_der, Certificate::Parse(cert.der()));
  EXPECT_EQ(from_der.subject(), cert.subject());
}

TEST(CertificateTest, ValidityWindow) {
  ASSERT_OK_AND_ASSIGN(EcdsaP256PrivateKey key, EcdsaP256PrivateKey::Generate());
  CertificateSpec spec{"dev", "", 1000, 2000, false};
  ASSERT_OK_AND_ASSIGN(Certificate cert, Certificate::SelfSigned(spec, key));
  EXPECT_THAT(cert.CheckValidAt(1500), IsOk());
  EXPECT_THAT(cert.CheckValidAt(999),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "certificate CN=dev is not valid before 1000 (now 999)"));
  EXPECT_THAT(cert.CheckValidAt(2001),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "certificate CN=dev expired at 2000 (now 2001)"));
}

TEST(CertificateTest, IssuedByCaVerifiesOnlyWithCaKey) {
  ASSERT_OK_AND_ASSIGN(EcdsaP256PrivateKey ca_key, EcdsaP256PrivateKey::Generate());
  ASSERT_OK_AND_ASSIGN(EcdsaP256PrivateKey dev_key, EcdsaP256PrivateKey::Generate());
  ASSERT_OK_AND_ASSIGN(
      Certificate ca,
      Certificate::SelfSigned({"fleet-ca", "example.com", 0, 4000000000, true}, ca_key));
  ASSERT_OK_AND_ASSIGN(
      Certificate dev,
      Certificate::Issue({"device-1", "", 0, 4000000000, false},
                         dev_key.PublicKey(), ca_key, &ca));
  EXPECT_THAT(dev.VerifySignedBy(ca_key.PublicKey()), IsOk());
  EXPECT_THAT(dev.VerifySignedBy(dev_key.PublicKey()),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("is not signed by key")));
}

TEST(CertificateTest, RefusesGarbageAndTrailingBytes) {
  EXPECT_THAT(Certificate::Parse("junk"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("does not parse as DER X.509")));
  ASSERT_OK_AND_ASSIGN(EcdsaP256PrivateKey key, EcdsaP256PrivateKey::Generate());
  ASSERT_OK_AND_ASSIGN(Certificate cert,
                       Certificate::SelfSigned({"x", "", 0, 100, false}, key));
  EXPECT_THAT(Certificate::FromDer(cert.der() + "z"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "certificate has trailing bytes"));
}

}  // namespace
}  // namespace ota::common
