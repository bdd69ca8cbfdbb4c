// Certificate on OpenSSL 3.
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/base/check.h"
#include "common/crypto/openssl_pkey.h"
#include "common/crypto/sha256.h"
#include "common/crypto/x509.h"

namespace ota::common {
namespace {

using internal::OpensslError;

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

absl::StatusOr<int64_t> AsnTimeToUnix(const ASN1_TIME* t) {
  struct tm tm = {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) {
    return absl::InvalidArgumentError("certificate has an unreadable time");
  }
  return static_cast<int64_t>(timegm(&tm));
}

std::string NameToString(const X509_NAME* name) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, len);
}

std::string CommonName(const X509_NAME* name) {
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return "";
  const ASN1_STRING* s =
      X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     ASN1_STRING_length(s));
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot build extension ", value, ": ", OpensslError()));
  }
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Certificate> Certificate::FromDer(absl::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509Ptr x509(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (x509 == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "certificate does not parse as DER X.509: ", OpensslError()));
  }
  if (p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return absl::InvalidArgumentError("certificate has trailing bytes");
  }
  Certificate cert;
  cert.der_ = std::string(der);
  cert.subject_ = NameToString(X509_get_subject_name(x509.get()));
  cert.issuer_ = NameToString(X509_get_issuer_name(x509.get()));
  cert.common_name_ = CommonName(X509_get_subject_name(x509.get()));
  absl::StatusOr<int64_t> nb = AsnTimeToUnix(X509_get0_notBefore(x509.get()));
  if (!nb.ok()) return nb.status();
  absl::StatusOr<int64_t> na = AsnTimeToUnix(X509_get0_notAfter(x509.get()));
  if (!na.ok()) return na.status();
  cert.not_before_unix_ = *nb;
  cert.not_after_unix_ = *na;
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x509.get()), nullptr);
  if (serial != nullptr) {
    char* hex = BN_bn2hex(serial);
    cert.serial_hex_ = absl::AsciiStrToLower(hex);
    OPENSSL_free(hex);
    BN_free(serial);
  }
  return cert;
}

absl::StatusOr<CertificateRequest> ParseCertificateRequest(absl::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<X509_REQ, decltype(&X509_REQ_free)> req(
      PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr), &X509_REQ_free);
  if (req == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate request does not parse as PEM: ", OpensslError()));
  }
  EVP_PKEY* pkey = X509_REQ_get0_pubkey(req.get());
  if (pkey == nullptr) return absl::InvalidArgumentError("certificate request has no key");
  if (X509_REQ_verify(req.get(), pkey) != 1) {
    return absl::InvalidArgumentError(
        "certificate request's signature does not verify with its own key");
  }
  unsigned char* buf = nullptr;
  const int len = i2d_PUBKEY(pkey, &buf);
  if (len <= 0) return absl::InvalidArgumentError("certificate request key does not encode");
  const std::string spki(reinterpret_cast<char*>(buf), len);
  OPENSSL_free(buf);
  absl::StatusOr<EcdsaP256PublicKey> key = EcdsaP256PublicKey::FromDer(spki);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate request key: ", key.status().message()));
  }
  return CertificateRequest{CommonName(X509_REQ_get_subject_name(req.get())), *std::move(key)};
}

absl::StatusOr<Certificate> Certificate::FromPem(absl::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr x509(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (x509 == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "certificate does not parse as PEM: ", OpensslError()));
  }
  unsigned char* buf = nullptr;
  int len = i2d_X509(x509.get(), &buf);
  OTA_CHECK(len > 0);
  std::string der(reinterpret_cast<char*>(buf), len);
  OPENSSL_free(buf);
  return FromDer(der);
}

absl::StatusOr<Certificate> Certificate::Parse(absl::string_view bytes) {
  if (absl::StartsWith(bytes, "-----BEGIN")) return FromPem(bytes);
  return FromDer(bytes);
}

absl::StatusOr<Certificate> Certificate::Issue(
    const CertificateSpec& spec, const EcdsaP256PublicKey& subject_key,
    const EcdsaP256PrivateKey& issuer_key, const Certificate* issuer) {
  if (spec.common_name.empty()) {
    return absl::InvalidArgumentError("certificate needs a common name");
  }
  if (spec.not_after_unix <= spec.not_before_unix) {
    return absl::InvalidArgumentError(
        "certificate validity ends before it starts");
  }
  X509Ptr cert(X509_new());
  OTA_CHECK(cert != nullptr);
  X509_set_version(cert.get(), 2);

  unsigned char serial_bytes[16];
  OTA_CHECK(RAND_bytes(serial_bytes, sizeof(serial_bytes)) == 1);
  serial_bytes[0] &= 0x7f;  // A positive INTEGER.
  BIGNUM* bn = BN_bin2bn(serial_bytes, sizeof(serial_bytes), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);

  ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                static_cast<time_t>(spec.not_before_unix));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                static_cast<time_t>(spec.not_after_unix));

  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!spec.organization.empty()) {
    X509_NAME_add_entry_by_txt(
        name, "O", MBSTRING_UTF8,
        reinterpret_cast<const unsigned char*>(spec.organization.c_str()), -1,
        -1, 0);
  }
  X509_NAME_add_entry_by_txt(
      name, "CN", MBSTRING_UTF8,
      reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1,
      0);

  X509Ptr issuer_x509;
  if (issuer != nullptr) {
    const unsigned char* p =
        reinterpret_cast<const unsigned char*>(issuer->der().data());
    issuer_x509.reset(d2i_X509(nullptr, &p, issuer->der().size()));
    OTA_CHECK(issuer_x509 != nullptr);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_x509.get()));
  } else {
    X509_set_issuer_name(cert.get(), name);
  }
  X509_set_pubkey(cert.get(), subject_key.pkey().pkey);

  X509* issuer_for_ext = issuer_x509 ? issuer_x509.get() : cert.get();
  absl::Status s = AddExtension(cert.get(), issuer_for_ext,
                                NID_basic_constraints,
                                spec.is_ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (!s.ok()) return s;
  s = AddExtension(cert.get(), issuer_for_ext, NID_key_usage,
                   spec.is_ca ? "critical,keyCertSign,cRLSign,digitalSignature"
                              : "critical,digitalSignature");
  if (!s.ok()) return s;
  s = AddExtension(cert.get(), issuer_for_ext, NID_subject_key_identifier,
                   "hash");
  if (!s.ok()) return s;

  if (X509_sign(cert.get(), issuer_key.pkey().pkey, EVP_sha256()) <= 0) {
    return absl::InternalError(
        absl::StrCat("certificate signing failed: ", OpensslError()));
  }
  unsigned char* buf = nullptr;
  int len = i2d_X509(cert.get(), &buf);
  OTA_CHECK(len > 0);
  std::string der(reinterpret_cast<char*>(buf), len);
  OPENSSL_free(buf);
  return FromDer(der);
}

absl::StatusOr<Certificate> Certificate::SelfSigned(
    const CertificateSpec& spec, const EcdsaP256PrivateKey& key) {
  return Issue(spec, key.PublicKey(), key, nullptr);
}

std::string Certificate::ToPem() const {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der_.data());
  X509Ptr x509(d2i_X509(nullptr, &p, der_.size()));
  OTA_CHECK(x509 != nullptr);
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  OTA_CHECK(PEM_write_bio_X509(bio.get(), x509.get()) == 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, len);
}

std::string Certificate::Fingerprint() const { return Sha256Digest(der_); }

absl::StatusOr<EcdsaP256PublicKey> Certificate::PublicKey() const {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der_.data());
  X509Ptr x509(d2i_X509(nullptr, &p, der_.size()));
  OTA_CHECK(x509 != nullptr);
  const X509_PUBKEY* pub = X509_get_X509_PUBKEY(x509.get());
  unsigned char* buf = nullptr;
  int len = i2d_X509_PUBKEY(pub, &buf);
  if (len <= 0) {
    return absl::InvalidArgumentError("certificate has no public key");
  }
  std::string spki(reinterpret_cast<char*>(buf), len);
  OPENSSL_free(buf);
  absl::StatusOr<EcdsaP256PublicKey> key = EcdsaP256PublicKey::FromDer(spki);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("certificate key: ", key.status().message()));
  }
  return key;
}

absl::Status Certificate::VerifySignedBy(
    const EcdsaP256PublicKey& issuer_key) const {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der_.data());
  X509Ptr x509(d2i_X509(nullptr, &p, der_.size()));
  OTA_CHECK(x509 != nullptr);
  int rc = X509_verify(x509.get(), issuer_key.pkey().pkey);
  ERR_clear_error();
  if (rc != 1) {
    return absl::DataLossError(absl::StrCat("certificate ", subject_,
                                            " is not signed by key ",
                                            issuer_key.KeyId()));
  }
  return absl::OkStatus();
}

absl::Status Certificate::CheckValidAt(int64_t now_unix) const {
  if (now_unix < not_before_unix_) {
    return absl::FailedPreconditionError(
        absl::StrCat("certificate ", subject_, " is not valid before ",
                     not_before_unix_, " (now ", now_unix, ")"));
  }
  if (now_unix > not_after_unix_) {
    return absl::FailedPreconditionError(
        absl::StrCat("certificate ", subject_, " expired at ", not_after_unix_,
                     " (now ", now_unix, ")"));
  }
  return absl::OkStatus();
}

}  // namespace ota::common
