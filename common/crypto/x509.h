// X.509 update certificates: load (DER or PEM), read the fields a trust
// decision needs, make self-signed ones (`ota-manifest init`), and issue
// ones from a CA key. OpenSSL 3 stands behind it.
//
//   absl::StatusOr<ota::common::Certificate> cert =
//       ota::common::Certificate::Parse(file_bytes);
//   absl::StatusOr<ota::common::EcdsaP256PublicKey> key = cert->PublicKey();
#ifndef OTA_COMMON_CRYPTO_X509_H_
#define OTA_COMMON_CRYPTO_X509_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/crypto/ecdsa.h"

namespace ota::common {

// What a new certificate says about its subject and lifetime.
struct CertificateSpec {
  // CN of the subject.
  std::string common_name;
  // O of the subject; omitted when empty.
  std::string organization;
  // Validity window, Unix seconds.
  int64_t not_before_unix = 0;
  int64_t not_after_unix = 0;
  // True for a CA (basicConstraints CA:TRUE, keyCertSign).
  bool is_ca = false;
};

// An immutable, parsed X.509 certificate.
class Certificate {
 public:
  // Parses DER. INVALID_ARGUMENT when it does not parse or has trailing
  // bytes.
  static absl::StatusOr<Certificate> FromDer(absl::string_view der);

  // Parses the first PEM "CERTIFICATE" block. INVALID_ARGUMENT when there
  // is none.
  static absl::StatusOr<Certificate> FromPem(absl::string_view pem);

  // PEM when `bytes` starts with "-----BEGIN", DER otherwise.
  static absl::StatusOr<Certificate> Parse(absl::string_view bytes);

  // A certificate for `subject_key`, signed by `issuer_key`, naming `issuer`
  // as its issuer (or itself when `issuer` is null: self-signed). The serial
  // is 128 random bits.
  static absl::StatusOr<Certificate> Issue(const CertificateSpec& spec,
                                           const EcdsaP256PublicKey& subject_key,
                                           const EcdsaP256PrivateKey& issuer_key,
                                           const Certificate* issuer);

  // A self-signed certificate for `key`.
  static absl::StatusOr<Certificate> SelfSigned(const CertificateSpec& spec,
                                                const EcdsaP256PrivateKey& key);

  // The DER encoding.
  const std::string& der() const { return der_; }

  // PEM encoding of der().
  std::string ToPem() const;

  // SHA-256 of der(), 32 raw bytes.
  std::string Fingerprint() const;

  // The subject in RFC 2253 form, for example "CN=gw-3610,O=example.com".
  const std::string& subject() const { return subject_; }

  // The issuer in RFC 2253 form.
  const std::string& issuer() const { return issuer_; }

  // The subject's CN, or empty.
  const std::string& common_name() const { return common_name_; }

  // The serial number, lowercase hex without leading zeros.
  const std::string& serial_hex() const { return serial_hex_; }
  // Validity window, Unix seconds.
  int64_t not_before_unix() const { return not_before_unix_; }
  int64_t not_after_unix() const { return not_after_unix_; }

  // The subject's public key. INVALID_ARGUMENT when it is not a P-256 key.
  absl::StatusOr<EcdsaP256PublicKey> PublicKey() const;

  // OK when `issuer_key` made this certificate's signature; DATA_LOSS
  // otherwise.
  absl::Status VerifySignedBy(const EcdsaP256PublicKey& issuer_key) const;

  // OK when `now_unix` lies within the validity window;
  // FAILED_PRECONDITION naming the bound otherwise.
  absl::Status CheckValidAt(int64_t now_unix) const;

 private:
  Certificate() = default;

  std::string der_;
  std::string subject_;
  std::string issuer_;
  std::string common_name_;
  std::string serial_hex_;
  int64_t not_before_unix_ = 0;
  int64_t not_after_unix_ = 0;
};

// A PKCS#10 certificate signing request whose self-signature verified.
struct CertificateRequest {
  // The subject's CN, or empty.
  std::string common_name;
  EcdsaP256PublicKey public_key;
};

// Parses a PEM "CERTIFICATE REQUEST" and checks its self-signature.
// INVALID_ARGUMENT when it does not parse, its signature does not verify,
// or its key is not P-256.
absl::StatusOr<CertificateRequest> ParseCertificateRequest(absl::string_view pem);

}  // namespace ota::common

#endif  // OTA_COMMON_CRYPTO_X509_H_
