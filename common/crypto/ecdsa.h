// ECDSA over NIST P-256 with SHA-256: key generation, PEM/DER, signing and
// verification with DER-encoded signatures. OpenSSL 3 stands behind it; the
// header names no OpenSSL type.
//
//   auto key = ota::common::EcdsaP256PrivateKey::Generate();
//   absl::StatusOr<std::string> sig = key->Sign(message);
//   absl::Status ok = key->PublicKey().Verify(message, *sig);
#ifndef OTA_COMMON_CRYPTO_ECDSA_H_
#define OTA_COMMON_CRYPTO_ECDSA_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ota::common {

namespace internal {
struct Pkey;  // Owns the library's key object.
}  // namespace internal

// A P-256 public key. Immutable; copies share the key.
class EcdsaP256PublicKey {
 public:
  // Parses a SubjectPublicKeyInfo in DER. INVALID_ARGUMENT when it does not
  // parse or is not an EC key on P-256.
  static absl::StatusOr<EcdsaP256PublicKey> FromDer(absl::string_view spki_der);

  // Parses a PEM "PUBLIC KEY" block; errors as FromDer.
  static absl::StatusOr<EcdsaP256PublicKey> FromPem(absl::string_view pem);

  // The SubjectPublicKeyInfo DER encoding.
  const std::string& der() const { return der_; }

  // The key's id: lowercase hex SHA-256 of der(). Manifests name signing
  // keys by it.
  std::string KeyId() const;

  // OK when `der_signature` is a valid ECDSA-SHA256 signature of `message`
  // by this key. DATA_LOSS when it is well-formed but does not verify (the
  // message or the signature was altered); INVALID_ARGUMENT when it is not
  // a DER ECDSA-Sig-Value at all.
  absl::Status Verify(absl::string_view message,
                      absl::string_view der_signature) const;

  // The library object, for the X.509 code in this folder only.
  const internal::Pkey& pkey() const { return *pkey_; }

 private:
  friend class EcdsaP256PrivateKey;
  friend class Certificate;
  EcdsaP256PublicKey(std::shared_ptr<const internal::Pkey> pkey,
                     std::string der);

  std::shared_ptr<const internal::Pkey> pkey_;
  std::string der_;
};

// A P-256 private key. Immutable; copies share the key.
class EcdsaP256PrivateKey {
 public:
  // A fresh key from the library's CSPRNG. INTERNAL only if the library
  // fails.
  static absl::StatusOr<EcdsaP256PrivateKey> Generate();

  // Parses a PEM private key (PKCS#8 "PRIVATE KEY" or SEC1 "EC PRIVATE
  // KEY", unencrypted). INVALID_ARGUMENT when it does not parse or is not
  // on P-256.
  static absl::StatusOr<EcdsaP256PrivateKey> FromPem(absl::string_view pem);

  // PKCS#8 PEM, unencrypted. Whoever writes it to disk sets the file mode.
  std::string ToPem() const;

  // The matching public key.
  EcdsaP256PublicKey PublicKey() const;

  // A DER ECDSA-Sig-Value over SHA-256(message). Signatures are randomized:
  // two calls give different bytes, both valid.
  absl::StatusOr<std::string> Sign(absl::string_view message) const;

  // The library object, for the X.509 code in this folder only.
  const internal::Pkey& pkey() const { return *pkey_; }

 private:
  explicit EcdsaP256PrivateKey(std::shared_ptr<const internal::Pkey> pkey);

  std::shared_ptr<const internal::Pkey> pkey_;
};

}  // namespace ota::common

#endif  // OTA_COMMON_CRYPTO_ECDSA_H_
