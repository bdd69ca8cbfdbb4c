// EcdsaP256PublicKey and EcdsaP256PrivateKey on OpenSSL 3.
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/base/check.h"
#include "common/crypto/bytes.h"
#include "common/crypto/ecdsa.h"
#include "common/crypto/openssl_pkey.h"
#include "common/crypto/sha256.h"

namespace ota::common {
namespace internal {

std::string OpensslError() {
  unsigned long code = ERR_get_error();
  if (code == 0) return "no detail";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  ERR_clear_error();
  return buf;
}

}  // namespace internal

namespace {

using internal::OpensslError;
using internal::Pkey;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};

// OK when `pkey` is an EC key on P-256; a key on another curve or of
// another type is refused so that a manifest cannot pick a weaker algorithm.
absl::Status CheckP256(EVP_PKEY* pkey) {
  if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC) {
    return absl::InvalidArgumentError("key is not an EC key");
  }
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                     sizeof(group), &len) != 1) {
    return absl::InvalidArgumentError("EC key has no named curve");
  }
  if (absl::string_view(group, len) != "prime256v1") {
    return absl::InvalidArgumentError(
        absl::StrCat("EC key is on curve ", absl::string_view(group, len),
                     ", not P-256"));
  }
  return absl::OkStatus();
}

std::string SpkiDer(EVP_PKEY* pkey) {
  unsigned char* buf = nullptr;
  int len = i2d_PUBKEY(pkey, &buf);
  OTA_CHECK(len > 0);
  std::string der(reinterpret_cast<char*>(buf), len);
  OPENSSL_free(buf);
  return der;
}

}  // namespace

EcdsaP256PublicKey::EcdsaP256PublicKey(std::shared_ptr<const Pkey> pkey,
                                       std::string der)
    : pkey_(std::move(pkey)), der_(std::move(der)) {}

absl::StatusOr<EcdsaP256PublicKey> EcdsaP256PublicKey::FromDer(
    absl::string_view spki_der) {
  const unsigned char* p =
      reinterpret_cast<const unsigned char*>(spki_der.data());
  EVP_PKEY* raw = d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size()));
  if (raw == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("public key does not parse as DER SubjectPublicKeyInfo: ",
                     OpensslError()));
  }
  auto pkey = std::make_shared<const Pkey>(raw);
  if (p != reinterpret_cast<const unsigned char*>(spki_der.data()) +
               spki_der.size()) {
    return absl::InvalidArgumentError("public key has trailing bytes");
  }
  if (absl::Status s = CheckP256(raw); !s.ok()) return s;
  return EcdsaP256PublicKey(std::move(pkey), SpkiDer(raw));
}

absl::StatusOr<EcdsaP256PublicKey> EcdsaP256PublicKey::FromPem(
    absl::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* raw = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (raw == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "public key does not parse as PEM: ", OpensslError()));
  }
  auto pkey = std::make_shared<const Pkey>(raw);
  if (absl::Status s = CheckP256(raw); !s.ok()) return s;
  return EcdsaP256PublicKey(std::move(pkey), SpkiDer(raw));
}

std::string EcdsaP256PublicKey::KeyId() const {
  return HexEncode(Sha256Digest(der_));
}

absl::Status EcdsaP256PublicKey::Verify(absl::string_view message,
                                        absl::string_view der_signature) const {
  // Parse the signature first so that garbage is told apart from a
  // well-formed signature that does not match.
  const unsigned char* p =
      reinterpret_cast<const unsigned char*>(der_signature.data());
  ECDSA_SIG* sig =
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_signature.size()));
  if (sig == nullptr ||
      p != reinterpret_cast<const unsigned char*>(der_signature.data()) +
               der_signature.size()) {
    ECDSA_SIG_free(sig);
    ERR_clear_error();
    return absl::InvalidArgumentError("signature is not DER ECDSA-Sig-Value");
  }
  ECDSA_SIG_free(sig);

  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  OTA_CHECK(ctx != nullptr);
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                           pkey_->pkey) != 1) {
    return absl::InternalError(
        absl::StrCat("cannot start verification: ", OpensslError()));
  }
  int rc = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(der_signature.data()),
      der_signature.size(),
      reinterpret_cast<const unsigned char*>(message.data()), message.size());
  ERR_clear_error();
  if (rc != 1) {
    return absl::DataLossError(
        absl::StrCat("ECDSA signature does not verify with key ", KeyId()));
  }
  return absl::OkStatus();
}

EcdsaP256PrivateKey::EcdsaP256PrivateKey(std::shared_ptr<const Pkey> pkey)
    : pkey_(std::move(pkey)) {}

absl::StatusOr<EcdsaP256PrivateKey> EcdsaP256PrivateKey::Generate() {
  EVP_PKEY* raw = EVP_EC_gen("P-256");
  if (raw == nullptr) {
    return absl::InternalError(
        absl::StrCat("P-256 key generation failed: ", OpensslError()));
  }
  return EcdsaP256PrivateKey(std::make_shared<const Pkey>(raw));
}

absl::StatusOr<EcdsaP256PrivateKey> EcdsaP256PrivateKey::FromPem(
    absl::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  if (raw == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "private key does not parse as unencrypted PEM: ", OpensslError()));
  }
  auto pkey = std::make_shared<const Pkey>(raw);
  if (absl::Status s = CheckP256(raw); !s.ok()) return s;
  return EcdsaP256PrivateKey(std::move(pkey));
}

std::string EcdsaP256PrivateKey::ToPem() const {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  OTA_CHECK(PEM_write_bio_PrivateKey(bio.get(), pkey_->pkey, nullptr, nullptr,
                                     0, nullptr, nullptr) == 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, len);
}

EcdsaP256PublicKey EcdsaP256PrivateKey::PublicKey() const {
  std::string der = SpkiDer(pkey_->pkey);
  auto pub = EcdsaP256PublicKey::FromDer(der);
  OTA_CHECK(pub.ok());
  return *std::move(pub);
}

absl::StatusOr<std::string> EcdsaP256PrivateKey::Sign(
    absl::string_view message) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  OTA_CHECK(ctx != nullptr);
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr,
                         pkey_->pkey) != 1) {
    return absl::InternalError(
        absl::StrCat("cannot start signing: ", OpensslError()));
  }
  size_t len = 0;
  const auto* msg = reinterpret_cast<const unsigned char*>(message.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, msg, message.size()) != 1) {
    return absl::InternalError(absl::StrCat("signing failed: ", OpensslError()));
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()),
                     &len, msg, message.size()) != 1) {
    return absl::InternalError(absl::StrCat("signing failed: ", OpensslError()));
  }
  sig.resize(len);
  return sig;
}

}  // namespace ota::common
